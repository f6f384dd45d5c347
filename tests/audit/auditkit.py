"""Helpers for the audit tests: raw events on a run's exchange, an isolated audit instance
(its own database and broker prefix) for tests that tamper with or cut the chain."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aio_pika
import asyncpg
import httpx

from epv_common import bootstrap
from epv_common.events.envelope import CloudEvent
from epv_common.testing.system import ServiceProcess, System, role_dsn
from epv_common.testing.tcpproxy import free_port
from tests.conftest import eventually


def case_event(**overrides: Any) -> CloudEvent:
    subject = str(uuid.uuid4())
    fields: dict[str, Any] = {
        "source": "cases", "type": "case.created", "subject": subject,
        "actorid": str(uuid.uuid4()), "requestid": uuid.uuid4().hex,
        "data": {"case_id": subject, "owner_id": str(uuid.uuid4()), "name": "raw",
                 "status": "DRAFT", "version": 1}}
    return CloudEvent(**{**fields, **overrides})


async def publish(amqp_url: str, prefix: str, events: list[CloudEvent]) -> None:
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(f"{prefix}epv.events")
        await asyncio.gather(*(exchange.publish(
            aio_pika.Message(e.to_json(), message_id=e.id,
                             delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
            routing_key=e.type, mandatory=True) for e in events))
    finally:
        await connection.close()


def manager(system: System, role: str = "MANAGER", user_id: str | None = None) -> dict:
    return system.internal_headers(user_id=user_id or str(uuid.uuid4()), role=role)


@dataclass
class IsolatedAudit:
    """One audit process on a database and broker prefix of its own."""

    system: System
    database: str
    prefix: str
    process: ServiceProcess

    @property
    def url(self) -> str:
        return self.process.url

    def headers(self, role: str = "MANAGER", user_id: str | None = None) -> dict:
        return manager(self.system, role, user_id)

    async def connect(self, role: str | None = None) -> asyncpg.Connection:
        admin = self.system.backends.admin_database_url
        dsn = (bootstrap.with_database(admin, self.database) if role is None
               else role_dsn(admin, self.database, role, driver="postgresql"))
        return await asyncpg.connect(dsn)

    async def publish(self, events: list[CloudEvent]) -> None:
        await publish(self.system.backends.amqp_url, self.prefix, events)

    async def seed(self, events: int, *, per_batch: int) -> int:
        """Publishes `events` more case events in rounds, so checkpoints fall between rounds."""
        done = 0
        base = await self._published()
        while done < events:
            n = min(per_batch, events - done)
            await self.publish([case_event() for _ in range(n)])
            done += n
            head = await self.settled(base + done)
        return head

    async def _published(self) -> int:
        conn = await self.connect()
        try:
            return await conn.fetchval(
                "SELECT count(*) FROM audit.inbox WHERE event_type NOT LIKE 'audit.%'")
        finally:
            await conn.close()

    async def settled(self, events: int) -> int:
        """Waits until `events` published (non-audit) events and the notice of every checkpoint are
        entries and nothing waits in the outbox; returns the head seq."""
        async def state() -> tuple[int, int, int, int]:
            conn = await self.connect()
            try:
                # The inbox, unlike the entries, keeps every event id through retention.
                return tuple(await conn.fetchrow(
                    "SELECT (SELECT count(*) FROM audit.inbox WHERE event_type NOT LIKE "
                    "'audit.%'), (SELECT count(*) FROM audit.inbox WHERE event_type = "
                    "'audit.checkpoint.created'), (SELECT count(*) FROM audit.checkpoints), "
                    "(SELECT count(*) FROM audit.outbox WHERE sent_at IS NULL)"))
            finally:
                await conn.close()

        await eventually(state, until=lambda s: s[0] >= events and s[1] == s[2] and s[3] == 0,
                         timeout_s=30)
        conn = await self.connect()
        try:
            return await conn.fetchval("SELECT seq FROM audit.chain_head")
        finally:
            await conn.close()

    async def verify(self, **params: Any) -> dict:
        async with httpx.AsyncClient(timeout=60) as client:
            response = await client.get(self.url + "/api/audit/verify", params=params,
                                        headers=self.headers())
        assert response.status_code == 200, response.text
        return response.json()


@contextlib.asynccontextmanager
async def isolated_audit(system: System, *, env: dict[str, str] | None = None
                         ) -> AsyncIterator[IsolatedAudit]:
    tag = uuid.uuid4().hex[:8]
    database = f"epv_audit_iso_{tag}"
    admin = system.backends.admin_database_url
    await bootstrap.bootstrap(admin, database)
    base = system.common_env()
    migrate_env = {**base, "EPV_MIGRATIONS_DATABASE_URL": role_dsn(
        admin, database, "epv_audit_owner", driver="postgresql+asyncpg")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "epv_audit", "migrate", env=migrate_env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate()
    assert proc.returncode == 0, out.decode(errors="replace")
    prefix = f"{system.amqp_prefix}iso{tag}."
    port = free_port()
    process_env = {
        **migrate_env, "EPV_PORT": str(port), "EPV_AMQP_PREFIX": prefix,
        "EPV_DATABASE_URL": role_dsn(admin, database, "epv_audit", driver="postgresql+asyncpg"),
        "EPV_AUDIT_CHECKPOINT_EVERY": "5", "EPV_AUDIT_CHECKPOINT_INTERVAL_S": "3600",
        **(env or {})}
    process = ServiceProcess(name="audit", port=port, env=process_env,
                             log_path=system.workdir / f"audit-iso-{tag}.log")
    process.start()
    iso = IsolatedAudit(system=system, database=database, prefix=prefix, process=process)
    try:
        await wait_ready(process)
        await wait_queue(system.backends.amqp_url, f"{prefix}audit.events")
        yield iso
    finally:
        process.stop()
        with contextlib.suppress(Exception):
            conn = await asyncpg.connect(admin)
            await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            await conn.close()
        with contextlib.suppress(Exception):
            await delete_broker_objects(system.backends.amqp_url, prefix)


async def wait_ready(process: ServiceProcess, timeout_s: float = 60) -> None:
    """Healthy, and its consumer bound (health says rabbitmq up only once connected)."""
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=3) as client:
        while time.monotonic() < deadline:
            if process.process and process.process.poll() is not None:
                raise RuntimeError(f"audit exited:\n{process.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                r = await client.get(process.url + "/health")
                if r.status_code == 200 and r.json().get("status") == "up":
                    return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"audit not ready:\n{process.log_tail()}")


async def wait_queue(amqp_url: str, queue: str, timeout_s: float = 30) -> None:
    """Until the consumer has declared and bound its queue (events before that are unroutable)."""
    deadline = time.monotonic() + timeout_s
    connection = await aio_pika.connect(amqp_url)
    try:
        while True:
            channel = await connection.channel()
            try:
                await channel.declare_queue(queue, passive=True)
                return
            except aio_pika.exceptions.ChannelClosed:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
    finally:
        await connection.close()


async def delete_broker_objects(amqp_url: str, prefix: str) -> None:
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        for name in (f"{prefix}audit.events", f"{prefix}audit.events.dlq"):
            with contextlib.suppress(Exception):
                await channel.queue_delete(name)
                channel = await connection.channel()
        for name in (f"{prefix}epv.events", f"{prefix}epv.dlx"):
            with contextlib.suppress(Exception):
                await channel.exchange_delete(name)
                channel = await connection.channel()
    finally:
        await connection.close()
