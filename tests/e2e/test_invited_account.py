"""An account created by an ADMIN's legacy import gets its first password, through the gateway
only, as clients would do it:

the ADMIN imports on behalf of a new email, the account appears (invited, no usable password),
the ADMIN issues a one-time password-setup token, the user redeems it with no access token and
logs in to find the imported cases. The token works once, not after expiry, only for ADMIN+ to
issue, and never shows up in a log or an event.
"""

from __future__ import annotations

import json
import secrets
import uuid

import pytest

from epv_common.testing.shared import shared_dir
from tests.conftest import eventually
from tests.e2e.accounts import account, login

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

EXPORT_PATH = shared_dir() / "fixtures" / "legacy" / "localstorage-export.json"
PASSWORD = "Invited-Analyst-Passphrase-3"
INVALID_TYPE = "https://epv-valuation.pro/problems/invalid-setup-token"


async def user_by_email(gateway, headers: dict, email: str) -> dict | None:
    response = await gateway.get("/api/users", params={"email": email}, headers=headers)
    assert response.status_code == 200, response.text
    return next((u for u in response.json()["items"] if u["email"] == email), None)


async def audit_entries(gateway, headers: dict, user_id: str) -> list[dict]:
    response = await gateway.get("/api/audit/logs", headers=headers,
                                 params={"entity_id": user_id, "limit": 100})
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_an_invited_account_sets_its_password_and_logs_in(gateway, system):
    admin = await account(gateway, "ADMIN", tag="inviter")
    analyst = await account(gateway, "ANALYST", tag="inviter")
    email = f"invited-{uuid.uuid4().hex[:10]}@example.com"
    imported = await gateway.post("/api/migrate/data", headers=admin.headers, json={
        "localStorageData": json.loads(EXPORT_PATH.read_text()), "email": email,
        "name": "Dr. Invited", "organization": "Harbor Aesthetics"})
    assert imported.status_code == 202, imported.text
    import_id = imported.json()["import_id"]

    # The account follows through events: an ANALYST, invited, that cannot log in yet.
    user = await eventually(lambda: user_by_email(gateway, admin.headers, email),
                            until=lambda u: u is not None, timeout_s=30)
    assert user["role"] == "ANALYST" and user["invited_at"] is not None
    assert (await login(gateway, email, PASSWORD)).status_code == 401

    # Only ADMIN+ issues a token; without an access token the gateway refuses at once.
    path = f"/api/users/{user['id']}/password-setup"
    assert (await gateway.post(path, headers=analyst.headers)).status_code == 403
    assert (await gateway.post(path)).status_code == 401
    issued = await gateway.post(path, headers=admin.headers)
    assert issued.status_code == 201, issued.text
    assert issued.headers["cache-control"] == "no-store"
    token = issued.json()["token"]

    # The user has no access token: the redeem route is public at the gateway.
    done = await gateway.post("/api/auth/password-setup",
                              json={"token": token, "password": PASSWORD})
    assert done.status_code == 204, done.text
    logged_in = await login(gateway, email, PASSWORD)
    assert logged_in.status_code == 200, logged_in.text
    assert logged_in.json()["user"]["invited_at"] is None
    headers = {"Authorization": f"Bearer {logged_in.json()['access_token']}"}

    # The imported cases are there, owned by the new user.
    status = await eventually(
        lambda: gateway.get(f"/api/migrate/imports/{import_id}", headers=headers),
        until=lambda r: r.status_code == 200 and r.json()["status"] == "completed",
        timeout_s=30)
    cases = await gateway.get("/api/cases", params={"limit": 50}, headers=headers)
    assert {c["id"] for c in cases.json()["items"]} == \
        set(status.json()["report"]["case_ids"].values())

    # A token works once.
    again = await gateway.post("/api/auth/password-setup",
                               json={"token": token, "password": "Second-Try-Passphrase-8"})
    assert again.status_code == 422 and again.json()["type"] == INVALID_TYPE
    assert (await login(gateway, email, PASSWORD)).status_code == 200

    # An expired token fails the same way (expired here by the database superuser).
    late = await gateway.post(path, headers=admin.headers)
    assert late.status_code == 201, late.text
    conn = await system.connect()
    try:
        await conn.execute("UPDATE auth.password_setup_tokens SET expires_at = now() - "
                           "interval '1 s' WHERE id = $1", uuid.UUID(late.json()["token_id"]))
    finally:
        await conn.close()
    expired = await gateway.post("/api/auth/password-setup",
                                 json={"token": late.json()["token"], "password": "Late-Pass-123456"})
    assert expired.status_code == 422 and expired.json()["type"] == INVALID_TYPE
    unknown = await gateway.post("/api/auth/password-setup",
                                 json={"token": secrets.token_urlsafe(32), "password": PASSWORD})
    assert unknown.json() == expired.json()

    # The audit trail has both steps as security events; no token or password is in any event
    # (as published, in the audit trail) or in any service's log.
    entries = await eventually(lambda: audit_entries(gateway, admin.headers, user["id"]),
                               until=lambda es: {"auth.user.password_set",
                                                 "auth.user.password_setup_issued"}
                               <= {e["action"] for e in es}, timeout_s=30)
    setup = [e for e in entries if e["action"].startswith("auth.user.password_")]
    assert setup and all(e["security"] for e in setup)
    secrets_used = (token, late.json()["token"], PASSWORD)
    recorded = json.dumps(entries)
    conn = await system.connect()
    try:
        outbox = json.dumps([r["p"] for r in await conn.fetch(
            "SELECT payload::text AS p FROM auth.outbox")])
    finally:
        await conn.close()
    logs = "".join(svc.log_path.read_text(errors="replace") for svc in system.services.values())
    for secret in secrets_used:
        assert secret not in recorded and secret not in outbox and secret not in logs
