"""create_app(settings): the market-data service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from epv_common.runtime import Runtime, start_runtime
from epv_common.service_app import create_service_app
from epv_marketdata import __version__
from epv_marketdata.api.routes import router
from epv_marketdata.cache import Cache
from epv_marketdata.metrics import AnswerTimingMiddleware
from epv_marketdata.models import SCHEMA, outbox
from epv_marketdata.providers import AlphaVantageClient, FinnhubClient, RetryPolicy
from epv_marketdata.service import MarketData
from epv_marketdata.settings import Settings


def build_marketdata(settings: Settings, runtime: Runtime, http: httpx.AsyncClient) -> MarketData:
    retry = RetryPolicy(attempts=settings.provider_retry_attempts,
                        initial_wait=settings.provider_retry_initial_wait_s,
                        max_wait=settings.provider_retry_max_wait_s)
    providers = {
        "alphavantage": AlphaVantageClient(
            http, api_key=settings.alphavantage_api_key.get_secret_value(),
            base_url=settings.alphavantage_base_url, retry=retry,
            min_interval=settings.alphavantage_min_interval_s),
        "finnhub": FinnhubClient(
            http, api_key=settings.finnhub_api_key.get_secret_value(),
            base_url=settings.finnhub_base_url, retry=retry),
    }
    return MarketData(settings=settings, uow=runtime.uow, cache=Cache(runtime.redis, settings),
                      providers=providers)


def create_app(settings: Settings) -> FastAPI:
    async def start(s: Settings) -> Runtime:
        return await start_runtime(s, schema=SCHEMA, outbox=outbox, use_redis=True)

    app = create_service_app(
        settings, title="EPV market data", version=__version__,
        description="Market data from Alpha Vantage and Finnhub, cached and classified.",
        start=start, routers=[router], optional_health=frozenset({"redis"}))
    # Added last, so it wraps the common middleware too (service-side latency of answers).
    app.add_middleware(AnswerTimingMiddleware)

    runtime_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # One shared outbound pool for both providers, closed after the runtime's start.
        async with runtime_lifespan(app):
            limits = httpx.Limits(max_connections=settings.http_max_connections,
                                  max_keepalive_connections=settings.http_max_connections)
            async with httpx.AsyncClient(timeout=settings.provider_timeout_s,
                                         limits=limits) as http:
                app.state.marketdata = build_marketdata(settings, app.state.runtime, http)
                yield

    app.router.lifespan_context = lifespan
    return app
