"""Thin handlers of /api/users: the user lifecycle for MANAGER+ (list) and ADMIN+ (change,
password-setup tokens)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from epv_auth import invitations, users
from epv_auth.api.deps import AuthDep
from epv_auth.api.schemas import PasswordSetupIssued, RoleName, UserPage, UserRead, UserUpdate
from epv_common.deps import PageDep, require_role
from epv_common.identity import Principal, Role

router = APIRouter(prefix="/api/users", tags=["users"])


@router.get("", response_model=UserPage)
async def list_users(
    auth: AuthDep, page: PageDep, principal: Annotated[Principal, require_role(Role.MANAGER)],
    role: RoleName | None = None, active: bool | None = None,
    email: Annotated[str | None, Query(max_length=320, description="Substring")] = None,
) -> dict:
    return await users.list_users(auth, page, role=role, active=active, email=email)


@router.patch("/{user_id}", response_model=UserRead)
async def update_user(user_id: str, body: UserUpdate, auth: AuthDep,
                      principal: Annotated[Principal, require_role(Role.ADMIN)]) -> dict:
    return await users.update_user(auth, principal, user_id, active=body.active,
                                   role=Role[body.role] if body.role else None)


@router.post("/{user_id}/password-setup", status_code=201, response_model=PasswordSetupIssued)
async def issue_password_setup(user_id: str, auth: AuthDep, response: Response,
                               principal: Annotated[Principal, require_role(Role.ADMIN)]) -> dict:
    """A one-time token with which the user sets a password (POST /api/auth/password-setup).
    It is shown only in this answer; an earlier token of the user stops working."""
    response.headers["Cache-Control"] = "no-store"
    return await invitations.issue_password_setup(auth, principal, user_id)
