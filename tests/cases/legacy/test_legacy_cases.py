"""The README's decisions for one case: names, status, tags, duplicates, unknown fields,
embedded analyses and ``epvOutputs``, and what makes a case unimportable."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from epv_cases.legacy import Outcome, parse_export
from epv_cases.legacy import codes as c

Factory = Callable[..., dict[str, Any]]
Export = Callable[..., dict[str, Any]]


def _items(export_of: Export, *cases: Any, **kw: Any) -> Any:
    return parse_export(export_of(list(cases)), **kw).cases


def _codes(item: Any) -> list[tuple[str, str | None]]:
    return [(w.code, w.field) for w in item.warnings]


# --- names --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [None, "", "   ", "\t\n", 42], ids=repr)
def test_missing_name_falls_back_to_meta(
    export_of: Export, case_factory: Factory, name: Any
) -> None:
    (item,) = _items(export_of, case_factory(name=name))
    assert item.case.name == "Meta name"
    assert _codes(item) == [(c.LEGACY_NAME_MISSING, None)]
    assert item.outcome is Outcome.IMPORTED_WITH_WARNINGS


def test_absent_name_without_meta_is_untitled(
    export_of: Export, case_factory: Factory, drop: object
) -> None:
    case = case_factory(name=drop)
    case["financialData"]["meta"] = {"case_name": "  "}
    (item,) = _items(export_of, case)
    assert item.case.name == "Untitled case case-1"
    assert _codes(item) == [(c.LEGACY_NAME_MISSING, None)]


@pytest.mark.parametrize(
    "name",
    ["  Padded  ", "Clinique 😀👩‍⚕️", "עיאדת העור", "x" * 500],
    ids=["padded", "emoji", "rtl", "exactly-500"],
)
def test_names_are_kept_whole(export_of: Export, case_factory: Factory, name: str) -> None:
    (item,) = _items(export_of, case_factory(name=name))
    assert item.case.name == name
    assert item.warnings == ()


def test_long_name_is_cut_to_500(export_of: Export, case_factory: Factory) -> None:
    (item,) = _items(export_of, case_factory(name="é" * 499 + "😀" * 3))
    assert item.case.name == "é" * 499 + "😀"
    assert len(item.case.name) == 500
    assert _codes(item) == [(c.LEGACY_NAME_TRUNCATED, "name")]


# --- status and tags ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected", "warned"),
    [
        ("draft", "DRAFT", False),
        ("analyzing", "ANALYZING", False),
        ("complete", "COMPLETE", False),
        ("review", "REVIEW", False),
        ("archived", "ARCHIVED", False),
        ("Complete", "COMPLETE", False),
        (None, "DRAFT", False),
        ("deleted", "DRAFT", True),
        ("", "DRAFT", True),
        (3, "DRAFT", True),
    ],
    ids=repr,
)
def test_status_mapping(
    export_of: Export, case_factory: Factory, status: Any, expected: str, warned: bool
) -> None:
    (item,) = _items(export_of, case_factory(status=status))
    assert item.case.status == expected
    assert _codes(item) == ([(c.LEGACY_UNKNOWN_STATUS, "status")] if warned else [])


def test_missing_status_is_draft(export_of: Export, case_factory: Factory, drop: object) -> None:
    (item,) = _items(export_of, case_factory(status=drop))
    assert item.case.status == "DRAFT"
    assert item.warnings == ()


def test_non_string_tags_are_dropped(export_of: Export, case_factory: Factory) -> None:
    (item,) = _items(export_of, case_factory(tags=["a", 5, None, "b", {"x": 1}]))
    assert item.case.tags == ("a", "b")
    assert _codes(item) == [
        (c.LEGACY_UNKNOWN_FIELD, "tags[1]"),
        (c.LEGACY_UNKNOWN_FIELD, "tags[2]"),
        (c.LEGACY_UNKNOWN_FIELD, "tags[4]"),
    ]
    assert item.unknown_fields == {"tags[1]": 5, "tags[2]": None, "tags[4]": {"x": 1}}


@pytest.mark.parametrize(("tags", "warned"), [(None, False), ("medispa", True), ({}, True)])
def test_tags_not_an_array(
    export_of: Export, case_factory: Factory, tags: Any, warned: bool
) -> None:
    (item,) = _items(export_of, case_factory(tags=tags))
    assert item.case.tags == ()
    assert _codes(item) == ([(c.LEGACY_WRONG_SHAPE, "tags")] if warned else [])


# --- timestamps ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2024-03-02T10:15:07.412Z", "2024-03-02T10:15:07.412Z"),
        ("2024-03-02T12:15:07.412+02:00", "2024-03-02T10:15:07.412Z"),
        ("2024-03-02T10:15:07", "2024-03-02T10:15:07.000Z"),
        ("2024-03-02", "2024-03-02T00:00:00.000Z"),
        ("2024-03-02T10:15:07.412345Z", "2024-03-02T10:15:07.412345Z"),
    ],
)
def test_last_modified_becomes_legacy_updated_at(
    export_of: Export, case_factory: Factory, given: str, expected: str
) -> None:
    (item,) = _items(export_of, case_factory(lastModified=given))
    assert item.case.legacy_updated_at == expected
    assert item.warnings == ()


@pytest.mark.parametrize(
    "given", [None, "", "yesterday", 1709374400000, "+275760-09-13T00:00:00.000Z"]
)
def test_unusable_last_modified(export_of: Export, case_factory: Factory, given: Any) -> None:
    (item,) = _items(export_of, case_factory(lastModified=given))
    assert item.case.legacy_updated_at is None
    assert _codes(item) == [(c.LEGACY_TIMESTAMP_INVALID, "lastModified")]
    assert item.outcome is Outcome.IMPORTED_WITH_WARNINGS


# --- duplicates and idempotency -----------------------------------------------------------------


def test_exact_duplicate_is_skipped(export_of: Export, case_factory: Factory) -> None:
    case = case_factory(analyses=[{"agentType": "a", "enterpriseValue": 1}])
    reordered = dict(reversed(list(case.items())))  # object member order does not matter
    first, second = _items(export_of, case, reordered)
    assert first.outcome is Outcome.IMPORTED
    assert second.outcome is Outcome.SKIPPED
    assert second.duplicate_of == 0
    assert second.case is None and second.analyses == ()
    assert _codes(second) == [(c.LEGACY_DUPLICATE_SKIPPED, None)]
    plan = parse_export(export_of([case, reordered]))
    assert plan.counts["cases"]["skipped"] == 1
    assert plan.counts["analyses"] == {"imported": 1, "rejected": 0, "skipped": 0}


def test_json_equality_distinguishes_true_from_one(
    export_of: Export, case_factory: Factory
) -> None:
    first, second = _items(
        export_of,
        case_factory(tags=[], epvInputs={"wacc": 1}),
        case_factory(tags=[], epvInputs={"wacc": True}),
    )
    assert second.outcome is Outcome.IMPORTED_WITH_WARNINGS
    assert _codes(second) == [(c.LEGACY_DUPLICATE_ID, None)]
    first_int, second_float = _items(
        export_of, case_factory(epvInputs={"wacc": 1}), case_factory(epvInputs={"wacc": 1.0})
    )
    assert second_float.outcome is Outcome.SKIPPED


def test_duplicate_chain(export_of: Export, case_factory: Factory) -> None:
    a, b = case_factory(name="A"), case_factory(name="B")
    items = _items(export_of, a, b, dict(b), a)
    assert [i.outcome for i in items] == [
        Outcome.IMPORTED,
        Outcome.IMPORTED_WITH_WARNINGS,
        Outcome.SKIPPED,
        Outcome.SKIPPED,
    ]
    assert [i.duplicate_of for i in items] == [None, None, 1, 0]
    assert items[1].case.idempotency_key == "case-1#1"


def test_a_rejected_entry_does_not_count_as_the_first(
    export_of: Export, case_factory: Factory
) -> None:
    items = _items(export_of, case_factory(financialData=None), case_factory())
    assert items[0].outcome is Outcome.REJECTED
    assert items[1].outcome is Outcome.IMPORTED
    assert items[1].case.idempotency_key == "case-1"


def test_already_imported_is_skipped_but_duplicates_still_answer_duplicate(
    export_of: Export, case_factory: Factory
) -> None:
    case = case_factory()
    first, second = _items(export_of, case, case, already_imported={"case-1"})
    assert first.outcome is Outcome.SKIPPED
    assert _codes(first) == [(c.LEGACY_ALREADY_IMPORTED, None)]
    assert _codes(second) == [(c.LEGACY_DUPLICATE_SKIPPED, None)]


# --- unknown fields, epvInputs, unimportable cases ----------------------------------------------


def test_unknown_fields_are_recorded(export_of: Export, case_factory: Factory) -> None:
    (item,) = _items(
        export_of, case_factory(pinned=False, epvInputs={"wacc": 0.1, "foo": [1], "cash": 1})
    )
    assert _codes(item) == [
        (c.LEGACY_UNKNOWN_FIELD, "pinned"),
        (c.LEGACY_UNKNOWN_FIELD, "epvInputs.foo"),
    ]
    assert item.unknown_fields == {"pinned": False, "epvInputs.foo": [1]}
    assert item.case.epv_inputs == {"wacc": 0.1, "cash": 1}


@pytest.mark.parametrize("inputs", [[], "x", 3])
def test_epv_inputs_not_an_object(export_of: Export, case_factory: Factory, inputs: Any) -> None:
    (item,) = _items(export_of, case_factory(epvInputs=inputs))
    assert item.case.epv_inputs is None
    assert "epvInputs" not in item.case.financial_data
    assert _codes(item) == [(c.LEGACY_WRONG_SHAPE, "epvInputs")]
    assert item.unknown_fields == {"epvInputs": inputs}


def test_case_without_epv_inputs(export_of: Export, case_factory: Factory) -> None:
    (item,) = _items(export_of, case_factory(epvInputs=None))
    assert item.outcome is Outcome.IMPORTED
    assert item.case.epv_inputs is None


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        (None, c.LEGACY_NOT_AN_OBJECT),
        ("case-1", c.LEGACY_NOT_AN_OBJECT),
        ([1, 2], c.LEGACY_NOT_AN_OBJECT),
        (7, c.LEGACY_NOT_AN_OBJECT),
        ({"name": "no id", "financialData": {}}, c.LEGACY_CASE_INVALID),
        ({"id": "", "financialData": {}}, c.LEGACY_CASE_INVALID),
        ({"id": 1698412345123, "financialData": {}}, c.LEGACY_CASE_INVALID),
        ({"id": "case-1"}, c.LEGACY_CASE_INVALID),
        ({"id": "case-1", "financialData": "{}"}, c.LEGACY_CASE_INVALID),
    ],
    ids=repr,
)
def test_unimportable_entries_are_rejected(export_of: Export, entry: Any, reason: str) -> None:
    plan = parse_export(export_of([entry]))
    (item,) = plan.cases
    assert item.outcome is Outcome.REJECTED
    assert item.rejection is not None and item.rejection.reason == reason
    assert item.to_dict()["raw_text"] is not None
    assert plan.counts["cases"]["rejected"] == 1


def test_empty_financial_data_still_imports(export_of: Export, case_factory: Factory) -> None:
    (item,) = _items(export_of, case_factory(financialData={}))
    assert item.outcome is Outcome.IMPORTED
    assert item.case.name == "Test practice"


# --- analyses -----------------------------------------------------------------------------------


def test_embedded_analyses_each_on_their_own(export_of: Export, case_factory: Factory) -> None:
    good = {"agentType": "x", "enterpriseValue": 10, "completedAt": "2024-01-01T00:00:00Z"}
    analyses = [
        good,
        None,
        {"enterpriseValue": 5},
        {"agentType": "y", "enterpriseValue": "5"},
        {"agentType": "z", "enterpriseValue": True},
        {"agentType": "w", "enterpriseValue": 7},
    ]
    plan = parse_export(export_of([case_factory(analyses=analyses)]))
    (item,) = plan.cases
    assert item.outcome is Outcome.IMPORTED  # analysis defects are not the case's warnings
    outcomes = [(a.outcome, a.rejection.reason if a.rejection else None) for a in item.analyses]
    assert outcomes == [
        (Outcome.IMPORTED, None),
        (Outcome.REJECTED, c.LEGACY_NOT_AN_OBJECT),
        (Outcome.REJECTED, c.LEGACY_ANALYSIS_INVALID),
        (Outcome.REJECTED, c.LEGACY_ANALYSIS_INVALID),
        (Outcome.REJECTED, c.LEGACY_ANALYSIS_INVALID),
        (Outcome.IMPORTED_WITH_WARNINGS, None),
    ]
    assert item.analyses[0].analysis.run_at == "2024-01-01T00:00:00.000Z"
    assert item.analyses[5].analysis.run_at is None
    assert [(w.code, w.field) for w in item.analyses[5].warnings] == [
        (c.LEGACY_TIMESTAMP_INVALID, "analyses[5].completedAt")
    ]
    entry = plan.report()["rejected"][0]
    assert entry == {
        "key": "epv-cases",
        "index": 0,
        "analysis_index": 1,
        "legacy_id": "case-1",
        "reason": c.LEGACY_NOT_AN_OBJECT,
        "detail": "analyses[1] is null, not an object",
    }
    assert plan.counts["analyses"] == {"imported": 2, "rejected": 4, "skipped": 0}


@pytest.mark.parametrize("analyses", ["[]", {"0": {}}, 3])
def test_analyses_not_an_array(export_of: Export, case_factory: Factory, analyses: Any) -> None:
    (item,) = _items(export_of, case_factory(analyses=analyses))
    assert item.analyses == ()
    assert _codes(item) == [(c.LEGACY_WRONG_SHAPE, "analyses")]


def test_epv_outputs(export_of: Export, case_factory: Factory) -> None:
    (item,) = _items(export_of, case_factory(epvOutputs={"enterpriseValue": 9, "other": 1}))
    (outputs,) = item.analyses
    assert outputs.source == "epvOutputs"
    assert outputs.analysis.figures == {"enterprise_value": 9}
    assert outputs.analysis.output == {"enterpriseValue": 9, "other": 1}
    assert outputs.analysis.run_at == "2024-01-01T00:00:00.000Z"
    assert outputs.analysis.idempotency_key == "case-1/epvOutputs"


def test_epv_outputs_not_an_object(export_of: Export, case_factory: Factory) -> None:
    plan = parse_export(export_of([case_factory(epvOutputs=[1])]))
    (outputs,) = plan.cases[0].analyses
    assert outputs.outcome is Outcome.REJECTED
    assert plan.report()["rejected"] == [
        {
            "key": "epv-cases",
            "index": 0,
            "legacy_id": "case-1",
            "reason": c.LEGACY_NOT_AN_OBJECT,
            "detail": "epvOutputs is an array, not an object",
            "field": "epvOutputs",
        }
    ]


def test_epv_inputs_inside_financial_data_is_not_mistaken_for_the_cases(
    export_of: Export, case_factory: Factory
) -> None:
    case = case_factory(epvInputs={"wacc": 0.1})
    case["financialData"]["epvInputs"] = {"wacc": "junk"}
    (item,) = _items(export_of, case)
    assert item.case.epv_inputs == {"wacc": 0.1}
    assert _codes(item) == [(c.LEGACY_UNKNOWN_FIELD, "financialData.epvInputs")]
    assert item.unknown_fields == {"financialData.epvInputs": {"wacc": "junk"}}
