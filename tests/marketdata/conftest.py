"""Harness for the market-data service tests: the app in-process (so respx can fake the two
providers at the HTTP layer) against the run's real PostgreSQL, Redis and RabbitMQ.

Each test gets its own Redis prefix, so caches, locks and statistics never leak between tests;
PostgreSQL (snapshots, call log) is the run's database, so tests use symbols of their own
where a stored value would matter.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import respx

from epv_common.testing.shared import marketdata_fixtures
from epv_common.testing.system import INTERNAL_TOKEN
from epv_marketdata.app import create_app
from epv_marketdata.settings import Settings

MD_FIXTURES = marketdata_fixtures()
MD_AV_URL = "https://av.test"
MD_FH_URL = "https://fh.test/api/v1"
AV_JSON = {"content-type": "application/json"}
FH_JSON = {"content-type": "application/json; charset=utf-8"}
KNOWN = ("AAPL", "MSFT", "KO")


def md_fixture(relative: str) -> Any:
    return json.loads((MD_FIXTURES / relative).read_text())


def unique_symbol(prefix: str = "T") -> str:
    return (prefix + uuid.uuid4().hex[:6]).upper()


@dataclass
class FakeProviders:
    """Both providers, answering from the recorded fixtures.

    A symbol that is not a fixture symbol and does not start with "ZZ" is served AAPL's
    answers under its own name (so tests can use fresh symbols). `mode[provider]` switches a
    provider to "ok", "down" (HTTP 503) or "throttled" (its throttling quirk).
    """

    latency_s: float = 0.0
    mode: dict[str, str] = field(default_factory=lambda: {"alphavantage": "ok", "finnhub": "ok"})
    calls: Counter = field(default_factory=Counter)

    def count(self, provider: str, what: str | None = None, symbol: str | None = None) -> int:
        return sum(n for (p, w, s), n in self.calls.items()
                   if p == provider and what in (None, w) and symbol in (None, s))

    @staticmethod
    def _source(symbol: str) -> str | None:
        if symbol in KNOWN:
            return symbol
        return None if symbol.startswith("ZZ") else "AAPL"

    async def alphavantage(self, request: httpx.Request) -> httpx.Response:
        function = request.url.params.get("function", "")
        symbol = request.url.params.get("symbol", "")
        self.calls["alphavantage", function, symbol] += 1
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        if self.mode["alphavantage"] == "down":
            return httpx.Response(503, text="<html>Service Unavailable</html>")
        if self.mode["alphavantage"] == "throttled":
            return httpx.Response(200, json=md_fixture("alphavantage/throttled-information.json"),
                                  headers=AV_JSON)
        source = self._source(symbol)
        if source is None:
            name = {"GLOBAL_QUOTE": "GLOBAL_QUOTE", "OVERVIEW": "OVERVIEW"}.get(
                function, "INCOME_STATEMENT")
            body = md_fixture(f"alphavantage/unknown-symbol.{name}.json")
        else:
            body = md_fixture(f"alphavantage/{function}.{source}.json")
            if function == "GLOBAL_QUOTE":
                body["Global Quote"]["01. symbol"] = symbol
            elif "Symbol" in body:
                body["Symbol"] = symbol
            elif "symbol" in body:
                body["symbol"] = symbol
        return httpx.Response(200, json=body, headers=AV_JSON)

    async def finnhub(self, request: httpx.Request) -> httpx.Response:
        endpoint = request.url.path.rsplit("/", 1)[-1]
        symbol = request.url.params.get("symbol", "")
        self.calls["finnhub", endpoint, symbol] += 1
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        if self.mode["finnhub"] == "down":
            return httpx.Response(502, text="")
        if self.mode["finnhub"] == "throttled":
            return httpx.Response(429, json=md_fixture("finnhub/rate-limited-429.json"),
                                  headers=FH_JSON)
        source = self._source(symbol)
        name = {"quote": "quote", "profile2": "profile2", "metric": "metric"}[endpoint]
        if source is None:
            body = md_fixture(f"finnhub/unknown-symbol.{name}.json")
        else:
            body = md_fixture(f"finnhub/{name}.{source}.json")
            if endpoint == "profile2":
                body["ticker"] = symbol
            elif endpoint == "metric":
                body["symbol"] = symbol
        return httpx.Response(200, json=body, headers=FH_JSON)


@pytest.fixture
def fake_providers() -> FakeProviders:
    fake = FakeProviders()
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        router.route(url__startswith=MD_AV_URL).mock(side_effect=fake.alphavantage)
        router.route(url__startswith=MD_FH_URL).mock(side_effect=fake.finnhub)
        yield fake


@pytest.fixture
def md_settings(system) -> Callable[..., Settings]:
    """Settings for an in-process app on this run's backends; one Redis prefix per test."""
    prefix = f"{system.redis_prefix}md{uuid.uuid4().hex[:8]}:"

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = dict(
            environment="test",
            database_url=system.dsn("marketdata", driver="postgresql+asyncpg"),
            redis_url=system.backends.redis_url, redis_prefix=prefix,
            amqp_url=system.backends.amqp_url, amqp_prefix=system.amqp_prefix,
            internal_token=INTERNAL_TOKEN, db_pool_size=5, log_level="WARNING",
            alphavantage_api_key="av-test-KEY-123", finnhub_api_key="fh-test-TOKEN-456",
            alphavantage_base_url=MD_AV_URL, finnhub_base_url=MD_FH_URL,
            alphavantage_min_interval_s=0, provider_retry_attempts=2,
            provider_retry_initial_wait_s=0, provider_retry_max_wait_s=0,
            alphavantage_calls_per_day=0, finnhub_calls_per_minute=0,
            finnhub_calls_per_second=0,
        )
        values.update(overrides)
        return Settings(**values)

    return make


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan, and an httpx client on it (ASGI, not faked by respx)."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://marketdata.test",
                                     timeout=30) as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


def as_role(system, role: str = "ANALYST") -> dict[str, str]:
    return system.internal_headers(role=role)
