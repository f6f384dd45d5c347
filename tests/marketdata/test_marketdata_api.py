"""The market-data API in-process: providers faked with respx from the recorded fixtures,
real PostgreSQL, Redis and RabbitMQ of the run."""

from __future__ import annotations

import pytest

from tests.marketdata.conftest import as_role, md_fixture, running, unique_symbol

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]


def _as_number_tree(value):
    if isinstance(value, dict):
        return {k: _as_number_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_number_tree(v) for v in value]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return value


async def test_quote_is_fetched_once_then_served_from_cache(system, md_settings, fake_providers):
    symbol = unique_symbol("Q")
    async with running(md_settings()) as client:
        first = await client.get("/api/market-data", params={"symbol": symbol.lower()},
                                 headers=as_role(system))
        assert first.status_code == 200, first.text
        body = first.json()
        assert body["symbol"] == symbol and body["type"] == "quote"
        assert body["provider"] == "finnhub"  # first in the default quote order
        assert body["cache"] == "miss" and body["stale"] is False
        assert body["served_from"] == "provider"
        assert body["data"]["price"] == 213.49
        second = await client.get("/api/market-data", params={"symbol": symbol, "type": "quote"},
                                  headers=as_role(system))
        assert second.json()["cache"] == "hit"
        assert second.headers["x-cache"] == "HIT"
        assert second.json()["fetched_at"] == body["fetched_at"]
    assert fake_providers.count("finnhub", "quote", symbol) == 1
    conn = await system.connect("marketdata")
    try:
        rows = await conn.fetch("SELECT provider, outcome FROM marketdata.provider_calls "
                                "WHERE symbol = $1", symbol)
        stored = await conn.fetchval("SELECT provider FROM marketdata.snapshots "
                                     "WHERE symbol = $1 AND data_type = 'quote'", symbol)
    finally:
        await conn.close()
    assert [(r["provider"], r["outcome"]) for r in rows] == [("finnhub", "ok")]
    assert stored == "finnhub"


@pytest.mark.parametrize("symbol", ["AAPL", "MSFT", "KO"])
async def test_fundamentals_in_case_shape_equal_the_expected_documents(
        system, md_settings, fake_providers, symbol):
    async with running(md_settings()) as client:
        response = await client.get(
            "/api/market-data", params={"symbol": symbol, "type": "fundamentals",
                                        "shape": "case"}, headers=as_role(system))
    assert response.status_code == 200, response.text
    body = response.json()
    expected = md_fixture(f"fundamentals-expected/{symbol}.json")
    assert body["symbol"] == expected["symbol"] and body["source"] == expected["source"]
    assert _as_number_tree(body["financial_data"]) == _as_number_tree(expected["financial_data"])
    assert ({(w["code"], w["field"]) for w in body["warnings"]}
            == {(w["code"], w["field"]) for w in expected["warnings"]})
    assert body["as_of"].endswith("Z")
    # With a cost of capital set, the document has what the engine's section 2.2 requires.
    document = body["financial_data"]
    document["assumptions"]["wacc"] = 0.09
    assert len(document["fiscal_years"]) >= 3
    years = [y["fiscal_year"] for y in document["fiscal_years"]]
    assert years == sorted(set(years))
    assert all(y["revenue"] > 0 for y in document["fiscal_years"])


async def test_junk_symbol_is_a_422_problem_and_reaches_no_provider(
        system, md_settings, fake_providers):
    async with running(md_settings()) as client:
        for junk in ("AA$PL", "   ", "A" * 20, "BRK..B"):
            response = await client.get("/api/market-data", params={"symbol": junk},
                                        headers=as_role(system))
            assert response.status_code == 422, (junk, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["errors"][0]["field"] == "symbol"
    assert not fake_providers.calls


async def test_unknown_symbol_is_a_404_problem_and_is_remembered(
        system, md_settings, fake_providers):
    symbol = unique_symbol("ZZ")
    async with running(md_settings()) as client:
        for _ in range(2):
            response = await client.get("/api/market-data", params={"symbol": symbol},
                                        headers=as_role(system))
            assert response.status_code == 404, response.text
            assert response.json()["type"].endswith("/unknown-symbol")
    assert fake_providers.count("alphavantage", "GLOBAL_QUOTE", symbol) == 1


async def test_unauthenticated_read_is_a_401_problem(system, md_settings, fake_providers):
    async with running(md_settings()) as client:
        response = await client.get("/api/market-data", params={"symbol": "AAPL"})
    assert response.status_code == 401


async def test_shape_case_is_for_fundamentals_only(system, md_settings, fake_providers):
    async with running(md_settings()) as client:
        response = await client.get("/api/market-data",
                                    params={"symbol": "AAPL", "type": "quote", "shape": "case"},
                                    headers=as_role(system))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "shape"


async def test_a_quote_miss_stores_its_calls_and_snapshot_and_updates_a_benchmark_input(
        system, md_settings, fake_providers):
    alone, known, unknown = unique_symbol("QA"), unique_symbol("QB"), unique_symbol("ZZ")
    async with running(md_settings()) as client:
        for symbol, data_type in ((alone, "quote"), (known, "overview"), (known, "quote"),
                                  (unknown, "quote")):
            await client.get("/api/market-data", params={"symbol": symbol, "type": data_type},
                             headers=as_role(system))
    conn = await system.connect("marketdata")
    try:
        calls = {symbol: [(r["provider"], r["data_type"], r["outcome"]) for r in await conn.fetch(
            "SELECT provider, data_type, outcome FROM marketdata.provider_calls "
            "WHERE symbol = $1 ORDER BY id", symbol)] for symbol in (alone, known, unknown)}
        quotes = {r["symbol"] for r in await conn.fetch(
            "SELECT symbol FROM marketdata.snapshots WHERE data_type = 'quote' "
            "AND symbol = ANY($1::text[])", [alone, known, unknown])}
        inputs = {r["symbol"]: r["updated_at"] for r in await conn.fetch(
            "SELECT symbol, updated_at FROM marketdata.benchmark_inputs "
            "WHERE symbol = ANY($1::text[])", [alone, known])}
        quoted_at = await conn.fetchval(
            "SELECT fetched_at FROM marketdata.snapshots WHERE symbol = $1 "
            "AND data_type = 'quote'", known)
    finally:
        await conn.close()
    assert calls[alone] == [("finnhub", "quote", "ok")]
    assert calls[known][-1] == ("finnhub", "quote", "ok")
    assert [c[2] for c in calls[unknown]] and all(c[2] != "ok" for c in calls[unknown])
    assert quotes == {alone, known}
    # A quote alone derives nothing; after an overview it derives the input again.
    assert alone not in inputs
    assert inputs[known] >= quoted_at
