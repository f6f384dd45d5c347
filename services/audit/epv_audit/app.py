"""create_app(settings): the audit service."""

from __future__ import annotations

from fastapi import FastAPI

from epv_audit import __version__
from epv_audit.api.routes import router
from epv_audit.checkpoints import Checkpointer, start_checkpointing
from epv_audit.events import entry_recorder
from epv_audit.models import SCHEMA, inbox, outbox
from epv_audit.settings import Settings
from epv_common.events.consumer import InboxConsumer
from epv_common.runtime import Runtime, start_runtime
from epv_common.service_app import create_service_app


def create_app(settings: Settings) -> FastAPI:
    async def start(s: Settings) -> Runtime:
        checkpointer = Checkpointer(s.signing_key(), every=s.audit_checkpoint_every,
                                    interval_s=s.audit_checkpoint_interval_s)
        rt = await start_runtime(
            s, schema=SCHEMA, outbox=outbox, use_redis=True,
            consumers=lambda rt: [InboxConsumer(
                consumer="audit", settings=s, uow_factory=rt.uow, inbox=inbox,
                batch_handler=entry_recorder(checkpointer), routing_keys=["#"])])
        rt.extras["checkpointer"] = checkpointer
        # In the runtime's task list, so stop_runtime cancels it with the rest.
        rt._tasks.append(await start_checkpointing(checkpointer, rt.uow))
        return rt

    return create_service_app(
        settings, title="EPV audit", version=__version__,
        description="The tamper-evident, hash-chained audit trail.",
        start=start, routers=[router])
