"""Shape detection and structural validation of a case's financial data, for storing it.

A stored draft may be incomplete: missing values, too few years or a missing WACC are
``analyse``'s business. What is checked here is what can never become valid by adding data:
wrong types, values out of range, unknown enum values and duplicate fiscal years. Unknown
keys are not errors (the engine ignores them with a warning, and the legacy importer keeps
them). Every problem is reported, not just the first.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Literal

from . import errors as E
from . import schema as S
from .result import FieldError

LEGACY_GROUPS = ("revenue", "cogs", "payroll", "opex", "below_line")
_LEGACY_MARKERS = frozenset({"epvInputs", "periods", "gp", *LEGACY_GROUPS})
# The epvInputs numbers the mapping reads, with their allowed range (lo, hi, lo_open).
# Rates may still be percentages here (the mapping divides values above 1 by 100).
_LEGACY_INPUTS: dict[str, tuple[float, float, bool]] = {
    "wacc": (0.0, 100.0, True),
    "taxRate": (0.0, 100.0, False),
    "ownerAddBack": (-S.MAX_MAGNITUDE, S.MAX_MAGNITUDE, False),
    "depreciation": (0.0, S.MAX_MAGNITUDE, False),
    "maintenanceCapex": (0.0, S.MAX_MAGNITUDE, False),
    "cash": (0.0, S.MAX_MAGNITUDE, False),
    "debt": (0.0, S.MAX_MAGNITUDE, False),
    "workingCapital": (-S.MAX_MAGNITUDE, S.MAX_MAGNITUDE, False),
}

_THOUSANDS = re.compile(r"-?\d{1,3}(,\d{3})+(\.\d+)?")
_PLAIN = re.compile(r"-?\d+(\.\d+)?")


def coerce_legacy_number(value: Any) -> tuple[bool, float | int | None]:
    """The importer's rule (legacy README, "Numbers stored as strings").

    (True, number) for a JSON number or a coercible string such as "1,823,000.00";
    (False, None) for anything else ("12%", "1.250,5", "n/a", booleans).
    """
    x = S.as_number(value)
    if x is not None:
        return True, x
    if isinstance(value, str):
        text = value.strip()
        if _PLAIN.fullmatch(text) or _THOUSANDS.fullmatch(text):
            return True, float(text.replace(",", ""))
    return False, None


def detect_shape(financial_data: Any) -> Literal["epv_input", "legacy_v1"]:
    """ "legacy_v1" for a FinancialDatasetV1 (with or without its epvInputs), else "epv_input".

    Anything that is not recognisably V1, including a non-object, is validated as the input
    schema, which then reports what is wrong with it.
    """
    if (
        isinstance(financial_data, dict)
        and "fiscal_years" not in financial_data
        and not _LEGACY_MARKERS.isdisjoint(financial_data)
    ):
        return "legacy_v1"
    return "epv_input"


def validate_structure(financial_data: Any) -> list[FieldError]:
    if detect_shape(financial_data) == "legacy_v1":
        return _validate_legacy(financial_data)
    return _validate_epv_input(financial_data)


def _error(code: str, field: str, message: str) -> FieldError:
    return {"field": field, "rule": code, "message": message}


def _collect(errors: list[FieldError], check: Callable[..., Any], *args: Any, **kw: Any) -> None:
    try:
        check(*args, **kw)
    except E.EngineError as err:
        errors.append(_error(err.code, err.field or "", err.message))


# --- the input schema of section 2 --------------------------------------------------------


def _validate_epv_input(doc: Any) -> list[FieldError]:
    errors: list[FieldError] = []
    if not isinstance(doc, dict):
        return [_error(E.INVALID_STRUCTURE, "", "financial data must be a JSON object")]
    if "schema_version" in doc and doc["schema_version"] != S.SCHEMA_VERSION:
        errors.append(
            _error(E.INVALID_OPTION, "schema_version", f'schema_version must be "{S.SCHEMA_VERSION}"')
        )
    company = doc.get("company")
    if company is not None and not isinstance(company, dict):
        errors.append(_error(E.INVALID_STRUCTURE, "company", "company must be an object"))

    years = doc.get("fiscal_years")
    if years is not None and not isinstance(years, list):
        errors.append(_error(E.INVALID_STRUCTURE, "fiscal_years", "fiscal_years must be an array"))
    elif years is not None:
        seen: set[int] = set()
        for i, year in enumerate(years):
            if not isinstance(year, dict):
                errors.append(
                    _error(E.INVALID_STRUCTURE, f"fiscal_years[{i}]", "a fiscal year must be an object")
                )
                continue
            for name, _, kind in S.YEAR_FIELDS:
                value = year.get(name)
                if value is not None:
                    _collect(errors, S.check_year_field, name, kind, value, f"fiscal_years[{i}].{name}")
            fy = year.get("fiscal_year")
            fy_number = S.as_number(fy) if fy is not None else None
            if fy_number is not None and not S.too_large(fy_number):
                if fy_number in seen:
                    errors.append(
                        _error(
                            E.DUPLICATE_FISCAL_YEAR,
                            f"fiscal_years[{i}].fiscal_year",
                            f"fiscal year {fy} appears more than once",
                        )
                    )
                seen.add(fy_number)

    a = doc.get("assumptions")
    if a is not None and not isinstance(a, dict):
        errors.append(_error(E.INVALID_STRUCTURE, "assumptions", "assumptions must be an object"))
    elif a is not None:
        _validate_assumptions(a, errors)
    return errors


def _validate_assumptions(a: dict, errors: list[FieldError]) -> None:
    P = "assumptions."
    if a.get("wacc") is not None:
        _collect(errors, S.check_wacc, a["wacc"])
    else:
        for name, lo, hi in S.CAPM_PARTS:
            _collect(errors, S.number_field, a, name, P + name, lo, hi, default=None)
    _collect(
        errors,
        S.number_field,
        a,
        "tax_rate_override",
        P + "tax_rate_override",
        0,
        0.6,
        default=None,
    )
    _collect(
        errors,
        S.number_field,
        a,
        "operating_cash_pct_revenue",
        P + "operating_cash_pct_revenue",
        0,
        0.5,
        default=None,
    )
    _collect(errors, S.integer_field, a, "normalization_years", P + "normalization_years", 3, 10, 5)
    _collect(errors, S.option_field, a, "revenue_basis", P + "revenue_basis", S.REVENUE_BASES)
    _collect(
        errors,
        S.option_field,
        a,
        "one_off_treatment",
        P + "one_off_treatment",
        S.ONE_OFF_TREATMENTS,
    )
    _collect(
        errors,
        S.option_field,
        a,
        "maintenance_capex_method",
        P + "maintenance_capex_method",
        S.MAINTENANCE_METHODS,
    )
    _collect(
        errors,
        S.number_field,
        a,
        "maintenance_capex_value",
        P + "maintenance_capex_value",
        0,
        S.MAX_MAGNITUDE,
        default=None,
    )
    _collect(
        errors,
        S.number_field,
        a,
        "maintenance_floor_pct_of_da",
        P + "maintenance_floor_pct_of_da",
        0,
        1,
        default=None,
    )
    for key, checks in (
        ("rnd_capitalization", (("amortization_years", "int", 1, 10),)),
        ("sga_capitalization", (("multiple", "num", 0, 5),)),
        (
            "sensitivity",
            (
                ("wacc_step", "step", 0, 0.05),
                ("wacc_steps", "int", 0, 5),
                ("margin_step", "step", 0, 0.05),
                ("margin_steps", "int", 0, 5),
            ),
        ),
    ):
        nested = a.get(key)
        if nested is None:
            continue
        if not isinstance(nested, dict):
            errors.append(_error(E.INVALID_STRUCTURE, P + key, f"{key} must be an object"))
            continue
        base = f"{P}{key}."
        if key != "sensitivity":
            _collect(errors, S.enabled_field, nested, base + "enabled")
        for name, kind, lo, hi in checks:
            if kind == "int":
                _collect(errors, S.integer_field, nested, name, base + name, lo, hi, 0)
            else:
                _collect(
                    errors,
                    S.number_field,
                    nested,
                    name,
                    base + name,
                    lo,
                    hi,
                    default=None,
                    lo_open=kind == "step",
                )
    _validate_adjustments(a.get("asset_adjustments"), errors)
    _collect(errors, S.number_field, a, "growth_rate", P + "growth_rate", 0, 0.5, default=None)
    _collect(
        errors,
        S.number_field,
        a,
        "current_share_price",
        P + "current_share_price",
        0,
        1e7,
        default=None,
        lo_open=True,
    )
    _collect(errors, S.number_field, a, "franchise_band", P + "franchise_band", 0, 1, default=None)


def _validate_adjustments(raw: Any, errors: list[FieldError]) -> None:
    base = "assumptions.asset_adjustments"
    if raw is None:
        return
    if not isinstance(raw, list):
        errors.append(_error(E.INVALID_STRUCTURE, base, "asset_adjustments must be an array"))
        return
    if len(raw) > S.MAX_ADJUSTMENTS:
        errors.append(_error(E.VALUE_OUT_OF_RANGE, base, f"at most {S.MAX_ADJUSTMENTS} asset adjustments"))
    for i, entry in enumerate(raw):
        path = f"{base}[{i}]"
        if not isinstance(entry, dict):
            errors.append(_error(E.INVALID_STRUCTURE, path, "an asset adjustment must be an object"))
            continue
        label = entry.get("label")
        if label is not None and (not isinstance(label, str) or not label.strip()):
            errors.append(_error(E.VALUE_OUT_OF_RANGE, f"{path}.label", "label must be a non-empty string"))
        _collect(
            errors,
            S.number_field,
            entry,
            "amount",
            f"{path}.amount",
            -S.MAX_MAGNITUDE,
            S.MAX_MAGNITUDE,
            default=None,
        )


# --- FinancialDatasetV1 (section 15) ------------------------------------------------------


def _legacy_number(
    value: Any, path: str, errors: list[FieldError], lo: float, hi: float, lo_open: bool = False
) -> None:
    ok, x = coerce_legacy_number(value)
    if not ok:
        errors.append(
            _error(
                E.INVALID_NUMBER,
                path,
                f"expected a number or a numeric string, got {S.describe_value(value)}",
            )
        )
    elif S.too_large(x) or (x <= lo if lo_open else x < lo) or x > hi:
        errors.append(_error(E.VALUE_OUT_OF_RANGE, path, f"{S.describe_value(x)} is out of range"))


def _validate_legacy(ds: dict) -> list[FieldError]:
    errors: list[FieldError] = []
    periods = ds.get("periods")
    if periods is not None and not isinstance(periods, dict):
        errors.append(_error(E.INVALID_STRUCTURE, "periods", "periods must be an object"))
    elif periods is not None:
        for key, end_date in periods.items():
            text = str(key).strip()
            if not re.fullmatch(r"\d{4}", text) or not 1900 <= int(text) <= 2100:
                errors.append(
                    _error(
                        E.VALUE_OUT_OF_RANGE,
                        f"periods.{key}",
                        "a period key must be a year 1900..2100",
                    )
                )
            if end_date is not None and not isinstance(end_date, str):
                errors.append(
                    _error(E.INVALID_STRUCTURE, f"periods.{key}", "a period end date must be a string")
                )
    for group in LEGACY_GROUPS:
        g = ds.get(group)
        if g is None:
            continue
        if not isinstance(g, dict):
            errors.append(_error(E.INVALID_STRUCTURE, group, f"{group} must be an object"))
            continue
        for component, values in g.items():
            _legacy_array(values, f"{group}.{component}", errors)
    _legacy_array(ds.get("gp"), "gp", errors)

    ei = ds.get("epvInputs")
    if ei is not None and not isinstance(ei, dict):
        errors.append(_error(E.INVALID_STRUCTURE, "epvInputs", "epvInputs must be an object"))
    elif ei is not None:
        for key, (lo, hi, lo_open) in _LEGACY_INPUTS.items():
            value = ei.get(key)
            if value is not None:
                _legacy_number(value, f"epvInputs.{key}", errors, lo, hi, lo_open)
    return errors


def _legacy_array(values: Any, path: str, errors: list[FieldError]) -> None:
    if values is None:
        return
    if not isinstance(values, list):
        errors.append(_error(E.INVALID_STRUCTURE, path, "expected an array, one value per period"))
        return
    for i, value in enumerate(values):
        if value is not None:
            _legacy_number(value, f"{path}[{i}]", errors, -S.MAX_MAGNITUDE, S.MAX_MAGNITUDE)
