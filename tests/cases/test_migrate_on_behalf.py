"""An ADMIN's legacy import for someone with no account yet, through events only:

cases stores the export as `awaiting_account` and emits migration.account_requested; auth
creates the account (no usable password) and emits auth.user.registered (via legacy_import);
cases adds the user to its directory and runs the waiting import in that same transaction.
"""

from __future__ import annotations

import json
import uuid

import pytest

from tests.cases.casekit import seed_user, sql
from tests.conftest import eventually
from tests.e2e.test_event_backbone import dead_lettered, publish_raw

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

def new_email(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.com"


def as_user(system, user_id: str) -> dict[str, str]:
    return system.internal_headers(user_id=user_id, role="ANALYST")


async def import_status(cases, headers, import_id: str) -> dict:
    response = await cases.get(f"/api/migrate/imports/{import_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def wait_status(cases, headers, import_id: str, status: str = "completed") -> dict:
    return await eventually(lambda: import_status(cases, headers, import_id),
                            until=lambda s: s["status"] == status, timeout_s=30)


async def auth_users(system, email: str) -> list[dict]:
    return await sql(system, "SELECT id, email, name, organization, role, active, invited_at, "
                             "password_hash FROM auth.users WHERE email = $1", email)


async def owned(system, owner_id: str) -> dict[str, int]:
    oid = uuid.UUID(owner_id)
    [row] = await sql(system, """
        SELECT (SELECT count(*) FROM cases.cases WHERE owner_id = $1) AS cases,
               (SELECT count(*) FROM cases.analyses WHERE owner_id = $1) AS analyses,
               (SELECT count(*) FROM cases.user_preferences WHERE user_id = $1) AS prefs""", oid)
    return row


async def account_requests(system, email: str) -> list[dict]:
    rows = await sql(system, "SELECT payload FROM cases.outbox WHERE event_type = "
                             "'migration.account_requested' AND payload->'data'->>'email' = $1",
                     email)
    return [json.loads(r["payload"]) for r in rows]


async def test_admin_imports_for_a_new_email_and_the_account_follows(cases, gateway, system,
                                                                      export):
    admin = await seed_user(system, role="ADMIN")
    email = new_email("Invited").lower()
    response = await cases.post("/api/migrate/data", headers=admin.headers, json={
        "localStorageData": export, "email": email.upper().replace("@EXAMPLE.COM", "@example.com"),
        "name": "Dr. Invited", "organization": "Harbor Aesthetics"})
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["status"] == "awaiting_account" and accepted["owner_id"] is None
    assert accepted["dry_run"] is False and accepted["case_ids"] == {}
    assert accepted["counts"]["cases"]["imported"] == 8  # a preview
    import_id = accepted["import_id"]
    assert response.headers["location"] == f"/api/migrate/imports/{import_id}"
    [requested] = await account_requests(system, email)
    assert requested["data"] == {"import_id": import_id, "email": email, "name": "Dr. Invited",
                                 "organization": "Harbor Aesthetics", "requested_by": admin.id}

    status = await wait_status(cases, admin.headers, import_id)

    # The account exists in auth: an ANALYST that cannot log in until a password is set.
    [account] = await auth_users(system, email)
    user_id = str(account["id"])
    assert account["role"] == "ANALYST" and account["active"] is True
    assert account["invited_at"] is not None
    assert (account["name"], account["organization"]) == ("Dr. Invited", "Harbor Aesthetics")
    assert account["password_hash"]
    registered = await sql(system, "SELECT payload FROM auth.outbox WHERE event_type = "
                                   "'auth.user.registered' AND payload->>'subject' = $1", user_id)
    [event] = [json.loads(r["payload"]) for r in registered]
    assert event["data"]["via"] == "legacy_import" and event["actorid"] == admin.id
    assert "password" not in json.dumps(event)
    login = await gateway.post("/api/auth/login", json={"email": email,
                                                        "password": "a guess of twelve+ chars"})
    assert login.status_code == 401, login.text

    # The directory has the user, and the import ran as that user with the full report.
    [directory] = await sql(system, "SELECT id, email, role FROM cases.users WHERE email = $1",
                            email)
    assert str(directory["id"]) == user_id
    assert status["owner_id"] == user_id and status["completed_at"] is not None
    report = status["report"]
    assert report["status"] == "completed" and report["import_id"] == import_id
    assert report["counts"]["cases"]["imported"] == 8
    assert report["counts"]["analyses"] == {"imported": 5, "rejected": 1, "skipped": 1}
    assert len(report["case_ids"]) == 8
    assert await owned(system, user_id) == {"cases": 8, "analyses": 5, "prefs": 1}
    listed = (await cases.get("/api/cases", params={"limit": 50},
                              headers=as_user(system, user_id))).json()["items"]
    assert {c["id"] for c in listed} == set(report["case_ids"].values())
    created = await sql(system, "SELECT count(*) AS n FROM cases.outbox WHERE event_type = "
                                "'case.created' AND payload->'data'->>'owner_id' = $1", user_id)
    assert created[0]["n"] == 8
    [done] = await sql(system, "SELECT payload FROM cases.outbox WHERE event_type = "
                               "'migration.completed' AND payload->>'subject' = $1", import_id)
    done = json.loads(done["payload"])
    assert done["data"]["owner_id"] == user_id and done["actorid"] == admin.id
    assert done["data"]["counts"] == report["counts"]

    # The owner sees the import too; anyone else does not.
    assert (await import_status(cases, as_user(system, user_id), import_id))["status"] == \
        "completed"
    stranger = await seed_user(system, role="ADMIN")
    assert (await cases.get(f"/api/migrate/imports/{import_id}",
                            headers=stranger.headers)).status_code == 404

    # Now the email is known: a second import runs at once and creates nothing new.
    again = await cases.post("/api/migrate/data", headers=admin.headers,
                             json={"localStorageData": export, "email": email})
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "completed" and again.json()["owner_id"] == user_id
    assert again.json()["counts"]["cases"]["imported"] == 0
    assert await owned(system, user_id) == {"cases": 8, "analyses": 5, "prefs": 1}
    assert len(await account_requests(system, email)) == 1
    assert len(await auth_users(system, email)) == 1


async def test_dry_run_for_an_unknown_email_writes_nothing_and_requests_no_account(
        cases, system, export):
    admin = await seed_user(system, role="ADMIN")
    email = new_email("dry")
    response = await cases.post("/api/migrate/data", params={"dry_run": "true"},
                                headers=admin.headers,
                                json={"localStorageData": export, "email": email})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["dry_run"] is True and body["import_id"] is None and body["owner_id"] is None
    assert body["status"] == "awaiting_account"
    assert body["counts"]["cases"]["imported"] == 8
    assert await sql(system, "SELECT id FROM cases.legacy_imports WHERE email = $1", email) == []
    assert await account_requests(system, email) == []
    assert await auth_users(system, email) == []


async def test_only_admin_imports_on_behalf_of_a_new_email(cases, system, export):
    email = new_email("denied")
    for role in ("ANALYST", "SENIOR_ANALYST", "MANAGER"):
        caller = await seed_user(system, role=role)
        response = await cases.post("/api/migrate/data", headers=caller.headers,
                                    json={"localStorageData": export, "email": email})
        assert response.status_code == 403, (role, response.text)
    admin = await seed_user(system, role="ADMIN")
    bad = await cases.post("/api/migrate/data", headers=admin.headers,
                           json={"localStorageData": export, "email": "not an email"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["rule"] == "invalid_email"
    assert await sql(system, "SELECT id FROM cases.legacy_imports WHERE email = $1", email) == []
    assert await account_requests(system, email) == []


async def test_a_redelivered_account_request_creates_no_second_account(cases, system, export):
    admin = await seed_user(system, role="ADMIN")
    email = new_email("redelivered")
    body = {"localStorageData": {"epv-preferences": export["epv-preferences"]}, "email": email}
    first = await cases.post("/api/migrate/data", headers=admin.headers, json=body)
    assert first.status_code == 202, first.text
    await wait_status(cases, admin.headers, first.json()["import_id"])
    [request] = await account_requests(system, email)
    [account] = await auth_users(system, email)

    raw = json.dumps(request).encode()
    for _ in range(2):
        await publish_raw(system, raw, routing_key=request["type"], message_id=request["id"])
    # A later request; once its account exists, both copies before it were handled.
    marker_email = new_email("marker")
    marker = await cases.post("/api/migrate/data", headers=admin.headers,
                              json={**body, "email": marker_email})
    assert marker.status_code == 202, marker.text
    await eventually(lambda: auth_users(system, marker_email), until=len, timeout_s=30)

    assert [a["id"] for a in await auth_users(system, email)] == [account["id"]]
    registered = await sql(system, "SELECT count(*) AS n FROM auth.outbox WHERE event_type = "
                                   "'auth.user.registered' AND payload->>'subject' = $1",
                           str(account["id"]))
    assert registered[0]["n"] == 1
    inbox = await sql(system, "SELECT event_type FROM auth.inbox WHERE event_id = $1",
                      uuid.UUID(request["id"]))
    assert inbox == [{"event_type": "migration.account_requested"}]


async def test_a_crash_mid_import_leaves_nothing_and_redelivery_completes_it(cases, system,
                                                                             export):
    """The import fails at its last write: the whole consumer transaction rolls back (no
    cases, not even the directory row), the event is dead-lettered; replayed, it completes."""
    admin = await seed_user(system, role="ADMIN")
    email = new_email("crash")
    tag = uuid.uuid4().hex[:8]
    conn = await system.connect()
    try:
        await conn.execute(f"""
            CREATE FUNCTION cases.fail_{tag}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'injected crash'; END $$;
            CREATE TRIGGER fail_{tag} BEFORE UPDATE ON cases.legacy_imports FOR EACH ROW
            WHEN (OLD.email = '{email}') EXECUTE FUNCTION cases.fail_{tag}();""")
        response = await cases.post("/api/migrate/data", headers=admin.headers,
                                    json={"localStorageData": export, "email": email})
        assert response.status_code == 202, response.text
        import_id = response.json()["import_id"]
        [account] = await eventually(lambda: auth_users(system, email), until=len, timeout_s=30)
        user_id = str(account["id"])
        bodies = await eventually(lambda: dead_lettered(system, "cases"), timeout_s=30,
                                  until=lambda b: any(user_id.encode() in x for x in b))
        assert (await import_status(cases, admin.headers, import_id))["status"] == \
            "awaiting_account"
        assert await owned(system, user_id) == {"cases": 0, "analyses": 0, "prefs": 0}
        assert await sql(system, "SELECT id FROM cases.users WHERE email = $1", email) == []
        assert await sql(system, "SELECT seq FROM cases.outbox WHERE event_type = "
                                 "'case.created' AND payload->'data'->>'owner_id' = $1",
                         user_id) == []
    finally:
        await conn.execute(f"DROP TRIGGER IF EXISTS fail_{tag} ON cases.legacy_imports; "
                           f"DROP FUNCTION IF EXISTS cases.fail_{tag}()")
        await conn.close()

    # Replay the dead-lettered event, as an operator would: the import completes, once.
    event = json.loads(next(b for b in bodies if user_id.encode() in b))
    for _ in range(2):
        await publish_raw(system, json.dumps(event).encode(), routing_key=event["type"],
                          message_id=event["id"])
    status = await wait_status(cases, admin.headers, import_id)
    assert status["owner_id"] == user_id
    assert await owned(system, user_id) == {"cases": 8, "analyses": 5, "prefs": 1}
