"""Thin handlers of /api/admin (system config, key rotation) and the public JWKS."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response

from epv_auth import config, keys
from epv_auth.api.deps import AuthDep
from epv_auth.api.schemas import ConfigEntry, ConfigValue, KeyRotation
from epv_common.deps import require_role
from epv_common.identity import Principal, Role

router = APIRouter(prefix="/api/admin", tags=["admin"])
jwks_router = APIRouter(tags=["keys"])


@router.get("/config", response_model=list[ConfigEntry])
async def get_config(auth: AuthDep, principal: Annotated[Principal, require_role(Role.ADMIN)]
                     ) -> list[dict]:
    return await config.list_config(auth.uow(), auth.settings)


@router.put("/config/{key}")
async def put_config(key: str, body: ConfigValue, auth: AuthDep,
                     principal: Annotated[Principal, require_role(Role.ADMIN)]) -> dict:
    return await config.set_value(auth.uow(), auth.settings, principal, key=key, value=body.value)


@router.post("/keys/rotate", response_model=KeyRotation)
async def rotate_keys(auth: AuthDep,
                      principal: Annotated[Principal, require_role(Role.SUPER_ADMIN)]) -> dict:
    rotation = await keys.rotate(auth.uow(), auth.settings, actor_id=principal.user_id)
    auth.keyring.forget()
    return rotation


@jwks_router.get("/.well-known/jwks.json")
async def jwks(auth: AuthDep, response: Response) -> dict:
    response.headers["Cache-Control"] = f"public, max-age={auth.settings.jwks_max_age_s}"
    return {"keys": await keys.published_keys(auth.uow(), auth.settings)}
