"""pytest plugin (loaded from the root pyproject): the `system` fixture runs the whole EPV
system once per test session; `gateway` is an httpx client on it, as a client would be."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from epv_common.testing.backends import Backends, backends
from epv_common.testing.system import System


@pytest.fixture(scope="session")
def backend_servers() -> Iterator[Backends]:
    with backends() as found:
        yield found


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def system(backend_servers: Backends) -> AsyncIterator[System]:
    workdir = Path(tempfile.mkdtemp(prefix="epv-system-"))
    sut = System(backends=backend_servers, workdir=workdir)
    try:
        await sut.prepare()
        await sut.start()
        yield sut
    finally:
        await sut.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def gateway(system: System) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as client:
        yield client


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failed test that used the system, attach the tail of every service's log."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed or "system" not in item.fixturenames:
        return
    with contextlib.suppress(Exception):
        sut: System = item.funcargs["system"]
        for svc in sut.services.values():
            report.sections.append((f"{svc.name} log", svc.log_tail(25)))


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def scratch_database(backend_servers: Backends) -> AsyncIterator[str]:
    """A database of its own for in-process tests of shared mechanisms; a superuser DSN."""
    import uuid

    import asyncpg

    from epv_common.bootstrap import with_database

    name = f"epv_scratch_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(backend_servers.admin_database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield with_database(backend_servers.admin_database_url, name)
    finally:
        admin = await asyncpg.connect(backend_servers.admin_database_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
