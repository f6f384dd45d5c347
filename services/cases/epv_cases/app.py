"""create_app(settings): the cases service."""

from __future__ import annotations

from fastapi import FastAPI

from epv_cases import __version__
from epv_cases.api import analyses_routes
from epv_cases.api.routes import migrate_router, router
from epv_cases.events import HANDLERS
from epv_cases.models import SCHEMA, inbox, outbox
from epv_cases.settings import Settings
from epv_common.events.consumer import InboxConsumer
from epv_common.runtime import Runtime, start_runtime
from epv_common.service_app import create_service_app


def create_app(settings: Settings) -> FastAPI:
    async def start(s: Settings) -> Runtime:
        return await start_runtime(
            s, schema=SCHEMA, outbox=outbox, use_redis=True,
            consumers=lambda rt: [InboxConsumer(
                consumer="cases", settings=s, uow_factory=rt.uow, inbox=inbox,
                handlers=HANDLERS)])

    app = create_service_app(
        settings, title="EPV cases", version=__version__,
        description="Valuation cases, versions, sharing, analyses and the legacy import.",
        start=start, routers=[router, analyses_routes.router, migrate_router])
    return app
