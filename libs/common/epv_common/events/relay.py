"""The outbox relay: publishes pending outbox rows to `epv.events` and marks them sent only
after the broker has confirmed them.

Safe with several relays (any number of replicas): each batch is claimed with
FOR UPDATE SKIP LOCKED inside a transaction that stays open until the confirms are in, so no
two relays publish the same row at once. A relay that dies after a confirm and before its
commit leaves the rows pending; they are published again and consumers' inboxes absorb the
duplicate. Messages are persistent and `mandatory`: an unroutable event is returned by the
broker, counts as a failure and stays pending with a growing back-off instead of vanishing.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aio_pika
import asyncpg
import structlog
from aio_pika.abc import AbstractExchange, AbstractRobustConnection

from epv_common import broker
from epv_common.events.envelope import CONTENT_TYPE
from epv_common.events.outbox import notify_channel
from epv_common.metrics import OUTBOX_BACKLOG, OUTBOX_FAILED, OUTBOX_OLDEST_AGE, OUTBOX_PUBLISHED
from epv_common.settings import RabbitSettings
from epv_common.shutdown import bounded, cancel_and_wait

log = structlog.get_logger("epv.relay")

PUBLISH_TIMEOUT_S = 10.0
MAX_BACKOFF_S = 60
HOUSEKEEPING_EVERY_S = 5.0


def asyncpg_dsn(sqlalchemy_dsn: str) -> str:
    return sqlalchemy_dsn.replace("postgresql+asyncpg://", "postgresql://", 1)


class OutboxRelay:
    def __init__(self, *, service: str, schema: str, dsn: str, settings: RabbitSettings) -> None:
        self.service = service
        self.schema = schema
        self.dsn = asyncpg_dsn(dsn)
        self.settings = settings
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._pool: asyncpg.Pool | None = None
        self._listener: asyncpg.Connection | None = None
        self._connection: AbstractRobustConnection | None = None
        self._exchange: AbstractExchange | None = None
        self._last_housekeeping = 0.0
        self._q_claim = (
            f"SELECT seq, event_id::text, event_type, payload::text FROM {schema}.outbox "
            f"WHERE sent_at IS NULL AND next_attempt_at <= now() ORDER BY seq LIMIT $1 "
            f"FOR UPDATE SKIP LOCKED")
        self._q_sent = f"UPDATE {schema}.outbox SET sent_at = now() WHERE seq = ANY($1::bigint[])"
        self._q_failed = (
            f"UPDATE {schema}.outbox SET attempts = attempts + 1, last_error = $2, "
            f"next_attempt_at = now() + make_interval(secs => least({MAX_BACKOFF_S}, "
            f"power(2, attempts))) WHERE seq = ANY($1::bigint[])")

    async def open(self) -> None:
        """Opens the database pool; start() also runs the relay loop."""
        self._pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=2,
                                               server_settings={"application_name":
                                                                f"{self.service}-relay"})

    async def start(self) -> None:
        await self.open()
        self._task = asyncio.create_task(self._run(), name=f"{self.service}-outbox-relay")

    async def stop(self) -> None:
        await cancel_and_wait(self._task, what="relay loop")
        await bounded(self._close_listener(), what="relay listener")
        await bounded(self._close_broker(), what="relay broker connection")
        if self._pool:
            await bounded(self._pool.close(), what="relay pool", on_timeout=self._pool.terminate)

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                await self._ensure_listener()
                await self._ensure_broker()
                published = await self.relay_once()
                await self._housekeeping()
                if published >= self.settings.outbox_batch_size:
                    continue
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.settings.outbox_poll_interval_s)
                    await asyncio.sleep(self.settings.outbox_linger_ms / 1000)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the relay must outlive any outage; it retries
                log.warning("relay_error", error=type(exc).__name__, detail=str(exc)[:200])
                await asyncio.sleep(min(self.settings.outbox_poll_interval_s, 1.0))

    async def _ensure_listener(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            return
        self._listener = await asyncpg.connect(self.dsn, timeout=5)
        await self._listener.add_listener(notify_channel(self.schema), lambda *_: self.wake())

    async def _close_listener(self) -> None:
        if self._listener is not None:
            await self._listener.close(timeout=2)

    async def _ensure_broker(self) -> None:
        if self._exchange is not None:
            return
        self._connection = await broker.connect(self.settings, name=f"{self.service}-relay")
        channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)
        self._exchange = await broker.declare_events_exchange(channel, self.settings)

    async def _close_broker(self) -> None:
        if self._connection is not None:
            await self._connection.close()

    async def relay_once(self) -> int:
        """Publishes one batch; returns how many rows the broker confirmed."""
        assert self._pool is not None and self._exchange is not None
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(self._q_claim, self.settings.outbox_batch_size)
            if not rows:
                return 0
            results = await asyncio.gather(*(self._publish(r) for r in rows),
                                           return_exceptions=True)
            sent = [r["seq"] for r, res in zip(rows, results, strict=True) if res is None]
            failed = [(r["seq"], res) for r, res in zip(rows, results, strict=True)
                      if res is not None]
            if sent:
                await self._mark_sent(conn, sent)
            if failed:
                reason = type(failed[0][1]).__name__
                OUTBOX_FAILED.labels(self.service, reason).inc(len(failed))
                await conn.execute(self._q_failed, [seq for seq, _ in failed],
                                   f"{reason}: {str(failed[0][1])[:300]}")
                log.warning("outbox_publish_failed", count=len(failed), reason=reason)
        OUTBOX_PUBLISHED.labels(self.service).inc(len(sent))
        return len(sent)

    async def _mark_sent(self, conn: asyncpg.Connection, seqs: list[int]) -> None:
        await conn.execute(self._q_sent, seqs)

    async def _publish(self, row: Any) -> None:
        assert self._exchange is not None
        message = aio_pika.Message(
            row["payload"].encode(),
            content_type=CONTENT_TYPE,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=row["event_id"],
            type=row["event_type"],
            app_id=self.service,
        )
        await self._exchange.publish(message, routing_key=row["event_type"], mandatory=True,
                                     timeout=PUBLISH_TIMEOUT_S)

    async def _housekeeping(self) -> None:
        now = asyncio.get_running_loop().time()
        if now - self._last_housekeeping < HOUSEKEEPING_EVERY_S:
            return
        self._last_housekeeping = now
        assert self._pool is not None
        async with self._pool.acquire() as conn:
            backlog, oldest = await conn.fetchrow(
                f"SELECT count(*), extract(epoch FROM now() - min(created_at)) "
                f"FROM {self.schema}.outbox WHERE sent_at IS NULL")
            OUTBOX_BACKLOG.labels(self.service).set(backlog)
            OUTBOX_OLDEST_AGE.labels(self.service).set(float(oldest or 0))
            await conn.execute(
                f"DELETE FROM {self.schema}.outbox WHERE sent_at < now() - make_interval(secs => $1)",
                float(self.settings.outbox_purge_after_s))
