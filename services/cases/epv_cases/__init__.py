"""epv_cases: valuation cases, versions, sharing, analyses and the legacy import."""

__version__ = "0.1.0"
