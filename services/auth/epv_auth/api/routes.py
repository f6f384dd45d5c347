"""Thin handlers of the auth API."""

from __future__ import annotations

from fastapi import APIRouter

from epv_auth import service
from epv_auth.api.schemas import RegisterRequest, UserRead
from epv_common.deps import UowDep

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/register", status_code=201, response_model=UserRead)
async def register(body: RegisterRequest, uow: UowDep) -> dict:
    return await service.register(uow, email=body.email, password=body.password, name=body.name)
