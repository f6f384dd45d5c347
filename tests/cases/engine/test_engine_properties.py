"""Properties of the engine over generated inputs (hypothesis)."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from epv_cases.engine import (
    ERROR_CODES,
    WARNING_CODES,
    analyse,
    analyse_financial_data,
    validate_structure,
)

PROPERTY_SETTINGS = settings(
    max_examples=75,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

REQUIRED_YEAR_FIELDS = (
    "fiscal_year", "revenue", "operating_income", "depreciation_amortization",
    "capital_expenditures", "ppe_net", "total_assets", "cash", "total_debt", "shares_diluted",
    "income_tax_expense", "pretax_income", "sga", "rnd",
)  # fmt: skip
OPTIONAL_YEAR_FIELDS = ("one_off_items", "goodwill_intangibles", "non_interest_bearing_liabilities")


def money(lo: float = 0.0, hi: float = 1e9) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


@st.composite
def years_strategy(draw: st.DrawFn, *, extreme: bool = False) -> list[dict[str, Any]]:
    """Consecutive years in any order. ``extreme`` spans the whole admissible range (down to
    the smallest double); otherwise amounts are plausible fractions of revenue."""
    n = draw(st.integers(3, 10))
    start = draw(st.integers(1900, 2101 - n))
    years = []
    for i in range(n):
        if extreme:
            year: dict[str, Any] = {"fiscal_year": start + i}
            for name in REQUIRED_YEAR_FIELDS[1:]:
                signed = name in ("operating_income", "income_tax_expense", "pretax_income")
                positive = name in ("revenue", "total_assets", "shares_diluted")
                year[name] = draw(money(-1e15 if signed else 5e-324 if positive else 0.0, 1e15))
        else:
            revenue = draw(money(1.0, 1e9))

            def part(lo: float, hi: float, revenue: float = revenue) -> float:
                return draw(st.floats(lo, hi)) * revenue

            pretax = part(-0.2, 0.5)
            year = {
                "fiscal_year": start + i,
                "revenue": revenue,
                "operating_income": part(-0.2, 0.6),
                "depreciation_amortization": part(0, 0.15),
                "capital_expenditures": part(0, 0.2),
                "ppe_net": part(0, 2),
                "total_assets": part(0.01, 3),
                "cash": part(0, 0.5),
                "total_debt": part(0, 1),
                "shares_diluted": draw(money(1e-3, 1e9)),
                "income_tax_expense": pretax * draw(st.floats(-0.1, 0.6)),
                "pretax_income": pretax,
                "sga": part(0, 0.4),
                "rnd": part(0, 0.2),
            }
        for name in OPTIONAL_YEAR_FIELDS:
            if draw(st.booleans()):
                big = 1e15 if extreme else 1e9
                lo = -big if name == "one_off_items" else 0.0
                year[name] = draw(st.none() | money(lo, big))
        years.append(year)
    return draw(st.permutations(years))


def optional(strategy: st.SearchStrategy) -> st.SearchStrategy:
    return st.none() | strategy


@st.composite
def assumptions_strategy(draw: st.DrawFn, *, with_growth: bool = True) -> dict[str, Any]:
    a: dict[str, Any] = {}
    wide = draw(st.booleans())
    if draw(st.booleans()):
        a["wacc"] = draw(st.floats(5e-324, 0.5) if wide else st.floats(0.005, 0.5))
    else:
        # Mostly plausible parts, so that most CAPM WACCs land inside (0, 0.5].
        a["risk_free_rate"] = draw(st.floats(-0.05, 0.25) if wide else st.floats(0, 0.06))
        a["equity_risk_premium"] = draw(st.floats(0, 0.25) if wide else st.floats(0, 0.08))
        a["beta"] = draw(st.floats(0, 5) if wide else st.floats(0, 2))
        a["cost_of_debt"] = draw(st.floats(0, 0.5))
        a["target_debt_weight"] = draw(st.floats(0, 0.95))
    choices: dict[str, st.SearchStrategy] = {
        "tax_rate_override": optional(st.floats(0, 0.6)),
        "operating_cash_pct_revenue": optional(st.floats(0, 0.5)),
        "normalization_years": optional(st.integers(3, 10)),
        "revenue_basis": optional(st.sampled_from(["latest", "average"])),
        "one_off_treatment": optional(st.sampled_from(["exclude", "recurring"])),
        "maintenance_capex_method": st.sampled_from(["greenwald", "depreciation", "total_capex"]),
        "maintenance_floor_pct_of_da": optional(st.floats(0, 1)),
        "rnd_capitalization": optional(
            st.fixed_dictionaries(
                {},
                optional={
                    "enabled": optional(st.booleans()),
                    "amortization_years": optional(st.integers(1, 10)),
                },
            )
        ),
        "sga_capitalization": optional(
            st.fixed_dictionaries(
                {},
                optional={
                    "enabled": optional(st.booleans()),
                    "multiple": optional(st.floats(0, 5)),
                },
            )
        ),
        "asset_adjustments": optional(
            st.lists(
                st.fixed_dictionaries({"label": st.just("adj"), "amount": money(-1e9, 1e9)}),
                max_size=3,
            )
        ),
        "current_share_price": optional(st.floats(1e-6, 1e7)),
        "franchise_band": optional(st.floats(0, 1)),
        "sensitivity": optional(
            st.fixed_dictionaries(
                {},
                optional={
                    "wacc_step": optional(st.floats(1e-6, 0.05)),
                    "wacc_steps": optional(st.integers(0, 5)),
                    "margin_step": optional(st.floats(1e-6, 0.05)),
                    "margin_steps": optional(st.integers(0, 5)),
                },
            )
        ),
    }  # fmt: skip
    if with_growth:
        choices["growth_rate"] = optional(st.floats(0, 0.5))
    for key, strategy in choices.items():
        if draw(st.booleans()):
            a[key] = draw(strategy)
    if a.get("maintenance_capex_method") is None and draw(st.booleans()):
        a["maintenance_capex_method"] = "manual"
        a["maintenance_capex_value"] = draw(money(0, 1e9))
    return a


@st.composite
def documents(draw: st.DrawFn, *, extreme: bool = False, with_growth: bool = True) -> dict:
    return {
        "schema_version": "1.0",
        "fiscal_years": draw(years_strategy(extreme=extreme)),
        "assumptions": draw(assumptions_strategy(with_growth=with_growth)),
    }


junk = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=4),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)

ASSUMPTION_PATHS = [
    ("wacc",), ("risk_free_rate",), ("beta",), ("tax_rate_override",), ("normalization_years",),
    ("revenue_basis",), ("maintenance_capex_method",), ("maintenance_capex_value",),
    ("rnd_capitalization",), ("rnd_capitalization", "enabled"),
    ("rnd_capitalization", "amortization_years"),
    ("sga_capitalization", "multiple"), ("asset_adjustments",), ("asset_adjustments", 0),
    ("asset_adjustments", 0, "label"), ("growth_rate",), ("current_share_price",), ("sensitivity",),
    ("sensitivity", "wacc_steps"), ("sensitivity", "margin_step"), ("unknown_key",),
]  # fmt: skip


def set_path(obj: Any, path: tuple, value: Any) -> None:
    for key in path[:-1]:
        if isinstance(obj, dict):
            obj = obj.setdefault(key, {} if not isinstance(path[-1], int) else [])
        elif isinstance(obj, list) and isinstance(key, int) and key < len(obj):
            obj = obj[key]
        else:
            return
    last = path[-1]
    if isinstance(obj, dict):
        obj[last] = value
    elif isinstance(obj, list) and isinstance(last, int):
        if last < len(obj):
            obj[last] = value
        else:
            obj.append(value)


@st.composite
def mutated_documents(draw: st.DrawFn) -> Any:
    doc = draw(documents())
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.sampled_from(["year", "assumption", "top"]))
        value = draw(junk)
        years = doc.get("fiscal_years")
        if where == "year" and isinstance(years, list) and years and isinstance(years[0], dict):
            i = draw(st.integers(0, len(doc["fiscal_years"]) - 1))
            name = draw(st.sampled_from(REQUIRED_YEAR_FIELDS + OPTIONAL_YEAR_FIELDS + ("extra",)))
            if draw(st.booleans()):
                doc["fiscal_years"][i].pop(name, None)
            else:
                doc["fiscal_years"][i][name] = value
        elif where == "assumption" and isinstance(doc.get("assumptions"), dict):
            set_path(doc["assumptions"], draw(st.sampled_from(ASSUMPTION_PATHS)), value)
        else:
            doc[draw(st.sampled_from(["schema_version", "company", "fiscal_years", "assumptions", "x"]))] = (
                value
            )
    return doc


json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def assert_well_formed(result: Any) -> None:
    """Only documented errors and warnings, and an envelope that JSON can carry."""
    assert result.status in ("ok", "error")
    assert all(w["code"] in WARNING_CODES for w in result.warnings)
    if result.status == "error":
        assert result.code in ERROR_CODES
        assert result.field is None or isinstance(result.field, str)
        assert result.figures is None
    else:
        assert result.error is None
        assert result.figures["adjusted_earnings"] > 0
    json.dumps(result.to_dict(include_inputs=False), allow_nan=False)


@PROPERTY_SETTINGS
@given(documents(extreme=True))
def test_admissible_documents_never_raise(doc: dict) -> None:
    assert_well_formed(analyse(doc))


@PROPERTY_SETTINGS
@given(mutated_documents())
def test_damaged_documents_give_only_documented_errors(doc: Any) -> None:
    assert_well_formed(analyse(doc))


@PROPERTY_SETTINGS
@given(json_values)
def test_arbitrary_json_gives_only_documented_errors(doc: Any) -> None:
    assert_well_formed(analyse(doc))


@PROPERTY_SETTINGS
@given(documents(with_growth=False), st.floats(1e-6, 0.5), st.floats(1e-6, 0.5))
def test_a_higher_cost_of_capital_never_raises_epv(doc: dict, w1: float, w2: float) -> None:
    low, high = sorted((w1, w2))
    a, b = copy.deepcopy(doc), copy.deepcopy(doc)
    a["assumptions"]["wacc"], b["assumptions"]["wacc"] = low, high
    ra, rb = analyse(a), analyse(b)
    assert ra.status == rb.status, (ra.error, rb.error)
    if ra.ok:
        assert rb.figures["epv_operations"] <= ra.figures["epv_operations"]
        assert rb.figures["epv_equity"] <= ra.figures["epv_equity"]
        assert rb.figures["epv_per_share"] <= ra.figures["epv_per_share"]


def latest(doc: dict) -> dict:
    return max(doc["fiscal_years"], key=lambda y: y["fiscal_year"])


@PROPERTY_SETTINGS
@given(documents(), money(0, 1e12))
def test_more_debt_never_raises_equity_value(doc: dict, extra_debt: float) -> None:
    more = copy.deepcopy(doc)
    latest(more)["total_debt"] += extra_debt
    ra, rb = analyse(doc), analyse(more)
    assert ra.status == rb.status, (ra.error, rb.error)
    if ra.ok:
        for name in ("epv_equity", "epv_per_share", "asset_value_equity"):
            assert rb.figures[name] <= ra.figures[name], name


@PROPERTY_SETTINGS
@given(documents(), money(0, 1e12))
def test_more_excess_cash_never_lowers_equity_value(doc: dict, extra_cash: float) -> None:
    more = copy.deepcopy(doc)
    latest(more)["cash"] += extra_cash
    ra, rb = analyse(doc), analyse(more)
    assert ra.status == rb.status, (ra.error, rb.error)
    if ra.ok:
        assert rb.figures["excess_cash"] >= ra.figures["excess_cash"]
        for name in ("epv_equity", "epv_per_share"):
            assert rb.figures[name] >= ra.figures[name], name


@PROPERTY_SETTINGS
@given(documents())
def test_analysis_is_deterministic_and_consistent(doc: dict) -> None:
    first, second = analyse(doc), analyse(copy.deepcopy(doc))
    assert first.to_dict() == second.to_dict()
    if first.ok and math.isfinite(first.figures["epv_operations"]):
        f = first.figures
        # The two bases agree (7.2): equity minus asset equity is operations minus asset operations.
        lhs = f["epv_equity"] - f["asset_value_equity"]
        rhs = f["epv_operations"] - f["asset_value_operations"]
        assert abs(lhs - rhs) <= 1e-6 * max(1.0, abs(f["epv_equity"]), abs(f["asset_value_equity"]))


STORAGE_DETECTABLE = {
    "INVALID_STRUCTURE",
    "INVALID_NUMBER",
    "VALUE_OUT_OF_RANGE",
    "INVALID_OPTION",
    "INVALID_SHARE_COUNT",
    "DUPLICATE_FISCAL_YEAR",
}


@PROPERTY_SETTINGS
@given(mutated_documents())
def test_what_storage_accepts_analysis_finds_at_most_incomplete(doc: Any) -> None:
    errors = validate_structure(doc)
    assert all(isinstance(e["field"], str) and e["rule"] in ERROR_CODES for e in errors)
    result = analyse(doc)
    if not errors:
        assert result.code not in STORAGE_DETECTABLE, result.error
    elif result.status == "error" and result.code in STORAGE_DETECTABLE:
        assert result.field in {e["field"] for e in errors}


legacy_values = st.none() | st.integers(-10, 10**6) | st.floats() | st.text(max_size=6)
legacy_arrays = st.none() | legacy_values | st.lists(legacy_values, max_size=5)
legacy_groups = st.none() | st.integers() | st.dictionaries(
    st.sampled_from(["total", "depreciation", "interest_expense", "rent", "operating_income",
                     "nibt", "taxes", "amortization"]),
    legacy_arrays,
    max_size=5,
)  # fmt: skip
legacy_documents = st.fixed_dictionaries(
    {},
    optional={
        "periods": st.none()
        | st.integers()
        | st.dictionaries(st.sampled_from(["2021", "2022", "2023", "x"]), st.text(max_size=3)),
        "revenue": legacy_groups,
        "opex": legacy_groups,
        "below_line": legacy_groups,
        "gp": legacy_arrays,
        "epvInputs": st.none()
        | st.text(max_size=2)
        | st.dictionaries(
            st.sampled_from(list(("wacc", "taxRate", "ownerAddBack", "depreciation",
                                  "maintenanceCapex", "cash", "debt", "workingCapital"))),
            legacy_values,
        ),
    },
)  # fmt: skip


@PROPERTY_SETTINGS
@given(legacy_documents)
def test_any_legacy_shaped_data_maps_to_documented_outcomes(data: dict) -> None:
    assert all(e["rule"] in ERROR_CODES for e in validate_structure(data))
    assert_well_formed(analyse_financial_data(data))
