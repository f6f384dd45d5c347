"""Signing keys: RS256 key pairs in the auth schema, the private half encrypted at rest.

One key is current (retired_at IS NULL) and signs every new access token. A rotation retires
it and makes a new one current; a retired key's public half stays in the JWKS until the last
token it signed has expired (retired_at + access token ttl + leeway), so verifiers never meet
a token whose kid they cannot find.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import text

from epv_auth import events
from epv_auth.repository import KeyRepository
from epv_auth.settings import Settings
from epv_common.db import UnitOfWork

ALGORITHM = "RS256"
# Serialises key creation and rotation across replicas and the CLI.
KEY_LOCK = "epv-auth-signing-keys"


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _aead(settings: Settings) -> AESGCM:
    secret = settings.auth_key_encryption_key.get_secret_value().encode()
    return AESGCM(hashlib.sha256(secret).digest())


def encrypt_private_key(settings: Settings, kid: str, key: rsa.RSAPrivateKey) -> bytes:
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    nonce = os.urandom(12)
    return nonce + _aead(settings).encrypt(nonce, der, kid.encode())


def decrypt_private_key(settings: Settings, kid: str, blob: bytes) -> rsa.RSAPrivateKey:
    der = _aead(settings).decrypt(blob[:12], blob[12:], kid.encode())
    key = serialization.load_der_private_key(der, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def public_jwk(kid: str, key: rsa.RSAPrivateKey) -> dict[str, str]:
    numbers = key.public_key().public_numbers()
    return {"kty": "RSA", "kid": kid, "use": "sig", "alg": ALGORITHM,
            "n": _b64url_uint(numbers.n), "e": _b64url_uint(numbers.e)}


async def _new_key_row(settings: Settings) -> dict[str, Any]:
    key = await anyio.to_thread.run_sync(
        lambda: rsa.generate_private_key(public_exponent=65537, key_size=settings.rsa_key_bits))
    kid = datetime.now(UTC).strftime("%Y%m%d%H%M%S-") + secrets.token_hex(4)
    return {"kid": kid, "algorithm": ALGORITHM,
            "private_key_encrypted": encrypt_private_key(settings, kid, key),
            "public_jwk": public_jwk(kid, key)}


async def _lock(uow: UnitOfWork) -> None:
    await uow.session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"),
                              {"k": KEY_LOCK})


async def ensure_signing_key(uow: UnitOfWork, settings: Settings) -> str:
    """Creates the first key when there is none; replicas starting together create one."""
    async with uow:
        await _lock(uow)
        repo = KeyRepository(uow.session)
        current = await repo.current()
        if current is not None:
            return current["kid"]
        row = await _new_key_row(settings)
        await repo.add(row)
        await uow.commit()
        return row["kid"]


async def rotate(uow: UnitOfWork, settings: Settings, *, actor_id: str | None) -> dict[str, Any]:
    row = await _new_key_row(settings)
    async with uow:
        await _lock(uow)
        repo = KeyRepository(uow.session)
        previous = await repo.current()
        if previous is not None:
            await repo.retire(previous["kid"])
        await repo.add(row)
        uow.record(events.key_rotated(kid=row["kid"],
                                      previous_kid=previous["kid"] if previous else None,
                                      actor_id=actor_id))
        await uow.commit()
    return {"kid": row["kid"], "previous_kid": previous["kid"] if previous else None}


async def published_keys(uow: UnitOfWork, settings: Settings) -> list[dict[str, Any]]:
    grace = timedelta(seconds=settings.access_token_ttl_s + settings.jwt_leeway_s)
    async with uow:
        rows = await KeyRepository(uow.session).published(datetime.now(UTC) - grace)
    return [r["public_jwk"] for r in rows]


@dataclass
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey


class KeyRing:
    """The current signing key, loaded and decrypted once, rechecked every few seconds so a
    rotation made by another replica (or the CLI) is picked up without a restart."""

    def __init__(self, settings: Settings, uow_factory) -> None:
        self.settings = settings
        self._uow = uow_factory
        self._current: SigningKey | None = None
        self._checked_at = 0.0

    def forget(self) -> None:
        self._checked_at = 0.0

    async def current(self) -> SigningKey:
        now = time.monotonic()
        if self._current is not None and now - self._checked_at < self.settings.signing_key_recheck_s:
            return self._current
        async with self._uow() as uow:
            repo = KeyRepository(uow.session)
            kid = await repo.current_kid()
            if kid is None:
                raise RuntimeError("no signing key; the service creates one at start-up")
            if self._current is None or self._current.kid != kid:
                row = await repo.by_kid(kid)
                self._current = SigningKey(
                    kid=kid, private_key=decrypt_private_key(
                        self.settings, kid, row["private_key_encrypted"]))
        self._checked_at = now
        return self._current
