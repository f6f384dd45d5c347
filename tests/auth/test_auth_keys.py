"""Signing-key rotation: the old kid stays published, new tokens carry the new kid."""

from __future__ import annotations

import asyncio
import sys

import jwt
import pytest

from tests.auth.conftest import (
    identity,
    login,
    outbox_events,
    registered_and_logged_in,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _kids(auth) -> list[str]:
    return [k["kid"] for k in (await auth.get("/.well-known/jwks.json")).json()["keys"]]


async def test_rotation_keeps_old_kid_and_signs_with_the_new(auth, system, db, root):
    old_kid = jwt.get_unverified_header(root.pair["access_token"])["kid"]
    admin_claim = identity(system, root, role="ADMIN")
    assert (await auth.post("/api/admin/keys/rotate", headers=admin_claim)).status_code == 403

    rotated = await auth.post("/api/admin/keys/rotate", headers=identity(system, root))
    assert rotated.status_code == 200, rotated.text
    new_kid = rotated.json()["kid"]
    assert new_kid != old_kid and rotated.json()["previous_kid"] == old_kid
    kids = await _kids(auth)
    assert new_kid in kids and old_kid in kids

    await login(auth, root)
    header = jwt.get_unverified_header(root.pair["access_token"])
    assert header["kid"] == new_kid
    jwks = {k["kid"]: k for k in (await auth.get("/.well-known/jwks.json")).json()["keys"]}
    jwt.decode(root.pair["access_token"], jwt.PyJWK(jwks[new_kid]).key, algorithms=["RS256"],
               audience="epv-api", issuer="epv-auth")
    events = await outbox_events(db, "auth.key.rotated", subject=new_kid)
    assert events and events[0]["data"]["previous_kid"] == old_kid


async def test_cli_rotation_is_picked_up_and_private_keys_are_encrypted(auth, system, db):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "epv_auth", "rotate-keys", env=system.service_env("auth"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate()
    assert proc.returncode == 0, out.decode()
    current = await db.fetchval(
        "SELECT kid FROM auth.signing_keys WHERE retired_at IS NULL")
    assert current in out.decode()
    account = await registered_and_logged_in(auth)
    for _ in range(100):  # a replica rechecks its key every few seconds
        if jwt.get_unverified_header(account.pair["access_token"])["kid"] == current:
            break
        await asyncio.sleep(1)
        await login(auth, account)
    assert jwt.get_unverified_header(account.pair["access_token"])["kid"] == current
    for row in await db.fetch("SELECT private_key_encrypted AS k FROM auth.signing_keys"):
        assert b"PRIVATE KEY" not in row["k"]
        assert not row["k"].startswith(b"\x30\x82")  # no bare DER
