"""Every case and edge case of shared/reference/epv-vectors.json, within the reference's
tolerance (epv-method.md section 12)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from epv_cases.engine import (
    ENGINE_VERSION,
    ERROR_CODES,
    METHOD_VERSION,
    WARNING_CODES,
    analyse,
)

MONEY, PER_SHARE, RATIO, TEXT, INTEGER = "money", "per_share", "ratio", "text", "integer"
DECIMALS = {MONEY: 4, PER_SHARE: 4, RATIO: 8}

# The class column of section 11; `sensitivity` is checked on its own.
FIGURE_CLASSES: dict[str, str] = {
    "method_version": TEXT,
    "latest_fiscal_year": INTEGER,
    "years_used": INTEGER,
    "window_years": INTEGER,
    "one_off_treatment": TEXT,
    "operating_margins": RATIO,
    "normalized_operating_margin": RATIO,
    "revenue_latest": MONEY,
    "revenue_basis": TEXT,
    "revenue_basis_value": MONEY,
    "normalized_ebit": MONEY,
    "normalized_tax_rate": RATIO,
    "tax_rate_source": TEXT,
    "nopat": MONEY,
    "maintenance_capex_method": TEXT,
    "total_capex": MONEY,
    "depreciation_amortization": MONEY,
    "ppe_to_revenue_ratios": RATIO,
    "avg_ppe_to_revenue": RATIO,
    "revenue_growth": MONEY,
    "maintenance_capex_floor": MONEY,
    "growth_capex": MONEY,
    "maintenance_capex": MONEY,
    "excess_depreciation": MONEY,
    "adjusted_earnings": MONEY,
    "wacc_source": TEXT,
    "cost_of_equity": RATIO,
    "after_tax_cost_of_debt": RATIO,
    "wacc": RATIO,
    "epv_operations": MONEY,
    "cash": MONEY,
    "operating_cash": MONEY,
    "excess_cash": MONEY,
    "total_debt": MONEY,
    "epv_equity": MONEY,
    "shares_diluted": MONEY,
    "epv_per_share": PER_SHARE,
    "capitalized_rnd": MONEY,
    "capitalized_sga": MONEY,
    "asset_adjustments_total": MONEY,
    "total_assets": MONEY,
    "goodwill_intangibles": MONEY,
    "non_interest_bearing_liabilities": MONEY,
    "asset_value_operations": MONEY,
    "asset_value_equity": MONEY,
    "asset_value_per_share": PER_SHARE,
    "franchise_value": MONEY,
    "franchise_ratio": RATIO,
    "franchise_signal": TEXT,
    "return_on_capital": RATIO,
    "growth_rate": RATIO,
    "value_with_growth_operations": MONEY,
    "growth_value": MONEY,
    "value_with_growth_equity": MONEY,
    "value_with_growth_per_share": PER_SHARE,
    "current_share_price": PER_SHARE,
    "margin_of_safety": RATIO,
    "price_to_epv": RATIO,
}
ALL_FIGURES = set(FIGURE_CLASSES) | {"sensitivity"}

ASSUMPTION_KEYS = {
    "wacc", "risk_free_rate", "equity_risk_premium", "beta", "cost_of_debt",
    "target_debt_weight", "tax_rate_override", "operating_cash_pct_revenue",
    "normalization_years", "revenue_basis", "one_off_treatment", "maintenance_capex_method",
    "maintenance_capex_value", "maintenance_floor_pct_of_da", "rnd_capitalization",
    "sga_capitalization", "asset_adjustments", "growth_rate", "current_share_price",
    "franchise_band", "sensitivity",
}  # fmt: skip


def within(actual: Any, expected: Any, decimals: int) -> bool:
    if expected is None or actual is None:
        return actual is None and expected is None
    tolerance = 0.5 * 10**-decimals + 1e-9 * max(1.0, abs(expected))
    return math.isfinite(actual) and abs(actual - expected) <= tolerance


def assert_figure(name: str, actual: Any, expected: Any, cls: str) -> None:
    if cls in (TEXT, INTEGER):
        assert actual == expected, name
        values = actual if isinstance(actual, list) else [actual]
        if cls == INTEGER:
            assert all(type(v) is int for v in values), f"{name} must be integers"
        return
    if isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), name
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert within(a, e, DECIMALS[cls]), f"{name}[{i}]: {a!r} vs {e!r}"
        return
    assert within(actual, expected, DECIMALS[cls]), f"{name}: {actual!r} vs {expected!r}"


def warning_set(warnings: list[dict]) -> set[tuple[str, str | None]]:
    return {(w["code"], w["field"]) for w in warnings}


def test_vector(vector: dict) -> None:
    result = analyse(vector["input"])
    expected = vector["expected"]

    assert result.status == expected["status"], result.error
    assert warning_set(result.warnings) == warning_set(expected["warnings"])
    if expected["status"] == "error":
        assert result.figures is None
        assert (result.code, result.field) == (
            expected["error"]["code"],
            expected["error"]["field"],
        )
        return

    figures = result.figures
    assert set(figures) == ALL_FIGURES
    assert set(expected["figures"]) == ALL_FIGURES, "the vectors name every figure"
    for name, cls in FIGURE_CLASSES.items():
        assert_figure(name, figures[name], expected["figures"][name], cls)

    table, want = figures["sensitivity"], expected["figures"]["sensitivity"]
    assert set(table) == {"wacc_values", "margin_values", "epv_per_share"}
    assert_figure("wacc_values", table["wacc_values"], want["wacc_values"], RATIO)
    assert_figure("margin_values", table["margin_values"], want["margin_values"], RATIO)
    assert len(table["epv_per_share"]) == len(want["epv_per_share"])
    for k, (row, want_row) in enumerate(zip(table["epv_per_share"], want["epv_per_share"], strict=True)):
        assert_figure(f"epv_per_share[{k}]", row, want_row, PER_SHARE)


def test_vectors_file_is_this_method(vectors: dict) -> None:
    assert vectors["method_version"] == METHOD_VERSION == "epv-1.0"
    assert ENGINE_VERSION.count(".") == 2


def test_centre_cell_of_the_sensitivity_table_is_epv_per_share(ok_vector: dict) -> None:
    result = analyse(ok_vector["input"])
    table = result.sensitivity
    k = len(table["wacc_values"]) // 2
    j = len(table["margin_values"]) // 2
    assert table["epv_per_share"][k][j] == result.figures["epv_per_share"]
    assert table["wacc_values"][k] == result.figures["wacc"]


def test_envelope_is_json_safe_and_complete(vector: dict) -> None:
    result = analyse(vector["input"])
    out = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert out["status"] == result.status
    assert out["method_version"] == METHOD_VERSION
    assert out["engine_version"] == ENGINE_VERSION
    assert all(w["code"] in WARNING_CODES for w in out["warnings"])
    if result.ok:
        assert "error" not in out
        assert set(out["figures"]) == ALL_FIGURES
        assert set(out["resolved_assumptions"]) == ASSUMPTION_KEYS
    else:
        assert "figures" not in out
        assert set(out["error"]) == {"code", "field", "message"}
        assert out["error"]["code"] in ERROR_CODES
        assert out["error"]["message"]


def test_resolved_assumptions_fill_defaults_and_null_what_does_not_apply(vector_by_id) -> None:
    given = analyse(vector_by_id["edge-null-assumptions-default"]["input"]).resolved_assumptions
    assert given == {
        "wacc": 0.09,
        "risk_free_rate": None,
        "equity_risk_premium": None,
        "beta": None,
        "cost_of_debt": None,
        "target_debt_weight": None,
        "tax_rate_override": None,
        "operating_cash_pct_revenue": 0.02,
        "normalization_years": 5,
        "revenue_basis": "latest",
        "one_off_treatment": "exclude",
        "maintenance_capex_method": "greenwald",
        "maintenance_capex_value": None,
        "maintenance_floor_pct_of_da": 0.5,
        "rnd_capitalization": {"enabled": False, "amortization_years": 5},
        "sga_capitalization": {"enabled": False, "multiple": 0.5},
        "asset_adjustments": [],
        "growth_rate": None,
        "current_share_price": 21.0,
        "franchise_band": 0.10,
        "sensitivity": {"wacc_step": 0.01, "wacc_steps": 1, "margin_step": 0.01, "margin_steps": 2},
    }
    capm = analyse(vector_by_id["growing-industrial"]["input"]).resolved_assumptions
    assert capm["wacc"] is None
    assert capm["risk_free_rate"] == 0.04 and capm["target_debt_weight"] == 0.3


def test_integral_floats_are_accepted_as_integers(vector_by_id) -> None:
    doc = json.loads(json.dumps(vector_by_id["steady-consumer"]["input"]))
    for year in doc["fiscal_years"]:
        year["fiscal_year"] = float(year["fiscal_year"])
    doc["assumptions"]["normalization_years"] = 5.0
    result = analyse(doc)
    assert result.ok
    assert type(result.figures["latest_fiscal_year"]) is int
    assert all(type(y) is int for y in result.figures["window_years"])
    doc["assumptions"]["normalization_years"] = 4.5
    bad = analyse(doc)
    assert (bad.code, bad.field) == ("VALUE_OUT_OF_RANGE", "assumptions.normalization_years")


def test_years_in_any_order_report_the_index_as_sent(vector_by_id) -> None:
    doc = json.loads(json.dumps(vector_by_id["steady-consumer"]["input"]))
    doc["fiscal_years"].reverse()
    same = analyse(doc)
    assert (
        same.figures["epv_per_share"]
        == analyse(vector_by_id["steady-consumer"]["input"]).figures["epv_per_share"]
    )
    doc["fiscal_years"][0]["revenue"] = "1050"  # 2023, now first as sent
    bad = analyse(doc)
    assert (bad.code, bad.field) == ("INVALID_NUMBER", "fiscal_years[0].revenue")


def test_share_price_keyword_replaces_the_documents_price(vector_by_id) -> None:
    doc = vector_by_id["steady-consumer"]["input"]
    result = analyse(doc, share_price=30.0)
    assert result.figures["current_share_price"] == 30.0
    assert result.resolved_assumptions["current_share_price"] == 30.0
    assert result.margin_of_safety < 0
    bad = analyse(doc, share_price=-1)
    assert (bad.code, bad.field) == ("VALUE_OUT_OF_RANGE", "assumptions.current_share_price")
    assert analyse(doc).figures["current_share_price"] == 21.0


def test_input_document_is_not_modified(vector_by_id) -> None:
    for vector in vector_by_id.values():
        before = json.dumps(vector["input"], sort_keys=True)
        analyse(vector["input"])
        assert json.dumps(vector["input"], sort_keys=True) == before


DROP = object()
A = "assumptions"
FY1 = ("fiscal_years", 1)
ADJ = "assumptions.asset_adjustments"


def _steady_with(path: tuple, value: Any, vector_by_id: dict) -> dict:
    doc = json.loads(json.dumps(vector_by_id["steady-consumer"]["input"]))
    target = doc
    for key in path[:-1]:
        target = target[key]
    if value is DROP:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc


@pytest.mark.parametrize(
    ("path", "value", "code", "field"),
    [
        (("schema_version",), None, "INVALID_OPTION", "schema_version"),
        (("company",), "ACME", "INVALID_STRUCTURE", "company"),
        (("fiscal_years",), DROP, "MISSING_FIELD", "fiscal_years"),
        (("fiscal_years",), {}, "INVALID_STRUCTURE", "fiscal_years"),
        ((A,), None, "MISSING_FIELD", "assumptions"),
        ((A,), [], "INVALID_STRUCTURE", "assumptions"),
        ((*FY1, "fiscal_year"), 2020.5, "VALUE_OUT_OF_RANGE", "fiscal_years[1].fiscal_year"),
        ((*FY1, "fiscal_year"), 1899, "VALUE_OUT_OF_RANGE", "fiscal_years[1].fiscal_year"),
        ((*FY1, "sga"), float("nan"), "INVALID_NUMBER", "fiscal_years[1].sga"),
        ((*FY1, "sga"), float("inf"), "INVALID_NUMBER", "fiscal_years[1].sga"),
        ((*FY1, "sga"), {"v": 1}, "INVALID_NUMBER", "fiscal_years[1].sga"),
        ((*FY1, "one_off_items"), "1", "INVALID_NUMBER", "fiscal_years[1].one_off_items"),
        ((*FY1, "goodwill_intangibles"), -1, "VALUE_OUT_OF_RANGE",
         "fiscal_years[1].goodwill_intangibles"),
        ((*FY1, "shares_diluted"), -3, "INVALID_SHARE_COUNT", "fiscal_years[1].shares_diluted"),
        ((*FY1, "total_assets"), 0, "VALUE_OUT_OF_RANGE", "fiscal_years[1].total_assets"),
        ((*FY1, "operating_income"), -(10**16), "VALUE_OUT_OF_RANGE",
         "fiscal_years[1].operating_income"),
        ((A, "wacc"), "0.09", "INVALID_NUMBER", "assumptions.wacc"),
        ((A, "wacc"), True, "INVALID_NUMBER", "assumptions.wacc"),
        ((A, "wacc"), 1e16, "INVALID_WACC", "assumptions.wacc"),
        ((A, "wacc"), -0.01, "INVALID_WACC", "assumptions.wacc"),
        ((A, "revenue_basis"), 1, "INVALID_OPTION", "assumptions.revenue_basis"),
        ((A, "one_off_treatment"), "ignore", "INVALID_OPTION", "assumptions.one_off_treatment"),
        ((A, "rnd_capitalization"), {"enabled": "yes"}, "INVALID_OPTION",
         "assumptions.rnd_capitalization.enabled"),
        ((A, "rnd_capitalization"), {"enabled": True, "amortization_years": 11},
         "VALUE_OUT_OF_RANGE", "assumptions.rnd_capitalization.amortization_years"),
        ((A, "sga_capitalization"), [], "INVALID_STRUCTURE", "assumptions.sga_capitalization"),
        ((A, "sga_capitalization"), {"multiple": 6}, "VALUE_OUT_OF_RANGE",
         "assumptions.sga_capitalization.multiple"),
        ((A, "asset_adjustments"), [{"label": "x", "amount": 1}] * 51, "VALUE_OUT_OF_RANGE", ADJ),
        ((A, "asset_adjustments"), {}, "INVALID_STRUCTURE", ADJ),
        ((A, "asset_adjustments"), [3], "INVALID_STRUCTURE", f"{ADJ}[0]"),
        ((A, "asset_adjustments"), [{"amount": 1}], "MISSING_FIELD", f"{ADJ}[0].label"),
        ((A, "asset_adjustments"), [{"label": " ", "amount": 1}], "VALUE_OUT_OF_RANGE",
         f"{ADJ}[0].label"),
        ((A, "asset_adjustments"), [{"label": 7, "amount": 1}], "VALUE_OUT_OF_RANGE",
         f"{ADJ}[0].label"),
        ((A, "asset_adjustments"), [{"label": "x"}], "MISSING_FIELD", f"{ADJ}[0].amount"),
        ((A, "current_share_price"), 0, "VALUE_OUT_OF_RANGE", "assumptions.current_share_price"),
        ((A, "sensitivity"), {"wacc_step": 0}, "VALUE_OUT_OF_RANGE",
         "assumptions.sensitivity.wacc_step"),
        ((A, "sensitivity"), {"margin_steps": 6}, "VALUE_OUT_OF_RANGE",
         "assumptions.sensitivity.margin_steps"),
        ((A, "maintenance_capex_value"), -1, "VALUE_OUT_OF_RANGE",
         "assumptions.maintenance_capex_value"),
        ((A, "tax_rate_override"), 0.61, "VALUE_OUT_OF_RANGE", "assumptions.tax_rate_override"),
        ((A, "growth_rate"), 0.2, "GROWTH_RATE_NOT_BELOW_WACC", "assumptions.growth_rate"),
    ],
)  # fmt: skip
def test_validation_codes_and_paths(vector_by_id, path, value, code, field) -> None:
    result = analyse(_steady_with(path, value, vector_by_id))
    assert (result.code, result.field) == (code, field)


def test_first_failure_wins_in_the_order_of_the_checks(vector_by_id) -> None:
    doc = _steady_with((A, "wacc"), 9, vector_by_id)
    doc["fiscal_years"][3]["revenue"] = None
    doc["fiscal_years"][2]["cash"] = "x"
    assert analyse(doc).field == "fiscal_years[2].cash"  # years before assumptions, input order
    doc["fiscal_years"] = doc["fiscal_years"][1:3]
    too_short = analyse(doc)  # year checks run before the history check
    assert (too_short.code, too_short.field) == ("INVALID_NUMBER", "fiscal_years[1].cash")


def test_capm_parts_are_ignored_when_wacc_is_given(vector_by_id) -> None:
    doc = _steady_with((A, "beta"), "not validated", vector_by_id)
    result = analyse(doc)
    assert result.ok
    assert result.figures["wacc_source"] == "given"


def test_non_object_input_is_invalid_structure() -> None:
    for doc in (None, [], "x", 3):
        result = analyse(doc)
        assert (result.code, result.field) == ("INVALID_STRUCTURE", "")


def test_unknown_fields_are_reported_even_on_error(vector_by_id) -> None:
    doc = json.loads(json.dumps(vector_by_id["edge-unknown-fields"]["input"]))
    doc["extra"] = 1
    doc["company"]["sector"] = "x"
    doc["assumptions"]["sensitivity"] = {"wacc_step": 0.01, "colour": "red"}
    doc["fiscal_years"][0]["revenue"] = None
    result = analyse(doc)
    assert result.code == "MISSING_FIELD"
    assert [w["field"] for w in result.warnings] == [
        "company.sector",
        "fiscal_years[4].employees",
        "assumptions.chart_colour",
        "assumptions.sensitivity.colour",
        "extra",
    ]
