"""The outbox relay and the inbox consumer, in process, over real PostgreSQL and RabbitMQ,
with faults injected at their seams: a relay killed between the broker's confirm and marking
its rows sent, a consumer killed between its commit and its ack, an unroutable event, and two
relays running at once."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aio_pika
import pytest
import pytest_asyncio
from sqlalchemy import Column, MetaData, Table, Text, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from epv_common.db import UnitOfWorkFactory, make_sessionmaker, uow_factory
from epv_common.events.consumer import InboxConsumer
from epv_common.events.envelope import CloudEvent
from epv_common.events.inbox import inbox_table
from epv_common.events.outbox import outbox_notify_ddl, outbox_table
from epv_common.events.relay import OutboxRelay
from epv_common.metrics import CONSUMED
from epv_common.settings import ServiceSettings
from tests.conftest import eventually

pytestmark = pytest.mark.asyncio(loop_scope="session")


class RelayKilled(Exception):
    pass


class RelayKilledAfterConfirm(OutboxRelay):
    """Dies after the broker confirmed the batch and before the rows are marked sent."""

    async def _mark_sent(self, conn, seqs):
        raise RelayKilled


class ConsumerKilledBeforeAck(InboxConsumer):
    """Commits its effects, then loses its connection before acking anything."""

    async def _settle(self, batch, fresh):
        self.killed = True
        await self._connection.close()


@dataclass
class Kit:
    schema: str
    dsn: str
    engine: AsyncEngine
    settings: ServiceSettings
    outbox: Table
    inbox: Table
    effects: Table
    uow: UnitOfWorkFactory

    def relay(self, cls: type[OutboxRelay] = OutboxRelay) -> OutboxRelay:
        return cls(service="cases", schema=self.schema, dsn=self.dsn, settings=self.settings)

    def consumer(self, cls: type[InboxConsumer] = InboxConsumer) -> InboxConsumer:
        async def effect(event: CloudEvent, uow) -> None:
            await uow.session.execute(insert(self.effects).values(event_id=event.id))

        return cls(consumer=f"testkit-{self.schema}", settings=self.settings,
                   uow_factory=self.uow, inbox=self.inbox, handlers={"case.created": effect})

    async def record(self, count: int, *, event_type: str = "case.created") -> list[str]:
        events = [_event(event_type) for _ in range(count)]
        async with self.uow() as uow:
            for event in events:
                uow.record(event)
            await uow.commit()
        return [e.id for e in events]

    async def scalar(self, sql: str) -> int:
        async with self.engine.connect() as conn:
            return (await conn.execute(text(sql))).scalar_one()

    async def effects_count(self) -> int:
        return await self.scalar(f"SELECT count(*) FROM {self.schema}.effects")

    async def distinct_effects(self) -> int:
        return await self.scalar(f"SELECT count(DISTINCT event_id) FROM {self.schema}.effects")

    async def pending(self) -> int:
        return await self.scalar(f"SELECT count(*) FROM {self.schema}.outbox WHERE sent_at IS NULL")


def _event(event_type: str) -> CloudEvent:
    subject = str(uuid.uuid4())
    if event_type == "case.created":
        data = {"case_id": subject, "owner_id": str(uuid.uuid4()), "name": "kit",
                "status": "DRAFT", "version": 1}
        return CloudEvent(source="cases", type=event_type, subject=subject, data=data)
    user = {"id": subject, "email": f"{subject[:8]}@example.com", "role": "ANALYST",
            "active": True}
    return CloudEvent(source="auth", type=event_type, subject=subject, data={"user": user})


def duplicates_seen(kit: Kit) -> float:
    return CONSUMED.labels(f"testkit-{kit.schema}", "case.created", "duplicate")._value.get()


@pytest_asyncio.fixture(loop_scope="session")
async def kit(scratch_database: str, backend_servers) -> AsyncIterator[Kit]:
    schema = f"kit_{uuid.uuid4().hex[:8]}"
    dsn = scratch_database.replace("postgresql://", "postgresql+asyncpg://", 1)
    engine = create_async_engine(dsn)
    metadata = MetaData(schema=schema)
    outbox, inbox = outbox_table(metadata), inbox_table(metadata)
    effects = Table("effects", metadata, Column("event_id", Text, nullable=False),
                    Column("at", Text, server_default=func.now()))
    async with engine.begin() as conn:
        await conn.execute(text(f"CREATE SCHEMA {schema}"))
        await conn.run_sync(metadata.create_all)
        for statement in outbox_notify_ddl(schema):
            await conn.execute(text(statement))
    settings = ServiceSettings(
        service_name="cases", environment="test", amqp_url=backend_servers.amqp_url,
        amqp_prefix=f"{schema}.", outbox_poll_interval_s=0.2, consumer_delivery_limit=3)
    kit = Kit(schema=schema, dsn=dsn, engine=engine, settings=settings, outbox=outbox,
              inbox=inbox, effects=effects,
              uow=uow_factory(make_sessionmaker(engine), outbox, source="cases"))
    try:
        yield kit
    finally:
        await engine.dispose()
        with contextlib.suppress(Exception):
            connection = await aio_pika.connect(backend_servers.amqp_url)
            channel = await connection.channel()
            consumer = f"testkit-{schema}"
            for queue in (f"{schema}.{consumer}.events", f"{schema}.{consumer}.events.dlq"):
                await channel.queue_delete(queue)
            for exchange in ("epv.events", "epv.dlx"):
                await channel.exchange_delete(f"{schema}.{exchange}")
            await connection.close()


async def test_relay_publishes_every_event_once_and_marks_it_sent(kit: Kit):
    consumer = kit.consumer()
    await consumer.start()
    relay = kit.relay()
    await relay.start()
    try:
        await kit.record(50)
        await eventually(kit.effects_count, until=lambda n: n == 50)
        await eventually(kit.pending, until=lambda n: n == 0)
    finally:
        await relay.stop()
        await consumer.stop()
    assert await kit.distinct_effects() == 50


async def test_a_rolled_back_change_emits_nothing(kit: Kit):
    async with kit.uow() as uow:
        uow.record(_event("case.created"))
        # no commit: leaving the block rolls the change and its event back
    assert await kit.scalar(f"SELECT count(*) FROM {kit.schema}.outbox") == 0


async def test_relay_killed_between_confirm_and_mark_republishes_with_one_effect(kit: Kit):
    consumer = kit.consumer()
    await consumer.start()
    await kit.record(20)
    doomed = kit.relay(RelayKilledAfterConfirm)
    await doomed.open()
    await doomed._ensure_broker()
    with pytest.raises(RelayKilled):
        await doomed.relay_once()
    await doomed.stop()
    assert await kit.pending() == 20, "the rows stay pending after the crash"
    await eventually(kit.effects_count, until=lambda n: n == 20)

    before = duplicates_seen(kit)
    relay = kit.relay()
    await relay.start()
    try:
        await eventually(kit.pending, until=lambda n: n == 0)
        await eventually(lambda: asyncio.sleep(0, duplicates_seen(kit) - before),
                         until=lambda n: n == 20)
    finally:
        await relay.stop()
        await consumer.stop()
    assert await kit.effects_count() == 20, "published twice, applied once"


async def test_consumer_killed_after_commit_before_ack_has_one_effect(kit: Kit):
    doomed = kit.consumer(ConsumerKilledBeforeAck)
    doomed.killed = False
    await doomed.start()
    relay = kit.relay()
    await relay.start()
    try:
        await kit.record(10)
        await eventually(kit.effects_count, until=lambda n: n == 10)
        await eventually(lambda: asyncio.sleep(0, doomed.killed), until=bool)
        await doomed.stop()
        before = duplicates_seen(kit)
        survivor = kit.consumer()
        await survivor.start()
        try:
            await eventually(lambda: asyncio.sleep(0, duplicates_seen(kit) - before),
                             until=lambda n: n == 10)
        finally:
            await survivor.stop()
    finally:
        await relay.stop()
    assert await kit.effects_count() == 10


async def test_an_unroutable_event_stays_pending_instead_of_vanishing(kit: Kit):
    consumer = kit.consumer()  # binds case.created only: auth.user.registered routes nowhere
    await consumer.start()
    relay = kit.relay()
    await relay.start()
    try:
        [unroutable] = await kit.record(1, event_type="auth.user.registered")
        await kit.record(3)
        await eventually(kit.effects_count, until=lambda n: n == 3)
        attempts = await eventually(
            lambda: kit.scalar(f"SELECT attempts FROM {kit.schema}.outbox "
                               f"WHERE event_id = '{unroutable}'"), until=lambda n: n >= 1)
    finally:
        await relay.stop()
        await consumer.stop()
    assert attempts >= 1
    assert await kit.pending() == 1
    async with kit.engine.connect() as conn:
        row = (await conn.execute(select(kit.outbox.c.sent_at, kit.outbox.c.last_error)
                                  .where(kit.outbox.c.event_id == uuid.UUID(unroutable)))).one()
    assert row.sent_at is None
    assert row.last_error


async def test_two_relays_at_once_publish_each_event_exactly_once(kit: Kit):
    consumer = kit.consumer()
    await consumer.start()
    await kit.record(1000)
    before = duplicates_seen(kit)
    relays = [kit.relay(), kit.relay()]
    for relay in relays:
        await relay.start()
    try:
        await eventually(kit.effects_count, until=lambda n: n == 1000, timeout_s=60)
        await eventually(kit.pending, until=lambda n: n == 0)
    finally:
        for relay in relays:
            await relay.stop()
        await consumer.stop()
    assert duplicates_seen(kit) - before == 0
    assert await kit.distinct_effects() == 1000


class BatchRecordingRelay(OutboxRelay):
    """Notes how many events each pass of the relay published."""

    batches: list[int]

    async def relay_once(self) -> int:
        published = await super().relay_once()
        if published:
            self.batches = [*getattr(self, "batches", []), published]
        return published


class BatchRecordingConsumer(InboxConsumer):
    """Notes how many events each transaction of the consumer applied."""

    batches: list[int]

    async def _apply_batch(self, batch) -> None:
        await super()._apply_batch(batch)
        self.batches = [*getattr(self, "batches", []), len(batch)]


async def _commits_spread_over(kit: Kit, *, commits: int, seconds: float) -> None:
    for _ in range(commits):
        await kit.record(1)
        await asyncio.sleep(seconds / commits)


async def _relay_batches(kit: Kit, *, linger_ms: float, commits: int, seconds: float
                         ) -> list[int]:
    """The batches a relay with this linger publishes for `commits` commits spread over
    `seconds`, starting from an idle relay."""
    settings = kit.settings.model_copy(update={"outbox_linger_ms": linger_ms,
                                               "outbox_poll_interval_s": 10.0})
    relay = BatchRecordingRelay(service="cases", schema=kit.schema, dsn=kit.dsn,
                                settings=settings)
    consumer = kit.consumer()  # binds the queue that makes the events routable
    await consumer.start()
    await relay.start()
    try:
        await eventually(kit.pending, until=lambda n: n == 0)
        await asyncio.sleep(0.2)  # the relay has drained earlier tests' rows and waits
        relay.batches = []
        await _commits_spread_over(kit, commits=commits, seconds=seconds)
        await eventually(kit.pending, until=lambda n: n == 0)
    finally:
        await relay.stop()
        await consumer.stop()
    return relay.batches


async def test_the_relay_publishes_commits_made_within_its_linger_as_one_batch(kit: Kit):
    assert await _relay_batches(kit, linger_ms=400.0, commits=5, seconds=0.15) == [5]


async def test_the_relay_without_linger_publishes_each_commit_as_it_comes(kit: Kit):
    batches = await _relay_batches(kit, linger_ms=0.0, commits=5, seconds=0.5)
    # 100 ms apart, each commit is its own pass (two may meet on a very busy machine)
    assert sum(batches) == 5 and len(batches) >= 4


async def test_the_consumer_applies_events_arriving_within_its_batch_wait_in_one_transaction(
        kit: Kit):
    settings = kit.settings.model_copy(update={"consumer_batch_wait_ms": 500.0,
                                               "outbox_linger_ms": 0.0})
    consumer = BatchRecordingConsumer(
        consumer=f"testkit-{kit.schema}", settings=settings, uow_factory=kit.uow,
        inbox=kit.inbox, handlers={"case.created": kit.consumer().handlers["case.created"]})
    relay = OutboxRelay(service="cases", schema=kit.schema, dsn=kit.dsn, settings=settings)
    await consumer.start()
    await relay.start()
    try:
        await eventually(kit.pending, until=lambda n: n == 0)
        await asyncio.sleep(0.6)  # earlier tests' events, if any, are applied
        before = await kit.effects_count()
        consumer.batches = []
        await _commits_spread_over(kit, commits=5, seconds=0.2)
        await eventually(kit.effects_count, until=lambda n: n == before + 5)
    finally:
        await relay.stop()
        await consumer.stop()
    assert consumer.batches == [5]
