"""The old app's FinancialDatasetV1 shape, mapped to the input schema (epv-method.md 15).

The mapping never fails: it copies what it finds, so missing or malformed V1 data surfaces
as the engine's own MISSING_FIELD or INVALID_NUMBER at the mapped field path. It reads data
as stored by the importer, that is after its number coercion; numeric strings are not
coerced here (``coerce_legacy_number`` is the importer's rule, offered for reuse).
"""

from __future__ import annotations

import re
from typing import Any

from . import errors as E
from .analysis import analyse
from .result import EngineResult
from .schema import as_number
from .structure import coerce_legacy_number, detect_shape

_MISSING = object()
__all__ = ["analyse_financial_data", "coerce_legacy_number", "map_legacy_dataset"]

DA_COMPONENTS = frozenset({"depreciation", "amortization", "depreciation_amortization"})
LEGACY_DEFAULT_TAX_RATE = 0.25
LEGACY_OPERATING_CASH_PCT = 0.02


def _not_a_number(raw: Any) -> Any:
    # A container of the wrong type stands in for the value; a bare number where an array or
    # object belongs must still read as "not a number" to the engine, so it is wrapped.
    return [raw] if as_number(raw) is not None else raw


class _Reader:
    def __init__(self, ds: dict) -> None:
        self.ds = ds
        ei = ds.get("epvInputs")
        self.ei = ei

    def element(self, group: str, component: str, i: int) -> Any:
        g = self.ds.get(group)
        if g is None:
            return _MISSING
        if not isinstance(g, dict):
            return _not_a_number(g)
        c = g.get(component)
        if c is None:
            return _MISSING
        if not isinstance(c, list):
            return _not_a_number(c)
        if i >= len(c) or c[i] is None:
            return _MISSING
        return c[i]

    def components(self, group: str) -> list[str]:
        g = self.ds.get(group)
        if not isinstance(g, dict):
            return []
        # A null component is an absent one; components keep the key order of the group.
        return [k for k, v in g.items() if v is not None]

    def input(self, key: str) -> Any:
        if self.ei is None:
            return _MISSING
        if not isinstance(self.ei, dict):
            return _not_a_number(self.ei)
        v = self.ei.get(key)
        return _MISSING if v is None else v


def _sum(terms: list[tuple[int, Any]]) -> Any:
    """Signed sum in the table's order: the first missing term makes it absent, the first
    non-number makes it that non-number (the engine then reports INVALID_NUMBER)."""
    total: Any = None
    for sign, term in terms:
        if term is _MISSING:
            return _MISSING
        x = as_number(term)
        if x is None:
            return term
        total = sign * x if total is None else total + sign * x
    return total


def _scaled_rate(raw: Any, path: str, warnings: list) -> Any:
    x = as_number(raw)
    if x is None:
        return raw
    if x > 1:
        # The old app used fractions; a value above 1 can only be a percentage.
        warnings.append(E.warning(E.LEGACY_PERCENT_SCALED, path))
        return x / 100
    return x


def _period_keys(periods: dict) -> list[str]:
    # The old app aligned arrays with Object.keys(periods).sort(): string order.
    return sorted(periods, key=str)


def _fiscal_year(key: Any) -> Any:
    text = str(key).strip()
    return int(text) if re.fullmatch(r"-?\d+", text) else key


def map_legacy_dataset(
    dataset_v1: dict, *, case_name: str | None = None
) -> tuple[Any, list[dict[str, str | None]]]:
    """Map a FinancialDatasetV1 with its ``epvInputs`` to the input schema of section 2.

    Returns the mapped document and the mapping warnings, in the order section 15 gives them
    (``LEGACY_NO_BALANCE_SHEET`` last). ``case_name`` names the company; without it the
    dataset's ``meta.case_name`` is used when present.
    """
    warnings: list[dict[str, str | None]] = []
    if not isinstance(dataset_v1, dict):
        warnings.append(E.warning(E.LEGACY_NO_BALANCE_SHEET, "financialData"))
        return dataset_v1, warnings
    r = _Reader(dataset_v1)

    opex = r.components("opex")
    interest = [k for k in opex if isinstance(k, str) and k != "total" and "interest" in k]
    da_names = [k for k in opex if k in DA_COMPONENTS]

    capex = r.input("maintenanceCapex")
    cash = r.input("cash")
    debt = r.input("debt")
    owner_add_back = r.input("ownerAddBack")
    working_capital = r.input("workingCapital")
    if working_capital is _MISSING:
        wc_term: Any = 0
    else:
        wc = as_number(working_capital)
        wc_term = working_capital if wc is None else max(0, wc)
    total_assets = _sum([(1, cash), (1, wc_term)])
    fallback_da = r.input("depreciation")
    if fallback_da is _MISSING:
        fallback_da = 0

    periods = dataset_v1.get("periods")
    fiscal_years: Any
    if periods is None:
        fiscal_years = _MISSING
    elif not isinstance(periods, dict):
        fiscal_years = periods
    else:
        fiscal_years = []
        for i, key in enumerate(_period_keys(periods)):
            operating_income = _sum(
                [(1, r.element("below_line", "operating_income", i))]
                + [(1, r.element("opex", k, i)) for k in interest]
            )
            if da_names:
                da = _sum([(1, r.element("opex", k, i)) for k in da_names])
            else:
                da = fallback_da
            sga = _sum(
                [(1, r.element("opex", "total", i)), (-1, da)]
                + [(-1, r.element("opex", k, i)) for k in interest]
            )
            taxes = r.element("below_line", "taxes", i)
            pretax = r.element("below_line", "nibt", i)
            year = {
                "fiscal_year": _fiscal_year(key),
                "revenue": r.element("revenue", "total", i),
                "operating_income": operating_income,
                "depreciation_amortization": da,
                "capital_expenditures": capex,
                "ppe_net": 0,
                "total_assets": total_assets,
                "cash": cash,
                "total_debt": debt,
                "shares_diluted": 1,
                "income_tax_expense": 0 if taxes is _MISSING else taxes,
                "pretax_income": operating_income if pretax is _MISSING else pretax,
                "sga": sga,
                "rnd": 0,
                "one_off_items": owner_add_back,
            }
            fiscal_years.append({k: v for k, v in year.items() if v is not _MISSING})

    assumptions: dict[str, Any] = {}
    wacc = r.input("wacc")
    if wacc is not _MISSING:
        assumptions["wacc"] = _scaled_rate(wacc, "epvInputs.wacc", warnings)
    tax_rate = r.input("taxRate")
    if tax_rate is _MISSING:
        assumptions["tax_rate_override"] = LEGACY_DEFAULT_TAX_RATE
        warnings.append(E.warning(E.LEGACY_TAX_RATE_DEFAULTED, "epvInputs.taxRate"))
    else:
        assumptions["tax_rate_override"] = _scaled_rate(tax_rate, "epvInputs.taxRate", warnings)
    assumptions["operating_cash_pct_revenue"] = LEGACY_OPERATING_CASH_PCT
    # V1 has no PP&E history for the Greenwald method.
    assumptions["maintenance_capex_method"] = "manual"
    if capex is not _MISSING:
        assumptions["maintenance_capex_value"] = capex

    if case_name is None:
        meta = dataset_v1.get("meta")
        if isinstance(meta, dict) and isinstance(meta.get("case_name"), str):
            case_name = meta["case_name"]
    company: dict[str, Any] = {}
    if case_name is not None:
        company["name"] = case_name
    company["units"] = "units"

    doc: dict[str, Any] = {"schema_version": "1.0", "company": company}
    if fiscal_years is not _MISSING:
        doc["fiscal_years"] = fiscal_years
    doc["assumptions"] = assumptions
    warnings.append(E.warning(E.LEGACY_NO_BALANCE_SHEET, "financialData"))
    return doc, warnings


_NO_BALANCE_SHEET_MESSAGE = (
    "total assets must be > 0, but the old app kept no balance sheet: for this case total "
    "assets are only cash plus working capital ({value!r}). Enter the balance sheet to "
    "analyse it."
)


def analyse_financial_data(
    financial_data: Any, *, case_name: str | None = None, share_price: float | None = None
) -> EngineResult:
    """Analyse a case's stored financial data in either shape (DESIGN.md, "EPV analysis").

    A FinancialDatasetV1 case is mapped first; the mapped document becomes the result's
    ``inputs`` and the mapping warnings come before the engine's own.
    """
    if detect_shape(financial_data) == "epv_input":
        return analyse(financial_data, share_price=share_price)
    doc, mapping_warnings = map_legacy_dataset(financial_data, case_name=case_name)
    result = analyse(doc, share_price=share_price)
    result.warnings[:0] = mapping_warnings
    err = result.error
    if (
        err is not None
        and err["code"] == E.VALUE_OUT_OF_RANGE
        and (err["field"] or "").endswith(".total_assets")
    ):
        value = _mapped_total_assets(doc, err["field"])
        err["message"] = _NO_BALANCE_SHEET_MESSAGE.format(value=value)
    return result


def _mapped_total_assets(doc: dict, path: str) -> Any:
    m = re.fullmatch(r"fiscal_years\[(\d+)\]\.total_assets", path)
    try:
        return doc["fiscal_years"][int(m.group(1))]["total_assets"] if m else None
    except (KeyError, IndexError, TypeError):
        return None
