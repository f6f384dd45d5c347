"""Market-data providers: Alpha Vantage and Finnhub behind one set of models and errors.

    from epv_marketdata.providers import AlphaVantageClient, FinnhubClient, RetryPolicy

    async with httpx.AsyncClient(timeout=10) as http:
        av = AlphaVantageClient(http, api_key=key)      # base_url=ALPHAVANTAGE_BASE_URL
        quote = await av.get_quote("aapl")              # -> Quote (symbol "AAPL")
        case = fundamentals_to_case(await av.get_fundamentals("AAPL"),
                                    await av.get_overview("AAPL"), quote)

Every outcome that is not data raises a ProviderError subclass (see errors.py); only
Transient is retried, inside the clients.
"""

from epv_marketdata.providers._http import RetryPolicy
from epv_marketdata.providers.alphavantage import (
    ALPHAVANTAGE_BASE_URL,
    ALPHAVANTAGE_MIN_INTERVAL,
    AlphaVantageClient,
)
from epv_marketdata.providers.case_shape import (
    WARNING_SHARES_NOT_DILUTED,
    WARNING_YEAR_INCOMPLETE,
    fundamentals_to_case,
)
from epv_marketdata.providers.errors import (
    BadRequest,
    BadResponse,
    InvalidKey,
    PremiumEndpoint,
    ProviderError,
    Throttled,
    Transient,
    UnknownSymbol,
    Unsupported,
)
from epv_marketdata.providers.finnhub import FINNHUB_BASE_URL, FinnhubClient
from epv_marketdata.providers.models import (
    BalanceSheet,
    BenchmarkInput,
    CashFlowStatement,
    FinancialStatements,
    Fundamentals,
    IncomeStatement,
    Overview,
    Quote,
)
from epv_marketdata.providers.symbols import (
    InvalidSymbolError,
    Symbol,
    is_valid_symbol,
    normalize_symbol,
)

__all__ = [
    "ALPHAVANTAGE_BASE_URL",
    "ALPHAVANTAGE_MIN_INTERVAL",
    "FINNHUB_BASE_URL",
    "WARNING_SHARES_NOT_DILUTED",
    "WARNING_YEAR_INCOMPLETE",
    "AlphaVantageClient",
    "BadRequest",
    "BadResponse",
    "BalanceSheet",
    "BenchmarkInput",
    "CashFlowStatement",
    "FinancialStatements",
    "FinnhubClient",
    "Fundamentals",
    "IncomeStatement",
    "InvalidKey",
    "InvalidSymbolError",
    "Overview",
    "PremiumEndpoint",
    "ProviderError",
    "Quote",
    "RetryPolicy",
    "Symbol",
    "Throttled",
    "Transient",
    "UnknownSymbol",
    "Unsupported",
    "fundamentals_to_case",
    "is_valid_symbol",
    "normalize_symbol",
]
