"""Named queries over the cases schema; takes the session, flushes, never commits."""

from __future__ import annotations

import functools
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    null,
    or_,
    select,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from epv_cases.models import (
    analyses,
    case_versions,
    cases,
    comments,
    legacy_imports,
    shares,
    user_preferences,
    users,
)
from epv_common.db import PreparedQuery, UnitOfWork

CONTENT_FIELDS = ("name", "status", "industry", "ticker", "tags", "notes", "financial_data")


def content_of(case: dict[str, Any]) -> dict[str, Any]:
    """The versioned part of a case: what a version row keeps and a diff compares."""
    return {f: (list(case[f]) if f == "tags" else case[f]) for f in CONTENT_FIELDS}


SUMMARY_COLUMNS = [cases.c[name] for name in (
    "id", "owner_id", "name", "status", "industry", "ticker", "tags", "version", "created_at",
    "updated_at", "legacy_id", "deleted_at")]


def _live_share(user_id: uuid.UUID):
    """A share that grants something right now: not revoked, not expired, grantee active."""
    return and_(
        shares.c.user_id == user_id,
        shares.c.revoked_at.is_(None),
        or_(shares.c.expires_at.is_(None), shares.c.expires_at > func.now()),
        exists().where(users.c.id == shares.c.user_id, users.c.active.is_(True)),
    )


# What a client sees of a case (CaseRead): legacy_key is the import's idempotency key only.
READ_COLUMNS = [c for c in cases.c if c.name != "legacy_key"]


def _case_with_share(*, deleted: bool, columns=(cases,)):
    """Built once per variant: building a statement this size and its cache key on every
    request cost about as much as running it."""
    user_id = bindparam("user_id", type_=shares.c.user_id.type)
    share_level = (select(shares.c.level)
                   .where(shares.c.case_id == cases.c.id, _live_share(user_id))
                   .scalar_subquery().label("share_level"))
    where = cases.c.deleted_at.is_not(None) if deleted else cases.c.deleted_at.is_(None)
    return select(*columns, share_level).where(
        cases.c.id == bindparam("case_id", type_=cases.c.id.type), where)


_CASE_WITH_SHARE = {deleted: _case_with_share(deleted=deleted) for deleted in (False, True)}
# GET /api/cases/{id} reads outside any transaction, without a Session (see PreparedQuery).
_CASE_WITH_SHARE_READ = PreparedQuery(_case_with_share(deleted=False, columns=READ_COLUMNS))


@functools.cache
def _visible_cases_query(scope: str, *, ticker: bool, q: bool, status: bool,
                         updated_since: bool, after: bool) -> PreparedQuery:
    return PreparedQuery(_visible_cases_statement(
        scope, ticker=ticker, q=q, status=status, updated_since=updated_since, after=after))


def _visible_cases_statement(scope: str, *, ticker: bool, q: bool, status: bool,
                             updated_since: bool, after: bool):
    """The list query for one combination of filters, built once with bind parameters.

    Owned and shared cases are two index-backed branches (owner index; shares by user),
    each ordered and cut at the page size, then merged: one `owner OR shared` predicate would
    make PostgreSQL walk every case in update order testing both. Only the summary columns
    are read: a page never carries financial data.
    """
    user_id = bindparam("user_id", type_=cases.c.owner_id.type)
    page_rows = bindparam("page_rows")

    def narrowed(stmt):
        stmt = stmt.where(cases.c.deleted_at.is_(None))
        if ticker:
            stmt = stmt.where(func.upper(cases.c.ticker) == bindparam("ticker"))
        if q:
            stmt = stmt.where(cases.c.name.ilike(bindparam("name_pattern"), escape="\\"))
        if status:
            stmt = stmt.where(cases.c.status == bindparam("status"))
        if updated_since:
            stmt = stmt.where(cases.c.updated_at >= bindparam(
                "updated_since", type_=cases.c.updated_at.type))
        if after:
            stmt = stmt.where(tuple_(cases.c.updated_at, cases.c.id) < tuple_(
                bindparam("after_updated_at", type_=cases.c.updated_at.type),
                bindparam("after_id", type_=cases.c.id.type)))
        return stmt.order_by(cases.c.updated_at.desc(), cases.c.id.desc()).limit(page_rows)

    owned = narrowed(select(*SUMMARY_COLUMNS, null().label("share_level"))
                     .where(cases.c.owner_id == user_id))
    shared = narrowed(select(*SUMMARY_COLUMNS, shares.c.level.label("share_level"))
                      .select_from(shares.join(cases, cases.c.id == shares.c.case_id))
                      .where(_live_share(user_id), cases.c.owner_id != user_id))
    branches = {"owned": [owned], "shared": [shared], "all": [owned, shared]}[scope]
    if len(branches) == 1:
        return branches[0]
    merged = union_all(*(b.subquery().select() for b in branches)).subquery()
    return (select(merged).order_by(merged.c.updated_at.desc(), merged.c.id.desc())
            .limit(page_rows))


def _dict(row) -> dict[str, Any] | None:
    return dict(row._mapping) if row is not None else None


class CaseReads:
    """The two hottest reads, one case and a page of the list, as PreparedQueries: one round
    trip each, no Session, no transaction. Writes read through CaseRepository instead, inside
    their transaction."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    async def get_with_share(self, case_id: uuid.UUID, *, user_id: uuid.UUID
                             ) -> tuple[dict[str, Any] | None, str | None]:
        """The live case and the caller's live share level."""
        case = await self.uow.fetch_one(_CASE_WITH_SHARE_READ,
                                        {"case_id": case_id, "user_id": user_id})
        if case is None:
            return None, None
        return case, case.pop("share_level")

    async def list_visible(
        self, *, user_id: uuid.UUID, scope: str, ticker: str | None, q: str | None,
        status: str | None, updated_since: datetime | None, limit: int,
        after: tuple[datetime, uuid.UUID] | None,
    ) -> list[dict[str, Any]]:
        """Live cases the user owns and/or has a live share of, newest update first."""
        query = _visible_cases_query(
            scope, ticker=ticker is not None, q=q is not None, status=status is not None,
            updated_since=updated_since is not None, after=after is not None)
        params: dict[str, Any] = {"user_id": user_id, "page_rows": limit + 1}
        if ticker is not None:
            params["ticker"] = ticker.upper()
        if q is not None:
            escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            params["name_pattern"] = f"%{escaped}%"
        if status is not None:
            params["status"] = status
        if updated_since is not None:
            params["updated_since"] = updated_since
        if after is not None:
            params["after_updated_at"], params["after_id"] = after
        return await self.uow.fetch(query, params)


class CaseRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, values: dict[str, Any]) -> dict[str, Any]:
        row = (await self.session.execute(insert(cases).values(**values).returning(cases))).one()
        return dict(row._mapping)

    async def get_with_share(self, case_id: uuid.UUID, *, user_id: uuid.UUID,
                             deleted: bool = False) -> tuple[dict[str, Any] | None, str | None]:
        """The case (live, or soft-deleted when `deleted`) and the caller's live share level."""
        stmt = _CASE_WITH_SHARE[deleted]
        row = (await self.session.execute(stmt, {"case_id": case_id, "user_id": user_id})).first()
        if row is None:
            return None, None
        data = dict(row._mapping)
        return data, data.pop("share_level")

    async def update_if_version(self, case_id: uuid.UUID, *, expected: int,
                                values: dict[str, Any]) -> dict[str, Any] | None:
        """Compare-and-set on the version: None when someone else wrote first. Under READ
        COMMITTED a concurrent writer waits for the row lock, then re-checks the WHERE."""
        row = (await self.session.execute(
            update(cases)
            .where(cases.c.id == case_id, cases.c.version == expected,
                   cases.c.deleted_at.is_(None))
            .values(**values, version=cases.c.version + 1, updated_at=func.now())
            .returning(cases))).first()
        return _dict(row)

    async def set_deleted(self, case_id: uuid.UUID, *, deleted: bool,
                          expected: int | None = None) -> dict[str, Any] | None:
        stmt = update(cases).where(cases.c.id == case_id)
        if deleted:
            stmt = stmt.where(cases.c.deleted_at.is_(None))
            if expected is not None:
                stmt = stmt.where(cases.c.version == expected)
            stmt = stmt.values(deleted_at=func.now())
        else:
            stmt = stmt.where(cases.c.deleted_at.is_not(None)).values(deleted_at=None)
        return _dict((await self.session.execute(stmt.returning(cases))).first())

    async def list_deleted(self, *, owner_id: uuid.UUID, since: datetime, limit: int,
                           after: tuple[datetime, uuid.UUID] | None) -> list[dict[str, Any]]:
        stmt = select(cases).where(cases.c.owner_id == owner_id, cases.c.deleted_at >= since)
        if after:
            stmt = stmt.where(tuple_(cases.c.updated_at, cases.c.id) < tuple_(*after))
        stmt = stmt.order_by(cases.c.updated_at.desc(), cases.c.id.desc()).limit(limit + 1)
        return [dict(r._mapping) for r in (await self.session.execute(stmt))]

    # -- versions -------------------------------------------------------------------------------

    async def add_version(self, case: dict[str, Any], *, author_id: uuid.UUID, change: str,
                          restored_from: int | None = None) -> None:
        await self.session.execute(insert(case_versions).values(
            case_id=case["id"], version=case["version"], content=content_of(case),
            author_id=author_id, change=change, restored_from=restored_from))

    async def add_versions(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            await self.session.execute(insert(case_versions), rows)

    async def list_versions(self, case_id: uuid.UUID, *, limit: int, before: int | None
                            ) -> list[dict[str, Any]]:
        stmt = select(case_versions.c.version, case_versions.c.author_id, case_versions.c.change,
                      case_versions.c.restored_from, case_versions.c.created_at
                      ).where(case_versions.c.case_id == case_id)
        if before is not None:
            stmt = stmt.where(case_versions.c.version < before)
        stmt = stmt.order_by(case_versions.c.version.desc()).limit(limit + 1)
        return [dict(r._mapping) for r in (await self.session.execute(stmt))]

    async def get_version(self, case_id: uuid.UUID, version: int) -> dict[str, Any] | None:
        return _dict((await self.session.execute(select(case_versions).where(
            case_versions.c.case_id == case_id, case_versions.c.version == version))).first())

    # -- legacy ---------------------------------------------------------------------------------

    async def legacy_keys(self, owner_id: uuid.UUID) -> dict[str, tuple[uuid.UUID, int]]:
        """Idempotency key -> (case id, version) of every case this owner imported."""
        rows = await self.session.execute(
            select(cases.c.legacy_key, cases.c.id, cases.c.version)
            .where(cases.c.owner_id == owner_id, cases.c.legacy_key.is_not(None)))
        return {r.legacy_key: (r.id, r.version) for r in rows}

    async def add_many(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not rows:
            return []
        result = await self.session.execute(insert(cases).returning(cases), rows)
        return [dict(r._mapping) for r in result]


class ShareRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert(self, *, case_id: uuid.UUID, user_id: uuid.UUID, level: str,
                     granted_by: uuid.UUID, expires_at: datetime | None) -> dict[str, Any]:
        stmt = pg_insert(shares).values(case_id=case_id, user_id=user_id, level=level,
                                        granted_by=granted_by, expires_at=expires_at)
        stmt = stmt.on_conflict_do_update(
            index_elements=[shares.c.case_id, shares.c.user_id],
            set_={"level": level, "granted_by": granted_by, "expires_at": expires_at,
                  "revoked_at": None, "revoked_by": None, "updated_at": func.now()})
        return dict((await self.session.execute(stmt.returning(shares))).one()._mapping)

    async def revoke(self, *, case_id: uuid.UUID, user_id: uuid.UUID, by: uuid.UUID
                     ) -> dict[str, Any] | None:
        """Revokes a share that is not already revoked (expired ones too, to end them for good)."""
        return _dict((await self.session.execute(
            update(shares)
            .where(shares.c.case_id == case_id, shares.c.user_id == user_id,
                   shares.c.revoked_at.is_(None))
            .values(revoked_at=func.now(), revoked_by=by, updated_at=func.now())
            .returning(shares))).first())

    async def list_for_case(self, case_id: uuid.UUID) -> list[dict[str, Any]]:
        """Shares that grant something now (revoked, expired and deactivated ones left out)."""
        stmt = (select(shares, users.c.email, users.c.name)
                .join(users, users.c.id == shares.c.user_id)
                .where(shares.c.case_id == case_id, shares.c.revoked_at.is_(None),
                       or_(shares.c.expires_at.is_(None), shares.c.expires_at > func.now()),
                       users.c.active.is_(True))
                .order_by(shares.c.created_at, shares.c.user_id))
        return [dict(r._mapping) for r in (await self.session.execute(stmt))]


class CommentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, values: dict[str, Any]) -> dict[str, Any]:
        return dict((await self.session.execute(
            insert(comments).values(**values).returning(comments))).one()._mapping)

    async def list(self, case_id: uuid.UUID, *, limit: int,
                   after: tuple[datetime, uuid.UUID] | None) -> list[dict[str, Any]]:
        stmt = select(comments).where(comments.c.case_id == case_id)
        if after:
            stmt = stmt.where(tuple_(comments.c.created_at, comments.c.id) > tuple_(*after))
        stmt = stmt.order_by(comments.c.created_at, comments.c.id).limit(limit + 1)
        return [dict(r._mapping) for r in (await self.session.execute(stmt))]

    async def get(self, case_id: uuid.UUID, comment_id: uuid.UUID) -> dict[str, Any] | None:
        return _dict((await self.session.execute(select(comments).where(
            comments.c.case_id == case_id, comments.c.id == comment_id))).first())

    async def delete(self, comment_id: uuid.UUID) -> None:
        await self.session.execute(delete(comments).where(comments.c.id == comment_id))


class ImportRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_owner(self, owner_id: uuid.UUID) -> None:
        """Serialises imports per owner, so two concurrent imports cannot both create."""
        await self.session.execute(select(func.pg_advisory_xact_lock(
            func.hashtextextended("cases.legacy_import:" + str(owner_id), 0))))

    async def analysis_keys(self, owner_id: uuid.UUID) -> set[str]:
        rows = await self.session.execute(
            select(analyses.c.legacy_key)
            .where(analyses.c.owner_id == owner_id, analyses.c.legacy_key.is_not(None)))
        return set(rows.scalars())

    async def lock_email(self, email: str) -> None:
        """Serialises an on-behalf import's directory check with the consumer that adds that
        email to the directory, so an import never waits for an account already announced."""
        await self.session.execute(select(func.pg_advisory_xact_lock(
            func.hashtextextended("cases.legacy_import_email:" + email.strip().lower(), 0))))

    async def add_import(self, values: dict[str, Any]) -> None:
        await self.session.execute(insert(legacy_imports).values(**values))

    async def get_import(self, import_id: uuid.UUID) -> dict[str, Any] | None:
        return _dict((await self.session.execute(
            select(legacy_imports.c.id, legacy_imports.c.owner_id, legacy_imports.c.imported_by,
                   legacy_imports.c.status, legacy_imports.c.email, legacy_imports.c.report,
                   legacy_imports.c.created_at, legacy_imports.c.completed_at)
            .where(legacy_imports.c.id == import_id))).first())

    async def awaiting_account(self, email: str) -> list[dict[str, Any]]:
        """Imports waiting for this email's account, oldest first, row-locked."""
        rows = await self.session.execute(
            select(legacy_imports)
            .where(legacy_imports.c.status == "awaiting_account",
                   legacy_imports.c.email == email.strip().lower())
            .order_by(legacy_imports.c.created_at, legacy_imports.c.id)
            .with_for_update())
        return [dict(r._mapping) for r in rows]

    async def finish_import(self, import_id: uuid.UUID, *, status: str, owner_id: uuid.UUID,
                            report: dict[str, Any], record: dict[str, Any] | None) -> None:
        await self.session.execute(
            update(legacy_imports).where(legacy_imports.c.id == import_id)
            .values(status=status, owner_id=owner_id, report=report, record=record,
                    completed_at=func.now()))

    async def add_analyses(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            await self.session.execute(insert(analyses), rows)

    async def upsert_preferences(self, *, user_id: uuid.UUID, preferences: dict[str, Any],
                                 case_defaults: dict[str, Any], import_id: uuid.UUID) -> None:
        stmt = pg_insert(user_preferences).values(
            user_id=user_id, preferences=preferences, case_defaults=case_defaults,
            import_id=import_id)
        await self.session.execute(stmt.on_conflict_do_update(
            index_elements=[user_preferences.c.user_id],
            set_={"preferences": user_preferences.c.preferences.op("||")(stmt.excluded.preferences),
                  "case_defaults": user_preferences.c.case_defaults.op("||")(
                      stmt.excluded.case_defaults),
                  "import_id": import_id, "updated_at": func.now()}))


class UserDirectory:
    """The service's own projection of users, fed by auth.user.* events."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert(self, *, user_id: uuid.UUID, email: str, name: str | None, role: str,
                     active: bool) -> None:
        stmt = pg_insert(users).values(id=user_id, email=email.lower(), name=name, role=role,
                                       active=active)
        await self.session.execute(stmt.on_conflict_do_update(
            index_elements=[users.c.id],
            set_={"email": stmt.excluded.email, "name": stmt.excluded.name,
                  "role": stmt.excluded.role, "active": stmt.excluded.active,
                  "updated_at": func.now()}))

    async def get(self, user_id: uuid.UUID) -> dict[str, Any] | None:
        return _dict((await self.session.execute(select(users).where(users.c.id == user_id))).first())

    async def by_email(self, email: str) -> dict[str, Any] | None:
        return _dict((await self.session.execute(
            select(users).where(users.c.email == email.strip().lower()))).first())

    async def emails(self, user_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
        if not user_ids:
            return {}
        rows = await self.session.execute(select(users).where(users.c.id.in_(user_ids)))
        return {r.id: dict(r._mapping) for r in rows}


