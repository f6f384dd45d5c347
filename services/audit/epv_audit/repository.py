"""Named queries over the audit schema.

Paged reads go through the session; verify and export stream through a server-side cursor on
the asyncpg connection underneath, in one REPEATABLE READ snapshot, so their memory stays
constant and they see the chain exactly as it stood when they began (verify's worker processes
read that snapshot through connections of their own: see `verifier`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from epv_audit.models import SCHEMA, chain_head, checkpoints, entries, retention_cuts, signing_keys
from epv_common.auditchain import format_timestamp


@dataclass(frozen=True, slots=True)
class EntryFilter:
    actor_id: str | None = None
    entity_id: str | None = None
    entity_type: str | None = None
    action: str | None = None
    security_only: bool = False
    since: datetime | None = None
    until: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in ("actor_id", "entity_id", "entity_type", "action"):
            if getattr(self, name):
                out[name] = getattr(self, name)
        if self.security_only:
            out["security_only"] = True
        for name in ("since", "until"):
            if getattr(self, name) is not None:
                out[name] = format_timestamp(getattr(self, name))
        return out

    @property
    def empty(self) -> bool:
        return not self.as_dict()

    def sql(self, *, first_param: int = 1) -> tuple[list[str], list[Any]]:
        """WHERE terms with $n placeholders for the raw streaming queries."""
        terms: list[str] = []
        args: list[Any] = []
        for column, value in (("actor_id", self.actor_id), ("entity_id", self.entity_id),
                              ("entity_type", self.entity_type), ("action", self.action)):
            if value:
                args.append(value)
                terms.append(f"{column} = ${first_param + len(args) - 1}")
        if self.security_only:
            terms.append("security")
        # Canonical timestamps sort as text, so the range is a plain text comparison.
        if self.since is not None:
            args.append(format_timestamp(self.since))
            terms.append(f"occurred_at >= ${first_param + len(args) - 1}")
        if self.until is not None:
            args.append(format_timestamp(self.until))
            terms.append(f"occurred_at < ${first_param + len(args) - 1}")
        return terms, args


class EntryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def page(self, flt: EntryFilter, *, after_seq: int, limit: int) -> list[dict[str, Any]]:
        stmt = select(entries).where(entries.c.seq > after_seq)
        if flt.entity_id:
            stmt = stmt.where(entries.c.entity_id == flt.entity_id)
        if flt.entity_type:
            stmt = stmt.where(entries.c.entity_type == flt.entity_type)
        if flt.action:
            stmt = stmt.where(entries.c.action == flt.action)
        if flt.actor_id:
            stmt = stmt.where(entries.c.actor_id == flt.actor_id)
        if flt.security_only:
            stmt = stmt.where(entries.c.security.is_(True))
        if flt.since is not None:
            stmt = stmt.where(entries.c.occurred_at >= format_timestamp(flt.since))
        if flt.until is not None:
            stmt = stmt.where(entries.c.occurred_at < format_timestamp(flt.until))
        rows = await self.session.execute(stmt.order_by(entries.c.seq).limit(limit))
        return [dict(r._mapping) for r in rows]

    async def get(self, seq: int) -> dict[str, Any] | None:
        row = (await self.session.execute(select(entries).where(entries.c.seq == seq))).first()
        return None if row is None else dict(row._mapping)


class CheckpointRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def page(self, *, after_seq: int, limit: int) -> list[dict[str, Any]]:
        rows = await self.session.execute(
            select(checkpoints).where(checkpoints.c.seq > after_seq)
            .order_by(checkpoints.c.seq).limit(limit))
        return [dict(r._mapping) for r in rows]

    async def latest(self) -> dict[str, Any] | None:
        row = (await self.session.execute(
            select(checkpoints).order_by(checkpoints.c.seq.desc()).limit(1))).first()
        return None if row is None else dict(row._mapping)

    async def public_keys(self) -> list[dict[str, Any]]:
        rows = await self.session.execute(
            select(signing_keys).order_by(signing_keys.c.first_used_at, signing_keys.c.key_id))
        return [dict(r._mapping) for r in rows]

    async def head(self) -> dict[str, Any] | None:
        row = (await self.session.execute(select(chain_head))).first()
        return None if row is None else dict(row._mapping)

    async def latest_cut(self) -> dict[str, Any] | None:
        row = (await self.session.execute(
            select(retention_cuts).order_by(retention_cuts.c.cut_seq.desc()).limit(1))).first()
        return None if row is None else dict(row._mapping)

    async def retention_candidate(self, cutoff: datetime) -> int | None:
        """The checkpoint seq retention would cut at (as apply_retention computes it)."""
        first_young = (await self.session.execute(
            select(func.min(entries.c.seq))
            .where(entries.c.recorded_at >= format_timestamp(cutoff)))).scalar()
        if first_young is None:
            last = (await self.session.execute(select(chain_head.c.seq))).scalar() or 0
        else:
            last = first_young - 1
        done = (await self.session.execute(select(func.max(retention_cuts.c.cut_seq)))).scalar()
        return (await self.session.execute(
            select(func.max(checkpoints.c.seq))
            .where(checkpoints.c.seq <= last, checkpoints.c.seq > (done or 0)))).scalar()

    async def apply_retention(self, cutoff: datetime, *, up_to: int) -> dict[str, Any] | None:
        row = (await self.session.execute(
            text(f"SELECT cut_seq, head_hash, deleted FROM {SCHEMA}.apply_retention(:c, :u)"),
            {"c": cutoff, "u": up_to})).first()
        return None if row is None else dict(row._mapping)


# --------------------------------------------------------------------------- streaming

# The whole entry as one JSON text: json columns are embedded verbatim, so one parse per row.
_ENTRY_JSON = (
    "json_build_object('v', v, 'seq', seq, 'event_id', event_id::text, "
    "'occurred_at', occurred_at, 'recorded_at', recorded_at, 'source', source, "
    "'action', action, 'actor_id', actor_id, 'entity_type', entity_type, "
    "'entity_id', entity_id, 'request_id', request_id, 'security', security, "
    "'before', before, 'after', after, 'event', event, 'prev_hash', prev_hash, "
    "'hash', hash)::text"
)


class Snapshot:
    """Reads over one consistent snapshot of the schema (a raw asyncpg connection)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def head(self) -> tuple[int, str]:
        row = await self.conn.fetchrow(f"SELECT seq, hash FROM {SCHEMA}.chain_head WHERE id = 1")
        return (0, "0" * 64) if row is None else (row["seq"], row["hash"])

    async def latest_cut(self) -> asyncpg.Record | None:
        return await self.conn.fetchrow(
            f"SELECT cut_seq, head_hash FROM {SCHEMA}.retention_cuts ORDER BY cut_seq DESC LIMIT 1")

    async def checkpoints(self, *, lo: int, hi: int | None) -> list[asyncpg.Record]:
        return await self.conn.fetch(
            f"SELECT seq, head_hash, created_at, key_id, signature FROM {SCHEMA}.checkpoints "
            f"WHERE seq >= $1 AND ($2::bigint IS NULL OR seq <= $2) ORDER BY seq", lo, hi)

    async def public_keys(self) -> list[asyncpg.Record]:
        return await self.conn.fetch(f"SELECT key_id, public_key FROM {SCHEMA}.signing_keys")

    async def export(self) -> str:
        """The snapshot's id, for other sessions to read it while this transaction lasts."""
        return await self.conn.fetchval("SELECT pg_export_snapshot()")

    async def entry_texts(self, *, lo: int, hi: int, flt: EntryFilter | None = None,
                          batch: int) -> AsyncIterator[list[str]]:
        """Entries lo..hi in seq order, as JSON texts, `batch` rows per round trip."""
        terms, args = (flt or EntryFilter()).sql(first_param=3)
        where = " AND ".join(["seq >= $1", "seq <= $2", *terms])
        cursor = await self.conn.cursor(
            f"SELECT {_ENTRY_JSON} FROM {SCHEMA}.entries WHERE {where} ORDER BY seq",
            lo, hi, *args)
        while True:
            rows = await cursor.fetch(batch)
            if not rows:
                return
            yield [r[0] for r in rows]


@contextlib.asynccontextmanager
async def snapshot(engine: AsyncEngine) -> AsyncIterator[Snapshot]:
    async with engine.connect() as sa_conn:
        raw = await sa_conn.get_raw_connection()
        conn: asyncpg.Connection = raw.driver_connection  # type: ignore[assignment]
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            yield Snapshot(conn)
