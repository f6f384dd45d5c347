"""create_app(settings): the auth service."""

from __future__ import annotations

from fastapi import FastAPI

from epv_auth import __version__
from epv_auth.api.routes import router
from epv_auth.models import SCHEMA, outbox
from epv_auth.settings import Settings
from epv_common.runtime import Runtime, start_runtime
from epv_common.service_app import create_service_app


def create_app(settings: Settings) -> FastAPI:
    async def start(s: Settings) -> Runtime:
        return await start_runtime(s, schema=SCHEMA, outbox=outbox, use_redis=True)

    return create_service_app(
        settings, title="EPV auth", version=__version__,
        description="Accounts, sessions, tokens and signing keys.", start=start, routers=[router])
