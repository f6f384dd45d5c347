"""Alpha Vantage: quote, overview and multi-year fundamentals.

Alpha Vantage answers almost every outcome with HTTP 200, so a response is classified in
this order (shared/fixtures/marketdata/README.md, "Telling outcomes apart"):

1. Transient: HTTP 5xx/408/429, a transport failure, or a body that is not a JSON object.
2. InvalidKey: `Error Message`/`Information` saying "apikey is invalid or missing", or an
   `Information` about the demo key. (AV only notices a missing or empty key; a wrong one
   usually gets data.)
3. Throttled: `Note` (legacy per-minute), or `Information` with rate-limit wording: a burst
   ("per second", "sparingly"), else the daily quota ("per day"), else per minute.
4. PremiumEndpoint: `Information` about a "premium endpoint" and no rate-limit wording.
5. BadRequest: any other `Error Message` (except "Invalid API call" from a time-series
   function for a well-formed symbol, which means UnknownSymbol).
6. UnknownSymbol: `{"Global Quote": {}}` (or no `01. symbol`), `{}` for OVERVIEW, `{}` or no
   `annualReports` for a statement.
7. Data: strings are parsed to numbers; `"None"`, `"-"` and `""` mean missing.

Only Transient is retried. The key travels in the `apikey` query parameter (AV has no other
way), so it is redacted from every message this module writes and from httpx's log lines.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx

from epv_marketdata.providers._http import (
    ProviderClient,
    RetryPolicy,
    json_object,
    parse_decimal,
    redact,
)
from epv_marketdata.providers.errors import (
    BadRequest,
    BadResponse,
    InvalidKey,
    PremiumEndpoint,
    Throttled,
    Transient,
    UnknownSymbol,
)
from epv_marketdata.providers.models import (
    BalanceSheet,
    CashFlowStatement,
    FinancialStatements,
    Fundamentals,
    IncomeStatement,
    Overview,
    Quote,
)
from epv_marketdata.providers.symbols import is_valid_symbol, normalize_symbol

PROVIDER = "alphavantage"

#: Default for EPV_ALPHAVANTAGE_BASE_URL.
ALPHAVANTAGE_BASE_URL = "https://www.alphavantage.co"
#: The free tier's burst limit is about one request per second.
ALPHAVANTAGE_MIN_INTERVAL = 1.0
#: Seconds to wait after a burst (per-second) throttle, a legacy per-minute `Note`, or an
#: undocumented HTTP 429.
BURST_RETRY_AFTER = 2.0
MINUTE_RETRY_AFTER = 60.0
HTTP_429_RETRY_AFTER = 5.0

MISSING_MARKERS = frozenset({"None", "-", ""})

STATEMENT_FUNCTIONS = ("INCOME_STATEMENT", "BALANCE_SHEET", "CASH_FLOW")

_INVALID_KEY = re.compile(r"apikey is invalid or missing", re.IGNORECASE)
_DEMO_KEY = re.compile(r"\bdemo\b", re.IGNORECASE)
_RATE_LIMIT = re.compile(
    r"rate limit|call frequency|requests per day|per second|more sparingly", re.IGNORECASE)
_BURST = re.compile(r"per second|sparingly", re.IGNORECASE)
_DAILY = re.compile(r"per day", re.IGNORECASE)
_PREMIUM = re.compile(r"premium endpoint", re.IGNORECASE)
_INVALID_CALL = re.compile(r"^\s*Invalid API call", re.IGNORECASE)


# --------------------------------------------------------------------------- classification


def classify_response(
    *,
    function: str,
    symbol: str | None,
    status_code: int,
    content: bytes,
    headers: Mapping[str, str] | None = None,
    secret: str = "",
) -> dict[str, Any]:
    """Return the body of a data response, or raise the ProviderError it stands for.

    Pure: no I/O. `secret` (the API key) is redacted from any text put in an error.
    """
    ctx = {"provider": PROVIDER, "symbol": symbol}

    def text(value: object) -> str:
        return redact(str(value), secret)[:300]

    if status_code in (408, 429) or status_code >= 500:
        retry_after = None
        if status_code == 429:
            retry_after = _retry_after_header(headers) or HTTP_429_RETRY_AFTER
        raise Transient(f"Alpha Vantage {function}: HTTP {status_code}.", retry_after=retry_after,
                        status=status_code, **ctx)
    if not 200 <= status_code < 300:
        error_class = BadRequest if 400 <= status_code < 500 else BadResponse
        raise error_class(f"Alpha Vantage {function}: unexpected HTTP {status_code}.",
                          status=status_code, **ctx)

    body = json_object(content)
    if body is None:
        raise Transient(f"Alpha Vantage {function}: the body is not a JSON object "
                        f"({len(content)} bytes).", **ctx)

    error_message = body.get("Error Message")
    information = body.get("Information")
    note = body.get("Note")
    error_text = str(error_message) if error_message is not None else ""
    info_text = str(information) if information is not None else ""

    # 2. invalid key (only a missing or empty key, or the demo key, can be seen)
    if _INVALID_KEY.search(error_text) or _INVALID_KEY.search(info_text):
        raise InvalidKey(f"Alpha Vantage: {text(error_text or info_text)}", **ctx)
    if information is not None and _DEMO_KEY.search(info_text):
        raise InvalidKey(f"Alpha Vantage (demo key): {text(info_text)}", **ctx)

    # 3. throttled
    if note is not None:
        raise Throttled(f"Alpha Vantage throttled (per minute): {text(note)}", window="minute",
                        retry_after=MINUTE_RETRY_AFTER, **ctx)
    if information is not None and _RATE_LIMIT.search(info_text):
        if _BURST.search(info_text):
            raise Throttled(f"Alpha Vantage throttled (burst): {text(info_text)}",
                            window="second", retry_after=BURST_RETRY_AFTER, limit=1, **ctx)
        if _DAILY.search(info_text):
            limit = re.search(r"(\d+)\s+requests per day", info_text, re.IGNORECASE)
            raise Throttled(f"Alpha Vantage throttled (daily quota spent): {text(info_text)}",
                            window="day", retry_after=None,
                            limit=int(limit.group(1)) if limit else None, **ctx)
        raise Throttled(f"Alpha Vantage throttled: {text(info_text)}", window="minute",
                        retry_after=MINUTE_RETRY_AFTER, **ctx)

    # 4. premium endpoint / plan restriction
    if information is not None and _PREMIUM.search(info_text):
        raise PremiumEndpoint(f"Alpha Vantage {function} needs a premium plan: "
                              f"{text(info_text)}", **ctx)

    # 5. bad request (our bug), or an unknown symbol for a time-series function
    if error_message is not None:
        if (function.upper().startswith("TIME_SERIES") and _INVALID_CALL.search(error_text)
                and symbol and is_valid_symbol(symbol)):
            raise UnknownSymbol(**ctx)
        raise BadRequest(f"Alpha Vantage {function}: {text(error_text)}", **ctx)
    if information is not None:
        raise BadResponse(f"Alpha Vantage {function}: unrecognised notice: {text(info_text)}",
                          **ctx)

    # 6. unknown symbol
    if function == "GLOBAL_QUOTE":
        quote = body.get("Global Quote")
        if not isinstance(quote, dict) or not quote or "01. symbol" not in quote:
            raise UnknownSymbol(**ctx)
    elif function == "OVERVIEW":
        if not body or "Symbol" not in body:
            raise UnknownSymbol(**ctx)
    elif function in STATEMENT_FUNCTIONS:
        if not body or not body.get("annualReports"):
            raise UnknownSymbol(**ctx)
    return body


def _retry_after_header(headers: Mapping[str, str] | None) -> float | None:
    if not headers:
        return None
    value = headers.get("retry-after") or headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


# --------------------------------------------------------------------------- parsing


class _Parser:
    """Turns AV strings into model values; a malformed value is a BadResponse."""

    def __init__(self, function: str, symbol: str) -> None:
        self.function = function
        self.symbol = symbol

    def fail(self, message: str) -> BadResponse:
        return BadResponse(f"Alpha Vantage {self.function}: {message}", provider=PROVIDER,
                           symbol=self.symbol)

    def number(self, raw: Any, field: str) -> Decimal | None:
        if raw is None:
            return None
        if isinstance(raw, str):
            raw = raw.strip()
            if raw in MISSING_MARKERS:
                return None
        try:
            return parse_decimal(raw)
        except ValueError as exc:
            raise self.fail(f"field {field!r}: {exc}") from None

    def percent(self, raw: Any, field: str) -> Decimal | None:
        if isinstance(raw, str):
            raw = raw.strip().removesuffix("%")
        return self.number(raw, field)

    def integer(self, raw: Any, field: str) -> int | None:
        value = self.number(raw, field)
        if value is None:
            return None
        if value != value.to_integral_value():
            raise self.fail(f"field {field!r}: not a whole number")
        return int(value)

    def text(self, raw: Any) -> str | None:
        if raw is None:
            return None
        value = str(raw).strip()
        return None if value in MISSING_MARKERS else value

    def day(self, raw: Any, field: str, *, required: bool = False) -> date | None:
        value = self.text(raw)
        if value is None:
            if required:
                raise self.fail(f"field {field!r} is missing")
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise self.fail(f"field {field!r}: not a date: {value[:40]!r}") from None


def parse_quote(body: Mapping[str, Any], symbol: str, *, fetched_at: datetime | None = None
                ) -> Quote:
    p = _Parser("GLOBAL_QUOTE", symbol)
    q = body.get("Global Quote")
    if not isinstance(q, dict):
        raise p.fail("no 'Global Quote' object")
    price = p.number(q.get("05. price"), "05. price")
    if price is None:
        raise p.fail("the price ('05. price') is missing")
    return Quote(
        symbol=symbol,
        source=PROVIDER,
        price=price,
        open=p.number(q.get("02. open"), "02. open"),
        high=p.number(q.get("03. high"), "03. high"),
        low=p.number(q.get("04. low"), "04. low"),
        previous_close=p.number(q.get("08. previous close"), "08. previous close"),
        change=p.number(q.get("09. change"), "09. change"),
        change_percent=p.percent(q.get("10. change percent"), "10. change percent"),
        volume=p.integer(q.get("06. volume"), "06. volume"),
        latest_trading_day=p.day(q.get("07. latest trading day"), "07. latest trading day"),
        fetched_at=fetched_at,
    )


#: OVERVIEW key -> Overview field, for numbers. Where AV writes "0" as a placeholder for a
#: ratio that cannot be 0 (a P/E, a PEG, a target price), "0" counts as missing.
_OVERVIEW_NUMBERS: dict[str, tuple[str, bool]] = {
    "MarketCapitalization": ("market_capitalization", False),
    "SharesOutstanding": ("shares_outstanding", False),
    "RevenueTTM": ("revenue_ttm", False),
    "GrossProfitTTM": ("gross_profit_ttm", False),
    "EBITDA": ("ebitda", False),
    "Beta": ("beta", False),
    "PERatio": ("pe_ratio", True),
    "TrailingPE": ("trailing_pe", True),
    "ForwardPE": ("forward_pe", True),
    "PEGRatio": ("peg_ratio", True),
    "PriceToBookRatio": ("price_to_book", True),
    "PriceToSalesRatioTTM": ("price_to_sales_ttm", True),
    "EVToRevenue": ("ev_to_revenue", True),
    "EVToEBITDA": ("ev_to_ebitda", True),
    "EPS": ("eps", False),
    "DilutedEPSTTM": ("diluted_eps_ttm", False),
    "BookValue": ("book_value_per_share", False),
    "RevenuePerShareTTM": ("revenue_per_share_ttm", False),
    "DividendPerShare": ("dividend_per_share", False),
    "DividendYield": ("dividend_yield", False),
    "ProfitMargin": ("profit_margin", False),
    "OperatingMarginTTM": ("operating_margin_ttm", False),
    "ReturnOnAssetsTTM": ("return_on_assets_ttm", False),
    "ReturnOnEquityTTM": ("return_on_equity_ttm", False),
    "52WeekHigh": ("week_52_high", False),
    "52WeekLow": ("week_52_low", False),
    "AnalystTargetPrice": ("analyst_target_price", True),
}
_OVERVIEW_TEXTS = {
    "Name": "name",
    "Description": "description",
    "AssetType": "asset_type",
    "Exchange": "exchange",
    "Currency": "currency",
    "Country": "country",
    "Sector": "sector",
    "Industry": "industry",
    "FiscalYearEnd": "fiscal_year_end",
    "OfficialSite": "web_url",
}


def parse_overview(body: Mapping[str, Any], symbol: str, *, fetched_at: datetime | None = None
                   ) -> Overview:
    p = _Parser("OVERVIEW", symbol)
    values: dict[str, Any] = {"symbol": symbol, "source": PROVIDER, "fetched_at": fetched_at}
    for key, field in _OVERVIEW_TEXTS.items():
        values[field] = p.text(body.get(key))
    for key, (field, zero_is_missing) in _OVERVIEW_NUMBERS.items():
        number = p.number(body.get(key), key)
        values[field] = None if zero_is_missing and number == 0 else number
    values["latest_quarter"] = p.day(body.get("LatestQuarter"), "LatestQuarter")
    gross, revenue = values["gross_profit_ttm"], values["revenue_ttm"]
    values["gross_margin_ttm"] = gross / revenue if gross is not None and revenue else None
    return Overview(**values)


_INCOME_FIELDS = {
    "grossProfit": "gross_profit",
    "totalRevenue": "total_revenue",
    "costOfRevenue": "cost_of_revenue",
    "costofGoodsAndServicesSold": "cost_of_goods_and_services_sold",
    "costOfGoodsAndServicesSold": "cost_of_goods_and_services_sold",
    "operatingIncome": "operating_income",
    "sellingGeneralAndAdministrative": "selling_general_and_administrative",
    "researchAndDevelopment": "research_and_development",
    "operatingExpenses": "operating_expenses",
    "investmentIncomeNet": "investment_income_net",
    "netInterestIncome": "net_interest_income",
    "interestIncome": "interest_income",
    "interestExpense": "interest_expense",
    "nonInterestIncome": "non_interest_income",
    "otherNonOperatingIncome": "other_non_operating_income",
    "depreciation": "depreciation",
    "depreciationAndAmortization": "depreciation_and_amortization",
    "incomeBeforeTax": "income_before_tax",
    "incomeTaxExpense": "income_tax_expense",
    "interestAndDebtExpense": "interest_and_debt_expense",
    "netIncomeFromContinuingOperations": "net_income_from_continuing_operations",
    "comprehensiveIncomeNetOfTax": "comprehensive_income_net_of_tax",
    "ebit": "ebit",
    "ebitda": "ebitda",
    "netIncome": "net_income",
}
_BALANCE_FIELDS = {
    "totalAssets": "total_assets",
    "totalCurrentAssets": "total_current_assets",
    "cashAndCashEquivalentsAtCarryingValue": "cash_and_cash_equivalents",
    "cashAndShortTermInvestments": "cash_and_short_term_investments",
    "inventory": "inventory",
    "currentNetReceivables": "current_net_receivables",
    "totalNonCurrentAssets": "total_non_current_assets",
    "propertyPlantEquipment": "property_plant_equipment",
    "accumulatedDepreciationAmortizationPPE": "accumulated_depreciation_amortization_ppe",
    "intangibleAssets": "intangible_assets",
    "intangibleAssetsExcludingGoodwill": "intangible_assets_excluding_goodwill",
    "goodwill": "goodwill",
    "investments": "investments",
    "longTermInvestments": "long_term_investments",
    "shortTermInvestments": "short_term_investments",
    "otherCurrentAssets": "other_current_assets",
    "otherNonCurrentAssets": "other_non_current_assets",
    "otherNonCurrrentAssets": "other_non_current_assets",  # older AV spelling, three r's
    "totalLiabilities": "total_liabilities",
    "totalCurrentLiabilities": "total_current_liabilities",
    "currentAccountsPayable": "current_accounts_payable",
    "deferredRevenue": "deferred_revenue",
    "currentDebt": "current_debt",
    "shortTermDebt": "short_term_debt",
    "totalNonCurrentLiabilities": "total_non_current_liabilities",
    "capitalLeaseObligations": "capital_lease_obligations",
    "longTermDebt": "long_term_debt",
    "currentLongTermDebt": "current_long_term_debt",
    "longTermDebtNoncurrent": "long_term_debt_noncurrent",
    "shortLongTermDebtTotal": "short_long_term_debt_total",
    "otherCurrentLiabilities": "other_current_liabilities",
    "otherNonCurrentLiabilities": "other_non_current_liabilities",
    "totalShareholderEquity": "total_shareholder_equity",
    "treasuryStock": "treasury_stock",
    "retainedEarnings": "retained_earnings",
    "commonStock": "common_stock",
    "commonStockSharesOutstanding": "common_stock_shares_outstanding",
}
_CASH_FLOW_FIELDS = {
    "operatingCashflow": "operating_cashflow",
    "paymentsForOperatingActivities": "payments_for_operating_activities",
    "proceedsFromOperatingActivities": "proceeds_from_operating_activities",
    "changeInOperatingLiabilities": "change_in_operating_liabilities",
    "changeInOperatingAssets": "change_in_operating_assets",
    "depreciationDepletionAndAmortization": "depreciation_depletion_and_amortization",
    "capitalExpenditures": "capital_expenditures",
    "changeInReceivables": "change_in_receivables",
    "changeInInventory": "change_in_inventory",
    "profitLoss": "profit_loss",
    "cashflowFromInvestment": "cashflow_from_investment",
    "cashflowFromFinancing": "cashflow_from_financing",
    "proceedsFromRepaymentsOfShortTermDebt": "proceeds_from_repayments_of_short_term_debt",
    "paymentsForRepurchaseOfCommonStock": "payments_for_repurchase_of_common_stock",
    "paymentsForRepurchaseOfEquity": "payments_for_repurchase_of_equity",
    "paymentsForRepurchaseOfPreferredStock": "payments_for_repurchase_of_preferred_stock",
    "dividendPayout": "dividend_payout",
    "dividendPayoutCommonStock": "dividend_payout_common_stock",
    "dividendPayoutPreferredStock": "dividend_payout_preferred_stock",
    "proceedsFromIssuanceOfCommonStock": "proceeds_from_issuance_of_common_stock",
    "proceedsFromIssuanceOfLongTermDebtAndCapitalSecuritiesNet":
        "proceeds_from_issuance_of_long_term_debt_and_capital_securities_net",
    "proceedsFromIssuanceOfPreferredStock": "proceeds_from_issuance_of_preferred_stock",
    "proceedsFromRepurchaseOfEquity": "proceeds_from_repurchase_of_equity",
    "proceedsFromSaleOfTreasuryStock": "proceeds_from_sale_of_treasury_stock",
    "changeInCashAndCashEquivalents": "change_in_cash_and_cash_equivalents",
    "changeInExchangeRate": "change_in_exchange_rate",
    "netIncome": "net_income",
}
_STATEMENTS: dict[str, tuple[type, dict[str, str]]] = {
    "INCOME_STATEMENT": (IncomeStatement, _INCOME_FIELDS),
    "BALANCE_SHEET": (BalanceSheet, _BALANCE_FIELDS),
    "CASH_FLOW": (CashFlowStatement, _CASH_FLOW_FIELDS),
}


def parse_statement_reports(body: Mapping[str, Any], function: str, symbol: str, *,
                            key: str = "annualReports") -> list[Any]:
    """The reports under `key` of one statement response, as models, in AV's order."""
    p = _Parser(function, symbol)
    model, fields = _STATEMENTS[function]
    reports = body.get(key)
    if reports is None:
        return []
    if not isinstance(reports, list):
        raise p.fail(f"{key!r} is not a list")
    parsed = []
    for index, report in enumerate(reports):
        if not isinstance(report, dict):
            raise p.fail(f"{key}[{index}] is not an object")
        values: dict[str, Any] = {
            "fiscal_date_ending": p.day(report.get("fiscalDateEnding"),
                                        f"{key}[{index}].fiscalDateEnding", required=True),
            "reported_currency": p.text(report.get("reportedCurrency")),
        }
        for av_key, field in fields.items():
            if av_key in report:
                number = p.number(report[av_key], f"{key}[{index}].{av_key}")
                if number is not None or field not in values:
                    values[field] = number
        parsed.append(model(**values))
    return parsed


def parse_fundamentals(bodies: Mapping[str, Mapping[str, Any]], symbol: str, *,
                       fetched_at: datetime | None = None) -> Fundamentals:
    """Build Fundamentals from the three statement bodies, keyed by AV function name."""
    def statements(key: str) -> FinancialStatements:
        return FinancialStatements(
            income=parse_statement_reports(bodies["INCOME_STATEMENT"], "INCOME_STATEMENT",
                                           symbol, key=key),
            balance=parse_statement_reports(bodies["BALANCE_SHEET"], "BALANCE_SHEET", symbol,
                                            key=key),
            cash_flow=parse_statement_reports(bodies["CASH_FLOW"], "CASH_FLOW", symbol, key=key),
        )

    return Fundamentals(symbol=symbol, source=PROVIDER, annual=statements("annualReports"),
                        quarterly=statements("quarterlyReports"), fetched_at=fetched_at)


# --------------------------------------------------------------------------- client


class AlphaVantageClient(ProviderClient):
    """Async Alpha Vantage client over an injected httpx.AsyncClient.

    `min_interval` spaces this client's requests (the free tier allows about 1 per second);
    `retry` bounds the retries of transient failures.
    """

    provider = PROVIDER

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_key: str | None,
        base_url: str = ALPHAVANTAGE_BASE_URL,
        retry: RetryPolicy | None = None,
        min_interval: float = ALPHAVANTAGE_MIN_INTERVAL,
    ) -> None:
        super().__init__(http, api_key=api_key, base_url=base_url, retry=retry,
                         min_interval=min_interval)

    async def get_quote(self, symbol: str) -> Quote:
        symbol = normalize_symbol(symbol)
        body = await self.query("GLOBAL_QUOTE", symbol)
        return parse_quote(body, symbol, fetched_at=_now())

    async def get_overview(self, symbol: str) -> Overview:
        symbol = normalize_symbol(symbol)
        body = await self.query("OVERVIEW", symbol)
        return parse_overview(body, symbol, fetched_at=_now())

    async def get_fundamentals(self, symbol: str) -> Fundamentals:
        """INCOME_STATEMENT, BALANCE_SHEET and CASH_FLOW (three calls, in that order).

        The first failing call decides the outcome; nothing partial is returned.
        """
        symbol = normalize_symbol(symbol)
        bodies = {function: await self.query(function, symbol)
                  for function in STATEMENT_FUNCTIONS}
        return parse_fundamentals(bodies, symbol, fetched_at=_now())

    async def query(self, function: str, symbol: str | None, **params: str) -> dict[str, Any]:
        """One classified AV call, retried on Transient only; returns the data body."""
        self._require_key(symbol)

        async def attempt() -> dict[str, Any]:
            query = {"function": function, **params}
            if symbol is not None:
                query["symbol"] = symbol
            query["apikey"] = self._api_key
            response = await self._get("/query", params=query, what=function, symbol=symbol)
            return classify_response(
                function=function, symbol=symbol, status_code=response.status_code,
                content=response.content, headers=response.headers, secret=self._api_key,
            )

        return await self._with_retries(attempt, what=function, symbol=symbol)


def _now() -> datetime:
    return datetime.now(UTC)


__all__ = [
    "ALPHAVANTAGE_BASE_URL",
    "ALPHAVANTAGE_MIN_INTERVAL",
    "AlphaVantageClient",
    "classify_response",
    "parse_fundamentals",
    "parse_overview",
    "parse_quote",
]
