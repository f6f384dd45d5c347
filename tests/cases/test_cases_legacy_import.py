"""POST /api/migrate/data with the fixture export: the report names every defective item with
the README's reason, dry_run writes nothing, a second import creates nothing, nothing is lost."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.cases.casekit import seed_user, sql

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

async def _counts(system, owner_id: str) -> dict[str, int]:
    oid = uuid.UUID(owner_id)
    rows = await sql(system, """
        SELECT (SELECT count(*) FROM cases.cases WHERE owner_id = $1) AS cases,
               (SELECT count(*) FROM cases.analyses WHERE owner_id = $1) AS analyses,
               (SELECT count(*) FROM cases.legacy_imports WHERE owner_id = $1) AS imports,
               (SELECT count(*) FROM cases.user_preferences WHERE user_id = $1) AS prefs""", oid)
    return rows[0]


async def test_fixture_import_report_idempotency_and_record(cases, system, export):
    owner = await seed_user(system)
    dry = await cases.post("/api/migrate/data", params={"dry_run": "true"},
                           json={"localStorageData": export}, headers=owner.headers)
    assert dry.status_code == 200, dry.text
    assert dry.json()["dry_run"] is True and dry.json()["import_id"] is None
    assert await _counts(system, owner.id) == {"cases": 0, "analyses": 0, "imports": 0,
                                               "prefs": 0}

    response = await cases.post("/api/migrate/data", json={"localStorageData": export},
                                headers=owner.headers)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["counts"]["cases"]["imported"] == 8
    assert report["counts"]["cases"]["rejected"] == 1
    assert report["counts"]["analyses"] == {"imported": 5, "rejected": 1, "skipped": 1}
    assert report["counts"]["keys"] == {"rejected": 1, "ignored": 2}
    assert sorted(report["ignored_keys"]) == ["ajs_anonymous_id", "medispa-epv-pro-theme"]
    assert {k: v for k, v in dry.json().items() if k not in ("dry_run", "import_id")} == {
        k: v for k, v in report.items()
        if k not in ("dry_run", "import_id", "case_ids")} | {"case_ids": {}}
    rejected = {(r["key"], r.get("index"), r["reason"]) for r in report["rejected"]}
    assert ("epv-cases", 5, "LEGACY_NOT_AN_OBJECT") in rejected
    assert ("epv-pro-state", 1, "LEGACY_ORPHAN_ANALYSIS") in rejected
    assert ("epv-pro-scenarios", None, "LEGACY_JSON_INVALID") in rejected
    warnings = {(w["index"], w["code"], w["field"]) for w in report["warnings"]
                if w["key"] == "epv-cases"}
    assert (2, "LEGACY_NAME_MISSING", None) in warnings
    assert (4, "LEGACY_DUPLICATE_ID", None) in warnings
    assert (8, "LEGACY_NUMBER_UNPARSEABLE", "epvInputs.wacc") in warnings
    assert {f for i, c, f in warnings if c == "LEGACY_NUMBER_COERCED" and i == 3} == {
        "financialData.revenue.total[3]", "financialData.opex.rent[2]"}
    assert {f for i, c, f in warnings if c == "LEGACY_UNKNOWN_FIELD" and i == 6} == {
        "pinned", "colorLabel", "epvInputs.monteCarloRuns"}
    assert any(w["code"] == "LEGACY_INCOMPLETE_RUN" for w in report["warnings"])
    assert await _counts(system, owner.id) == {"cases": 8, "analyses": 5, "imports": 1,
                                               "prefs": 1}

    # The imported cases are ordinary cases of the owner, with their legacy ids.
    listed = (await cases.get("/api/cases", params={"limit": 50},
                              headers=owner.headers)).json()["items"]
    assert len(listed) == 8
    names = {c["name"] for c in listed}
    assert "Harbor Aesthetics (what if: third location)" in names
    birchwood = next(c for c in listed if c["legacy_id"] == "case-1701234567890")
    full = (await cases.get(f"/api/cases/{birchwood['id']}", headers=owner.headers)).json()
    assert full["financial_data"]["revenue"]["total"][3] == 1823000
    origins = await sql(system, "SELECT origin FROM cases.analyses WHERE owner_id = $1",
                        uuid.UUID(owner.id))
    assert {"legacy-epv-pro", "legacy-agent:financial-analyst-b"} <= {r["origin"]
                                                                      for r in origins}
    # Nothing lost: the body exactly as received, and the rejected items' raw text.
    [stored] = await sql(system, "SELECT raw_body, record FROM cases.legacy_imports "
                                 "WHERE owner_id = $1", uuid.UUID(owner.id))
    assert json.loads(stored["raw_body"])["localStorageData"] == export
    record = json.loads(stored["record"])
    scenarios = next(k for k in record["keys"] if k["key"] == "epv-pro-scenarios")
    assert scenarios["raw_text"] == export["epv-pro-scenarios"]
    created_events = await sql(system, "SELECT count(*) AS n FROM cases.outbox WHERE "
                                       "event_type = 'case.created' AND "
                                       "payload->'data'->>'owner_id' = $1", owner.id)
    assert created_events[0]["n"] == 8
    done = await sql(system, "SELECT payload FROM cases.outbox WHERE event_type = "
                             "'migration.completed' AND payload->>'subject' = $1",
                     report["import_id"])
    assert json.loads(done[0]["payload"])["data"]["counts"] == report["counts"]

    again = await cases.post("/api/migrate/data", json={"localStorageData": export},
                             headers=owner.headers)
    assert again.status_code == 200
    second = again.json()
    assert second["counts"]["cases"]["imported"] == 0
    assert second["counts"]["analyses"]["imported"] == 0
    assert sum(w["code"] == "LEGACY_ALREADY_IMPORTED" for w in second["warnings"]) >= 8
    assert (await _counts(system, owner.id))["cases"] == 8
    assert (await _counts(system, owner.id))["analyses"] == 5


async def test_not_a_localstorage_dump_is_422(cases, system):
    owner = await seed_user(system)
    for body in [{}, {"localStorageData": [1]}, {"localStorageData": {"epv-cases": []}}]:
        response = await cases.post("/api/migrate/data", json=body, headers=owner.headers)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["errors"], response.text
    assert (await _counts(system, owner.id))["imports"] == 0


async def test_import_on_behalf_needs_admin(cases, system, export):
    analyst = await seed_user(system)
    other = await seed_user(system)
    body = {"localStorageData": {"epv-preferences": export["epv-preferences"]},
            "email": other.email}
    assert (await cases.post("/api/migrate/data", json=body,
                             headers=analyst.headers)).status_code == 403
    admin = await seed_user(system, role="ADMIN")
    response = await cases.post("/api/migrate/data", json=body, headers=admin.headers)
    assert response.status_code == 200, response.text
    assert response.json()["owner_id"] == other.id
