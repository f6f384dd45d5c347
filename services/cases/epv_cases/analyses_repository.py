"""Named queries over stored analyses; takes the session, flushes, never commits."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from epv_cases.models import analyses

# A list entry leaves out the large members (inputs, the full figure set with its grid).
_SUMMARY = [c for c in analyses.c if c.name not in ("inputs", "output", "resolved_assumptions")]


class AnalysisRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, values: dict[str, Any]) -> dict[str, Any]:
        """The stored row; only the server's timestamp comes back, so the (large) JSON members
        are not decoded again on the hot path of POST .../analyses."""
        created_at = (await self.session.execute(
            insert(analyses).values(**values).returning(analyses.c.created_at))).scalar_one()
        return {**{c.name: None for c in analyses.c}, **values, "created_at": created_at}

    async def get(self, case_id: uuid.UUID, analysis_id: uuid.UUID) -> dict[str, Any] | None:
        row = (await self.session.execute(select(analyses).where(
            analyses.c.case_id == case_id, analyses.c.id == analysis_id))).first()
        return dict(row._mapping) if row is not None else None

    async def get_pair(self, case_id: uuid.UUID, a: uuid.UUID, b: uuid.UUID
                       ) -> dict[uuid.UUID, dict[str, Any]]:
        rows = await self.session.execute(select(analyses).where(
            analyses.c.case_id == case_id, analyses.c.id.in_([a, b])))
        return {r.id: dict(r._mapping) for r in rows}

    async def list_for_case(self, case_id: uuid.UUID, *, limit: int,
                            after: tuple[datetime, uuid.UUID] | None) -> list[dict[str, Any]]:
        """Newest first; `limit + 1` rows so the caller knows whether there is more."""
        stmt = select(*_SUMMARY).where(analyses.c.case_id == case_id)
        if after:
            stmt = stmt.where(tuple_(analyses.c.created_at, analyses.c.id) < tuple_(*after))
        stmt = stmt.order_by(analyses.c.created_at.desc(), analyses.c.id.desc()).limit(limit + 1)
        return [dict(r._mapping) for r in (await self.session.execute(stmt))]
