"""Health: each dependency checked concurrently, each with its own timeout."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

Check = Callable[[], Awaitable[Any]]

UP, DEGRADED, DOWN = "up", "degraded", "down"


async def run_check(check: Check, *, timeout_s: float) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check(), timeout_s)
        status, error = UP, None
    except TimeoutError:
        status, error = DOWN, f"no answer within {timeout_s:.1f} s"
    except Exception as exc:  # a health check reports every failure, it never raises
        status, error = DOWN, type(exc).__name__
    result: dict[str, Any] = {
        "status": status, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}
    if error:
        result["error"] = error
    return result


async def check_all(checks: dict[str, Check], *, timeout_s: float,
                    optional: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Runs every check; down when a required one is down, degraded when an optional one is."""
    names = list(checks)
    results = await asyncio.gather(*(run_check(checks[n], timeout_s=timeout_s) for n in names))
    by_name = dict(zip(names, results, strict=True))
    required_down = any(r["status"] != UP for n, r in by_name.items() if n not in optional)
    optional_down = any(r["status"] != UP for n, r in by_name.items() if n in optional)
    overall = DOWN if required_down else DEGRADED if optional_down else UP
    return {"status": overall, "checks": by_name}


def postgres_check(engine: AsyncEngine) -> Check:
    async def check() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    return check


def redis_check(redis) -> Check:
    async def check() -> None:
        await redis.ping()

    return check


def rabbit_check(connection_getter: Callable[[], Any]) -> Check:
    async def check() -> None:
        connection = connection_getter()
        if connection is None or connection.is_closed:
            raise ConnectionError("not connected")

    return check
