"""The Redis client of a service: one pool, short timeouts, every key under the prefix."""

from __future__ import annotations

from redis.asyncio import Redis

from epv_common.settings import RedisSettings


def create_redis(settings: RedisSettings) -> Redis:
    return Redis.from_url(
        settings.redis_url,
        socket_timeout=settings.redis_timeout_s,
        socket_connect_timeout=settings.redis_timeout_s,
        health_check_interval=30,
        decode_responses=False,
    )


def key(settings: RedisSettings, *parts: str) -> str:
    return settings.redis_prefix + ":".join(parts)
