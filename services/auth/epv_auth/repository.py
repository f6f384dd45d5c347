"""Named queries over the auth schema; takes the session, flushes, never commits."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from epv_auth.errors import EmailTaken
from epv_auth.models import (
    password_setup_tokens,
    refresh_tokens,
    sessions,
    signing_keys,
    system_config,
    users,
)

PUBLIC_USER_COLUMNS = [c for c in users.c if c.name != "password_hash"]


def _one(row) -> dict[str, Any] | None:
    return dict(row._mapping) if row is not None else None


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

    async def by_email_with_hash(self, email: str) -> dict[str, Any] | None:
        return _one((await self.session.execute(
            select(users).where(users.c.email == email))).first())

    async def by_id(self, user_id: uuid.UUID, *, for_update: bool = False,
                    with_hash: bool = False) -> dict[str, Any] | None:
        stmt = select(*(users.c if with_hash else PUBLIC_USER_COLUMNS)).where(users.c.id == user_id)
        if for_update:
            stmt = stmt.with_for_update()
        return _one((await self.session.execute(stmt)).first())

    async def update(self, user_id: uuid.UUID, values: dict[str, Any]) -> dict[str, Any]:
        row = (await self.session.execute(
            update(users).where(users.c.id == user_id)
            .values(**values, updated_at=func.now()).returning(*PUBLIC_USER_COLUMNS))).one()
        return dict(row._mapping)

    async def lock_active_super_admins(self) -> list[uuid.UUID]:
        """Row-locks every active SUPER_ADMIN, so two demotions cannot both pass the count."""
        rows = (await self.session.execute(
            select(users.c.id).where(users.c.role == "SUPER_ADMIN", users.c.active.is_(True))
            .order_by(users.c.id).with_for_update())).scalars().all()
        return list(rows)

    async def any_super_admin(self) -> bool:
        return (await self.session.execute(
            select(users.c.id).where(users.c.role == "SUPER_ADMIN").limit(1))).first() is not None

    async def page(self, *, limit: int, after: tuple[datetime, uuid.UUID] | None,
                   role: str | None, active: bool | None, email: str | None
                   ) -> list[dict[str, Any]]:
        stmt = select(*PUBLIC_USER_COLUMNS)
        if role is not None:
            stmt = stmt.where(users.c.role == role)
        if active is not None:
            stmt = stmt.where(users.c.active.is_(active))
        if email:
            escaped = email.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            stmt = stmt.where(users.c.email.like(f"%{escaped}%", escape="\\"))
        if after is not None:
            created, uid = after
            stmt = stmt.where(or_(users.c.created_at > created,
                                  and_(users.c.created_at == created, users.c.id > uid)))
        stmt = stmt.order_by(users.c.created_at, users.c.id).limit(limit + 1)
        return [dict(r._mapping) for r in (await self.session.execute(stmt)).all()]


class SessionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, values: dict[str, Any]) -> dict[str, Any]:
        row = (await self.session.execute(insert(sessions).values(**values).returning(sessions))).one()
        return dict(row._mapping)

    async def by_id(self, session_id: uuid.UUID) -> dict[str, Any] | None:
        return _one((await self.session.execute(
            select(sessions).where(sessions.c.id == session_id))).first())

    async def open_for_user(self, user_id: uuid.UUID) -> list[dict[str, Any]]:
        rows = (await self.session.execute(
            select(sessions).where(sessions.c.user_id == user_id, sessions.c.ended_at.is_(None))
            .order_by(sessions.c.created_at.desc(), sessions.c.id))).all()
        return [dict(r._mapping) for r in rows]

    async def end(self, session_ids: list[uuid.UUID], *, reason: str) -> list[uuid.UUID]:
        """Ends those still open; returns the ids it ended."""
        if not session_ids:
            return []
        rows = (await self.session.execute(
            update(sessions).where(sessions.c.id.in_(session_ids), sessions.c.ended_at.is_(None))
            .values(ended_at=func.now(), end_reason=reason).returning(sessions.c.id))).scalars()
        return list(rows)

    async def touch(self, session_id: uuid.UUID) -> None:
        await self.session.execute(
            update(sessions).where(sessions.c.id == session_id).values(last_seen_at=func.now()))


class RefreshTokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, *, token_hash: bytes, session_id: uuid.UUID, expires_at: datetime) -> None:
        await self.session.execute(insert(refresh_tokens).values(
            token_hash=token_hash, session_id=session_id, expires_at=expires_at))

    async def lock(self, token_hash: bytes) -> dict[str, Any] | None:
        """The token with its session, row-locked: concurrent presentations queue here."""
        stmt = (select(refresh_tokens, sessions.c.user_id, sessions.c.ended_at)
                .join(sessions, sessions.c.id == refresh_tokens.c.session_id)
                .where(refresh_tokens.c.token_hash == token_hash)
                .with_for_update(of=refresh_tokens))
        return _one((await self.session.execute(stmt)).first())

    async def mark_used(self, token_hash: bytes) -> None:
        await self.session.execute(update(refresh_tokens).where(
            refresh_tokens.c.token_hash == token_hash).values(used_at=func.now()))


class PasswordSetupTokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def supersede_open(self, user_id: uuid.UUID) -> int:
        """Retires the user's tokens not yet used or superseded; returns how many."""
        rows = (await self.session.execute(
            update(password_setup_tokens)
            .where(password_setup_tokens.c.user_id == user_id,
                   password_setup_tokens.c.used_at.is_(None),
                   password_setup_tokens.c.superseded_at.is_(None))
            .values(superseded_at=func.now()).returning(password_setup_tokens.c.id))).all()
        return len(rows)

    async def add(self, *, token_id: uuid.UUID, token_hash: bytes, user_id: uuid.UUID,
                  issued_by: uuid.UUID | None, expires_at: datetime) -> dict[str, Any]:
        row = (await self.session.execute(
            insert(password_setup_tokens).values(
                id=token_id, token_hash=token_hash, user_id=user_id, issued_by=issued_by,
                expires_at=expires_at)
            .returning(*(c for c in password_setup_tokens.c if c.name != "token_hash")))).one()
        return dict(row._mapping)

    async def by_hash(self, token_hash: bytes, *, for_update: bool = False
                      ) -> dict[str, Any] | None:
        """The token with its user's email and active flag; row-locked with for_update, so of
        concurrent redemptions the first uses it and the others see it used."""
        stmt = (select(password_setup_tokens.c.id, password_setup_tokens.c.user_id,
                       password_setup_tokens.c.expires_at, password_setup_tokens.c.used_at,
                       password_setup_tokens.c.superseded_at, users.c.email, users.c.active)
                .join(users, users.c.id == password_setup_tokens.c.user_id)
                .where(password_setup_tokens.c.token_hash == token_hash))
        if for_update:
            stmt = stmt.with_for_update(of=password_setup_tokens)
        return _one((await self.session.execute(stmt)).first())

    async def mark_used(self, token_id: uuid.UUID) -> None:
        await self.session.execute(update(password_setup_tokens).where(
            password_setup_tokens.c.id == token_id).values(used_at=func.now()))


class KeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def current(self) -> dict[str, Any] | None:
        return _one((await self.session.execute(
            select(signing_keys).where(signing_keys.c.retired_at.is_(None))
            .order_by(signing_keys.c.created_at.desc()).limit(1))).first())

    async def current_kid(self) -> str | None:
        return (await self.session.execute(
            select(signing_keys.c.kid).where(signing_keys.c.retired_at.is_(None))
            .order_by(signing_keys.c.created_at.desc()).limit(1))).scalar()

    async def by_kid(self, kid: str) -> dict[str, Any] | None:
        return _one((await self.session.execute(
            select(signing_keys).where(signing_keys.c.kid == kid))).first())

    async def add(self, values: dict[str, Any]) -> None:
        await self.session.execute(insert(signing_keys).values(**values))

    async def retire(self, kid: str) -> None:
        await self.session.execute(update(signing_keys).where(signing_keys.c.kid == kid)
                                   .values(retired_at=func.now()))

    async def published(self, retired_after: datetime) -> list[dict[str, Any]]:
        rows = (await self.session.execute(
            select(signing_keys.c.kid, signing_keys.c.public_jwk)
            .where(or_(signing_keys.c.retired_at.is_(None),
                       signing_keys.c.retired_at > retired_after))
            .order_by(signing_keys.c.created_at.desc()))).all()
        return [dict(r._mapping) for r in rows]


class ConfigRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def all(self) -> dict[str, Any]:
        rows = (await self.session.execute(select(system_config.c.key, system_config.c.value))).all()
        return {r.key: r.value for r in rows}

    async def get_for_update(self, key: str) -> tuple[bool, Any]:
        row = (await self.session.execute(
            select(system_config.c.value).where(system_config.c.key == key)
            .with_for_update())).first()
        return (row is not None, row.value if row is not None else None)

    async def put(self, key: str, value: Any, *, updated_by: uuid.UUID | None) -> None:
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt = pg_insert(system_config).values(key=key, value=value, updated_by=updated_by)
        await self.session.execute(stmt.on_conflict_do_update(
            index_elements=[system_config.c.key],
            set_={"value": stmt.excluded.value, "updated_by": stmt.excluded.updated_by,
                  "updated_at": func.now()}))
