"""Thin handlers: schema in -> service call -> schema out."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import ValidationError

from epv_cases import importer, service
from epv_cases.api.schemas import (
    CaseContent,
    CaseCreate,
    CasePage,
    CaseRead,
    CaseReplace,
    CaseStatus,
    CommentCreate,
    CommentPage,
    CommentRead,
    LegacyImportReport,
    LegacyImportRequest,
    LegacyImportStatus,
    ShareCreate,
    ShareList,
    ShareRead,
    VersionDiff,
    VersionPage,
    VersionRead,
)
from epv_common.deps import PageDep, PrincipalDep, UowDep
from epv_common.errors import InvalidInput
from epv_common.jsonresponse import row_json
from epv_common.problems import field_errors_from_pydantic

router = APIRouter(prefix="/api/cases", tags=["cases"])
migrate_router = APIRouter(prefix="/api/migrate", tags=["legacy import"])

IfMatch = Annotated[str | None, Header(alias="If-Match",
                                       description="The case's ETag (its version)")]
MERGE_PATCH = "application/merge-patch+json"


def _etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'


@router.post("", status_code=201, response_model=CaseRead)
async def create_case(body: CaseCreate, uow: UowDep, principal: PrincipalDep,
                      response: Response) -> dict:
    case = await service.create_case(uow, principal, body.model_dump(mode="json"))
    _etag(response, case["version"])
    response.headers["Location"] = f"/api/cases/{case['id']}"
    return case


@router.get("", response_model=CasePage)
async def list_cases(
    uow: UowDep, principal: PrincipalDep, page: PageDep,
    scope: Annotated[Literal["all", "owned", "shared", "deleted"], Query(
        description="owned by me, shared with me, both (default), or my restorable deleted ones"
    )] = "all",
    ticker: Annotated[str | None, Query(max_length=16)] = None,
    q: Annotated[str | None, Query(max_length=200, description="name contains")] = None,
    status: CaseStatus | None = None,
    updated_since: datetime | None = None,
) -> Any:
    if scope == "deleted":
        return await service.list_deleted_cases(uow, principal, page)
    filters = service.CaseFilters(scope=scope, ticker=ticker, q=q,
                                  status=status.value if status else None,
                                  updated_since=updated_since)
    return row_json(await service.list_cases(uow, principal, filters, page))


@router.get("/{case_id}", response_model=CaseRead)
async def get_case(case_id: uuid.UUID, uow: UowDep, principal: PrincipalDep) -> Response:
    case = await service.get_case(uow, principal, case_id)
    return row_json(case, headers={"ETag": f'"{case["version"]}"'})


@router.put("/{case_id}", response_model=CaseRead)
async def replace_case(case_id: uuid.UUID, body: CaseReplace, uow: UowDep,
                       principal: PrincipalDep, response: Response, if_match: IfMatch = None
                       ) -> dict:
    case = await service.replace_case(uow, principal, case_id, body.model_dump(mode="json"),
                                      if_match=if_match)
    _etag(response, case["version"])
    return case


def _validated_content(document: dict[str, Any]) -> dict[str, Any]:
    try:
        return CaseContent.model_validate(document).model_dump(mode="json")
    except ValidationError as exc:
        raise InvalidInput(errors=[{**e, "in": "body"} for e in field_errors_from_pydantic(
            [{**err, "loc": ("body", *err["loc"])} for err in exc.errors()])]) from exc


@router.patch("/{case_id}", response_model=CaseRead, openapi_extra={"requestBody": {
    "content": {MERGE_PATCH: {"schema": {"type": "object"}},
                "application/json": {"schema": {"type": "object"}}}}})
async def patch_case(case_id: uuid.UUID, request: Request, uow: UowDep,
                     principal: PrincipalDep, response: Response, if_match: IfMatch = None
                     ) -> dict:
    """JSON Merge Patch (RFC 7396) of the editable fields; the result is validated whole."""
    try:
        patch = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(errors=[{"field": "body", "in": "body", "rule": "json_invalid",
                                    "message": "The body is not valid JSON."}]) from exc
    if not isinstance(patch, dict):
        raise InvalidInput(errors=[{"field": "body", "in": "body", "rule": "object_type",
                                    "message": "A merge patch of a case must be an object."}])
    case = await service.patch_case(uow, principal, case_id, patch, if_match=if_match,
                                    validate=_validated_content)
    _etag(response, case["version"])
    return case


@router.delete("/{case_id}", status_code=204)
async def delete_case(case_id: uuid.UUID, uow: UowDep, principal: PrincipalDep,
                      if_match: IfMatch = None) -> Response:
    await service.delete_case(uow, principal, case_id, if_match=if_match)
    return Response(status_code=204)


@router.post("/{case_id}/restore", response_model=CaseRead)
async def restore_case(case_id: uuid.UUID, uow: UowDep, principal: PrincipalDep,
                       response: Response) -> dict:
    case = await service.restore_case(uow, principal, case_id)
    _etag(response, case["version"])
    return case


# -- versions -------------------------------------------------------------------------------------

@router.get("/{case_id}/versions", response_model=VersionPage)
async def list_versions(case_id: uuid.UUID, uow: UowDep, principal: PrincipalDep,
                        page: PageDep) -> Any:
    return await service.list_versions(uow, principal, case_id, page)


@router.get("/{case_id}/versions/{version}", response_model=VersionRead)
async def get_version(case_id: uuid.UUID, version: int, uow: UowDep, principal: PrincipalDep
                      ) -> dict:
    return await service.get_version(uow, principal, case_id, version)


@router.get("/{case_id}/versions/{a}/diff/{b}", response_model=VersionDiff,
            response_model_by_alias=True)
async def diff_versions(case_id: uuid.UUID, a: int, b: int, uow: UowDep,
                        principal: PrincipalDep) -> dict:
    return await service.diff_versions(uow, principal, case_id, a, b)


@router.post("/{case_id}/versions/{version}/restore", response_model=CaseRead)
async def restore_version(case_id: uuid.UUID, version: int, uow: UowDep,
                          principal: PrincipalDep, response: Response,
                          if_match: IfMatch = None) -> dict:
    case = await service.restore_version(uow, principal, case_id, version, if_match=if_match)
    _etag(response, case["version"])
    return case


# -- sharing --------------------------------------------------------------------------------------

@router.get("/{case_id}/share", response_model=ShareList)
async def list_shares(case_id: uuid.UUID, uow: UowDep, principal: PrincipalDep) -> dict:
    return {"items": await service.list_shares(uow, principal, case_id)}


@router.post("/{case_id}/share", response_model=ShareRead, status_code=201)
async def share_case(case_id: uuid.UUID, body: ShareCreate, uow: UowDep,
                     principal: PrincipalDep, response: Response) -> dict:
    share, created = await service.share_case(uow, principal, case_id, email=body.email,
                                              level=body.level.value, expires_at=body.expires_at)
    if not created:
        response.status_code = 200
    return share


@router.delete("/{case_id}/share", status_code=204)
async def revoke_share(case_id: uuid.UUID, uow: UowDep, principal: PrincipalDep,
                       email: Annotated[str | None, Query(max_length=320)] = None,
                       user_id: uuid.UUID | None = None) -> Response:
    if not email and not user_id:
        raise InvalidInput(errors=[{"field": "email", "in": "query", "rule": "missing",
                                    "message": "Name the share to revoke: email or user_id."}])
    await service.revoke_share(uow, principal, case_id, email=email, user_id=user_id)
    return Response(status_code=204)


# -- comments -------------------------------------------------------------------------------------

@router.post("/{case_id}/comments", response_model=CommentRead, status_code=201)
async def add_comment(case_id: uuid.UUID, body: CommentCreate, uow: UowDep,
                      principal: PrincipalDep) -> dict:
    return await service.add_comment(uow, principal, case_id, body.body)


@router.get("/{case_id}/comments", response_model=CommentPage)
async def list_comments(case_id: uuid.UUID, uow: UowDep, principal: PrincipalDep,
                        page: PageDep) -> Any:
    return await service.list_comments(uow, principal, case_id, page)


@router.delete("/{case_id}/comments/{comment_id}", status_code=204)
async def delete_comment(case_id: uuid.UUID, comment_id: uuid.UUID, uow: UowDep,
                         principal: PrincipalDep) -> Response:
    await service.delete_comment(uow, principal, case_id, comment_id)
    return Response(status_code=204)


# -- legacy import --------------------------------------------------------------------------------

@migrate_router.post("/data", response_model=LegacyImportReport,
                     responses={202: {"model": LegacyImportReport,
                                      "description": "Waiting for the named user's account"}})
async def import_legacy(body: LegacyImportRequest, request: Request, uow: UowDep,
                        principal: PrincipalDep, response: Response,
                        dry_run: Annotated[bool, Query()] = False) -> dict:
    """Imports a browser localStorage export; the answer is a per-item report. An ADMIN's
    import for an email with no account answers 202 and completes once auth creates it."""
    report = await importer.import_legacy(
        uow, principal, local_storage_data=body.local_storage_data,
        raw_body=await request.body(), email=body.email, name=body.name,
        organization=body.organization, dry_run=dry_run)
    if report["status"] == importer.AWAITING_ACCOUNT and not dry_run:
        response.status_code = 202
        response.headers["Location"] = f"/api/migrate/imports/{report['import_id']}"
    return report


@migrate_router.get("/imports/{import_id}", response_model=LegacyImportStatus)
async def get_import(import_id: uuid.UUID, uow: UowDep, principal: PrincipalDep) -> dict:
    """An import's status (the importing ADMIN's or the owner's), with its report once done."""
    return await importer.get_import(uow, principal, import_id)
