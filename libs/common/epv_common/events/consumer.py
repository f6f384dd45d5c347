"""The inbox consumer: at-least-once delivery turned into exactly-one effect.

Messages are applied in small batches, each batch one transaction: the event ids go into the
inbox with ON CONFLICT DO NOTHING, handlers run only for ids that were new, the transaction
commits, and only then are the messages acked. A redelivered event finds its id in the inbox
and has no second effect; a consumer killed between commit and ack is the same case.

Failures: a message that is not a valid event is rejected at once (requeue=False), so it goes
to the dead-letter queue. A handler that fails is retried in-process, each attempt in its own
transaction; after the delivery limit (counting earlier deliveries from `x-delivery-count`)
the message is rejected into the dead-letter queue and the consumer goes on. A requeueing nack
is never used: on RabbitMQ 4.x it no longer counts toward the delivery limit, so a poison
message would loop. The queue's own `x-delivery-limit` still catches a consumer that crashes
on a message (the broker counts those redeliveries itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import orjson
import structlog
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from pydantic import ValidationError
from sqlalchemy import Table, text

from epv_common import broker
from epv_common.db import UnitOfWork, UnitOfWorkFactory
from epv_common.events.envelope import CloudEvent
from epv_common.metrics import CONSUMED, CONSUMER_LAG
from epv_common.settings import RabbitSettings
from epv_common.shutdown import bounded, cancel_and_wait

log = structlog.get_logger("epv.consumer")

EventHandler = Callable[[CloudEvent, UnitOfWork], Awaitable[None]]
BatchHandler = Callable[[list[CloudEvent], UnitOfWork], Awaitable[None]]

# Half the default prefetch: the broker refills the other half while a batch commits.
BATCH_MAX = 256
RETRY_BACKOFF_S = 0.05


@dataclass(slots=True)
class _Delivery:
    message: AbstractIncomingMessage
    event: CloudEvent


def _delivery_count(message: AbstractIncomingMessage) -> int:
    value = (message.headers or {}).get("x-delivery-count", 0)
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


class InboxConsumer:
    """Consumes `routing_keys` from `<consumer>.events` and applies `handlers` through the inbox.

    `handlers` maps an event type (exact) to its handler; `default_handler` takes the rest.
    A `batch_handler` instead receives every new event of a batch at once, in delivery order
    (the audit service appends a whole batch to its chain under one lock of the chain head).
    """

    def __init__(
        self, *, consumer: str, settings: RabbitSettings, uow_factory: UnitOfWorkFactory,
        inbox: Table, handlers: dict[str, EventHandler] | None = None,
        default_handler: EventHandler | None = None, batch_handler: BatchHandler | None = None,
        routing_keys: list[str] | None = None,
    ) -> None:
        if batch_handler is not None and (handlers or default_handler):
            raise ValueError("give either a batch_handler or per-event handlers, not both")
        self.consumer = consumer
        self.settings = settings
        self.uow_factory = uow_factory
        self.inbox = inbox
        self.handlers = handlers or {}
        self.default_handler = default_handler
        self.batch_handler = batch_handler
        # One statement text whatever the batch size (arrays, not N rows of VALUES), so it is
        # compiled and prepared once; a VALUES list of a new length was a new statement.
        self._claim_sql = text(
            f"INSERT INTO {inbox.fullname} (event_id, event_type) "
            "SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:types AS text[])) "
            "ON CONFLICT (event_id) DO NOTHING RETURNING event_id")
        self.routing_keys = routing_keys or sorted(self.handlers)
        self._connection: AbstractRobustConnection | None = None
        self._pending: asyncio.Queue[_Delivery] = asyncio.Queue()
        self._worker: asyncio.Task | None = None

    async def start(self) -> None:
        self._connection = await broker.connect(self.settings, name=f"{self.consumer}-consumer")
        channel = await self._connection.channel()
        await channel.set_qos(prefetch_count=self.settings.consumer_prefetch)
        queue = await broker.declare_consumer_queue(
            channel, self.settings, consumer=self.consumer, routing_keys=self.routing_keys)
        self._worker = asyncio.create_task(self._work(), name=f"{self.consumer}-inbox-worker")
        await queue.consume(self._on_message)

    async def stop(self) -> None:
        if self._connection is not None:
            await bounded(self._connection.close(), what=f"{self.consumer} consumer connection")
        await cancel_and_wait(self._worker, what=f"{self.consumer} inbox worker")

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        try:
            event = CloudEvent.model_validate(orjson.loads(message.body))
        except (orjson.JSONDecodeError, ValidationError, TypeError) as exc:
            log.warning("event_rejected_invalid", consumer=self.consumer,
                        message_id=message.message_id, error=type(exc).__name__)
            CONSUMED.labels(self.consumer, "invalid", "dead_lettered").inc()
            await message.reject(requeue=False)
            return
        self._pending.put_nowait(_Delivery(message, event))

    async def _work(self) -> None:
        while True:
            batch = await self._next_batch()
            try:
                await self._apply_batch(batch)
            except asyncio.CancelledError:
                raise
            except Exception:
                # One bad event must not hold back the others: apply them one by one.
                for delivery in batch:
                    await self._apply_one_with_retries(delivery)

    async def _next_batch(self) -> list[_Delivery]:
        """Everything already delivered (up to BATCH_MAX), else what arrives within
        the batch wait of the first message: one transaction and one commit for all of it."""
        batch = [await self._pending.get()]
        deadline = time.monotonic() + self.settings.consumer_batch_wait_ms / 1000
        while len(batch) < BATCH_MAX:
            try:
                batch.append(self._pending.get_nowait())
                continue
            except asyncio.QueueEmpty:
                pass
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self._pending.get(), remaining))
            except TimeoutError:
                break
        return batch

    async def _apply_batch(self, batch: list[_Delivery]) -> None:
        async with self.uow_factory() as uow:
            fresh = await self._claim(uow, [d.event for d in batch])
            unhandled = set(fresh)
            new_events = []
            for delivery in batch:
                # The same event twice in one batch (a relay republish) applies once.
                if delivery.event.id in unhandled:
                    unhandled.discard(delivery.event.id)
                    new_events.append(delivery.event)
            await self._handle_all(new_events, uow)
            await uow.commit()
        await self._settle(batch, fresh)

    async def _apply_one_with_retries(self, delivery: _Delivery) -> None:
        attempts_left = max(1, self.settings.consumer_delivery_limit
                            - _delivery_count(delivery.message))
        for attempt in range(1, attempts_left + 1):
            try:
                async with self.uow_factory() as uow:
                    fresh = await self._claim(uow, [delivery.event])
                    if fresh:
                        await self._handle_all([delivery.event], uow)
                    await uow.commit()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("event_handler_failed", consumer=self.consumer,
                            event_id=delivery.event.id, event_type=delivery.event.type,
                            attempt=attempt, error=type(exc).__name__, detail=str(exc)[:300])
                if attempt < attempts_left:
                    await asyncio.sleep(RETRY_BACKOFF_S * attempt)
                continue
            await self._settle([delivery], fresh)
            return
        CONSUMED.labels(self.consumer, delivery.event.type, "dead_lettered").inc()
        log.error("event_dead_lettered", consumer=self.consumer, event_id=delivery.event.id,
                  event_type=delivery.event.type)
        with contextlib.suppress(Exception):
            await delivery.message.reject(requeue=False)

    async def _claim(self, uow: UnitOfWork, events: list[CloudEvent]) -> set[str]:
        """Inserts the events' ids into the inbox; returns the ids that were not there yet."""
        result = await uow.session.execute(self._claim_sql, {
            "ids": [uuid.UUID(e.id) for e in events], "types": [e.type for e in events]})
        return {str(r) for r in result.scalars()}

    async def _handle_all(self, events: list[CloudEvent], uow: UnitOfWork) -> None:
        if not events:
            return
        if self.batch_handler is not None:
            await self.batch_handler(events, uow)
            return
        for event in events:
            handler = self.handlers.get(event.type, self.default_handler)
            if handler is not None:
                await handler(event, uow)

    async def _settle(self, batch: list[_Delivery], fresh: set[str]) -> None:
        now = time.time()
        for delivery in batch:
            outcome = "applied" if delivery.event.id in fresh else "duplicate"
            CONSUMED.labels(self.consumer, delivery.event.type, outcome).inc()
            if outcome == "applied":
                with contextlib.suppress(ValueError):
                    sent = datetime.fromisoformat(delivery.event.time).timestamp()
                    CONSUMER_LAG.labels(self.consumer).observe(max(0.0, now - sent))
        await self._ack_all(batch)

    async def _ack_all(self, batch: list[_Delivery]) -> None:
        """One cumulative ack per channel for a committed batch, instead of one per message.

        Safe because one worker settles deliveries strictly in delivery order: every earlier
        tag on the channel is already acked or rejected. A batch can straddle a reconnect, so
        tags are grouped by the channel that delivered them.
        """
        last_by_channel: dict[int, AbstractIncomingMessage] = {}
        for delivery in batch:
            message = delivery.message
            current = last_by_channel.get(id(message.channel))
            if current is None or (message.delivery_tag or 0) > (current.delivery_tag or 0):
                last_by_channel[id(message.channel)] = message
        for message in last_by_channel.values():
            with contextlib.suppress(Exception):
                await message.ack(multiple=True)
