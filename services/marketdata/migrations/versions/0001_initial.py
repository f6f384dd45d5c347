"""initial marketdata schema

Revision ID: 0001
Revises:
"""

from alembic import op

from epv_common.events.outbox import outbox_notify_ddl
from epv_marketdata.models import SCHEMA, outbox, provider_calls, snapshots

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TABLES = (snapshots, provider_calls, outbox,)


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
