"""The shared run's audit service, restarted once with short checkpoint periods so the tests
see checkpoints within seconds (the harness has no per-service env knobs for this)."""

from __future__ import annotations

import pytest_asyncio

from tests.audit.auditkit import wait_queue

AUDIT_TEST_ENV = {"EPV_AUDIT_CHECKPOINT_EVERY": "50", "EPV_AUDIT_CHECKPOINT_INTERVAL_S": "1"}


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def audit(system):
    svc = system.services["audit"]
    if any(svc.env.get(k) != v for k, v in AUDIT_TEST_ENV.items()):
        svc.env.update(AUDIT_TEST_ENV)
        await system.restart("audit")
        await wait_queue(system.backends.amqp_url, f"{system.amqp_prefix}audit.events")
    return system
