"""Use cases of the audit service: read, verify, export and retain the chain."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from epv_audit.errors import EntryNotFound, RangeInvalid, RetentionRefused
from epv_audit.repository import (
    CheckpointRepository,
    EntryFilter,
    EntryRepository,
    Snapshot,
    snapshot,
)
from epv_audit.verifier import Run, VerifyPool, keys_of, verify_run, verify_runs
from epv_common.auditchain import (
    GENESIS_PREV_HASH,
    Checkpoint,
    VerifyResult,
    dump_line,
    format_timestamp,
)
from epv_common.db import UnitOfWork
from epv_common.events.envelope import new_event

log = structlog.get_logger("epv.audit")

ExportFormat = Literal["ndjson", "csv"]
CSV_COLUMNS = ("seq", "event_id", "occurred_at", "recorded_at", "actor_id", "action", "entity_type",
               "entity_id", "request_id", "source", "security", "before", "after", "event",
               "prev_hash", "hash")
_JSON_COLUMNS = frozenset({"before", "after", "event"})


# --------------------------------------------------------------------------- reads


def aware(value: datetime | None) -> datetime | None:
    """A time without a zone is taken as UTC (the chain's canonical zone)."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def entry_filter(*, actor_id: str | None = None, entity_id: str | None = None,
                 entity_type: str | None = None, action: str | None = None,
                 security_only: bool = False, since: datetime | None = None,
                 until: datetime | None = None) -> EntryFilter:
    since, until = aware(since), aware(until)
    if since is not None and until is not None and since > until:
        raise RangeInvalid(lower="since", upper="until")
    return EntryFilter(actor_id=actor_id, entity_id=entity_id, entity_type=entity_type,
                       action=action, security_only=security_only, since=since, until=until)


async def list_entries(uow: UnitOfWork, flt: EntryFilter, *, after_seq: int,
                       limit: int) -> list[dict[str, Any]]:
    async with uow:
        return await EntryRepository(uow.session).page(flt, after_seq=after_seq, limit=limit)


async def get_entry(uow: UnitOfWork, seq: int) -> dict[str, Any]:
    async with uow:
        entry = await EntryRepository(uow.session).get(seq)
    if entry is None:
        raise EntryNotFound(seq=seq)
    return entry


async def list_checkpoints(uow: UnitOfWork, *, after_seq: int, limit: int) -> list[dict]:
    async with uow:
        return await CheckpointRepository(uow.session).page(after_seq=after_seq, limit=limit)


async def public_keys(uow: UnitOfWork) -> dict[str, list[dict[str, str]]]:
    """Every key that ever signed (retired ones too), as a JWK set."""
    async with uow:
        rows = await CheckpointRepository(uow.session).public_keys()
    return {"keys": [{"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
                      "kid": r["key_id"], "x": r["public_key"]} for r in rows]}


# --------------------------------------------------------------------------- verify


def _checkpoint(r) -> Checkpoint:
    return Checkpoint(seq=r["seq"], head_hash=r["head_hash"], created_at=r["created_at"],
                      key_id=r["key_id"], signature=r["signature"])


async def verify(engine: AsyncEngine, *, from_seq: int | None, to_seq: int | None,
                 batch: int, pool: VerifyPool | None = None) -> dict[str, Any]:
    """Recompute the chain from the database and check its checkpoints.

    The chain starts after the latest retention cut (at that checkpoint's head) or at genesis;
    a later `from` starts from that entry, anchored by a checkpoint just before it if any.
    With a `pool`, a chain long enough is verified in runs between checkpoints on its worker
    processes, over this request's snapshot.
    """
    if from_seq is not None and to_seq is not None and from_seq > to_seq:
        raise RangeInvalid(lower="from", upper="to")
    async with snapshot(engine) as snap:
        head_seq, _ = await snap.head()
        cut = await snap.latest_cut()
        base_seq, base_hash = (cut["cut_seq"], cut["head_hash"]) if cut else (0, GENESIS_PREV_HASH)
        start = max(from_seq or base_seq + 1, base_seq + 1)
        last = head_seq if to_seq is None else min(to_seq, head_seq)
        cps = tuple(_checkpoint(r) for r in await snap.checkpoints(lo=start - 1, hi=to_seq))
        key_rows = [(r["key_id"], r["public_key"]) for r in await snap.public_keys()]
        whole = Run(lo=start, hi=last, checkpoints=cps, expected_last_seq=last,
                    start_prev_hash=base_hash if start == base_seq + 1 else None)
        result: VerifyResult | None = None
        if pool is not None and len(runs := pool.plan(whole)) > 1:
            result = await _verify_on_pool(pool, snap, runs, whole, key_rows, batch=batch)
        if result is None:
            result = await verify_run(snap.conn, whole, keys_of(key_rows), batch=batch)
    out = result.to_dict()
    out.update({"from": start, "to": last, "chain_head_seq": head_seq,
                "retained_from": base_seq + 1 if cut else None})
    return out


async def _verify_on_pool(pool: VerifyPool, snap: Snapshot, runs: list[Run], whole: Run,
                          key_rows: list[tuple[str, str]], *, batch: int) -> VerifyResult | None:
    """`whole` verified in `runs` on the pool's workers, over this snapshot; None when the pool
    broke (a worker died), to verify here instead."""
    snapshot_id = await snap.export()
    keys = keys_of(key_rows)
    try:
        return await verify_runs(
            runs, whole, in_flight=pool.workers + 1,
            submit=lambda run: pool.submit(snapshot_id, run, key_rows, batch=batch),
            verify_here=lambda run: verify_run(snap.conn, run, keys, batch=batch))
    except BrokenProcessPool:
        log.warning("verify_pool_broken")
        pool.discard()
        return None


# --------------------------------------------------------------------------- export


async def record_export(uow: UnitOfWork, *, actor_id: str, fmt: ExportFormat,
                        flt: EntryFilter) -> None:
    """The export is itself audited: its event comes back through the consumer as an entry."""
    async with uow:
        head = await CheckpointRepository(uow.session).head()
        uow.record(new_event("audit.exported", source="audit", subject=None, actor_id=actor_id,
                             data={"format": fmt, "filters": flt.as_dict(),
                                   "head_seq": head["seq"] if head else 0}))
        await uow.commit()


def _csv_rows(texts: list[str]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for t in texts:
        entry = orjson.loads(t)
        writer.writerow([
            orjson.dumps(entry[c]).decode() if c in _JSON_COLUMNS and entry[c] is not None
            else ("true" if entry[c] is True else "false" if entry[c] is False else entry[c])
            for c in CSV_COLUMNS])
    return buf.getvalue().encode()


def _ndjson_rows(texts: list[str]) -> bytes:
    loads = orjson.loads
    return b"".join(dump_line(loads(t)) for t in texts)


async def export_stream(engine: AsyncEngine, *, fmt: ExportFormat, flt: EntryFilter,
                        batch: int) -> AsyncIterator[bytes]:
    """The entries matching `flt` up to the head as the export began, batch by batch.

    NDJSON lines are `auditchain.ndjson.dump_line`, so an unfiltered export verifies offline.
    """
    encode = _ndjson_rows if fmt == "ndjson" else _csv_rows
    if fmt == "csv":
        yield (",".join(CSV_COLUMNS) + "\n").encode()
    async with snapshot(engine) as snap:
        head_seq, _ = await snap.head()
        async for texts in snap.entry_texts(lo=1, hi=head_seq, flt=flt, batch=batch):
            yield await asyncio.to_thread(encode, texts)


# --------------------------------------------------------------------------- retention


async def apply_retention(uow: UnitOfWork, engine: AsyncEngine, *, before: datetime,
                          actor_id: str | None, batch: int,
                          pool: VerifyPool | None = None) -> dict[str, Any]:
    """Removes entries recorded before `before`, up to the latest signed checkpoint among them.

    The chain up to that checkpoint is verified first: retention must not destroy the evidence
    of tampering. The owner's `apply_retention` function does the delete and records the cut.
    """
    before = aware(before)
    async with uow:
        candidate = await CheckpointRepository(uow.session).retention_candidate(before)
    if candidate is None:
        return {"cut_seq": None, "deleted": 0, "retained_from": None}
    check = await verify(engine, from_seq=None, to_seq=candidate, batch=batch, pool=pool)
    if not check["ok"]:
        raise RetentionRefused(cut_seq=candidate, problem=check["problem"], seq=check["seq"],
                               verification=check)
    async with uow:
        cut = await CheckpointRepository(uow.session).apply_retention(before, up_to=candidate)
        if cut is None:
            return {"cut_seq": None, "deleted": 0, "retained_from": None}
        uow.record(new_event("audit.retention.applied", source="audit", subject=str(cut["cut_seq"]),
                             actor_id=actor_id, data={
                                 "before": format_timestamp(before), "cut_seq": cut["cut_seq"],
                                 "head_hash": cut["head_hash"], "deleted": cut["deleted"],
                                 "security": True}))
        await uow.commit()
    return {"cut_seq": cut["cut_seq"], "deleted": cut["deleted"],
            "retained_from": cut["cut_seq"] + 1}
