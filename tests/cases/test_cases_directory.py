"""The user directory projection, fed by auth.user.registered: share by email end to end."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.cases.casekit import User, create_case, share, sql
from tests.conftest import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]


async def test_registered_user_can_be_shared_with_by_email(gateway, system):
    email = f"dir-{uuid.uuid4().hex[:8]}@example.com"
    registered = await gateway.post("/api/auth/register", json={
        "email": email, "password": "a long enough passphrase", "name": "Dir"})
    assert registered.status_code == 201, registered.text
    user_id = registered.json()["id"]
    await eventually(lambda: sql(system, "SELECT 1 FROM cases.users WHERE id = $1",
                                 uuid.UUID(user_id)), until=bool)
    grantee = User(user_id, email, "ANALYST",
                   system.internal_headers(user_id=user_id, role="ANALYST"))
    owner = User(str(uuid.uuid4()), "owner@example.com", "ANALYST")
    owner.headers = system.internal_headers(user_id=owner.id)
    async with httpx.AsyncClient(base_url=system.url("cases"), timeout=30) as cases:
        case = await create_case(cases, owner)
        response = await share(cases, case["id"], owner, grantee, "COMMENT")
        assert response.status_code == 201, response.text
        seen = await cases.get(f"/api/cases/{case['id']}", headers=grantee.headers)
        assert seen.status_code == 200 and seen.json()["access"] == "COMMENT"
