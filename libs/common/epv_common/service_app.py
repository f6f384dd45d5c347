"""The FastAPI app every service is built on: middleware, problem handlers, /health, /metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response

from epv_common.bodyguard import BodyGuardMiddleware
from epv_common.gctuning import freeze_startup_heap
from epv_common.health import DOWN, check_all
from epv_common.logging import configure_logging
from epv_common.metrics import NO_OPENTELEMETRY, MetricsMiddleware, metrics_endpoint
from epv_common.problems import install_problem_handlers
from epv_common.requestctx import RequestContextMiddleware
from epv_common.runtime import Runtime, stop_runtime
from epv_common.settings import ServiceSettings

RuntimeFactory = Callable[[ServiceSettings], Awaitable[Runtime]]


def create_service_app(
    settings: ServiceSettings, *, title: str, description: str, version: str,
    start: RuntimeFactory, routers: list[APIRouter], optional_health: frozenset[str] = frozenset(),
    on_started: Callable[[FastAPI, Runtime], Awaitable[None]] | None = None,
) -> FastAPI:
    configure_logging(service=settings.service_name, level=settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await start(settings)
        app.state.runtime = runtime
        app.state.settings = settings
        if on_started is not None:
            await on_started(app, runtime)
        freeze_startup_heap(settings.gc_young_threshold)
        try:
            yield
        finally:
            await stop_runtime(runtime)

    # FastAPI's default response class is kept on purpose: with it, a route's response model
    # is serialized straight to JSON bytes by pydantic (NaN and infinities as null). Every
    # route either has a model or builds its own Response (orjson), so none falls back to
    # json.dumps, which would refuse NaN.
    app = FastAPI(title=title, description=description, version=version, lifespan=lifespan,
                  docs_url=None, redoc_url=None, telemetry=NO_OPENTELEMETRY)
    install_problem_handlers(app)
    app.add_middleware(BodyGuardMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, service=settings.service_name)
    app.add_middleware(RequestContextMiddleware)

    @app.get("/health", include_in_schema=False)
    async def service_health(request: Request) -> Response:
        runtime: Runtime = request.app.state.runtime
        report: dict[str, Any] = await check_all(
            runtime.health_checks(), timeout_s=settings.health_timeout_s, optional=optional_health)
        report["service"] = settings.service_name
        report["version"] = version
        return Response(orjson.dumps(report), status_code=503 if report["status"] == DOWN else 200,
                        media_type="application/json")

    app.add_api_route("/metrics", metrics_endpoint, include_in_schema=False)
    for router in routers:
        app.include_router(router)
    return app
