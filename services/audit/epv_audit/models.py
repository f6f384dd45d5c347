"""The audit schema: the hash-chained entries, the chain head, checkpoints, outbox and inbox.

The runtime role may INSERT and SELECT entries, never UPDATE or DELETE them (bootstrap grants);
only the one-row chain head and the outbox are updatable.
"""

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSON, UUID

from epv_common.events.inbox import inbox_table
from epv_common.events.outbox import outbox_table

SCHEMA = "audit"
metadata = MetaData(schema=SCHEMA)

entries = Table(
    "entries", metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("v", Integer, nullable=False),
    Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
    Column("occurred_at", Text, nullable=False),
    Column("recorded_at", Text, nullable=False),
    Column("actor_id", Text),
    Column("action", Text, nullable=False),
    Column("entity_type", Text),
    Column("entity_id", Text),
    Column("request_id", Text),
    Column("source", Text, nullable=False),
    Column("security", Boolean, nullable=False),
    # json, not jsonb: jsonb rewrites large floats (1e16 and up) as integers that would hash
    # differently, so a stored entry would no longer verify.
    Column("before", JSON),
    Column("after", JSON),
    Column("event", JSON, nullable=False),
    Column("prev_hash", Text, nullable=False),
    Column("hash", Text, nullable=False),
    Index("ix_entries_actor", "actor_id", "seq"),
    Index("ix_entries_entity", "entity_id", "seq"),
    Index("ix_entries_action", "action", "seq"),
    Index("ix_entries_security", "seq", postgresql_where=text("security")),
)

chain_head = Table(
    "chain_head", metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("hash", Text, nullable=False),
    CheckConstraint("id = 1", name="single_head"),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
