"""Fundamentals in the case schema: equal to fundamentals-expected/, and every rule of the
README section "Fundamentals in the case schema"."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx

from epv_common.testing.shared import marketdata_fixtures
from epv_marketdata.providers import (
    AlphaVantageClient,
    RetryPolicy,
    UnknownSymbol,
    fundamentals_to_case,
)
from epv_marketdata.providers import alphavantage as av_module
from epv_marketdata.providers.case_shape import FISCAL_YEAR_FIELDS, to_millions

FIXTURES = marketdata_fixtures()
AV_URL = "https://av.test"
SYMBOLS = ["AAPL", "MSFT", "KO"]
STATEMENTS = ("INCOME_STATEMENT", "BALANCE_SHEET", "CASH_FLOW")
SHARES_WARNING = ("FUNDAMENTALS_SHARES_NOT_DILUTED", "fiscal_years[*].shares_diluted")


def load(relative: str) -> dict:
    return json.loads((FIXTURES / relative).read_text())


def bodies(symbol: str) -> dict[str, dict]:
    return {f: load(f"alphavantage/{f}.{symbol}.json") for f in STATEMENTS}


def annual(body: dict, year: int) -> dict:
    return next(r for r in body["annualReports"] if r["fiscalDateEnding"].startswith(str(year)))


def case(ticker: str, edit: Callable[[dict[str, dict]], None] | None = None, *,
         overview: dict | None | str = "fixture", quote: dict | None | str = "fixture",
         **kwargs: Any) -> dict:
    """Parse (edited copies of) the fixture bodies and map them to the case shape."""
    files = ticker.upper()
    raw = bodies(files)
    if edit is not None:
        edit(raw)
    fundamentals = av_module.parse_fundamentals(raw, ticker)
    ov_body = load(f"alphavantage/OVERVIEW.{files}.json") if overview == "fixture" else overview
    q_body = load(f"alphavantage/GLOBAL_QUOTE.{files}.json") if quote == "fixture" else quote
    ov = av_module.parse_overview(ov_body, ticker) if ov_body else None
    q = av_module.parse_quote(q_body, ticker) if q_body else None
    return fundamentals_to_case(fundamentals, ov, q, **kwargs)


def comparable(answer: dict) -> dict:
    """What the README says to compare: everything but as_of, warnings as a set."""
    return {
        "symbol": answer["symbol"],
        "source": answer["source"],
        "financial_data": answer["financial_data"],
        "warnings": {(w["code"], w["field"]) for w in answer["warnings"]},
    }


def years(answer: dict) -> list[dict]:
    return answer["financial_data"]["fiscal_years"]


def year(answer: dict, label: int) -> dict:
    return next(y for y in years(answer) if y["fiscal_year"] == label)


# --------------------------------------------------------------------------- the expected files


def av_fake(request: httpx.Request) -> httpx.Response:
    function, symbol = request.url.params["function"], request.url.params["symbol"]
    path = FIXTURES / "alphavantage" / f"{function}.{symbol}.json"
    if not path.exists():
        unknown = "INCOME_STATEMENT" if function in STATEMENTS else function
        path = FIXTURES / "alphavantage" / f"unknown-symbol.{unknown}.json"
    return httpx.Response(200, content=path.read_bytes(),
                          headers={"content-type": "application/json"})


async def _fetch_case(symbol: str) -> dict:
    """The five AV calls the service makes, through the real client and a faked AV."""
    with respx.mock(base_url=AV_URL) as router:
        route = router.get("/query").mock(side_effect=av_fake)
        async with httpx.AsyncClient() as http:
            av = AlphaVantageClient(http, api_key="case-shape-key-1234", base_url=AV_URL,
                                    retry=RetryPolicy(attempts=1), min_interval=0)
            fundamentals = await av.get_fundamentals(symbol.lower())
            overview = await av.get_overview(symbol)
            quote = await av.get_quote(symbol)
        assert route.call_count == 5
    return fundamentals_to_case(fundamentals, overview, quote, symbol=symbol.lower())


@pytest.mark.parametrize("symbol", SYMBOLS)
async def test_output_equals_fundamentals_expected(symbol: str) -> None:
    answer = await _fetch_case(symbol)
    expected = load(f"fundamentals-expected/{symbol}.json")
    assert comparable(answer) == comparable(expected)
    # as_of is the fetch time, RFC 3339 in UTC
    as_of = datetime.fromisoformat(answer["as_of"].replace("Z", "+00:00"))
    assert answer["as_of"].endswith("Z")
    assert abs(datetime.now(UTC) - as_of) < timedelta(minutes=5)
    # key order follows epv-method.md 2.2, as in the expected files
    for got, want in zip(years(answer), years(expected), strict=True):
        assert list(got) == list(want) == list(FISCAL_YEAR_FIELDS)
    assert list(answer["financial_data"]) == ["schema_version", "company", "fiscal_years",
                                              "assumptions"]
    # a plain JSON document
    assert json.loads(json.dumps(answer)) == answer


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_types_of_the_output(symbol: str) -> None:
    answer = case(symbol)
    for entry in years(answer):
        assert type(entry["fiscal_year"]) is int
        assert all(type(entry[k]) is float for k in FISCAL_YEAR_FIELDS[1:])


async def test_unknown_statement_symbol_gives_no_document() -> None:
    with pytest.raises(UnknownSymbol):
        await _fetch_case("ZZZZ")


# --------------------------------------------------------------------------- years


def test_a_year_missing_a_required_field_is_left_out_with_a_warning() -> None:
    def edit(raw: dict) -> None:
        annual(raw["BALANCE_SHEET"], 2022)["propertyPlantEquipment"] = "None"

    answer = case("MSFT", edit)
    assert [y["fiscal_year"] for y in years(answer)] == [2020, 2021, 2023, 2024]
    assert {(w["code"], w["field"]) for w in answer["warnings"]} == {
        SHARES_WARNING,
        ("FUNDAMENTALS_YEAR_INCOMPLETE", "fiscal_years[fiscal_year=2022].ppe_net"),
    }


def test_one_warning_per_missing_field_in_table_order() -> None:
    def edit(raw: dict) -> None:
        annual(raw["INCOME_STATEMENT"], 2021)["sellingGeneralAndAdministrative"] = "-"
        annual(raw["INCOME_STATEMENT"], 2021)["totalRevenue"] = ""
        del annual(raw["BALANCE_SHEET"], 2021)["commonStockSharesOutstanding"]
        annual(raw["CASH_FLOW"], 2021)["capitalExpenditures"] = "None"

    answer = case("KO", edit)
    incomplete = [w["field"] for w in answer["warnings"]
                  if w["code"] == "FUNDAMENTALS_YEAR_INCOMPLETE"]
    assert incomplete == [f"fiscal_years[fiscal_year=2021].{f}" for f in
                          ("revenue", "capital_expenditures", "shares_diluted", "sga")]
    assert 2021 not in [y["fiscal_year"] for y in years(answer)]


def test_only_dates_in_all_three_statements_are_used() -> None:
    def edit(raw: dict) -> None:
        annual(raw["CASH_FLOW"], 2020)["fiscalDateEnding"] = "2020-12-30"

    answer = case("KO", edit)
    assert [y["fiscal_year"] for y in years(answer)] == [2021, 2022, 2023, 2024]
    assert {(w["code"], w["field"]) for w in answer["warnings"]} == {SHARES_WARNING}


def test_no_common_year_gives_an_empty_list_and_no_warning() -> None:
    def edit(raw: dict) -> None:
        for report in raw["BALANCE_SHEET"]["annualReports"]:
            report["fiscalDateEnding"] = report["fiscalDateEnding"][:8] + "15"

    answer = case("AAPL", edit)
    assert years(answer) == []
    assert answer["warnings"] == []
    assert answer["financial_data"]["company"]["currency"] == "USD"  # newest IS report


def test_a_repeated_year_label_is_passed_on_as_is() -> None:
    def edit(raw: dict) -> None:
        for function in STATEMENTS:
            annual(raw[function], 2020)["fiscalDateEnding"] = "2021-01-31"

    answer = case("KO", edit)
    assert [y["fiscal_year"] for y in years(answer)] == [2021, 2021, 2022, 2023, 2024]
    # sorted by date within the label: the January year first
    assert years(answer)[0]["revenue"] == to_millions(
        Decimal(annual(bodies("KO")["INCOME_STATEMENT"], 2020)["totalRevenue"]))


# --------------------------------------------------------------------------- fallbacks


def test_field_fallbacks() -> None:
    def edit(raw: dict) -> None:
        bs = annual(raw["BALANCE_SHEET"], 2024)
        bs["cashAndShortTermInvestments"] = "None"
        bs["intangibleAssets"] = "None"
        cf = annual(raw["CASH_FLOW"], 2024)
        cf["depreciationDepletionAndAmortization"] = "None"
        cf["capitalExpenditures"] = "-2064000000"  # the cash-flow sign
        annual(raw["INCOME_STATEMENT"], 2024)["depreciationAndAmortization"] = "1111000000"

    fy = year(case("KO", edit), 2024)
    assert fy["cash"] == 10828.0  # cashAndCashEquivalentsAtCarryingValue
    assert fy["goodwill_intangibles"] == 18139.0 + 15700.0  # goodwill + excluding goodwill
    assert fy["depreciation_amortization"] == 1111.0  # IS depreciationAndAmortization
    assert fy["capital_expenditures"] == 2064.0  # absolute value


def test_goodwill_intangibles_is_zero_when_all_three_are_missing() -> None:
    assert all(y["goodwill_intangibles"] == 0 for y in years(case("AAPL")))


def test_rnd_none_counts_as_zero() -> None:
    assert all(y["rnd"] == 0 for y in years(case("KO")))


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        # longTermDebtNoncurrent + currentDebt
        ({"shortLongTermDebtTotal": "None"}, 42375.0 + 5662.0),
        # (longTermDebt - currentLongTermDebt) + (shortTermDebt + currentLongTermDebt)
        ({"shortLongTermDebtTotal": "None", "longTermDebtNoncurrent": "None",
          "currentDebt": "None"}, (43874.0 - 1499.0) + (4163.0 + 1499.0)),
        # every debt field missing: 0, as for a company without debt
        ({"shortLongTermDebtTotal": "None", "longTermDebtNoncurrent": "None",
          "longTermDebt": "None", "currentLongTermDebt": "None", "currentDebt": "None",
          "shortTermDebt": "None"}, 0.0),
    ],
)
def test_total_debt_refined_fallback(fields: dict[str, str], expected: float) -> None:
    def edit(raw: dict) -> None:
        annual(raw["BALANCE_SHEET"], 2024).update(fields)

    answer = case("KO", edit)
    assert year(answer, 2024)["total_debt"] == pytest.approx(expected)
    assert 2024 in [y["fiscal_year"] for y in years(answer)]


def test_non_interest_bearing_liabilities_subtracts_current_debt_first() -> None:
    fy = year(case("KO"), 2024)
    assert fy["non_interest_bearing_liabilities"] == 25249.0 - 5662.0  # 19,587

    def edit(raw: dict) -> None:
        annual(raw["BALANCE_SHEET"], 2024)["currentDebt"] = "None"

    fy = year(case("KO", edit), 2024)
    assert fy["non_interest_bearing_liabilities"] == 25249.0 - (4163.0 + 1499.0)


@pytest.mark.parametrize("total_current_liabilities", ["None", "1000000"])
def test_non_interest_bearing_liabilities_left_out_when_missing_or_negative(
        total_current_liabilities: str) -> None:
    def edit(raw: dict) -> None:
        annual(raw["BALANCE_SHEET"], 2023)["totalCurrentLiabilities"] = total_current_liabilities

    answer = case("KO", edit)
    fy = year(answer, 2023)
    assert "non_interest_bearing_liabilities" not in fy
    assert list(fy) == list(FISCAL_YEAR_FIELDS[:-1])
    assert {(w["code"], w["field"]) for w in answer["warnings"]} == {SHARES_WARNING}


# --------------------------------------------------------------------------- company + assumptions


def test_without_overview_and_quote() -> None:
    answer = case("msft", overview=None, quote=None, symbol="msft")
    company = answer["financial_data"]["company"]
    assert answer["symbol"] == "MSFT"
    assert company == {"name": "MSFT", "ticker": "MSFT", "currency": "USD", "units": "millions"}
    assert answer["financial_data"]["assumptions"] == {}
    assert len(years(answer)) == 5


def test_empty_overview_body_is_the_same_as_none() -> None:
    with pytest.raises(UnknownSymbol):
        av_module.classify_response(function="OVERVIEW", symbol="KO", status_code=200,
                                    content=b"{}")
    assert case("KO", overview=None)["financial_data"]["company"]["name"] == "KO"


def test_currency_falls_back_to_the_overview_then_is_left_out() -> None:
    def edit(raw: dict) -> None:
        for report in raw["INCOME_STATEMENT"]["annualReports"]:
            report["reportedCurrency"] = "None"

    overview = load("alphavantage/OVERVIEW.KO.json") | {"Currency": "EUR"}
    assert case("KO", edit, overview=overview)["financial_data"]["company"]["currency"] == "EUR"
    overview["Currency"] = "None"
    company = case("KO", edit, overview=overview)["financial_data"]["company"]
    assert "currency" not in company
    assert list(company) == ["name", "ticker", "units"]


def test_currency_is_that_of_the_newest_kept_year() -> None:
    def edit(raw: dict) -> None:
        annual(raw["INCOME_STATEMENT"], 2024)["reportedCurrency"] = "CHF"
        annual(raw["INCOME_STATEMENT"], 2023)["reportedCurrency"] = "GBP"
        annual(raw["BALANCE_SHEET"], 2024)["totalAssets"] = "None"  # 2024 is left out

    assert case("KO", edit)["financial_data"]["company"]["currency"] == "GBP"


@pytest.mark.parametrize(
    ("beta", "written"),
    [("1.178", 1.178), ("0", 0.0), ("5", 5.0), ("5.01", None), ("-0.2", None), ("None", None),
     ("-", None)],
)
def test_beta_is_written_only_inside_its_range(beta: str, written: float | None) -> None:
    overview = load("alphavantage/OVERVIEW.AAPL.json") | {"Beta": beta}
    assumptions = case("AAPL", overview=overview)["financial_data"]["assumptions"]
    assert assumptions.get("beta") == written


@pytest.mark.parametrize(
    ("price", "written"),
    [("213.4900", 213.49), ("10000000.0000", 1e7), ("0.0000", None), ("10000000.0100", None),
     ("-1.0000", None)],
)
def test_price_is_written_only_inside_its_range(price: str, written: float | None) -> None:
    quote = load("alphavantage/GLOBAL_QUOTE.AAPL.json")
    quote["Global Quote"]["05. price"] = price
    assumptions = case("AAPL", quote=quote)["financial_data"]["assumptions"]
    assert assumptions.get("current_share_price") == written


# --------------------------------------------------------------------------- scale + as_of


def test_scale_is_millions_rounded_half_even_to_six_decimals() -> None:
    assert to_millions(Decimal("15116786000")) == 15116.786
    assert to_millions(Decimal("0.5")) == 0.0  # 0.0000005 -> 0.000000 (half to even)
    assert to_millions(Decimal("1.5")) == 0.000002  # 0.0000015 -> 0.000002
    assert to_millions(Decimal("2.5")) == 0.000002  # 0.0000025 -> 0.000002
    assert to_millions(Decimal("-1234567")) == -1.234567


def test_as_of_is_rfc3339_utc() -> None:
    moment = datetime(2025, 3, 14, 17, 5, tzinfo=timezone(timedelta(hours=-4)))
    answer = case("KO", as_of=moment)
    assert answer["as_of"] == "2025-03-14T21:05:00Z"
    assert list(answer) == ["symbol", "source", "as_of", "financial_data", "warnings"]


def test_input_documents_are_not_modified() -> None:
    raw = bodies("KO")
    before = copy.deepcopy(raw)
    fundamentals = av_module.parse_fundamentals(raw, "KO")
    dumped = fundamentals.model_dump()
    fundamentals_to_case(fundamentals)
    assert raw == before and fundamentals.model_dump() == dumped
