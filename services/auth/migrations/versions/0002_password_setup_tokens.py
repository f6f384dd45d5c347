"""one-time password-setup tokens (invited accounts, admin-assisted resets)

Revision ID: 0002
Revises: 0001

The table is spelled out here rather than created from epv_auth.models, so this revision
keeps creating what it created even after the model moves on (a later change is a later
revision).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SCHEMA = "auth"


def upgrade() -> None:
    op.create_table(
        "password_setup_tokens",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("token_hash", sa.LargeBinary, nullable=False, unique=True),
        sa.Column("user_id", UUID(as_uuid=True),
                  sa.ForeignKey(f"{SCHEMA}.users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("issued_by", UUID(as_uuid=True)),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
        sa.Column("superseded_at", sa.DateTime(timezone=True)),
        schema=SCHEMA,
    )
    op.create_index("ix_password_setup_tokens_user_open", "password_setup_tokens", ["user_id"],
                    schema=SCHEMA,
                    postgresql_where=sa.text("used_at IS NULL AND superseded_at IS NULL"))


def downgrade() -> None:
    op.drop_table("password_setup_tokens", schema=SCHEMA)
