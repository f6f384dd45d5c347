"""The auth schema: users, outbox (sessions, tokens and keys come with the auth issue)."""

from sqlalchemy import Boolean, Column, DateTime, MetaData, Table, Text, func, text
from sqlalchemy.dialects.postgresql import UUID

from epv_common.events.outbox import outbox_table

SCHEMA = "auth"
metadata = MetaData(schema=SCHEMA)

users = Table(
    "users", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("email", Text, nullable=False, unique=True),
    Column("name", Text),
    Column("organization", Text),
    Column("password_hash", Text, nullable=False),
    Column("role", Text, nullable=False, server_default="ANALYST"),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

outbox = outbox_table(metadata)
