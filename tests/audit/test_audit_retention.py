"""Grants and retention, on an isolated chain: the runtime role appends and reads entries but
never rewrites them; retention cuts only behind a signed checkpoint, and the rest verifies."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import httpx
import orjson
import pytest
import pytest_asyncio

from tests.audit.auditkit import IsolatedAudit, isolated_audit
from tests.conftest import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def iso(system) -> AsyncIterator[IsolatedAudit]:
    async with isolated_audit(system) as chain:
        await chain.seed(30, per_batch=6)
        yield chain


async def test_the_runtime_role_may_append_and_read_but_never_rewrite(iso):
    conn = await iso.connect("epv_audit")
    try:
        assert await conn.fetchval("SELECT count(*) FROM audit.entries") > 0
        for statement in ("UPDATE audit.entries SET actor_id = 'x'", "DELETE FROM audit.entries",
                          "TRUNCATE audit.entries", "UPDATE audit.checkpoints SET seq = seq",
                          "DELETE FROM audit.checkpoints",
                          "INSERT INTO audit.retention_cuts (cut_seq, head_hash, cutoff, deleted) "
                          "VALUES (1, 'x', now(), 0)"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(statement)
        privileges = await conn.fetchrow(
            "SELECT has_table_privilege('audit.entries', 'INSERT') AS ins, "
            "has_table_privilege('audit.entries', 'SELECT') AS sel, "
            "has_function_privilege('audit.apply_retention(timestamptz, bigint)', 'EXECUTE') "
            "AS ret")
        assert tuple(privileges) == (True, True, True)
    finally:
        await conn.close()


async def retain(iso: IsolatedAudit, before: str, role: str = "SUPER_ADMIN") -> httpx.Response:
    async with httpx.AsyncClient(timeout=60) as client:
        return await client.post(iso.url + "/api/audit/retention", json={"before": before},
                                 headers=iso.headers(role))


async def test_retention_refuses_a_chain_that_does_not_verify(iso):
    conn = await iso.connect()
    try:
        original = await conn.fetchval("SELECT actor_id FROM audit.entries WHERE seq = 2")
        await conn.execute("UPDATE audit.entries SET actor_id = 'forged' WHERE seq = 2")
        r = await retain(iso, datetime.now(UTC).isoformat())
        assert r.status_code == 409 and r.json()["verification"]["seq"] == 2, r.text
        assert await conn.fetchval("SELECT min(seq) FROM audit.entries") == 1
        await conn.execute("UPDATE audit.entries SET actor_id = $1 WHERE seq = 2", original)
    finally:
        await conn.close()


async def test_retention_cuts_at_a_checkpoint_and_the_rest_verifies(iso, tmp_path):
    assert (await retain(iso, "2000-01-01T00:00:00Z")).json() == {
        "cut_seq": None, "deleted": 0, "retained_from": None}
    assert (await retain(iso, datetime.now(UTC).isoformat(), role="ADMIN")).status_code == 403

    conn = await iso.connect()
    try:
        head = await conn.fetchval("SELECT seq FROM audit.chain_head")
        cps = [r["seq"] for r in await conn.fetch("SELECT seq FROM audit.checkpoints")]
        r = await retain(iso, datetime.now(UTC).isoformat())
        assert r.status_code == 200, r.text
        cut = r.json()
        assert cut["cut_seq"] in cps and cut["cut_seq"] <= head
        assert cut["deleted"] == cut["cut_seq"] and cut["retained_from"] == cut["cut_seq"] + 1
        assert await conn.fetchval("SELECT min(seq) FROM audit.entries") == cut["cut_seq"] + 1
        # the checkpoint it cut at stays, so what remains is still anchored
        assert await conn.fetchval("SELECT 1 FROM audit.checkpoints WHERE seq = $1",
                                   cut["cut_seq"])
    finally:
        await conn.close()
    result = await iso.verify()
    assert result["ok"] and result["anchored_start"], result
    assert result["first_seq"] == cut["cut_seq"] + 1 == result["retained_from"]

    # The retention event comes back as a (security) entry; the remaining chain still exports
    # and verifies offline from the retained checkpoint.
    async def retention_entries():
        async with httpx.AsyncClient(timeout=60) as client:
            r = await client.get(iso.url + "/api/audit/logs", headers=iso.headers(),
                                 params={"type": "audit.retention.applied"})
            return r.json()["items"]

    [entry] = await eventually(retention_entries, until=len)
    await iso.seed(6, per_batch=6)  # so a checkpoint signs entries after the cut too
    async with httpx.AsyncClient(timeout=60) as client:
        assert entry["security"] and entry["event"]["data"]["cut_seq"] == cut["cut_seq"]
        exported = await client.get(iso.url + "/api/audit/export", headers=iso.headers())
        cps = (await client.get(iso.url + "/api/audit/checkpoints", headers=iso.headers(),
                                params={"limit": 200})).json()["items"]
        keys = (await client.get(iso.url + "/api/audit/keys")).json()
    assert orjson.loads(exported.content.splitlines()[0])["seq"] == cut["cut_seq"] + 1
    (tmp_path / "e.ndjson").write_bytes(exported.content)
    (tmp_path / "cps.json").write_bytes(orjson.dumps(cps))
    (tmp_path / "keys.json").write_bytes(orjson.dumps(keys))
    out = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "epv_common.auditchain", str(tmp_path / "e.ndjson"),
                         "--checkpoint", str(tmp_path / "cps.json"), "--public-key",
                         str(tmp_path / "keys.json")], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "note: the export starts" not in out.stdout  # anchored by the retained checkpoint


async def test_the_retention_cli(iso):
    await iso.seed(36, per_batch=6)  # a few more rounds, so there is a later checkpoint
    conn = await iso.connect()
    try:
        before = await conn.fetchval("SELECT max(cut_seq) FROM audit.retention_cuts")
    finally:
        await conn.close()
    env = {**iso.process.env}
    proc = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "epv_audit", "retention", "--before",
                         datetime.now(UTC).isoformat()], env=env, capture_output=True, text=True,
        timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    cut = orjson.loads(proc.stdout)
    assert cut["cut_seq"] > before
    result = await iso.verify()
    assert result["ok"] and result["first_seq"] == cut["cut_seq"] + 1, result
