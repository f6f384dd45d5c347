"""The cases schema: cases and their immutable versions, shares, comments, analyses, legacy
imports, preferences, the user directory projection, outbox and inbox."""

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    func,
    text,
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
    # Legacy import: the old app's id, and the per-owner idempotency key derived from it
    # (`<legacy id>` or `<legacy id>#<position>` for a renamed duplicate).
    Column("legacy_id", Text),
    Column("legacy_key", Text),
    Column("legacy_updated_at", DateTime(timezone=True)),
    Index("ix_cases_owner_updated", "owner_id", text("updated_at DESC"), text("id DESC")),
    Index("ix_cases_updated", text("updated_at DESC"), text("id DESC")),
    Index("ux_cases_owner_legacy_key", "owner_id", "legacy_key", unique=True,
          postgresql_where=text("legacy_key IS NOT NULL")),
)

# One row per version of a case's content, never updated: the history and its diffs.
case_versions = Table(
    "case_versions", metadata,
    Column("case_id", UUID(as_uuid=True), ForeignKey("cases.cases.id", ondelete="CASCADE"),
           primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("content", JSONB, nullable=False),
    Column("author_id", UUID(as_uuid=True), nullable=False),
    Column("change", Text, nullable=False),
    Column("restored_from", Integer),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

shares = Table(
    "shares", metadata,
    Column("case_id", UUID(as_uuid=True), ForeignKey("cases.cases.id", ondelete="CASCADE"),
           primary_key=True),
    Column("user_id", UUID(as_uuid=True), primary_key=True),
    Column("level", Text, nullable=False),
    Column("granted_by", UUID(as_uuid=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    Column("revoked_by", UUID(as_uuid=True)),
    Index("ix_shares_user", "user_id", "case_id"),
)

comments = Table(
    "comments", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("case_id", UUID(as_uuid=True), ForeignKey("cases.cases.id", ondelete="CASCADE"),
           nullable=False),
    Column("author_id", UUID(as_uuid=True), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_comments_case_created", "case_id", "created_at", "id"),
)

# Stored analyses, each self-contained so it can be read back and re-checked years later:
# the inputs it ran on, the versions of the method and of the code, every figure. Legacy ones
# keep the old app's output as given (never recomputed). `origin` is the analyser's name
# (`epv-engine`, an agent's name, `legacy-agent:<agentType>`, `legacy-epv-pro`).
analyses = Table(
    "analyses", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("case_id", UUID(as_uuid=True), ForeignKey("cases.cases.id", ondelete="CASCADE"),
           nullable=False),
    Column("owner_id", UUID(as_uuid=True), nullable=False),
    Column("case_version", Integer),
    Column("origin_kind", Text, nullable=False),
    Column("origin", Text, nullable=False),
    Column("origin_version", Text),
    Column("method_version", Text),
    Column("engine_version", Text),
    Column("resolved_assumptions", JSONB),
    Column("created_by", UUID(as_uuid=True)),
    Column("status", Text, nullable=False, server_default="ok"),
    Column("figures", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("output", JSONB),
    Column("inputs", JSONB),
    Column("warnings", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("run_at", DateTime(timezone=True)),
    Column("legacy_key", Text),
    Column("import_id", UUID(as_uuid=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_analyses_case", "case_id", text("created_at DESC"), text("id DESC")),
    Index("ux_analyses_owner_legacy_key", "owner_id", "legacy_key", unique=True,
          postgresql_where=text("legacy_key IS NOT NULL")),
)

# The export exactly as received (bytes of the request body) and the full import record.
# An ADMIN's import for an email with no account yet waits as `awaiting_account` (no owner,
# the report a preview, no record) until auth.user.registered for that email completes it.
legacy_imports = Table(
    "legacy_imports", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("owner_id", UUID(as_uuid=True)),
    Column("imported_by", UUID(as_uuid=True), nullable=False),
    Column("status", Text, nullable=False, server_default="completed"),
    Column("email", Text),
    Column("raw_body", LargeBinary, nullable=False),
    Column("report", JSONB, nullable=False),
    Column("record", JSONB),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("completed_at", DateTime(timezone=True)),
    Index("ix_legacy_imports_owner", "owner_id", "created_at"),
    Index("ix_legacy_imports_awaiting_email", "email", "created_at",
          postgresql_where=text("status = 'awaiting_account'")),
)

user_preferences = Table(
    "user_preferences", metadata,
    Column("user_id", UUID(as_uuid=True), primary_key=True),
    Column("preferences", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("case_defaults", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("import_id", UUID(as_uuid=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
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
