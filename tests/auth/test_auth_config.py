"""The system config registry: typed keys, 422 for unknown keys and bad values, events."""

from __future__ import annotations

import pytest

from tests.auth.conftest import identity, outbox_events, registered_and_logged_in, unique_email

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_config_is_listed_validated_and_changes_emit_events(auth, system, db):
    admin = await registered_and_logged_in(auth)
    headers = identity(system, admin, role="ADMIN")
    listed = await auth.get("/api/admin/config", headers=headers)
    assert listed.status_code == 200
    keys = {e["key"]: e for e in listed.json()}
    assert {"registration_open", "max_sessions_per_user", "login_lockout_threshold",
            "maintenance_message"} <= set(keys)
    assert (await auth.get("/api/admin/config", headers=identity(system, admin, role="MANAGER"))
            ).status_code == 403

    for key, value in [("no_such_key", 1), ("max_sessions_per_user", 0),
                       ("max_sessions_per_user", "5"), ("max_sessions_per_user", True),
                       ("registration_open", "yes"), ("login_lockout_threshold", 1000),
                       ("maintenance_message", "x" * 501)]:
        response = await auth.put(f"/api/admin/config/{key}", headers=headers,
                                  json={"value": value})
        assert response.status_code == 422, (key, value, response.text)
        assert response.json()["errors"]

    ok = await auth.put("/api/admin/config/maintenance_message", headers=headers,
                        json={"value": "Back at noon"})
    assert ok.status_code == 200
    cleared = await auth.put("/api/admin/config/maintenance_message", headers=headers,
                             json={"value": None})
    assert cleared.status_code == 200
    changes = await outbox_events(db, "auth.config.changed", subject="maintenance_message")
    assert [c["data"]["after"] for c in changes[-2:]] == ["Back at noon", None]
    assert changes[-1]["data"]["before"] == "Back at noon"


async def test_closed_registration_refuses_new_accounts(auth, system):
    admin = await registered_and_logged_in(auth)
    headers = identity(system, admin, role="ADMIN")
    assert (await auth.put("/api/admin/config/registration_open", headers=headers,
                           json={"value": False})).status_code == 200
    try:
        response = await auth.post("/api/auth/register", json={
            "email": unique_email(), "password": "Correct-Horse-Battery-9", "name": "x"})
        assert response.status_code == 403
        assert response.json()["type"].endswith("/registration-closed")
    finally:
        await auth.put("/api/admin/config/registration_open", headers=headers,
                       json={"value": True})


async def test_session_limit_ends_the_oldest_session(auth, system, redis):
    from epv_common.revocation import revoked_session_key
    from epv_common.settings import RedisSettings
    from tests.auth.conftest import login

    admin = await registered_and_logged_in(auth)
    headers = identity(system, admin, role="ADMIN")
    await auth.put("/api/admin/config/max_sessions_per_user", headers=headers, json={"value": 1})
    try:
        account = await registered_and_logged_in(auth)
        first = account.session_id
        await login(auth, account)
        settings = RedisSettings(redis_prefix=system.redis_prefix)
        assert await redis.get(revoked_session_key(settings, first)) == b"session_limit"
    finally:
        await auth.put("/api/admin/config/max_sessions_per_user", headers=headers,
                       json={"value": 10})
