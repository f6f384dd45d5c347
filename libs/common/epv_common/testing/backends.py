"""Where the test run finds PostgreSQL, Redis and RabbitMQ: the local servers (URLs from the
environment, localhost defaults), or containers started with testcontainers when
EPV_TESTCONTAINERS=1 (machines with Docker and no local servers)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Backends:
    admin_database_url: str  # a superuser DSN (postgresql://...)
    redis_url: str
    amqp_url: str

    @property
    def pg_host_port(self) -> tuple[str, int]:
        parts = urlsplit(self.admin_database_url)
        return parts.hostname or "127.0.0.1", parts.port or 5432

    @property
    def redis_host_port(self) -> tuple[str, int]:
        parts = urlsplit(self.redis_url)
        return parts.hostname or "127.0.0.1", parts.port or 6379

    @property
    def amqp_host_port(self) -> tuple[str, int]:
        parts = urlsplit(self.amqp_url)
        return parts.hostname or "127.0.0.1", parts.port or 5672


def local_backends() -> Backends:
    return Backends(
        admin_database_url=os.environ.get(
            "EPV_ADMIN_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        redis_url=os.environ.get("EPV_REDIS_URL", "redis://127.0.0.1:6379/0"),
        amqp_url=os.environ.get("EPV_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
    )


@contextlib.contextmanager
def container_backends() -> Iterator[Backends]:
    from testcontainers.postgres import PostgresContainer
    from testcontainers.rabbitmq import RabbitMqContainer
    from testcontainers.redis import RedisContainer

    with (PostgresContainer("postgres:16", username="postgres", password="postgres",
                            dbname="postgres") as pg,
          RedisContainer("redis:7") as redis,
          RabbitMqContainer("rabbitmq:3.13") as rabbit):
        pg_host, pg_port = pg.get_container_host_ip(), pg.get_exposed_port(5432)
        r_host, r_port = redis.get_container_host_ip(), redis.get_exposed_port(6379)
        a_host, a_port = rabbit.get_container_host_ip(), rabbit.get_exposed_port(5672)
        yield Backends(
            admin_database_url=f"postgresql://postgres:postgres@{pg_host}:{pg_port}/postgres",
            redis_url=f"redis://{r_host}:{r_port}/0",
            amqp_url=f"amqp://guest:guest@{a_host}:{a_port}/",
        )


@contextlib.contextmanager
def backends() -> Iterator[Backends]:
    if os.environ.get("EPV_TESTCONTAINERS") == "1":
        with container_backends() as found:
            yield found
    else:
        yield local_backends()
