"""entries, chain head, outbox, inbox; the runtime role may only append entries

Revision ID: 0001
Revises:
"""

from alembic import op

from epv_audit.models import SCHEMA, chain_head, entries, inbox, outbox
from epv_common.events.outbox import outbox_notify_ddl

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TABLES = (entries, chain_head, outbox, inbox)


def upgrade() -> None:
    bind = op.get_bind()
    for table in TABLES:
        table.create(bind)
    for statement in outbox_notify_ddl(SCHEMA):
        op.execute(statement)
    # Default privileges give the runtime role SELECT and INSERT only; these two tables change.
    op.execute(f"GRANT UPDATE ON {SCHEMA}.chain_head TO epv_audit")
    op.execute(f"GRANT UPDATE, DELETE ON {SCHEMA}.outbox TO epv_audit")
    op.execute(f"REVOKE ALL ON {SCHEMA}.alembic_version FROM epv_audit")
    op.execute(f"GRANT SELECT ON {SCHEMA}.alembic_version TO epv_audit")


def downgrade() -> None:
    bind = op.get_bind()
    for table in reversed(TABLES):
        table.drop(bind)
