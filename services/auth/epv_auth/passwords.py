"""Password hashing: bcrypt cost 12 behind a SHA-256 pre-hash (passlib's bcrypt_sha256), so
every character counts past bcrypt's 72-byte limit. Hashing runs in a thread: it costs about
235 ms of a core and would stall every other request on the event loop."""

from __future__ import annotations

import anyio
from passlib.hash import bcrypt_sha256

HASHER = bcrypt_sha256.using(rounds=12)


async def hash_password(password: str) -> str:
    return await anyio.to_thread.run_sync(HASHER.hash, password)


async def verify_password(password: str, password_hash: str) -> bool:
    return await anyio.to_thread.run_sync(HASHER.verify, password, password_hash)
