"""The marketdata schema: last good values per symbol and type, provider call log, outbox."""

from sqlalchemy import Column, DateTime, Float, Index, Integer, MetaData, Table, Text, func
from sqlalchemy.dialects.postgresql import JSONB

from epv_common.events.outbox import outbox_table

SCHEMA = "marketdata"
metadata = MetaData(schema=SCHEMA)

snapshots = Table(
    "snapshots", metadata,
    Column("symbol", Text, primary_key=True),
    Column("data_type", Text, primary_key=True),
    Column("provider", Text, nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("fetched_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

provider_calls = Table(
    "provider_calls", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("provider", Text, nullable=False),
    Column("data_type", Text, nullable=False),
    Column("symbol", Text, nullable=False),
    Column("outcome", Text, nullable=False),
    Column("status_code", Integer),
    Column("duration_ms", Float, nullable=False),
    Column("called_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_provider_calls_called_at", "called_at"),
)

outbox = outbox_table(metadata)
