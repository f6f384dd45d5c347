"""Alembic plumbing shared by every service: one history per service, its version table inside
its own schema, applied under an advisory lock so replicas starting together migrate once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine


def alembic_config(service_dir: Path, dsn: str) -> Config:
    config = Config(str(service_dir / "alembic.ini"))
    config.set_main_option("script_location", str(service_dir / "migrations"))
    config.set_main_option("sqlalchemy.url", dsn.replace("%", "%%"))
    return config


def upgrade(service_dir: Path, dsn: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(service_dir, dsn), revision)


def run_env(target_metadata: MetaData, *, schema: str) -> None:
    """The body of every service's migrations/env.py (online mode only)."""
    url = context.config.get_main_option("sqlalchemy.url")

    def migrate(connection: Connection) -> None:
        # One migrator at a time per schema; the others wait, then find nothing to do.
        connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"),
                           {"k": f"epv-migrate-{schema}"})
        connection.execute(text(f"SET LOCAL search_path TO {schema}"))
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table_schema=schema,
            include_schemas=False,
            transaction_per_migration=False,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def main() -> None:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as connection:
                await connection.run_sync(migrate)
        finally:
            await engine.dispose()

    asyncio.run(main())
