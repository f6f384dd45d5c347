"""A GET through the gateway beside the same GET sent straight to the service, at 16 and 64
connections, against the whole system running as real processes.

Measured here before: a bare aiohttp proxy hop keeps 43-53% of direct throughput.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from bench.stats import report
from bench.wrk import run_wrk
from epv_common.testing.backends import local_backends
from epv_common.testing.system import System

SECONDS = 10
UNLIMITED = {"EPV_RATE_LIMIT_ADDRESS_PER_S": "1000000", "EPV_RATE_LIMIT_ADDRESS_BURST": "1000000"}


@contextlib.asynccontextmanager
async def running_system(extra_env: dict[str, str] | None = None) -> AsyncIterator[System]:
    sut = System(
        backends=local_backends(),
        workdir=Path(tempfile.mkdtemp(prefix="epv-bench-")),
        extra_env={"EPV_LOG_LEVEL": "WARNING", **(extra_env or {})},
    )
    try:
        await sut.prepare()
        await sut.start()
        yield sut
    finally:
        await sut.stop()


async def compare(
    sut: System,
    path: str,
    *,
    service: str,
    connections: int,
    headers: dict[str, str] | None = None,
    direct_headers: dict[str, str] | None = None,
) -> dict:
    direct = await run_wrk(
        sut.url(service) + path, connections=connections, seconds=SECONDS, headers=direct_headers or headers
    )
    gateway = await run_wrk(sut.gateway_url + path, connections=connections, seconds=SECONDS, headers=headers)
    return {
        "direct": direct,
        "gateway": gateway,
        "gateway_to_direct_throughput": round(gateway["requests_per_s"] / direct["requests_per_s"], 3),
        "added_p50_ms": round(gateway["p50_ms"] - direct["p50_ms"], 2),
    }


async def run() -> dict:
    async with running_system(extra_env=UNLIMITED) as sut:
        # A public GET: the gateway proxies it with no token check (the bare hop).
        path = "/.well-known/jwks.json"
        figures = {"path": f"GET {path} (public: the bare proxy hop, answered by auth)"}
        for connections in (16, 64):
            figures[f"c{connections}"] = await compare(sut, path, service="auth", connections=connections)
    report("gateway_hop", figures)
    return figures


if __name__ == "__main__":
    asyncio.run(run())
