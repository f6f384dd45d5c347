"""The FinancialDatasetV1 mapping of epv-method.md section 15, on the legacy fixture and on
targeted variations of it."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from epv_cases.engine import analyse, analyse_financial_data, map_legacy_dataset
from epv_cases.engine.legacy import coerce_legacy_number

# Only the numbers the mapping reads are coerced by the importer (legacy README, "Numbers").
MAPPED_INPUTS = (
    "wacc", "taxRate", "ownerAddBack", "depreciation", "maintenanceCapex", "cash", "debt",
    "workingCapital",
)  # fmt: skip
V1_GROUPS = ("revenue", "cogs", "payroll", "opex", "below_line")


def as_imported(case: dict) -> dict:
    """A case's financial data as the importer stores it: V1 plus its epvInputs, with numeric
    strings coerced and unparseable ones left out (null in arrays)."""

    def number_or_none(value: Any) -> Any:
        if isinstance(value, str):
            ok, number = coerce_legacy_number(value)
            return number if ok else None
        return value

    data = copy.deepcopy(case["financialData"])
    for group in V1_GROUPS:
        for component, values in (data.get(group) or {}).items():
            if isinstance(values, list):
                data[group][component] = [number_or_none(v) for v in values]
    if isinstance(data.get("gp"), list):
        data["gp"] = [number_or_none(v) for v in data["gp"]]
    inputs = copy.deepcopy(case.get("epvInputs") or {})
    for key in MAPPED_INPUTS:
        if isinstance(inputs.get(key), str):
            ok, number = coerce_legacy_number(inputs[key])
            if ok:
                inputs[key] = number
            else:
                del inputs[key]
    data["epvInputs"] = inputs
    return data


def warning_list(result: Any) -> list[tuple[str, str | None]]:
    return [(w["code"], w["field"]) for w in result.warnings]


NO_BALANCE_SHEET = ("LEGACY_NO_BALANCE_SHEET", "financialData")

# The README's "End-to-end figures" (rounded to 4 decimals; wacc to 8).
README_FIGURES = {
    0: (0.14, 303671.9896, 2169085.6400, 1386315.6400),
    1: (0.15, 141136.2114, 940908.0763, 779448.0763),
    2: (0.14, 303671.9896, 2169085.6400, 886315.6400),
    3: (0.15, 141136.2114, 940908.0763, 779448.0763),
    4: (0.17, 106601.7471, 627069.1008, 465609.1008),
    6: (0.13, 303671.9896, 2335938.3816, 2103168.3816),
}


def close(actual: float, expected: float, decimals: int) -> bool:
    return abs(actual - expected) <= 0.5 * 10**-decimals + 1e-9 * max(1.0, abs(expected))


@pytest.mark.parametrize("index", sorted(README_FIGURES))
def test_fixture_cases_reproduce_the_readme_figures(legacy_cases, index) -> None:
    case = legacy_cases[index]
    result = analyse_financial_data(as_imported(case), case_name=case.get("name"))
    assert result.ok, result.error
    wacc, adjusted, epv_ops, epv_equity = README_FIGURES[index]
    f = result.figures
    assert close(f["wacc"], wacc, 8)
    assert close(f["adjusted_earnings"], adjusted, 4)
    assert close(f["epv_operations"], epv_ops, 4)
    assert close(f["epv_equity"], epv_equity, 4)
    expected_warnings = [NO_BALANCE_SHEET]
    if index == 1:
        expected_warnings.insert(0, ("LEGACY_PERCENT_SCALED", "epvInputs.wacc"))
    assert warning_list(result) == expected_warnings
    json.dumps(result.to_dict(include_inputs=True), allow_nan=False)


def test_fixture_case_with_two_periods_is_insufficient_history(legacy_cases) -> None:
    result = analyse_financial_data(as_imported(legacy_cases[7]))
    assert (result.code, result.field) == ("INSUFFICIENT_HISTORY", "fiscal_years")
    assert warning_list(result) == [NO_BALANCE_SHEET]


def test_fixture_case_with_unparseable_wacc_is_missing_wacc(legacy_cases) -> None:
    result = analyse_financial_data(as_imported(legacy_cases[8]))
    assert (result.code, result.field) == ("MISSING_FIELD", "assumptions.wacc")


def test_an_uncoerced_string_is_not_guessed_at(legacy_cases) -> None:
    raw = dict(legacy_cases[8]["financialData"], epvInputs=legacy_cases[8]["epvInputs"])
    result = analyse_financial_data(raw)
    assert (result.code, result.field) == ("INVALID_NUMBER", "assumptions.wacc")
    raw = dict(legacy_cases[3]["financialData"], epvInputs=legacy_cases[3]["epvInputs"])
    result = analyse_financial_data(raw)
    assert (result.code, result.field) == ("INVALID_NUMBER", "fiscal_years[3].revenue")


def test_harbor_maps_field_by_field(legacy_cases) -> None:
    doc, warnings = map_legacy_dataset(as_imported(legacy_cases[0]), case_name="Harbor")
    assert warnings == [{"code": "LEGACY_NO_BALANCE_SHEET", "field": "financialData"}]
    assert doc["schema_version"] == "1.0"
    assert doc["company"] == {"name": "Harbor", "units": "units"}
    assert [y["fiscal_year"] for y in doc["fiscal_years"]] == [2022, 2023, 2024]
    first = doc["fiscal_years"][0]
    assert first == {
        "fiscal_year": 2022,
        "revenue": 2385000,
        "operating_income": 175050.0 + 88000,  # EBIT before the interest booked in opex
        "depreciation_amortization": 96000,
        "capital_expenditures": 92000,
        "ppe_net": 0,
        "total_assets": 420000 + 150000,
        "cash": 420000,
        "total_debt": 1150000,
        "shares_diluted": 1,
        "income_tax_expense": 0,  # no taxes line: a pass-through entity
        "pretax_income": 172750.0,
        "sga": 765000 - 96000 - 88000,
        "rnd": 0,
        "one_off_items": 85000,
    }
    assert doc["assumptions"] == {
        "wacc": 0.14,
        "tax_rate_override": 0.26,
        "operating_cash_pct_revenue": 0.02,
        "maintenance_capex_method": "manual",
        "maintenance_capex_value": 92000,
    }
    assert "growth_rate" not in doc["assumptions"]  # the old DCF's growthRate means otherwise
    assert not any(w["code"] == "UNKNOWN_FIELD_IGNORED" for w in analyse(doc).warnings)


def test_case_name_falls_back_to_meta(legacy_cases) -> None:
    doc, _ = map_legacy_dataset(as_imported(legacy_cases[2]))
    assert doc["company"]["name"] == "Harbor Aesthetics (what if: third location)"


def test_mapping_does_not_modify_its_input(legacy_cases) -> None:
    data = as_imported(legacy_cases[0])
    before = json.dumps(data, sort_keys=True)
    analyse_financial_data(data)
    assert json.dumps(data, sort_keys=True) == before


@pytest.fixture
def harbor(legacy_cases) -> dict:
    return as_imported(legacy_cases[0])


def mapped_year(data: dict, i: int = 0) -> dict:
    return map_legacy_dataset(data)[0]["fiscal_years"][i]


def test_da_falls_back_to_epv_inputs_then_zero(harbor) -> None:
    del harbor["opex"]["depreciation"]
    year = mapped_year(harbor)
    assert year["depreciation_amortization"] == 104800
    assert year["sga"] == 765000 - 104800 - 88000  # the mapped D&A is what is taken out
    del harbor["epvInputs"]["depreciation"]
    assert mapped_year(harbor)["depreciation_amortization"] == 0


def test_da_sums_every_da_component_in_opex_order(harbor) -> None:
    harbor["opex"]["amortization"] = [1000, 2000, 3000]
    harbor["opex"]["Depreciation_other"] = [7, 7, 7]  # not an exact D&A name
    assert mapped_year(harbor, 2)["depreciation_amortization"] == 104800 + 3000


def test_interest_components_are_matched_case_sensitively(harbor) -> None:
    harbor["opex"]["Interest_on_leases"] = [5, 5, 5]
    harbor["opex"]["bank_interest"] = [1000, 1000, 1000]
    year = mapped_year(harbor)
    assert year["operating_income"] == 175050.0 + 88000 + 1000
    assert year["sga"] == 765000 - 96000 - 88000 - 1000


def test_taxes_and_nibt_when_present_and_absent(harbor) -> None:
    harbor["below_line"]["taxes"] = [100, 200, 300]
    year = mapped_year(harbor, 1)
    assert year["income_tax_expense"] == 200
    del harbor["below_line"]["nibt"]
    year = mapped_year(harbor, 1)
    assert year["pretax_income"] == year["operating_income"] == 212580.0 + 81500


def test_total_assets_ignore_negative_or_missing_working_capital(harbor) -> None:
    harbor["epvInputs"]["workingCapital"] = -50000
    assert mapped_year(harbor)["total_assets"] == 420000
    del harbor["epvInputs"]["workingCapital"]
    assert mapped_year(harbor)["total_assets"] == 420000


def test_rates_above_one_are_percentages_and_tax_defaults(harbor) -> None:
    harbor["epvInputs"]["wacc"] = 14
    harbor["epvInputs"]["taxRate"] = 26
    doc, warnings = map_legacy_dataset(harbor)
    assert doc["assumptions"]["wacc"] == 0.14
    assert doc["assumptions"]["tax_rate_override"] == 0.26
    assert [(w["code"], w["field"]) for w in warnings] == [
        ("LEGACY_PERCENT_SCALED", "epvInputs.wacc"),
        ("LEGACY_PERCENT_SCALED", "epvInputs.taxRate"),
        NO_BALANCE_SHEET,
    ]
    del harbor["epvInputs"]["taxRate"]
    harbor["epvInputs"]["wacc"] = 1  # not above 1: left alone, and the engine rejects it
    doc, warnings = map_legacy_dataset(harbor)
    assert doc["assumptions"]["tax_rate_override"] == 0.25
    assert [(w["code"], w["field"]) for w in warnings] == [
        ("LEGACY_TAX_RATE_DEFAULTED", "epvInputs.taxRate"),
        NO_BALANCE_SHEET,
    ]
    result = analyse_financial_data(harbor)
    assert (result.code, result.field) == ("INVALID_WACC", "assumptions.wacc")
    assert warning_list(result) == [
        ("LEGACY_TAX_RATE_DEFAULTED", "epvInputs.taxRate"),
        NO_BALANCE_SHEET,
    ]


def test_mapping_warnings_come_before_the_engines(harbor) -> None:
    harbor["epvInputs"]["debt"] = 1e9
    result = analyse_financial_data(harbor)
    assert result.ok
    assert warning_list(result) == [NO_BALANCE_SHEET, ("NEGATIVE_EPV_EQUITY", None)]


@pytest.mark.parametrize(
    ("damage", "code", "field"),
    [
        (lambda d: d["revenue"].pop("total"), "MISSING_FIELD", "fiscal_years[0].revenue"),
        (lambda d: d.pop("revenue"), "MISSING_FIELD", "fiscal_years[0].revenue"),
        (lambda d: d["revenue"].__setitem__("total", [1, 2]), "MISSING_FIELD",
         "fiscal_years[2].revenue"),
        (lambda d: d["revenue"]["total"].__setitem__(1, None), "MISSING_FIELD",
         "fiscal_years[1].revenue"),
        (lambda d: d["revenue"]["total"].__setitem__(1, "n/a"), "INVALID_NUMBER",
         "fiscal_years[1].revenue"),
        (lambda d: d["revenue"].__setitem__("total", 5), "INVALID_NUMBER",
         "fiscal_years[0].revenue"),
        (lambda d: d["opex"]["interest_expense_in_opex"].__setitem__(1, None), "MISSING_FIELD",
         "fiscal_years[1].operating_income"),
        (lambda d: d["below_line"]["operating_income"].__setitem__(2, True), "INVALID_NUMBER",
         "fiscal_years[2].operating_income"),
        (lambda d: d["opex"]["total"].__setitem__(0, None), "MISSING_FIELD",
         "fiscal_years[0].sga"),
        (lambda d: d["epvInputs"].pop("maintenanceCapex"), "MISSING_FIELD",
         "fiscal_years[0].capital_expenditures"),
        (lambda d: d["epvInputs"].pop("cash"), "MISSING_FIELD", "fiscal_years[0].total_assets"),
        (lambda d: d["epvInputs"].__setitem__("workingCapital", "lots"), "INVALID_NUMBER",
         "fiscal_years[0].total_assets"),
        (lambda d: d["epvInputs"].pop("debt"), "MISSING_FIELD", "fiscal_years[0].total_debt"),
        (lambda d: d["epvInputs"].pop("wacc"), "MISSING_FIELD", "assumptions.wacc"),
        (lambda d: d.pop("epvInputs"), "MISSING_FIELD", "fiscal_years[0].capital_expenditures"),
        (lambda d: d.pop("periods"), "MISSING_FIELD", "fiscal_years"),
        (lambda d: d["periods"].pop("2023"), "INSUFFICIENT_HISTORY", "fiscal_years"),
        (lambda d: d.__setitem__("periods", {"2020": "", "2023": "", "2024": ""}),
         "NON_CONSECUTIVE_YEARS", "fiscal_years"),
        (lambda d: d.__setitem__("periods", {"FY22": "", "FY23": "", "FY24": ""}),
         "INVALID_NUMBER", "fiscal_years[0].fiscal_year"),
    ],
)  # fmt: skip
def test_missing_or_malformed_v1_data_surfaces_at_the_mapped_field(harbor, damage, code, field) -> None:
    damage(harbor)
    result = analyse_financial_data(harbor)
    assert (result.code, result.field) == (code, field)
    assert result.warnings[-1] == {"code": "LEGACY_NO_BALANCE_SHEET", "field": "financialData"}


def test_array_elements_beyond_the_periods_are_ignored(harbor) -> None:
    harbor["revenue"]["total"].append("junk")
    assert analyse_financial_data(harbor).ok


def test_zero_total_assets_stays_an_error_that_names_the_balance_sheet(harbor) -> None:
    harbor["epvInputs"]["cash"] = 0
    harbor["epvInputs"]["workingCapital"] = -10
    result = analyse_financial_data(harbor)
    assert (result.code, result.field) == ("VALUE_OUT_OF_RANGE", "fiscal_years[0].total_assets")
    assert "balance sheet" in result.message


def test_mapped_document_is_the_results_inputs(harbor) -> None:
    result = analyse_financial_data(harbor)
    doc, _ = map_legacy_dataset(harbor)
    assert result.inputs == doc
    assert result.to_dict(include_inputs=True)["inputs"] == json.loads(json.dumps(doc))


def test_input_schema_documents_pass_straight_through(vector_by_id) -> None:
    doc = vector_by_id["steady-consumer"]["input"]
    direct, routed = analyse(doc), analyse_financial_data(doc)
    assert routed.to_dict() == direct.to_dict()
    assert routed.inputs is doc
