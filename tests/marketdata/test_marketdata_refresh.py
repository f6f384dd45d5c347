"""POST /api/market-data (refresh, SENIOR_ANALYST+) and the sector/industry benchmarks."""

from __future__ import annotations

import pytest

from tests.marketdata.conftest import as_role, running, unique_symbol

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]


async def test_an_analyst_may_not_refresh(system, md_settings, fake_providers):
    async with running(md_settings()) as client:
        response = await client.post("/api/market-data", json={"symbol": "AAPL", "type": "quote"},
                                     headers=as_role(system, "ANALYST"))
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/permission-denied")
    assert not fake_providers.calls


@pytest.mark.parametrize("role", ["SENIOR_ANALYST", "ADMIN"])
async def test_a_senior_analyst_refreshes_and_an_event_is_recorded(
        system, md_settings, fake_providers, role):
    symbol = unique_symbol("RF")
    async with running(md_settings()) as client:
        await client.get("/api/market-data", params={"symbol": symbol}, headers=as_role(system))
        response = await client.post("/api/market-data",
                                     json={"symbol": symbol.lower(), "type": "quote"},
                                     headers=as_role(system, role))
        after = await client.get("/api/market-data", params={"symbol": symbol},
                                 headers=as_role(system))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["symbol"] == symbol and body["served_from"] == "provider"
    assert after.json()["cache"] == "hit" and after.json()["fetched_at"] == body["fetched_at"]
    assert fake_providers.count("finnhub", "quote", symbol) == 2
    conn = await system.connect("marketdata")
    try:
        rows = await conn.fetch("SELECT payload FROM marketdata.outbox "
                                "WHERE event_type = 'marketdata.refreshed' "
                                "AND payload->>'subject' = $1", symbol)
    finally:
        await conn.close()
    assert len(rows) == 1
    import json
    event = json.loads(rows[0]["payload"])
    assert event["data"]["symbol"] == symbol
    assert event["data"]["type"] == "quote" and event["data"]["provider"] == "finnhub"


async def test_refresh_of_an_unknown_symbol_is_a_404(system, md_settings, fake_providers):
    async with running(md_settings()) as client:
        response = await client.post("/api/market-data",
                                     json={"symbol": unique_symbol("ZZ"), "type": "overview"},
                                     headers=as_role(system, "SENIOR_ANALYST"))
    assert response.status_code == 404


async def test_refresh_with_a_junk_symbol_is_a_422(system, md_settings, fake_providers):
    async with running(md_settings()) as client:
        response = await client.post("/api/market-data", json={"symbol": "A/B", "type": "quote"},
                                     headers=as_role(system, "SENIOR_ANALYST"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "symbol"


async def test_benchmarks_are_medians_over_stored_companies(system, md_settings, fake_providers):
    async with running(md_settings()) as client:
        for symbol in ("AAPL", "MSFT"):
            for data_type in ("overview", "fundamentals"):
                response = await client.get("/api/market-data",
                                            params={"symbol": symbol, "type": data_type},
                                            headers=as_role(system))
                assert response.status_code == 200, response.text
        one = await client.get("/api/market-data", params={"symbol": "AAPL",
                                                           "type": "benchmarks"},
                               headers=as_role(system))
        sector = await client.get("/api/market-data/benchmarks",
                                  params={"sector": "technology"}, headers=as_role(system))
    assert one.status_code == 200, one.text
    aapl = one.json()["data"]
    assert aapl["sector"] == "TECHNOLOGY" and 0.2 < aapl["operating_margin"] < 0.4
    body = sector.json()
    assert sector.status_code == 200
    assert {"AAPL", "MSFT"} <= set(body["symbols"])
    margin = body["metrics"]["operating_margin"]
    assert margin["count"] == body["companies"] >= 2
    assert margin["median"] is not None and 0.2 < margin["median"] < 0.5
