"""benchmark samples per company

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from epv_marketdata.models import benchmark_inputs

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    benchmark_inputs.create(op.get_bind())


def downgrade() -> None:
    benchmark_inputs.drop(op.get_bind())
