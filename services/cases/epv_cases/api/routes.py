"""Thin handlers: schema in -> service call -> schema out."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from epv_cases import service
from epv_cases.api.schemas import CaseCreate, CaseRead
from epv_common.deps import PrincipalDep, UowDep

router = APIRouter(prefix="/api/cases", tags=["cases"])


def _etag(version: int) -> str:
    return f'"{version}"'


@router.post("", status_code=201, response_model=CaseRead)
async def create_case(body: CaseCreate, uow: UowDep, principal: PrincipalDep,
                      response: Response) -> dict:
    case = await service.create_case(uow, principal, body.model_dump(mode="json"))
    response.headers["ETag"] = _etag(case["version"])
    response.headers["Location"] = f"/api/cases/{case['id']}"
    return case


@router.get("/{case_id}", response_model=CaseRead)
async def get_case(case_id: uuid.UUID, uow: UowDep, principal: PrincipalDep,
                   response: Response) -> dict:
    case = await service.get_case(uow, principal, case_id)
    response.headers["ETag"] = _etag(case["version"])
    return case
