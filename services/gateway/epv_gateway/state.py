"""What the gateway holds while it runs: the upstream session, Redis, the OpenAPI merger."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import aio_pika
import aiohttp
from redis.asyncio import Redis

from epv_gateway.guard import RequestGuard
from epv_gateway.openapi import OpenApiMerger
from epv_gateway.settings import Settings
from epv_gateway.tokens import TokenVerifier


@dataclass
class GatewayState:
    settings: Settings
    session: aiohttp.ClientSession
    redis: Redis
    openapi: OpenApiMerger
    verifier: TokenVerifier
    guard: RequestGuard

    async def close(self) -> None:
        await self.guard.aclose()
        await self.session.close()
        with contextlib.suppress(Exception):
            await self.redis.aclose()


def amqp_check(settings: Settings):
    """Opens and closes an AMQP connection: the broker answers the protocol, not just TCP."""

    async def check() -> None:
        connection = await aio_pika.connect(settings.amqp_url.get_secret_value(), timeout=1)
        await connection.close()

    return check
