"""What both provider clients share: sending one GET, pacing, retries, secret redaction.

Private to the providers package. The clients classify responses themselves; this module
only turns transport failures (timeouts, resets, refused connections) into `Transient` and
retries `Transient`, and nothing else, with exponential backoff and jitter.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, TypeVar

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
)

from epv_marketdata.providers.errors import (
    BadRequest,
    BadResponse,
    InvalidKey,
    ProviderError,
    Transient,
)

T = TypeVar("T")

log = logging.getLogger("epv_marketdata.providers")

REDACTED = "***"


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries of Transient failures only.

    Attempt n (n >= 2) waits `initial_wait * 2**(n-2) + uniform(0, jitter)` seconds, at least
    the provider's retry-after hint when it gave one, and never more than `max_wait`.
    `attempts` counts the first try: 1 means no retry.
    """

    attempts: int = 3
    initial_wait: float = 0.5
    max_wait: float = 8.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if min(self.initial_wait, self.max_wait, self.jitter) < 0:
            raise ValueError("waits must not be negative")

    def wait(self, state: RetryCallState) -> float:
        try:
            base = self.initial_wait * 2 ** (state.attempt_number - 1)
        except OverflowError:
            base = self.max_wait
        base = min(base, self.max_wait) + random.uniform(0, self.jitter)
        exc = state.outcome.exception() if state.outcome is not None else None
        hint = getattr(exc, "retry_after", None) or 0.0
        return min(self.max_wait, max(base, hint))


class _SecretFilter(logging.Filter):
    """Redacts registered secrets from records of the `httpx` logger (it logs full URLs)."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken record is not ours to fix
            return True
        redacted = redact(message, *self.secrets)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


_secret_filter: _SecretFilter | None = None


def protect_secret_in_library_logs(secret: str) -> None:
    """Make sure httpx/httpcore log lines never show `secret` (AV keys travel in the URL)."""
    global _secret_filter
    if not secret:
        return
    if _secret_filter is None:
        _secret_filter = _SecretFilter()
        for name in ("httpx", "httpcore"):
            logging.getLogger(name).addFilter(_secret_filter)
    _secret_filter.secrets.add(secret)


def redact(text: str, *secrets: str) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def json_object(content: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or None if it is not one (HTML, empty, cut short...)."""
    try:
        body = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def parse_decimal(value: Any) -> Decimal:
    """A finite Decimal from a JSON number or a numeric string; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    if isinstance(value, int | float):
        value = repr(value) if isinstance(value, float) else str(value)
    if not isinstance(value, str):
        raise ValueError(f"not a number: {type(value).__name__}")
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        raise ValueError(f"not a number: {value[:40]!r}") from None
    if not number.is_finite():
        raise ValueError(f"not a finite number: {value[:40]!r}")
    return number


class ProviderClient:
    """Base of the provider clients: one injected httpx.AsyncClient, one key, one base URL."""

    provider: ClassVar[str]

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_key: str | None,
        base_url: str,
        retry: RetryPolicy | None = None,
        min_interval: float = 0.0,
    ) -> None:
        self._http = http
        self._api_key = (api_key or "").strip()
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.min_interval = max(0.0, min_interval)
        self._pace_lock = asyncio.Lock()
        self._next_slot = 0.0
        protect_secret_in_library_logs(self._api_key)

    def __repr__(self) -> str:
        key = REDACTED if self._api_key else ""
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key={key!r})"

    @property
    def has_api_key(self) -> bool:
        return bool(self._api_key)

    # -- helpers for subclasses ---------------------------------------------------------

    def _redact(self, text: str) -> str:
        return redact(text, self._api_key)

    def _require_key(self, symbol: str | None) -> None:
        if not self._api_key:
            raise InvalidKey(f"{self.provider}: no API key is configured.",
                             provider=self.provider, symbol=symbol)

    async def _with_retries(self, call: Callable[[], Awaitable[T]], *, what: str,
                            symbol: str | None) -> T:
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(Transient),
            stop=stop_after_attempt(self.retry.attempts),
            wait=self.retry.wait,
            reraise=True,
            before_sleep=lambda state: self._log_retry(state, what=what, symbol=symbol),
        )
        try:
            return await retrying(call)
        except Transient as exc:
            exc.attempts = retrying.statistics.get("attempt_number")
            log.warning("%s %s for %s gave up after %s attempt(s): %s", self.provider, what,
                        symbol, exc.attempts, exc.detail)
            raise

    def _log_retry(self, state: RetryCallState, *, what: str, symbol: str | None) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        log.info("%s %s for %s: attempt %d failed (%s); retrying in %.2f s", self.provider, what,
                 symbol, state.attempt_number, getattr(exc, "detail", type(exc).__name__), wait)

    async def _pace(self) -> None:
        if self.min_interval <= 0:
            return
        async with self._pace_lock:
            delay = self._next_slot - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self._next_slot = time.monotonic() + self.min_interval

    async def _get(
        self,
        path: str,
        *,
        params: Mapping[str, str],
        headers: Mapping[str, str] | None = None,
        what: str,
        symbol: str | None,
    ) -> httpx.Response:
        """One GET; transport failures become Transient (with no trace of the key)."""
        await self._pace()
        url = f"{self.base_url}{path}"
        started = time.perf_counter()
        failure: ProviderError | None = None
        try:
            response = await self._http.get(url, params=dict(params), headers=dict(headers or {}))
        except httpx.TimeoutException as exc:
            failure = Transient(f"{self.provider} {what}: timed out ({type(exc).__name__}).",
                                provider=self.provider, symbol=symbol)
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            failure = BadRequest(
                f"{self.provider} {what}: the base URL is unusable ({type(exc).__name__}).",
                provider=self.provider, symbol=symbol)
        except (httpx.TransportError, httpx.DecodingError) as exc:
            failure = Transient(
                f"{self.provider} {what}: {type(exc).__name__}: {self._redact(str(exc))[:200]}",
                provider=self.provider, symbol=symbol)
        except httpx.HTTPError as exc:
            failure = BadResponse(f"{self.provider} {what}: {type(exc).__name__}.",
                                  provider=self.provider, symbol=symbol)
        if failure is not None:
            # Raised outside the except block, so no httpx exception (whose request holds the
            # URL, key included) rides along as __context__.
            log.info("%s %s for %s failed: %s", self.provider, what, symbol, failure.detail)
            raise failure
        elapsed_ms = (time.perf_counter() - started) * 1000
        log.debug("%s %s for %s -> HTTP %d in %.0f ms", self.provider, what, symbol,
                  response.status_code, elapsed_ms)
        return response

    def _snippet(self, text: object) -> str:
        return self._redact(str(text))[:300]


__all__ = [
    "REDACTED",
    "ProviderClient",
    "RetryPolicy",
    "json_object",
    "parse_decimal",
    "protect_secret_in_library_logs",
    "redact",
]
