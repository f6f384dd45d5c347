"""Helpers for the cases service tests: directory users, clients, case factories.

`seed_user` writes a row of the cases service's user directory with a superuser connection:
it seeds the projection that auth.user.* events normally feed (one test drives the real
event path; the rest seed it, since each registration costs a bcrypt hash).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from epv_common.testing.shared import shared_dir

LEGACY_EXPORT_PATH = shared_dir() / "fixtures" / "legacy" / "localstorage-export.json"
VECTORS_PATH = shared_dir() / "reference" / "epv-vectors.json"


@dataclass
class User:
    id: str
    email: str
    role: str
    headers: dict[str, str] = field(default_factory=dict)


async def seed_user(system, *, role: str = "ANALYST", active: bool = True,
                    name: str = "Tester") -> User:
    user_id = str(uuid.uuid4())
    email = f"u-{user_id[:12]}@example.com"
    conn = await system.connect()
    try:
        await conn.execute(
            "INSERT INTO cases.users (id, email, name, role, active) VALUES ($1, $2, $3, $4, $5)",
            uuid.UUID(user_id), email, name, role, active)
    finally:
        await conn.close()
    headers = system.internal_headers(user_id=user_id, role=role)
    headers["x-epv-email"] = email
    return User(user_id, email, role, headers)


async def sql(system, query: str, *args: Any) -> list[dict[str, Any]]:
    conn = await system.connect()
    try:
        return [dict(r) for r in await conn.fetch(query, *args)]
    finally:
        await conn.close()


async def create_case(client: httpx.AsyncClient, user: User, **fields: Any) -> dict[str, Any]:
    body = {"name": f"Case {uuid.uuid4().hex[:6]}", **fields}
    response = await client.post("/api/cases", json=body, headers=user.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def share(client: httpx.AsyncClient, case_id: str, by: User, to: User, level: str,
                **extra: Any) -> httpx.Response:
    return await client.post(f"/api/cases/{case_id}/share", headers=by.headers,
                             json={"email": to.email, "level": level, **extra})


def etag(version: int) -> dict[str, str]:
    return {"If-Match": f'"{version}"'}


async def outbox_events(system, case_id: str, event_type: str | None = None) -> list[dict]:
    rows = await sql(system, "SELECT event_type, payload FROM cases.outbox "
                             "WHERE payload->>'subject' = $1 ORDER BY seq", case_id)
    return [{"event_type": r["event_type"], "payload": json.loads(r["payload"])}
            for r in rows if event_type is None or r["event_type"] == event_type]
