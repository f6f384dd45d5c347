"""Login, access tokens and the JWKS; logout and own sessions."""

from __future__ import annotations

import jwt
import pytest

from epv_common.revocation import revoked_session_key
from tests.auth.conftest import (
    PASSWORD,
    identity,
    login,
    outbox_events,
    register,
    registered_and_logged_in,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_access_token_verifies_with_the_published_jwks(auth):
    account = await registered_and_logged_in(auth)
    pair = account.pair
    assert pair["token_type"] == "Bearer" and pair["expires_in"] == 900
    assert set(pair["user"]) >= {"id", "email", "role", "active"}
    assert "password" not in str(pair).lower().replace("password_", "")

    jwks = await auth.get("/.well-known/jwks.json")
    assert jwks.status_code == 200
    assert "max-age=60" in jwks.headers["cache-control"]
    keys = {k["kid"]: k for k in jwks.json()["keys"]}
    for key in keys.values():
        assert key["kty"] == "RSA" and key["use"] == "sig" and key["alg"] == "RS256"
        assert {"n", "e"} <= set(key) and "d" not in key

    header = jwt.get_unverified_header(pair["access_token"])
    assert header["alg"] == "RS256" and header["typ"] == "JWT" and header["kid"] in keys
    public_key = jwt.PyJWK(keys[header["kid"]]).key
    claims = jwt.decode(pair["access_token"], public_key, algorithms=["RS256"],
                        audience="epv-api", issuer="epv-auth")
    assert claims["sub"] == account.id
    assert claims["role"] == "ANALYST"
    assert {"sid", "jti", "iat", "exp"} <= set(claims)
    assert claims["exp"] - claims["iat"] == 900


async def test_login_sets_a_strict_http_only_refresh_cookie(auth):
    account = await register(auth)
    response = await auth.post("/api/auth/login",
                               json={"email": account.email, "password": account.password})
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("epv_refresh=" + response.json()["refresh_token"])
    for attribute in ("HttpOnly", "Secure", "SameSite=strict", "Path=/api/auth"):
        assert attribute.lower() in cookie.lower()


async def test_wrong_password_and_unknown_email_look_the_same(auth):
    account = await register(auth)
    wrong = await auth.post("/api/auth/login", json={"email": account.email,
                                                     "password": "not-the-password-1"})
    unknown = await auth.post("/api/auth/login", json={"email": "nobody-x@example.com",
                                                       "password": "not-the-password-1"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["type"] == unknown.json()["type"]
    assert wrong.json()["detail"] == unknown.json()["detail"]


async def test_logout_revokes_the_session_for_the_gateway(auth, system, redis, db):
    account = await registered_and_logged_in(auth)
    response = await auth.post("/api/auth/logout", headers=identity(system, account))
    assert response.status_code == 204
    assert await redis.get(revoked_session_key(_redis_settings(system), account.session_id)) \
        == b"logout"
    ended = await db.fetchval("SELECT ended_at FROM auth.sessions WHERE id = $1",
                              __import__("uuid").UUID(account.session_id))
    assert ended is not None
    # Its refresh token no longer works either.
    refreshed = await auth.post("/api/auth/refresh",
                                json={"refresh_token": account.pair["refresh_token"]})
    assert refreshed.status_code == 401
    assert await outbox_events(db, "auth.session.revoked", subject=account.id)


async def test_logout_without_identity_is_401(auth):
    assert (await auth.post("/api/auth/logout")).status_code == 401


async def test_me_reads_and_updates_own_profile(auth, system, db):
    account = await registered_and_logged_in(auth)
    headers = identity(system, account)
    me = await auth.get("/api/auth/me", headers=headers)
    assert me.status_code == 200 and me.json()["email"] == account.email
    patched = await auth.patch("/api/auth/me", headers=headers,
                               json={"name": "New Name", "organization": "Acme"})
    assert patched.status_code == 200
    assert patched.json()["name"] == "New Name" and patched.json()["organization"] == "Acme"
    updated = await outbox_events(db, "auth.user.updated", subject=account.id)
    assert updated[-1]["data"]["after"] == {"name": "New Name", "organization": "Acme"}
    assert (await auth.patch("/api/auth/me", headers=headers, json={"role": "ADMIN"})
            ).status_code == 422
    assert (await auth.get("/api/auth/me")).status_code == 401


async def test_sessions_list_own_and_end_only_own(auth, system, redis):
    account = await registered_and_logged_in(auth)
    first_session = account.session_id
    await login(auth, account, **{"User-Agent": "pytest-device",
                                  "X-Forwarded-For": "203.0.113.9, 10.0.0.1"})
    headers = identity(system, account)
    listed = (await auth.get("/api/auth/sessions", headers=headers)).json()
    by_id = {s["id"]: s for s in listed}
    assert set(by_id) == {first_session, account.session_id}
    assert by_id[account.session_id]["current"] is True
    assert by_id[account.session_id]["device"] == "pytest-device"
    assert by_id[account.session_id]["address"] == "203.0.113.9"
    assert by_id[first_session]["current"] is False

    other = await registered_and_logged_in(auth)
    foreign = await auth.delete(f"/api/auth/sessions/{other.session_id}", headers=headers)
    assert foreign.status_code == 404
    ended = await auth.delete(f"/api/auth/sessions/{first_session}", headers=headers)
    assert ended.status_code == 204
    assert await redis.exists(revoked_session_key(_redis_settings(system), first_session))
    assert not await redis.exists(revoked_session_key(_redis_settings(system), other.session_id))
    listed = (await auth.get("/api/auth/sessions", headers=headers)).json()
    assert [s["id"] for s in listed] == [account.session_id]


async def test_register_refuses_a_taken_email_and_bad_input(auth):
    account = await register(auth)
    again = await auth.post("/api/auth/register", json={"email": account.email.upper(),
                                                        "password": PASSWORD, "name": "x"})
    assert again.status_code == 409
    bad = await auth.post("/api/auth/register", json={"email": "not-an-email",
                                                      "password": PASSWORD})
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"


def _redis_settings(system):
    from epv_common.settings import RedisSettings

    return RedisSettings(redis_prefix=system.redis_prefix)
