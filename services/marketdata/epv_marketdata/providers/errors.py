"""What can go wrong when a market-data provider is asked for something.

Every provider outcome that is not data is one of these classes. They describe the
*provider's* answer; they carry no HTTP status of our API. The service maps them once, at
its edge (for example UnknownSymbol -> 404, everything else once retries are spent -> 503).

    ProviderError                 root: provider, symbol, message template + context
    ├── Throttled                 the provider's rate limit was hit (AV `Note`/`Information`,
    │                             Finnhub 429); window ("second" | "minute" | "day" | None),
    │                             retry_after seconds and limit when known. Never cached.
    ├── UnknownSymbol             the provider does not know the symbol (AV `{}` or
    │                             `{"Global Quote": {}}`, Finnhub all-zero quote / `{}` / empty
    │                             metric). A negative result; safe to cache briefly.
    ├── InvalidKey                the API key is missing, empty, wrong, or the demo key:
    │   │                         configuration, never retried
    │   └── PremiumEndpoint       the key is fine but its plan has no access to this endpoint
    │                             or market (AV "premium endpoint" Information, Finnhub 403
    │                             or 401 "You don't have access"); fall back, do not retry
    ├── BadRequest                the provider rejected the call as malformed (AV `Error
    │                             Message` such as "Invalid API call" or an unknown function,
    │                             an unexpected 4xx): our bug, never retried
    ├── Transient                 timeouts, connection errors, 5xx/408 (and AV's undocumented
    │                             429), or a body that is not JSON: the ONLY class retried
    ├── BadResponse               a JSON body whose content cannot be parsed into the
    │                             standard model (a number that is not a number, a report
    │                             without a date, an unrecognised notice)
    └── Unsupported               this provider cannot supply this data type at all
                                  (Finnhub's free plan has no multi-year statements)

Messages never contain an API key: the clients redact every text they embed.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

ThrottleWindow = Literal["second", "minute", "day"]


class ProviderError(Exception):
    """Root of every provider outcome that is not data."""

    code: ClassVar[str] = "provider-error"
    template: ClassVar[str] = "{provider} failed for {symbol}."
    retryable: ClassVar[bool] = False

    def __init__(
        self,
        detail: str | None = None,
        /,
        *,
        provider: str,
        symbol: str | None = None,
        **context: Any,
    ) -> None:
        self.provider = provider
        self.symbol = symbol
        self.context = {"provider": provider, "symbol": symbol or "-", **context}
        self.detail = detail if detail is not None else self._render()
        super().__init__(self.detail)

    def _render(self) -> str:
        try:
            return self.template.format(**self.context)
        except (KeyError, IndexError):
            return self.template

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(provider={self.provider!r}, symbol={self.symbol!r}, "
                f"detail={self.detail!r})")


class Throttled(ProviderError):
    code = "provider-throttled"
    template = "{provider} rate limit reached."

    def __init__(
        self,
        detail: str | None = None,
        /,
        *,
        provider: str,
        symbol: str | None = None,
        window: ThrottleWindow | None = None,
        retry_after: float | None = None,
        limit: int | None = None,
        **context: Any,
    ) -> None:
        self.window = window
        self.retry_after = retry_after
        self.limit = limit
        super().__init__(
            detail, provider=provider, symbol=symbol, window=window, retry_after=retry_after,
            limit=limit, **context,
        )


class UnknownSymbol(ProviderError):
    code = "provider-unknown-symbol"
    template = "{provider} does not know the symbol {symbol}."


class InvalidKey(ProviderError):
    code = "provider-invalid-key"
    template = "{provider} refused the API key (missing, empty or invalid)."


class PremiumEndpoint(InvalidKey):
    code = "provider-no-access"
    template = "{provider}: the API key's plan has no access to this endpoint or market."


class BadRequest(ProviderError):
    code = "provider-bad-request"
    template = "{provider} rejected the call as malformed."


class Transient(ProviderError):
    code = "provider-transient"
    template = "{provider} is temporarily unavailable."
    retryable = True

    def __init__(
        self,
        detail: str | None = None,
        /,
        *,
        provider: str,
        symbol: str | None = None,
        retry_after: float | None = None,
        **context: Any,
    ) -> None:
        self.retry_after = retry_after
        #: how many attempts were made when this error finally escaped the retry loop
        self.attempts: int | None = None
        super().__init__(detail, provider=provider, symbol=symbol, retry_after=retry_after,
                         **context)


class BadResponse(ProviderError):
    code = "provider-bad-response"
    template = "{provider} sent a response that cannot be parsed."


class Unsupported(ProviderError):
    code = "provider-unsupported"
    template = "{provider} cannot supply {data_type}."

    def __init__(
        self,
        detail: str | None = None,
        /,
        *,
        provider: str,
        symbol: str | None = None,
        data_type: str,
        **context: Any,
    ) -> None:
        self.data_type = data_type
        super().__init__(detail, provider=provider, symbol=symbol, data_type=data_type,
                         **context)


__all__ = [
    "BadRequest",
    "BadResponse",
    "InvalidKey",
    "PremiumEndpoint",
    "ProviderError",
    "ThrottleWindow",
    "Throttled",
    "Transient",
    "UnknownSymbol",
    "Unsupported",
]
