"""`python -m epv_audit [serve|migrate|retention --before TIME]`: serve the API, apply this
service's migrations, or apply audit retention (the same use case as POST /api/audit/retention;
its event leaves through the outbox, published by a running audit replica's relay)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime
from pathlib import Path

import orjson
import uvicorn

from epv_audit.settings import Settings

SERVICE_DIR = Path(__file__).resolve().parent.parent


async def _retention(settings: Settings, before: datetime) -> dict:
    from epv_audit import service
    from epv_audit.models import outbox
    from epv_common.db import create_engine, make_sessionmaker, uow_factory

    engine = create_engine(settings, settings.runtime_dsn, application_name="audit-retention")
    try:
        uow = uow_factory(make_sessionmaker(engine), outbox, source="audit")()
        return await service.apply_retention(uow, engine, before=before, actor_id=None,
                                             batch=settings.audit_stream_batch)
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="epv_audit")
    parser.add_argument("command", nargs="?", default="serve",
                        choices=["serve", "migrate", "retention"])
    parser.add_argument("--before", type=datetime.fromisoformat,
                        help="retention: remove entries recorded before this time (ISO 8601)")
    args = parser.parse_args()
    settings = Settings()
    if args.command == "migrate":
        from epv_common.migrations import upgrade

        upgrade(SERVICE_DIR, settings.owner_dsn)
        return
    if args.command == "retention":
        if args.before is None:
            parser.error("retention needs --before")
        from epv_common.errors import EpvError

        try:
            result = asyncio.run(_retention(settings, args.before))
        except EpvError as exc:
            print(f"retention refused: {exc.detail}", file=sys.stderr)
            sys.exit(1)
        print(orjson.dumps(result).decode())
        return
    from epv_audit.app import create_app

    uvicorn.run(create_app(settings), host=settings.host, port=settings.port,
                log_config=None, access_log=False, loop="uvloop", http="httptools")


if __name__ == "__main__":
    main()
