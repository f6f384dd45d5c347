"""Market-data cache under load: `python -m bench marketdata` (or bench/bench_marketdata.py
[--duration 60 --clients 200 --paced-rate 500]).

A Zipf-distributed quote workload over 500 symbols against the market-data service as a real
uvicorn process (its own database, Redis prefix and broker prefix). Both providers are a local
aiohttp stand-in, in a process of its own, that answers in the recorded fixtures' shapes after
150 ms. Two phases:

1. Closed loop: 200 clients, each sending its next request when the last one answered, for
   `--duration` s; the first `--warmup` s fill the cache and are not measured.
2. Open loop: requests at a fixed offered rate (bench/paced.py, no coordinated omission),
   after an unmeasured run at that rate if the warm-up's values would expire during it.

For each: hit ratio, provider calls, client-side p50/p99, the service-side p50/p99 of cached
answers, and the service process's CPU ms per request. Goal: hit ratio >= 95 % after warm-up,
cached p99 < 20 ms at the service.

"At the service" is the service's own histogram epv_marketdata_answer_seconds (read from
/metrics before and after each phase): from the request entering the app's middleware to its
last response byte handed to uvicorn. It leaves out what happens before the app sees the
request: the kernel's socket queue, HTTP parsing, and the wait for the event loop to start the
request's task. A closed loop that saturates the process makes latency queueing (Little's law:
clients / throughput), before the app and inside it too, since a request waits for the busy
loop again after each await; the open loop below capacity shows the service time.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.paced import run_paced  # noqa: E402
from bench.proc import cpu_seconds  # noqa: E402
from bench.stats import report, summary_ms  # noqa: E402
from epv_common.testing.backends import backends  # noqa: E402
from epv_common.testing.shared import marketdata_fixtures  # noqa: E402
from epv_common.testing.system import System  # noqa: E402
from epv_common.testing.tcpproxy import free_port  # noqa: E402

FIXTURES = marketdata_fixtures()
ANSWER_HISTOGRAM = "epv_marketdata_answer_seconds"
LOOKUP_BATCHES = "epv_marketdata_cache_lookup_batch_size"
AT_THE_SERVICE = ("from the request entering the app's middleware to its last response byte "
                  "handed to uvicorn; excludes socket queueing, HTTP parsing and the event-loop "
                  "wait before the request's task starts")


def _load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


class FakeProviders:
    """Alpha Vantage and Finnhub stand-in: every symbol is AAPL under its own name."""

    def __init__(self, latency_s: float) -> None:
        self.latency_s = latency_s
        self.calls: Counter[str] = Counter()
        self.av_quote = _load("alphavantage/GLOBAL_QUOTE.AAPL.json")
        self.fh_quote = _load("finnhub/quote.AAPL.json")

    async def alphavantage(self, request: web.Request) -> web.Response:
        self.calls["alphavantage"] += 1
        await asyncio.sleep(self.latency_s)
        body = json.loads(json.dumps(self.av_quote))
        body["Global Quote"]["01. symbol"] = request.query.get("symbol", "")
        return web.json_response(body)

    async def finnhub_quote(self, request: web.Request) -> web.Response:
        self.calls["finnhub"] += 1
        await asyncio.sleep(self.latency_s)
        return web.json_response(self.fh_quote, content_type="application/json",
                                 headers={"X-Ratelimit-Remaining": "59"})

    async def calls_so_far(self, _request: web.Request) -> web.Response:
        return web.json_response(dict(self.calls))

    async def serve(self, port: int) -> None:
        app = web.Application()
        app.router.add_get("/query", self.alphavantage)
        app.router.add_get("/api/v1/quote", self.finnhub_quote)
        app.router.add_get("/calls", self.calls_so_far)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        await asyncio.Event().wait()


async def start_fake_providers(port: int, latency_s: float) -> asyncio.subprocess.Process:
    """The stand-in in a process of its own, so the load's clients never delay its answers."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.bench_marketdata", "--serve-fake-providers", str(port),
        "--latency", str(latency_s), cwd=ROOT, start_new_session=True)
    deadline = time.monotonic() + 30
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(f"http://127.0.0.1:{port}/calls") as response:
                    if response.status == 200:
                        return process
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the fake providers did not start")
            await asyncio.sleep(0.2)


def zipf_weights(n: int, s: float) -> list[float]:
    return [1 / (rank ** s) for rank in range(1, n + 1)]


# -- what the service says about itself -----------------------------------------------------

Buckets = dict[tuple[str, str], list[tuple[float, float]]]  # (type, cache) -> [(le, cumulative)]


async def scrape(session: aiohttp.ClientSession, base: str) -> tuple[Buckets, tuple[float, float]]:
    """The answer histogram's buckets, and (count, sum) of the lookup batch sizes."""
    async with session.get(base + "/metrics") as response:
        text = await response.text()
    out: Buckets = {}
    batches = {"_count": 0.0, "_sum": 0.0}
    for family in text_string_to_metric_families(text):
        if family.name == LOOKUP_BATCHES:
            for sample in family.samples:
                suffix = sample.name.removeprefix(LOOKUP_BATCHES)
                if suffix in batches:
                    batches[suffix] = sample.value
        if family.name != ANSWER_HISTOGRAM:
            continue
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                le = math.inf if sample.labels["le"] == "+Inf" else float(sample.labels["le"])
                out.setdefault((sample.labels["type"], sample.labels["cache"]), []).append(
                    (le, sample.value))
    return {key: sorted(rows) for key, rows in out.items()}, (batches["_count"], batches["_sum"])


def bucket_delta(after: Buckets, before: Buckets, *, data_type: str, cache: str
                 ) -> list[tuple[float, float]]:
    now = after.get((data_type, cache), [])
    then = dict(before.get((data_type, cache), []))
    return [(le, count - then.get(le, 0.0)) for le, count in now]


def histogram_quantile(buckets: list[tuple[float, float]], q: float) -> float | None:
    """Seconds at quantile q, interpolated inside its bucket (as PromQL's histogram_quantile)."""
    total = buckets[-1][1] if buckets else 0
    if not total:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for le, cumulative in buckets:
        if cumulative >= rank:
            if math.isinf(le):
                return lower  # past the last finite bucket: a lower bound
            inside = cumulative - below
            return lower + (le - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = le, cumulative
    return lower


def service_side(after: Buckets, before: Buckets, *, cache: str) -> dict:
    buckets = bucket_delta(after, before, data_type="quote", cache=cache)
    total = buckets[-1][1] if buckets else 0
    within = next((count for le, count in buckets if le >= 0.02), 0)
    quantile = {q: histogram_quantile(buckets, q) for q in (0.5, 0.99)}
    return {"answers": int(total),
            "p50_ms": round(quantile[0.5] * 1000, 2) if quantile[0.5] is not None else None,
            "p99_ms": round(quantile[0.99] * 1000, 2) if quantile[0.99] is not None else None,
            "share_within_20ms": round(within / total, 4) if total else None}


@dataclass
class Mark:
    """What is counted at one instant: provider calls, service CPU, its own metrics."""

    at: float
    cpu_s: float
    calls: dict[str, int]
    buckets: Buckets
    batches: tuple[float, float]  # cache lookup round trips, lookups they carried


@dataclass(frozen=True)
class Target:
    base: str  # the market-data service
    pid: int  # its process
    fake: str  # the fake providers


async def mark(target: Target) -> Mark:
    # Its own connection: the load's connections are never free for long.
    async with aiohttp.ClientSession() as session:
        async with session.get(target.fake + "/calls") as response:
            calls = await response.json()
        at, cpu_s = time.monotonic(), cpu_seconds(target.pid)
        buckets, batches = await scrape(session, target.base)
        return Mark(at=at, cpu_s=cpu_s, calls=calls, buckets=buckets, batches=batches)


def window(before: Mark, after: Mark, *, requests: int) -> dict:
    """Service-side figures between two marks."""
    cpu = after.cpu_s - before.cpu_s
    elapsed = after.at - before.at
    trips, lookups = (a - b for a, b in zip(after.batches, before.batches, strict=True))
    return {
        "provider_calls": {k: v - before.calls.get(k, 0) for k, v in after.calls.items()},
        "service_cpu_ms_per_request": round(cpu * 1000 / requests, 3) if requests else None,
        "service_cpu_busy": round(cpu / elapsed, 2) if elapsed > 0 else None,
        "lookups_per_redis_round_trip": round(lookups / trips, 1) if trips else None,
        "at_service_cached": service_side(after.buckets, before.buckets, cache="hit"),
        "at_service_missed": service_side(after.buckets, before.buckets, cache="miss"),
    }


# -- the run ----------------------------------------------------------------------------------

async def run(args: argparse.Namespace) -> dict:
    fake_port = free_port()
    fake = await start_fake_providers(fake_port, args.latency)
    try:
        with backends() as found:
            sut = System(backends=found, workdir=Path(tempfile.mkdtemp(prefix="epv-bench-md-")))
            await sut.prepare()
            try:
                return await _with_service(sut, args, fake_url=f"http://127.0.0.1:{fake_port}")
            finally:
                await sut.stop()
    finally:
        fake.terminate()
        await asyncio.wait_for(fake.wait(), 15)


async def _with_service(sut: System, args: argparse.Namespace, *, fake_url: str) -> dict:
    port = free_port()
    env = sut.service_env("marketdata")
    env.update({
        "EPV_PORT": str(port), "EPV_LOG_LEVEL": "WARNING",
        "EPV_ALPHAVANTAGE_API_KEY": "bench-av", "EPV_FINNHUB_API_KEY": "bench-fh",
        "EPV_ALPHAVANTAGE_BASE_URL": fake_url, "EPV_FINNHUB_BASE_URL": f"{fake_url}/api/v1",
        "EPV_ALPHAVANTAGE_MIN_INTERVAL_S": "0", "EPV_ALPHAVANTAGE_CALLS_PER_DAY": "0",
        "EPV_FINNHUB_CALLS_PER_MINUTE": "0", "EPV_FINNHUB_CALLS_PER_SECOND": "0",
        "EPV_CACHE_TTL_QUOTE_S": str(args.ttl),
    })
    log = (sut.workdir / "marketdata.log").open("ab")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "epv_marketdata", env=env, stdout=log,
        stderr=asyncio.subprocess.STDOUT, start_new_session=True)
    target = Target(base=f"http://127.0.0.1:{port}", pid=process.pid, fake=fake_url)
    try:
        return await _load_test(target, sut, args)
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 15)


async def _load_test(target: Target, sut: System, args: argparse.Namespace) -> dict:
    headers = sut.internal_headers(role="ANALYST")
    symbols = [f"BM{i:03d}" for i in range(args.symbols)]
    cumulative = list(itertools.accumulate(zipf_weights(len(symbols), args.zipf)))
    connector = aiohttp.TCPConnector(limit=args.clients)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        deadline = time.monotonic() + 60
        while True:
            try:
                async with session.get(target.base + "/health") as r:
                    if r.status == 200:
                        break
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the market-data service did not start")
            await asyncio.sleep(0.3)
        started = time.monotonic()
        closed = await _closed_loop(session, target, args, symbols=symbols,
                                    cumulative=cumulative)
        paced = await _open_loop(target, args, headers=headers, symbols=symbols,
                                 cumulative=cumulative, since_start_s=time.monotonic() - started)
        async with session.get(target.base + "/api/market-data/cache/stats") as r:
            stats = await r.json()
        async with session.get(target.fake + "/calls") as r:
            calls = await r.json()
    return {
        "workload": {"symbols": args.symbols, "zipf_s": args.zipf, "type": "quote",
                     "provider_latency_ms": args.latency * 1000, "quote_ttl_s": args.ttl},
        "at_the_service_means": AT_THE_SERVICE,
        "closed_loop": closed,
        "open_loop": paced,
        "provider_calls_total": calls,
        "service_cache_stats_quote": stats.get("types", {}).get("quote"),
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }


async def _closed_loop(session: aiohttp.ClientSession, target: Target,
                       args: argparse.Namespace, *, symbols: list[str],
                       cumulative: list[float]) -> dict:
    started = time.monotonic()
    stop_at = started + args.duration
    latencies: list[float] = []
    hit_latencies: list[float] = []
    outcome: Counter[str] = Counter()
    marks: dict[str, Mark] = {}

    async def take_warm_mark() -> None:
        await asyncio.sleep(args.warmup)
        marks["warm"] = await mark(target)

    async def client(seed: int) -> None:
        rng = random.Random(seed)
        while time.monotonic() < stop_at:
            measuring = "warm" in marks
            symbol = rng.choices(symbols, cum_weights=cumulative)[0]
            t0 = time.perf_counter()
            async with session.get(target.base + "/api/market-data",
                                   params={"symbol": symbol, "type": "quote"}) as response:
                await response.read()
                cache = response.headers.get("x-cache", "NONE")
                status = response.status
            elapsed = time.perf_counter() - t0
            # Measured: the requests that start after the warm-up mark was taken.
            if not measuring:
                continue
            latencies.append(elapsed)
            outcome[f"{status}:{cache}"] += 1
            if cache == "HIT":
                hit_latencies.append(elapsed)

    await asyncio.gather(take_warm_mark(), *(client(i) for i in range(args.clients)))
    end = await mark(target)
    measured = end.at - marks["warm"].at
    hits = sum(n for k, n in outcome.items() if k.endswith(":HIT"))
    total = sum(outcome.values())
    return {
        "clients": args.clients, "duration_s": args.duration, "warmup_s": args.warmup,
        "requests_after_warmup": total,
        "throughput_rps": round(total / measured, 1) if measured > 0 else None,
        "hit_ratio_after_warmup": round(hits / total, 4) if total else None,
        "outcomes": dict(outcome),
        "client_side_all": summary_ms(latencies),
        "client_side_cached": summary_ms(hit_latencies),
        **window(marks["warm"], end, requests=total),
    }


async def _open_loop(target: Target, args: argparse.Namespace, *, headers: dict[str, str],
                     symbols: list[str], cumulative: list[float], since_start_s: float) -> dict:
    rng = random.Random(args.paced_rate)

    def spec_for(picks: list[str]):
        def spec(i: int) -> tuple[str, str, dict[str, str], None]:
            return ("GET", f"{target.base}/api/market-data?symbol={picks[i]}&type=quote",
                    headers, None)
        return spec

    def picks(seconds: float) -> list[str]:
        return rng.choices(symbols, cum_weights=cumulative, k=int(args.paced_rate * seconds))

    # The values the closed loop's warm-up stored all expire one TTL later, a wave of misses
    # no steady state has. When it would fall into the measured window, a run at the same
    # rate that is not measured takes it first.
    wave_from, wave_to = args.ttl, args.ttl + args.warmup
    overlaps = since_start_s < wave_to and since_start_s + args.paced_seconds > wave_from
    settle_s = wave_to - since_start_s if overlaps else 0.0
    if settle_s:
        await run_paced(spec_for(picks(settle_s)), rate=args.paced_rate, seconds=settle_s,
                        clients=args.clients)
    before = await mark(target)
    paced = await run_paced(spec_for(picks(args.paced_seconds)), rate=args.paced_rate,
                            seconds=args.paced_seconds, clients=args.clients)
    after = await mark(target)
    client_side = {k: paced[k] for k in ("p50_ms", "p95_ms", "p99_ms", "mean_ms")}
    return {"offered_rps": args.paced_rate, "seconds": args.paced_seconds,
            "unmeasured_before_s": round(settle_s, 1),
            "completed_rps": paced["completed_per_s"], "errors": paced["errors"],
            "statuses": paced["statuses"], "client_side_all": client_side,
            **window(before, after, requests=paced["requests"])}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0, help="closed loop (s)")
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--zipf", type=float, default=1.1)
    parser.add_argument("--latency", type=float, default=0.15)
    parser.add_argument("--ttl", type=int, default=60, help="quote cache TTL (s)")
    parser.add_argument("--paced-rate", type=float, default=500.0,
                        help="open loop: offered requests/s")
    parser.add_argument("--paced-seconds", type=float, default=20.0)
    parser.add_argument("--serve-fake-providers", type=int, metavar="PORT",
                        help=argparse.SUPPRESS)  # the child process of start_fake_providers
    args = parser.parse_args()
    if args.serve_fake_providers:
        asyncio.run(FakeProviders(args.latency).serve(args.serve_fake_providers))
        return 0
    figures = asyncio.run(run(args))
    report("marketdata_cache", figures)
    closed, paced = figures["closed_loop"], figures["open_loop"]
    hit_ok = (closed["hit_ratio_after_warmup"] or 0) >= 0.95

    def p99_ok(phase: dict) -> str:
        p99 = phase["at_service_cached"]["p99_ms"]
        return "no cached answers" if p99 is None else ("met" if p99 < 20 else "NOT met")

    print(f"   goal hit ratio >= 95 % after warm-up: {'met' if hit_ok else 'NOT met'} "
          f"({closed['hit_ratio_after_warmup']})")
    print(f"   goal cached p99 < 20 ms at the service: closed loop at {args.clients} clients "
          f"{p99_ok(closed)} ({closed['at_service_cached']['p99_ms']} ms); open loop at "
          f"{args.paced_rate:.0f}/s {p99_ok(paced)} ({paced['at_service_cached']['p99_ms']} ms)")
    print(f"   at the service: {AT_THE_SERVICE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
