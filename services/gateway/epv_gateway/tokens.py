"""Access-token verification at the gateway: RS256 pinned, exp/iss/aud checked, keys from the
auth service's JWKS, fetched again for an unknown `kid` (key rotation) at most once per
interval: a request meeting an unknown kid just after a fetch waits out the rest of the
interval and shares the next fetch, so a new key is learnt within one interval while a flood
of made-up kids still costs at most one JWKS fetch per interval.

Header parameters that point elsewhere (`jku`, `x5u`, `jwk`) are never read: the only keys are
the JWKS's. A token verified once is cached (bounded, never past its `exp`); the revocation
check is not cached: it runs on every request.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import aiohttp
import jwt
import orjson
import structlog
from jwt.algorithms import RSAAlgorithm

from epv_common.errors import NotAuthenticated
from epv_common.settings import TokenSettings

log = structlog.get_logger("epv.gateway.tokens")

REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub", "sid", "role", "jti"]


class InvalidToken(NotAuthenticated):
    code = "invalid-token"
    title = "Invalid token"
    template = "The access token is not valid: {reason}."


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    user_id: str
    role: str
    session_id: str
    expires_at: float


class JwksKeys:
    """The auth service's public keys by kid."""

    def __init__(self, session: aiohttp.ClientSession, url: str, *, min_refetch_s: float) -> None:
        self.session = session
        self.url = url
        self.min_refetch_s = min_refetch_s
        self._keys: dict[str, Any] = {}
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def get(self, kid: str) -> Any | None:
        key = self._keys.get(kid)
        if key is not None:
            return key
        arrived = time.monotonic()
        async with self._lock:
            key = self._keys.get(kid)
            if key is None and self._fetched_at < arrived:
                wait = self.min_refetch_s - (time.monotonic() - self._fetched_at)
                if wait > 0:
                    await asyncio.sleep(wait)
                await self._refresh()
                key = self._keys.get(kid)
        return key

    async def _refresh(self) -> None:
        self._fetched_at = time.monotonic()
        try:
            async with self.session.get(self.url, timeout=aiohttp.ClientTimeout(total=3)) as resp:
                if resp.status != 200:
                    log.warning("jwks_fetch_failed", status=resp.status)
                    return
                document = orjson.loads(await resp.read())
        except (aiohttp.ClientError, OSError, TimeoutError, orjson.JSONDecodeError) as exc:
            log.warning("jwks_fetch_failed", error=type(exc).__name__)
            return
        keys = {}
        for jwk in document.get("keys", []):
            if jwk.get("kty") == "RSA" and jwk.get("kid") and jwk.get("alg", "RS256") == "RS256":
                try:
                    keys[jwk["kid"]] = RSAAlgorithm.from_jwk(jwk)
                except (ValueError, KeyError, TypeError):
                    log.warning("jwks_key_unusable", kid=str(jwk.get("kid"))[:64])
        self._keys = keys


class TokenVerifier:
    def __init__(self, keys: JwksKeys, settings: TokenSettings, *, cache_size: int = 10_000):
        self.keys = keys
        self.settings = settings
        self.cache_size = cache_size
        self._cache: OrderedDict[str, VerifiedToken] = OrderedDict()

    async def verify(self, token: str) -> VerifiedToken:
        cached = self._cache.get(token)
        now = time.time()
        if cached is not None:
            if cached.expires_at > now:
                return cached
            self._cache.pop(token, None)
        verified = await self._verify_uncached(token)
        self._cache[token] = verified
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return verified

    async def _verify_uncached(self, token: str) -> VerifiedToken:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken(reason="malformed") from exc
        if header.get("alg") != self.settings.jwt_algorithm:
            raise InvalidToken(reason="algorithm not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid or len(kid) > 128:
            raise InvalidToken(reason="no usable key id")
        key = await self.keys.get(kid)
        if key is None:
            raise InvalidToken(reason="unknown key id")
        try:
            claims = jwt.decode(
                token, key=key, algorithms=[self.settings.jwt_algorithm],
                audience=self.settings.jwt_audience, issuer=self.settings.jwt_issuer,
                leeway=self.settings.jwt_leeway_s, options={"require": REQUIRED_CLAIMS})
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken(reason="expired") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken(reason=type(exc).__name__) from exc
        for claim in ("sub", "sid", "role"):
            if not isinstance(claims.get(claim), str) or not claims[claim]:
                raise InvalidToken(reason=f"bad {claim} claim")
        return VerifiedToken(user_id=claims["sub"], role=claims["role"],
                             session_id=claims["sid"], expires_at=float(claims["exp"]))


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
