"""create_app(settings): the audit service."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from epv_audit import __version__
from epv_audit.api.routes import router
from epv_audit.checkpoints import Checkpointer, start_checkpointing
from epv_audit.events import entry_recorder
from epv_audit.models import SCHEMA, inbox, outbox
from epv_audit.settings import Settings
from epv_audit.verifier import VerifyPool
from epv_common.events.consumer import InboxConsumer
from epv_common.events.relay import asyncpg_dsn
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
        rt.extras["verify_pool"] = None
        if s.audit_verify_workers >= 2:
            pool = VerifyPool(
                workers=s.audit_verify_workers, run_size=s.audit_verify_run,
                dsn=asyncpg_dsn(s.runtime_dsn),
                server_settings={"application_name": "audit-verify",
                                 "statement_timeout": str(s.db_statement_timeout_ms)})
            rt.extras["verify_pool"] = pool
            # A task of the runtime's, so stop_runtime stops the workers with the rest.
            rt._tasks.append(asyncio.create_task(pool.hold(), name="audit-verify-pool"))
        return rt

    return create_service_app(
        settings, title="EPV audit", version=__version__,
        description="The tamper-evident, hash-chained audit trail.",
        start=start, routers=[router])
