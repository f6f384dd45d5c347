"""Bad input never raises: keys that do not parse or have the wrong shape, junk values, the
workspace state and its queue, and a fuzzed export."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from epv_cases.legacy import KeyOutcome, Outcome, parse_export
from epv_cases.legacy import codes as c
from epv_cases.legacy.jsonvalue import MAX_DEPTH

Export = Callable[..., dict[str, Any]]
Factory = Callable[..., dict[str, Any]]


def _key(plan: Any, key: str) -> Any:
    return next(k for k in plan.keys if k.key == key)


# --- keys ---------------------------------------------------------------------------------------

INVALID_JSON = [
    ('[{"id":"sc-1","name":"Harbor base"},{"id":"sc-2",', "truncated"),
    ("", "empty"),
    ("[NaN]", "NaN"),
    ('{"a": Infinity}', "Infinity"),
    ("[-Infinity]", "-Infinity"),
    ("[1e400]", "overflows to infinity"),
    ('["\\ud800"]', "escaped lone surrogate"),
    ('{"\\udfff": 1}', "lone surrogate in a key"),
    ('["\ud800"]', "raw lone surrogate"),
    ("[1,]", "trailing comma"),
    ("{'a': 1}", "single quotes"),
    ("\ufeff[]", "byte order mark"),
    ("[" * 5000 + "]" * 5000, "nested beyond the parser"),
    ("[" * (MAX_DEPTH + 2) + "]" * (MAX_DEPTH + 2), "nested beyond MAX_DEPTH"),
    ("1" * 5000, "an integer of 5000 digits"),
]


@pytest.mark.parametrize("key", c.KNOWN_KEYS)
@pytest.mark.parametrize(("text", "what"), INVALID_JSON, ids=[w for _, w in INVALID_JSON])
def test_known_key_that_does_not_parse_is_rejected(key: str, text: str, what: str) -> None:
    plan = parse_export({key: text, "epv-preferences" if key != "epv-preferences" else "x": "{}"})
    report = _key(plan, key)
    assert report.outcome is KeyOutcome.REJECTED
    assert report.rejection is not None and report.rejection.reason == c.LEGACY_JSON_INVALID
    assert plan.counts["keys"]["rejected"] == 1
    json.dumps(plan.to_dict(), allow_nan=False).encode("utf-8")  # storable as it stands


def test_raw_text_of_a_lone_surrogate_is_storable() -> None:
    plan = parse_export({"epv-pro-scenarios": '["\ud800"]'})
    assert _key(plan, "epv-pro-scenarios").raw_text == '["\\ud800"]'
    json.dumps(plan.to_dict(), ensure_ascii=False).encode("utf-8")


@pytest.mark.parametrize(
    ("key", "text"),
    [
        ("epv-cases", "{}"),
        ("epv-cases", '"[]"'),
        ("epv-cases", "null"),
        ("epv-pro-state", "[]"),
        ("epv-pro-state", "true"),
        ("epv-pro-scenarios", "{}"),
    ],
)
def test_known_key_of_the_wrong_shape_is_rejected(key: str, text: str) -> None:
    plan = parse_export({key: text})
    report = _key(plan, key)
    assert report.outcome is KeyOutcome.REJECTED
    assert report.rejection is not None and report.rejection.reason == c.LEGACY_WRONG_SHAPE
    assert report.raw_text == text


def test_every_other_key_is_ignored_and_not_an_error() -> None:
    plan = parse_export(
        {"zz": "{", "medispa-epv-pro-theme": "dark", "ajs_anonymous_id": '"x"', "EPV-CASES": "[]"}
    )
    assert plan.ignored_keys == ("EPV-CASES", "ajs_anonymous_id", "medispa-epv-pro-theme", "zz")
    assert plan.rejected == () and plan.warnings == ()
    assert all(k.outcome is KeyOutcome.IGNORED for k in plan.keys)
    assert plan.counts["keys"] == {"rejected": 0, "ignored": 4}


def test_scenarios_that_parse_are_kept_for_the_record() -> None:
    scenarios = [{"id": "sc-1", "name": "base", "data": {"wacc": 0.14}}]
    plan = parse_export({"epv-pro-scenarios": json.dumps(scenarios)})
    assert plan.scenarios == scenarios
    assert _key(plan, "epv-pro-scenarios").outcome is KeyOutcome.PARSED


# --- the body itself ----------------------------------------------------------------------------


@pytest.mark.parametrize("body", [None, "{}", [], 42, b"{}"], ids=repr)
def test_body_that_is_not_an_object(body: Any) -> None:
    plan = parse_export(body)
    assert plan.shape_errors and "not an object" in plan.shape_errors[0]
    assert plan.cases == () and plan.keys == ()
    json.dumps(plan.to_dict())


def test_empty_export() -> None:
    plan = parse_export({})
    assert plan.shape_errors == ()
    assert plan.counts == {
        "cases": {"imported": 0, "imported_with_warnings": 0, "rejected": 0, "skipped": 0},
        "analyses": {"imported": 0, "rejected": 0, "skipped": 0},
        "keys": {"rejected": 0, "ignored": 0},
    }


class _Opaque:
    pass


@pytest.mark.parametrize(
    ("value", "outcome", "reason"),
    [
        ([], KeyOutcome.PARSED, None),
        ({"a": 1}, KeyOutcome.REJECTED, c.LEGACY_WRONG_SHAPE),
        (None, KeyOutcome.REJECTED, c.LEGACY_WRONG_SHAPE),
        (12, KeyOutcome.REJECTED, c.LEGACY_WRONG_SHAPE),
        ([float("nan")], KeyOutcome.REJECTED, c.LEGACY_JSON_INVALID),
        ([{1: "int key"}], KeyOutcome.REJECTED, c.LEGACY_JSON_INVALID),
        ([{1, 2}], KeyOutcome.REJECTED, c.LEGACY_JSON_INVALID),
        (_Opaque(), KeyOutcome.REJECTED, c.LEGACY_JSON_INVALID),
        (b"[]", KeyOutcome.REJECTED, c.LEGACY_JSON_INVALID),
    ],
    ids=repr,
)
def test_non_string_values_are_flagged_and_read_when_they_are_json(
    value: Any, outcome: KeyOutcome, reason: str | None
) -> None:
    plan = parse_export({"epv-cases": value, "other": 5})
    assert plan.shape_errors == (
        f"the value of 'epv-cases' is {_type(value)}, not a string",
        "the value of 'other' is a number, not a string",
    )
    report = _key(plan, "epv-cases")
    assert report.received_as == "parsed"
    assert report.outcome is outcome
    assert (report.rejection.reason if report.rejection else None) == reason
    assert plan.ignored_keys == ("other",)
    text = json.dumps(plan.to_dict(), allow_nan=False)
    assert "0x" not in text  # no memory addresses: the plan is deterministic


def _type(value: Any) -> str:
    from epv_cases.legacy.jsonvalue import json_type

    return json_type(value)


def test_non_string_keys_are_flagged() -> None:
    plan = parse_export({1: "x", "epv-cases": "[]"})
    assert plan.shape_errors == ("a key is a number, not a string",)
    assert plan.counts["keys"] == {"rejected": 0, "ignored": 0}


def test_input_passed_already_parsed_is_not_mutated(case_factory: Factory) -> None:
    case = case_factory(epvInputs={"wacc": "12%", "cash": "1,000", "extra": 1})
    cases = [case]
    snapshot = json.dumps(cases)
    plan = parse_export({"epv-cases": cases})
    assert json.dumps(cases) == snapshot
    assert plan.cases[0].case.epv_inputs == {"cash": 1000}


def test_already_imported_accepts_junk() -> None:
    assert parse_export({}, already_imported=None).counts == parse_export({}).counts  # type: ignore[arg-type]
    assert parse_export({}, already_imported=[1, None, "x"]).counts == parse_export({}).counts


# --- epv-pro-state and its queue ----------------------------------------------------------------


def _run(run_id: str, case_id: Any, status: str = "complete", **result: Any) -> dict[str, Any]:
    body = {
        "agentType": "financial-analyst",
        "enterpriseValue": 100,
        "completedAt": "2024-03-02T10:13:20.000Z",
        **result,
    }
    return {"id": run_id, "caseId": case_id, "status": status, "result": body}


def test_queue_run_checks_in_order(export_of: Export, case_factory: Factory) -> None:
    state = {
        "activeTab": "cases",
        "selectedCaseId": "case-404",
        "analysisQueue": [
            _run("r0", "case-1"),
            {"id": "r1", "caseId": "case-404", "status": "running", "result": None},
            {"id": "r2", "caseId": "case-404", "status": "complete", "result": None},
            {"id": "r3", "caseId": "case-1", "status": "failed", "result": {"agentType": "x"}},
            _run("r4", "case-404"),
            _run("r5", "case-1", enterpriseValue="100"),
            {"id": "r6", "caseId": "case-1", "status": "complete", "result": "done"},
            None,
            _run("r8", None),
            {**_run("", "case-1"), "id": None},
            _run("r0", "case-1"),
        ],
    }
    plan = parse_export(export_of([case_factory()], state=state))
    got = [
        (
            r.where.index,
            r.where.legacy_id,
            r.outcome,
            (r.rejection or r.warnings[0]).reason
            if r.rejection
            else (r.warnings[0].code if r.warnings else None),
        )
        for r in plan.queue_runs
    ]
    assert got == [
        (0, "r0", Outcome.IMPORTED, None),
        (1, "r1", Outcome.SKIPPED, c.LEGACY_INCOMPLETE_RUN),
        (2, "r2", Outcome.SKIPPED, c.LEGACY_INCOMPLETE_RUN),
        (3, "r3", Outcome.SKIPPED, c.LEGACY_INCOMPLETE_RUN),
        (4, "r4", Outcome.REJECTED, c.LEGACY_ORPHAN_ANALYSIS),
        (5, "r5", Outcome.REJECTED, c.LEGACY_ANALYSIS_INVALID),
        (6, "r6", Outcome.REJECTED, c.LEGACY_NOT_AN_OBJECT),
        (7, None, Outcome.REJECTED, c.LEGACY_NOT_AN_OBJECT),
        (8, "r8", Outcome.REJECTED, c.LEGACY_ORPHAN_ANALYSIS),
        (9, None, Outcome.IMPORTED, None),
        (10, "r0", Outcome.IMPORTED, None),
    ]
    keys = [r.analysis.idempotency_key for r in plan.queue_runs if r.analysis]
    assert keys == ["case-1/run:r0", "case-1/analysisQueue[9]", "case-1/run:r0#10"]
    assert plan.state is not None
    assert plan.state.fields == {"activeTab": "cases", "selectedCaseId": "case-404"}
    assert all(w.field is None for w in plan.warnings if w.code == c.LEGACY_INCOMPLETE_RUN)


def test_run_attaches_to_the_first_imported_case_with_its_id(
    export_of: Export, case_factory: Factory
) -> None:
    cases = [
        case_factory(id="case-9", financialData=None),  # rejected: not a candidate
        case_factory(id="case-9", name="first"),
        case_factory(id="case-9", name="renamed copy"),
    ]
    state = {"analysisQueue": [_run("r", "case-9")]}
    (run,) = parse_export(export_of(cases, state=state)).queue_runs
    assert run.analysis is not None
    assert (run.analysis.case_index, run.analysis.case_idempotency_key) == (1, "case-9")


def test_run_of_a_rejected_case_is_an_orphan(export_of: Export, case_factory: Factory) -> None:
    state = {"analysisQueue": [_run("r", "case-9")]}
    plan = parse_export(export_of([case_factory(id="case-9", financialData=[])], state=state))
    assert plan.queue_runs[0].rejection.reason == c.LEGACY_ORPHAN_ANALYSIS


def test_run_without_the_cases_key_is_an_orphan(export_of: Export) -> None:
    plan = parse_export(export_of(state={"analysisQueue": [_run("r", "case-1")]}))
    assert plan.queue_runs[0].rejection.reason == c.LEGACY_ORPHAN_ANALYSIS


@pytest.mark.parametrize("queue", [{}, "[]", 3, True])
def test_queue_not_an_array_rejects_the_key_but_keeps_the_state(
    export_of: Export, queue: Any
) -> None:
    plan = parse_export(export_of(state={"activeTab": "x", "analysisQueue": queue}))
    report = _key(plan, "epv-pro-state")
    assert report.outcome is KeyOutcome.REJECTED
    assert report.rejection.reason == c.LEGACY_WRONG_SHAPE
    assert plan.state.fields == {"activeTab": "x"}
    assert plan.queue_runs == ()


@pytest.mark.parametrize("state", [{}, {"analysisQueue": None}, {"analysisQueue": []}])
def test_state_without_runs(export_of: Export, state: Any) -> None:
    plan = parse_export(export_of(state=state))
    assert _key(plan, "epv-pro-state").outcome is KeyOutcome.PARSED
    assert plan.queue_runs == ()


def test_reimport_skips_queue_runs_already_imported(
    export_of: Export, case_factory: Factory
) -> None:
    data = export_of(
        [case_factory()], state={"analysisQueue": [_run("r", "case-1"), _run("s", "case-1")]}
    )
    plan = parse_export(data, already_imported={"case-1", "case-1/run:r"})
    assert plan.cases[0].outcome is Outcome.SKIPPED
    assert [r.outcome for r in plan.queue_runs] == [Outcome.SKIPPED, Outcome.IMPORTED]
    assert plan.queue_runs[1].analysis.case_idempotency_key == "case-1"


# --- fuzz ---------------------------------------------------------------------------------------

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
_field = st.sampled_from(
    [
        "id",
        "name",
        "lastModified",
        "status",
        "tags",
        "financialData",
        "analyses",
        "epvInputs",
        "epvOutputs",
        "revenue",
        "total",
        "wacc",
        "agentType",
        "enterpriseValue",
        "x",
    ]
)
_case = st.dictionaries(_field, _json | st.dictionaries(_field, _json, max_size=5), max_size=8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cases=st.lists(_case | _json, max_size=5),
    state=_json | st.fixed_dictionaries({"analysisQueue": st.lists(_json | _case, max_size=4)}),
    prefs=_json,
    junk=st.dictionaries(st.text(max_size=5), st.text(max_size=12) | _json, max_size=3),
    truncate=st.integers(min_value=0, max_value=200),
)
def test_fuzzed_exports_never_raise(
    cases: Any, state: Any, prefs: Any, junk: dict[str, Any], truncate: int
) -> None:
    text = json.dumps(cases)
    data: dict[str, Any] = {
        **junk,
        "epv-cases": text,
        "epv-pro-state": json.dumps(state),
        "epv-preferences": json.dumps(prefs),
        "epv-pro-scenarios": text[:truncate],
    }
    first = parse_export(data)
    assert first == parse_export(data)
    dumped = json.dumps(first.to_dict(), allow_nan=False)
    assert json.loads(dumped) == json.loads(json.dumps(parse_export(data).to_dict()))
    counts = first.counts["cases"]
    total = counts["imported"] + counts["rejected"] + counts["skipped"]
    assert total == (len(cases) if _key(first, "epv-cases").outcome is KeyOutcome.PARSED else 0)
