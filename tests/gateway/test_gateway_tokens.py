"""The gateway's token verifier against a JWKS served over real HTTP by the test: every
forged, stale or malformed token is refused, and nothing in a token makes it call out."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import AsyncIterator

import aiohttp
import jwt
import pytest
import pytest_asyncio
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from epv_common.settings import TokenSettings
from epv_gateway.tokens import InvalidToken, JwksKeys, TokenVerifier, bearer_token

SETTINGS = TokenSettings(jwt_issuer="epv-auth", jwt_audience="epv-api", jwt_leeway_s=0)


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk_of(key: rsa.RSAPrivateKey, kid: str) -> dict:
    jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


class JwksServer:
    """A JWKS endpoint of our own, counting every request it gets."""

    def __init__(self) -> None:
        self.keys: list[dict] = []
        self.requests = 0
        self.url = ""

    async def handle(self, _request: web.Request) -> web.Response:
        self.requests += 1
        return web.json_response({"keys": self.keys})


@pytest_asyncio.fixture(loop_scope="session")
async def jwks() -> AsyncIterator[JwksServer]:
    server = JwksServer()
    app = web.Application()
    app.router.add_get("/.well-known/jwks.json", server.handle)
    app.router.add_get("/evil.json", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    server.url = f"http://127.0.0.1:{port}/.well-known/jwks.json"
    try:
        yield server
    finally:
        await runner.cleanup()


@pytest_asyncio.fixture(loop_scope="session")
async def verifier(jwks: JwksServer) -> AsyncIterator[tuple[TokenVerifier, rsa.RSAPrivateKey]]:
    key = new_key()
    jwks.keys = [jwk_of(key, "k1")]
    async with aiohttp.ClientSession() as session:
        yield TokenVerifier(JwksKeys(session, jwks.url, min_refetch_s=0.0), SETTINGS), key


def claims(**overrides) -> dict:
    now = int(time.time())
    base = {"iss": "epv-auth", "aud": "epv-api", "sub": str(uuid.uuid4()),
            "sid": str(uuid.uuid4()), "role": "ANALYST", "jti": uuid.uuid4().hex,
            "iat": now, "exp": now + 900}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(key, payload: dict, *, kid: str = "k1", headers: dict | None = None) -> str:
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid, **(headers or {})})


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


async def test_a_good_token_verifies(verifier):
    check, key = verifier
    payload = claims()
    verified = await check.verify(sign(key, payload))
    assert (verified.user_id, verified.session_id, verified.role) == (
        payload["sub"], payload["sid"], "ANALYST")


async def test_alg_none_is_refused(verifier):
    check, _ = verifier
    token = f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': 'k1'})}.{b64(claims())}."
    with pytest.raises(InvalidToken):
        await check.verify(token)


async def test_hs256_signed_with_the_public_key_is_refused(verifier):
    check, key = verifier
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = b64({"alg": "HS256", "typ": "JWT", "kid": "k1"})
    body = b64(claims())
    import hashlib
    import hmac

    signature = base64.urlsafe_b64encode(
        hmac.new(public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    ).decode().rstrip("=")
    with pytest.raises(InvalidToken):
        await check.verify(f"{header}.{body}.{signature}")


@pytest.mark.parametrize("overrides", [
    {"exp": int(time.time()) - 10}, {"aud": "someone-else"}, {"iss": "evil-issuer"},
    {"sid": None}, {"role": None}, {"jti": None}, {"sub": ""},
], ids=["expired", "wrong-aud", "wrong-iss", "no-sid", "no-role", "no-jti", "empty-sub"])
async def test_bad_claims_are_refused(verifier, overrides):
    check, key = verifier
    with pytest.raises(InvalidToken):
        await check.verify(sign(key, claims(**overrides)))


async def test_a_tampered_payload_is_refused(verifier):
    check, key = verifier
    header, _, signature = sign(key, claims()).split(".")
    forged = b64(claims(role="SUPER_ADMIN"))
    with pytest.raises(InvalidToken):
        await check.verify(f"{header}.{forged}.{signature}")


async def test_a_token_signed_by_another_key_under_a_known_kid_is_refused(verifier):
    check, _ = verifier
    with pytest.raises(InvalidToken):
        await check.verify(sign(new_key(), claims()))


@pytest.mark.parametrize("kid", ["unknown", "' OR 1=1 --", "../../etc/passwd", "k" * 500, ""])
async def test_unknown_or_hostile_kids_are_refused(verifier, kid):
    check, key = verifier
    with pytest.raises(InvalidToken):
        await check.verify(sign(key, claims(), kid=kid))


async def test_jku_x5u_and_jwk_headers_are_ignored(verifier, jwks):
    check, key = verifier
    attacker = new_key()
    evil = jwks.url.replace(".well-known/jwks.json", "evil.json")
    before = jwks.requests
    token = sign(attacker, claims(), kid="attacker", headers={
        "jku": evil, "x5u": evil, "jwk": jwk_of(attacker, "attacker")})
    with pytest.raises(InvalidToken):
        await check.verify(token)
    # The only request allowed is one JWKS refetch for the unknown kid, at the JWKS address.
    assert jwks.requests - before <= 1


async def test_an_unknown_kid_fetches_the_jwks_again_once(jwks):
    old, new = new_key(), new_key()
    jwks.keys = [jwk_of(old, "old")]
    async with aiohttp.ClientSession() as session:
        check = TokenVerifier(JwksKeys(session, jwks.url, min_refetch_s=0.3), SETTINGS)
        await check.verify(sign(old, claims(), kid="old"))
        fetched = jwks.requests
        jwks.keys = [jwk_of(old, "old"), jwk_of(new, "new")]
        # Right after a fetch, the new kid waits out the interval, then one fetch finds it.
        assert (await check.verify(sign(new, claims(), kid="new"))).role == "ANALYST"
        assert jwks.requests == fetched + 1
        await check.verify(sign(old, claims(), kid="old"))
        assert jwks.requests == fetched + 1


async def test_a_flood_of_made_up_kids_costs_one_fetch_per_interval(jwks):
    key = new_key()
    jwks.keys = [jwk_of(key, "real")]
    async with aiohttp.ClientSession() as session:
        check = TokenVerifier(JwksKeys(session, jwks.url, min_refetch_s=0.5), SETTINGS)
        await check.verify(sign(key, claims(), kid="real"))
        before = jwks.requests
        tokens = [sign(key, claims(), kid=f"made-up-{i}") for i in range(50)]
        results = await asyncio.gather(*(check.verify(t) for t in tokens),
                                       return_exceptions=True)
    assert all(isinstance(r, InvalidToken) for r in results)
    # Concurrent unknown kids share fetches: a few at most, never one per token.
    assert jwks.requests - before <= 3


async def test_a_cached_token_is_not_trusted_past_its_expiry(verifier):
    check, key = verifier
    # exp is whole seconds: two seconds ahead leaves at least one before it passes, so the
    # first check cannot meet an already expired token on a slow machine.
    expires = int(time.time()) + 2
    token = sign(key, claims(exp=expires))
    await check.verify(token)
    await asyncio.sleep(max(0.0, expires - time.time()) + 0.1)
    with pytest.raises(InvalidToken):
        await check.verify(token)


@pytest.mark.parametrize(("header", "token"), [
    ("Bearer abc.def.ghi", "abc.def.ghi"), ("bearer  abc ", "abc"), ("Basic abc", None),
    ("Bearer", None), ("", None), (None, None),
])
def test_bearer_token_parsing(header, token):
    assert bearer_token(header) == token
