"""Login throttling and rate limits through the gateway, as an attacker would meet them."""

from __future__ import annotations

import asyncio
import time

import pytest
import pytest_asyncio

from tests.conftest import eventually
from tests.e2e.accounts import account, login

pytestmark = pytest.mark.e2e


async def security_entries(system, action: str, entity_id: str) -> list[dict]:
    conn = await system.connect()
    try:
        rows = await conn.fetch(
            "SELECT action, security, entity_id FROM audit.entries "
            "WHERE action = $1 AND (entity_id = $2 OR event::text LIKE '%' || $2 || '%')",
            action, entity_id)
        return [dict(r) for r in rows]
    finally:
        await conn.close()


async def test_twenty_wrong_passwords_from_several_addresses_lock_the_account(gateway, system):
    victim = await account(gateway, tag="lock")
    statuses = []
    for attempt in range(20):
        response = await login(gateway, victim.email, f"Wrong-Password-Guess-{attempt}",
                               address=f"198.51.100.{attempt % 7 + 1}")
        statuses.append(response.status_code)
    assert statuses[:5] == [401] * 5
    assert 429 in statuses, statuses
    locked = await login(gateway, victim.email, victim.password, address="198.51.100.99")
    assert locked.status_code == 429, "while locked even the right password waits"
    assert int(locked.headers["retry-after"]) >= 1
    assert locked.headers["content-type"] == "application/problem+json"

    deadline = time.monotonic() + 30
    while True:
        response = await login(gateway, victim.email, victim.password, address="198.51.100.99")
        if response.status_code == 200 or time.monotonic() > deadline:
            break
        await asyncio.sleep(max(1, int(response.headers.get("retry-after", "1"))))
    assert response.status_code == 200, "the right password works again after the lock"

    entries = await eventually(lambda: security_entries(system, "auth.account.locked",
                                                        victim.id), until=len)
    assert all(e["security"] for e in entries)


async def test_an_unknown_email_costs_a_password_check_too(gateway):
    known = await account(gateway, tag="timing")

    async def timed(email: str) -> float:
        started = time.perf_counter()
        response = await login(gateway, email, "Not-The-Password-At-All-1",
                               address="203.0.113.77")
        assert response.status_code == 401
        return time.perf_counter() - started

    unknown = sorted([await timed(f"nobody-{i}@example.com") for i in range(3)])[1]
    existing = sorted([await timed(known.email) for _ in range(3)])[1]
    # Both run bcrypt-12 (~0.24 s); an unknown email is not answered measurably faster.
    assert unknown > 0.5 * existing


@pytest_asyncio.fixture(loop_scope="session")
async def tight_gateway(system):
    """The gateway restarted with a small address bucket (5/s, burst 10), then put back."""
    gateway = system.services["gateway"]
    saved = dict(gateway.env)
    gateway.env.update({"EPV_RATE_LIMIT_ADDRESS_PER_S": "5", "EPV_RATE_LIMIT_ADDRESS_BURST": "10"})
    await system.restart("gateway")
    try:
        yield
    finally:
        gateway.env = saved
        await system.restart("gateway")


async def test_gateway_rate_limit_answers_429_with_retry_after_and_ratelimit_headers(
        gateway, tight_gateway):
    address = "192.0.2.201"
    responses = [await gateway.get("/.well-known/jwks.json", headers={"X-Forwarded-For": address})
                 for _ in range(20)]
    assert [r.status_code for r in responses[:10]] == [200] * 10
    assert responses[0].headers["ratelimit-limit"] == "10"
    limited = [r for r in responses if r.status_code == 429]
    assert limited, "a burst past the address bucket is refused"
    sample = limited[0]
    assert int(sample.headers["retry-after"]) >= 1
    assert sample.headers["ratelimit-remaining"] == "0"
    assert sample.json()["type"].endswith("/rate-limited")
    other = await gateway.get("/.well-known/jwks.json", headers={"X-Forwarded-For": "192.0.2.9"})
    assert other.status_code == 200
