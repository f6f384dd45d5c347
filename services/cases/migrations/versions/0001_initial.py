"""cases, versions, shares, comments, analyses, legacy imports, preferences, user directory,
outbox, inbox

Revision ID: 0001
Revises:
"""

from alembic import op

from epv_cases.models import (
    SCHEMA,
    analyses,
    case_versions,
    cases,
    comments,
    inbox,
    legacy_imports,
    outbox,
    shares,
    user_preferences,
    users,
)
from epv_common.events.outbox import outbox_notify_ddl

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TABLES = (cases, case_versions, shares, comments, analyses, legacy_imports, user_preferences,
          users, outbox, inbox)


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
