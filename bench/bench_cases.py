"""Cases under load through the gateway: 10,000 stored cases of one analyst, then GET one case
and GET a page of 50, by 200 concurrent clients, with the analyst's bearer token.

Two views: a closed loop (wrk, 200 connections, each sending as soon as it has its answer: the
throughput ceiling) and an open loop (200 clients at a fixed offered rate: the latency a user
sees below saturation). Also the cases process's peak memory.

    python -m bench.bench_cases         (also part of `make bench`)

Goal on 2 cores: p99 < 50 ms for one case, < 100 ms for the list.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid

import httpx

from bench.gateway_hop import running_system
from bench.paced import run_paced
from bench.proc import peak_rss_mb, with_cpu
from bench.stats import report
from bench.wrk import run_wrk
from epv_common.testing.shared import shared_dir

CASES = 10_000
CLIENTS = 200
MEASURED = ("gateway", "cases")
SECONDS = 10
DRAIN_S = 2.0
UNLIMITED = {"EPV_RATE_LIMIT_ADDRESS_PER_S": "1000000", "EPV_RATE_LIMIT_ADDRESS_BURST": "1000000",
             "EPV_RATE_LIMIT_USER_PER_S": "1000000", "EPV_RATE_LIMIT_USER_BURST": "1000000"}
VECTORS = shared_dir() / "reference" / "epv-vectors.json"


def realistic_financial_data() -> dict:
    return json.loads(VECTORS.read_text())["cases"][0]["input"]


async def analyst_token(gateway_url: str) -> tuple[str, str]:
    email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
    password = "Bench-Analyst-Passphrase-1"
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
        user = (await client.post("/api/auth/register", json={
            "email": email, "password": password})).json()
        pair = (await client.post("/api/auth/login", json={
            "email": email, "password": password})).json()
    return user["id"], pair["access_token"]


async def seed(sut, owner: str) -> list[str]:
    """10,000 cases with their first version, in two statements (seeding is not measured)."""
    conn = await sut.connect()
    try:
        await conn.execute("""
            INSERT INTO cases.cases (id, owner_id, name, ticker, tags, financial_data, updated_at)
            SELECT gen_random_uuid(), $1, 'Bench case ' || g, 'T' || (g % 100), '{bench}',
                   $3::jsonb, now() - make_interval(secs => g)
            FROM generate_series(1, $2) AS g""", uuid.UUID(owner), CASES,
                           json.dumps(realistic_financial_data()))
        await conn.execute("""
            INSERT INTO cases.case_versions (case_id, version, content, author_id, change)
            SELECT id, 1, jsonb_build_object('name', name), owner_id, 'created'
            FROM cases.cases WHERE owner_id = $1""", uuid.UUID(owner))
        # What autovacuum would have done by the time 10,000 cases exist.
        await conn.execute("ANALYZE cases.cases, cases.case_versions")
        rows = await conn.fetch("SELECT id::text FROM cases.cases WHERE owner_id = $1",
                                uuid.UUID(owner))
        return [r[0] for r in rows]
    finally:
        await conn.close()


async def run() -> dict:
    async with running_system(extra_env=UNLIMITED) as sut:
        owner, token = await analyst_token(sut.gateway_url)
        ids = await seed(sut, owner)
        bearer = {"Authorization": f"Bearer {token}"}
        base = sut.gateway_url + "/api/cases"
        one = ids[len(ids) // 2]
        pick = random.Random(7)

        def get_one(_i: int):
            return "GET", f"{base}/{pick.choice(ids)}", bearer, None

        def get_list(_i: int):
            return "GET", f"{base}?limit=50", bearer, None

        figures = {
            "cases_stored": len(ids), "clients": CLIENTS,
            "closed_loop_get_one": await with_cpu(sut, run_wrk(
                f"{base}/{one}", connections=CLIENTS, seconds=SECONDS, headers=bearer),
                services=MEASURED),
            "closed_loop_list_50": await with_cpu(sut, run_wrk(
                f"{base}?limit=50", connections=CLIENTS, seconds=SECONDS, headers=bearer),
                services=MEASURED),
        }
        # wrk leaves up to CLIENTS requests in flight when it stops; the servers finish
        # them first, and the next phase must not count that backlog as its own latency.
        await asyncio.sleep(DRAIN_S)
        for rate in (100, 200, 300):
            figures[f"paced_get_one_{rate}_per_s"] = await run_paced(
                get_one, rate=rate, seconds=SECONDS, clients=CLIENTS)
        for rate in (50, 100, 150):
            figures[f"paced_list_50_{rate}_per_s"] = await run_paced(
                get_list, rate=rate, seconds=SECONDS, clients=CLIENTS)
        figures["cases_process_peak_rss_mb"] = peak_rss_mb(sut.services["cases"].process.pid)
    figures["goals"] = "p99 < 50 ms for one case, < 100 ms for the list (200 clients, 2 cores)"
    report("cases", figures)
    return figures


if __name__ == "__main__":
    asyncio.run(run())
