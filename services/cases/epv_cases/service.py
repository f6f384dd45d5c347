"""Use cases of the cases service: each opens the unit of work, records events, commits once.

Concurrency: a content write is a compare-and-set on `version` (UPDATE ... WHERE version =
expected). If-Match is required on PUT and PATCH (428 without it) because those overwrite
content; it is optional on DELETE and on version restore, and checked when sent (412 if stale).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonpatch

from epv_cases import events
from epv_cases.engine import validate_structure
from epv_cases.errors import (
    CaseAccessDenied,
    CaseIfMatchRequired,
    CaseNotDeleted,
    CaseNotFound,
    CaseRestoreExpired,
    CaseVersionMismatch,
    CommentNotFound,
    FinancialDataInvalid,
    ShareNotFound,
    ShareTargetInvalid,
    VersionNotFound,
)
from epv_cases.permissions import Access, Level, access_to, check_grant, require
from epv_cases.repository import (
    CaseReads,
    CaseRepository,
    CommentRepository,
    ShareRepository,
    UserDirectory,
    content_of,
)
from epv_common.db import UnitOfWork
from epv_common.errors import InvalidInput
from epv_common.identity import Principal
from epv_common.pagination import PageParams, page_of

RESTORE_WINDOW = timedelta(days=30)


# -- seams and small rules -------------------------------------------------------------------------

def check_financial_data(financial_data: Any) -> None:
    """The one place a stored case's financial_data is checked: the engine's structural rules
    for either shape (a draft may be incomplete; analysis checks completeness)."""
    problems = validate_structure(financial_data)
    if problems:
        raise FinancialDataInvalid(errors=[
            {"field": "financial_data" + (f".{p['field']}" if p["field"] else ""),
             "in": "body", "rule": p["rule"], "message": p["message"]} for p in problems])


def parse_if_match(header: str | None) -> int | str | None:
    """`"7"`, `W/"7"` or `7` -> 7; `*` -> "*"; absent -> None. Anything else can never match."""
    if header is None:
        return None
    first = header.split(",")[0].strip()
    if first == "*":
        return "*"
    first = first.removeprefix("W/").strip('"')
    try:
        return int(first)
    except ValueError:
        return -1


def _expected_version(case: dict[str, Any], if_match: int | str | None, *, required: bool
                      ) -> int:
    if if_match is None and required:
        raise CaseIfMatchRequired()
    if if_match is None or if_match == "*":
        return case["version"]
    if if_match != case["version"]:
        raise CaseVersionMismatch(case_id=str(case["id"]), current=case["version"],
                                  expected=if_match)
    return if_match


def _uid(principal: Principal) -> uuid.UUID:
    return uuid.UUID(principal.user_id)


@dataclass(frozen=True, slots=True)
class Seen:
    case: dict[str, Any]
    access: Access


async def _load(uow: UnitOfWork, principal: Principal, case_id: uuid.UUID, needed: Level, *,
                what: str) -> Seen:
    """The case with the caller's access, or the right error. A privileged (ADMIN role) read is
    recorded as `case.privileged_read`; the calling use case commits it."""
    case, share_level = await CaseRepository(uow.session).get_with_share(
        case_id, user_id=_uid(principal))
    access = access_to(case, principal, share_level) if case else None
    access = require(access, needed, case_id=case_id)
    if access.privileged:
        uow.record(events.case_privileged_read(
            case, actor_id=principal.user_id, role=principal.role.name, what=what))
    return Seen(case, access)


async def _commit_if_audited(uow: UnitOfWork, seen: Seen) -> None:
    if seen.access.privileged:
        await uow.commit()


def _with_access(case: dict[str, Any], access: Access) -> dict[str, Any]:
    return {**case, "access": access.level.name}


# -- cases ----------------------------------------------------------------------------------------

async def create_case(uow: UnitOfWork, principal: Principal, fields: dict[str, Any]
                      ) -> dict[str, Any]:
    check_financial_data(fields.get("financial_data", {}))
    async with uow:
        repo = CaseRepository(uow.session)
        case = await repo.add({"id": uuid.uuid4(), "owner_id": _uid(principal), **fields})
        await repo.add_version(case, author_id=_uid(principal), change="created")
        uow.record(events.case_created(case, actor_id=principal.user_id))
        await uow.commit()
    return _with_access(case, Access(Level.OWNER))


async def get_case(uow: UnitOfWork, principal: Principal, case_id: uuid.UUID) -> dict[str, Any]:
    # The hot read runs without a transaction; only a privileged read has something to commit.
    case, share_level = await CaseReads(uow).get_with_share(case_id, user_id=_uid(principal))
    access = require(access_to(case, principal, share_level) if case else None, Level.READ,
                     case_id=case_id)
    if access.privileged:
        async with uow:
            uow.record(events.case_privileged_read(
                case, actor_id=principal.user_id, role=principal.role.name, what="case"))
            await uow.commit()
    return _with_access(case, access)


@dataclass(frozen=True, slots=True)
class CaseFilters:
    scope: str = "all"
    ticker: str | None = None
    q: str | None = None
    status: str | None = None
    updated_since: datetime | None = None


def _case_position(case: dict[str, Any]) -> dict[str, Any]:
    return {"u": case["updated_at"].isoformat(), "i": str(case["id"])}


def _case_after(page: PageParams) -> tuple[datetime, uuid.UUID] | None:
    position = page.position()
    if position is None:
        return None
    try:
        return datetime.fromisoformat(position["u"]), uuid.UUID(position["i"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(errors=[{"field": "cursor", "in": "query", "rule": "cursor_invalid",
                                    "message": "The cursor is not one this API issued."}]) from exc


async def list_cases(uow: UnitOfWork, principal: Principal, filters: CaseFilters,
                     page: PageParams) -> dict:
    rows = await CaseReads(uow).list_visible(
        user_id=_uid(principal), scope=filters.scope, ticker=filters.ticker, q=filters.q,
        status=filters.status, updated_since=filters.updated_since, limit=page.limit,
        after=_case_after(page))
    for row in rows:
        level = row.pop("share_level")
        row["access"] = "OWNER" if row["owner_id"] == _uid(principal) else level
    return page_of(rows, limit=page.limit, position_of=_case_position)


async def list_deleted_cases(uow: UnitOfWork, principal: Principal, page: PageParams) -> dict:
    """The caller's own soft-deleted cases that can still be restored."""
    async with uow.reading() as session:
        rows = await CaseRepository(session).list_deleted(
            owner_id=_uid(principal), since=datetime.now(UTC) - RESTORE_WINDOW,
            limit=page.limit, after=_case_after(page))
    for row in rows:
        row["access"] = "OWNER"
    return page_of(rows, limit=page.limit, position_of=_case_position)


async def _write_content(uow: UnitOfWork, principal: Principal, seen: Seen, *,
                         new_content: dict[str, Any], expected: int, change: str,
                         restored_from: int | None = None) -> dict[str, Any]:
    before = content_of(seen.case)
    updated = await CaseRepository(uow.session).update_if_version(
        seen.case["id"], expected=expected, values=new_content)
    if updated is None:
        # Lost the race: someone committed a new version after we read ours.
        raise CaseVersionMismatch(case_id=str(seen.case["id"]), current=None,
                                  expected=expected)
    await CaseRepository(uow.session).add_version(
        updated, author_id=_uid(principal), change=change, restored_from=restored_from)
    patch = jsonpatch.make_patch(before, content_of(updated)).patch
    uow.record(events.case_updated(updated, actor_id=principal.user_id, patch=patch,
                                   restored_from=restored_from))
    await uow.commit()
    return _with_access(updated, seen.access)


async def replace_case(uow: UnitOfWork, principal: Principal, case_id: uuid.UUID,
                       fields: dict[str, Any], *, if_match: str | None) -> dict[str, Any]:
    check_financial_data(fields.get("financial_data", {}))
    async with uow:
        seen = await _load(uow, principal, case_id, Level.EDIT, what="update")
        expected = _expected_version(seen.case, parse_if_match(if_match), required=True)
        return await _write_content(uow, principal, seen, new_content=fields, expected=expected,
                                    change="updated")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON Merge Patch."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


async def patch_case(uow: UnitOfWork, principal: Principal, case_id: uuid.UUID,
                     patch: dict[str, Any], *, if_match: str | None,
                     validate: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    """`validate` turns the merged document into the fields to store (the API's CaseContent
    rules), raising InvalidInput for a result that breaks them."""
    async with uow:
        seen = await _load(uow, principal, case_id, Level.EDIT, what="update")
        expected = _expected_version(seen.case, parse_if_match(if_match), required=True)
        fields = validate(merge_patch(content_of(seen.case), patch))
        check_financial_data(fields.get("financial_data", {}))
        return await _write_content(uow, principal, seen, new_content=fields, expected=expected,
                                    change="updated")


async def delete_case(uow: UnitOfWork, principal: Principal, case_id: uuid.UUID, *,
                      if_match: str | None) -> None:
    async with uow:
        seen = await _load(uow, principal, case_id, Level.OWNER, what="delete")
        expected = _expected_version(seen.case, parse_if_match(if_match), required=False)
        deleted = await CaseRepository(uow.session).set_deleted(
            case_id, deleted=True, expected=expected)
        if deleted is None:
            raise CaseVersionMismatch(case_id=str(case_id), current=None, expected=expected)
        until = (deleted["deleted_at"] + RESTORE_WINDOW).isoformat()
        uow.record(events.case_deleted(deleted, actor_id=principal.user_id,
                                       restorable_until=until))
        await uow.commit()


async def restore_case(uow: UnitOfWork, principal: Principal, case_id: uuid.UUID
                       ) -> dict[str, Any]:
    """Undo a soft delete: only the owner, only within the restore window."""
    async with uow:
        repo = CaseRepository(uow.session)
        case, _ = await repo.get_with_share(case_id, user_id=_uid(principal), deleted=True)
        if case is None or case["owner_id"] != _uid(principal):
            live, share_level = await repo.get_with_share(case_id, user_id=_uid(principal))
            if live is not None and access_to(live, principal, share_level) is not None:
                if live["owner_id"] == _uid(principal):
                    raise CaseNotDeleted(case_id=str(case_id))
                require(access_to(live, principal, share_level), Level.OWNER, case_id=case_id)
            raise CaseNotFound(case_id=str(case_id))
        if case["deleted_at"] < datetime.now(UTC) - RESTORE_WINDOW:
            raise CaseRestoreExpired(case_id=str(case_id), days=RESTORE_WINDOW.days)
        restored = await repo.set_deleted(case_id, deleted=False)
        uow.record(events.case_restored(restored, actor_id=principal.user_id))
        await uow.commit()
    return _with_access(restored, Access(Level.OWNER))


# -- versions -------------------------------------------------------------------------------------

async def list_versions(uow: UnitOfWork, principal: Principal, case_id: uuid.UUID,
                        page: PageParams) -> dict:
    position = page.position()
    before = position.get("v") if position else None
    if before is not None and not isinstance(before, int):
        raise InvalidInput(errors=[{"field": "cursor", "in": "query", "rule": "cursor_invalid",
                                    "message": "The cursor is not one this API issued."}])
    async with uow:
        seen = await _load(uow, principal, case_id, Level.READ, what="versions")
        rows = await CaseRepository(uow.session).list_versions(
            case_id, limit=page.limit, before=before)
        await _commit_if_audited(uow, seen)
    return page_of(rows, limit=page.limit, position_of=lambda r: {"v": r["version"]})


async def _version(uow: UnitOfWork, case_id: uuid.UUID, version: int) -> dict[str, Any]:
    row = await CaseRepository(uow.session).get_version(case_id, version)
    if row is None:
        raise VersionNotFound(case_id=str(case_id), version=version)
    return row


async def get_version(uow: UnitOfWork, principal: Principal, case_id: uuid.UUID, version: int
                      ) -> dict[str, Any]:
    async with uow:
        seen = await _load(uow, principal, case_id, Level.READ, what=f"version {version}")
        row = await _version(uow, case_id, version)
        await _commit_if_audited(uow, seen)
    return row


async def diff_versions(uow: UnitOfWork, principal: Principal, case_id: uuid.UUID, a: int,
                        b: int) -> dict[str, Any]:
    async with uow:
        seen = await _load(uow, principal, case_id, Level.READ, what=f"diff {a}..{b}")
        first, second = await _version(uow, case_id, a), await _version(uow, case_id, b)
        await _commit_if_audited(uow, seen)
    patch = jsonpatch.make_patch(first["content"], second["content"]).patch
    return {"case_id": case_id, "from_version": a, "to_version": b, "patch": patch}


async def restore_version(uow: UnitOfWork, principal: Principal, case_id: uuid.UUID,
                          version: int, *, if_match: str | None) -> dict[str, Any]:
    """A new version whose content equals version `version` (history is never rewritten)."""
    async with uow:
        seen = await _load(uow, principal, case_id, Level.EDIT, what="restore version")
        expected = _expected_version(seen.case, parse_if_match(if_match), required=False)
        old = await _version(uow, case_id, version)
        return await _write_content(uow, principal, seen, new_content=old["content"],
                                    expected=expected, change="restored",
                                    restored_from=version)


# -- sharing --------------------------------------------------------------------------------------

async def list_shares(uow: UnitOfWork, principal: Principal, case_id: uuid.UUID
                      ) -> list[dict[str, Any]]:
    async with uow:
        seen = await _load(uow, principal, case_id, Level.READ, what="shares")
        rows = await ShareRepository(uow.session).list_for_case(case_id)
        await _commit_if_audited(uow, seen)
    return rows


async def share_case(uow: UnitOfWork, principal: Principal, case_id: uuid.UUID, *, email: str,
                     level: str, expires_at: datetime | None) -> tuple[dict[str, Any], bool]:
    """Grants (or changes) a share; returns (share, created)."""
    wanted = Level.share_level(level)
    if expires_at is not None:
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)
        if expires_at <= datetime.now(UTC):
            raise ShareTargetInvalid(errors=[{"field": "expires_at", "in": "body",
                                              "rule": "in_future",
                                              "message": "expires_at must be in the future."}])
    async with uow:
        seen = await _load(uow, principal, case_id, Level.ADMIN, what="share")
        check_grant(principal, wanted)
        user = await UserDirectory(uow.session).by_email(email)
        if user is None or not user["active"]:
            raise ShareTargetInvalid(errors=[{"field": "email", "in": "body",
                                              "rule": "unknown_user",
                                              "message": "No active user with that email."}])
        if user["id"] == seen.case["owner_id"]:
            raise ShareTargetInvalid(errors=[{"field": "email", "in": "body", "rule": "is_owner",
                                              "message": "The owner already has every right."}])
        shares = ShareRepository(uow.session)
        previous = {s["user_id"]: s for s in await shares.list_for_case(case_id)}.get(user["id"])
        share = await shares.upsert(case_id=case_id, user_id=user["id"], level=wanted.name,
                                    granted_by=_uid(principal), expires_at=expires_at)
        uow.record(events.case_shared(seen.case, share, actor_id=principal.user_id,
                                      previous_level=previous["level"] if previous else None))
        await uow.commit()
    return {**share, "email": user["email"], "name": user["name"]}, previous is None


async def revoke_share(uow: UnitOfWork, principal: Principal, case_id: uuid.UUID, *,
                       email: str | None, user_id: uuid.UUID | None) -> None:
    """Share-ADMIN and the owner revoke anyone's share; anyone may give up their own."""
    async with uow:
        directory = UserDirectory(uow.session)
        target = (await directory.by_email(email) if email
                  else await directory.get(user_id) if user_id else None)
        own = target is not None and target["id"] == _uid(principal)
        seen = await _load(uow, principal, case_id, Level.READ if own else Level.ADMIN,
                           what="revoke share")
        share = None if target is None else await ShareRepository(uow.session).revoke(
            case_id=case_id, user_id=target["id"], by=_uid(principal))
        if share is None:
            raise ShareNotFound(who=email or str(user_id))
        uow.record(events.case_share_revoked(seen.case, share, actor_id=principal.user_id))
        await uow.commit()


# -- comments -------------------------------------------------------------------------------------

async def add_comment(uow: UnitOfWork, principal: Principal, case_id: uuid.UUID, body: str
                      ) -> dict[str, Any]:
    async with uow:
        seen = await _load(uow, principal, case_id, Level.COMMENT, what="comment")
        comment = await CommentRepository(uow.session).add(
            {"id": uuid.uuid4(), "case_id": case_id, "author_id": _uid(principal), "body": body})
        uow.record(events.case_commented(seen.case, comment, actor_id=principal.user_id))
        await uow.commit()
    return comment


async def list_comments(uow: UnitOfWork, principal: Principal, case_id: uuid.UUID,
                        page: PageParams) -> dict:
    async with uow:
        seen = await _load(uow, principal, case_id, Level.READ, what="comments")
        rows = await CommentRepository(uow.session).list(
            case_id, limit=page.limit, after=_case_after(page))
        await _commit_if_audited(uow, seen)
    return page_of(rows, limit=page.limit,
                   position_of=lambda c: {"u": c["created_at"].isoformat(), "i": str(c["id"])})


async def delete_comment(uow: UnitOfWork, principal: Principal, case_id: uuid.UUID,
                         comment_id: uuid.UUID) -> None:
    """Only the comment's author deletes it, and only while they can still see the case."""
    async with uow:
        seen = await _load(uow, principal, case_id, Level.READ, what="delete comment")
        comments = CommentRepository(uow.session)
        comment = await comments.get(case_id, comment_id)
        if comment is None:
            raise CommentNotFound(comment_id=str(comment_id))
        if comment["author_id"] != _uid(principal):
            raise CaseAccessDenied("Only its author may delete a comment.")
        await comments.delete(comment_id)
        uow.record(events.case_comment_deleted(seen.case, comment, actor_id=principal.user_id))
        await uow.commit()
