"""Verify in runs between checkpoints (epv_audit.verifier): whatever the tampering, the runs
joined name what one pass over the chain names. In memory: rows as the database returns them
(ORDER BY seq), no services."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from epv_audit.verifier import Run, entries_of, verify_runs
from epv_common.auditchain import (
    GENESIS_PREV_HASH,
    Problem,
    build_chain,
    derive_key_id,
    entry_fields,
    entry_hash,
    generate_private_key,
    make_fields,
    sign_checkpoint,
    verify_chain,
)

T0 = datetime(2025, 6, 1, tzinfo=UTC)
KEY = generate_private_key()
KEYS = {derive_key_id(KEY.public_key()): KEY.public_key()}
N = 120
CP_EVERY = 10


def _fields(seq: int) -> dict:
    return make_fields(
        seq=seq, event_id=f"00000000-0000-4000-8000-{seq:012d}",
        occurred_at=T0 + timedelta(seconds=seq), recorded_at=T0 + timedelta(seconds=seq, milliseconds=3),
        source="cases", action="case.updated", actor_id=f"u-{seq % 7}", entity_type="case",
        entity_id=f"c-{seq % 13}", request_id=None, security=seq % 9 == 0,
        before={"status": "draft", "revenue": 1000.0 + seq}, after={"status": "review", "n": seq},
        event={"id": f"ev-{seq}", "data": {"n": seq, "x": 0.5}})


CHAIN = list(build_chain(_fields(i) for i in range(1, N + 1)))


def _checkpoints(chain: list[dict]) -> list:
    by_seq = {e["seq"]: e for e in chain}
    return [sign_checkpoint(KEY, seq=s, head_hash=by_seq[s]["hash"] if s in by_seq else "f" * 64,
                            created_at=T0 + timedelta(hours=s))
            for s in range(CP_EVERY, N + 1, CP_EVERY)]


CPS = _checkpoints(CHAIN)


def _rewrite_from(chain: list[dict], k: int, change: Callable[[dict], None]) -> None:
    """Entry k changed and every hash from it on recomputed (as a superuser could)."""
    prev = chain[k - 2]["hash"] if k > 1 else GENESIS_PREV_HASH
    for e in chain[k - 1:]:
        if e["seq"] == k:
            change(e)
        e["prev_hash"] = prev
        e["hash"] = prev = entry_hash(prev, entry_fields(e))


def _tamper(name: str) -> tuple[list[dict], list]:
    chain, cps = copy.deepcopy(CHAIN), list(CPS)
    match name:
        case "intact":
            pass
        case "field changed":
            chain[44]["actor_id"] = "forged"
        case "field changed at a run's first entry":
            chain[30]["actor_id"] = "forged"
        case "changed with its hash recomputed":
            chain[44]["actor_id"] = "forged"
            chain[44]["hash"] = entry_hash(chain[44]["prev_hash"], entry_fields(chain[44]))
        case "changed with its hash recomputed, at a checkpoint":
            chain[49]["actor_id"] = "forged"
            chain[49]["hash"] = entry_hash(chain[49]["prev_hash"], entry_fields(chain[49]))
        case "rewritten chain":
            _rewrite_from(chain, 45, lambda e: e.update(actor_id="forged"))
        case "deleted":
            del chain[44]
        case "deleted at a checkpoint":
            del chain[39]
        case "deleted after a checkpoint":
            del chain[40]
        case "deleted run across a checkpoint":
            del chain[37:43]
        case "renumbered after a deletion":
            del chain[44]
            for e in chain[44:]:
                e["seq"] -= 1
        case "contents swapped":
            a, b = chain[44], chain[45]
            chain[44], chain[45] = {**b, "seq": 45}, {**a, "seq": 46}
        case "contents swapped across a checkpoint":
            a, b = chain[39], chain[40]
            chain[39], chain[40] = {**b, "seq": 40}, {**a, "seq": 41}
        case "seq moved to a later run":
            chain[39]["seq"] = 75
            chain.sort(key=lambda e: e["seq"])
            del chain[[e["seq"] for e in chain].index(75) + 1]  # the row that held 75 is gone
        case "tail dropped":
            del chain[64:]
        case "tail dropped at a checkpoint":
            del chain[60:]
        case "bad signature":
            forged = ("A" if cps[5].signature[0] != "A" else "B") + cps[5].signature[1:]
            cps[5] = dataclasses.replace(cps[5], signature=forged)
        case "checkpoint of another head":
            cps[6] = sign_checkpoint(KEY, seq=cps[6].seq, head_hash="e" * 64, created_at=T0)
        case "unsigned tail":
            del cps[-1]
        case _:
            raise AssertionError(name)
    return chain, cps


SCENARIOS = ["intact", "field changed", "field changed at a run's first entry",
             "changed with its hash recomputed",
             "changed with its hash recomputed, at a checkpoint", "rewritten chain", "deleted",
             "deleted at a checkpoint", "deleted after a checkpoint",
             "deleted run across a checkpoint", "renumbered after a deletion", "contents swapped",
             "contents swapped across a checkpoint", "seq moved to a later run", "tail dropped",
             "tail dropped at a checkpoint", "bad signature", "checkpoint of another head",
             "unsigned tail"]


async def _in_runs(rows: list[dict], whole: Run, size: int, *, in_flight: int = 3):
    def read(run: Run) -> list[dict]:  # WHERE seq BETWEEN lo AND hi ORDER BY seq
        return [e for e in rows if run.lo <= e["seq"] <= run.hi]

    async def here(run: Run):
        return run.verify(read(run), KEYS)

    runs = whole.split(size)
    return await verify_runs(runs, whole, in_flight=in_flight,
                             submit=lambda run: asyncio.ensure_future(here(run)),
                             verify_here=here), runs


@pytest.mark.parametrize("size", [1, 10, 25, 55, 1000])
@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_runs_joined_name_what_one_pass_names(scenario, size):
    rows, cps = _tamper(scenario)
    whole = Run(lo=1, hi=N, start_prev_hash=GENESIS_PREV_HASH, checkpoints=tuple(cps),
                expected_last_seq=N)
    joined, runs = await _in_runs(rows, whole, size)
    assert joined == whole.verify(rows, KEYS)
    if size < N:
        assert len(runs) > 1


@pytest.mark.parametrize("scenario", ["intact", "field changed", "deleted after a checkpoint"])
async def test_runs_from_a_later_start_and_after_a_retention_cut(scenario):
    rows, cps = _tamper(scenario)
    rows = [e for e in rows if e["seq"] > 20]
    cp = next(c for c in cps if c.seq == 20)
    for whole in (  # a retention cut at 20, and a `from` of 23 (not anchored)
            Run(lo=21, hi=N, start_prev_hash=cp.head_hash,
                checkpoints=tuple(c for c in cps if c.seq >= 20), expected_last_seq=N),
            Run(lo=23, hi=N, start_prev_hash=None,
                checkpoints=tuple(c for c in cps if c.seq >= 22), expected_last_seq=N)):
        joined, runs = await _in_runs([e for e in rows if e["seq"] >= whole.lo], whole, 15)
        assert len(runs) > 1
        assert joined == whole.verify([e for e in rows if e["seq"] >= whole.lo], KEYS)


def test_runs_are_cut_after_checkpoints_and_start_on_them():
    whole = Run(lo=1, hi=N, start_prev_hash=GENESIS_PREV_HASH, checkpoints=tuple(CPS),
                expected_last_seq=N)
    runs = whole.split(25)
    assert [(r.lo, r.hi) for r in runs] == [(1, 30), (31, 60), (61, 90), (91, 120)]
    for before, run in zip(runs, runs[1:], strict=False):
        anchor = next(c for c in CPS if c.seq == before.hi)
        assert run.start_prev_hash == anchor.head_hash and run.checkpoints[0] == anchor
        assert before.expected_last_seq == before.hi
    assert runs[-1].expected_last_seq == N
    assert whole.split(10_000) == [whole]


def _row(entry: dict) -> tuple:
    """An entry as `entries_of` gets it from the database: json columns as their text."""
    text = {c: None if entry[c] is None else orjson.dumps(entry[c]).decode()
            for c in ("before", "after", "event")}
    return (entry["seq"], entry["v"], entry["event_id"], entry["occurred_at"],
            entry["recorded_at"], entry["source"], entry["action"], entry["actor_id"],
            entry["entity_type"], entry["entity_id"], entry["request_id"], entry["security"],
            text["before"], text["after"], text["event"], entry["prev_hash"], entry["hash"])


def test_rows_decode_to_entries_that_verify():
    result = verify_chain(entries_of(map(_row, CHAIN)), CPS, KEYS, expected_last_seq=N)
    assert result.ok and result.entries_checked == N and result.checkpoints_verified == len(CPS)


def test_a_json_column_with_no_canonical_form_is_a_modified_entry():
    rows = [_row(e) for e in CHAIN]
    rows[44] = (*rows[44][:13], '{"name": "\\ud800"}', *rows[44][14:])  # a lone surrogate
    result = verify_chain(entries_of(rows), CPS, KEYS)
    assert (result.problem, result.seq) == (Problem.MODIFIED, 45)
    assert result.entries_checked == 44
