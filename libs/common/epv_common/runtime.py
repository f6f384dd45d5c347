"""What a running service holds: engine, unit-of-work factory, Redis, outbox relay, consumers.

Built in the app's lifespan (nothing at import time) and torn down with it. The broker parts
start in the background and keep retrying, so a service starts and serves while RabbitMQ is
down: its outbox holds events until the broker is back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from aio_pika.abc import AbstractRobustConnection
from redis.asyncio import Redis
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from epv_common import broker, health
from epv_common.db import (
    UnitOfWorkFactory,
    create_engine,
    make_reader,
    make_sessionmaker,
    uow_factory,
)
from epv_common.events.consumer import InboxConsumer
from epv_common.events.relay import OutboxRelay
from epv_common.redis import create_redis
from epv_common.settings import ServiceSettings
from epv_common.shutdown import bounded, cancel_and_wait

log = structlog.get_logger("epv.runtime")

BROKER_RETRY_S = 2.0


@dataclass
class Runtime:
    settings: ServiceSettings
    schema: str
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    uow: UnitOfWorkFactory
    redis: Redis | None = None
    relay: OutboxRelay | None = None
    consumers: list[InboxConsumer] = field(default_factory=list)
    amqp: AbstractRobustConnection | None = None
    _tasks: list[asyncio.Task] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)

    def health_checks(self) -> dict[str, health.Check]:
        checks = {"postgres": health.postgres_check(self.engine),
                  "rabbitmq": health.rabbit_check(lambda: self.amqp)}
        if self.redis is not None:
            checks["redis"] = health.redis_check(self.redis)
        return checks


async def start_runtime(
    settings: ServiceSettings, *, schema: str, outbox: Table | None,
    consumers: Callable[[Runtime], list[InboxConsumer]] | None = None, use_redis: bool = True,
) -> Runtime:
    engine = create_engine(settings, settings.runtime_dsn, application_name=settings.service_name)
    sessionmaker = make_sessionmaker(engine)
    rt = Runtime(
        settings=settings, schema=schema, engine=engine, sessionmaker=sessionmaker,
        uow=uow_factory(sessionmaker, outbox, source=settings.service_name,  # type: ignore[arg-type]
                        reader=make_reader(engine), engine=engine),
        redis=create_redis(settings) if use_redis else None,
    )
    if outbox is not None:
        rt.relay = OutboxRelay(service=settings.service_name, schema=schema,
                               dsn=settings.runtime_dsn, settings=settings)
        await rt.relay.start()
    rt.consumers = consumers(rt) if consumers else []
    rt._tasks.append(asyncio.create_task(_connect_broker(rt), name="broker-connect"))
    return rt


async def _connect_broker(rt: Runtime) -> None:
    """Opens the health connection, then starts each consumer, retrying until the broker answers."""
    while rt.amqp is None:
        try:
            rt.amqp = await broker.connect(rt.settings, name=f"{rt.settings.service_name}-health")
        except Exception as exc:  # retried until the broker is back
            log.warning("broker_unavailable", error=type(exc).__name__)
            await asyncio.sleep(BROKER_RETRY_S)
    pending = list(rt.consumers)
    while pending:
        consumer = pending[0]
        try:
            await consumer.start()
            pending.pop(0)
        except Exception as exc:  # retried until the broker is back
            log.warning("consumer_start_failed", consumer=consumer.consumer,
                        error=type(exc).__name__, detail=str(exc)[:200])
            await asyncio.sleep(BROKER_RETRY_S)


async def stop_runtime(rt: Runtime) -> None:
    for task in rt._tasks:
        await cancel_and_wait(task, what=task.get_name())
    for consumer in rt.consumers:
        await consumer.stop()
    if rt.relay is not None:
        await rt.relay.stop()
    if rt.amqp is not None:
        await bounded(rt.amqp.close(), what="health broker connection")
    if rt.redis is not None:
        await bounded(rt.redis.aclose(), what="redis")
    await bounded(rt.engine.dispose(), what="database engine")
