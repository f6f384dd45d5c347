"""FastAPI dependencies every service shares, as Annotated aliases.

All are `async def`: FastAPI runs a plain `def` dependency in its thread pool, and that
hand-off cost more than the whole query of a simple read.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from epv_common.db import UnitOfWork
from epv_common.errors import NotAuthenticated, PermissionDenied
from epv_common.identity import Principal, Role, principal_from_headers
from epv_common.pagination import PageParams, page_params
from epv_common.runtime import Runtime


async def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


async def get_uow(request: Request) -> UnitOfWork:
    return request.app.state.runtime.uow()


async def get_principal(request: Request) -> Principal:
    principal = principal_from_headers(
        request.headers,
        internal_token=request.app.state.settings.internal_token.get_secret_value())
    if principal is None:
        raise NotAuthenticated()
    return principal


def require_role(role: Role):
    async def check(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if not principal.at_least(role):
            raise PermissionDenied(f"This needs the {role.name} role or above.")
        return principal

    return Depends(check)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
UowDep = Annotated[UnitOfWork, Depends(get_uow)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
PageDep = Annotated[PageParams, Depends(page_params)]
