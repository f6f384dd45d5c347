"""RabbitMQ topology: the durable topic exchange `epv.events`, consumer quorum queues with a
delivery limit, and the dead-letter exchange and queues that catch poison messages.

Every name carries the deployment's prefix (EPV_AMQP_PREFIX), so two test runs sharing one
broker never see each other's messages.
"""

from __future__ import annotations

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue, AbstractRobustConnection

from epv_common.settings import RabbitSettings


async def connect(settings: RabbitSettings, *, name: str) -> AbstractRobustConnection:
    return await aio_pika.connect_robust(
        settings.amqp_url.get_secret_value(), client_properties={"connection_name": name},
        timeout=5,
    )


async def declare_events_exchange(channel: AbstractChannel, settings: RabbitSettings
                                  ) -> AbstractExchange:
    return await channel.declare_exchange(
        settings.events_exchange, aio_pika.ExchangeType.TOPIC, durable=True)


def queue_name(settings: RabbitSettings, consumer: str) -> str:
    return f"{settings.amqp_prefix}{consumer}.events"


def dead_letter_queue_name(settings: RabbitSettings, consumer: str) -> str:
    return f"{settings.amqp_prefix}{consumer}.events.dlq"


async def declare_consumer_queue(
    channel: AbstractChannel, settings: RabbitSettings, *, consumer: str, routing_keys: list[str],
) -> AbstractQueue:
    """A quorum queue bound to the given event types, dead-lettering into its own DLQ.

    At-least-once dead-lettering (RabbitMQ >= 3.10) keeps a rejected message until the DLQ
    has confirmed it; it needs `overflow: reject-publish` on the source queue.
    """
    exchange = await declare_events_exchange(channel, settings)
    dlx = await channel.declare_exchange(
        settings.dead_letter_exchange, aio_pika.ExchangeType.DIRECT, durable=True)
    dlq = await channel.declare_queue(
        dead_letter_queue_name(settings, consumer), durable=True,
        arguments={"x-queue-type": "quorum"})
    await dlq.bind(dlx, routing_key=consumer)
    queue = await channel.declare_queue(
        queue_name(settings, consumer), durable=True,
        arguments={
            "x-queue-type": "quorum",
            "x-delivery-limit": settings.consumer_delivery_limit,
            "x-dead-letter-exchange": settings.dead_letter_exchange,
            "x-dead-letter-routing-key": consumer,
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        },
    )
    for key in routing_keys:
        await queue.bind(exchange, routing_key=key)
    return queue
