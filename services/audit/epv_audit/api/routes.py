"""Thin handlers of the audit API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from epv_audit.api.schemas import EntryRead
from epv_audit.repository import EntryRepository
from epv_common.deps import PageDep, UowDep, require_role
from epv_common.identity import Role
from epv_common.pagination import Page, page_of

router = APIRouter(prefix="/api/audit", tags=["audit"])


@router.get("/logs", response_model=Page[EntryRead], dependencies=[require_role(Role.MANAGER)])
async def list_logs(
    uow: UowDep, page: PageDep,
    entity_id: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[str | None, Query(max_length=200)] = None,
    actor_id: Annotated[str | None, Query(max_length=64)] = None,
    security_only: bool = False,
) -> Page:
    after = int((page.position() or {}).get("seq", 0))
    async with uow:
        rows = await EntryRepository(uow.session).page(
            after_seq=after, limit=page.limit + 1, entity_id=entity_id, action=action,
            actor_id=actor_id, security_only=security_only)
    return page_of(rows, limit=page.limit, position_of=lambda r: {"seq": r["seq"]})
