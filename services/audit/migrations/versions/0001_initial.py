"""entries, chain head, checkpoints, signing keys, retention cuts, outbox, inbox; the runtime
role may only append entries, and removes old ones only through apply_retention

Revision ID: 0001
Revises:
"""

from alembic import op

from epv_audit.models import (
    SCHEMA,
    chain_head,
    checkpoints,
    entries,
    inbox,
    outbox,
    retention_cuts,
    signing_keys,
)
from epv_common.events.outbox import outbox_notify_ddl

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TABLES = (entries, chain_head, checkpoints, signing_keys, retention_cuts, outbox, inbox)

# Runs as the owner role (SECURITY DEFINER), so the runtime role, which may never DELETE
# entries, can still apply retention -- but only this way: up to a checkpoint whose head hash is
# the stored hash of its entry, never past `up_to`, never past the first entry recorded at or
# after the cut-off, and it records the cut so that verification starts from it.
RETENTION_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {SCHEMA}.apply_retention(cutoff timestamptz, up_to bigint)
RETURNS TABLE (cut_seq bigint, head_hash text, deleted bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {SCHEMA}, pg_temp AS $$
DECLARE
    start_after bigint;
    first_young bigint;
    last_removable bigint;
    cut_at bigint;
    cut_hash text;
    n bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('epv-audit-retention'));
    SELECT coalesce(max(r.cut_seq), 0) INTO start_after FROM retention_cuts r;
    SELECT min(e.seq) INTO first_young FROM entries e
     WHERE e.recorded_at >= to_char(cutoff AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');
    IF first_young IS NULL THEN
        SELECT h.seq INTO last_removable FROM chain_head h WHERE h.id = 1;
    ELSE
        last_removable := first_young - 1;
    END IF;
    last_removable := least(coalesce(last_removable, 0), up_to);
    SELECT c.seq, c.head_hash INTO cut_at, cut_hash
      FROM checkpoints c JOIN entries e ON e.seq = c.seq AND e.hash = c.head_hash
     WHERE c.seq <= last_removable AND c.seq > start_after
     ORDER BY c.seq DESC LIMIT 1;
    IF cut_at IS NULL THEN
        RETURN;
    END IF;
    DELETE FROM entries e WHERE e.seq <= cut_at;
    GET DIAGNOSTICS n = ROW_COUNT;
    INSERT INTO retention_cuts (cut_seq, head_hash, cutoff, deleted)
    VALUES (cut_at, cut_hash, cutoff, n);
    RETURN QUERY SELECT cut_at, cut_hash, n;
END $$
"""


def upgrade() -> None:
    bind = op.get_bind()
    for table in TABLES:
        table.create(bind)
    for statement in outbox_notify_ddl(SCHEMA):
        op.execute(statement)
    # Default privileges give the runtime role SELECT and INSERT only; these two tables change.
    op.execute(f"GRANT UPDATE ON {SCHEMA}.chain_head TO epv_audit")
    op.execute(f"GRANT UPDATE, DELETE ON {SCHEMA}.outbox TO epv_audit")
    # A cut the runtime role could write itself would let it hide the entries before it.
    op.execute(f"REVOKE INSERT ON {SCHEMA}.retention_cuts FROM epv_audit")
    op.execute(RETENTION_FUNCTION)
    op.execute(f"REVOKE ALL ON FUNCTION {SCHEMA}.apply_retention(timestamptz, bigint) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {SCHEMA}.apply_retention(timestamptz, bigint) "
               f"TO epv_audit")
    op.execute(f"REVOKE ALL ON {SCHEMA}.alembic_version FROM epv_audit")
    op.execute(f"GRANT SELECT ON {SCHEMA}.alembic_version TO epv_audit")


def downgrade() -> None:
    op.execute(f"DROP FUNCTION IF EXISTS {SCHEMA}.apply_retention(timestamptz, bigint)")
    bind = op.get_bind()
    for table in reversed(TABLES):
        table.drop(bind)
