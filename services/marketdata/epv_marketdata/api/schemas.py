"""API models of the market-data service (not the provider models, not the ORM tables)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

DataType = Literal["quote", "overview", "fundamentals", "benchmarks"]
Shape = Literal["standard", "case"]


class Freshness(BaseModel):
    provider: str = Field(description="the provider the value came from")
    fetched_at: datetime = Field(description="when the provider answered (UTC)")
    stale: bool = Field(description="true when every provider failed and this is the last "
                        "good value stored")
    age_s: float = Field(description="seconds since fetched_at")
    cache: Literal["hit", "miss"] = Field(description="hit: served from the Redis cache")
    served_from: Literal["cache", "database", "provider"]


class MarketDataRead(Freshness):
    symbol: str
    type: DataType
    data: dict[str, Any] = Field(description="the standard model of the type: Quote, Overview, "
                                 "Fundamentals (annual and quarterly statements) or "
                                 "BenchmarkInput (one company's margins and multiples)")


class CaseWarning(BaseModel):
    code: str
    field: str


class CaseFundamentalsRead(Freshness):
    """`type=fundamentals&shape=case`: a case financial-data document (epv-method.md section 2),
    built from Alpha Vantage only, ready for POST /api/cases."""

    symbol: str
    source: str
    as_of: datetime | None = None
    financial_data: dict[str, Any]
    warnings: list[CaseWarning]


class RefreshRequest(BaseModel):
    symbol: str = Field(min_length=1, max_length=64, examples=["AAPL"])
    type: DataType


class TypeStats(BaseModel):
    hits: int
    misses: int
    ratio: float


class CacheStatsRead(BaseModel):
    types: dict[str, TypeStats]
    total: TypeStats


class MetricMedian(BaseModel):
    median: float | None
    count: int = Field(description="companies with a value for this figure")


class BenchmarksRead(BaseModel):
    sector: str | None
    industry: str | None
    companies: int
    symbols: list[str]
    metrics: dict[str, MetricMedian] = Field(description="margins are fractions of revenue")
