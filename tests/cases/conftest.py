"""Fixtures shared by the cases service tests (helpers live in casekit)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from tests.cases.casekit import LEGACY_EXPORT_PATH


@pytest_asyncio.fixture(loop_scope="session")
async def cases(system) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the cases service itself (callers pass gateway-style identity headers)."""
    async with httpx.AsyncClient(base_url=system.url("cases"), timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def export() -> dict:
    """The old app's localStorage export, as the fixture holds it."""
    return json.loads(LEGACY_EXPORT_PATH.read_text())
