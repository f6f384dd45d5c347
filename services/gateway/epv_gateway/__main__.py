"""`python -m epv_gateway`: serve the gateway."""

from __future__ import annotations

import uvicorn

from epv_gateway.settings import Settings


def main() -> None:
    settings = Settings()
    from epv_gateway.app import create_app

    uvicorn.run(create_app(settings), host=settings.host, port=settings.port,
                log_config=None, access_log=False, loop="uvloop", http="httptools")


if __name__ == "__main__":
    main()
