"""A service that is down is a 503 problem at the gateway; one that does not answer in time,
a 504 problem; /api/health says which."""

from __future__ import annotations

import asyncio
import contextlib
import socket

import pytest
import pytest_asyncio

from epv_common.testing.tcpproxy import free_port
from tests.e2e.accounts import account

pytestmark = pytest.mark.e2e


@contextlib.asynccontextmanager
async def silent_server():
    """Accepts connections and reads requests, never answers."""
    connections = []

    async def hold(reader, writer):
        connections.append(writer)
        with contextlib.suppress(Exception):
            await reader.read()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in connections:
            writer.transport.abort()
        server.close()


def closed_port() -> int:
    port = free_port()
    with socket.socket() as probe:  # nothing listens there: connecting is refused
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    return port


@pytest_asyncio.fixture(loop_scope="session")
async def faulty_upstreams(system):
    gateway = system.services["gateway"]
    saved = dict(gateway.env)
    async with silent_server() as silent_port:
        gateway.env.update({
            "EPV_MARKETDATA_URL": f"http://127.0.0.1:{silent_port}",
            "EPV_AUDIT_URL": f"http://127.0.0.1:{closed_port()}",
            "EPV_UPSTREAM_TIMEOUT_S": "1",
        })
        gateway.kill()
        gateway.start()
        try:
            yield
        finally:
            gateway.env = saved
            await system.restart("gateway")


async def wait_for_gateway(gateway):
    for _ in range(100):
        with contextlib.suppress(Exception):
            if (await gateway.get("/health")).status_code == 200:
                return
        await asyncio.sleep(0.2)
    raise AssertionError("gateway did not come back")


async def test_down_service_is_503_and_silent_service_is_504(gateway, faulty_upstreams):
    await wait_for_gateway(gateway)
    who = await account(gateway, "MANAGER", tag="faults")
    down = await gateway.get("/api/audit/logs", headers=who.headers)
    assert down.status_code == 503
    assert down.headers["content-type"] == "application/problem+json"
    assert down.json()["type"].endswith("/dependency-unavailable")
    assert "audit" in down.json()["detail"]

    slow = await gateway.get("/api/market-data?symbol=AAPL&type=quote", headers=who.headers)
    assert slow.status_code == 504
    assert slow.json()["type"].endswith("/dependency-timeout")
    assert "marketdata" in slow.json()["detail"]

    health = (await gateway.get("/api/health")).json()
    assert health["status"] == "degraded"
    assert health["services"]["audit"]["status"] == "down"
    assert health["services"]["marketdata"]["status"] == "down"
    assert health["services"]["cases"]["status"] == "up"
