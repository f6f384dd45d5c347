"""POST/GET /api/cases/{id}/analyses: engine runs stored whole and read back, 422 problems
that store nothing, recheck, compare, agents' analyses, pagination, permissions, the event."""

from __future__ import annotations

import copy
import json
import uuid

import pytest

from epv_cases.api.schemas import AnalysisRead
from epv_cases.figures import FIGURES
from tests.cases.casekit import VECTORS_PATH, create_case, etag, outbox_events, seed_user, share, sql

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

VECTORS = json.loads(VECTORS_PATH.read_text())
BY_ID = {v["id"]: v for v in VECTORS["cases"] + VECTORS["edge_cases"]}
STEADY = BY_ID["steady-consumer"]["input"]
TOP_LEVEL = {"id", "case_id", "case_version", "origin", "method_version", "status", "warnings",
             "figures", "inputs", "resolved_assumptions", "created_at"}


async def _steady_case(cases, owner, **overrides):
    data = copy.deepcopy(STEADY)
    data["assumptions"].update(overrides)
    return await create_case(cases, owner, financial_data=data)


def _analyses(case_id: str) -> str:
    return f"/api/cases/{case_id}/analyses"


def as_the_model_writes_it(body: dict) -> dict:
    """A full analysis is written straight from its row (not through the model): it must be
    exactly the model's JSON, no member more or less."""
    return AnalysisRead.model_validate(body).model_dump(mode="json")


async def test_engine_analysis_is_stored_whole_and_read_back(cases, system):
    owner = await seed_user(system)
    case = await _steady_case(cases, owner)
    response = await cases.post(_analyses(case["id"]), json={}, headers=owner.headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert TOP_LEVEL <= set(body)
    assert body["origin"]["kind"] == "engine" and body["origin"]["name"] == "epv-engine"
    assert body["method_version"] == "epv-1.0" and body["engine_version"]
    assert body["case_id"] == case["id"] and body["case_version"] == 1
    assert body["status"] == "ok" and body["warnings"] == []
    assert set(body["figures"]) == set(FIGURES)
    assert body["figures"]["sensitivity"]["epv_per_share"][2][2] == pytest.approx(
        body["figures"]["epv_per_share"])
    assert body["inputs"] == STEADY
    assert body["resolved_assumptions"]["wacc"] == 0.09
    assert response.headers["location"] == f"{_analyses(case['id'])}/{body['id']}"
    assert body == as_the_model_writes_it(body)

    got = await cases.get(f"{_analyses(case['id'])}/{body['id']}", headers=owner.headers)
    assert got.status_code == 200 and got.json() == body

    listed = await cases.get(_analyses(case["id"]), headers=owner.headers)
    assert listed.status_code == 200
    [item] = listed.json()["items"]
    assert item["id"] == body["id"] and "inputs" not in item
    assert item["headline"]["epv_operations"] == body["figures"]["epv_operations"]

    [event] = await outbox_events(system, body["id"], "analysis.completed")
    data = event["payload"]["data"]
    assert data["case_id"] == case["id"] and data["status"] == "ok"
    assert data["origin"] == {"kind": "engine", "name": "epv-engine",
                              "version": body["engine_version"]}
    for name in ("epv_operations", "epv_equity", "epv_per_share", "margin_of_safety"):
        assert data[name] == body["figures"][name]


async def test_share_price_gives_margin_of_safety_and_is_stored_in_the_inputs(cases, system):
    owner = await seed_user(system)
    case = await _steady_case(cases, owner)
    response = await cases.post(_analyses(case["id"]), json={"share_price": 20.0},
                                headers=owner.headers)
    assert response.status_code == 201, response.text
    figures = response.json()["figures"]
    per_share = figures["epv_per_share"]
    assert figures["current_share_price"] == 20.0
    assert figures["margin_of_safety"] == pytest.approx((per_share - 20.0) / per_share)
    assert response.json()["inputs"]["assumptions"]["current_share_price"] == 20.0
    recheck = await cases.get(f"{_analyses(case['id'])}/{response.json()['id']}/recheck",
                              headers=owner.headers)
    assert recheck.json()["reproduced"] is True, recheck.text

    bad = await cases.post(_analyses(case["id"]), json={"share_price": -1},
                           headers=owner.headers)
    assert bad.status_code == 422 and bad.json()["field"] == "assumptions.current_share_price"


async def test_invalid_data_is_a_422_problem_and_stores_nothing(cases, system):
    owner = await seed_user(system)
    short = await create_case(cases, owner,
                              financial_data=BY_ID["too-short-history"]["input"])
    response = await cases.post(_analyses(short["id"]), json={}, headers=owner.headers)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"].endswith("/insufficient-history")
    assert problem["code"] == "INSUFFICIENT_HISTORY" and problem["field"] == "fiscal_years"
    assert problem["warnings"] == []
    assert problem["errors"][0]["field"] == "fiscal_years"
    assert problem["errors"][0]["rule"] == "INSUFFICIENT_HISTORY"

    empty = await create_case(cases, owner)
    response = await cases.post(_analyses(empty["id"]), json={}, headers=owner.headers)
    assert response.status_code == 422
    assert (response.json()["code"], response.json()["field"]) == ("MISSING_FIELD",
                                                                   "fiscal_years")
    for case in (short, empty):
        rows = await sql(system, "SELECT count(*) AS n FROM cases.analyses WHERE case_id = $1",
                         uuid.UUID(case["id"]))
        assert rows[0]["n"] == 0
        events = await sql(system, "SELECT count(*) AS n FROM cases.outbox WHERE "
                                   "event_type = 'analysis.completed' AND "
                                   "payload->'data'->>'case_id' = $1", case["id"])
        assert events[0]["n"] == 0


async def test_an_old_case_version_and_compare(cases, system):
    owner = await seed_user(system)
    case = await _steady_case(cases, owner)
    changed = copy.deepcopy(STEADY)
    changed["assumptions"]["wacc"] = 0.10
    put = await cases.put(f"/api/cases/{case['id']}", headers={**owner.headers, **etag(1)},
                          json={"name": case["name"], "financial_data": changed})
    assert put.status_code == 200, put.text

    old = await cases.post(_analyses(case["id"]), json={"case_version": 1}, headers=owner.headers)
    new = await cases.post(_analyses(case["id"]), json={}, headers=owner.headers)
    assert old.status_code == new.status_code == 201
    assert old.json()["case_version"] == 1 and new.json()["case_version"] == 2
    assert old.json()["figures"]["wacc"] == 0.09 and new.json()["figures"]["wacc"] == 0.10
    missing = await cases.post(_analyses(case["id"]), json={"case_version": 9},
                               headers=owner.headers)
    assert missing.status_code == 404

    a, b = old.json()["id"], new.json()["id"]
    response = await cases.get(f"{_analyses(case['id'])}/compare", params={"a": a, "b": b},
                               headers=owner.headers)
    assert response.status_code == 200, response.text
    comparison = response.json()
    assert comparison["a"]["id"] == a and comparison["b"]["id"] == b
    assert comparison["inputs"] == [{"path": "assumptions.wacc", "a": 0.09, "b": 0.10,
                                     "change": "changed"}]
    changed_figures = {d["path"] for d in comparison["figures"]}
    assert {"wacc", "epv_operations", "epv_equity", "epv_per_share",
            "sensitivity.wacc_values"} <= changed_figures
    assert "revenue_latest" not in changed_figures

    same = await cases.get(f"{_analyses(case['id'])}/compare", params={"a": a, "b": a},
                           headers=owner.headers)
    assert same.json()["inputs"] == [] and same.json()["figures"] == []

    other = await _steady_case(cases, owner)
    foreign = await cases.post(_analyses(other["id"]), json={}, headers=owner.headers)
    response = await cases.get(f"{_analyses(case['id'])}/compare",
                               params={"a": a, "b": foreign.json()["id"]}, headers=owner.headers)
    assert response.status_code == 404


async def test_recheck_reports_a_figure_altered_in_the_database(cases, system):
    owner = await seed_user(system)
    case = await _steady_case(cases, owner)
    created = (await cases.post(_analyses(case["id"]), json={}, headers=owner.headers)).json()
    url = f"{_analyses(case['id'])}/{created['id']}/recheck"

    fresh = await cases.get(url, headers=owner.headers)
    assert fresh.status_code == 200, fresh.text
    assert fresh.json()["reproduced"] is True and fresh.json()["differences"] == []
    assert fresh.json()["now"]["engine_version"] == created["engine_version"]

    async def tamper(name: str, delta: float) -> None:
        await sql(system, "UPDATE cases.analyses SET figures = jsonb_set(figures, $2::text[], "
                          "to_jsonb((figures->>$3)::float8 + $4)) WHERE id = $1",
                  uuid.UUID(created["id"]), [name], name, delta)

    await tamper("epv_operations", 1e-7)  # below the 4-decimal tolerance
    slight = (await cases.get(url, headers=owner.headers)).json()
    assert slight["reproduced"] is True
    [diff] = slight["differences"]
    assert diff["figure"] == "epv_operations" and diff["within_tolerance"] is True

    await tamper("epv_equity", 1.0)
    altered = (await cases.get(url, headers=owner.headers)).json()
    assert altered["reproduced"] is False
    diffs = {d["figure"]: d for d in altered["differences"]}
    assert diffs["epv_equity"]["within_tolerance"] is False
    assert diffs["epv_equity"]["stored"] == pytest.approx(diffs["epv_equity"]["now"] + 1.0)


async def test_agent_analysis_is_stored_with_its_origin_and_never_recomputed(cases, system):
    owner = await seed_user(system)
    case = await _steady_case(cases, owner)
    body = {"origin": {"kind": "agent", "name": "financial-analyst-b", "version": "2.1"},
            "figures": {"epv_operations": 1400.5, "wacc": 0.085, "franchise_signal": "franchise",
                        "x_recommendation": "BUY", "x_confidence": 0.7},
            "warnings": [{"code": "AGENT_GUESSED_TAX", "field": None}],
            "method_version": "agent-epv-2", "inputs": {"source": "10-K"}}
    response = await cases.post(_analyses(case["id"]), json=body, headers=owner.headers)
    assert response.status_code == 201, response.text
    stored = response.json()
    assert stored == as_the_model_writes_it(stored)
    assert stored["origin"] == body["origin"]
    assert stored["figures"] == body["figures"] and stored["engine_version"] is None
    assert stored["case_version"] == 1 and stored["method_version"] == "agent-epv-2"
    [event] = await outbox_events(system, stored["id"], "analysis.completed")
    assert event["payload"]["data"]["origin"]["kind"] == "agent"
    assert event["payload"]["data"]["epv_operations"] == 1400.5

    recheck = await cases.get(f"{_analyses(case['id'])}/{stored['id']}/recheck",
                              headers=owner.headers)
    assert recheck.status_code == 409
    assert recheck.json()["type"].endswith("/analysis-not-recomputable")

    engine = (await cases.post(_analyses(case["id"]), json={}, headers=owner.headers)).json()
    compared = (await cases.get(f"{_analyses(case['id'])}/compare",
                                params={"a": engine["id"], "b": stored["id"]},
                                headers=owner.headers)).json()
    assert {"path": "x_recommendation", "a": None, "b": "BUY", "change": "added"} in \
        compared["figures"]


@pytest.mark.parametrize(("figures", "field", "rule"), [
    ({"epv_magic": 1.0}, "figures.epv_magic", "figure_unknown"),
    ({"epv_operations": "a lot"}, "figures.epv_operations", "figure_type"),
    ({"window_years": 2023}, "figures.window_years", "figure_type"),
    ({"sensitivity": {"wacc_values": [0.1]}}, "figures.sensitivity", "figure_type"),
    ({}, "figures", "figures_empty"),
])
async def test_agent_figures_are_checked(cases, system, figures, field, rule):
    owner = await seed_user(system)
    case = await _steady_case(cases, owner)
    response = await cases.post(_analyses(case["id"]), headers=owner.headers, json={
        "origin": {"kind": "agent", "name": "a", "version": "1"}, "figures": figures})
    assert response.status_code == 422, response.text
    assert {(e["field"], e["rule"]) for e in response.json()["errors"]} == {(field, rule)}


async def test_agent_bodies_that_break_the_contract(cases, system):
    owner = await seed_user(system)
    case = await _steady_case(cases, owner)
    agent = {"kind": "agent", "name": "a", "version": "1"}
    nan = await cases.post(
        _analyses(case["id"]), headers={**owner.headers, "content-type": "application/json"},
        content=b'{"origin": {"kind": "agent", "name": "a", "version": "1"}, '
                b'"figures": {"epv_operations": NaN}}')
    assert nan.status_code == 422
    assert nan.json()["errors"][0]["rule"] == "number_not_finite"
    for body in ({"origin": agent, "figures": {"wacc": 0.1}, "share_price": 3},
                 {"figures": {"wacc": 0.1}},
                 {"origin": {"kind": "legacy", "name": "x"}},
                 {"origin": {"kind": "agent", "name": "a"}, "figures": {"wacc": 0.1}},
                 {"origin": agent}):
        response = await cases.post(_analyses(case["id"]), json=body, headers=owner.headers)
        assert response.status_code == 422, (body, response.text)
    rows = await sql(system, "SELECT count(*) AS n FROM cases.analyses WHERE case_id = $1",
                     uuid.UUID(case["id"]))
    assert rows[0]["n"] == 0


async def test_list_is_paginated_newest_first(cases, system):
    owner = await seed_user(system)
    case = await _steady_case(cases, owner)
    ids = [(await cases.post(_analyses(case["id"]), json={}, headers=owner.headers)).json()["id"]
           for _ in range(3)]
    first = (await cases.get(_analyses(case["id"]), params={"limit": 2},
                             headers=owner.headers)).json()
    assert [i["id"] for i in first["items"]] == ids[::-1][:2] and first["next_cursor"]
    second = (await cases.get(_analyses(case["id"]),
                              params={"limit": 2, "cursor": first["next_cursor"]},
                              headers=owner.headers)).json()
    assert [i["id"] for i in second["items"]] == ids[:1] and second["next_cursor"] is None
    bad = await cases.get(_analyses(case["id"]), params={"cursor": "bm9wZQ"},
                          headers=owner.headers)
    assert bad.status_code == 422


async def test_permissions_read_cannot_analyse_and_strangers_see_nothing(cases, system):
    owner = await seed_user(system, role="SENIOR_ANALYST")
    reader, editor, stranger = (await seed_user(system), await seed_user(system),
                                await seed_user(system))
    case = await _steady_case(cases, owner)
    assert (await share(cases, case["id"], owner, reader, "READ")).status_code == 201
    assert (await share(cases, case["id"], owner, editor, "EDIT")).status_code == 201
    created = (await cases.post(_analyses(case["id"]), json={}, headers=owner.headers)).json()
    one = f"{_analyses(case['id'])}/{created['id']}"

    denied = await cases.post(_analyses(case["id"]), json={}, headers=reader.headers)
    assert denied.status_code == 403
    for url in (_analyses(case["id"]), one, f"{one}/recheck"):
        assert (await cases.get(url, headers=reader.headers)).status_code == 200
        assert (await cases.get(url, headers=stranger.headers)).status_code == 404
    assert (await cases.post(_analyses(case["id"]), json={},
                             headers=stranger.headers)).status_code == 404
    by_editor = await cases.post(_analyses(case["id"]), json={}, headers=editor.headers)
    assert by_editor.status_code == 201 and by_editor.json()["created_by"] == editor.id
    assert (await cases.get(f"{_analyses(case['id'])}/{uuid.uuid4()}",
                            headers=owner.headers)).status_code == 404
