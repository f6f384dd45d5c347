"""Single flight, stale answers, provider fallback and throttling, Redis outages, statistics."""

from __future__ import annotations

import asyncio

import pytest

from epv_common.testing.tcpproxy import free_port
from tests.conftest import eventually
from tests.marketdata.conftest import as_role, running, unique_symbol

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]


async def test_100_concurrent_misses_across_two_replicas_make_one_provider_call(
        system, md_settings, fake_providers):
    fake_providers.latency_s = 0.15
    symbol = unique_symbol("SF")
    settings = md_settings()
    async with running(settings) as replica_a, running(settings) as replica_b:
        async def ask(client):
            return await client.get("/api/market-data", params={"symbol": symbol},
                                    headers=as_role(system))

        answers = await asyncio.gather(*(ask(replica_a if i % 2 else replica_b)
                                         for i in range(100)))
    assert {r.status_code for r in answers} == {200}
    assert {r.json()["fetched_at"] for r in answers} == {answers[0].json()["fetched_at"]}
    assert fake_providers.count("finnhub", "quote", symbol) == 1
    assert fake_providers.count("alphavantage", symbol=symbol) == 0


async def test_every_provider_failing_serves_the_last_good_value_as_stale(
        system, md_settings, fake_providers):
    symbol = unique_symbol("ST")
    async with running(md_settings(cache_ttl_quote_s=1)) as client:
        good = await client.get("/api/market-data", params={"symbol": symbol},
                                headers=as_role(system))
        assert good.status_code == 200 and good.json()["stale"] is False
        fake_providers.mode.update(alphavantage="down", finnhub="down")

        async def ask():
            return await client.get("/api/market-data", params={"symbol": symbol},
                                    headers=as_role(system))

        stale = await eventually(ask, until=lambda r: r.json().get("stale") is True,
                                 timeout_s=15, interval_s=0.2)
    body = stale.json()
    assert stale.status_code == 200
    assert body["fetched_at"] == good.json()["fetched_at"]
    assert body["provider"] == "finnhub" and body["served_from"] == "database"
    assert body["age_s"] >= 1
    assert body["data"]["price"] == good.json()["data"]["price"]
    assert fake_providers.count("alphavantage", "GLOBAL_QUOTE", symbol) >= 1


async def test_every_provider_failing_with_nothing_stored_is_a_503_problem(
        system, md_settings, fake_providers):
    fake_providers.mode.update(alphavantage="down", finnhub="down")
    async with running(md_settings()) as client:
        quote = await client.get("/api/market-data", params={"symbol": unique_symbol("NA")},
                                 headers=as_role(system))
        fundamentals = await client.get(
            "/api/market-data", params={"symbol": unique_symbol("NF"), "type": "fundamentals",
                                        "shape": "case"}, headers=as_role(system))
    assert quote.status_code == 503, quote.text
    assert quote.headers["content-type"] == "application/problem+json"
    assert quote.json()["type"].endswith("/market-data-unavailable")
    assert {p["provider"] for p in quote.json()["providers"]} == {"alphavantage", "finnhub"}
    assert fundamentals.status_code == 503
    assert fundamentals.json()["type"].endswith("/fundamentals-unavailable")
    assert "Alpha Vantage" in fundamentals.json()["detail"]
    assert "av-test-KEY-123" not in quote.text + fundamentals.text


async def test_a_throttled_provider_is_skipped_for_its_window(
        system, md_settings, fake_providers):
    fake_providers.mode["alphavantage"] = "throttled"
    first, second = unique_symbol("TA"), unique_symbol("TB")
    async with running(md_settings()) as client:
        for symbol in (first, second):
            response = await client.get("/api/market-data",
                                        params={"symbol": symbol, "type": "overview"},
                                        headers=as_role(system))
            assert response.status_code == 200, response.text
            assert response.json()["provider"] == "finnhub"
    assert fake_providers.count("alphavantage", "OVERVIEW", first) == 1
    assert fake_providers.count("alphavantage", "OVERVIEW", second) == 0


async def test_our_rate_limit_sends_calls_to_the_next_provider(
        system, md_settings, fake_providers):
    symbols = [unique_symbol("RL") for _ in range(3)]
    async with running(md_settings(finnhub_calls_per_minute=2)) as client:
        providers = []
        for symbol in symbols:
            response = await client.get("/api/market-data", params={"symbol": symbol},
                                        headers=as_role(system))
            providers.append(response.json()["provider"])
    # A minute boundary may fall between the calls: then all three go to Finnhub.
    assert providers[:2] == ["finnhub", "finnhub"]
    assert providers[2] in ("alphavantage", "finnhub")


async def test_with_redis_unreachable_answers_are_served_and_health_is_degraded(
        system, md_settings, fake_providers):
    symbol = unique_symbol("RD")
    settings = md_settings(redis_url=f"redis://127.0.0.1:{free_port()}/0", redis_timeout_s=0.3)
    async with running(settings) as client:
        first = await client.get("/api/market-data", params={"symbol": symbol},
                                 headers=as_role(system))
        second = await client.get("/api/market-data", params={"symbol": symbol},
                                  headers=as_role(system))
        health = await client.get("/health")
    assert first.status_code == 200, first.text
    assert first.json()["served_from"] == "provider"
    assert second.status_code == 200
    assert second.json()["served_from"] == "database"  # fresh snapshot, no second call
    assert fake_providers.count("finnhub", "quote", symbol) == 1
    assert health.status_code == 200
    assert health.json()["status"] == "degraded"
    assert health.json()["checks"]["redis"]["status"] == "down"


async def test_cache_stats_count_hits_and_misses_per_type(system, md_settings, fake_providers):
    symbol = unique_symbol("CS")
    async with running(md_settings()) as client:
        for _ in range(4):
            await client.get("/api/market-data", params={"symbol": symbol},
                             headers=as_role(system))
        await client.get("/api/market-data", params={"symbol": symbol, "type": "overview"},
                         headers=as_role(system))
        stats = await client.get("/api/market-data/cache/stats", headers=as_role(system))
    assert stats.status_code == 200
    types = stats.json()["types"]
    assert types["quote"] == {"hits": 3, "misses": 1, "ratio": 0.75}
    assert types["overview"] == {"hits": 0, "misses": 1, "ratio": 0.0}
    assert stats.json()["total"]["hits"] == 3
