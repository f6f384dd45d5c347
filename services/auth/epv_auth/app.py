"""create_app(settings): the auth service."""

from __future__ import annotations

from fastapi import FastAPI

from epv_auth import __version__
from epv_auth.api import admin_routes, auth_routes, users_routes
from epv_auth.invitations import HANDLERS
from epv_auth.keys import KeyRing, ensure_signing_key
from epv_auth.models import SCHEMA, inbox, outbox
from epv_auth.service import Auth
from epv_auth.settings import Settings
from epv_auth.throttle import FailureThrottle
from epv_auth.users import create_super_admin
from epv_common.events.consumer import InboxConsumer
from epv_common.runtime import Runtime, start_runtime
from epv_common.service_app import create_service_app


def create_app(settings: Settings) -> FastAPI:
    async def start(s: Settings) -> Runtime:
        return await start_runtime(
            s, schema=SCHEMA, outbox=outbox, use_redis=True,
            consumers=lambda rt: [InboxConsumer(
                consumer="auth", settings=s, uow_factory=rt.uow, inbox=inbox,
                handlers=HANDLERS)])

    async def on_started(app: FastAPI, runtime: Runtime) -> None:
        await ensure_signing_key(runtime.uow(), settings)
        if settings.bootstrap_admin_email and settings.bootstrap_admin_password:
            await create_super_admin(
                runtime.uow(), email=settings.bootstrap_admin_email,
                password=settings.bootstrap_admin_password.get_secret_value(), only_if_none=True)
        assert runtime.redis is not None
        runtime.extras["auth"] = Auth(
            settings=settings, uow=runtime.uow, redis=runtime.redis,
            keyring=KeyRing(settings, runtime.uow),
            throttle=FailureThrottle(runtime.redis, settings),
            setup_throttle=FailureThrottle(
                runtime.redis, settings, action="password-setup",
                address_threshold=settings.password_setup_address_max_failures))

    return create_service_app(
        settings, title="EPV auth", version=__version__,
        description="Accounts, sessions, tokens and signing keys.", start=start,
        on_started=on_started,
        routers=[auth_routes.router, users_routes.router, admin_routes.router,
                 admin_routes.jwks_router])
