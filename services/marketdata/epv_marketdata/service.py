"""Use cases of the market-data service: read through the cache, refresh, statistics, medians.

A read goes: Redis value -> (single flight) PostgreSQL snapshot still within its TTL ->
providers in the configured order -> on total failure the last good value, flagged stale.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog

from epv_common.db import UnitOfWorkFactory
from epv_common.errors import DependencyUnavailable
from epv_marketdata import events, metrics
from epv_marketdata.cache import Cache, Entry, LeaderFailed
from epv_marketdata.errors import (
    FundamentalsUnavailable,
    InvalidSymbol,
    MarketDataUnavailable,
    UnknownSymbol,
)
from epv_marketdata.providers import (
    AlphaVantageClient,
    BenchmarkInput,
    Fundamentals,
    InvalidSymbolError,
    Overview,
    ProviderError,
    Quote,
    Throttled,
    Unsupported,
    fundamentals_to_case,
    normalize_symbol,
)
from epv_marketdata.providers import UnknownSymbol as ProviderUnknownSymbol
from epv_marketdata.providers._http import ProviderClient
from epv_marketdata.repository import (
    QUOTE_SIBLINGS,
    MarketDataReads,
    MarketDataRepository,
    MarketDataWrites,
)
from epv_marketdata.settings import Settings

log = structlog.get_logger("epv.marketdata")

PROVIDER_LABELS = {"alphavantage": "Alpha Vantage", "finnhub": "Finnhub"}
# Margins and multiples whose medians the benchmarks endpoint reports.
BENCHMARK_METRICS = (
    "gross_margin", "operating_margin", "ebitda_margin", "pretax_margin", "net_margin",
    "tax_rate", "da_to_revenue", "capex_to_revenue", "rnd_to_revenue", "sga_to_revenue",
    "return_on_assets", "return_on_equity", "pe_ratio", "price_to_book", "price_to_sales",
    "ev_to_revenue", "ev_to_ebitda", "ev_to_ebit", "dividend_yield",
)


def parse_symbol(raw: str) -> str:
    try:
        return normalize_symbol(raw)
    except InvalidSymbolError as exc:
        raise InvalidSymbol(raw, exc.reason) from None


@dataclass
class Answer:
    symbol: str
    data_type: str
    provider: str
    fetched_at: str
    payload: dict[str, Any]
    stale: bool = False
    cache: str = "miss"  # hit | miss
    served_from: str = "provider"  # cache | database | provider

    def age_s(self) -> float:
        fetched = datetime.fromisoformat(self.fetched_at.replace("Z", "+00:00"))
        return round(max(0.0, (datetime.now(UTC) - fetched).total_seconds()), 3)


class _Unknown(Exception):
    def __init__(self, outcomes: list[dict[str, str]], calls: list[dict[str, Any]] | None = None):
        super().__init__("unknown symbol")
        self.outcomes, self.calls = outcomes, calls or []


class _AllFailed(Exception):
    def __init__(self, outcomes: list[dict[str, str]], calls: list[dict[str, Any]] | None = None):
        super().__init__("every provider failed")
        self.outcomes, self.calls = outcomes, calls or []


@dataclass
class _Fetch:
    """What one round of provider calls produced, and what it cost (for provider_calls)."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    outcomes: list[dict[str, str]] = field(default_factory=list)


class MarketData:
    def __init__(self, *, settings: Settings, uow: UnitOfWorkFactory, cache: Cache,
                 providers: dict[str, ProviderClient]) -> None:
        self.settings = settings
        self.uow = uow
        self.cache = cache
        self.providers = providers

    # -- reading --------------------------------------------------------------------------

    async def get(self, *, symbol: str, data_type: str) -> Answer:
        entry = await self.cache.lookup(data_type, symbol)
        if entry is not None:
            return self._answer(symbol, data_type, entry, cache="hit", served_from="cache")
        try:
            entry, produced = await self.cache.single_flight(
                data_type, symbol, lambda: self._produce(symbol, data_type))
        except (_AllFailed, LeaderFailed) as exc:
            outcomes = exc.outcomes if isinstance(exc, _AllFailed) else [
                {"provider": "-", "outcome": exc.marker.get("error", "failed"),
                 "detail": exc.marker.get("detail", "")}]
            return await self._stale_or_raise(symbol, data_type, outcomes)
        return self._answer(symbol, data_type, entry, cache="miss",
                            served_from=entry.pop("_from", "provider") if produced else "cache")

    async def _produce(self, symbol: str, data_type: str) -> tuple[Entry, float]:
        """The leader's work for one key: a fresh-enough snapshot, else the providers."""
        ttl = self.settings.ttl_for(data_type)
        snapshot = await self._snapshot(symbol, data_type)
        if snapshot is not None:
            age = (datetime.now(UTC) - snapshot["fetched_at"]).total_seconds()
            if age < ttl:
                entry = _entry(snapshot["provider"], snapshot["fetched_at"], snapshot["payload"])
                return {**entry, "_from": "database"}, ttl - age
        try:
            provider, payload, fetched_at, fetch = await self._fetch(symbol, data_type)
        except _Unknown as exc:
            await self._persist_quietly(symbol, data_type, calls=exc.calls)
            return {"unknown": True, "outcomes": exc.outcomes}, self.settings.cache_ttl_unknown_s
        except _AllFailed as exc:
            await self._persist_quietly(symbol, data_type, calls=exc.calls)
            raise
        entry = _entry(provider, fetched_at, payload)
        await self._persist_quietly(symbol, data_type, calls=fetch.calls, entry=entry,
                                    fetched_at=fetched_at)
        return {**entry, "_from": "provider"}, ttl

    def _answer(self, symbol: str, data_type: str, entry: Entry, *, cache: str,
                served_from: str) -> Answer:
        if entry.get("unknown"):
            raise UnknownSymbol(symbol=symbol)
        return Answer(symbol=symbol, data_type=data_type, provider=entry["provider"],
                      fetched_at=entry["fetched_at"], payload=entry["payload"], cache=cache,
                      served_from=served_from)

    async def _stale_or_raise(self, symbol: str, data_type: str,
                              outcomes: list[dict[str, str]]) -> Answer:
        snapshot = await self._snapshot(symbol, data_type)
        if snapshot is None:
            raise _unavailable(symbol, data_type, outcomes)
        metrics.STALE_SERVED.labels(data_type).inc()
        entry = _entry(snapshot["provider"], snapshot["fetched_at"], snapshot["payload"])
        answer = self._answer(symbol, data_type, entry, cache="miss", served_from="database")
        answer.stale = True
        return answer

    async def _snapshot(self, symbol: str, data_type: str) -> dict[str, Any] | None:
        try:
            return await MarketDataReads(self.uow()).snapshot(symbol=symbol, data_type=data_type)
        except Exception as exc:  # PostgreSQL down: the providers may still answer
            log.warning("snapshot_read_failed", symbol=symbol, data_type=data_type,
                        error=type(exc).__name__)
            return None

    # -- refreshing -----------------------------------------------------------------------

    async def refresh(self, *, symbol: str, data_type: str, actor_id: str | None) -> Answer:
        """Fetch fresh from the providers, store, emit marketdata.refreshed (no stale answer)."""
        try:
            provider, payload, fetched_at, fetch = await self._fetch(symbol, data_type)
        except _Unknown as exc:
            await self._persist_quietly(symbol, data_type, calls=exc.calls)
            raise UnknownSymbol(symbol=symbol) from None
        except _AllFailed as exc:
            await self._persist_quietly(symbol, data_type, calls=exc.calls)
            raise _unavailable(symbol, data_type, exc.outcomes) from None
        entry = _entry(provider, fetched_at, payload)
        event = events.refreshed(symbol=symbol, data_type=data_type, provider=provider,
                                 fetched_at=fetched_at, actor_id=actor_id)
        await self._persist(symbol, data_type, calls=fetch.calls, entry=entry,
                            fetched_at=fetched_at, event=event)
        await self.cache.store(data_type, symbol, entry, ttl_s=self.settings.ttl_for(data_type))
        return self._answer(symbol, data_type, entry, cache="miss", served_from="provider")

    # -- providers ------------------------------------------------------------------------

    async def _fetch(self, symbol: str, data_type: str
                     ) -> tuple[str, dict[str, Any], datetime, _Fetch]:
        if data_type == "benchmarks":
            return await self._derive_benchmarks(symbol)
        fetch = _Fetch()
        unknown = failed = 0
        for name in self.settings.providers_for(data_type):
            client = self.providers.get(name)
            if client is None:
                continue
            label = PROVIDER_LABELS.get(name, name)
            wait = await self.cache.throttled_for(name)
            if wait > 0:
                metrics.PROVIDER_SKIPS.labels(name, "throttled").inc()
                fetch.outcomes.append({"provider": name, "outcome": "throttled",
                                       "detail": f"{label} is throttled for {wait:.0f} s more."})
                continue
            window = await self.cache.take_budget(name, _cost(name, data_type))
            if window is not None:
                metrics.PROVIDER_SKIPS.labels(name, "rate-limit").inc()
                fetch.outcomes.append({"provider": name, "outcome": "rate-limited",
                                       "detail": f"{label}: our per-{window} budget is spent."})
                continue
            started = time.perf_counter()
            outcome = "ok"
            try:
                payload = await self._call(client, data_type, symbol)
                return name, payload, datetime.now(UTC), fetch
            except Unsupported:
                outcome = "unsupported"
            except ProviderUnknownSymbol as exc:
                outcome, unknown = exc.code, unknown + 1
                fetch.outcomes.append({"provider": name, "outcome": "unknown-symbol",
                                       "detail": exc.detail})
            except ProviderError as exc:
                outcome, failed = exc.code, failed + 1
                if isinstance(exc, Throttled):
                    await self.cache.mark_throttled(name, window=exc.window,
                                                    retry_after=exc.retry_after)
                fetch.outcomes.append({"provider": name, "outcome": exc.code.removeprefix(
                    "provider-"), "detail": f"{label}: {exc.detail}"})
            finally:
                elapsed = time.perf_counter() - started
                metrics.PROVIDER_CALLS.labels(name, data_type, outcome).inc()
                metrics.PROVIDER_LATENCY.labels(name, data_type).observe(elapsed)
                if outcome != "unsupported":
                    fetch.calls.append({"provider": name, "data_type": data_type,
                                        "symbol": symbol, "outcome": outcome,
                                        "status_code": None,
                                        "duration_ms": round(elapsed * 1000, 2)})
        if unknown and not failed:
            raise _Unknown(fetch.outcomes, fetch.calls)
        raise _AllFailed(fetch.outcomes, fetch.calls)

    async def _call(self, client: ProviderClient, data_type: str, symbol: str
                    ) -> dict[str, Any]:
        if data_type == "quote":
            return (await client.get_quote(symbol)).model_dump(mode="json")
        if data_type == "overview":
            return (await client.get_overview(symbol)).model_dump(mode="json")
        fundamentals: Fundamentals = await client.get_fundamentals(symbol)
        # The case document takes name, beta and price from the same provider's overview and
        # quote; an unknown symbol there only leaves those values out.
        overview = quote = None
        if isinstance(client, AlphaVantageClient):
            try:
                overview = await client.get_overview(symbol)
            except ProviderUnknownSymbol:
                pass
            try:
                quote = await client.get_quote(symbol)
            except ProviderUnknownSymbol:
                pass
        case = fundamentals_to_case(fundamentals, overview, quote, symbol=symbol,
                                    as_of=fundamentals.fetched_at)
        return {"fundamentals": fundamentals.model_dump(mode="json"), "case": case,
                "overview": overview.model_dump(mode="json") if overview else None,
                "quote": quote.model_dump(mode="json") if quote else None}

    async def _derive_benchmarks(self, symbol: str
                                 ) -> tuple[str, dict[str, Any], datetime, _Fetch]:
        """One company's margins and multiples, from its overview, fundamentals and quote
        as this service serves them (cached, or stale when the providers fail)."""
        try:
            overview = await self.get(symbol=symbol, data_type="overview")
        except UnknownSymbol:
            raise _Unknown([{"provider": "-", "outcome": "unknown-symbol",
                             "detail": "no overview"}]) from None
        except MarketDataUnavailable as exc:
            raise _AllFailed(exc.outcomes) from None
        parts: dict[str, Answer | None] = {}
        for part in ("fundamentals", "quote"):
            try:
                parts[part] = await self.get(symbol=symbol, data_type=part)
            except (UnknownSymbol, MarketDataUnavailable):
                parts[part] = None
        derived = derive_benchmark_input(symbol, overview=overview.payload,
                                         fundamentals=_payload(parts["fundamentals"]),
                                         quote=_payload(parts["quote"]))
        return overview.provider, derived, datetime.now(UTC), _Fetch()

    # -- persistence ----------------------------------------------------------------------

    async def _persist(self, symbol: str, data_type: str, *, calls: list[dict[str, Any]],
                       entry: Entry | None = None, fetched_at: datetime | None = None,
                       event=None) -> None:
        if event is None and (entry is None or data_type == "quote"):
            # The miss path: one statement, no transaction. A quote's benchmark input is
            # derived only when the symbol has a stored overview or fundamentals.
            writes = MarketDataWrites(self.uow())
            if entry is None or fetched_at is None:
                await writes.log_calls(calls)
                return
            if not await writes.save_with_calls(
                    symbol=symbol, data_type=data_type, provider=entry["provider"],
                    payload=entry["payload"], fetched_at=fetched_at, calls=calls,
                    siblings=QUOTE_SIBLINGS):
                return
            async with self.uow() as uow:
                await self._update_benchmark_input(MarketDataRepository(uow.session), symbol)
                await uow.commit()
            return
        async with self.uow() as uow:
            repo = MarketDataRepository(uow.session)
            await repo.log_calls(calls)
            if entry is not None and fetched_at is not None:
                await repo.save_snapshot(symbol=symbol, data_type=data_type,
                                         provider=entry["provider"], payload=entry["payload"],
                                         fetched_at=fetched_at)
                if data_type in ("overview", "fundamentals", "quote"):
                    await self._update_benchmark_input(repo, symbol)
            if event is not None:
                uow.record(event)
            await uow.commit()

    async def _persist_quietly(self, symbol: str, data_type: str, **kwargs: Any) -> None:
        """A read still answers when PostgreSQL cannot take the snapshot or the call log."""
        try:
            await self._persist(symbol, data_type, **kwargs)
        except Exception as exc:
            log.warning("persist_failed", symbol=symbol, data_type=data_type,
                        error=type(exc).__name__)

    async def _update_benchmark_input(self, repo: MarketDataRepository, symbol: str) -> None:
        stored = await repo.snapshots_of(symbol, ("overview", "fundamentals", "quote"))
        if "overview" not in stored and "fundamentals" not in stored:
            return
        derived = derive_benchmark_input(
            symbol, overview=(stored.get("overview") or {}).get("payload"),
            fundamentals=(stored.get("fundamentals") or {}).get("payload"),
            quote=(stored.get("quote") or {}).get("payload"))
        await repo.save_benchmark_input(symbol=symbol, sector=derived.get("sector"),
                                        industry=derived.get("industry"), inputs=derived)

    # -- statistics and medians -----------------------------------------------------------

    async def cache_stats(self) -> dict[str, Any]:
        stats = await self.cache.stats()
        if stats is None:
            raise DependencyUnavailable(dependency="Redis")
        hits = sum(s["hits"] for s in stats.values())
        misses = sum(s["misses"] for s in stats.values())
        return {"types": stats, "total": {
            "hits": hits, "misses": misses,
            "ratio": round(hits / (hits + misses), 4) if hits + misses else 0.0}}

    async def benchmarks(self, *, sector: str | None, industry: str | None) -> dict[str, Any]:
        async with self.uow() as uow:
            rows = await MarketDataRepository(uow.session).benchmark_inputs(
                sector=sector, industry=industry)
        medians: dict[str, dict[str, Any]] = {}
        for name in BENCHMARK_METRICS:
            values = [row["inputs"][name] for row in rows
                      if isinstance(row["inputs"].get(name), int | float)]
            medians[name] = {"median": statistics.median(values) if values else None,
                             "count": len(values)}
        return {"sector": sector, "industry": industry, "companies": len(rows),
                "symbols": [row["symbol"] for row in rows], "metrics": medians}


def derive_benchmark_input(symbol: str, *, overview: dict[str, Any] | None,
                           fundamentals: dict[str, Any] | None,
                           quote: dict[str, Any] | None) -> dict[str, Any]:
    return BenchmarkInput.derive(
        symbol=symbol,
        overview=Overview.model_validate(overview) if overview else None,
        fundamentals=(Fundamentals.model_validate(fundamentals["fundamentals"])
                      if fundamentals else None),
        quote=Quote.model_validate(quote) if quote else None,
    ).model_dump(mode="json")


def _payload(answer: Answer | None) -> dict[str, Any] | None:
    return answer.payload if answer is not None else None


def _entry(provider: str, fetched_at: datetime, payload: dict[str, Any]) -> Entry:
    return {"provider": provider,
            "fetched_at": fetched_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "payload": payload}


def _cost(provider: str, data_type: str) -> int:
    """Requests one call of ours makes (so our budget counts what the provider counts)."""
    if provider == "alphavantage":
        return 5 if data_type == "fundamentals" else 1
    return 2 if data_type == "overview" else 1


def _unavailable(symbol: str, data_type: str,
                 outcomes: list[dict[str, str]]) -> MarketDataUnavailable:
    names = "; ".join(o["detail"] for o in outcomes if o.get("detail")) or "no provider is configured"
    if data_type == "fundamentals":
        return FundamentalsUnavailable(
            f"Fundamentals for {symbol} are unavailable and none are stored: {names}",
            symbol=symbol, data_type=data_type, outcomes=outcomes)
    return MarketDataUnavailable(
        f"No provider could supply {data_type} for {symbol}, and none is stored: {names}",
        symbol=symbol, data_type=data_type, outcomes=outcomes)

