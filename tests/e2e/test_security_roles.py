"""The role matrix of the auth issue's routes, through the gateway: each of the five roles and
an anonymous caller gets the documented status on every route."""

from __future__ import annotations

import uuid

import pytest
import pytest_asyncio

from tests.e2e.accounts import ROLES, Account, account, relogin

pytestmark = pytest.mark.e2e

ANON = "anonymous"
CALLERS = (ANON, *ROLES)


def by_level(minimum: str | None, *, allowed: int, denied: int = 403) -> dict[str, int]:
    """Status per caller for a route open to `minimum` and above (None: any signed-in user)."""
    level = ROLES.index(minimum) if minimum else 0
    return {ANON: 401, **{r: (allowed if i >= level else denied) for i, r in enumerate(ROLES)}}


def everyone(status: int) -> dict[str, int]:
    return {caller: status for caller in CALLERS}


# (method, path template, body, expected status per caller); {self} is the caller's own id,
# {session} one of the caller's own sessions, {target} a fresh ANALYST to act on.
MATRIX = [
    ("POST", "/api/auth/register", "register", everyone(201)),
    ("POST", "/api/auth/login", "login", everyone(200)),
    ("POST", "/api/auth/refresh", "refresh", everyone(200)),
    ("GET", "/.well-known/jwks.json", None, everyone(200)),
    ("GET", "/api/auth/me", None, by_level(None, allowed=200)),
    ("PATCH", "/api/auth/me", {"name": "Renamed"}, by_level(None, allowed=200)),
    ("GET", "/api/auth/sessions", None, by_level(None, allowed=200)),
    ("DELETE", "/api/auth/sessions/{session}", None, by_level(None, allowed=204)),
    ("PUT", "/api/auth/password", "password", by_level(None, allowed=204)),
    ("POST", "/api/auth/logout", None, by_level(None, allowed=204)),
    ("GET", "/api/users", None, by_level("MANAGER", allowed=200)),
    ("PATCH", "/api/users/{target}", {"active": False}, by_level("ADMIN", allowed=200)),
    ("GET", "/api/admin/config", None, by_level("ADMIN", allowed=200)),
    ("PUT", "/api/admin/config/maintenance_message", {"value": "rolling upgrade"},
     by_level("ADMIN", allowed=200)),
    ("POST", "/api/admin/keys/rotate", None, by_level("SUPER_ADMIN", allowed=200)),
]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def people(gateway_module) -> dict[str, Account]:
    return {role: await account(gateway_module, role, tag="matrix") for role in ROLES}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def gateway_module(system):
    import httpx

    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=60) as client:
        yield client


async def _body(kind, gateway, who: Account | None):
    if kind == "register":
        return {"email": f"matrix-new-{uuid.uuid4().hex[:8]}@example.com",
                "password": "Matrix-Register-Pass-3"}
    if kind == "login":
        fresh = await account(gateway, tag="matrix-login")
        return {"email": fresh.email, "password": fresh.password}
    if kind == "refresh":
        fresh = await account(gateway, tag="matrix-refresh")
        return {"refresh_token": fresh.refresh_token}
    if kind == "password":
        current = who.password if who else "Anonymous-Has-None-1"
        return {"current_password": current, "new_password": current + "-next"}
    return kind


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize(("method", "template", "body", "expected"), MATRIX,
                         ids=[f"{m} {p}" for m, p, _, _ in MATRIX])
async def test_role_matrix(gateway_module, people, caller, method, template, body, expected):
    gateway = gateway_module
    who = None if caller == ANON else await relogin(gateway, people[caller])
    headers = who.headers if who else {}
    target = await account(gateway, tag="matrix-target") if "{target}" in template else None
    session = ""
    if "{session}" in template and who is not None:
        sessions = (await gateway.get("/api/auth/sessions", headers=who.headers)).json()
        session = next(s["id"] for s in sessions if not s.get("current")) if len(sessions) > 1 \
            else sessions[0]["id"]
    path = template.format(self=who.id if who else "x", target=target.id if target else "x",
                           session=session or uuid.uuid4())
    payload = await _body(body, gateway, who)
    response = await gateway.request(method, path, json=payload, headers=headers)
    assert response.status_code == expected[caller], (caller, method, path, response.text)
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json"
    if body == "password" and response.status_code == 204:
        who.password += "-next"
