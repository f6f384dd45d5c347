"""The audit schema: the hash-chained entries, the chain head, signed checkpoints, the keys that
signed them, retention cuts, outbox and inbox.

The runtime role may INSERT and SELECT entries, never UPDATE or DELETE them (bootstrap grants);
only the one-row chain head and the outbox are updatable. Entries leave only through
`apply_retention`, a SECURITY DEFINER function of the owner role (see the migration).
"""

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSON, UUID

from epv_audit import SCHEMA
from epv_common.events.inbox import inbox_table
from epv_common.events.outbox import outbox_table

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
    Index("ix_entries_occurred", "occurred_at", "seq"),
)

chain_head = Table(
    "chain_head", metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("hash", Text, nullable=False),
    # The last signed checkpoint, and the last entry that is not itself a checkpoint notice: a
    # checkpoint is due only for such entries, else each notice would call for the next one.
    Column("checkpoint_seq", BigInteger, nullable=False, server_default=text("0")),
    Column("checkpoint_at", DateTime(timezone=True)),
    Column("content_seq", BigInteger, nullable=False, server_default=text("0")),
    CheckConstraint("id = 1", name="single_head"),
)

checkpoints = Table(
    "checkpoints", metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("head_hash", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("key_id", Text, nullable=False),
    Column("signature", Text, nullable=False),
)

# Every key that ever signed a checkpoint stays here, so old checkpoints still verify after a
# rotation (GET /api/audit/keys lists them all).
signing_keys = Table(
    "signing_keys", metadata,
    Column("key_id", Text, primary_key=True),
    Column("public_key", Text, nullable=False),  # base64url of the 32 raw bytes (the JWK x)
    Column("first_used_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Written only by apply_retention: where the chain now starts (after the entry at cut_seq).
retention_cuts = Table(
    "retention_cuts", metadata,
    Column("cut_seq", BigInteger, primary_key=True, autoincrement=False),
    Column("head_hash", Text, nullable=False),
    Column("cutoff", DateTime(timezone=True), nullable=False),
    Column("deleted", BigInteger, nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
