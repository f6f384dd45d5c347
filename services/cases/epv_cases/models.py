"""The cases schema: cases, the user directory projection, outbox and inbox."""

from sqlalchemy import (
    Boolean, Column, DateTime, Index, Integer, MetaData, Table, Text, func, text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from epv_common.events.inbox import inbox_table
from epv_common.events.outbox import outbox_table

SCHEMA = "cases"
metadata = MetaData(schema=SCHEMA)

cases = Table(
    "cases", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("owner_id", UUID(as_uuid=True), nullable=False),
    Column("name", Text, nullable=False),
    Column("status", Text, nullable=False, server_default="DRAFT"),
    Column("industry", Text),
    Column("ticker", Text),
    Column("tags", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("notes", Text),
    Column("financial_data", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("version", Integer, nullable=False, server_default=text("1")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("deleted_at", DateTime(timezone=True)),
    Index("ix_cases_owner_updated", "owner_id", "updated_at", "id"),
)

users = Table(
    "users", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("email", Text, nullable=False, unique=True),
    Column("name", Text),
    Column("role", Text, nullable=False),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
