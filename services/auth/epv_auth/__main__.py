"""`python -m epv_auth [serve|migrate]`: serve the API, or apply this service's migrations."""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn

from epv_auth.settings import Settings

SERVICE_DIR = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(prog="epv_auth")
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "migrate"])
    args = parser.parse_args()
    settings = Settings()
    if args.command == "migrate":
        from epv_common.migrations import upgrade

        upgrade(SERVICE_DIR, settings.owner_dsn)
        return
    from epv_auth.app import create_app

    uvicorn.run(create_app(settings), host=settings.host, port=settings.port,
                log_config=None, access_log=False, loop="uvloop", http="httptools")


if __name__ == "__main__":
    main()
