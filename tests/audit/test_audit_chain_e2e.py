"""Every event exactly once in one gapless chain: through a SIGKILL of the audit process
mid-stream, and with two audit replicas consuming the same queue."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from epv_common.testing.system import ServiceProcess
from epv_common.testing.tcpproxy import free_port
from tests.audit.auditkit import manager, wait_ready
from tests.conftest import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

CASES = 120


async def create_cases(system, n: int, *, tag: str) -> list[str]:
    semaphore = asyncio.Semaphore(16)
    async with httpx.AsyncClient(timeout=30) as client:
        async def one(i: int) -> str:
            async with semaphore:
                r = await client.post(system.url("cases") + "/api/cases",
                                      json={"name": f"{tag} {i}"},
                                      headers=system.internal_headers(user_id=str(uuid.uuid4())))
                assert r.status_code == 201, r.text
                return r.json()["id"]

        return list(await asyncio.gather(*(one(i) for i in range(n))))


async def entry_counts(system, ids: list[str]) -> dict[str, int]:
    conn = await system.connect()
    try:
        rows = await conn.fetch("SELECT entity_id, count(*) AS n FROM audit.entries "
                                "WHERE entity_id = ANY($1::text[]) GROUP BY entity_id", ids)
        return {r["entity_id"]: r["n"] for r in rows}
    finally:
        await conn.close()


async def assert_one_gapless_chain(system) -> None:
    conn = await system.connect()
    try:
        row = await conn.fetchrow("SELECT min(seq) AS lo, max(seq) AS hi, count(*) AS n, "
                                  "count(DISTINCT event_id) AS ids, count(DISTINCT prev_hash) "
                                  "AS links FROM audit.entries")
        head = await conn.fetchval("SELECT seq FROM audit.chain_head")
    finally:
        await conn.close()
    assert row["n"] == row["hi"] - row["lo"] + 1 == row["ids"] == row["links"], dict(row)
    assert row["hi"] == head
    async with httpx.AsyncClient(timeout=60) as client:
        r = await client.get(system.url("audit") + "/api/audit/verify", headers=manager(system))
    assert r.json()["ok"], r.json()


async def test_a_sigkilled_audit_process_loses_and_doubles_nothing(audit):
    system = audit
    svc = system.services["audit"]
    creating = asyncio.create_task(create_cases(system, CASES, tag="kill"))
    # Kill it while entries are being appended.
    await eventually(lambda: _audited_since(system, "kill "), until=lambda n: n >= 10,
                     interval_s=0.02)
    svc.kill()
    ids = await creating
    svc.start()
    await system.wait_healthy()
    counts = await eventually(lambda: entry_counts(system, ids),
                              until=lambda c: len(c) == len(ids), timeout_s=60)
    assert set(counts.values()) == {1}
    await assert_one_gapless_chain(system)


async def _audited_since(system, name_prefix: str) -> int:
    conn = await system.connect()
    try:
        return await conn.fetchval(
            "SELECT count(*) FROM audit.entries WHERE action = 'case.created' "
            "AND (after::jsonb ->> 'name') LIKE $1", name_prefix + "%")
    finally:
        await conn.close()


async def test_two_replicas_append_one_chain(audit):
    system = audit
    env = {**system.services["audit"].env}
    port = free_port()
    env["EPV_PORT"] = str(port)
    second = ServiceProcess(name="audit", port=port, env=env,
                            log_path=system.workdir / "audit-replica-2.log")
    second.start()
    try:
        await wait_ready(second)
        ids = await create_cases(system, CASES, tag="replicas")
        counts = await eventually(lambda: entry_counts(system, ids),
                                  until=lambda c: len(c) == len(ids), timeout_s=60)
        assert set(counts.values()) == {1}
        await assert_one_gapless_chain(system)
        async with httpx.AsyncClient(timeout=60) as client:
            r = await client.get(second.url + "/api/audit/verify", headers=manager(system))
            assert r.json()["ok"], r.json()
            metrics = (await client.get(second.url + "/metrics")).text
        # Both replicas took a share of the queue (the second one's count is in its metrics).
        applied = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                      if line.startswith("epv_events_consumed_total{")
                      and 'outcome="applied"' in line)
        assert 0 < applied < CASES + 50, applied
    finally:
        second.stop()
