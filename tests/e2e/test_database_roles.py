"""Each service's database role reaches only its own schema; audit entries are append-only."""

from __future__ import annotations

import asyncpg
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]


async def test_cases_role_cannot_read_the_auth_schema(system):
    conn = await system.connect("cases")
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetch("SELECT * FROM auth.users")
        assert await conn.fetchval("SELECT count(*) FROM cases.cases") >= 0
    finally:
        await conn.close()


@pytest.mark.parametrize("service", ["auth", "audit", "marketdata"])
async def test_no_service_role_reads_the_cases_schema(system, service):
    conn = await system.connect(service)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetch("SELECT * FROM cases.cases")
    finally:
        await conn.close()


async def test_audit_role_cannot_update_or_delete_entries(system, gateway):
    await gateway.post("/api/auth/register", json={
        "email": "roles-check@example.com", "password": "a passphrase for roles"})
    conn = await system.connect("audit")
    try:
        from tests.conftest import eventually

        await eventually(lambda: conn.fetchval("SELECT count(*) FROM audit.entries"),
                         until=lambda n: n > 0)
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("UPDATE audit.entries SET action = 'forged'")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("DELETE FROM audit.entries")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("TRUNCATE audit.entries")
        assert await conn.fetchval("SELECT count(*) FROM audit.entries") > 0
    finally:
        await conn.close()
