"""create_app(settings): the market-data service."""

from __future__ import annotations

from fastapi import FastAPI

from epv_common.runtime import Runtime, start_runtime
from epv_common.service_app import create_service_app
from epv_marketdata import __version__
from epv_marketdata.models import SCHEMA, outbox
from epv_marketdata.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    async def start(s: Settings) -> Runtime:
        return await start_runtime(s, schema=SCHEMA, outbox=outbox, use_redis=True)

    return create_service_app(
        settings, title="EPV market data", version=__version__,
        description="Market data from Alpha Vantage and Finnhub, cached and classified.",
        start=start, routers=[], optional_health=frozenset({"redis"}))
