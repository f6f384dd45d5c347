"""Finnhub: quote and overview (profile2 + basic financials). No multi-year statements.

Finnhub uses real status codes, so the status decides first
(shared/fixtures/marketdata/README.md, "Telling outcomes apart"):

1. 429: Throttled (until `X-Ratelimit-Reset` if sent, else the next minute boundary);
   but an old-style 429 "Please sign up for a free account" means an empty token: InvalidKey.
2. 401 "Invalid API key" / "Please use an API key": InvalidKey.
3. 403, or a 401 "You don't have access to this resource": PremiumEndpoint (plan or market).
4. 5xx, 408, transport failures and non-JSON bodies: Transient (the only class retried).
5. 200 with an unknown symbol: `/quote` all zeros (`c == 0 and t == 0`), `/stock/profile2`
   `{}`, `/stock/metric` with an empty `metric` map: UnknownSymbol. Because Finnhub has
   briefly served all-zero quotes for valid symbols, an all-zero quote is checked against
   profile2: a known company makes it Transient, not UnknownSymbol.

The key is sent in the `X-Finnhub-Token` header, never in the URL.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
    Unsupported,
)
from epv_marketdata.providers.models import Fundamentals, Overview, Quote
from epv_marketdata.providers.symbols import normalize_symbol

PROVIDER = "finnhub"

#: Default for EPV_FINNHUB_BASE_URL.
FINNHUB_BASE_URL = "https://finnhub.io/api/v1"
TOKEN_HEADER = "X-Finnhub-Token"

QUOTE = "/quote"
PROFILE = "/stock/profile2"
METRIC = "/stock/metric"

MILLION = Decimal(1_000_000)
HUNDRED = Decimal(100)

_MARKET_TZ = "America/New_York"


# --------------------------------------------------------------------------- classification


def classify_response(
    *,
    endpoint: str,
    symbol: str | None,
    status_code: int,
    content: bytes,
    headers: Mapping[str, str] | None = None,
    secret: str = "",
    now: float | None = None,
) -> dict[str, Any]:
    """Return the body of a data response, or raise the ProviderError it stands for.

    Pure: no I/O. `now` (Unix seconds) is for computing retry-after; `secret` is redacted.
    """
    ctx = {"provider": PROVIDER, "symbol": symbol}
    body = json_object(content)
    error_text = redact(str(body.get("error", "")), secret)[:300] if body else ""
    lowered = error_text.lower()

    if status_code == 429:
        if "sign up for a free account" in lowered:
            raise InvalidKey(f"Finnhub: {error_text} (an empty token)", **ctx)
        limit, retry_after = _rate_limit_headers(headers, now)
        raise Throttled(f"Finnhub throttled: {error_text or 'HTTP 429'}", window="minute",
                        retry_after=retry_after, limit=limit, **ctx)
    if status_code == 401:
        if "access to this resource" in lowered:
            raise PremiumEndpoint(f"Finnhub {endpoint}: {error_text}", **ctx)
        raise InvalidKey(f"Finnhub: {error_text or 'HTTP 401'}", **ctx)
    if status_code == 403:
        raise PremiumEndpoint(f"Finnhub {endpoint}: {error_text or 'HTTP 403'}", **ctx)
    if status_code == 408 or status_code >= 500:
        raise Transient(f"Finnhub {endpoint}: HTTP {status_code}.", status=status_code, **ctx)
    if not 200 <= status_code < 300:
        error_class = BadRequest if 400 <= status_code < 500 else BadResponse
        raise error_class(f"Finnhub {endpoint}: unexpected HTTP {status_code}"
                          f"{': ' + error_text if error_text else ''}.", status=status_code,
                          **ctx)
    if body is None:
        raise Transient(f"Finnhub {endpoint}: the body is not a JSON object "
                        f"({len(content)} bytes).", **ctx)
    if "error" in body:
        raise BadRequest(f"Finnhub {endpoint}: {error_text}", **ctx)

    if endpoint == QUOTE:
        if _is_zero(body.get("c")) and _is_zero(body.get("t")):
            raise UnknownSymbol(**ctx)
    elif endpoint == PROFILE:
        if not body or "ticker" not in body:
            raise UnknownSymbol(**ctx)
    elif endpoint == METRIC:
        if not body.get("metric"):
            raise UnknownSymbol(**ctx)
    return body


def _is_zero(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == 0


def _rate_limit_headers(headers: Mapping[str, str] | None,
                        now: float | None) -> tuple[int | None, float]:
    now = time.time() if now is None else now
    headers = headers or {}
    limit = _int_header(headers, "x-ratelimit-limit")
    reset = _int_header(headers, "x-ratelimit-reset")
    if reset is not None and reset > 0:
        return limit, max(0.0, reset - now)
    return limit, 60.0 - math.fmod(now, 60.0)


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name) or headers.get(name.title())
    try:
        return int(float(value)) if value is not None else None
    except ValueError:
        return None


# --------------------------------------------------------------------------- parsing


class _Parser:
    def __init__(self, endpoint: str, symbol: str) -> None:
        self.endpoint = endpoint
        self.symbol = symbol

    def fail(self, message: str) -> BadResponse:
        return BadResponse(f"Finnhub {self.endpoint}: {message}", provider=PROVIDER,
                           symbol=self.symbol)

    def number(self, raw: Any, field: str, *, scale: Decimal | None = None,
               divide: Decimal | None = None) -> Decimal | None:
        if raw is None or raw == "":
            return None
        try:
            value = parse_decimal(raw)
        except ValueError as exc:
            raise self.fail(f"field {field!r}: {exc}") from None
        if scale is not None:
            value *= scale
        if divide is not None:
            value /= divide
        return value

    def text(self, raw: Any) -> str | None:
        if raw is None:
            return None
        value = str(raw).strip()
        return value or None

    def day(self, raw: Any, field: str) -> date | None:
        value = self.text(raw)
        if value is None:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise self.fail(f"field {field!r}: not a date: {value[:40]!r}") from None


def parse_quote(body: Mapping[str, Any], symbol: str, *, fetched_at: datetime | None = None
                ) -> Quote:
    p = _Parser(QUOTE, symbol)
    price = p.number(body.get("c"), "c")
    if price is None:
        raise p.fail("the price ('c') is missing")
    stamp = p.number(body.get("t"), "t")
    timestamp = trading_day = None
    if stamp is not None and stamp > 0:
        timestamp = datetime.fromtimestamp(int(stamp), UTC)
        trading_day = timestamp.astimezone(_market_zone()).date()
    return Quote(
        symbol=symbol,
        source=PROVIDER,
        price=price,
        open=p.number(body.get("o"), "o"),
        high=p.number(body.get("h"), "h"),
        low=p.number(body.get("l"), "l"),
        previous_close=p.number(body.get("pc"), "pc"),
        change=p.number(body.get("d"), "d"),
        change_percent=p.number(body.get("dp"), "dp"),
        volume=None,  # Finnhub's quote has no volume
        latest_trading_day=trading_day,
        timestamp=timestamp,
        fetched_at=fetched_at,
    )


def _market_zone() -> Any:
    try:
        return ZoneInfo(_MARKET_TZ)
    except ZoneInfoNotFoundError:  # no tz database: the UTC date is the best we can do
        return UTC


#: metric key -> (Overview field, scale): "M" = millions to units, "%" = percent to fraction.
_METRIC_FIELDS: dict[str, tuple[str, str | None]] = {
    "beta": ("beta", None),
    "peTTM": ("pe_ratio", None),
    "pb": ("price_to_book", None),
    "psTTM": ("price_to_sales_ttm", None),
    "evRevenueTTM": ("ev_to_revenue", None),
    "evEbitdaTTM": ("ev_to_ebitda", None),
    "enterpriseValue": ("enterprise_value", "M"),
    "epsTTM": ("diluted_eps_ttm", None),
    "bookValuePerShareQuarterly": ("book_value_per_share", None),
    "revenuePerShareTTM": ("revenue_per_share_ttm", None),
    "dividendPerShareTTM": ("dividend_per_share", None),
    "currentDividendYieldTTM": ("dividend_yield", "%"),
    "netProfitMarginTTM": ("profit_margin", "%"),
    "operatingMarginTTM": ("operating_margin_ttm", "%"),
    "grossMarginTTM": ("gross_margin_ttm", "%"),
    "roaTTM": ("return_on_assets_ttm", "%"),
    "roeTTM": ("return_on_equity_ttm", "%"),
    "52WeekHigh": ("week_52_high", None),
    "52WeekLow": ("week_52_low", None),
}


def parse_overview(profile: Mapping[str, Any], metric: Mapping[str, Any] | None, symbol: str,
                   *, fetched_at: datetime | None = None) -> Overview:
    """profile2 (+ the `metric` map of /stock/metric, when there is one) as an Overview.

    Finnhub's market cap and share count are in millions and its margins in percent; both
    are converted. `finnhubIndustry` is an industry label; Finnhub has no sector.
    """
    p = _Parser(PROFILE, symbol)
    values: dict[str, Any] = {
        "symbol": symbol,
        "source": PROVIDER,
        "fetched_at": fetched_at,
        "name": p.text(profile.get("name")),
        "exchange": p.text(profile.get("exchange")),
        "currency": p.text(profile.get("currency")),
        "country": p.text(profile.get("country")),
        "industry": p.text(profile.get("finnhubIndustry")),
        "ipo": p.day(profile.get("ipo"), "ipo"),
        "web_url": p.text(profile.get("weburl")),
        "market_capitalization": p.number(profile.get("marketCapitalization"),
                                          "marketCapitalization", scale=MILLION),
        "shares_outstanding": p.number(profile.get("shareOutstanding"), "shareOutstanding",
                                       scale=MILLION),
    }
    if metric:
        m = _Parser(METRIC, symbol)
        for key, (field, unit) in _METRIC_FIELDS.items():
            values[field] = m.number(
                metric.get(key), key,
                scale=MILLION if unit == "M" else None,
                divide=HUNDRED if unit == "%" else None,
            )
        values["eps"] = values["diluted_eps_ttm"]
    return Overview(**values)


# --------------------------------------------------------------------------- client


class FinnhubClient(ProviderClient):
    """Async Finnhub client over an injected httpx.AsyncClient.

    `verify_zero_quote`: when a quote comes back all zeros, ask profile2 whether the company
    exists before calling the symbol unknown (one extra call, only in that case).
    """

    provider = PROVIDER

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_key: str | None,
        base_url: str = FINNHUB_BASE_URL,
        retry: RetryPolicy | None = None,
        min_interval: float = 0.0,
        verify_zero_quote: bool = True,
    ) -> None:
        super().__init__(http, api_key=api_key, base_url=base_url, retry=retry,
                         min_interval=min_interval)
        self.verify_zero_quote = verify_zero_quote

    async def get_quote(self, symbol: str) -> Quote:
        symbol = normalize_symbol(symbol)
        self._require_key(symbol)
        profile_known = False

        async def attempt() -> dict[str, Any]:
            nonlocal profile_known
            try:
                return await self._request(QUOTE, symbol)
            except UnknownSymbol:
                if not self.verify_zero_quote:
                    raise
            if not profile_known:
                await self._request(PROFILE, symbol)  # UnknownSymbol if profile2 is {}
                profile_known = True
            raise Transient("Finnhub /quote: an all-zero quote for a symbol that profile2 "
                            "knows (a known Finnhub glitch).", provider=PROVIDER, symbol=symbol)

        body = await self._with_retries(attempt, what=QUOTE, symbol=symbol)
        return parse_quote(body, symbol, fetched_at=_now())

    async def get_overview(self, symbol: str) -> Overview:
        """profile2, then basic financials (metric=all) for the ratios.

        An empty metric map after a non-empty profile leaves the ratios missing rather than
        calling a known company unknown.
        """
        symbol = normalize_symbol(symbol)
        profile = await self.fetch(PROFILE, symbol)
        try:
            metric_body = await self.fetch(METRIC, symbol, metric="all")
        except UnknownSymbol:
            metric_body = {}
        metric = metric_body.get("metric")
        return parse_overview(profile, metric if isinstance(metric, dict) else None, symbol,
                              fetched_at=_now())

    async def get_fundamentals(self, symbol: str) -> Fundamentals:
        raise Unsupported(
            "Finnhub's free plan has no multi-year statements (no capex, no PP&E); "
            "fundamentals come from Alpha Vantage.",
            provider=PROVIDER, symbol=symbol, data_type="fundamentals",
        )

    async def fetch(self, endpoint: str, symbol: str, **params: str) -> dict[str, Any]:
        """One classified Finnhub call, retried on Transient only; returns the data body."""
        self._require_key(symbol)

        async def attempt() -> dict[str, Any]:
            return await self._request(endpoint, symbol, **params)

        return await self._with_retries(attempt, what=endpoint, symbol=symbol)

    async def _request(self, endpoint: str, symbol: str, **params: str) -> dict[str, Any]:
        response = await self._get(
            endpoint, params={"symbol": symbol, **params},
            headers={TOKEN_HEADER: self._api_key}, what=endpoint, symbol=symbol,
        )
        return classify_response(
            endpoint=endpoint, symbol=symbol, status_code=response.status_code,
            content=response.content, headers=response.headers, secret=self._api_key,
        )


def _now() -> datetime:
    return datetime.now(UTC)


__all__ = [
    "FINNHUB_BASE_URL",
    "FinnhubClient",
    "classify_response",
    "parse_overview",
    "parse_quote",
]
