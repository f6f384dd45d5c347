"""Cases service under load: 10,000 cases of one owner, then GET one case and GET a page of 50
at 200 concurrent connections (wrk, straight to the cases service with gateway-style identity
headers), printing p50/p95/p99 and requests/s.

    .venv/bin/python -m bench.bench_cases
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import uuid
from pathlib import Path

from bench.gateway_hop import running_system
from bench.stats import report
from bench.wrk import require_wrk

CASES = 10_000
CONNECTIONS = 200
SECONDS = 10

LUA = """
init = function(args)
  for i = 1, #args, 2 do wrk.headers[args[i]] = args[i + 1] end
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write("WRKJSON " .. string.format(
    '{"requests": %d, "duration_s": %.3f, "errors": %d, "non_2xx_3xx": %d, '
    .. '"p50_ms": %.3f, "p95_ms": %.3f, "p99_ms": %.3f}',
    summary.requests, summary.duration / 1e6, e.connect + e.read + e.write + e.timeout,
    e.status, latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000) .. "\\n")
end
"""


async def wrk(url: str, headers: dict[str, str]) -> dict:
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(LUA)
    args = [require_wrk(), "-t2", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--timeout", "5s",
            "-s", str(script), url, "--"]
    for key, value in headers.items():
        args += [key, value]
    proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate()
    script.unlink(missing_ok=True)
    for line in out.decode().splitlines():
        if line.startswith("WRKJSON "):
            result = json.loads(line.removeprefix("WRKJSON "))
            result["requests_per_s"] = round(result["requests"] / result["duration_s"], 1)
            return result
    raise RuntimeError(f"wrk printed no report:\n{out.decode()}")


async def seed(sut, owner: uuid.UUID) -> uuid.UUID:
    """10,000 cases with their first version, written in one statement each (seeding, not the
    thing measured)."""
    conn = await sut.connect()
    try:
        await conn.execute("""
            INSERT INTO cases.cases (id, owner_id, name, ticker, tags, financial_data,
                                     updated_at)
            SELECT gen_random_uuid(), $1, 'Bench case ' || g, 'T' || (g % 100), '{bench}',
                   jsonb_build_object('company', jsonb_build_object('name', 'Co ' || g),
                                      'fiscal_years', '[]'::jsonb, 'assumptions', '{}'::jsonb),
                   now() - make_interval(secs => g)
            FROM generate_series(1, $2) AS g""", owner, CASES)
        await conn.execute("""
            INSERT INTO cases.case_versions (case_id, version, content, author_id, change)
            SELECT id, 1, jsonb_build_object('name', name), owner_id, 'created'
            FROM cases.cases WHERE owner_id = $1""", owner)
        return await conn.fetchval("SELECT id FROM cases.cases WHERE owner_id = $1 "
                                   "ORDER BY updated_at DESC OFFSET 5000 LIMIT 1", owner)
    finally:
        await conn.close()


async def run() -> dict:
    async with running_system() as sut:
        owner = uuid.uuid4()
        one = await seed(sut, owner)
        headers = sut.internal_headers(user_id=str(owner))
        base = sut.url("cases") + "/api/cases"
        figures = {
            "cases": CASES, "connections": CONNECTIONS, "seconds": SECONDS,
            "get_one": await wrk(f"{base}/{one}", headers),
            "list_50": await wrk(f"{base}?limit=50", headers),
        }
    report("bench_cases", figures)
    return figures


if __name__ == "__main__":
    asyncio.run(run())
