"""Password hashing and policy.

Hashing: bcrypt cost 12 behind a SHA-256 pre-hash (passlib's bcrypt_sha256), so every character
counts past bcrypt's 72-byte limit. Hashing runs in a thread: it costs about 235 ms of a core
and would stall every other request on the event loop.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import anyio
from passlib.hash import bcrypt_sha256

from epv_auth.errors import WeakPassword

HASHER = bcrypt_sha256.using(rounds=12)
MIN_LENGTH = 12
MAX_LENGTH = 128
MIN_LOCAL_PART = 3


async def hash_password(password: str) -> str:
    return await anyio.to_thread.run_sync(HASHER.hash, password)


async def verify_password(password: str, password_hash: str) -> bool:
    return await anyio.to_thread.run_sync(HASHER.verify, password, password_hash)


@functools.cache
def dummy_hash() -> str:
    """Verified against when the email is unknown, so timing does not tell accounts apart."""
    return HASHER.hash("no-such-account-dummy-password")


@functools.cache
def common_passwords() -> frozenset[str]:
    text = resources.files("epv_auth").joinpath("data/common-passwords.txt").read_text("utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines()
                     if line.strip() and not line.startswith("#"))


def policy_errors(password: str, *, email: str | None, field: str = "password"
                  ) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []

    def fail(rule: str, message: str) -> None:
        errors.append({"field": field, "rule": rule, "message": message})

    if len(password) < MIN_LENGTH:
        fail("too_short", f"Use at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        fail("too_long", f"Use at most {MAX_LENGTH} characters.")
    if password.lower() in common_passwords():
        fail("common", "This password is among the most common ones; choose another.")
    local = (email or "").rsplit("@", 1)[0].lower()
    if len(local) >= MIN_LOCAL_PART and local in password.lower():
        fail("contains_email", "The password must not contain your email's name part.")
    return errors


def check_policy(password: str, *, email: str | None, field: str = "password") -> None:
    errors = policy_errors(password, email=email, field=field)
    if errors:
        raise WeakPassword(errors=errors)
