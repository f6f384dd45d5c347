"""Named queries over the audit schema."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from epv_audit.models import entries


class EntryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def page(self, *, after_seq: int, limit: int, entity_id: str | None = None,
                   action: str | None = None, actor_id: str | None = None,
                   security_only: bool = False) -> list[dict[str, Any]]:
        stmt = select(entries).where(entries.c.seq > after_seq)
        if entity_id:
            stmt = stmt.where(entries.c.entity_id == entity_id)
        if action:
            stmt = stmt.where(entries.c.action == action)
        if actor_id:
            stmt = stmt.where(entries.c.actor_id == actor_id)
        if security_only:
            stmt = stmt.where(entries.c.security.is_(True))
        rows = await self.session.execute(stmt.order_by(entries.c.seq).limit(limit))
        return [dict(r._mapping) for r in rows]
