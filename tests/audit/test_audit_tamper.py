"""Tampering as the database superuser, on an isolated chain: verify names the first bad entry.

Each test tampers, checks what verify reports, then repairs the chain and checks it verifies
again, so the tests do not depend on one another.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.audit.auditkit import IsolatedAudit, isolated_audit

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

EVENTS = 40
COLUMNS = ("v, event_id, occurred_at, recorded_at, actor_id, action, entity_type, entity_id, "
           "request_id, source, security, before, after, event, prev_hash, hash")


# Verified in the audit process, and in runs of at least 8 entries on two worker processes
# (a checkpoint every 5 entries here): each tampering is named alike either way.
VERIFY_MODES = {
    "one process": {"EPV_AUDIT_VERIFY_WORKERS": "0"},
    "worker processes": {"EPV_AUDIT_VERIFY_WORKERS": "2", "EPV_AUDIT_VERIFY_RUN": "8"},
}


@pytest_asyncio.fixture(scope="module", loop_scope="session", params=list(VERIFY_MODES))
async def iso(system, request) -> AsyncIterator[IsolatedAudit]:
    async with isolated_audit(system, env=VERIFY_MODES[request.param]) as chain:
        await chain.seed(EVENTS, per_batch=5)
        yield chain


async def entry_k(iso: IsolatedAudit) -> tuple[int, list[int]]:
    """A seq in the middle of the chain with no checkpoint at it or right after it."""
    conn = await iso.connect()
    try:
        cps = [r["seq"] for r in await conn.fetch("SELECT seq FROM audit.checkpoints ORDER BY seq")]
        head = await conn.fetchval("SELECT seq FROM audit.chain_head")
    finally:
        await conn.close()
    k = next(s for s in range(head // 2, head) if s not in cps and s + 1 not in cps
             and s - 1 not in cps)
    return k, cps


async def test_untouched_chain_verifies(iso):
    result = await iso.verify()
    assert result["ok"], result
    assert result["first_seq"] == 1 and result["last_seq"] == result["chain_head_seq"]
    assert result["checkpoints_verified"] >= EVENTS // 5


async def test_one_changed_field_is_named(iso):
    k, _ = await entry_k(iso)
    conn = await iso.connect()
    try:
        original = await conn.fetchval("SELECT actor_id FROM audit.entries WHERE seq = $1", k)
        await conn.execute("UPDATE audit.entries SET actor_id = 'forged' WHERE seq = $1", k)
        result = await iso.verify()
        assert (result["ok"], result["problem"], result["seq"]) == (False, "modified", k), result
        assert result["last_seq"] == k - 1
        await conn.execute("UPDATE audit.entries SET actor_id = $2 WHERE seq = $1", k, original)
    finally:
        await conn.close()
    assert (await iso.verify())["ok"]


async def test_a_changed_json_value_is_named(iso):
    k, _ = await entry_k(iso)
    conn = await iso.connect()
    try:
        original = await conn.fetchval("SELECT after::text FROM audit.entries WHERE seq = $1", k)
        await conn.execute("UPDATE audit.entries SET after = '{\"name\": \"forged\"}' "
                           "WHERE seq = $1", k)
        result = await iso.verify()
        assert (result["problem"], result["seq"]) == ("modified", k), result
        await conn.execute("UPDATE audit.entries SET after = $2::json WHERE seq = $1", k, original)
    finally:
        await conn.close()
    assert (await iso.verify())["ok"]


async def test_a_deleted_entry_is_named(iso):
    k, _ = await entry_k(iso)
    conn = await iso.connect()
    try:
        row = await conn.fetchrow("SELECT * FROM audit.entries WHERE seq = $1", k)
        await conn.execute("DELETE FROM audit.entries WHERE seq = $1", k)
        result = await iso.verify()
        assert (result["ok"], result["problem"], result["seq"]) == (False, "missing", k), result
        await restore(conn, [row])
    finally:
        await conn.close()
    assert (await iso.verify())["ok"]


async def test_two_swapped_entries_are_named(iso):
    k, _ = await entry_k(iso)
    conn = await iso.connect()
    try:
        # The rows trade places: each keeps its content, the seqs are exchanged.
        await conn.execute("""
            UPDATE audit.entries SET seq = CASE seq WHEN $1 THEN -1 ELSE seq END WHERE seq = $1;
            """.replace("$1", str(k)))
        await conn.execute(f"UPDATE audit.entries SET seq = {k} WHERE seq = {k + 1}")
        await conn.execute(f"UPDATE audit.entries SET seq = {k + 1} WHERE seq = -1")
        result = await iso.verify()
        assert not result["ok"] and result["seq"] == k, result
        assert result["problem"] in ("out_of_order", "modified"), result
        await conn.execute(f"UPDATE audit.entries SET seq = -1 WHERE seq = {k}")
        await conn.execute(f"UPDATE audit.entries SET seq = {k} WHERE seq = {k + 1}")
        await conn.execute(f"UPDATE audit.entries SET seq = {k + 1} WHERE seq = -1")
    finally:
        await conn.close()
    assert (await iso.verify())["ok"]


async def test_two_entries_with_swapped_contents_are_named(iso):
    k, _ = await entry_k(iso)
    conn = await iso.connect()
    try:
        a = await conn.fetchrow("SELECT * FROM audit.entries WHERE seq = $1", k)
        b = await conn.fetchrow("SELECT * FROM audit.entries WHERE seq = $1", k + 1)
        await conn.execute("DELETE FROM audit.entries WHERE seq = ANY($1::bigint[])", [k, k + 1])
        await restore(conn, [{**dict(b), "seq": k}, {**dict(a), "seq": k + 1}])
        result = await iso.verify()
        assert (result["ok"], result["problem"], result["seq"]) == (False, "out_of_order", k), result
        await conn.execute("DELETE FROM audit.entries WHERE seq = ANY($1::bigint[])", [k, k + 1])
        await restore(conn, [a, b])
    finally:
        await conn.close()
    assert (await iso.verify())["ok"]


async def test_a_rewritten_chain_fails_at_the_next_checkpoint(iso):
    """Content changed and every hash after it recomputed: only the signature catches it."""
    from epv_common.auditchain import chain_entry, entry_fields

    k, cps = await entry_k(iso)
    next_cp = min(s for s in cps if s > k)
    conn = await iso.connect()
    try:
        rows = [dict(r) for r in await conn.fetch(
            "SELECT seq, " + COLUMNS.replace("before, after, event", "before::text, "
            "after::text, event::text") + " FROM audit.entries WHERE seq >= $1 ORDER BY seq", k)]
        originals = await conn.fetch("SELECT * FROM audit.entries WHERE seq >= $1", k)
        import orjson

        prev = rows[0]["prev_hash"]
        for row in rows:
            fields = {**row, "event_id": str(row["event_id"]),
                      **{c: orjson.loads(row[c]) if row[c] is not None else None
                         for c in ("before", "after", "event")}}
            if row["seq"] == k:
                fields["actor_id"] = "forged"
            entry = chain_entry(prev, entry_fields(fields))
            await conn.execute("UPDATE audit.entries SET actor_id = $2, prev_hash = $3, hash = $4 "
                               "WHERE seq = $1", row["seq"], entry["actor_id"], prev, entry["hash"])
            prev = entry["hash"]
        await conn.execute("UPDATE audit.chain_head SET hash = $1", prev)
        result = await iso.verify()
        assert (result["problem"], result["seq"]) == ("checkpoint_mismatch", next_cp), result
        await conn.execute("DELETE FROM audit.entries WHERE seq >= $1", k)
        await restore(conn, originals)
        await conn.execute("UPDATE audit.chain_head SET hash = (SELECT hash FROM audit.entries "
                           "ORDER BY seq DESC LIMIT 1)")
    finally:
        await conn.close()
    assert (await iso.verify())["ok"]


async def test_a_dropped_tail_is_named(iso):
    _, cps = await entry_k(iso)
    cut = cps[len(cps) // 2]
    conn = await iso.connect()
    try:
        tail = await conn.fetch("SELECT * FROM audit.entries WHERE seq > $1", cut)
        head = await conn.fetchrow("SELECT seq, hash FROM audit.chain_head")
        await conn.execute("DELETE FROM audit.entries WHERE seq > $1", cut)
        result = await iso.verify()
        assert (result["problem"], result["seq"]) == ("after_last_checkpoint", cut + 1), result
        assert result["last_good_checkpoint"]["seq"] == cut
        # Also with the head wound back: the later signed checkpoints still claim the tail.
        await conn.execute("UPDATE audit.chain_head SET seq = $1, hash = (SELECT hash FROM "
                           "audit.entries WHERE seq = $1)", cut)
        result = await iso.verify()
        assert (result["problem"], result["seq"]) == ("after_last_checkpoint", cut + 1), result
        await restore(conn, tail)
        await conn.execute("UPDATE audit.chain_head SET seq = $1, hash = $2", head["seq"],
                           head["hash"])
    finally:
        await conn.close()
    assert (await iso.verify())["ok"]


async def test_a_forged_checkpoint_signature_is_named(iso):
    _, cps = await entry_k(iso)
    seq = cps[1]
    conn = await iso.connect()
    try:
        original = await conn.fetchval("SELECT signature FROM audit.checkpoints WHERE seq = $1", seq)
        forged = ("A" if original[0] != "A" else "B") + original[1:]
        await conn.execute("UPDATE audit.checkpoints SET signature = $2 WHERE seq = $1", seq, forged)
        result = await iso.verify()
        assert (result["problem"], result["seq"]) == ("bad_signature", seq), result
        await conn.execute("UPDATE audit.checkpoints SET signature = $2 WHERE seq = $1", seq,
                           original)
    finally:
        await conn.close()
    assert (await iso.verify())["ok"]


async def restore(conn, rows) -> None:
    columns = ["seq", *COLUMNS.split(", ")]
    casts = ["::json" if c in ("before", "after", "event") else "" for c in columns]
    values = ", ".join(f"${i}{cast}" for i, cast in enumerate(casts, 1))
    for row in rows:
        row = dict(row)
        await conn.execute(f"INSERT INTO audit.entries ({', '.join(columns)}) VALUES ({values})",
                           *[row[c] for c in columns])
