"""The marketdata schema: last good values per symbol and type, provider call log, the
benchmark sample of each company (for sector and industry medians), outbox."""

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

# One row per company, derived from its stored overview/fundamentals/quote whenever one of
# them is stored, so sector medians read one small table instead of re-deriving every time.
benchmark_inputs = Table(
    "benchmark_inputs", metadata,
    Column("symbol", Text, primary_key=True),
    Column("sector", Text),
    Column("industry", Text),
    Column("inputs", JSONB, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
Index("ix_benchmark_inputs_sector", func.lower(benchmark_inputs.c.sector))
Index("ix_benchmark_inputs_industry", func.lower(benchmark_inputs.c.industry))

outbox = outbox_table(metadata)
