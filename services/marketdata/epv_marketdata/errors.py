"""The market-data service's errors (statuses are chosen once, in epv_common.problems).

    EpvError
    ├── InvalidInput
    │   └── InvalidSymbol               junk ticker, never sent to a provider (422)
    ├── NotFound
    │   └── UnknownSymbol               every provider asked says it does not know the symbol (404)
    └── DependencyUnavailable
        └── MarketDataUnavailable       every provider failed and no last good value is stored (503)
            └── FundamentalsUnavailable Alpha Vantage could not supply the statements (503)

Provider outcomes (epv_marketdata.providers.errors) never reach the edge as such: the
service turns them into these, naming each provider's outcome without any key.
"""

from __future__ import annotations

from typing import Any

from epv_common.errors import DependencyUnavailable, InvalidInput, NotFound


class InvalidSymbol(InvalidInput):
    code = "invalid-symbol"
    title = "Invalid symbol"

    def __init__(self, raw: object, reason: str, *, where: str = "query") -> None:
        super().__init__(
            f"{reason}.", errors=[{"field": "symbol", "in": where, "rule": "symbol",
                                   "message": reason}])


class UnknownSymbol(NotFound):
    code = "unknown-symbol"
    title = "Unknown symbol"
    template = "No provider knows the symbol {symbol}."

    def __init__(self, detail: str | None = None, /, *, symbol: str, **ctx: Any) -> None:
        self.symbol = symbol
        super().__init__(detail, entity="symbol", symbol=symbol, **ctx)

    def extensions(self) -> dict[str, Any]:
        return {"symbol": self.symbol}


class MarketDataUnavailable(DependencyUnavailable):
    code = "market-data-unavailable"
    title = "Market data unavailable"
    template = "No provider could supply {data_type} for {symbol}, and none is stored."

    def __init__(self, detail: str | None = None, /, *, symbol: str, data_type: str,
                 outcomes: list[dict[str, str]] | None = None) -> None:
        self.symbol = symbol
        self.data_type = data_type
        self.outcomes = outcomes or []
        super().__init__(detail, dependency="market-data providers", symbol=symbol,
                         data_type=data_type)

    def extensions(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "data_type": self.data_type, "providers": self.outcomes}


class FundamentalsUnavailable(MarketDataUnavailable):
    code = "fundamentals-unavailable"
    title = "Fundamentals unavailable"
