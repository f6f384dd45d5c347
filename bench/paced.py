"""Latency at a fixed offered rate (an open loop), from many concurrent clients.

Requests are scheduled at `rate` per second whatever the answers do; a request that cannot
start on time (all `clients` busy) waits, and its latency counts from its scheduled start, so
a stall shows in the figures instead of silently lowering the load (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from bench.stats import summary_ms

RequestSpec = Callable[[int], tuple[str, str, dict[str, str], Any]]  # method, url, headers, json


async def run_paced(spec: RequestSpec, *, rate: float, seconds: float, clients: int) -> dict:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0
    slots = asyncio.Semaphore(clients)
    connector = aiohttp.TCPConnector(limit=clients, limit_per_host=clients)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(i: int, scheduled: float) -> None:
            nonlocal errors
            async with slots:
                method, url, headers, body = spec(i)
                try:
                    async with session.request(method, url, headers=headers, json=body,
                                               timeout=aiohttp.ClientTimeout(total=30)) as resp:
                        await resp.read()
                        statuses[resp.status] = statuses.get(resp.status, 0) + 1
                except (aiohttp.ClientError, TimeoutError):
                    errors += 1
                    return
            latencies.append(time.perf_counter() - scheduled)

        total = int(rate * seconds)
        started = time.perf_counter()
        tasks = []
        for i in range(total):
            scheduled = started + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i, scheduled)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
    return {"offered_per_s": rate, "clients": clients, "requests": total,
            "completed_per_s": round(len(latencies) / elapsed, 1), "errors": errors,
            "statuses": statuses, **summary_ms(latencies)}
