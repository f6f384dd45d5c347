"""Bounded shutdown steps: a service stopping must not hang on one dependency.

A broker connection in the middle of reconnecting, or a database pool waiting for a
connection that will never come back, would otherwise keep a stopping process (or a test)
waiting forever. Each step gets a deadline; past it, the step is abandoned and logged.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger("epv.shutdown")

STEP_TIMEOUT_S = 5.0


async def bounded(step: Awaitable[object], *, what: str, timeout_s: float = STEP_TIMEOUT_S,
                  on_timeout: Callable[[], object] | None = None) -> None:
    try:
        await asyncio.wait_for(step, timeout_s)
    except TimeoutError:
        log.warning("shutdown_step_timed_out", step=what, timeout_s=timeout_s)
        if on_timeout is not None:
            with contextlib.suppress(Exception):
                on_timeout()
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # shutting down: a failing close is logged, never raised
        log.warning("shutdown_step_failed", step=what, error=type(exc).__name__)


async def cancel_and_wait(task: asyncio.Task | None, *, what: str) -> None:
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await bounded(asyncio.shield(task), what=what)
