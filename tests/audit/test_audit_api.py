"""The audit API on the shared run: every event one entry, filters, pages, roles, keys."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from epv_common.auditchain import Checkpoint, load_public_keys, verify_checkpoint
from tests.audit.auditkit import case_event, manager, publish
from tests.conftest import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]


async def logs(system, **params) -> dict:
    async with httpx.AsyncClient(timeout=30) as client:
        r = await client.get(system.url("audit") + "/api/audit/logs", params=params,
                             headers=manager(system))
    assert r.status_code == 200, r.text
    return r.json()


async def test_a_created_case_is_one_entry_with_who_what_when(audit):
    system = audit
    owner = str(uuid.uuid4())
    async with httpx.AsyncClient(timeout=30) as client:
        r = await client.post(system.url("cases") + "/api/cases", json={"name": "Audit me"},
                              headers={**system.internal_headers(user_id=owner),
                                       "X-Request-ID": "req-audit-1"})
        assert r.status_code == 201, r.text
    case_id = r.json()["id"]
    page = await eventually(lambda: logs(system, entity_id=case_id), until=lambda p: p["items"])
    [entry] = page["items"]
    assert entry["action"] == "case.created" and entry["entity_type"] == "case"
    assert entry["actor_id"] == owner and entry["source"] == "cases"
    assert entry["request_id"] == "req-audit-1"
    assert entry["before"] is None and entry["after"]["name"] == "Audit me"
    assert entry["security"] is False
    assert entry["event"]["type"] == "case.created" and entry["event"]["subject"] == case_id
    async with httpx.AsyncClient(timeout=30) as client:
        one = await client.get(system.url("audit") + f"/api/audit/logs/{entry['seq']}",
                               headers=manager(system))
    assert one.status_code == 200 and one.json() == entry


async def test_changes_and_security_flags_are_mapped(audit):
    system = audit
    user_id = str(uuid.uuid4())
    updated = case_event(type="case.updated", data={
        "case_id": str(uuid.uuid4()), "owner_id": user_id, "version": 3, "previous_version": 2,
        "changed_fields": ["name"], "patch": [{"op": "replace", "path": "/name", "value": "B"}]})
    role = case_event(source="auth", type="auth.user.updated", subject=user_id, data={
        "user": {"id": user_id, "email": "x@example.com", "role": "ADMIN", "active": True},
        "before": {"role": "ANALYST"}, "after": {"role": "ADMIN"}, "security": True})
    failed = case_event(source="auth", type="auth.login.failed", subject=None,
                        data={"email": "x@example.com", "reason": "wrong_password"})
    await publish(system.backends.amqp_url, system.amqp_prefix, [updated, role, failed])
    subjects = {updated.subject: updated, role.subject: role}
    for subject, event in subjects.items():
        page = await eventually(lambda s=subject: logs(system, entity_id=s),
                                until=lambda p: p["items"])
        [entry] = page["items"]
        if event is updated:
            assert entry["before"] == {"version": 2}
            assert entry["after"]["version"] == 3 and entry["after"]["changed_fields"] == ["name"]
            assert entry["security"] is False
        else:
            assert entry["entity_type"] == "user"
            assert (entry["before"], entry["after"]) == ({"role": "ANALYST"}, {"role": "ADMIN"})
            assert entry["security"] is True
    page = await eventually(lambda: logs(system, type="auth.login.failed", security_only="true"),
                            until=lambda p: any(e["event_id"] == failed.id for e in p["items"]))
    assert all(e["security"] for e in page["items"])


async def test_filters_and_cursor_pages(audit):
    system = audit
    actor = str(uuid.uuid4())
    events = [case_event(actorid=actor) for _ in range(7)]
    await publish(system.backends.amqp_url, system.amqp_prefix, events)
    await eventually(lambda: logs(system, actor_id=actor), until=lambda p: len(p["items"]) == 7)
    seen, cursor = [], None
    while True:
        params = {"actor_id": actor, "limit": 3, **({"cursor": cursor} if cursor else {})}
        page = await logs(system, **params)
        seen += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert [e["event_id"] for e in seen] == [e.id for e in events]
    assert [e["seq"] for e in seen] == sorted(e["seq"] for e in seen)
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert (await logs(system, actor_id=actor, since=future))["items"] == []
    assert len((await logs(system, actor_id=actor, until=future))["items"]) == 7
    assert len((await logs(system, actor_id=actor, entity_type="case"))["items"]) == 7
    assert (await logs(system, actor_id=actor, entity_type="user"))["items"] == []


async def test_bad_queries_are_problems(audit):
    system = audit
    async with httpx.AsyncClient(timeout=30) as client:
        base = system.url("audit") + "/api/audit"
        r = await client.get(base + "/logs", params={"since": "2030-01-01T00:00:00Z",
                                                     "until": "2020-01-01T00:00:00Z"},
                             headers=manager(system))
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem")
        r = await client.get(base + "/logs", params={"cursor": "!!"}, headers=manager(system))
        assert r.status_code == 422
        r = await client.get(base + "/logs/999999999", headers=manager(system))
        assert r.status_code == 404 and r.json()["type"].endswith("audit-entry-not-found")
        r = await client.get(base + "/verify", params={"from": 5, "to": 2},
                             headers=manager(system))
        assert r.status_code == 422


@pytest.mark.parametrize("path", ["/logs", "/logs/1", "/verify", "/checkpoints",
                                  "/export?format=csv"])
async def test_analysts_may_not_read_the_audit_log(audit, path):
    system = audit
    async with httpx.AsyncClient(timeout=30) as client:
        base = system.url("audit") + "/api/audit"
        for role in ("ANALYST", "SENIOR_ANALYST"):
            r = await client.get(base + path, headers=manager(system, role))
            assert r.status_code == 403, (role, r.text)
        r = await client.get(base + path)
        assert r.status_code == 401
        r = await client.post(base + "/retention", json={"before": "2020-01-01T00:00:00Z"},
                              headers=manager(system, "ADMIN"))
        assert r.status_code == 403


async def test_checkpoints_are_signed_by_a_published_key(audit):
    system = audit
    await publish(system.backends.amqp_url, system.amqp_prefix, [case_event()])
    async with httpx.AsyncClient(timeout=30) as client:
        base = system.url("audit") + "/api/audit"

        async def checkpoints():
            r = await client.get(base + "/checkpoints", params={"limit": 200},
                                 headers=manager(system))
            return r.json()["items"]

        items = await eventually(checkpoints, until=len)
        keys = load_public_keys((await client.get(base + "/keys")).json())
        verify = (await client.get(base + "/verify", headers=manager(system))).json()
    for item in items:
        cp = Checkpoint.from_dict(item)
        assert verify_checkpoint(keys[cp.key_id], cp)
    assert verify["ok"], verify
    assert verify["checkpoints_verified"] >= 1 and verify["first_seq"] == 1


async def test_a_checkpoint_notice_is_published_and_audited(audit):
    system = audit
    page = await eventually(lambda: logs(system, type="audit.checkpoint.created"),
                            until=lambda p: p["items"])
    entry = page["items"][0]
    assert entry["source"] == "audit" and entry["entity_type"] == "checkpoint"
    assert entry["event"]["data"]["seq"] < entry["seq"]
