"""What the service measures about itself: answer latency by cache outcome, lookup batches."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import eventually
from tests.marketdata.conftest import as_role, running, unique_symbol

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

ANSWERS = "epv_marketdata_answer_seconds"


async def samples(client, family: str) -> dict[tuple[str, tuple], float]:
    """Every sample of one metric family on /metrics, by (sample name, sorted labels)."""
    text = (await client.get("/metrics")).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text) if f.name == family
            for s in f.samples}


def answer_count(found: dict, *, data_type: str, cache: str) -> float:
    return found.get((ANSWERS + "_count", (("cache", cache), ("type", data_type))), 0.0)


async def test_answers_are_timed_by_cache_outcome_with_buckets_fine_below_20_ms(
        system, md_settings, fake_providers):
    symbol = unique_symbol("HM")
    async with running(md_settings()) as client:
        before = await samples(client, ANSWERS)
        miss = await client.get("/api/market-data", params={"symbol": symbol},
                                headers=as_role(system))
        hit = await client.get("/api/market-data", params={"symbol": symbol},
                               headers=as_role(system))
        unknown = await client.get("/api/market-data", params={"symbol": unique_symbol("ZZ")},
                                   headers=as_role(system))
        after = await samples(client, ANSWERS)
    assert (miss.json()["cache"], hit.json()["cache"], unknown.status_code) == ("miss", "hit", 404)
    for cache in ("miss", "hit"):
        assert (answer_count(after, data_type="quote", cache=cache)
                - answer_count(before, data_type="quote", cache=cache)) == 1
    # Only answers are timed here: the 404 is in the common request histogram alone.
    counts = [sum(v for (name, _), v in found.items() if name == ANSWERS + "_count")
              for found in (before, after)]
    assert counts[1] - counts[0] == 2
    bounds = {float(dict(labels)["le"]) for (name, labels) in after
              if name == ANSWERS + "_bucket" and dict(labels)["le"] != "+Inf"}
    assert len({b for b in bounds if b <= 0.02}) >= 10
    assert {0.001, 0.005, 0.01, 0.02} <= bounds


async def test_a_stale_answer_is_timed_as_stale(system, md_settings, fake_providers):
    symbol = unique_symbol("HS")
    async with running(md_settings(cache_ttl_quote_s=1)) as client:
        await client.get("/api/market-data", params={"symbol": symbol}, headers=as_role(system))
        before = await samples(client, ANSWERS)
        fake_providers.mode.update(alphavantage="down", finnhub="down")

        async def ask():
            return await client.get("/api/market-data", params={"symbol": symbol},
                                    headers=as_role(system))

        await eventually(ask, until=lambda r: r.json().get("stale") is True, timeout_s=15,
                         interval_s=0.2)
        after = await samples(client, ANSWERS)
    assert (answer_count(after, data_type="quote", cache="stale")
            - answer_count(before, data_type="quote", cache="stale")) >= 1


async def test_concurrent_lookups_share_one_round_trip_and_count_per_type(
        system, md_settings, fake_providers):
    cached = [unique_symbol("BQ") for _ in range(3)]
    missing = [unique_symbol("BM") for _ in range(2)]
    async with running(md_settings()) as client:
        # This test is over in milliseconds: let the broker connection finish opening first,
        # or the app's shutdown cancels it mid-handshake and leaves its tasks to the loop.
        await eventually(lambda: client.get("/health"),
                         until=lambda r: r.json()["checks"]["rabbitmq"]["status"] == "up")
        cache = client.app.state.marketdata.cache
        for symbol in cached:
            await cache.store("quote", symbol, {"provider": "finnhub", "payload": {"s": symbol}},
                              ttl_s=60)
        before = await samples(client, "epv_marketdata_cache_lookup_batch_size")
        found = await asyncio.gather(*(cache.lookup("quote", s) for s in [*cached, *missing]),
                                     cache.lookup("overview", cached[0]))
        after = await samples(client, "epv_marketdata_cache_lookup_batch_size")
        stats = (await client.get("/api/market-data/cache/stats",
                                  headers=as_role(system))).json()

    assert [entry and entry["payload"]["s"] for entry in found] == [*cached, None, None, None]
    batches = {name: after[(name, ())] - before.get((name, ()), 0.0)
               for name in ("epv_marketdata_cache_lookup_batch_size_count",
                            "epv_marketdata_cache_lookup_batch_size_sum")}
    assert batches == {"epv_marketdata_cache_lookup_batch_size_count": 1,
                       "epv_marketdata_cache_lookup_batch_size_sum": 6}
    assert stats["types"]["quote"] == {"hits": 3, "misses": 2, "ratio": 0.6}
    assert stats["types"]["overview"] == {"hits": 0, "misses": 1, "ratio": 0.0}
