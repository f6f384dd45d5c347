"""A scratch database and schema for benchmarks of shared mechanisms."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
from sqlalchemy import Column, DateTime, MetaData, Table, Text, func, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from epv_common.bootstrap import with_database
from epv_common.db import UnitOfWorkFactory, make_sessionmaker, uow_factory
from epv_common.events.consumer import InboxConsumer
from epv_common.events.envelope import CloudEvent
from epv_common.events.inbox import inbox_table
from epv_common.events.outbox import outbox_notify_ddl, outbox_table
from epv_common.events.relay import OutboxRelay
from epv_common.settings import ServiceSettings
from epv_common.testing.backends import Backends


@dataclass
class Pipeline:
    schema: str
    dsn: str
    engine: AsyncEngine
    settings: ServiceSettings
    outbox: Table
    inbox: Table
    effects: Table
    uow: UnitOfWorkFactory

    def relay(self) -> OutboxRelay:
        return OutboxRelay(service="cases", schema=self.schema, dsn=self.dsn, settings=self.settings)

    def describe(self) -> dict[str, str]:
        """What another process needs to attach to this pipeline (see attached_pipeline)."""
        return {"dsn": self.dsn, "schema": self.schema,
                "amqp_url": self.settings.amqp_url.get_secret_value(),
                "amqp_prefix": self.settings.amqp_prefix}

    def consumer(self, shape: str = "batch") -> InboxConsumer:
        """The inbox consumer with one of two effect shapes. `batch`: one INSERT for every new
        event of a batch, as the audit service appends (it consumes every event, `#`).
        `per_event`: one INSERT round trip per event, as the low-volume projections do."""
        insert_effects = text(
            f"INSERT INTO {self.effects.fullname} (event_id, event_time) "
            "SELECT * FROM unnest(CAST(:ids AS text[]), CAST(:times AS text[]))")

        async def effect(event: CloudEvent, uow) -> None:
            await uow.session.execute(insert_effects, {"ids": [event.id], "times": [event.time]})

        async def effects(events: list[CloudEvent], uow) -> None:
            await uow.session.execute(insert_effects, {
                "ids": [e.id for e in events], "times": [e.time for e in events]})

        if shape == "batch":
            shape_args = {"batch_handler": effects, "routing_keys": ["case.created"]}
        else:
            shape_args = {"handlers": {"case.created": effect}}
        return InboxConsumer(consumer=f"bench-{self.schema}", settings=self.settings,
                             uow_factory=self.uow, inbox=self.inbox, **shape_args)


def _tables(schema: str) -> tuple[Table, Table, Table]:
    metadata = MetaData(schema=schema)
    effects = Table("effects", metadata, Column("event_id", Text, nullable=False),
                    Column("event_time", Text, nullable=False),
                    Column("at", DateTime(timezone=True), server_default=func.clock_timestamp()))
    return outbox_table(metadata), inbox_table(metadata), effects


@contextlib.asynccontextmanager
async def attached_pipeline(description: dict[str, str]) -> AsyncIterator[Pipeline]:
    """The pipeline another process created, for a consumer running in a process of its own."""
    engine = create_async_engine(description["dsn"], pool_size=10)
    outbox, inbox, effects = _tables(description["schema"])
    settings = ServiceSettings(service_name="cases", environment="test",
                               amqp_url=description["amqp_url"],
                               amqp_prefix=description["amqp_prefix"])
    try:
        yield Pipeline(schema=description["schema"], dsn=description["dsn"], engine=engine,
                       settings=settings, outbox=outbox, inbox=inbox, effects=effects,
                       uow=uow_factory(make_sessionmaker(engine), outbox, source="cases"))
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def scratch_pipeline(backends: Backends) -> AsyncIterator[Pipeline]:
    database = f"epv_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(backends.admin_database_url)
    await admin.execute(f'CREATE DATABASE "{database}"')
    await admin.close()
    schema = "bench"
    dsn = with_database(backends.admin_database_url, database).replace(
        "postgresql://", "postgresql+asyncpg://", 1
    )
    engine = create_async_engine(dsn, pool_size=10)
    outbox, inbox, effects = _tables(schema)
    async with engine.begin() as conn:
        await conn.execute(text(f"CREATE SCHEMA {schema}"))
        await conn.run_sync(outbox.metadata.create_all)
        for statement in outbox_notify_ddl(schema):
            await conn.execute(text(statement))
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    settings = ServiceSettings(
        service_name="cases", environment="test", amqp_url=backends.amqp_url, amqp_prefix=prefix
    )
    try:
        yield Pipeline(
            schema=schema,
            dsn=dsn,
            engine=engine,
            settings=settings,
            outbox=outbox,
            inbox=inbox,
            effects=effects,
            uow=uow_factory(make_sessionmaker(engine), outbox, source="cases"),
        )
    finally:
        await engine.dispose()
        admin = await asyncpg.connect(backends.admin_database_url)
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()
        with contextlib.suppress(Exception):
            import aio_pika

            connection = await aio_pika.connect(backends.amqp_url)
            channel = await connection.channel()
            for queue in (f"{prefix}bench-{schema}.events", f"{prefix}bench-{schema}.events.dlq"):
                await channel.queue_delete(queue)
            for exchange in ("epv.events", "epv.dlx"):
                await channel.exchange_delete(f"{prefix}{exchange}")
            await connection.close()
