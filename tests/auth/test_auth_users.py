"""User lifecycle rules: who may change whom, the last SUPER_ADMIN, sessions ended."""

from __future__ import annotations

import pytest

from epv_common.revocation import revoked_session_key
from epv_common.settings import RedisSettings
from tests.auth.conftest import (
    identity,
    outbox_events,
    registered_and_logged_in,
    unique_email,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _patch(auth, system, actor, target_id, **body):
    return await auth.patch(f"/api/users/{target_id}", headers=identity(system, actor), json=body)


async def test_user_patch_rules(auth, system, redis, db, root):
    admin = await registered_and_logged_in(auth)
    analyst = await registered_and_logged_in(auth)

    # Only a SUPER_ADMIN grants ADMIN.
    assert (await _patch(auth, system, analyst, admin.id, role="ADMIN")).status_code == 403
    granted = await _patch(auth, system, root, admin.id, role="ADMIN")
    assert granted.status_code == 200 and granted.json()["role"] == "ADMIN"
    admin.user["role"] = "ADMIN"

    # An ADMIN sets roles up to MANAGER, never ADMIN or above, and cannot touch an ADMIN+.
    up = await _patch(auth, system, admin, analyst.id, role="MANAGER")
    assert up.status_code == 200 and up.json()["role"] == "MANAGER"
    assert (await _patch(auth, system, admin, analyst.id, role="ADMIN")).status_code == 403
    assert (await _patch(auth, system, admin, root.id, active=False)).status_code == 403
    # Nobody changes their own role or deactivates themselves.
    assert (await _patch(auth, system, admin, admin.id, role="MANAGER")).status_code == 403
    assert (await _patch(auth, system, root, root.id, active=False)).status_code == 403
    assert (await _patch(auth, system, admin, "no-such-id", active=False)).status_code == 404
    assert (await _patch(auth, system, admin, analyst.id, role="GOD")).status_code == 422

    # The role change ended the analyst's sessions, and the event says before/after, security.
    settings = RedisSettings(redis_prefix=system.redis_prefix)
    assert await redis.get(revoked_session_key(settings, analyst.session_id)) == b"role_changed"
    updated = await outbox_events(db, "auth.user.updated", subject=analyst.id)
    assert updated[-1]["data"]["before"] == {"role": "ANALYST"}
    assert updated[-1]["data"]["after"] == {"role": "MANAGER"}
    assert updated[-1]["data"]["security"] is True
    assert updated[-1]["data"]["user"]["role"] == "MANAGER"

    # Deactivation ends sessions and blocks login.
    again = await registered_and_logged_in(auth)
    off = await _patch(auth, system, admin, again.id, active=False)
    assert off.status_code == 200 and off.json()["active"] is False
    assert await redis.get(revoked_session_key(settings, again.session_id)) == b"deactivated"
    assert (await auth.post("/api/auth/login", json={"email": again.email,
                                                     "password": again.password})
            ).status_code == 401
    assert (await auth.post("/api/auth/refresh", json={
        "refresh_token": again.pair["refresh_token"]})).status_code == 401


async def test_the_last_active_super_admin_cannot_be_demoted(auth, system, db, root):
    import uuid

    others = [str(r["id"]) for r in await db.fetch(
        "SELECT id FROM auth.users WHERE role = 'SUPER_ADMIN' AND active AND id <> $1",
        uuid.UUID(root.id))]
    # The rule holds on the database rows, not on the caller's claim: a caller claiming
    # SUPER_ADMIN (here a stale token's claim) still cannot remove the last one.
    claimant = await registered_and_logged_in(auth)
    try:
        for other in others:  # leave `root` as the only active SUPER_ADMIN for a moment
            assert (await _patch(auth, system, root, other, role="ADMIN")).status_code == 200
        for change in ({"role": "ADMIN"}, {"active": False}):
            refused = await auth.patch(f"/api/users/{root.id}", json=change,
                                       headers=identity(system, claimant, role="SUPER_ADMIN"))
            assert refused.status_code == 409, refused.text
            assert refused.json()["type"].endswith("/last-super-admin")
    finally:
        for other in others:  # other tests (and the bootstrap admin) keep their role
            await _patch(auth, system, root, other, role="SUPER_ADMIN")
    assert await db.fetchval("SELECT role FROM auth.users WHERE id = $1",
                             uuid.UUID(root.id)) == "SUPER_ADMIN"


async def test_list_users_is_paginated_and_filtered(auth, system):
    tag = unique_email("listme").split("@")[0]
    for i in range(3):
        await auth.post("/api/auth/register", json={
            "email": f"{tag}-{i}@example.com", "password": "Correct-Horse-Battery-9", "name": "L"})
    manager = await registered_and_logged_in(auth)
    headers = identity(system, manager, role="MANAGER")
    first = await auth.get("/api/users", headers=headers, params={"email": tag, "limit": 2})
    assert first.status_code == 200
    page = first.json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    second = await auth.get("/api/users", headers=headers, params={
        "email": tag, "limit": 2, "cursor": page["next_cursor"]})
    rest = second.json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    emails = [u["email"] for u in page["items"] + rest["items"]]
    assert emails == [f"{tag}-{i}@example.com" for i in range(3)]
    assert all("password" not in k for u in page["items"] for k in u)
    filtered = await auth.get("/api/users", headers=headers,
                              params={"role": "SUPER_ADMIN", "active": "true"})
    assert all(u["role"] == "SUPER_ADMIN" for u in filtered.json()["items"])
    analyst_headers = identity(system, manager, role="ANALYST")
    assert (await auth.get("/api/users", headers=analyst_headers)).status_code == 403
    assert (await auth.get("/api/users", headers=headers, params={"cursor": "garbage!"})
            ).status_code == 422
