"""A case's ``financialData`` (FinancialDatasetV1) and ``epvInputs``, with numbers coerced.

The number rule (see :mod:`epv_cases.legacy.numbers`) applies to the numeric fields only:

- in ``financialData``: every component of ``revenue``, ``cogs``, ``payroll``, ``opex`` and
  ``below_line`` (an array, one element per period, or a lone value) and the ``gp`` array.
  ``periods`` (dates), ``meta`` (free text) and keys FinancialDatasetV1 does not define are
  kept as given;
- in ``epvInputs``: the fields the engine's mapping reads (``wacc``, ``taxRate``,
  ``ownerAddBack``, ``depreciation``, ``maintenanceCapex``, ``cash``, ``debt``,
  ``workingCapital``). The other EPVInputs fields are kept as given; any field EPVInputs does
  not define is ``LEGACY_UNKNOWN_FIELD``, left out and kept in the import record.

A coerced value replaces the string. An unparseable array element becomes ``null`` in place
(periods keep their positions); an unparseable lone value is left out. Both are recorded.
"""

from __future__ import annotations

from typing import Final

from epv_cases.legacy import codes
from epv_cases.legacy.jsonvalue import JsonValue, compact_text, copy_json
from epv_cases.legacy.numbers import NumberKind, coerce_number
from epv_cases.legacy.report import Findings

FINANCIAL_GROUPS: Final = ("revenue", "cogs", "payroll", "opex", "below_line")
FINANCIAL_ARRAYS: Final = ("gp",)

EPV_INPUT_NUMERIC: Final = (
    "wacc",
    "taxRate",
    "ownerAddBack",
    "depreciation",
    "maintenanceCapex",
    "cash",
    "debt",
    "workingCapital",
)
EPV_INPUT_FIELDS: Final = frozenset(
    {
        "serviceLines",
        "providers",
        "locations",
        "clinicalLaborPct",
        "marketingPct",
        "adminPct",
        "rentPerLocation",
        "growthRate",
        "terminalMultiple",
        *EPV_INPUT_NUMERIC,
    }
)


def _coerce_in_place(
    container: dict[str, JsonValue] | list[JsonValue],
    slot: str | int,
    path: str,
    findings: Findings,
) -> None:
    """Apply the number rule to ``container[slot]``."""
    raw = container[slot]  # type: ignore[index]
    result = coerce_number(raw)
    if result.kind is NumberKind.COERCED:
        container[slot] = result.value  # type: ignore[index]
        findings.coerced[path] = raw
        findings.warn(
            codes.LEGACY_NUMBER_COERCED,
            path,
            f"number stored as the string {compact_text(raw)}, read as "
            f"{compact_text(result.value)}",
        )
    elif result.kind is NumberKind.UNPARSEABLE:
        if isinstance(container, list):
            container[slot] = None  # type: ignore[index]
            kept = "set to null in place"
        else:
            del container[slot]  # type: ignore[arg-type]
            kept = "left out"
        findings.unparseable[path] = raw
        findings.warn(
            codes.LEGACY_NUMBER_UNPARSEABLE,
            path,
            f"{compact_text(raw)} is not a number; {kept}, the "
            "original is kept in the import record",
        )


def _coerce_values(container: dict[str, JsonValue], name: str, path: str, f: Findings) -> None:
    """A numeric member: each element of an array, or the value itself."""
    value = container[name]
    if isinstance(value, list):
        for i in range(len(value)):
            _coerce_in_place(value, i, f"{path}[{i}]", f)
    elif not isinstance(value, dict):
        _coerce_in_place(container, name, path, f)


def normalize_financial_data(raw: dict[str, JsonValue], findings: Findings) -> dict[str, JsonValue]:
    """A copy of ``financialData`` with its numeric fields coerced."""
    data: dict[str, JsonValue] = copy_json(raw)
    for group in FINANCIAL_GROUPS:
        components = data.get(group)
        if isinstance(components, dict):
            for name in list(components):
                _coerce_values(components, name, f"financialData.{group}.{name}", findings)
    for name in FINANCIAL_ARRAYS:
        if name in data and data[name] is not None:
            _coerce_values(data, name, f"financialData.{name}", findings)
    return data


def normalize_epv_inputs(raw: dict[str, JsonValue], findings: Findings) -> dict[str, JsonValue]:
    """A copy of ``epvInputs`` without unknown fields and with the mapped numbers coerced."""
    inputs: dict[str, JsonValue] = {}
    for name, value in raw.items():
        if name in EPV_INPUT_FIELDS:
            inputs[name] = copy_json(value)
        else:
            path = f"epvInputs.{name}"
            findings.keep_unknown(path, value)
            findings.warn(
                codes.LEGACY_UNKNOWN_FIELD,
                path,
                "not a field of the old app's EPVInputs; kept in the import record",
            )
    for name in list(inputs):
        if name in EPV_INPUT_NUMERIC and inputs[name] is not None:
            _coerce_in_place(inputs, name, f"epvInputs.{name}", findings)
    return inputs
