"""Named queries over the cases schema; takes the session, flushes, never commits."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from epv_cases.models import cases, users


class CaseRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, values: dict[str, Any]) -> dict[str, Any]:
        row = (await self.session.execute(insert(cases).values(**values).returning(cases))).one()
        return dict(row._mapping)

    async def get_visible(self, case_id: uuid.UUID, *, owner_id: uuid.UUID) -> dict[str, Any] | None:
        row = (await self.session.execute(
            select(cases).where(cases.c.id == case_id, cases.c.owner_id == owner_id,
                                cases.c.deleted_at.is_(None)))).first()
        return dict(row._mapping) if row else None


class UserDirectory:
    """The service's own projection of users, fed by auth.user.* events."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert(self, *, user_id: uuid.UUID, email: str, name: str | None, role: str,
                     active: bool) -> None:
        stmt = pg_insert(users).values(id=user_id, email=email, name=name, role=role, active=active)
        await self.session.execute(stmt.on_conflict_do_update(
            index_elements=[users.c.id],
            set_={"email": stmt.excluded.email, "name": stmt.excluded.name,
                  "role": stmt.excluded.role, "active": stmt.excluded.active,
                  "updated_at": stmt.excluded.updated_at}))

    async def get(self, user_id: uuid.UUID) -> dict[str, Any] | None:
        row = (await self.session.execute(select(users).where(users.c.id == user_id))).first()
        return dict(row._mapping) if row else None
