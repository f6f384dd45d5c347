"""Events end to end: service -> outbox -> relay -> RabbitMQ -> inbox consumer -> effect."""

from __future__ import annotations

import asyncio
import uuid

import aio_pika
import httpx
import orjson
import pytest

from epv_common.events.contract import validate_event
from epv_common.events.envelope import CloudEvent
from tests.conftest import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]


async def audit_entries_for(system, entity_ids: list[str]) -> list[dict]:
    conn = await system.connect()
    try:
        rows = await conn.fetch(
            "SELECT seq, action, entity_id, event_id::text FROM audit.entries "
            "WHERE entity_id = ANY($1::text[]) ORDER BY seq", entity_ids)
        return [dict(r) for r in rows]
    finally:
        await conn.close()


async def create_case(client: httpx.AsyncClient, system, name: str) -> dict:
    response = await client.post(
        system.url("cases") + "/api/cases", json={"name": name},
        headers=system.internal_headers(user_id=str(uuid.uuid4())))
    assert response.status_code == 201, response.text
    return response.json()


async def publish_raw(system, body: bytes, *, routing_key: str, message_id: str | None = None):
    connection = await aio_pika.connect(system.backends.amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(f"{system.amqp_prefix}epv.events")
        await exchange.publish(
            aio_pika.Message(body, message_id=message_id,
                             delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
            routing_key=routing_key, mandatory=True)
    finally:
        await connection.close()


async def dead_lettered(system, consumer: str) -> list[bytes]:
    connection = await aio_pika.connect(system.backends.amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.get_queue(f"{system.amqp_prefix}{consumer}.events.dlq")
        bodies = []
        while (message := await queue.get(fail=False, no_ack=False)) is not None:
            bodies.append(message.body)
            await message.nack(requeue=True)
            if len(bodies) > 1000:
                break
        return bodies
    finally:
        await connection.close()


def sample_event(**overrides) -> CloudEvent:
    subject = str(uuid.uuid4())
    fields = {"source": "cases", "type": "case.created", "subject": subject,
              "data": {"case_id": subject, "owner_id": str(uuid.uuid4()), "name": "raw",
                       "status": "DRAFT", "version": 1}}
    return CloudEvent(**{**fields, **overrides})


async def test_registration_reaches_audit_and_the_cases_directory(gateway, system):
    email = f"flow-{uuid.uuid4().hex[:8]}@example.com"
    response = await gateway.post("/api/auth/register", json={
        "email": email, "password": "a long enough passphrase", "name": "Flow"})
    assert response.status_code == 201, response.text
    user_id = response.json()["id"]
    assert "password" not in response.text

    entries = await eventually(lambda: audit_entries_for(system, [user_id]), until=len)
    assert [e["action"] for e in entries] == ["auth.user.registered"]

    async def directory_row():
        conn = await system.connect()
        try:
            return await conn.fetchrow("SELECT email, role FROM cases.users WHERE id = $1",
                                       uuid.UUID(user_id))
        finally:
            await conn.close()

    row = await eventually(directory_row, until=lambda r: r is not None)
    assert (row["email"], row["role"]) == (email, "ANALYST")


async def test_a_created_case_becomes_one_audit_entry(system):
    async with httpx.AsyncClient(timeout=10) as client:
        case = await create_case(client, system, "Harbor Aesthetics")
    entries = await eventually(lambda: audit_entries_for(system, [case["id"]]), until=len)
    assert [e["action"] for e in entries] == ["case.created"]


async def test_broker_cut_loses_no_event_and_doubles_none(system):
    proxy = system.amqp_proxies["cases"]
    proxy.cut()
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            semaphore = asyncio.Semaphore(20)

            async def one(i: int) -> dict:
                async with semaphore:
                    return await create_case(client, system, f"during outage {i}")

            cases = await asyncio.gather(*(one(i) for i in range(200)))
        conn = await system.connect()
        try:
            held = await conn.fetchval(
                "SELECT count(*) FROM cases.outbox WHERE sent_at IS NULL "
                "AND payload->>'subject' = ANY($1::text[])", [c["id"] for c in cases])
        finally:
            await conn.close()
        assert held == 200, "with the broker cut away, every event waits in the outbox"
    finally:
        proxy.restore()
    ids = [c["id"] for c in cases]
    assert len(set(ids)) == 200
    entries = await eventually(lambda: audit_entries_for(system, ids),
                               until=lambda rows: len(rows) >= 200, timeout_s=90)
    assert sorted(e["entity_id"] for e in entries) == sorted(ids)  # 0 lost, 0 doubled
    conn = await system.connect()
    try:
        pending = await conn.fetchval("SELECT count(*) FROM cases.outbox WHERE sent_at IS NULL")
    finally:
        await conn.close()
    assert pending == 0


async def test_the_same_event_delivered_twice_has_one_effect(system):
    event = sample_event()
    body = event.to_json()
    await publish_raw(system, body, routing_key=event.type, message_id=event.id)
    await publish_raw(system, body, routing_key=event.type, message_id=event.id)
    marker = sample_event()
    await publish_raw(system, marker.to_json(), routing_key=marker.type)
    # The marker was published after both copies; once it is in, both copies were handled.
    await eventually(lambda: audit_entries_for(system, [marker.subject]), until=len)
    entries = await audit_entries_for(system, [event.subject])
    assert len(entries) == 1


async def test_poison_messages_are_dead_lettered_and_the_consumer_goes_on(system):
    garbage = b"this is not an event " + uuid.uuid4().hex.encode()
    await publish_raw(system, garbage, routing_key="case.created")
    # A well-formed envelope whose effect can never be stored (an integer past I-JSON range).
    unstorable = sample_event(data={"case_id": str(uuid.uuid4()), "n": 2**60})
    await publish_raw(system, unstorable.to_json(), routing_key=unstorable.type)
    after = sample_event()
    await publish_raw(system, after.to_json(), routing_key=after.type)

    await eventually(lambda: audit_entries_for(system, [after.subject]), until=len)
    bodies = await eventually(lambda: dead_lettered(system, "audit"),
                              until=lambda b: garbage in b and unstorable.to_json() in b)
    assert garbage in bodies
    assert await audit_entries_for(system, [unstorable.subject]) == []


async def test_every_emitted_event_matches_its_json_schema(gateway, system):
    await gateway.post("/api/auth/register", json={
        "email": f"schema-{uuid.uuid4().hex[:8]}@example.com",
        "password": "another long passphrase"})
    async with httpx.AsyncClient(timeout=10) as client:
        await create_case(client, system, "schema check")
    conn = await system.connect()
    try:
        payloads = []
        for schema in ("auth", "cases", "audit", "marketdata"):
            rows = await conn.fetch(f"SELECT payload::text FROM {schema}.outbox")
            payloads += [orjson.loads(r[0]) for r in rows]
    finally:
        await conn.close()
    assert {p["type"] for p in payloads} >= {"auth.user.registered", "case.created"}
    for payload in payloads:
        validate_event(payload)
