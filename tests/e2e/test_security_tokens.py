"""Tokens through the gateway: every forgery, stale or ended session is a 401 problem."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid

import httpx
import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from epv_auth.keys import decrypt_private_key
from epv_auth.settings import Settings as AuthSettings
from tests.e2e.accounts import account, admin, relogin

pytestmark = pytest.mark.e2e


def b64(data: dict | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unverified(token: str) -> tuple[dict, dict]:
    return jwt.get_unverified_header(token), jwt.decode(token, options={"verify_signature": False})


async def real_signing_key(system):
    """auth's current private key, decrypted as auth does (dev encryption key of the run)."""
    conn = await system.connect()
    try:
        row = await conn.fetchrow("SELECT kid, private_key_encrypted FROM auth.signing_keys "
                                  "WHERE retired_at IS NULL ORDER BY created_at DESC LIMIT 1")
    finally:
        await conn.close()
    settings = AuthSettings(environment="test")
    return row["kid"], decrypt_private_key(settings, row["kid"], row["private_key_encrypted"])


async def me(gateway, token: str) -> httpx.Response:
    return await gateway.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})


def assert_401_problem(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "Traceback" not in response.text


async def test_a_real_token_passes_and_reaches_the_service_with_identity(gateway):
    who = await account(gateway)
    response = await me(gateway, who.access_token)
    assert response.status_code == 200
    assert response.json()["id"] == who.id
    assert response.headers.get("ratelimit-limit")


async def test_alg_none_is_refused(gateway):
    who = await account(gateway)
    _, claims = unverified(who.access_token)
    forged = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."
    assert_401_problem(await me(gateway, forged))


async def test_hs256_signed_with_the_published_public_key_is_refused(gateway):
    who = await account(gateway)
    header, claims = unverified(who.access_token)
    jwks = (await gateway.get("/.well-known/jwks.json")).json()
    jwk = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    public_pem = RSAAlgorithm.from_jwk(jwk).public_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PublicFormat.SubjectPublicKeyInfo)
    signing_input = f"{b64({'alg': 'HS256', 'typ': 'JWT', 'kid': header['kid']})}.{b64(claims)}"
    signature = b64(hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest())
    assert_401_problem(await me(gateway, f"{signing_input}.{signature}"))


@pytest.mark.parametrize("change", [
    {"exp": -60}, {"aud": "another-api"}, {"iss": "another-issuer"},
], ids=["expired", "wrong-aud", "wrong-iss"])
async def test_validly_signed_but_expired_or_misaddressed_tokens_are_refused(gateway, system,
                                                                           change):
    who = await account(gateway)
    kid, key = await real_signing_key(system)
    _, claims = unverified(who.access_token)
    if "exp" in change:
        claims["iat"], claims["exp"] = int(time.time()) - 3600, int(time.time()) + change["exp"]
    else:
        claims.update(change)
    token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})
    assert_401_problem(await me(gateway, token))
    # The same key and claims, correctly addressed and fresh, pass: the refusal is the claim.
    _, good = unverified(who.access_token)
    assert (await me(gateway, jwt.encode(good, key, algorithm="RS256",
                                         headers={"kid": kid}))).status_code == 200


async def test_a_tampered_payload_is_refused(gateway):
    who = await account(gateway)
    header_part, _, signature = who.access_token.split(".")
    _, claims = unverified(who.access_token)
    claims["role"] = "SUPER_ADMIN"
    assert_401_problem(await me(gateway, f"{header_part}.{b64(claims)}.{signature}"))


@pytest.mark.parametrize("kid", ["not-a-kid", "' OR '1'='1", "../../../../etc/passwd",
                                 "k" * 300, "%00"])
async def test_unknown_or_hostile_kids_are_401_not_500(gateway, system, kid):
    who = await account(gateway)
    _, key = await real_signing_key(system)
    _, claims = unverified(who.access_token)
    token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})
    assert_401_problem(await me(gateway, token))


async def test_jku_x5u_and_jwk_headers_are_ignored_and_never_fetched(gateway):
    calls: list[str] = []

    async def record(request: web.Request) -> web.Response:
        calls.append(request.path)
        return web.json_response({"keys": []})

    app = web.Application()
    app.router.add_get("/{tail:.*}", record)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        who = await account(gateway)
        _, claims = unverified(who.access_token)
        evil = f"http://127.0.0.1:{port}/keys.json"
        attacker_jwk = {**json.loads(RSAAlgorithm.to_jwk(attacker.public_key())), "kid": "evil"}
        token = jwt.encode(claims, attacker, algorithm="RS256", headers={
            "kid": "evil", "jku": evil, "x5u": evil, "jwk": attacker_jwk})
        assert_401_problem(await me(gateway, token))
    finally:
        await runner.cleanup()
    assert calls == []


async def test_a_refresh_token_presented_as_an_access_token_is_refused(gateway):
    who = await account(gateway)
    assert_401_problem(await me(gateway, who.refresh_token))


async def test_the_token_is_refused_on_the_first_request_after_logout(gateway):
    who = await account(gateway)
    assert (await me(gateway, who.access_token)).status_code == 200
    out = await gateway.post("/api/auth/logout", headers=who.headers)
    assert out.status_code == 204
    assert_401_problem(await me(gateway, who.access_token))


async def test_a_deactivated_users_token_is_refused_at_once(gateway):
    who = await account(gateway)
    boss = await admin(gateway)
    assert (await me(gateway, who.access_token)).status_code == 200
    off = await gateway.patch(f"/api/users/{who.id}", json={"active": False},
                              headers=boss.headers)
    assert off.status_code == 200, off.text
    assert_401_problem(await me(gateway, who.access_token))
    again = await gateway.post("/api/auth/login",
                               json={"email": who.email, "password": who.password})
    assert again.status_code in (401, 403)


async def test_role_change_and_password_change_end_sessions_at_once(gateway):
    who = await account(gateway)
    other_device = await relogin(gateway, type(who)(**{**who.__dict__}))
    boss = await admin(gateway)
    promoted = await gateway.patch(f"/api/users/{who.id}", json={"role": "MANAGER"},
                                   headers=boss.headers)
    assert promoted.status_code == 200
    assert_401_problem(await me(gateway, other_device.access_token))

    await relogin(gateway, who)
    second = await relogin(gateway, type(who)(**{**who.__dict__}))
    changed = await gateway.put("/api/auth/password", headers=who.headers, json={
        "current_password": who.password, "new_password": "Another-Long-Passphrase-8"})
    assert changed.status_code == 204, changed.text
    assert_401_problem(await me(gateway, second.access_token))
    assert (await me(gateway, who.access_token)).status_code == 200


async def test_refresh_reuse_fails_and_ends_the_session(gateway):
    who = await account(gateway)
    first = await gateway.post("/api/auth/refresh", json={"refresh_token": who.refresh_token})
    assert first.status_code == 200
    rotated = first.json()
    assert rotated["refresh_token"] != who.refresh_token
    reused = await gateway.post("/api/auth/refresh", json={"refresh_token": who.refresh_token})
    assert_401_problem(reused)
    assert_401_problem(await me(gateway, rotated["access_token"]))


async def test_twenty_parallel_refreshes_with_one_token_exactly_one_succeeds(gateway):
    who = await account(gateway)
    results = await asyncio.gather(*(
        gateway.post("/api/auth/refresh", json={"refresh_token": who.refresh_token})
        for _ in range(20)))
    statuses = sorted(r.status_code for r in results)
    assert statuses.count(200) == 1
    assert statuses.count(401) == 19


async def test_passwords_equal_in_their_first_72_bytes_are_different(gateway):
    prefix = "Seventy-two-bytes-of-a-shared-prefix-" + "x" * 35
    assert len(prefix.encode()) == 72
    who = await account(gateway, password=prefix + "-first-ending")
    wrong = await gateway.post("/api/auth/login", json={
        "email": who.email, "password": prefix + "-other-ending"})
    assert wrong.status_code == 401
    right = await gateway.post("/api/auth/login", json={
        "email": who.email, "password": prefix + "-first-ending"})
    assert right.status_code == 200


async def test_redis_cut_from_the_gateway_fails_authenticated_requests_closed(gateway, system):
    who = await account(gateway)
    proxy = system.redis_proxies["gateway"]
    proxy.cut()
    try:
        response = await me(gateway, who.access_token)
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
    finally:
        proxy.restore()
    for _ in range(50):
        if (await me(gateway, who.access_token)).status_code == 200:
            break
        await asyncio.sleep(0.1)
    assert (await me(gateway, who.access_token)).status_code == 200


async def test_key_rotation_keeps_old_tokens_and_the_gateway_learns_the_new_key(gateway):
    before = await account(gateway)
    old_kid = jwt.get_unverified_header(before.access_token)["kid"]
    boss = await admin(gateway)
    rotated = await gateway.post("/api/admin/keys/rotate", headers=boss.headers)
    assert rotated.status_code == 200, rotated.text
    after = await relogin(gateway, before.__class__(**{**before.__dict__}))
    new_kid = jwt.get_unverified_header(after.access_token)["kid"]
    assert new_kid != old_kid
    assert (await me(gateway, after.access_token)).status_code == 200
    assert (await me(gateway, before.access_token)).status_code == 200
    kids = {k["kid"] for k in (await gateway.get("/.well-known/jwks.json")).json()["keys"]}
    assert {old_kid, new_kid} <= kids


async def test_identity_headers_sent_by_a_client_are_stripped(gateway, system):
    who = await account(gateway)
    forged = {"X-EPV-User-Id": str(uuid.uuid4()), "X-EPV-Role": "SUPER_ADMIN",
              "X-EPV-Session-Id": str(uuid.uuid4()), "X-EPV-Internal-Token": "guess"}
    response = await gateway.get("/api/auth/me", headers={**who.headers, **forged})
    assert response.status_code == 200
    assert response.json()["id"] == who.id
    assert response.json()["role"] == "ANALYST"
    anonymous = await gateway.get("/api/users", headers=forged)
    assert anonymous.status_code == 401


async def test_a_service_refuses_identity_without_the_internal_token(system):
    async with httpx.AsyncClient(base_url=system.url("auth")) as direct:
        forged = await direct.get("/api/auth/me", headers={
            "X-EPV-User-Id": str(uuid.uuid4()), "X-EPV-Role": "SUPER_ADMIN",
            "X-EPV-Session-Id": str(uuid.uuid4())})
    assert forged.status_code == 401
