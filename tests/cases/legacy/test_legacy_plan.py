"""The real export (shared/fixtures/legacy) parsed: every defect the README lists, the
totals, nothing lost, and determinism."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from epv_cases.legacy import ImportPlan, Outcome, parse_export
from epv_cases.legacy import codes as c
from epv_cases.legacy.jsonvalue import json_equal

# One row per defect in the README's tables: (key, index, legacy_id, code, field).
# `field` is None for rejections and for the warnings whose field is always null.
README_WARNINGS = [
    ("epv-cases", 2, "case-1700110022000", c.LEGACY_NAME_MISSING, None),
    (
        "epv-cases",
        3,
        "case-1701234567890",
        c.LEGACY_NUMBER_COERCED,
        "financialData.revenue.total[3]",
    ),
    ("epv-cases", 3, "case-1701234567890", c.LEGACY_NUMBER_COERCED, "financialData.opex.rent[2]"),
    ("epv-cases", 4, "case-1699001122334", c.LEGACY_DUPLICATE_ID, None),
    ("epv-cases", 6, "case-1702000000000", c.LEGACY_UNKNOWN_FIELD, "pinned"),
    ("epv-cases", 6, "case-1702000000000", c.LEGACY_UNKNOWN_FIELD, "colorLabel"),
    ("epv-cases", 6, "case-1702000000000", c.LEGACY_UNKNOWN_FIELD, "epvInputs.monteCarloRuns"),
    ("epv-cases", 8, "case-1706000000000", c.LEGACY_NUMBER_UNPARSEABLE, "epvInputs.wacc"),
    ("epv-pro-state", 2, "run-1710256700000", c.LEGACY_INCOMPLETE_RUN, None),
]
README_REJECTIONS = [
    ("epv-cases", 5, None, c.LEGACY_NOT_AN_OBJECT),
    ("epv-pro-state", 1, "run-1690000000001", c.LEGACY_ORPHAN_ANALYSIS),
    ("epv-pro-scenarios", None, None, c.LEGACY_JSON_INVALID),
]

# position -> (legacy id, outcome, name, status)
README_CASES = {
    0: ("case-1698412345123", Outcome.IMPORTED, "Harbor Aesthetics (2 locations)", "COMPLETE"),
    1: ("case-1699001122334", Outcome.IMPORTED, "Lumen Skin & Laser", "ANALYZING"),
    2: (
        "case-1700110022000",
        Outcome.IMPORTED_WITH_WARNINGS,
        "Harbor Aesthetics (what if: third location)",
        "DRAFT",
    ),
    3: (
        "case-1701234567890",
        Outcome.IMPORTED_WITH_WARNINGS,
        "Birchwood Dermatology & Spa",
        "COMPLETE",
    ),
    4: (
        "case-1699001122334",
        Outcome.IMPORTED_WITH_WARNINGS,
        "Lumen Skin & Laser (bear case)",
        "DRAFT",
    ),
    5: (None, Outcome.REJECTED, None, None),
    6: ("case-1702000000000", Outcome.IMPORTED_WITH_WARNINGS, "Solstice MedSpa", "COMPLETE"),
    7: ("case-1705000000000", Outcome.IMPORTED, "Coastal Wellness Clinic", "DRAFT"),
    8: ("case-1706000000000", Outcome.IMPORTED_WITH_WARNINGS, "Aurora Laser Studio", "DRAFT"),
}


@pytest.fixture
def plan(legacy_export: dict[str, str]) -> ImportPlan:
    return parse_export(legacy_export)


def _warning_rows(plan: ImportPlan) -> list[tuple[Any, ...]]:
    return [(w.where.key, w.where.index, w.where.legacy_id, w.code, w.field) for w in plan.warnings]


def _rejection_rows(plan: ImportPlan) -> list[tuple[Any, ...]]:
    return [(r.where.key, r.where.index, r.where.legacy_id, r.reason) for r in plan.rejected]


@pytest.mark.parametrize("row", README_WARNINGS, ids=lambda r: f"{r[0]}[{r[1]}]-{r[3]}-{r[4]}")
def test_each_readme_warning_is_reported(plan: ImportPlan, row: tuple[Any, ...]) -> None:
    assert row in _warning_rows(plan)


@pytest.mark.parametrize("row", README_REJECTIONS, ids=lambda r: f"{r[0]}[{r[1]}]-{r[3]}")
def test_each_readme_rejection_is_reported(plan: ImportPlan, row: tuple[Any, ...]) -> None:
    assert row in _rejection_rows(plan)


def test_report_holds_exactly_the_readme_defects(plan: ImportPlan) -> None:
    assert _warning_rows(plan) == README_WARNINGS
    assert _rejection_rows(plan) == README_REJECTIONS


def test_totals_match_the_readme(plan: ImportPlan) -> None:
    assert plan.counts == {
        "cases": {"imported": 8, "imported_with_warnings": 5, "rejected": 1, "skipped": 0},
        "analyses": {"imported": 5, "rejected": 1, "skipped": 1},
        "keys": {"rejected": 1, "ignored": 2},
    }
    assert plan.shape_errors == ()


@pytest.mark.parametrize("index", sorted(README_CASES))
def test_case_outcome_name_and_status(plan: ImportPlan, index: int) -> None:
    legacy_id, outcome, name, status = README_CASES[index]
    item = plan.cases[index]
    assert item.index == index
    assert item.legacy_id == legacy_id
    assert item.outcome is outcome
    if outcome is Outcome.REJECTED:
        assert item.case is None
    else:
        assert item.case is not None
        assert (item.case.legacy_id, item.case.name, item.case.status) == (legacy_id, name, status)


def test_clean_cases_carry_no_warnings(plan: ImportPlan) -> None:
    for index in (0, 1, 7):
        assert plan.cases[index].warnings == ()


def test_case_fields_ready_to_store(plan: ImportPlan, fixture_cases: list[Any]) -> None:
    harbor = plan.cases[0].case
    assert harbor is not None
    assert harbor.tags == ("medispa", "multi-location")
    assert harbor.legacy_updated_at == "2024-03-02T10:15:07.412Z"
    assert harbor.idempotency_key == "case-1698412345123"
    stored = dict(harbor.financial_data)
    inputs = stored.pop("epvInputs")
    assert stored == fixture_cases[0]["financialData"]  # FinancialDatasetV1 shape, untouched
    assert inputs == fixture_cases[0]["epvInputs"]
    assert harbor.epv_inputs == inputs


def test_percentage_wacc_is_not_scaled_at_import(plan: ImportPlan) -> None:
    lumen = plan.cases[1].case
    assert lumen is not None and lumen.epv_inputs is not None
    assert lumen.epv_inputs["wacc"] == 15
    assert plan.cases[1].warnings == ()


def test_numbers_with_thousands_separators_are_parsed(plan: ImportPlan) -> None:
    item = plan.cases[3]
    assert item.case is not None
    data = item.case.financial_data
    assert data["revenue"]["total"] == [1359000, 1542000, 1686500, 1823000.0]
    assert data["opex"]["rent"] == [132000, 135900, 140000, 144200]
    assert all(isinstance(v, int | float) for v in data["opex"]["rent"])
    assert item.coerced_values == {
        "financialData.revenue.total[3]": "1,823,000.00",
        "financialData.opex.rent[2]": "140,000",
    }


def test_duplicate_id_is_a_separate_case_with_its_own_key(plan: ImportPlan) -> None:
    first, copy_ = plan.cases[1].case, plan.cases[4].case
    assert first is not None and copy_ is not None
    assert first.legacy_id == copy_.legacy_id == "case-1699001122334"
    assert first.idempotency_key == "case-1699001122334"
    assert first.duplicate_position is None
    assert copy_.duplicate_position == 4
    assert copy_.idempotency_key == "case-1699001122334#4"
    assert copy_.epv_inputs is not None and copy_.epv_inputs["wacc"] == 0.17


def test_unknown_fields_are_kept_in_the_record_not_in_the_case(plan: ImportPlan) -> None:
    item = plan.cases[6]
    assert item.unknown_fields == {
        "pinned": True,
        "colorLabel": "#e76f51",
        "epvInputs.monteCarloRuns": 5000,
    }
    assert item.case is not None and item.case.epv_inputs is not None
    assert "monteCarloRuns" not in item.case.epv_inputs
    assert "pinned" not in item.case.financial_data


def test_unparseable_wacc_is_left_out_and_recorded(plan: ImportPlan) -> None:
    item = plan.cases[8]
    assert item.case is not None and item.case.epv_inputs is not None
    assert "wacc" not in item.case.epv_inputs
    assert item.case.epv_inputs["taxRate"] == 0.25
    assert item.unparseable_values == {"epvInputs.wacc": "12%"}


def test_short_history_imports_cleanly(plan: ImportPlan) -> None:
    item = plan.cases[7]
    assert item.outcome is Outcome.IMPORTED
    assert item.case is not None
    assert list(item.case.financial_data["periods"]) == ["2023", "2024"]


def test_rejected_null_entry_keeps_its_raw_text(plan: ImportPlan) -> None:
    entry = plan.to_dict()["cases"][5]
    assert entry["outcome"] == "rejected"
    assert entry["raw_text"] == "null"
    assert entry["rejection"]["reason"] == c.LEGACY_NOT_AN_OBJECT


def test_embedded_analyses_and_epv_outputs(plan: ImportPlan) -> None:
    harbor = plan.cases[0]
    assert [a.outcome for a in harbor.analyses] == [Outcome.IMPORTED] * 3
    first, second, outputs = (a.analysis for a in harbor.analyses)
    assert first is not None and second is not None and outputs is not None
    assert first.origin == "legacy-agent:value-investing-pe-analyst"
    assert first.run_at == "2024-03-02T10:14:51.020Z"
    assert first.figures == {
        "enterprise_value": 2310000,
        "recommendation": "FAVORABLE",
        "confidence": "MEDIUM",
        "methodology": "EPV (NOPAT, owner add-back)",
        "key_risks": ["Injector retention", "Local competition"],
        "strengths": ["Recurring membership base"],
        "detailed_analysis": {
            "normalizedEBITDA": 612000,
            "ebitdaMargin": 0.2115,
            "evMultiple": 3.8,
        },
    }
    assert second.origin == "legacy-agent:quant-finance-modeler"
    assert second.figures["enterprise_value"] == 2475000
    assert "detailed_analysis" not in second.figures
    assert outputs.origin == "legacy-epv-pro"
    assert outputs.run_at == "2024-03-02T10:15:07.412Z"  # the case's lastModified
    assert outputs.figures == {
        "enterprise_value": 2310000,
        "equity_value": 1580000,
        "normalized_ebitda": 612000,
        "sensitivity_matrix": [[2650000, 2480000], [2180000, 2040000]],
        "scenarios": {"base": 2310000, "bull": 2790000, "bear": 1860000},
    }
    assert outputs.output["evEBITDA"] == 3.77  # the rest kept as given
    keys = [a.idempotency_key for a in (first, second, outputs)]
    assert keys == [
        "case-1698412345123/analyses[0]",
        "case-1698412345123/analyses[1]",
        "case-1698412345123/epvOutputs",
    ]
    lumen = plan.cases[1].analyses
    assert len(lumen) == 1 and lumen[0].analysis is not None
    assert lumen[0].analysis.origin == "legacy-agent:financial-analyst"


def test_queue_runs(plan: ImportPlan) -> None:
    done, orphan, running = plan.queue_runs
    assert done.outcome is Outcome.IMPORTED and done.analysis is not None
    assert done.analysis.origin == "legacy-agent:financial-analyst-b"
    assert done.analysis.run_at == "2024-03-02T10:13:20.000Z"
    assert done.analysis.figures["enterprise_value"] == 2205000
    assert (done.analysis.case_legacy_id, done.analysis.case_index) == ("case-1698412345123", 0)
    assert done.analysis.idempotency_key == "case-1698412345123/run:run-1709374400000"
    assert orphan.outcome is Outcome.REJECTED and orphan.analysis is None
    assert running.outcome is Outcome.SKIPPED and running.analysis is None
    assert [a.analysis.origin for a in plan.analyses_to_store() if a.analysis] == [
        "legacy-agent:value-investing-pe-analyst",
        "legacy-agent:quant-finance-modeler",
        "legacy-epv-pro",
        "legacy-agent:financial-analyst",
        "legacy-agent:financial-analyst-b",
    ]


def test_preferences_state_scenarios_and_ignored_keys(
    plan: ImportPlan, legacy_export: dict[str, str]
) -> None:
    assert plan.preferences is not None
    assert plan.preferences.outcome is Outcome.IMPORTED
    assert plan.preferences.user == {
        "theme": "dark",
        "currency": "USD",
        "number_format": "en-US",
        "show_monte_carlo": True,
        "recommended_method": "Conservative: Min",
    }
    assert plan.preferences.case_defaults == {"wacc": 0.14, "tax_rate_override": 0.25}
    assert plan.state is not None
    assert plan.state.fields == {
        "activeTab": "valuation",
        "selectedCaseId": "case-1699001122334",
        "sidebarCollapsed": False,
    }
    assert plan.ignored_keys == ("ajs_anonymous_id", "medispa-epv-pro-theme")
    assert plan.scenarios is None
    scenarios = next(k for k in plan.keys if k.key == "epv-pro-scenarios")
    assert scenarios.rejection is not None
    assert scenarios.raw_text == legacy_export["epv-pro-scenarios"]


def test_nothing_of_the_export_is_lost(
    plan: ImportPlan, legacy_export: dict[str, str], fixture_cases: list[Any]
) -> None:
    # every key accounted for, with its raw text as received
    assert {k.key: k.raw_text for k in plan.keys} == legacy_export
    # every entry of epv-cases once, in order, imported or rejected, with its raw value
    assert [item.index for item in plan.cases] == list(range(len(fixture_cases)))
    for item, entry in zip(plan.cases, fixture_cases, strict=True):
        assert json_equal(item.raw, entry)
        assert item.outcome in (Outcome.IMPORTED, Outcome.IMPORTED_WITH_WARNINGS, Outcome.REJECTED)
    ids = {e["id"] for e in fixture_cases if isinstance(e, dict)}
    assert {i.case.legacy_id for i in plan.cases_to_store() if i.case} == ids
    # every embedded analysis and every queue run has an item
    embedded = sum(len(e["analyses"]) + ("epvOutputs" in e) for e in fixture_cases if e)
    assert sum(len(i.analyses) for i in plan.cases) == embedded
    assert len(plan.queue_runs) == len(json.loads(legacy_export["epv-pro-state"])["analysisQueue"])


def test_to_dict_is_strict_json(plan: ImportPlan) -> None:
    data = plan.to_dict()
    text = json.dumps(data, allow_nan=False, ensure_ascii=False)
    assert json.loads(text) == data
    assert set(data) >= {"counts", "rejected", "warnings", "ignored_keys", "cases", "keys"}
    rejection = data["rejected"][0]
    assert list(rejection) == ["key", "index", "legacy_id", "reason", "detail"]
    warning = data["warnings"][0]
    assert list(warning) == ["key", "index", "legacy_id", "code", "field", "message"]


def test_parsing_twice_gives_equal_plans(legacy_export: dict[str, str]) -> None:
    before = copy.deepcopy(legacy_export)
    first, second = parse_export(legacy_export), parse_export(legacy_export)
    assert first == second
    assert json.dumps(first.to_dict()) == json.dumps(second.to_dict())
    assert legacy_export == before  # the input is not mutated


def test_key_order_does_not_change_the_plan(legacy_export: dict[str, str]) -> None:
    reordered = dict(reversed(list(legacy_export.items())))
    assert parse_export(reordered).to_dict() == parse_export(legacy_export).to_dict()


def test_plan_does_not_share_state_with_its_dict(plan: ImportPlan) -> None:
    data = plan.to_dict()
    data["cases"][0]["case"]["financial_data"]["revenue"]["total"][0] = -1
    assert plan.cases[0].case is not None
    assert plan.cases[0].case.financial_data["revenue"]["total"][0] == 2385000


def test_reimport_creates_nothing_new(plan: ImportPlan, legacy_export: dict[str, str]) -> None:
    keys = [i.case.idempotency_key for i in plan.cases_to_store() if i.case]
    keys += [a.analysis.idempotency_key for a in plan.analyses_to_store() if a.analysis]
    again = parse_export(legacy_export, already_imported=keys)
    assert again.cases_to_store() == ()
    assert again.analyses_to_store() == ()
    assert again.counts == {
        "cases": {"imported": 0, "imported_with_warnings": 0, "rejected": 1, "skipped": 8},
        "analyses": {"imported": 0, "rejected": 1, "skipped": 6},
        "keys": {"rejected": 1, "ignored": 2},
    }
    codes_by_case = {i.index: [w.code for w in i.warnings] for i in again.cases}
    assert all(codes_by_case[i] == [c.LEGACY_ALREADY_IMPORTED] for i in (0, 1, 2, 3, 4, 6, 7, 8))
    assert all(w.field is None for w in again.warnings if w.code == c.LEGACY_ALREADY_IMPORTED)


def test_values_already_parsed_are_accepted_and_flagged(legacy_export: dict[str, str]) -> None:
    parsed = dict(legacy_export)
    parsed["epv-cases"] = json.loads(legacy_export["epv-cases"])
    plan = parse_export(parsed)
    assert plan.shape_errors == ("the value of 'epv-cases' is an array, not a string",)
    assert plan.counts == parse_export(legacy_export).counts
    cases_key = next(k for k in plan.keys if k.key == "epv-cases")
    assert cases_key.received_as == "parsed"
