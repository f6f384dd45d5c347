"""Helpers for testing the auth service directly (system.url("auth")), as the gateway calls it."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import orjson
import pytest_asyncio
from redis.asyncio import Redis

# Lock settings the throttle test needs (short, so a lock can be waited out). The harness
# should set these in libs/common/epv_common/testing/system.py; until it does, auth is
# restarted once with them.
AUTH_TEST_ENV = {"EPV_LOGIN_LOCK_BASE_S": "2", "EPV_LOGIN_LOCK_MAX_S": "4"}
PASSWORD = "Correct-Horse-Battery-9"


def unique_email(tag: str = "user") -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.com"


@dataclass
class Account:
    email: str
    password: str
    user: dict[str, Any]
    pair: dict[str, Any] | None = None

    @property
    def id(self) -> str:
        return self.user["id"]

    @property
    def session_id(self) -> str:
        assert self.pair is not None
        return jwt.decode(self.pair["access_token"], options={"verify_signature": False})["sid"]


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def auth_url(system) -> str:
    svc = system.services["auth"]
    missing = {k: v for k, v in AUTH_TEST_ENV.items() if svc.env.get(k) != v}
    if missing:
        svc.env.update(missing)
        await system.restart("auth")
    return system.url("auth")


@pytest_asyncio.fixture(loop_scope="session")
async def auth(auth_url) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=auth_url, timeout=60) as client:
        yield client


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def redis(system) -> AsyncIterator[Redis]:
    client = Redis.from_url(system.backends.redis_url)
    yield client
    await client.aclose()


@pytest_asyncio.fixture(loop_scope="session")
async def db(system):
    conn = await system.connect("auth")
    yield conn
    await conn.close()


async def register(client: httpx.AsyncClient, *, email: str | None = None,
                   password: str = PASSWORD, name: str = "Test User") -> Account:
    email = email or unique_email()
    response = await client.post("/api/auth/register",
                                 json={"email": email, "password": password, "name": name})
    assert response.status_code == 201, response.text
    return Account(email=email, password=password, user=response.json())


async def login(client: httpx.AsyncClient, account: Account, **headers: str) -> Account:
    response = await client.post("/api/auth/login", headers=headers,
                                 json={"email": account.email, "password": account.password})
    assert response.status_code == 200, response.text
    account.pair = response.json()
    account.user = account.pair["user"]
    return account


async def registered_and_logged_in(client: httpx.AsyncClient, **kw) -> Account:
    return await login(client, await register(client, **kw))


def identity(system, account: Account, *, role: str | None = None) -> dict[str, str]:
    return system.internal_headers(user_id=account.id, role=role or account.user["role"],
                                   session_id=account.session_id)


async def create_super_admin(system, client: httpx.AsyncClient) -> Account:
    """Through the CLI, as an operator would (python -m epv_auth create-admin)."""
    email = unique_email("root")
    env = {**system.service_env("auth"), "EPV_BOOTSTRAP_ADMIN_PASSWORD": PASSWORD}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "epv_auth", "create-admin", "--email", email, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate()
    assert proc.returncode == 0, out.decode()
    return await login(client, Account(email=email, password=PASSWORD, user={}))


async def outbox_events(db, event_type: str, **match: Any) -> list[dict[str, Any]]:
    rows = await db.fetch("SELECT payload FROM auth.outbox WHERE event_type = $1 ORDER BY seq",
                          event_type)
    payloads = [orjson.loads(r["payload"]) if isinstance(r["payload"], str) else r["payload"]
                for r in rows]
    return [p for p in payloads if all(p.get(k) == v for k, v in match.items())]


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def root(system, auth_url) -> Account:
    """One SUPER_ADMIN for the run, made through the CLI (each CLI run costs a process start)."""
    async with httpx.AsyncClient(base_url=auth_url, timeout=60) as client:
        return await create_super_admin(system, client)
