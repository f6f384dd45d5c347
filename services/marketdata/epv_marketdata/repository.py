"""Named queries of the market-data schema. Takes the session; flushes, never commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select
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
