"""`python -m epv_auth [serve|migrate|rotate-keys|create-admin --email E]`.

create-admin reads the password from EPV_BOOTSTRAP_ADMIN_PASSWORD, else from stdin (never
from the command line, where other users of the machine could read it).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from pathlib import Path

from epv_auth.settings import Settings

SERVICE_DIR = Path(__file__).resolve().parent.parent


async def _with_uow(settings: Settings, work):
    from epv_auth.models import outbox
    from epv_common.db import create_engine, make_sessionmaker, uow_factory

    engine = create_engine(settings, settings.runtime_dsn, application_name="auth-cli")
    try:
        return await work(uow_factory(make_sessionmaker(engine), outbox, source="auth"))
    finally:
        await engine.dispose()


def _read_password(settings: Settings) -> str:
    if settings.bootstrap_admin_password is not None:
        return settings.bootstrap_admin_password.get_secret_value()
    if sys.stdin.isatty():
        return getpass.getpass("Password for the new SUPER_ADMIN: ")
    return sys.stdin.readline().rstrip("\n")


def main() -> None:
    parser = argparse.ArgumentParser(prog="epv_auth")
    parser.add_argument("command", nargs="?", default="serve",
                        choices=["serve", "migrate", "rotate-keys", "create-admin"])
    parser.add_argument("--email", help="create-admin: the new SUPER_ADMIN's email")
    args = parser.parse_args()
    settings = Settings()
    if args.command == "migrate":
        from epv_common.migrations import upgrade

        upgrade(SERVICE_DIR, settings.owner_dsn)
        return
    if args.command == "rotate-keys":
        from epv_auth.keys import rotate

        result = asyncio.run(_with_uow(settings, lambda make: rotate(
            make(), settings, actor_id=None)))
        print(f"signing key {result['kid']} is current (previous: {result['previous_kid']})")
        return
    if args.command == "create-admin":
        if not args.email:
            parser.error("create-admin needs --email")
        from epv_auth.users import create_super_admin
        from epv_common.errors import EpvError

        password = _read_password(settings)
        try:
            user = asyncio.run(_with_uow(settings, lambda make: create_super_admin(
                make(), email=args.email, password=password, only_if_none=False)))
        except EpvError as exc:
            errors = getattr(exc, "errors", [])
            print(f"error: {exc.detail} {[e['message'] for e in errors] if errors else ''}",
                  file=sys.stderr)
            sys.exit(1)
        print(f"created SUPER_ADMIN {user['email']} ({user['id']})")
        return
    import uvicorn

    from epv_auth.app import create_app

    uvicorn.run(create_app(settings), host=settings.host, port=settings.port,
                log_config=None, access_log=False, loop="uvloop", http="httptools")


if __name__ == "__main__":
    main()
