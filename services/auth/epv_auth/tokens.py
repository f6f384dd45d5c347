"""Access tokens (RS256 JWTs signed with the current key), and the opaque tokens (refresh,
password setup) that are stored only as their SHA-256."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from typing import Any

import jwt

from epv_auth.keys import ALGORITHM, KeyRing
from epv_auth.settings import Settings


async def issue_access_token(keyring: KeyRing, settings: Settings, *, user: dict[str, Any],
                             session_id: str) -> str:
    key = await keyring.current()
    now = int(time.time())
    claims = {"iss": settings.jwt_issuer, "aud": settings.jwt_audience, "sub": str(user["id"]),
              "sid": session_id, "role": user["role"], "jti": uuid.uuid4().hex,
              "iat": now, "exp": now + settings.access_token_ttl_s}
    return jwt.encode(claims, key.private_key, algorithm=ALGORITHM,
                      headers={"kid": key.kid, "typ": "JWT"})


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def refresh_token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def new_password_setup_token() -> str:
    return secrets.token_urlsafe(32)  # 256 bits: guessing one is hopeless, throttled or not


def password_setup_token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
