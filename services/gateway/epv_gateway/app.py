"""create_app(settings): the gateway, the one door for clients."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
import structlog
from fastapi import FastAPI, Request
from redis.exceptions import RedisError
from starlette.responses import Response
from starlette.routing import Mount, Route

from epv_common.bodyguard import BodyGuardMiddleware
from epv_common.gctuning import freeze_startup_heap
from epv_common.health import DOWN, redis_check
from epv_common.identity import (
    HEADER_INTERNAL_TOKEN,
    HEADER_ROLE,
    HEADER_SESSION_ID,
    HEADER_USER_ID,
)
from epv_common.logging import configure_logging
from epv_common.metrics import NO_OPENTELEMETRY, MetricsMiddleware, metrics_endpoint
from epv_common.problems import http_problem, install_problem_handlers, problem_response
from epv_common.redis import create_redis
from epv_common.requestctx import RequestContextMiddleware
from epv_gateway import __version__, docs
from epv_gateway.access import client_address, is_public
from epv_gateway.guard import RateLimits, RequestGuard
from epv_gateway.health import system_health
from epv_gateway.openapi import OpenApiMerger
from epv_gateway.proxy import create_session, forward
from epv_gateway.routing import service_for
from epv_gateway.settings import Settings
from epv_gateway.state import GatewayState, amqp_check
from epv_gateway.tokens import InvalidToken, JwksKeys, TokenVerifier, bearer_token

log = structlog.get_logger("epv.gateway")


async def admit(request: Request, state: GatewayState, *, address: str
                ) -> Response | tuple[dict[str, str], dict[str, str]]:
    """Who the caller is and whether they may pass: identity headers and rate-limit headers
    to forward with the request, or the problem response that refuses it."""
    settings = state.settings
    verified = None
    if not is_public(request.method, request.url.path):
        token = bearer_token(request.headers.get("authorization"))
        if token is None:
            return http_problem(401, "This needs a bearer access token.",
                                headers={"WWW-Authenticate": "Bearer"})
        try:
            verified = await state.verifier.verify(token)
        except InvalidToken as exc:
            return problem_response(
                401, exc.code, exc.title, exc.detail,
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    try:
        verdict = await state.guard.check(
            address=address, user_id=verified.user_id if verified else None,
            session_id=verified.session_id if verified else None)
    except (RedisError, OSError) as exc:
        if verified is None:
            # Anonymous routes stay open without the limiter; auth throttles its own logins.
            log.warning("guard_unavailable_anonymous", error=type(exc).__name__)
            return {}, {}
        return http_problem(503, "Sessions cannot be checked right now; try again shortly.")
    if verdict.revoked:
        return problem_response(
            401, "session-ended", "Session ended", "This session has ended; log in again.",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    limit_headers = {"RateLimit-Limit": str(verdict.limit),
                     "RateLimit-Remaining": str(max(0, verdict.remaining))}
    if not verdict.allowed:
        retry_after = max(1, -(-verdict.retry_after_ms // 1000))
        return http_problem(429, f"Too many requests; retry after {retry_after} s.",
                            headers={**limit_headers, "Retry-After": str(retry_after),
                                     "RateLimit-Reset": str(retry_after)},
                            retry_after=retry_after)
    if verified is None:
        return {}, limit_headers
    identity = {
        HEADER_USER_ID: verified.user_id, HEADER_ROLE: verified.role,
        HEADER_SESSION_ID: verified.session_id,
        HEADER_INTERNAL_TOKEN: settings.internal_token.get_secret_value(),
    }
    return identity, limit_headers


def create_app(settings: Settings) -> FastAPI:
    configure_logging(service=settings.service_name, level=settings.log_level)
    urls = settings.service_urls()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        session = create_session(pool_size=settings.upstream_pool_size,
                                 per_service=settings.upstream_concurrency_per_service,
                                 connect_timeout_s=settings.upstream_connect_timeout_s)
        redis = create_redis(settings)
        keys = JwksKeys(session, settings.auth_url + "/.well-known/jwks.json",
                        min_refetch_s=settings.jwks_min_refetch_s)
        state = GatewayState(
            settings=settings, session=session, redis=redis,
            openapi=OpenApiMerger(session, urls, ttl_s=settings.openapi_cache_s,
                                  version=__version__),
            verifier=TokenVerifier(keys, settings, cache_size=settings.token_cache_size),
            guard=RequestGuard(redis, settings, RateLimits(
                address_per_s=settings.rate_limit_address_per_s,
                address_burst=settings.rate_limit_address_burst,
                user_per_s=settings.rate_limit_user_per_s,
                user_burst=settings.rate_limit_user_burst)))
        app.state.gateway = state
        freeze_startup_heap(settings.gc_young_threshold)
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
        address = client_address(request, trusted_proxy_hops=settings.trusted_proxy_hops)
        admitted = await admit(request, state, address=address)
        if isinstance(admitted, Response):
            return admitted
        identity, limit_headers = admitted
        response = await forward(request, session=state.session, base_url=urls[service],
                                 service=service, identity=identity, address=address,
                                 timeout_s=settings.upstream_timeout_s)
        response.headers.update(limit_headers)
        return response

    app = FastAPI(title="EPV gateway", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url=None, telemetry=NO_OPENTELEMETRY,
                  routes=[
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
