"""Refresh-token rotation, reuse detection and the race of parallel refreshes."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from epv_common.revocation import revoked_session_key
from epv_common.settings import RedisSettings
from tests.auth.conftest import outbox_events, registered_and_logged_in

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _revoked_key(system, session_id: str) -> str:
    return revoked_session_key(RedisSettings(redis_prefix=system.redis_prefix), session_id)


async def test_refresh_rotates_the_pair_in_the_same_session(auth):
    account = await registered_and_logged_in(auth)
    old = account.pair
    response = await auth.post("/api/auth/refresh", json={"refresh_token": old["refresh_token"]})
    assert response.status_code == 200, response.text
    new = response.json()
    assert new["refresh_token"] != old["refresh_token"]
    assert new["access_token"] != old["access_token"]
    import jwt
    sid = lambda t: jwt.decode(t, options={"verify_signature": False})["sid"]  # noqa: E731
    assert sid(new["access_token"]) == sid(old["access_token"])
    assert "epv_refresh=" + new["refresh_token"] in response.headers["set-cookie"]


async def test_reusing_a_refresh_token_revokes_the_session(auth, system, redis, db):
    account = await registered_and_logged_in(auth)
    first = account.pair["refresh_token"]
    second = (await auth.post("/api/auth/refresh", json={"refresh_token": first})).json()
    reused = await auth.post("/api/auth/refresh", json={"refresh_token": first})
    assert reused.status_code == 401
    assert reused.json()["type"].endswith("/refresh-token-reused")
    assert await redis.get(_revoked_key(system, account.session_id)) == b"refresh_reuse"
    assert await db.fetchval("SELECT end_reason FROM auth.sessions WHERE id = $1",
                             uuid.UUID(account.session_id)) == "refresh_reuse"
    # The legitimate holder's newer token dies with the session.
    assert (await auth.post("/api/auth/refresh", json={"refresh_token": second["refresh_token"]})
            ).status_code == 401
    revoked = await outbox_events(db, "auth.session.revoked", subject=account.id)
    assert revoked and revoked[-1]["data"]["security"] is True
    assert revoked[-1]["data"]["reason"] == "refresh_reuse"


async def test_twenty_parallel_refreshes_with_one_token_make_one_pair(auth):
    account = await registered_and_logged_in(auth)
    token = account.pair["refresh_token"]
    responses = await asyncio.gather(*(
        auth.post("/api/auth/refresh", json={"refresh_token": token}) for _ in range(20)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 1, statuses
    assert statuses.count(401) == 19, statuses


async def test_refresh_accepts_the_cookie_and_the_body_wins(auth):
    a = await registered_and_logged_in(auth)
    b = await registered_and_logged_in(auth)
    by_cookie = await auth.post("/api/auth/refresh",
                                headers={"Cookie": f"epv_refresh={a.pair['refresh_token']}"})
    assert by_cookie.status_code == 200, by_cookie.text
    assert by_cookie.json()["user"]["id"] == a.id
    both = await auth.post("/api/auth/refresh", json={"refresh_token": b.pair["refresh_token"]},
                           headers={"Cookie": f"epv_refresh={by_cookie.json()['refresh_token']}"})
    assert both.status_code == 200
    assert both.json()["user"]["id"] == b.id


async def test_unknown_or_missing_refresh_token_is_401(auth):
    assert (await auth.post("/api/auth/refresh", json={"refresh_token": "nope"})).status_code == 401
    assert (await auth.post("/api/auth/refresh")).status_code == 401


async def test_logout_by_refresh_cookie_ends_that_session(auth, system, redis):
    account = await registered_and_logged_in(auth)
    response = await auth.post("/api/auth/logout", headers={
        "Cookie": f"epv_refresh={account.pair['refresh_token']}"})
    assert response.status_code == 204
    assert await redis.exists(_revoked_key(system, account.session_id))
