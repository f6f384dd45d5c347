"""Annotated dependency aliases of the auth API."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from epv_auth.service import Auth, Client
from epv_common.identity import Principal, principal_from_headers


async def get_auth(request: Request) -> Auth:
    return request.app.state.runtime.extras["auth"]


async def get_client(request: Request) -> Client:
    # The gateway sets X-Forwarded-For to the one address it saw; services are reachable
    # only from the internal network, so the first hop is the client's.
    forwarded = request.headers.get("x-forwarded-for", "")
    address = forwarded.split(",")[0].strip() or (request.client.host if request.client else None)
    return Client(address=(address or None) and address[:100],
                  device=request.headers.get("user-agent"))


async def get_optional_principal(request: Request) -> Principal | None:
    return principal_from_headers(
        request.headers,
        internal_token=request.app.state.settings.internal_token.get_secret_value())


AuthDep = Annotated[Auth, Depends(get_auth)]
ClientDep = Annotated[Client, Depends(get_client)]
OptionalPrincipalDep = Annotated[Principal | None, Depends(get_optional_principal)]
