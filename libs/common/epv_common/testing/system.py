"""A whole EPV system for one test run (or one benchmark): a fresh database, a RabbitMQ prefix
and a Redis prefix of its own, the five services as real uvicorn processes on free ports.

Two runs on one machine never see each other: every name they share a server through carries
the run id. RabbitMQ reaches the publishing services through a TcpProxy each, so a test can
cut the broker away from one service and restore it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

from epv_common import bootstrap
from epv_common.identity import (
    HEADER_INTERNAL_TOKEN,
    HEADER_ROLE,
    HEADER_SESSION_ID,
    HEADER_USER_ID,
)
from epv_common.testing.backends import Backends
from epv_common.testing.tcpproxy import TcpProxy, free_port

SERVICES = ("auth", "cases", "audit", "marketdata", "gateway")
DB_SERVICES = ("auth", "cases", "audit", "marketdata")
INTERNAL_TOKEN = "test-internal-token"
BOOTSTRAP_ADMIN_EMAIL = "root-admin@epv.test"
BOOTSTRAP_ADMIN_PASSWORD = "Bootstrap-Admin-Pass-1"
START_TIMEOUT_S = 90.0


def role_dsn(admin_url: str, database: str, role: str, *, driver: str = "postgresql+asyncpg"
             ) -> str:
    parts = urlsplit(admin_url)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{role}:{bootstrap.role_password(role)}@{host}:{parts.port or 5432}"
    return urlunsplit((driver, netloc, f"/{database}", "", ""))


def with_host_port(url: str, host: str, port: int) -> str:
    parts = urlsplit(url)
    auth = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=f"{auth}{host}:{port}"))


@dataclass
class ServiceProcess:
    name: str
    port: int
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", f"epv_{self.name}"], env=self.env, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=15)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


@dataclass
class System:
    backends: Backends
    workdir: Path
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    extra_env: dict[str, str] = field(default_factory=dict)
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    amqp_proxies: dict[str, TcpProxy] = field(default_factory=dict)
    redis_proxies: dict[str, TcpProxy] = field(default_factory=dict)

    @property
    def database(self) -> str:
        return f"epv_test_{self.run_id}"

    @property
    def amqp_prefix(self) -> str:
        return f"t{self.run_id}."

    @property
    def redis_prefix(self) -> str:
        return f"epvtest:{self.run_id}:"

    @property
    def gateway_url(self) -> str:
        return self.services["gateway"].url

    def url(self, service: str) -> str:
        return self.services[service].url

    def dsn(self, service: str, *, owner: bool = False, driver: str = "postgresql") -> str:
        role = f"epv_{service}_owner" if owner else f"epv_{service}"
        return role_dsn(self.backends.admin_database_url, self.database, role, driver=driver)

    @property
    def superuser_dsn(self) -> str:
        return bootstrap.with_database(self.backends.admin_database_url, self.database)

    def common_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("EPV_")}
        env.update({
            "EPV_ENVIRONMENT": "test",
            "EPV_REDIS_URL": self.backends.redis_url,
            "EPV_REDIS_PREFIX": self.redis_prefix,
            "EPV_AMQP_URL": self.backends.amqp_url,
            "EPV_AMQP_PREFIX": self.amqp_prefix,
            "EPV_INTERNAL_TOKEN": INTERNAL_TOKEN,
            "EPV_OUTBOX_POLL_INTERVAL_S": "0.5",
            # Short login locks, so a test can see a lock lift; production waits 15 s to 15 min.
            "EPV_LOGIN_LOCK_BASE_S": "2",
            "EPV_LOGIN_LOCK_MAX_S": "4",
            "EPV_BOOTSTRAP_ADMIN_EMAIL": BOOTSTRAP_ADMIN_EMAIL,
            "EPV_BOOTSTRAP_ADMIN_PASSWORD": BOOTSTRAP_ADMIN_PASSWORD,
            # Tests act as the load balancer in front of the gateway: they choose the address.
            "EPV_TRUSTED_PROXY_HOPS": "1",
            "PYTHONUNBUFFERED": "1",
        })
        env.update(self.extra_env)
        return env

    def service_env(self, name: str) -> dict[str, str]:
        env = self.common_env()
        env["EPV_PORT"] = str(self.services[name].port if name in self.services else 0)
        if name in DB_SERVICES:
            env["EPV_DATABASE_URL"] = self.dsn(name, driver="postgresql+asyncpg")
            env["EPV_MIGRATIONS_DATABASE_URL"] = self.dsn(
                name, owner=True, driver="postgresql+asyncpg")
            proxy = self.amqp_proxies.get(name)
            if proxy is not None:
                env["EPV_AMQP_URL"] = with_host_port(self.backends.amqp_url, "127.0.0.1",
                                                     proxy.port)
        redis_proxy = self.redis_proxies.get(name)
        if redis_proxy is not None:
            env["EPV_REDIS_URL"] = with_host_port(self.backends.redis_url, "127.0.0.1",
                                                  redis_proxy.port)
        return env

    # -- lifecycle ---------------------------------------------------------------------------

    async def prepare(self) -> None:
        """Database, roles and migrations for this run."""
        await bootstrap.bootstrap(self.backends.admin_database_url, self.database)
        host, port = self.backends.amqp_host_port
        for name in DB_SERVICES:
            self.amqp_proxies[name] = TcpProxy(host, port).start()
        redis_host, redis_port = self.backends.redis_host_port
        self.redis_proxies["gateway"] = TcpProxy(redis_host, redis_port).start()
        migrations = [
            await asyncio.create_subprocess_exec(
                sys.executable, "-m", f"epv_{name}", "migrate", env=self.service_env(name),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
            for name in DB_SERVICES
        ]
        for name, proc in zip(DB_SERVICES, migrations, strict=True):
            out, _ = await proc.communicate()
            if proc.returncode != 0:
                raise RuntimeError(f"migrating {name} failed:\n{out.decode(errors='replace')}")

    async def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        for name in SERVICES:
            self.services[name] = ServiceProcess(
                name=name, port=free_port(), env={}, log_path=self.workdir / f"{name}.log")
        gateway_env = {f"EPV_{n.upper()}_URL": self.services[n].url for n in DB_SERVICES}
        self.extra_env = {**gateway_env, **self.extra_env}
        for name, svc in self.services.items():
            svc.env = self.service_env(name)
            svc.start()
        await self.wait_healthy()

    async def wait_healthy(self, timeout_s: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        report: dict = {}
        async with httpx.AsyncClient(timeout=3) as client:
            while time.monotonic() < deadline:
                for svc in self.services.values():
                    if svc.process and svc.process.poll() is not None:
                        raise RuntimeError(f"{svc.name} exited at start:\n{svc.log_tail()}")
                with contextlib.suppress(httpx.HTTPError, ValueError):
                    report = (await client.get(self.gateway_url + "/api/health")).json()
                    if report.get("status") == "up":
                        return
                await asyncio.sleep(0.3)
        tails = "\n".join(f"--- {s.name}\n{s.log_tail(15)}" for s in self.services.values())
        raise RuntimeError(f"system not healthy after {timeout_s} s: {report}\n{tails}")

    async def restart(self, name: str, *, sig: int = signal.SIGKILL) -> None:
        svc = self.services[name]
        svc.kill(sig)
        svc.start()
        await self.wait_healthy()

    async def stop(self) -> None:
        for svc in self.services.values():
            svc.stop()
        for proxy in [*self.amqp_proxies.values(), *self.redis_proxies.values()]:
            proxy.stop()
        await self.cleanup()

    async def cleanup(self) -> None:
        with contextlib.suppress(Exception):
            await _drop_database(self.backends.admin_database_url, self.database)
        with contextlib.suppress(Exception):
            await _delete_broker_objects(self.backends.amqp_url, self.amqp_prefix)
        with contextlib.suppress(Exception):
            await _delete_redis_keys(self.backends.redis_url, self.redis_prefix)

    # -- helpers for tests -------------------------------------------------------------------

    def internal_headers(self, *, user_id: str | None = None, role: str = "ANALYST",
                         session_id: str | None = None) -> dict[str, str]:
        """Identity headers as the gateway sets them, for calling one service directly."""
        return {HEADER_INTERNAL_TOKEN: INTERNAL_TOKEN, HEADER_USER_ID: user_id or str(uuid.uuid4()),
                HEADER_ROLE: role, HEADER_SESSION_ID: session_id or str(uuid.uuid4())}

    async def connect(self, service: str | None = None, *, owner: bool = False
                      ) -> asyncpg.Connection:
        dsn = self.superuser_dsn if service is None else self.dsn(service, owner=owner)
        return await asyncpg.connect(dsn)


async def _drop_database(admin_url: str, database: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await conn.close()


async def _delete_broker_objects(amqp_url: str, prefix: str) -> None:
    import aio_pika

    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        for consumer in ("auth", "cases", "audit", "marketdata", "gateway", "testkit"):
            for suffix in (".events", ".events.dlq"):
                with contextlib.suppress(Exception):
                    await channel.queue_delete(f"{prefix}{consumer}{suffix}")
                    channel = await connection.channel()
        for exchange in ("epv.events", "epv.dlx"):
            with contextlib.suppress(Exception):
                await channel.exchange_delete(f"{prefix}{exchange}")
    finally:
        await connection.close()


async def _delete_redis_keys(redis_url: str, prefix: str) -> None:
    from redis.asyncio import Redis

    redis = Redis.from_url(redis_url)
    try:
        batch = []
        async for key in redis.scan_iter(match=f"{prefix}*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                await redis.delete(*batch)
                batch = []
        if batch:
            await redis.delete(*batch)
    finally:
        await redis.aclose()
