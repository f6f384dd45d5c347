"""Named queries of the market-data schema. Takes the session; flushes, never commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import any_, bindparam, exists, func, insert, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from epv_common.db import PreparedQuery, UnitOfWork
from epv_marketdata.models import benchmark_inputs, provider_calls, snapshots

# Every miss reads the snapshot before calling a provider, and every request does while Redis
# is down: one round trip outside any transaction, without a Session (see PreparedQuery).
_SNAPSHOT_READ = PreparedQuery(
    select(snapshots.c.provider, snapshots.c.payload, snapshots.c.fetched_at)
    .where(snapshots.c.symbol == bindparam("symbol"),
           snapshots.c.data_type == bindparam("data_type")))


# The provider call log as parallel arrays (column -> parameter): one statement text whatever
# the number of calls.
_CALL_ARRAYS = {"provider": "call_providers", "data_type": "call_data_types",
                "symbol": "call_symbols", "outcome": "call_outcomes",
                "status_code": "call_status_codes", "duration_ms": "call_durations_ms"}
# The types a stored quote's benchmark input is derived with (see MarketData._persist).
QUOTE_SIBLINGS = ["overview", "fundamentals"]


def _log_calls():
    return insert(provider_calls).from_select(
        list(_CALL_ARRAYS),
        select(*(func.unnest(bindparam(param, type_=ARRAY(provider_calls.c[column].type)))
                 for column, param in _CALL_ARRAYS.items())))


def _upsert_snapshot():
    """Keeps the last good value; an older fetch never overwrites a newer one."""
    stmt = pg_insert(snapshots).values(
        {c: bindparam(c, type_=snapshots.c[c].type)
         for c in ("symbol", "data_type", "provider", "payload", "fetched_at")})
    return stmt.on_conflict_do_update(
        index_elements=[snapshots.c.symbol, snapshots.c.data_type],
        set_={"provider": stmt.excluded.provider, "payload": stmt.excluded.payload,
              "fetched_at": stmt.excluded.fetched_at},
        where=snapshots.c.fetched_at <= stmt.excluded.fetched_at,
    )


def _save_with_calls():
    """A snapshot and its provider calls in one statement (atomic on its own, no BEGIN and
    COMMIT), answering whether the symbol has a stored snapshot of one of `siblings`."""
    logged = _log_calls().cte("logged")
    stored = _upsert_snapshot().returning(snapshots.c.symbol).cte("stored")
    siblings = exists().where(
        snapshots.c.symbol == bindparam("symbol", type_=snapshots.c.symbol.type),
        snapshots.c.data_type == any_(
            bindparam("siblings", type_=ARRAY(snapshots.c.data_type.type))))
    return select(siblings.label("siblings")).add_cte(logged).add_cte(stored)


# A miss writes its call log, and its snapshot when it got one, in one round trip each way
# (PreparedQuery: no Session, no transaction around a statement that is whole on its own).
_LOG_CALLS = PreparedQuery(_log_calls())
_SAVE_WITH_CALLS = PreparedQuery(_save_with_calls())


def _call_arrays(calls: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {param: [call[column] for call in calls] for column, param in _CALL_ARRAYS.items()}


class MarketDataWrites:
    """The writes of the miss path as single PreparedQuery statements (no transaction)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    async def log_calls(self, calls: list[dict[str, Any]]) -> None:
        if calls:
            await self.uow.fetch(_LOG_CALLS, _call_arrays(calls))

    async def save_with_calls(self, *, symbol: str, data_type: str, provider: str,
                              payload: dict[str, Any], fetched_at: datetime,
                              calls: list[dict[str, Any]], siblings: list[str]) -> bool:
        """Stores the snapshot (unless a newer one is stored) and logs the calls; True when
        the symbol has a stored snapshot of one of the `siblings` types."""
        row = await self.uow.fetch_one(_SAVE_WITH_CALLS, {
            "symbol": symbol, "data_type": data_type, "provider": provider,
            "payload": orjson.dumps(payload).decode(), "fetched_at": fetched_at,
            "siblings": siblings, **_call_arrays(calls)})
        return bool(row and row["siblings"])


class MarketDataReads:
    """The read of the miss path as a PreparedQuery. Writes go through MarketDataRepository,
    inside their transaction."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    async def snapshot(self, *, symbol: str, data_type: str) -> dict[str, Any] | None:
        """The last good value of one symbol and type: provider, payload, fetched_at."""
        return await self.uow.fetch_one(_SNAPSHOT_READ,
                                        {"symbol": symbol, "data_type": data_type})


class MarketDataRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def save_snapshot(self, *, symbol: str, data_type: str, provider: str,
                            payload: dict[str, Any], fetched_at: datetime) -> None:
        """Keeps the last good value; an older fetch never overwrites a newer one."""
        stmt = pg_insert(snapshots).values(symbol=symbol, data_type=data_type, provider=provider,
                                           payload=payload, fetched_at=fetched_at)
        stmt = stmt.on_conflict_do_update(
            index_elements=[snapshots.c.symbol, snapshots.c.data_type],
            set_={"provider": stmt.excluded.provider, "payload": stmt.excluded.payload,
                  "fetched_at": stmt.excluded.fetched_at},
            where=snapshots.c.fetched_at <= stmt.excluded.fetched_at,
        )
        await self.session.execute(stmt)

    async def snapshots_of(self, symbol: str, data_types: tuple[str, ...]
                           ) -> dict[str, dict[str, Any]]:
        rows = (await self.session.execute(
            select(snapshots.c.data_type, snapshots.c.provider, snapshots.c.payload,
                   snapshots.c.fetched_at)
            .where(snapshots.c.symbol == symbol, snapshots.c.data_type.in_(data_types))
        )).all()
        return {row.data_type: dict(row._mapping) for row in rows}

    async def log_calls(self, calls: list[dict[str, Any]]) -> None:
        if calls:
            await self.session.execute(insert(provider_calls), calls)

    async def save_benchmark_input(self, *, symbol: str, sector: str | None,
                                   industry: str | None, inputs: dict[str, Any]) -> None:
        stmt = pg_insert(benchmark_inputs).values(symbol=symbol, sector=sector,
                                                  industry=industry, inputs=inputs)
        stmt = stmt.on_conflict_do_update(
            index_elements=[benchmark_inputs.c.symbol],
            set_={"sector": stmt.excluded.sector, "industry": stmt.excluded.industry,
                  "inputs": stmt.excluded.inputs, "updated_at": func.now()},
        )
        await self.session.execute(stmt)

    async def benchmark_inputs(self, *, sector: str | None, industry: str | None
                               ) -> list[dict[str, Any]]:
        """Companies of a sector and/or industry (labels compared without case)."""
        query = select(benchmark_inputs.c.symbol, benchmark_inputs.c.inputs)
        if sector:
            query = query.where(func.lower(benchmark_inputs.c.sector) == sector.lower())
        if industry:
            query = query.where(func.lower(benchmark_inputs.c.industry) == industry.lower())
        rows = (await self.session.execute(query.order_by(benchmark_inputs.c.symbol))).all()
        return [dict(row._mapping) for row in rows]
