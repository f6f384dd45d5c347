"""/api/health: every service's own health, and PostgreSQL, Redis and RabbitMQ.

The gateway has no database role of its own, so PostgreSQL's status is what the services
report of it; Redis and RabbitMQ it checks itself as well.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import orjson

from epv_common.health import DEGRADED, DOWN, UP, run_check

DEPENDENCIES = ("postgres", "redis", "rabbitmq")


async def service_health(session: aiohttp.ClientSession, name: str, base_url: str,
                         timeout_s: float) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        async with session.get(base_url + "/health",
                               timeout=aiohttp.ClientTimeout(total=timeout_s)) as resp:
            report = orjson.loads(await resp.read())
        status = report.get("status", DOWN)
        error = None
    except TimeoutError:
        report, status, error = {}, DOWN, f"no answer within {timeout_s:.1f} s"
    except (aiohttp.ClientError, OSError, orjson.JSONDecodeError) as exc:
        report, status, error = {}, DOWN, type(exc).__name__
    result = {"status": status, "latency_ms": round((time.perf_counter() - started) * 1000, 2),
              "checks": report.get("checks", {})}
    if error:
        result["error"] = error
    return result


def dependency_view(services: dict[str, dict[str, Any]], own: dict[str, dict[str, Any]]
                    ) -> dict[str, dict[str, Any]]:
    """Each dependency as the gateway and the services that answered see it (worst wins)."""
    view = {}
    for dep in DEPENDENCIES:
        seen = [s["checks"][dep] for s in services.values() if dep in s.get("checks", {})]
        if dep in own:
            seen.append(own[dep])
        if not seen:
            view[dep] = {"status": DOWN, "error": "no service could report it"}
            continue
        worst = DOWN if any(c["status"] == DOWN for c in seen) else (
            DEGRADED if any(c["status"] != UP for c in seen) else UP)
        view[dep] = {"status": worst, "latency_ms": max(c.get("latency_ms", 0) for c in seen),
                     "reported_by": len(seen)}
    return view


async def system_health(session: aiohttp.ClientSession, urls: dict[str, str], *,
                        own_checks: dict, timeout_s: float) -> dict[str, Any]:
    names = list(urls)
    reports, own = await asyncio.gather(
        asyncio.gather(*(service_health(session, n, urls[n], timeout_s) for n in names)),
        asyncio.gather(*(run_check(c, timeout_s=timeout_s) for c in own_checks.values())),
    )
    services = dict(zip(names, reports, strict=True))
    own_by_name = dict(zip(own_checks, own, strict=True))
    services["gateway"] = {"status": UP if all(c["status"] == UP for c in own) else DEGRADED,
                           "latency_ms": 0.0, "checks": own_by_name}
    dependencies = dependency_view(services, own_by_name)
    statuses = [s["status"] for s in services.values()] + [d["status"] for d in dependencies.values()]
    overall = UP if all(s == UP for s in statuses) else (
        DOWN if all(s == DOWN for s in statuses) else DEGRADED)
    return {"status": overall, "services": services, "dependencies": dependencies}
