"""epv_marketdata: market data from Alpha Vantage and Finnhub, cached and classified."""

__version__ = "0.1.0"
