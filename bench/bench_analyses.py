"""POST /api/cases/{id}/analyses under load, through the gateway with an analyst's bearer token:
the EPV engine on a 5-year case, and the whole analysis (inputs, every figure, the sensitivity
grid) stored atomically with its outbox event. Goal on 2 cores: p99 < 100 ms at 50 clients.

Three views, each with the CPU spent per request by the cases, gateway and audit processes
and by PostgreSQL's backends of this run's database, from /proc/<pid>/stat around the run
(less sensitive to other load on the machine than latency is):
- closed loop through the gateway (wrk, 50 connections, each sending as soon as it has its
  answer): the throughput ceiling; at saturation latency is about clients / throughput;
- the same closed loop straight to the cases service, to tell the hop from the service;
- open loop through the gateway (50 clients at fixed offered rates, bench/paced.py): the
  latency a user sees below saturation.
Each phase starts once the last one's events are published and consumed (audit's inbox), so
no phase pays for another's backlog. The engine alone is timed in the same run as the baseline.

    .venv/bin/python -m bench analyses       (or: .venv/bin/python -m bench.bench_analyses)
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid
from collections.abc import Awaitable
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench` and the services importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402

from bench.bench_cases import UNLIMITED, analyst_token  # noqa: E402
from bench.gateway_hop import running_system  # noqa: E402
from bench.paced import run_paced  # noqa: E402
from bench.proc import with_cpu  # noqa: E402
from bench.stats import report  # noqa: E402
from bench.wrk import run_wrk  # noqa: E402
from epv_cases.engine import analyse  # noqa: E402
from epv_common.testing.shared import shared_dir  # noqa: E402

CONNECTIONS = 50
SECONDS = 10
PACED_RATES = (100, 200)
GOAL_P99_MS = 100.0
MEASURED = ("cases", "gateway", "audit")  # audit consumes every analysis.completed
VECTORS = shared_dir() / "reference" / "epv-vectors.json"
SETTLE_TIMEOUT_S = 120
_BACKLOG = """
    SELECT (SELECT count(*) FROM cases.outbox WHERE sent_at IS NULL)
         + (SELECT count(*) FROM cases.outbox WHERE event_type = 'analysis.completed')
         - (SELECT count(*) FROM audit.inbox WHERE event_type = 'analysis.completed')"""


def steady_consumer() -> dict:
    vectors = json.loads(VECTORS.read_text())
    return next(v["input"] for v in vectors["cases"] if v["id"] == "steady-consumer")


def engine_runs_per_s(document: dict, seconds: float = 1.0) -> float:
    runs, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        analyse(document)
        runs += 1
    return runs / (time.perf_counter() - start)


async def settle(sut) -> bool:
    """Waits until every analysis.completed event so far has been published and consumed by
    audit, so that one phase's backlog does not load the next phase's figures."""
    conn = await sut.connect()
    try:
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while time.monotonic() < deadline:
            if await conn.fetchval(_BACKLOG) == 0:
                return True
            await asyncio.sleep(0.25)
        return False
    finally:
        await conn.close()


async def settled_with_cpu(sut, run: Awaitable[dict], *, client_in_process: bool = False
                          ) -> dict:
    """with_cpu over MEASURED, started from a settled system."""
    settled = await settle(sut)
    figures = await with_cpu(sut, run, services=MEASURED,
                             client_in_process=client_in_process)
    figures["started_settled"] = settled
    return figures


def closed_loop_bound(machine_ms_per_request: float) -> dict:
    """What the machine's CPU per request allows a closed loop: at most cores x 1000 / it
    requests per second, so a mean latency of at least clients / that (Little's law), and
    the CPU per request at which that mean alone would reach the goal."""
    cores = os.cpu_count() or 1
    ceiling = cores * 1000 / max(machine_ms_per_request, 1e-9)
    return {"throughput_ceiling_per_s": round(ceiling),
            "closed_loop_mean_floor_ms": round(1000 * CONNECTIONS / ceiling, 1),
            "machine_cpu_ms_per_request_for_goal_mean": round(
                cores * 1000 * GOAL_P99_MS / 1000 / CONNECTIONS, 2)}


async def run() -> dict:
    document = steady_consumer()
    baseline = engine_runs_per_s(document)
    async with running_system(extra_env=UNLIMITED) as sut:
        owner, token = await analyst_token(sut.gateway_url)
        bearer = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=sut.gateway_url, headers=bearer,
                                     timeout=30) as client:
            created = await client.post("/api/cases", json={"name": "Bench analyses",
                                                            "financial_data": document})
            created.raise_for_status()
            case_id = created.json()["id"]
            path = f"/api/cases/{case_id}/analyses"
            for _ in range(20):  # warm the path
                (await client.post(path, json={})).raise_for_status()
        post = {**bearer, "Content-Type": "application/json"}

        def post_analysis(_i: int):
            return "POST", sut.gateway_url + path, bearer, {}

        figures: dict = {"clients": CONNECTIONS, "seconds": SECONDS}
        figures["closed_loop_gateway"] = await settled_with_cpu(sut, run_wrk(
            sut.gateway_url + path, connections=CONNECTIONS, seconds=SECONDS, threads=2,
            method="POST", body="{}", headers=post))
        figures["closed_loop_direct"] = await settled_with_cpu(sut, run_wrk(
            sut.url("cases") + path, connections=CONNECTIONS, seconds=SECONDS, threads=2,
            method="POST", body="{}",
            headers={**sut.internal_headers(user_id=owner),
                     "Content-Type": "application/json"}))
        for rate in PACED_RATES:
            figures[f"paced_gateway_{rate}_per_s"] = await settled_with_cpu(sut, run_paced(
                post_analysis, rate=rate, seconds=SECONDS, clients=CONNECTIONS),
                client_in_process=True)
        conn = await sut.connect()
        try:
            stored = await conn.fetchval("SELECT count(*) FROM cases.analyses WHERE case_id = $1",
                                         uuid.UUID(case_id))
            events = await conn.fetchval(
                "SELECT count(*) FROM cases.outbox WHERE event_type = 'analysis.completed'")
        finally:
            await conn.close()
    closed = figures["closed_loop_gateway"]
    figures.update({
        "analyses_stored": stored,
        "analysis_completed_events": events,
        "engine_alone_runs_per_s": round(baseline),
        "little_law_latency_ms": round(1000 * CONNECTIONS / closed["requests_per_s"], 1),
        **closed_loop_bound(closed["cpu_ms_per_request_whole_machine"]),
        "goal": f"p99 < {GOAL_P99_MS:.0f} ms through the gateway at {CONNECTIONS} clients",
        "goal_met_closed_loop": closed["p99_ms"] < GOAL_P99_MS and closed["non_2xx_3xx"] == 0,
    })
    report("bench_analyses", figures)
    return figures


if __name__ == "__main__":
    asyncio.run(run())
