"""create_app(settings): the gateway, the one door for clients."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
from fastapi import FastAPI, Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from epv_common.bodyguard import BodyGuardMiddleware
from epv_common.health import DOWN, redis_check
from epv_common.logging import configure_logging
from epv_common.metrics import MetricsMiddleware, metrics_endpoint
from epv_common.problems import http_problem, install_problem_handlers
from epv_common.redis import create_redis
from epv_common.requestctx import RequestContextMiddleware
from epv_gateway import __version__, docs
from epv_gateway.health import system_health
from epv_gateway.openapi import OpenApiMerger
from epv_gateway.proxy import create_session, forward
from epv_gateway.routing import service_for
from epv_gateway.settings import Settings
from epv_gateway.state import GatewayState, amqp_check


def create_app(settings: Settings) -> FastAPI:
    configure_logging(service=settings.service_name, level=settings.log_level)
    urls = settings.service_urls()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        session = create_session(pool_size=settings.upstream_pool_size,
                                 connect_timeout_s=settings.upstream_connect_timeout_s)
        state = GatewayState(settings=settings, session=session, redis=create_redis(settings),
                             openapi=OpenApiMerger(session, urls, ttl_s=settings.openapi_cache_s,
                                                   version=__version__))
        app.state.gateway = state
        try:
            yield
        finally:
            await state.close()

    async def api_health(request: Request) -> Response:
        state: GatewayState = request.app.state.gateway
        report = await system_health(
            state.session, urls, timeout_s=settings.health_timeout_s,
            own_checks={"redis": redis_check(state.redis), "rabbitmq": amqp_check(settings)})
        return Response(orjson.dumps(report), media_type="application/json",
                        status_code=503 if report["status"] == DOWN else 200)

    async def own_health(_request: Request) -> Response:
        return Response(b'{"status":"up","service":"gateway"}', media_type="application/json")

    async def openapi_json(request: Request) -> Response:
        document = await request.app.state.gateway.openapi.document()
        return Response(orjson.dumps(document), media_type="application/json")

    async def proxy(request: Request) -> Response:
        service = service_for(request.url.path)
        if service is None:
            return http_problem(404, f"No route matches {request.method} {request.url.path}.")
        state: GatewayState = request.app.state.gateway
        return await forward(request, session=state.session, base_url=urls[service],
                             service=service, identity={},
                             timeout_s=settings.upstream_timeout_s)

    app = FastAPI(title="EPV gateway", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url=None, routes=[
                      Route("/api/health", api_health, methods=["GET"]),
                      Route("/health", own_health, methods=["GET"]),
                      Route("/metrics", metrics_endpoint, methods=["GET"]),
                      Route("/api/openapi.json", openapi_json, methods=["GET"]),
                      Route("/docs", docs.docs_page, methods=["GET"]),
                      Mount(docs.STATIC_PREFIX, app=docs.static_assets()),
                      Route("/{path:path}", proxy, methods=[
                          "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]),
                  ])
    install_problem_handlers(app)
    app.add_middleware(BodyGuardMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, service=settings.service_name)
    app.add_middleware(RequestContextMiddleware)
    return app
