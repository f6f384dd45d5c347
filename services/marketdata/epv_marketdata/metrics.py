"""Prometheus metrics of the market-data service (served by the common /metrics endpoint)."""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

CACHE = Counter("epv_marketdata_cache_lookups_total", "Cache lookups by data type and result",
                ["type", "result"])
PROVIDER_CALLS = Counter("epv_marketdata_provider_calls_total",
                         "Provider calls by provider, data type and outcome",
                         ["provider", "type", "outcome"])
PROVIDER_LATENCY = Histogram("epv_marketdata_provider_call_seconds", "Provider call duration",
                             ["provider", "type"],
                             buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
PROVIDER_SKIPS = Counter("epv_marketdata_provider_skips_total",
                         "Providers skipped (throttle window or our rate limit)",
                         ["provider", "reason"])
STALE_SERVED = Counter("epv_marketdata_stale_served_total", "Last good values served stale",
                       ["type"])
SINGLEFLIGHT_WAITS = Counter("epv_marketdata_singleflight_waits_total",
                             "Misses that waited for another replica's fetch", ["type"])
SINGLEFLIGHT_TIMEOUTS = Counter("epv_marketdata_singleflight_timeouts_total",
                                "Waits that timed out and fetched without the lock", ["type"])
LOOKUP_BATCH = Histogram("epv_marketdata_cache_lookup_batch_size",
                         "Cache lookups sent to Redis in one round trip",
                         buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256))
REDIS_ERRORS = Counter("epv_marketdata_redis_errors_total", "Redis operations that failed",
                       ["operation"])

# The common epv_http_request_duration_seconds has 2-5-10-25 ms buckets and no cache outcome,
# too coarse to tell a 20 ms goal apart; this one is fine below 20 ms and says hit/miss/stale.
ANSWER_LATENCY = Histogram(
    "epv_marketdata_answer_seconds",
    "Market-data answers (GET /api/market-data, 2xx) by data type and cache outcome, timed "
    "from the request entering the app's middleware to its last response byte handed to "
    "the server",
    ["type", "cache"],
    buckets=(0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.004, 0.005, 0.0075,
             0.01, 0.0125, 0.015, 0.0175, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15,
             0.2, 0.3, 0.5, 1, 2.5, 5, 10),
)


def mark_answer(request: Request, *, data_type: str, cache: str) -> None:
    """Labels this request's entry in ANSWER_LATENCY (cache: hit | miss | stale)."""
    # request.state writes into scope["state"], which AnswerTimingMiddleware reads back.
    request.state.marketdata_answer = (data_type, cache)


class AnswerTimingMiddleware:
    """Times the requests a handler marked with mark_answer; the outermost of our middleware.

    Covers our middleware, routing, dependencies, the handler, Redis and the response
    writes. Not covered: the kernel's socket queue, uvicorn's HTTP parsing, the wait for the
    event loop to start the request's task, and FastAPI's own outer error wrappers.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state = scope.setdefault("state", {})
        await self.app(scope, receive, send)
        outcome = state.get("marketdata_answer")
        if outcome is not None:
            ANSWER_LATENCY.labels(*outcome).observe(time.perf_counter() - started)
