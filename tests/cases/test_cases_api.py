"""Cases CRUD: create, get, list with filters and cursors, PUT, PATCH (merge patch), soft delete
and restore, validation problems."""

from __future__ import annotations

import asyncio
import uuid

import orjson
import pytest

from tests.cases.casekit import create_case, etag, outbox_events, seed_user, sql

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

EPV_INPUT = {
    "company": {"name": "Acme", "currency": "USD"},
    "fiscal_years": [],
    "assumptions": {},
}


async def test_create_get_and_etag(cases, system):
    owner = await seed_user(system)
    created = await create_case(cases, owner, name="Harbor", ticker="hrb", industry="Spa",
                                tags=["a", "b"], notes="n")
    assert created["version"] == 1 and created["owner_id"] == owner.id
    assert created["status"] == "DRAFT" and created["access"] == "OWNER"
    got = await cases.get(f"/api/cases/{created['id']}", headers=owner.headers)
    assert got.status_code == 200 and got.headers["etag"] == '"1"'
    assert got.json()["tags"] == ["a", "b"]
    [event] = await outbox_events(system, created["id"], "case.created")
    assert event["payload"]["data"]["version"] == 1


async def test_fast_reads_answer_exactly_what_their_models_describe(cases, system):
    """GET one and the list skip FastAPI's response validation (epv_common.jsonresponse): their
    JSON must still be what CaseRead and CasePage would produce, field for field."""
    from epv_cases.api.schemas import CasePage, CaseRead

    owner = await seed_user(system)
    created = await create_case(cases, owner, name="Shape", ticker="shp", tags=["x"])
    got = await cases.get(f"/api/cases/{created['id']}", headers=owner.headers)
    body = got.json()
    assert set(body) == set(CaseRead.model_fields)
    assert CaseRead.model_validate(body).model_dump(mode="json") == body
    assert body["created_at"].endswith("Z") and body == {**created, "access": "OWNER"}
    listed = (await cases.get("/api/cases?limit=5", headers=owner.headers)).json()
    assert set(listed) == set(CasePage.model_fields)
    [entry] = listed["items"]
    assert CasePage.model_validate(listed).model_dump(mode="json") == listed
    assert entry == {k: body[k] for k in entry} and set(entry) == {
        "id", "owner_id", "name", "status", "industry", "ticker", "tags", "version",
        "created_at", "updated_at", "legacy_id", "deleted_at", "access"}


async def test_validation_problem_lists_every_field(cases, system):
    owner = await seed_user(system)
    response = await cases.post("/api/cases", headers=owner.headers, json={
        "name": "", "status": "NOPE", "ticker": "not a ticker!", "surprise": 1})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"name", "status", "ticker", "surprise"} <= fields


async def test_financial_data_checked_by_the_engine(cases, system):
    owner = await seed_user(system)
    response = await cases.post("/api/cases", headers=owner.headers, json={
        "name": "Bad data", "financial_data": {"company": {"name": "x"}, "fiscal_years": "x"}})
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["type"].endswith("/financial-data-invalid")
    assert any(e["field"] == "financial_data.fiscal_years" and e["rule"] for e in body["errors"])
    ok = await cases.post("/api/cases", headers=owner.headers,
                          json={"name": "Draft", "financial_data": EPV_INPUT})
    assert ok.status_code == 201, ok.text


async def test_put_replaces_and_needs_if_match(cases, system):
    owner = await seed_user(system)
    case = await create_case(cases, owner, notes="keep?", tags=["x"])
    url = f"/api/cases/{case['id']}"
    missing = await cases.put(url, headers=owner.headers, json={"name": "New"})
    assert missing.status_code == 428
    stale = await cases.put(url, headers={**owner.headers, **etag(7)}, json={"name": "New"})
    assert stale.status_code == 412 and stale.json()["type"].endswith("/case-version-mismatch")
    ok = await cases.put(url, headers={**owner.headers, **etag(1)},
                         json={"name": "New", "status": "REVIEW"})
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert body["version"] == 2 and ok.headers["etag"] == '"2"'
    assert body["notes"] is None and body["tags"] == [] and body["status"] == "REVIEW"
    [event] = await outbox_events(system, case["id"], "case.updated")
    data = event["payload"]["data"]
    assert data["version"] == 2 and set(data["changed_fields"]) == {"name", "notes", "status",
                                                                    "tags"}


@pytest.mark.parametrize("content_type", ["application/merge-patch+json", "application/json"])
async def test_patch_is_a_json_merge_patch(cases, system, content_type):
    owner = await seed_user(system)
    case = await create_case(cases, owner, notes="n", tags=["x"],
                             financial_data={**EPV_INPUT, "assumptions": {"wacc": 0.1}})
    response = await cases.patch(
        f"/api/cases/{case['id']}", content=orjson.dumps(
            {"notes": None, "financial_data": {"assumptions": {"wacc": 0.12}}}),
        headers={**owner.headers, **etag(1), "content-type": content_type})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["notes"] is None and body["tags"] == ["x"] and body["version"] == 2
    assert body["financial_data"]["assumptions"] == {"wacc": 0.12}
    assert body["financial_data"]["company"] == EPV_INPUT["company"]
    bad = await cases.patch(f"/api/cases/{case['id']}", content=b'{"name": null, "version": 9}',
                            headers={**owner.headers, **etag(2),
                                     "content-type": content_type})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"name", "version"}


async def test_list_filters_sort_and_cursor(cases, system):
    owner = await seed_user(system)
    other = await seed_user(system)
    tag = uuid.uuid4().hex[:6]
    made = []
    for i in range(5):
        made.append(await create_case(cases, owner, name=f"Alpha {tag} {i}",
                                      ticker="ZZZ" if i % 2 else None))
    await create_case(cases, other, name=f"Alpha {tag} other")
    # Touch the first so it sorts first (sort is by last update, newest first).
    await cases.patch(f"/api/cases/{made[0]['id']}", json={"notes": "bump"},
                      headers={**owner.headers, **etag(1)})
    seen, cursor = [], None
    while True:
        params = {"limit": 2, "q": tag, **({"cursor": cursor} if cursor else {})}
        page = (await cases.get("/api/cases", params=params, headers=owner.headers)).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen[0] == made[0]["id"]
    assert sorted(seen) == sorted(c["id"] for c in made)
    assert seen[1:] == [c["id"] for c in reversed(made[1:])]
    zz = (await cases.get("/api/cases", params={"q": tag, "ticker": "zzz"},
                          headers=owner.headers)).json()["items"]
    assert {c["id"] for c in zz} == {made[1]["id"], made[3]["id"]}
    owned = (await cases.get("/api/cases", params={"q": tag, "scope": "shared"},
                             headers=owner.headers)).json()["items"]
    assert owned == []
    updated = made[0]["updated_at"]
    recent = (await cases.get("/api/cases", params={"q": tag, "updated_since": updated},
                              headers=owner.headers)).json()["items"]
    assert made[0]["id"] in {c["id"] for c in recent}
    bad = await cases.get("/api/cases", params={"cursor": "garbage!"}, headers=owner.headers)
    assert bad.status_code == 422


async def test_soft_delete_and_restore(cases, system):
    owner = await seed_user(system)
    case = await create_case(cases, owner)
    url = f"/api/cases/{case['id']}"
    assert (await cases.delete(url, headers={**owner.headers, **etag(5)})).status_code == 412
    assert (await cases.delete(url, headers=owner.headers)).status_code == 204
    assert (await cases.get(url, headers=owner.headers)).status_code == 404
    deleted = (await cases.get("/api/cases", params={"scope": "deleted"},
                               headers=owner.headers)).json()["items"]
    assert case["id"] in {c["id"] for c in deleted}
    restored = await cases.post(url + "/restore", headers=owner.headers)
    assert restored.status_code == 200 and restored.json()["deleted_at"] is None
    assert (await cases.get(url, headers=owner.headers)).status_code == 200
    assert (await cases.post(url + "/restore", headers=owner.headers)).status_code == 409
    # Past the 30-day window a restore is gone for good.
    assert (await cases.delete(url, headers=owner.headers)).status_code == 204
    await sql(system, "UPDATE cases.cases SET deleted_at = now() - interval '31 days' "
                      "WHERE id = $1", uuid.UUID(case["id"]))
    assert (await cases.post(url + "/restore", headers=owner.headers)).status_code == 410
    types = [e["event_type"] for e in await outbox_events(system, case["id"])]
    assert types.count("case.deleted") == 2 and types.count("case.restored") == 1


async def test_two_concurrent_puts_one_wins(cases, system):
    owner = await seed_user(system)
    case = await create_case(cases, owner)
    url = f"/api/cases/{case['id']}"
    for round_ in range(3):
        version = (await cases.get(url, headers=owner.headers)).json()["version"]
        responses = await asyncio.gather(*[
            cases.put(url, headers={**owner.headers, **etag(version)},
                      json={"name": f"writer {w} round {round_}"}) for w in range(2)])
        assert sorted(r.status_code for r in responses) == [200, 412], [r.text for r in responses]
        winner = next(r for r in responses if r.status_code == 200).json()
        now = (await cases.get(url, headers=owner.headers)).json()
        assert now["name"] == winner["name"] and now["version"] == version + 1
    versions = await sql(system, "SELECT count(*) AS n FROM cases.case_versions "
                                 "WHERE case_id = $1", uuid.UUID(case["id"]))
    assert versions[0]["n"] == 4


async def test_unauthenticated_is_401(cases):
    assert (await cases.get("/api/cases")).status_code == 401
