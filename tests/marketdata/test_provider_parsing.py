"""The data fixtures parse into the standard models (units, scales, signs, missing values).

Both providers are faked at the HTTP layer from the recorded files; nothing reaches the
internet.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime
from decimal import Decimal

import httpx
import pytest
import respx

from epv_common.testing.shared import marketdata_fixtures
from epv_marketdata.providers import (
    ALPHAVANTAGE_BASE_URL,
    FINNHUB_BASE_URL,
    AlphaVantageClient,
    BadResponse,
    BenchmarkInput,
    FinnhubClient,
    Fundamentals,
    Overview,
    Quote,
    RetryPolicy,
    UnknownSymbol,
    Unsupported,
)
from epv_marketdata.providers import alphavantage as av_module

FIXTURES = marketdata_fixtures()
AV_URL = "https://av.test"
FH_URL = "https://fh.test/api/v1"
AV_KEY = "av-parsing-key-5521"
FH_KEY = "fh-parsing-key-8830"
FAST = RetryPolicy(attempts=2, initial_wait=0, max_wait=0, jitter=0)
SYMBOLS = ["AAPL", "MSFT", "KO"]


def load(relative: str) -> dict:
    return json.loads((FIXTURES / relative).read_text())


def av_fake(request: httpx.Request) -> httpx.Response:
    """Alpha Vantage as the fixtures describe it: data files, `{}` for anything unknown."""
    params = request.url.params
    if not params.get("apikey"):
        path = FIXTURES / "alphavantage" / "error-missing-apikey.json"
    else:
        function, symbol = params.get("function", ""), params.get("symbol", "")
        path = FIXTURES / "alphavantage" / f"{function}.{symbol}.json"
        if symbol == "RIVN" and function == "OVERVIEW":
            path = FIXTURES / "alphavantage" / "none-values.OVERVIEW.RIVN.json"
        elif not path.exists():
            unknown = "INCOME_STATEMENT" if function in av_module.STATEMENT_FUNCTIONS else function
            path = FIXTURES / "alphavantage" / f"unknown-symbol.{unknown}.json"
    return httpx.Response(200, content=path.read_bytes(),
                          headers={"content-type": "application/json"})


def fh_fake(request: httpx.Request) -> httpx.Response:
    endpoint = request.url.path.rsplit("/", 1)[-1]
    symbol = request.url.params.get("symbol", "")
    path = FIXTURES / "finnhub" / f"{endpoint}.{symbol}.json"
    if not path.exists():
        path = FIXTURES / "finnhub" / f"unknown-symbol.{endpoint}.json"
    return httpx.Response(200, content=path.read_bytes(),
                          headers={"content-type": "application/json; charset=utf-8"})


@pytest.fixture
def fakes():
    with respx.mock(assert_all_called=False) as router:
        av = router.get(f"{AV_URL}/query").mock(side_effect=av_fake)
        fh = router.get(url__regex=rf"^{FH_URL}/(quote|stock/profile2|stock/metric)").mock(
            side_effect=fh_fake)
        yield {"av": av, "fh": fh}


@pytest.fixture
async def clients(fakes):
    async with httpx.AsyncClient() as http:
        yield (AlphaVantageClient(http, api_key=AV_KEY, base_url=AV_URL, retry=FAST,
                                  min_interval=0),
               FinnhubClient(http, api_key=FH_KEY, base_url=FH_URL, retry=FAST))


# --------------------------------------------------------------------------- quotes


async def test_alpha_vantage_quote(clients) -> None:
    av, _ = clients
    quote = await av.get_quote("aapl")
    assert isinstance(quote, Quote)
    assert quote.symbol == "AAPL" and quote.source == "alphavantage"
    assert quote.price == Decimal("213.49")
    assert quote.open == Decimal("211.25")
    assert quote.high == Decimal("213.95") and quote.low == Decimal("209.58")
    assert quote.previous_close == Decimal("209.68")
    assert quote.change == Decimal("3.81")
    assert quote.change_percent == Decimal("1.8171")  # the "%" is stripped; still percent
    assert quote.volume == 60107582
    assert quote.latest_trading_day == date(2025, 3, 14)
    assert quote.timestamp is None
    assert quote.fetched_at is not None and quote.fetched_at.tzinfo is not None


async def test_finnhub_quote(clients) -> None:
    _, fh = clients
    quote = await fh.get_quote("MSFT")
    assert quote.source == "finnhub"
    assert quote.price == Decimal("388.56")
    assert quote.previous_close == Decimal("378.77")
    assert quote.change_percent == Decimal("2.5847")
    assert quote.volume is None  # Finnhub's quote has no volume
    assert quote.timestamp == datetime(2025, 3, 14, 20, 0, tzinfo=UTC)
    assert quote.latest_trading_day == date(2025, 3, 14)


@pytest.mark.parametrize("symbol", SYMBOLS)
async def test_quotes_agree_across_providers(clients, symbol: str) -> None:
    av, fh = clients
    a, f = await av.get_quote(symbol), await fh.get_quote(symbol)
    assert a.price == f.price
    assert a.previous_close == f.previous_close
    assert a.change == f.change
    assert a.change_percent == f.change_percent


# --------------------------------------------------------------------------- overviews


async def test_alpha_vantage_overview(clients) -> None:
    av, _ = clients
    ov = await av.get_overview("KO")
    assert isinstance(ov, Overview)
    assert ov.name == "Coca-Cola Co"
    assert ov.sector == "MANUFACTURING" and ov.industry == "BEVERAGES"
    assert ov.exchange == "NYSE" and ov.currency == "USD"
    assert ov.market_capitalization == 300_981_514_320
    assert ov.shares_outstanding == 4_307_736_000
    assert ov.beta == Decimal("0.466")
    assert ov.week_52_high == Decimal("73.53")  # a key that starts with a digit
    assert ov.dividend_yield == Decimal("0.0292")  # already a fraction in AV
    assert ov.operating_margin_ttm == Decimal("0.212")
    assert ov.latest_quarter == date(2024, 12, 31)
    assert ov.fiscal_year_end == "December"


async def test_alpha_vantage_zero_placeholders_in_ratios_are_missing() -> None:
    body = load("alphavantage/OVERVIEW.AAPL.json") | {"PEGRatio": "0", "ForwardPE": "0",
                                                       "DividendPerShare": "0"}
    ov = av_module.parse_overview(body, "AAPL")
    assert ov.peg_ratio is None and ov.forward_pe is None
    assert ov.dividend_per_share == 0  # a non-payer's 0 is a real value


async def test_finnhub_overview_scales_millions_and_percent(clients) -> None:
    _, fh = clients
    ov = await fh.get_overview("AAPL")
    assert ov.source == "finnhub"
    assert ov.name == "Apple Inc"
    assert ov.industry == "Technology" and ov.sector is None
    assert ov.market_capitalization == Decimal("3210435720300")  # 3210435.7203 million
    assert ov.shares_outstanding == 15_037_874_000
    assert ov.operating_margin_ttm == Decimal("0.317554")  # 31.7554 %
    assert ov.dividend_yield == Decimal("0.004637")
    assert ov.enterprise_value == 3_253_460_000_000
    assert ov.beta == Decimal("1.178")
    assert ov.ipo == date(1980, 12, 12)


@pytest.mark.parametrize("symbol", SYMBOLS)
async def test_overviews_agree_across_providers(clients, symbol: str) -> None:
    av, fh = clients
    a, f = await av.get_overview(symbol), await fh.get_overview(symbol)
    assert a.shares_outstanding == f.shares_outstanding
    assert abs(a.market_capitalization - f.market_capitalization) < 1_000_000
    assert a.beta == f.beta


# --------------------------------------------------------------------------- fundamentals


async def test_alpha_vantage_fundamentals(clients, fakes) -> None:
    av, _ = clients
    f = await av.get_fundamentals("AAPL")
    assert isinstance(f, Fundamentals) and f.source == "alphavantage"
    assert [fakes["av"].calls[i].request.url.params["function"] for i in range(3)] == [
        "INCOME_STATEMENT", "BALANCE_SHEET", "CASH_FLOW"]
    assert len(f.annual.income) == len(f.annual.balance) == len(f.annual.cash_flow) == 5
    assert len(f.quarterly.income) == 4
    assert [r.fiscal_date_ending.year for r in f.annual.income] == [2024, 2023, 2022, 2021,
                                                                    2020]
    fy24 = f.annual.income[0]
    assert fy24.fiscal_date_ending == date(2024, 9, 30)  # AV moves it to the month end
    assert fy24.total_revenue == 391_035_000_000
    assert fy24.interest_expense is None and fy24.interest_income is None  # "None"
    assert fy24.cost_of_goods_and_services_sold is not None  # "costof..." spelling
    bs = f.annual.balance[0]
    assert bs.goodwill is None and bs.intangible_assets is None and bs.treasury_stock is None
    cf = f.annual.cash_flow[0]
    assert cf.capital_expenditures > 0 and cf.dividend_payout > 0  # positive outflows
    assert cf.proceeds_from_repurchase_of_equity < 0
    periods = f.annual_periods()
    assert [p.fiscal_date_ending.year for p in periods] == [2020, 2021, 2022, 2023, 2024]


async def test_ko_quirks(clients) -> None:
    av, _ = clients
    f = await av.get_fundamentals("KO")
    assert f.annual.income[0].research_and_development is None
    inc = f.annual.income[0]
    assert inc.net_income != inc.net_income_from_continuing_operations
    bs = f.annual.balance[0]
    assert bs.total_assets != bs.total_liabilities + bs.total_shareholder_equity
    assert bs.treasury_stock < 0
    q1 = next(r for r in f.quarterly.cash_flow if r.fiscal_date_ending == date(2024, 3, 31))
    assert q1.operating_cashflow < 0


async def test_msft_short_term_debt_none_is_not_zero(clients) -> None:
    av, _ = clients
    f = await av.get_fundamentals("MSFT")
    fy23 = next(b for b in f.annual.balance if b.fiscal_date_ending.year == 2023)
    assert fy23.short_term_debt is None
    assert fy23.current_debt is not None


@pytest.mark.parametrize("symbol", SYMBOLS)
async def test_cross_endpoint_consistency(clients, symbol: str) -> None:
    av, _ = clients
    f = await av.get_fundamentals(symbol)
    ov = await av.get_overview(symbol)
    assert ov.shares_outstanding == f.quarterly.balance[0].common_stock_shares_outstanding
    assert ov.revenue_ttm == sum(r.total_revenue for r in f.quarterly.income)
    for inc, cf in zip(f.annual.income, f.annual.cash_flow, strict=True):
        assert inc.depreciation_and_amortization == cf.depreciation_depletion_and_amortization


def test_older_three_r_spelling_is_accepted() -> None:
    body = load("alphavantage/BALANCE_SHEET.KO.json")
    report = dict(body["annualReports"][0])
    report["otherNonCurrrentAssets"] = report.pop("otherNonCurrentAssets")
    parsed = av_module.parse_statement_reports({"annualReports": [report]}, "BALANCE_SHEET", "KO")
    assert parsed[0].other_non_current_assets == 12_410_000_000


@pytest.mark.parametrize("bad", ["12abc", "NaN", "Infinity", "1e"])
def test_a_malformed_number_is_a_bad_response(bad: str) -> None:
    body = load("alphavantage/INCOME_STATEMENT.KO.json")
    body["annualReports"][0]["totalRevenue"] = bad
    with pytest.raises(BadResponse) as caught:
        av_module.parse_statement_reports(body, "INCOME_STATEMENT", "KO")
    assert "totalRevenue" in str(caught.value)


def test_a_report_without_a_date_is_a_bad_response() -> None:
    body = load("alphavantage/CASH_FLOW.KO.json")
    body["annualReports"][1]["fiscalDateEnding"] = "None"
    with pytest.raises(BadResponse):
        av_module.parse_statement_reports(body, "CASH_FLOW", "KO")


def test_a_quote_without_a_price_is_a_bad_response() -> None:
    body = load("alphavantage/GLOBAL_QUOTE.KO.json")
    body["Global Quote"]["05. price"] = "None"
    with pytest.raises(BadResponse):
        av_module.parse_quote(body, "KO")


async def test_finnhub_has_no_fundamentals(clients, fakes) -> None:
    _, fh = clients
    with pytest.raises(Unsupported) as caught:
        await fh.get_fundamentals("AAPL")
    assert caught.value.data_type == "fundamentals"
    assert fakes["fh"].call_count == 0


# --------------------------------------------------------------------------- requests


async def test_alpha_vantage_request_shape(clients, fakes) -> None:
    av, _ = clients
    with pytest.raises(UnknownSymbol):  # the fake knows only the fixture symbols
        await av.get_quote("  brk.b ")
    params = fakes["av"].calls.last.request.url.params
    assert params["function"] == "GLOBAL_QUOTE"
    assert params["symbol"] == "BRK.B"  # normalised before sending
    assert params["apikey"] == AV_KEY


async def test_junk_symbols_never_reach_a_provider(clients, fakes) -> None:
    av, fh = clients
    for client in (av, fh):
        with pytest.raises(ValueError):
            await client.get_quote("AAPL&function=OVERVIEW")
    assert fakes["av"].call_count == 0 and fakes["fh"].call_count == 0


async def test_default_base_urls_are_the_real_providers() -> None:
    assert ALPHAVANTAGE_BASE_URL == "https://www.alphavantage.co"
    assert FINNHUB_BASE_URL == "https://finnhub.io/api/v1"
    async with httpx.AsyncClient() as http:
        av = AlphaVantageClient(http, api_key="x" * 16)
        fh = FinnhubClient(http, api_key="y" * 16)
    assert av.base_url == ALPHAVANTAGE_BASE_URL and fh.base_url == FINNHUB_BASE_URL
    assert "x" * 16 not in repr(av) and "y" * 16 not in repr(fh)


async def test_alpha_vantage_paces_its_requests(fakes) -> None:
    async with httpx.AsyncClient() as http:
        av = AlphaVantageClient(http, api_key=AV_KEY, base_url=AV_URL, retry=FAST,
                                min_interval=0.05)
        started = time.monotonic()
        await av.get_fundamentals("KO")  # three calls, two gaps
        assert time.monotonic() - started >= 0.1


# --------------------------------------------------------------------------- models


async def test_models_serialise_numbers_as_json_numbers(clients) -> None:
    av, _ = clients
    quote = await av.get_quote("AAPL")
    data = json.loads(quote.model_dump_json())
    assert data["price"] == 213.49 and data["volume"] == 60107582
    assert Quote.model_validate_json(quote.model_dump_json()).price == quote.price
    fundamentals = await av.get_fundamentals("KO")
    again = Fundamentals.model_validate_json(fundamentals.model_dump_json())
    assert again == fundamentals


@pytest.mark.parametrize("symbol", SYMBOLS)
async def test_benchmark_input_from_fundamentals(clients, symbol: str) -> None:
    av, _ = clients
    f = await av.get_fundamentals(symbol)
    ov = await av.get_overview(symbol)
    quote = await av.get_quote(symbol)
    b = BenchmarkInput.derive(symbol=symbol, fundamentals=f, overview=ov, quote=quote)
    latest = f.annual_periods()[-1]
    revenue = latest.income.total_revenue
    assert b.fiscal_year == 2024
    assert b.sector == ov.sector and b.industry == ov.industry
    assert b.operating_margin == pytest.approx(float(latest.income.operating_income / revenue))
    assert 0 < b.gross_margin < 1 and 0 < b.net_margin < 1
    assert b.capex_to_revenue > 0
    assert b.market_cap == pytest.approx(float(quote.price * ov.shares_outstanding))
    assert b.pe_ratio == pytest.approx(b.market_cap / float(latest.income.net_income))
    assert b.enterprise_value is not None and b.ev_to_ebit > 0


async def test_benchmark_input_from_a_finnhub_overview_alone(clients) -> None:
    _, fh = clients
    ov = await fh.get_overview("MSFT")
    b = BenchmarkInput.derive(symbol="MSFT", overview=ov)
    assert b.fiscal_year is None
    assert b.operating_margin == pytest.approx(0.449618)  # percent -> fraction
    assert b.pe_ratio == pytest.approx(31.2901)
    assert b.ev_to_ebitda == pytest.approx(20.3391)
    assert b.industry == "Technology"
    assert b.market_cap == pytest.approx(2_888_897_274_300)


def test_benchmark_multiples_skip_negative_denominators() -> None:
    ov = av_module.parse_overview(load("alphavantage/none-values.OVERVIEW.RIVN.json"), "RIVN")
    b = BenchmarkInput.derive(symbol="RIVN", overview=ov)
    assert b.pe_ratio is None and b.ev_to_ebitda is None
    assert b.gross_margin == pytest.approx(-1_200_000_000 / 4_970_000_000)
    assert b.operating_margin == pytest.approx(-0.813)
