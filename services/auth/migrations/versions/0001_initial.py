"""initial auth schema

Revision ID: 0001
Revises:
"""

from alembic import op

from epv_auth.models import (
    SCHEMA,
    inbox,
    outbox,
    refresh_tokens,
    sessions,
    signing_keys,
    system_config,
    users,
)
from epv_common.events.outbox import outbox_notify_ddl

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TABLES = (users, sessions, refresh_tokens, signing_keys, system_config, outbox, inbox)


def upgrade() -> None:
    bind = op.get_bind()
    for table in TABLES:
        table.create(bind)
    for statement in outbox_notify_ddl(SCHEMA):
        op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    for table in reversed(TABLES):
        table.drop(bind)
