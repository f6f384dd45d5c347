"""The Redis client of a service: one pool, short timeouts, every key under the prefix."""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis

from epv_common.settings import RedisSettings


def create_redis(settings: RedisSettings) -> Redis:
    # A blocking pool: past max_connections a command waits (up to the timeout) for a free
    # connection. The default pool raised MaxConnectionsError instead, which under a burst
    # looked exactly like Redis being down.
    pool = BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=settings.redis_max_connections,
        timeout=settings.redis_timeout_s,
        socket_timeout=settings.redis_timeout_s,
        socket_connect_timeout=settings.redis_timeout_s,
        health_check_interval=30,
    )
    return Redis(connection_pool=pool, decode_responses=False)


def key(settings: RedisSettings, *parts: str) -> str:
    return settings.redis_prefix + ":".join(parts)
