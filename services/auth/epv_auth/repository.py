"""Named queries over the auth schema; takes the session, flushes, never commits."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from epv_auth.errors import EmailTaken
from epv_auth.models import users

PUBLIC_USER_COLUMNS = [c for c in users.c if c.name != "password_hash"]


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, values: dict[str, Any]) -> dict[str, Any]:
        try:
            async with self.session.begin_nested():
                row = (await self.session.execute(
                    insert(users).values(**values).returning(*PUBLIC_USER_COLUMNS))).one()
        except IntegrityError as exc:
            raise EmailTaken() from exc
        return dict(row._mapping)

    async def by_email(self, email: str) -> dict[str, Any] | None:
        row = (await self.session.execute(select(users).where(users.c.email == email))).first()
        return dict(row._mapping) if row else None
