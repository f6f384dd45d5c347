"""Thin handlers of the market-data API."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from epv_common.deps import PrincipalDep, require_role
from epv_common.errors import InvalidInput
from epv_common.identity import Principal, Role
from epv_marketdata.api.schemas import (
    BenchmarksRead,
    CacheStatsRead,
    CaseFundamentalsRead,
    DataType,
    MarketDataRead,
    RefreshRequest,
    Shape,
)
from epv_marketdata.metrics import mark_answer
from epv_marketdata.service import Answer, MarketData, parse_symbol

router = APIRouter(prefix="/api/market-data", tags=["market data"])


async def get_marketdata(request: Request) -> MarketData:
    return request.app.state.marketdata


MarketDataDep = Annotated[MarketData, Depends(get_marketdata)]
SeniorDep = Annotated[Principal, require_role(Role.SENIOR_ANALYST)]


def _render(answer: Answer, *, shape: str = "standard") -> Response:
    # Built by hand, not through a response model: this is the cached hot path.
    meta = {"provider": answer.provider, "fetched_at": answer.fetched_at,
            "stale": answer.stale, "age_s": answer.age_s(), "cache": answer.cache,
            "served_from": answer.served_from}
    if shape == "case":
        body = {**answer.payload["case"], **meta}
    else:
        data = answer.payload
        if answer.data_type == "fundamentals":
            data = answer.payload["fundamentals"]
        body = {"symbol": answer.symbol, "type": answer.data_type, **meta, "data": data}
    return Response(orjson.dumps(body), media_type="application/json",
                    headers={"X-Cache": answer.cache.upper()})


@router.get(
    "", response_model=MarketDataRead | CaseFundamentalsRead,
    summary="Market data for one symbol, from the cache or the providers",
    responses={404: {"description": "no provider knows the symbol"},
               422: {"description": "junk symbol, or shape=case with a type other than "
                     "fundamentals"},
               503: {"description": "every provider failed and no last good value is stored "
                     "(type ends in /market-data-unavailable or /fundamentals-unavailable)"}},
)
async def read_market_data(
    request: Request, _principal: PrincipalDep, marketdata: MarketDataDep,
    symbol: Annotated[str, Query(max_length=64, examples=["AAPL"])],
    type: Annotated[DataType, Query()] = "quote",
    shape: Annotated[Shape, Query(description=(
        "`case` (fundamentals only): the answer is a case financial-data document "
        "(CaseFundamentalsRead) built from Alpha Vantage, ready to create a case from"))] = "standard",
) -> Response:
    ticker = parse_symbol(symbol)
    if shape == "case" and type != "fundamentals":
        raise InvalidInput("shape=case applies to type=fundamentals only.", errors=[
            {"field": "shape", "in": "query", "rule": "fundamentals_only",
             "message": "shape=case applies to type=fundamentals only"}])
    answer = await marketdata.get(symbol=ticker, data_type=type)
    mark_answer(request, data_type=type, cache="stale" if answer.stale else answer.cache)
    return _render(answer, shape=shape)


@router.post("", response_model=MarketDataRead,
             summary="Refresh one symbol's data from the providers (SENIOR_ANALYST and above)")
async def refresh_market_data(body: RefreshRequest, principal: SeniorDep,
                              marketdata: MarketDataDep) -> Response:
    ticker = parse_symbol(body.symbol)
    answer = await marketdata.refresh(symbol=ticker, data_type=body.type,
                                      actor_id=principal.user_id)
    return _render(answer)


@router.get("/cache/stats", response_model=CacheStatsRead,
            summary="Cache hits, misses and hit ratio per data type, across replicas")
async def cache_stats(_principal: PrincipalDep, marketdata: MarketDataDep) -> dict:
    return await marketdata.cache_stats()


@router.get("/benchmarks", response_model=BenchmarksRead,
            summary="Medians of margins and multiples over stored companies")
async def benchmarks(
    _principal: PrincipalDep, marketdata: MarketDataDep,
    sector: Annotated[str | None, Query(max_length=100)] = None,
    industry: Annotated[str | None, Query(max_length=100)] = None,
) -> dict:
    return await marketdata.benchmarks(sector=sector, industry=industry)
