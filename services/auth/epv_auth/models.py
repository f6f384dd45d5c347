"""The auth schema: users, sessions, refresh tokens, password-setup tokens, signing keys,
system config, outbox, inbox."""

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    MetaData,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from epv_common.events.inbox import inbox_table
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
    # Set when the account was created for an ADMIN's legacy import: its password hash is of
    # a random secret nobody knows, so it cannot log in until a password is set.
    Column("invited_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_users_created", "created_at", "id"),
)

sessions = Table(
    "sessions", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("user_id", UUID(as_uuid=True), ForeignKey(users.c.id, ondelete="CASCADE"),
           nullable=False),
    Column("device", Text),
    Column("address", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("last_seen_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("ended_at", DateTime(timezone=True)),
    Column("end_reason", Text),
    Index("ix_sessions_user_open", "user_id", postgresql_where=text("ended_at IS NULL")),
)

refresh_tokens = Table(
    "refresh_tokens", metadata,
    # SHA-256 of the token: a database leak yields nothing a client could present.
    Column("token_hash", LargeBinary, primary_key=True),
    Column("session_id", UUID(as_uuid=True), ForeignKey(sessions.c.id, ondelete="CASCADE"),
           nullable=False, index=True),
    Column("issued_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
)

password_setup_tokens = Table(
    "password_setup_tokens", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    # SHA-256 of the token: it is shown once, to the admin who issued it, and never stored.
    Column("token_hash", LargeBinary, nullable=False, unique=True),
    Column("user_id", UUID(as_uuid=True), ForeignKey(users.c.id, ondelete="CASCADE"),
           nullable=False),
    Column("issued_by", UUID(as_uuid=True)),
    Column("issued_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
    # Set when a newer token was issued for the same user: only the newest one works.
    Column("superseded_at", DateTime(timezone=True)),
    Index("ix_password_setup_tokens_user_open", "user_id",
          postgresql_where=text("used_at IS NULL AND superseded_at IS NULL")),
)

signing_keys = Table(
    "signing_keys", metadata,
    Column("kid", Text, primary_key=True),
    Column("algorithm", Text, nullable=False),
    # nonce || AES-GCM(private key PKCS#8 DER), the kid as associated data.
    Column("private_key_encrypted", LargeBinary, nullable=False),
    Column("public_jwk", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("retired_at", DateTime(timezone=True)),
)

system_config = Table(
    "system_config", metadata,
    Column("key", Text, primary_key=True),
    Column("value", JSONB),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_by", UUID(as_uuid=True)),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
