"""Idempotent database bootstrap (`make db`): one database; per service a schema, an owner
role that runs its migrations and a runtime role that can use only that schema.

Run as a PostgreSQL superuser:  python -m epv_common.bootstrap [--database NAME]
The audit runtime role gets INSERT and SELECT by default, never UPDATE or DELETE: its
migrations grant more only on the tables that need it (outbox, chain head), never on entries.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from urllib.parse import urlsplit, urlunsplit

import asyncpg

SERVICES = ("auth", "cases", "audit", "marketdata")
APPEND_ONLY = frozenset({"audit"})
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def admin_url() -> str:
    return os.environ.get("EPV_ADMIN_DATABASE_URL", DEFAULT_ADMIN_URL)


def database_name() -> str:
    return os.environ.get("EPV_DB_NAME", "epv")


def role_password(role: str) -> str:
    return os.environ.get(f"{role.upper()}_DB_PASSWORD", role)


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def _ident(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"unsafe identifier {name!r}")
    return f'"{name}"'


async def _ensure_role(conn: asyncpg.Connection, role: str) -> None:
    password = role_password(role).replace("'", "''")
    exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
    if not exists:
        try:
            await conn.execute(f"CREATE ROLE {_ident(role)} LOGIN PASSWORD '{password}'")
            return
        except asyncpg.DuplicateObjectError:
            pass  # created concurrently by another bootstrap
    await conn.execute(f"ALTER ROLE {_ident(role)} LOGIN PASSWORD '{password}'")


async def ensure_database(url: str, database: str) -> None:
    conn = await asyncpg.connect(url, timeout=5)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database):
            try:
                await conn.execute(f"CREATE DATABASE {_ident(database)}")
            except asyncpg.DuplicateDatabaseError:
                pass
    finally:
        await conn.close()


async def bootstrap_schemas(url: str, database: str) -> None:
    conn = await asyncpg.connect(with_database(url, database), timeout=5)
    try:
        # Serialise concurrent bootstraps of one database (two test runs, two operators).
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('epv-bootstrap'))")
            await conn.execute(f"REVOKE ALL ON DATABASE {_ident(database)} FROM PUBLIC")
            await conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
            for service in SERVICES:
                await _bootstrap_service(conn, database, service)
    finally:
        await conn.close()


async def _bootstrap_service(conn: asyncpg.Connection, database: str, service: str) -> None:
    owner, runtime = f"epv_{service}_owner", f"epv_{service}"
    schema = _ident(service)
    for role in (owner, runtime):
        await _ensure_role(conn, role)
        await conn.execute(f"GRANT CONNECT ON DATABASE {_ident(database)} TO {_ident(role)}")
        await conn.execute(f"ALTER ROLE {_ident(role)} IN DATABASE {_ident(database)} "
                           f"SET search_path = {schema}")
    await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {_ident(owner)}")
    await conn.execute(f"ALTER SCHEMA {schema} OWNER TO {_ident(owner)}")
    await conn.execute(f"REVOKE ALL ON SCHEMA {schema} FROM PUBLIC")
    await conn.execute(f"GRANT USAGE ON SCHEMA {schema} TO {_ident(runtime)}")
    table_privileges = "SELECT, INSERT" if service in APPEND_ONLY else "SELECT, INSERT, UPDATE, DELETE"
    await conn.execute(
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {_ident(owner)} IN SCHEMA {schema} "
        f"GRANT {table_privileges} ON TABLES TO {_ident(runtime)}")
    await conn.execute(
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {_ident(owner)} IN SCHEMA {schema} "
        f"GRANT USAGE, SELECT ON SEQUENCES TO {_ident(runtime)}")


async def bootstrap(url: str, database: str) -> None:
    await ensure_database(url, database)
    await bootstrap_schemas(url, database)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=database_name())
    parser.add_argument("--admin-url", default=admin_url())
    args = parser.parse_args(argv)
    try:
        asyncio.run(bootstrap(args.admin_url, args.database))
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"database bootstrap failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"database {args.database!r}: schemas and roles for {', '.join(SERVICES)} are in place")
    return 0


if __name__ == "__main__":
    sys.exit(main())
