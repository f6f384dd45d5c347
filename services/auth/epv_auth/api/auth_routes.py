"""Thin handlers of /api/auth: accounts, login, tokens, own sessions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Request, Response

from epv_auth import invitations, service
from epv_auth.api.deps import AuthDep, ClientDep, OptionalPrincipalDep
from epv_auth.api.schemas import (
    LoginRequest,
    MeUpdate,
    PasswordChange,
    PasswordSetupRequest,
    RefreshRequest,
    RegisterRequest,
    SessionRead,
    TokenPair,
    UserRead,
)
from epv_auth.errors import InvalidRefreshToken
from epv_auth.settings import Settings
from epv_common.deps import PrincipalDep

router = APIRouter(prefix="/api/auth", tags=["auth"])


def _set_refresh_cookie(response: Response, settings: Settings, token: str) -> None:
    response.set_cookie(settings.refresh_cookie_name, token, max_age=settings.refresh_token_ttl_s,
                        path=settings.refresh_cookie_path, secure=True, httponly=True,
                        samesite="strict")


def _refresh_token_of(request: Request, body: RefreshRequest | None, settings: Settings
                      ) -> str | None:
    # The body wins when both are sent: a client that sends one explicitly means that one.
    if body is not None and body.refresh_token:
        return body.refresh_token
    return request.cookies.get(settings.refresh_cookie_name) or None


@router.post("/register", status_code=201, response_model=UserRead)
async def register(body: RegisterRequest, auth: AuthDep) -> dict:
    return await service.register(auth, email=body.email, password=body.password, name=body.name)


@router.post("/login", response_model=TokenPair)
async def login(body: LoginRequest, auth: AuthDep, client: ClientDep, response: Response) -> dict:
    pair = await service.login(auth, email=body.email, password=body.password, client=client)
    _set_refresh_cookie(response, auth.settings, pair["refresh_token"])
    return pair


@router.post("/refresh", response_model=TokenPair)
async def refresh(request: Request, auth: AuthDep, response: Response,
                  body: Annotated[RefreshRequest | None, Body()] = None) -> dict:
    token = _refresh_token_of(request, body, auth.settings)
    if not token:
        raise InvalidRefreshToken()
    pair = await service.refresh(auth, refresh_token=token)
    _set_refresh_cookie(response, auth.settings, pair["refresh_token"])
    return pair


@router.post("/logout", status_code=204)
async def logout(request: Request, auth: AuthDep, principal: OptionalPrincipalDep,
                 body: Annotated[RefreshRequest | None, Body()] = None) -> Response:
    await service.logout(auth, principal=principal,
                         refresh_token=_refresh_token_of(request, body, auth.settings))
    response = Response(status_code=204)
    response.delete_cookie(auth.settings.refresh_cookie_name, path=auth.settings.refresh_cookie_path,
                           secure=True, httponly=True, samesite="strict")
    return response


@router.post("/password-setup", status_code=204)
async def complete_password_setup(body: PasswordSetupRequest, auth: AuthDep, client: ClientDep
                                  ) -> Response:
    """Sets the password with a token from POST /api/users/{id}/password-setup (no access
    token needed); the token is used up and the user's open sessions end."""
    await invitations.redeem_password_setup(auth, token=body.token, password=body.password,
                                            client=client)
    return Response(status_code=204)


@router.get("/me", response_model=UserRead)
async def me(auth: AuthDep, principal: PrincipalDep) -> dict:
    return await service.me(auth, principal)


@router.patch("/me", response_model=UserRead)
async def update_me(body: MeUpdate, auth: AuthDep, principal: PrincipalDep) -> dict:
    return await service.update_me(auth, principal, body.model_dump(exclude_unset=True))


@router.put("/password", status_code=204)
async def change_password(body: PasswordChange, auth: AuthDep, principal: PrincipalDep
                          ) -> Response:
    await service.change_password(auth, principal, current_password=body.current_password,
                                  new_password=body.new_password)
    return Response(status_code=204)


@router.get("/sessions", response_model=list[SessionRead])
async def sessions(auth: AuthDep, principal: PrincipalDep) -> list[dict]:
    return await service.list_sessions(auth, principal)


@router.delete("/sessions/{session_id}", status_code=204)
async def end_session(session_id: str, auth: AuthDep, principal: PrincipalDep) -> Response:
    await service.end_own_session(auth, principal, session_id)
    return Response(status_code=204)
