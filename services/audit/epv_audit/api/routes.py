"""Thin handlers of the audit API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import StreamingResponse

from epv_audit import service
from epv_audit.api.schemas import (
    CheckpointRead,
    EntryRead,
    PublicKeys,
    RetentionRead,
    RetentionRequest,
    VerifyRead,
)
from epv_audit.repository import EntryFilter
from epv_common.deps import PageDep, PrincipalDep, RuntimeDep, UowDep, require_role
from epv_common.identity import Role
from epv_common.pagination import Page, page_of

router = APIRouter(prefix="/api/audit", tags=["audit"])

MANAGER = [require_role(Role.MANAGER)]


async def entry_filter(
    actor_id: Annotated[str | None, Query(max_length=64, description="Who acted")] = None,
    entity_id: Annotated[str | None, Query(max_length=200, description="Which entity")] = None,
    entity_type: Annotated[str | None, Query(max_length=64, description="case, user, ...")] = None,
    type: Annotated[str | None, Query(max_length=200, description="Event type")] = None,  # noqa: A002
    security_only: Annotated[bool, Query(description="Security events only")] = False,
    since: Annotated[datetime | None, Query(description="Occurred at or after")] = None,
    until: Annotated[datetime | None, Query(description="Occurred before")] = None,
) -> EntryFilter:
    return service.entry_filter(actor_id=actor_id, entity_id=entity_id, entity_type=entity_type,
                                action=type, security_only=security_only, since=since,
                                until=until)


FilterDep = Annotated[EntryFilter, Depends(entry_filter)]


@router.get("/logs", response_model=Page[EntryRead], dependencies=MANAGER)
async def list_logs(uow: UowDep, page: PageDep, flt: FilterDep) -> dict:
    after = int((page.position() or {}).get("seq", 0))
    rows = await service.list_entries(uow, flt, after_seq=after, limit=page.limit + 1)
    return page_of(rows, limit=page.limit, position_of=lambda r: {"seq": r["seq"]})


@router.get("/logs/{seq}", response_model=EntryRead, dependencies=MANAGER)
async def get_log(uow: UowDep, seq: Annotated[int, Path(ge=1, le=2**62)]) -> dict:
    return await service.get_entry(uow, seq)


@router.get("/checkpoints", response_model=Page[CheckpointRead], dependencies=MANAGER)
async def list_checkpoints(uow: UowDep, page: PageDep) -> dict:
    after = int((page.position() or {}).get("seq", 0))
    rows = await service.list_checkpoints(uow, after_seq=after, limit=page.limit + 1)
    return page_of(rows, limit=page.limit, position_of=lambda r: {"seq": r["seq"]})


@router.get("/keys", response_model=PublicKeys)
async def public_keys(uow: UowDep) -> dict:
    """The checkpoint signing keys, retired ones included (a JWK set of OKP Ed25519 keys)."""
    return await service.public_keys(uow)


@router.get("/verify", response_model=VerifyRead, dependencies=MANAGER)
async def verify(
    runtime: RuntimeDep, request: Request,
    from_seq: Annotated[int | None, Query(alias="from", ge=1, le=2**62)] = None,
    to_seq: Annotated[int | None, Query(alias="to", ge=1, le=2**62)] = None,
) -> dict:
    """Recomputes the chain from the database: ok, or the first entry that does not match."""
    return await service.verify(runtime.engine, from_seq=from_seq, to_seq=to_seq,
                                batch=request.app.state.settings.audit_stream_batch,
                                pool=runtime.extras["verify_pool"])


MEDIA = {"ndjson": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}


@router.get("/export", dependencies=MANAGER, response_class=StreamingResponse,
            responses={200: {"content": {m: {} for m in MEDIA.values()}}})
async def export(
    uow: UowDep, runtime: RuntimeDep, principal: PrincipalDep, request: Request, flt: FilterDep,
    format: Literal["ndjson", "csv"] = "ndjson",  # noqa: A002
) -> StreamingResponse:
    """Streams the entries (filtered or all). An unfiltered NDJSON export verifies offline with
    `python -m epv_common.auditchain`."""
    await service.record_export(uow, actor_id=principal.user_id, fmt=format, flt=flt)
    body = service.export_stream(runtime.engine, fmt=format, flt=flt,
                                 batch=request.app.state.settings.audit_stream_batch)
    return StreamingResponse(body, media_type=MEDIA[format], headers={
        "Content-Disposition": f'attachment; filename="audit-export.{format}"'})


@router.post("/retention", response_model=RetentionRead,
             dependencies=[require_role(Role.SUPER_ADMIN)])
async def retention(body: RetentionRequest, uow: UowDep, runtime: RuntimeDep,
                    principal: PrincipalDep, request: Request) -> dict:
    """Removes entries recorded before `before`, up to the latest signed checkpoint among them;
    the chain then verifies from that checkpoint."""
    return await service.apply_retention(
        uow, runtime.engine, before=body.before, actor_id=principal.user_id,
        batch=request.app.state.settings.audit_stream_batch,
        pool=runtime.extras["verify_pool"])
