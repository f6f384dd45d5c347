"""create_app(settings): the audit service."""

from __future__ import annotations

from fastapi import FastAPI

from epv_audit import __version__
from epv_audit.api.routes import router
from epv_audit.events import record_entries
from epv_audit.models import SCHEMA, inbox, outbox
from epv_audit.settings import Settings
from epv_common.events.consumer import InboxConsumer
from epv_common.runtime import Runtime, start_runtime
from epv_common.service_app import create_service_app


def create_app(settings: Settings) -> FastAPI:
    async def start(s: Settings) -> Runtime:
        return await start_runtime(
            s, schema=SCHEMA, outbox=outbox, use_redis=True,
            consumers=lambda rt: [InboxConsumer(
                consumer="audit", settings=s, uow_factory=rt.uow, inbox=inbox,
                batch_handler=record_entries, routing_keys=["#"])])

    return create_service_app(
        settings, title="EPV audit", version=__version__,
        description="The tamper-evident, hash-chained audit trail.",
        start=start, routers=[router])
