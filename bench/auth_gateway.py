"""Logins/s beside the raw bcrypt-12 rate on the same cores, and an authenticated GET through
the gateway (token check and revocation lookup included) beside the same GET sent straight to
the service, at 16 and 64 connections.

Goals: logins >= 90% of the raw bcrypt rate; the authenticated gateway keeps >= 45% of direct
throughput and adds <= 2 ms at p50 with 16 connections.
"""

from __future__ import annotations

import asyncio
import os
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from bench.gateway_hop import compare, running_system
from bench.stats import report
from epv_auth.passwords import HASHER
from epv_common.testing.system import BOOTSTRAP_ADMIN_EMAIL, BOOTSTRAP_ADMIN_PASSWORD

UNLIMITED = {"EPV_RATE_LIMIT_ADDRESS_PER_S": "1000000", "EPV_RATE_LIMIT_ADDRESS_BURST": "1000000",
             "EPV_RATE_LIMIT_USER_PER_S": "1000000", "EPV_RATE_LIMIT_USER_BURST": "1000000"}
LOGINS = 100
LOGIN_CONCURRENCY = 4
BCRYPT_SECONDS = 8.0


def raw_bcrypt_rate(seconds: float = BCRYPT_SECONDS) -> float:
    """bcrypt-sha256 cost-12 verifies per second on every core (bcrypt releases the GIL)."""
    reference = HASHER.hash("Benchmark-Password-1")
    workers = os.cpu_count() or 1
    deadline = time.perf_counter() + seconds

    def work() -> int:
        done = 0
        while time.perf_counter() < deadline:
            HASHER.verify("Benchmark-Password-1", reference)
            done += 1
        return done

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        total = sum(pool.map(lambda _: work(), range(workers)))
    return total / (time.perf_counter() - started)


async def login_rate(gateway_url: str) -> float:
    async with httpx.AsyncClient(base_url=gateway_url, timeout=60) as client:
        semaphore = asyncio.Semaphore(LOGIN_CONCURRENCY)

        async def one() -> None:
            async with semaphore:
                response = await client.post("/api/auth/login", json={
                    "email": BOOTSTRAP_ADMIN_EMAIL, "password": BOOTSTRAP_ADMIN_PASSWORD})
                response.raise_for_status()

        await one()  # warm: the first login loads the signing key
        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(LOGINS)))
        return LOGINS / (time.perf_counter() - started)


async def run() -> dict:
    raw = await asyncio.to_thread(raw_bcrypt_rate)
    async with running_system(extra_env=UNLIMITED) as sut:
        logins = await login_rate(sut.gateway_url)
        async with httpx.AsyncClient(base_url=sut.gateway_url) as client:
            pair = (await client.post("/api/auth/login", json={
                "email": BOOTSTRAP_ADMIN_EMAIL, "password": BOOTSTRAP_ADMIN_PASSWORD})).json()
        bearer = {"Authorization": f"Bearer {pair['access_token']}"}
        import jwt

        claims = jwt.decode(pair["access_token"], options={"verify_signature": False})
        direct = sut.internal_headers(user_id=claims["sub"], role=claims["role"],
                                      session_id=claims["sid"])
        figures: dict = {
            "raw_bcrypt12_verifies_per_s_all_cores": round(raw, 2),
            "logins_per_s_through_gateway": round(logins, 2),
            "logins_to_raw_bcrypt": round(logins / raw, 3),
            "authenticated_get": "GET /api/auth/me (gateway: bearer token; direct: identity "
                                 "headers as the gateway sets them)",
        }
        for connections in (16, 64):
            figures[f"c{connections}"] = await compare(
                sut, "/api/auth/me", service="auth", connections=connections, headers=bearer,
                direct_headers=direct)
    figures["goals"] = ("logins >= 0.90 of raw bcrypt; gateway >= 0.45 of direct; "
                        "added p50 <= 2 ms at 16 connections")
    report("auth_gateway", figures)
    return figures


if __name__ == "__main__":
    asyncio.run(run())
