"""POST /api/cases/{id}/analyses under load: 50 concurrent clients (wrk, keep-alive) running
the EPV engine on a 5-year case and storing the whole analysis (inputs, every figure, the
sensitivity grid, the outbox event) in one transaction. Goal: p99 < 100 ms.

Straight to the cases service with gateway-style identity headers: the gateway's token path
was not finished when this was written, so the hop is not included (bench/gateway_hop.py
measures that hop on its own). The engine alone is timed in the same run as the baseline.

    .venv/bin/python -m bench.bench_analyses        (or: .venv/bin/python bench/bench_analyses.py)
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench` and the services importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402

from bench.gateway_hop import running_system  # noqa: E402
from epv_common.testing.shared import shared_dir  # noqa: E402
from bench.stats import report  # noqa: E402
from bench.wrk import run_wrk  # noqa: E402
from epv_cases.engine import analyse  # noqa: E402

CONNECTIONS = 50
SECONDS = 10
GOAL_P99_MS = 100.0
VECTORS = shared_dir() / "reference" / "epv-vectors.json"

def steady_consumer() -> dict:
    vectors = json.loads(VECTORS.read_text())
    return next(v["input"] for v in vectors["cases"] if v["id"] == "steady-consumer")


def engine_runs_per_s(document: dict, seconds: float = 1.0) -> float:
    runs, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        analyse(document)
        runs += 1
    return runs / (time.perf_counter() - start)


async def run() -> dict:
    document = steady_consumer()
    baseline = engine_runs_per_s(document)
    async with running_system() as sut:
        owner = str(uuid.uuid4())
        headers = sut.internal_headers(user_id=owner)
        async with httpx.AsyncClient(base_url=sut.url("cases"), headers=headers) as client:
            created = await client.post("/api/cases", json={"name": "Bench analyses",
                                                            "financial_data": document})
            created.raise_for_status()
            url = f"/api/cases/{created.json()['id']}/analyses"
            (await client.post(url, json={})).raise_for_status()  # warm the path once
        # Baseline in the same run and on the same machine load: GET of the case itself.
        case_get = await run_wrk(sut.url("cases") + f"/api/cases/{created.json()['id']}",
                                 connections=CONNECTIONS, seconds=SECONDS, threads=2,
                                 headers=headers)
        result = await run_wrk(sut.url("cases") + url, connections=CONNECTIONS, seconds=SECONDS,
                               threads=2, method="POST", body="{}",
                               headers={**headers, "Content-Type": "application/json"})
        conn = await sut.connect()
        try:
            stored = await conn.fetchval("SELECT count(*) FROM cases.analyses WHERE case_id = $1",
                                         uuid.UUID(created.json()["id"]))
        finally:
            await conn.close()
    figures = {
        "path": "direct to cases (no gateway hop)",
        "connections": CONNECTIONS, "seconds": SECONDS,
        "post_analysis": result,
        "analyses_stored": stored,
        "baseline_get_case": case_get,
        "throughput_vs_get_case": round(result["requests_per_s"] / case_get["requests_per_s"], 2),
        "engine_alone_runs_per_s": round(baseline),
        "goal_p99_ms": GOAL_P99_MS,
        "goal_met": result["p99_ms"] < GOAL_P99_MS and result["non_2xx_3xx"] == 0,
    }
    report("bench_analyses", figures)
    return figures


if __name__ == "__main__":
    asyncio.run(run())
