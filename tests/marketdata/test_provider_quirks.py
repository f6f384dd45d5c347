"""Every quirk file of shared/fixtures/marketdata is classified as its README says.

Providers are faked at the HTTP layer with respx; nothing reaches the internet. Retries
happen only on Transient failures (requests are counted).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import respx

from epv_common.testing.shared import marketdata_fixtures
from epv_marketdata.providers import (
    AlphaVantageClient,
    BadRequest,
    BadResponse,
    FinnhubClient,
    InvalidKey,
    PremiumEndpoint,
    ProviderError,
    RetryPolicy,
    Throttled,
    Transient,
    UnknownSymbol,
)
from epv_marketdata.providers import alphavantage as av_module
from epv_marketdata.providers import finnhub as fh_module

FIXTURES = marketdata_fixtures()
AV_URL = "https://av.test"
FH_URL = "https://fh.test/api/v1"
AV_KEY = "av-secret-KEY-9f3c2e"
FH_KEY = "fh-secret-TOKEN-7d1a0b"
FAST = RetryPolicy(attempts=3, initial_wait=0.0, max_wait=0.0, jitter=0.0)

AV_JSON = {"content-type": "application/json"}
FH_JSON = {"content-type": "application/json; charset=utf-8"}


def fixture_bytes(relative: str) -> bytes:
    return (FIXTURES / relative).read_bytes()


def av_client(http: httpx.AsyncClient, *, key: str | None = AV_KEY,
              retry: RetryPolicy = FAST) -> AlphaVantageClient:
    return AlphaVantageClient(http, api_key=key, base_url=AV_URL, retry=retry, min_interval=0)


def fh_client(http: httpx.AsyncClient, *, key: str | None = FH_KEY,
              retry: RetryPolicy = FAST) -> FinnhubClient:
    return FinnhubClient(http, api_key=key, base_url=FH_URL, retry=retry)


# --------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Quirk:
    file: str  # relative to the fixtures folder
    status: int
    call: str  # how the client is driven (see _drive)
    expected: type[ProviderError]
    not_expected: type[ProviderError] | None = None
    attrs: tuple[tuple[str, Any], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def id(self) -> str:
        return f"{self.file}:{self.call}"


QUIRKS = [
    # Alpha Vantage: every outcome is HTTP 200.
    Quirk("alphavantage/throttled-note.json", 200, "av_quote", Throttled,
          attrs=(("window", "minute"), ("retry_after", 60.0))),
    Quirk("alphavantage/throttled-note.json", 200, "av_fundamentals", Throttled),
    Quirk("alphavantage/throttled-information.json", 200, "av_quote", Throttled,
          attrs=(("window", "day"), ("retry_after", None), ("limit", 25))),
    Quirk("alphavantage/throttled-information.json", 200, "av_overview", Throttled,
          attrs=(("window", "day"),)),
    Quirk("alphavantage/throttled-information-burst.json", 200, "av_quote", Throttled,
          attrs=(("window", "second"), ("retry_after", 2.0))),
    Quirk("alphavantage/information-premium-endpoint.json", 200, "av_time_series",
          PremiumEndpoint),
    Quirk("alphavantage/error-invalid-call.json", 200, "av_quote_empty_symbol", BadRequest),
    Quirk("alphavantage/error-invalid-call.json", 200, "av_time_series", UnknownSymbol),
    Quirk("alphavantage/error-unknown-function.json", 200, "av_misspelled_function", BadRequest),
    Quirk("alphavantage/error-missing-apikey.json", 200, "av_quote", InvalidKey,
          not_expected=PremiumEndpoint),
    Quirk("alphavantage/unknown-symbol.GLOBAL_QUOTE.json", 200, "av_quote", UnknownSymbol),
    Quirk("alphavantage/unknown-symbol.OVERVIEW.json", 200, "av_overview", UnknownSymbol),
    Quirk("alphavantage/unknown-symbol.INCOME_STATEMENT.json", 200, "av_fundamentals",
          UnknownSymbol),
    # Finnhub: real status codes.
    Quirk("finnhub/rate-limited-429.json", 429, "fh_quote", Throttled,
          attrs=(("window", "minute"),)),
    Quirk("finnhub/rate-limited-429.json", 429, "fh_overview", Throttled,
          attrs=(("limit", 60),),
          headers=(("X-Ratelimit-Limit", "60"), ("X-Ratelimit-Remaining", "0"),
                   ("X-Ratelimit-Reset", "4102444800"))),
    Quirk("finnhub/invalid-key-401.json", 401, "fh_quote", InvalidKey,
          not_expected=PremiumEndpoint),
    Quirk("finnhub/missing-key-401.json", 401, "fh_overview", InvalidKey,
          not_expected=PremiumEndpoint),
    Quirk("finnhub/no-access-403.json", 403, "fh_quote", PremiumEndpoint),
    Quirk("finnhub/no-access-403.json", 401, "fh_overview", PremiumEndpoint),  # older replies
    Quirk("finnhub/unknown-symbol.quote.json", 200, "fh_quote_unknown", UnknownSymbol),
    Quirk("finnhub/unknown-symbol.profile2.json", 200, "fh_overview", UnknownSymbol),
    Quirk("finnhub/unknown-symbol.metric.json", 200, "fh_metric", UnknownSymbol),
]

#: Quirk files whose body is data, tested in the table below this one.
DATA_QUIRKS = {"alphavantage/none-values.OVERVIEW.RIVN.json"}


async def _drive(call: str, body: bytes, status: int, headers: dict[str, str]
                 ) -> tuple[ProviderError, int]:
    """Serve `body` for the call under test; return the error raised and the request count."""
    response = httpx.Response(status, content=body, headers=headers)
    if call.startswith("av_"):
        with respx.mock(base_url=AV_URL, assert_all_called=False) as router:
            route = router.get("/query").mock(return_value=response)
            async with httpx.AsyncClient() as http:
                client = av_client(http)
                with pytest.raises(ProviderError) as caught:
                    if call == "av_quote":
                        await client.get_quote("AAPL")
                    elif call == "av_overview":
                        await client.get_overview("AAPL")
                    elif call == "av_fundamentals":
                        await client.get_fundamentals("AAPL")
                    elif call == "av_time_series":
                        await client.query("TIME_SERIES_INTRADAY", "AAPL", interval="5min")
                    elif call == "av_quote_empty_symbol":
                        await client.query("GLOBAL_QUOTE", "")
                    elif call == "av_misspelled_function":
                        await client.query("GLOBAL_QOUTE", "AAPL")
                    else:  # pragma: no cover
                        raise AssertionError(call)
            return caught.value, route.call_count
    with respx.mock(base_url=FH_URL, assert_all_called=False) as router:
        if call == "fh_quote_unknown":  # the zero quote is checked against profile2
            router.get("/stock/profile2").mock(return_value=httpx.Response(
                200, content=fixture_bytes("finnhub/unknown-symbol.profile2.json"),
                headers=FH_JSON))
        route = router.get(path__regex=r"/(quote|stock/profile2|stock/metric)$").mock(
            return_value=response)
        async with httpx.AsyncClient() as http:
            client = fh_client(http)
            with pytest.raises(ProviderError) as caught:
                if call in ("fh_quote", "fh_quote_unknown"):
                    await client.get_quote("ZZZZ" if call == "fh_quote_unknown" else "AAPL")
                elif call == "fh_overview":
                    await client.get_overview("AAPL")
                elif call == "fh_metric":
                    await client.fetch("/stock/metric", "ZZZZ", metric="all")
                else:  # pragma: no cover
                    raise AssertionError(call)
        return caught.value, route.call_count


@pytest.mark.parametrize("quirk", QUIRKS, ids=lambda q: q.id)
async def test_quirk_file_is_classified_as_the_readme_says(quirk: Quirk) -> None:
    headers = dict(AV_JSON if quirk.file.startswith("alphavantage") else FH_JSON)
    headers.update(dict(quirk.headers))
    error, requests = await _drive(quirk.call, fixture_bytes(quirk.file), quirk.status, headers)

    assert isinstance(error, quirk.expected), f"{type(error).__name__}: {error}"
    if quirk.not_expected is not None:
        assert not isinstance(error, quirk.not_expected)
    for name, value in quirk.attrs:
        assert getattr(error, name) == value, name
    # Not transient: never retried (exactly one request reached the provider).
    assert not isinstance(error, Transient)
    assert requests == 1
    assert error.provider in ("alphavantage", "finnhub")


def test_every_quirk_file_is_in_the_table() -> None:
    data_file = re.compile(
        r"^(alphavantage/(GLOBAL_QUOTE|OVERVIEW|INCOME_STATEMENT|BALANCE_SHEET|CASH_FLOW)"
        r"|finnhub/(quote|profile2|metric))\.[A-Z]+\.json$")
    files = {
        f"{path.parent.name}/{path.name}"
        for folder in ("alphavantage", "finnhub")
        for path in (FIXTURES / folder).glob("*.json")
    }
    quirk_files = {f for f in files if not data_file.match(f)}
    covered = {q.file for q in QUIRKS} | DATA_QUIRKS
    assert quirk_files, "no fixture files found"
    assert quirk_files <= covered, sorted(quirk_files - covered)


async def test_none_and_dash_strings_are_missing_values() -> None:
    with respx.mock(base_url=AV_URL) as router:
        router.get("/query", params={"function": "OVERVIEW", "symbol": "RIVN"}).mock(
            return_value=httpx.Response(
                200, content=fixture_bytes("alphavantage/none-values.OVERVIEW.RIVN.json"),
                headers=AV_JSON))
        async with httpx.AsyncClient() as http:
            overview = await av_client(http).get_overview("RIVN")
    assert overview.name == "Rivian Automotive Inc"
    assert float(overview.beta) == 1.934
    # "None" strings
    assert overview.pe_ratio is None
    assert overview.peg_ratio is None
    assert overview.dividend_per_share is None
    assert overview.dividend_yield is None
    # "-" strings
    assert overview.trailing_pe is None
    assert overview.forward_pe is None
    assert overview.ev_to_ebitda is None
    # negative values are strings too
    assert overview.ebitda == -3_375_000_000
    assert overview.gross_profit_ttm == -1_200_000_000
    assert overview.eps is not None and float(overview.eps) == -4.69
    assert overview.market_capitalization == 13_052_646_000


async def test_finnhub_empty_metric_after_a_known_profile_is_not_unknown() -> None:
    with respx.mock(base_url=FH_URL) as router:
        router.get("/stock/profile2").mock(return_value=httpx.Response(
            200, content=fixture_bytes("finnhub/profile2.AAPL.json"), headers=FH_JSON))
        router.get("/stock/metric").mock(return_value=httpx.Response(
            200, content=fixture_bytes("finnhub/unknown-symbol.metric.json"), headers=FH_JSON))
        async with httpx.AsyncClient() as http:
            overview = await fh_client(http).get_overview("AAPL")
    assert overview.name == "Apple Inc"
    assert overview.beta is None and overview.pe_ratio is None


# --------------------------------------------------------------------------- pure classifier


@pytest.mark.parametrize(
    ("body", "expected", "window"),
    [
        ({"Information": "The **demo** API key is for demo purposes only. Please claim your "
                         "free API key."}, InvalidKey, None),
        ({"Information": "the parameter apikey is invalid or missing."}, InvalidKey, None),
        ({"Information": "Our standard API call frequency is 5 calls per minute."}, Throttled,
         "minute"),
        ({"Information": "Something new we have never seen."}, BadResponse, None),
        ({"Global Quote": {"02. open": "1.0"}}, UnknownSymbol, None),
        ({}, UnknownSymbol, None),
    ],
)
def test_alpha_vantage_classifier_edge_cases(body: dict, expected: type, window: str | None
                                             ) -> None:
    with pytest.raises(expected) as caught:
        av_module.classify_response(function="GLOBAL_QUOTE", symbol="AAPL", status_code=200,
                                    content=json.dumps(body).encode())
    if window is not None:
        assert caught.value.window == window


@pytest.mark.parametrize("function", ["INCOME_STATEMENT", "BALANCE_SHEET", "CASH_FLOW"])
@pytest.mark.parametrize("body", [{}, {"symbol": "ZZZZ"}, {"symbol": "ZZZZ", "annualReports": []}])
def test_alpha_vantage_statement_without_annual_reports_is_unknown(function: str, body: dict
                                                                    ) -> None:
    with pytest.raises(UnknownSymbol):
        av_module.classify_response(function=function, symbol="ZZZZ", status_code=200,
                                    content=json.dumps(body).encode())


def test_finnhub_429_retry_after_uses_reset_header_or_next_minute() -> None:
    body = fixture_bytes("finnhub/rate-limited-429.json")
    with pytest.raises(Throttled) as caught:
        fh_module.classify_response(endpoint="/quote", symbol="AAPL", status_code=429,
                                    content=body, now=1_000.0,
                                    headers={"X-Ratelimit-Reset": "1030",
                                             "X-Ratelimit-Limit": "60"})
    assert caught.value.retry_after == 30.0
    assert caught.value.limit == 60
    with pytest.raises(Throttled) as caught:
        fh_module.classify_response(endpoint="/quote", symbol="AAPL", status_code=429,
                                    content=body, now=1_000.0)
    assert caught.value.retry_after == pytest.approx(20.0)  # 1000 s -> next minute at 1020 s


def test_finnhub_old_429_sign_up_text_means_invalid_key() -> None:
    body = json.dumps({"error": "Please sign up for a free account"}).encode()
    with pytest.raises(InvalidKey):
        fh_module.classify_response(endpoint="/quote", symbol="AAPL", status_code=429,
                                    content=body)


def test_finnhub_other_4xx_is_a_bad_request() -> None:
    with pytest.raises(BadRequest):
        fh_module.classify_response(endpoint="/quote", symbol="AAPL", status_code=400,
                                    content=b'{"error": "Wrong symbol"}')


# --------------------------------------------------------------------------- transient + retries


TRANSIENT_RESPONSES = {
    "500-html": (500, b"<html><body>Internal Server Error</body></html>", "text/html"),
    "502-empty": (502, b"", "text/html"),
    "503-json": (503, b'{"error": "unavailable"}', "application/json"),
    "504-html": (504, b"<html>Gateway Timeout</html>", "text/html"),
    "408-empty": (408, b"", "text/plain"),
    "200-html": (200, b"<!DOCTYPE html><html>Cloudflare</html>", "text/html"),
    "200-empty": (200, b"", "application/json"),
    "200-cut-short": (200, b'{"Global Quote": {"01. symbol": "AAP', "application/json"),
    "200-json-array": (200, b"[]", "application/json"),
}
TRANSIENT_EXCEPTIONS = {
    "read-timeout": httpx.ReadTimeout("timed out"),
    "connect-timeout": httpx.ConnectTimeout("timed out"),
    "connect-error": httpx.ConnectError("connection refused"),
    "reset": httpx.ReadError("connection reset by peer"),
    "protocol": httpx.RemoteProtocolError("peer closed connection"),
}


def _side_effects(kind: str, repeat: int) -> list[Any]:
    if kind in TRANSIENT_EXCEPTIONS:
        return [TRANSIENT_EXCEPTIONS[kind]] * repeat
    status, body, content_type = TRANSIENT_RESPONSES[kind]
    return [httpx.Response(status, content=body, headers={"content-type": content_type})
            for _ in range(repeat)]


@pytest.mark.parametrize("kind", [*TRANSIENT_RESPONSES, *TRANSIENT_EXCEPTIONS])
async def test_alpha_vantage_transient_is_retried_until_attempts_are_spent(kind: str) -> None:
    with respx.mock(base_url=AV_URL) as router:
        route = router.get("/query").mock(side_effect=_side_effects(kind, 3))
        async with httpx.AsyncClient() as http:
            with pytest.raises(Transient) as caught:
                await av_client(http).get_quote("AAPL")
    assert route.call_count == 3
    assert caught.value.attempts == 3


@pytest.mark.parametrize("kind", [*TRANSIENT_RESPONSES, *TRANSIENT_EXCEPTIONS])
async def test_finnhub_transient_is_retried_until_attempts_are_spent(kind: str) -> None:
    with respx.mock(base_url=FH_URL) as router:
        route = router.get("/quote").mock(side_effect=_side_effects(kind, 3))
        async with httpx.AsyncClient() as http:
            with pytest.raises(Transient):
                await fh_client(http).get_quote("AAPL")
    assert route.call_count == 3


async def test_transient_then_data_succeeds() -> None:
    good = httpx.Response(200, content=fixture_bytes("alphavantage/GLOBAL_QUOTE.AAPL.json"),
                          headers=AV_JSON)
    with respx.mock(base_url=AV_URL) as router:
        route = router.get("/query").mock(side_effect=[
            httpx.Response(503, content=b"<html>busy</html>"), httpx.ReadTimeout("slow"), good])
        async with httpx.AsyncClient() as http:
            quote = await av_client(http).get_quote("AAPL")
    assert route.call_count == 3
    assert float(quote.price) == 213.49


async def test_transient_then_throttled_stops_retrying() -> None:
    throttled = httpx.Response(200, content=fixture_bytes("alphavantage/throttled-note.json"),
                               headers=AV_JSON)
    with respx.mock(base_url=AV_URL) as router:
        route = router.get("/query").mock(side_effect=[httpx.ConnectError("down"), throttled,
                                                       throttled])
        async with httpx.AsyncClient() as http:
            with pytest.raises(Throttled):
                await av_client(http).get_quote("AAPL")
    assert route.call_count == 2


async def test_attempts_are_configurable() -> None:
    with respx.mock(base_url=FH_URL) as router:
        route = router.get("/quote").mock(side_effect=_side_effects("500-html", 6))
        async with httpx.AsyncClient() as http:
            client = fh_client(http, retry=RetryPolicy(attempts=5, initial_wait=0, max_wait=0,
                                                       jitter=0))
            with pytest.raises(Transient):
                await client.get_quote("AAPL")
            assert route.call_count == 5
            single = fh_client(http, retry=RetryPolicy(attempts=1))
            with pytest.raises(Transient):
                await single.get_quote("AAPL")
    assert route.call_count == 6


async def test_alpha_vantage_http_429_is_transient_with_a_longer_hint() -> None:
    with respx.mock(base_url=AV_URL) as router:
        route = router.get("/query").mock(side_effect=[
            httpx.Response(429, content=b"Too Many Requests", headers={"Retry-After": "7"}),
            httpx.Response(429, content=b"Too Many Requests"),
            httpx.Response(429, content=b"Too Many Requests"),
        ])
        async with httpx.AsyncClient() as http:
            with pytest.raises(Transient) as caught:
                await av_client(http).get_quote("AAPL")
    assert route.call_count == 3
    assert caught.value.retry_after == av_module.HTTP_429_RETRY_AFTER


def test_backoff_is_exponential_with_jitter_and_bounded() -> None:
    from tenacity import RetryCallState

    policy = RetryPolicy(attempts=6, initial_wait=0.5, max_wait=4.0, jitter=0.25)

    def wait_for(attempt: int, exc: BaseException | None = None) -> float:
        state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
        state.attempt_number = attempt
        if exc is not None:
            state.set_exception((type(exc), exc, None))
        return policy.wait(state)

    for attempt, base in [(1, 0.5), (2, 1.0), (3, 2.0)]:
        assert base <= wait_for(attempt) <= base + 0.25
    assert wait_for(10) == 4.0  # capped
    hinted = Transient(provider="x", retry_after=3.0)
    assert wait_for(1, hinted) == 3.0  # the provider's hint wins over a shorter backoff
    assert wait_for(1, Transient(provider="x", retry_after=60.0)) == 4.0  # still bounded


# --------------------------------------------------------------------------- the zero quote


def _quote_fake(router: respx.MockRouter, quotes: list[str], profile: str) -> tuple[Any, Any]:
    quote_route = router.get("/quote").mock(side_effect=[
        httpx.Response(200, content=fixture_bytes(q), headers=FH_JSON) for q in quotes])
    profile_route = router.get("/stock/profile2").mock(return_value=httpx.Response(
        200, content=fixture_bytes(profile), headers=FH_JSON))
    return quote_route, profile_route


async def test_zero_quote_for_a_known_company_is_transient_not_unknown() -> None:
    zero = "finnhub/unknown-symbol.quote.json"
    with respx.mock(base_url=FH_URL) as router:
        quote_route, profile_route = _quote_fake(router, [zero] * 3, "finnhub/profile2.AAPL.json")
        async with httpx.AsyncClient() as http:
            with pytest.raises(Transient):
                await fh_client(http).get_quote("AAPL")
    assert quote_route.call_count == 3
    assert profile_route.call_count == 1  # asked once, remembered across attempts


async def test_zero_quote_glitch_then_real_quote_succeeds() -> None:
    with respx.mock(base_url=FH_URL) as router:
        _quote_fake(router, ["finnhub/unknown-symbol.quote.json", "finnhub/quote.AAPL.json"],
                    "finnhub/profile2.AAPL.json")
        async with httpx.AsyncClient() as http:
            quote = await fh_client(http).get_quote("AAPL")
    assert float(quote.price) == 213.49


async def test_zero_quote_without_verification_is_unknown() -> None:
    with respx.mock(base_url=FH_URL, assert_all_called=False) as router:
        quote_route, profile_route = _quote_fake(
            router, ["finnhub/unknown-symbol.quote.json"], "finnhub/profile2.AAPL.json")
        async with httpx.AsyncClient() as http:
            client = FinnhubClient(http, api_key=FH_KEY, base_url=FH_URL, retry=FAST,
                                   verify_zero_quote=False)
            with pytest.raises(UnknownSymbol):
                await client.get_quote("ZZZZ")
    assert quote_route.call_count == 1 and profile_route.call_count == 0


# --------------------------------------------------------------------------- keys


@pytest.mark.parametrize("key", [None, "", "   "])
async def test_a_missing_key_is_invalid_key_without_any_request(key: str | None) -> None:
    with respx.mock(assert_all_called=False) as router:
        route = router.route().mock(return_value=httpx.Response(500))
        async with httpx.AsyncClient() as http:
            for client in (av_client(http, key=key), fh_client(http, key=key)):
                for method in (client.get_quote, client.get_overview):
                    with pytest.raises(InvalidKey):
                        await method("AAPL")
            with pytest.raises(InvalidKey):
                await av_client(http, key=key).get_fundamentals("AAPL")
    assert route.call_count == 0


async def test_the_key_is_never_in_messages_reprs_or_logs(caplog: pytest.LogCaptureFixture
                                                          ) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[ProviderError] = []
    with respx.mock(assert_all_called=False) as router:
        router.get(f"{AV_URL}/query", params={"function": "OVERVIEW"}).mock(
            return_value=httpx.Response(
                200, content=fixture_bytes("alphavantage/OVERVIEW.AAPL.json"), headers=AV_JSON))
        # Failures whose text carries the request URL, key included.
        def refuse(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError(f"cannot connect to {request.url}")

        router.get(f"{AV_URL}/query").mock(side_effect=refuse)
        router.get(f"{FH_URL}/quote").mock(side_effect=lambda request: httpx.Response(
            403, json={"error": f"token {request.headers.get('X-Finnhub-Token')} has no access"}))
        router.get(f"{FH_URL}/stock/profile2").mock(side_effect=lambda request: httpx.Response(
            401, json={"error": f"Invalid API key {request.headers.get('X-Finnhub-Token')}."}))
        async with httpx.AsyncClient() as http:
            av = av_client(http)
            fh = fh_client(http)
            for call in (av.get_quote("AAPL"), fh.get_quote("AAPL"), fh.get_overview("AAPL")):
                try:
                    await call
                except ProviderError as exc:
                    errors.append(exc)
            # A success too: httpx itself logs every request URL (AV's carries the key).
            await av.get_overview("AAPL")
            texts = [repr(av), repr(fh), caplog.text]
    assert "HTTP Request: GET https://av.test/query" in caplog.text
    assert "apikey=***" in caplog.text
    assert len(errors) == 3
    assert [type(e) for e in errors] == [Transient, PremiumEndpoint, InvalidKey]
    for exc in errors:
        texts += [str(exc), repr(exc), exc.detail, repr(exc.context), repr(exc.__cause__),
                  repr(exc.__context__)]
    joined = "\n".join(texts)
    assert AV_KEY not in joined
    assert FH_KEY not in joined
    assert "***" in str(errors[0])  # the key in the transport message was redacted


async def test_finnhub_sends_the_key_in_a_header_not_the_url() -> None:
    with respx.mock(base_url=FH_URL) as router:
        route = router.get("/quote").mock(return_value=httpx.Response(
            200, content=fixture_bytes("finnhub/quote.AAPL.json"), headers=FH_JSON))
        async with httpx.AsyncClient() as http:
            await fh_client(http).get_quote("AAPL")
    request = route.calls.last.request
    assert request.headers["X-Finnhub-Token"] == FH_KEY
    assert FH_KEY not in str(request.url)
