"""The transactional outbox table, shared in shape by every service that publishes.

Each service owns its copy inside its own schema. A statement-level trigger NOTIFYs the relay
when rows arrive, so it wakes at once instead of waiting for its poll.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    bindparam,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncSession

from epv_common.events.contract import validate_event
from epv_common.events.envelope import CloudEvent


def outbox_table(metadata: MetaData) -> Table:
    return Table(
        "outbox", metadata,
        Column("seq", BigInteger, primary_key=True, autoincrement=True),
        Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
        Column("event_type", Text, nullable=False),
        Column("payload", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("sent_at", DateTime(timezone=True)),
        Column("attempts", Integer, nullable=False, server_default=text("0")),
        Column("next_attempt_at", DateTime(timezone=True), nullable=False,
               server_default=func.now()),
        Column("last_error", Text),
        Index("ix_outbox_pending", "next_attempt_at", "seq",
              postgresql_where=text("sent_at IS NULL")),
        Index("ix_outbox_sent_at", "sent_at", postgresql_where=text("sent_at IS NOT NULL")),
    )


def notify_channel(schema: str) -> str:
    return f"{schema}_outbox"


def outbox_notify_ddl(schema: str) -> list[str]:
    """DDL for the NOTIFY trigger; run from the service's migration after creating the table."""
    return [
        f"""
        CREATE OR REPLACE FUNCTION {schema}.outbox_notify() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{notify_channel(schema)}', '');
            RETURN NULL;
        END $$
        """,
        f"DROP TRIGGER IF EXISTS outbox_notify ON {schema}.outbox",
        f"""
        CREATE TRIGGER outbox_notify AFTER INSERT ON {schema}.outbox
        FOR EACH STATEMENT EXECUTE FUNCTION {schema}.outbox_notify()
        """,
    ]


async def insert_outbox_rows(session: AsyncSession, outbox: Table,
                             events: Sequence[CloudEvent]) -> None:
    rows = []
    for event in events:
        payload = event.model_dump(exclude_none=True)
        validate_event(payload)
        rows.append({"event_id": uuid.UUID(event.id), "event_type": event.type, "payload": payload})
    await session.execute(insert(outbox), rows)


_EVENT_ARRAYS = {"event_id": "event_ids", "event_type": "event_types", "payload": "payloads"}
"""Outbox column -> the array parameter holding that column of every event to store."""


def insert_outbox_arrays(outbox: Table):
    """An INSERT of events given as parallel arrays (see outbox_array_params): one statement
    text whatever the number of events, to run as a CTE beside the write it belongs to, so
    that write and its events commit together in one statement."""
    return insert(outbox).from_select(
        list(_EVENT_ARRAYS),
        select(*(func.unnest(bindparam(param, type_=ARRAY(outbox.c[column].type)))
                 for column, param in _EVENT_ARRAYS.items())))


def outbox_array_params(events: Sequence[CloudEvent]) -> dict[str, list[Any]]:
    """The parameters of insert_outbox_arrays, each event checked against its JSON Schema
    first, as UnitOfWork.commit checks them. Payloads go to the driver as JSON text."""
    payloads = [event.model_dump(exclude_none=True) for event in events]
    for payload in payloads:
        validate_event(payload)
    return {"event_ids": [uuid.UUID(e.id) for e in events],
            "event_types": [e.type for e in events],
            "payloads": [orjson.dumps(p).decode() for p in payloads]}
