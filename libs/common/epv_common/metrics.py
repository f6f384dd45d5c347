"""Prometheus metrics: request latency by route template, and the /metrics endpoint."""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

REQUEST_LATENCY = Histogram(
    "epv_http_request_duration_seconds", "HTTP request latency",
    ["service", "method", "route", "status"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
OUTBOX_BACKLOG = Gauge("epv_outbox_backlog", "Outbox events not yet confirmed by the broker",
                       ["service"])
OUTBOX_OLDEST_AGE = Gauge("epv_outbox_oldest_age_seconds", "Age of the oldest unsent event",
                          ["service"])
OUTBOX_PUBLISHED = Counter("epv_outbox_published_total", "Events confirmed by the broker",
                           ["service"])
OUTBOX_FAILED = Counter("epv_outbox_publish_failures_total", "Publish attempts that failed",
                        ["service", "reason"])
CONSUMED = Counter("epv_events_consumed_total", "Events consumed",
                   ["service", "type", "outcome"])
CONSUMER_LAG = Histogram("epv_consumer_lag_seconds", "Event time to consumer effect",
                         ["service"], buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60))


def _route_template(scope: Scope) -> str:
    app = scope.get("app")
    router = getattr(app, "router", None)
    for route in getattr(router, "routes", ()):
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return getattr(route, "path", scope["path"])
    return "unmatched"


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, *, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == "/metrics":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or _route_template(scope)
            REQUEST_LATENCY.labels(self.service, scope["method"], template, str(status)).observe(
                time.perf_counter() - started)


async def metrics_endpoint(_request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


# Metrics are Prometheus (above) and traces carry traceparent (epv_common.requestctx):
# FastAPI's built-in OpenTelemetry checks its providers on every request (2-3% of a cached
# market-data answer, profiled) for nothing while none is configured. Apps pass this as
# FastAPI(telemetry=...).
NO_OPENTELEMETRY = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}
