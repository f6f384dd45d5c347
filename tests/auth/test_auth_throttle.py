"""Failed-login throttling: per account across addresses, a 429 with Retry-After, then open."""

from __future__ import annotations

import asyncio

import pytest

from tests.auth.conftest import outbox_events, register

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_account_locks_after_failures_from_several_addresses_then_reopens(auth, db):
    account = await register(auth)
    for i in range(5):  # EPV_LOGIN_MAX_FAILURES defaults to 5
        failed = await auth.post("/api/auth/login", headers={"X-Forwarded-For": f"198.51.100.{i}"},
                                 json={"email": account.email, "password": f"wrong-guess-{i:04}"})
        assert failed.status_code == 401, failed.text
    locked = await auth.post("/api/auth/login", headers={"X-Forwarded-For": "198.51.100.77"},
                             json={"email": account.email, "password": account.password})
    assert locked.status_code == 429
    assert locked.headers["content-type"] == "application/problem+json"
    retry_after = int(locked.headers["retry-after"])
    assert 1 <= retry_after <= 4  # the test env's EPV_LOGIN_LOCK_BASE_S=2
    assert locked.json()["type"].endswith("/login-locked")

    locks = await outbox_events(db, "auth.account.locked")
    mine = [e for e in locks if e["data"]["email"] == account.email]
    assert len(mine) == 1 and mine[0]["data"]["security"] is True
    assert mine[0]["data"]["scope"] == "account"
    failures = [e for e in await outbox_events(db, "auth.login.failed")
                if e["data"]["email"] == account.email]
    assert len(failures) >= 5 and all(e["data"]["security"] for e in failures)

    await asyncio.sleep(retry_after + 0.5)
    reopened = await auth.post("/api/auth/login",
                               json={"email": account.email, "password": account.password})
    assert reopened.status_code == 200, reopened.text
