"""Market-data cache under load: `python bench/bench_marketdata.py [--duration 60 --clients 200]`.

A Zipf-distributed quote workload over 500 symbols, 200 concurrent clients, against the
market-data service as a real uvicorn process (its own database, Redis prefix and broker
prefix). Both providers are a local aiohttp stand-in that answers in the recorded fixtures'
shapes after 150 ms. Reports the hit ratio after warm-up, provider calls, and latency at the
service (all answers, and cache hits alone). Goal: hit ratio >= 95 %, cached p99 < 20 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.stats import report, summary_ms  # noqa: E402
from epv_common.testing.backends import backends  # noqa: E402
from epv_common.testing.shared import marketdata_fixtures  # noqa: E402
from epv_common.testing.system import System  # noqa: E402
from epv_common.testing.tcpproxy import free_port  # noqa: E402

FIXTURES = marketdata_fixtures()


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

    async def start(self, port: int) -> web.AppRunner:
        app = web.Application()
        app.router.add_get("/query", self.alphavantage)
        app.router.add_get("/api/v1/quote", self.finnhub_quote)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        return runner


def zipf_weights(n: int, s: float) -> list[float]:
    return [1 / (rank ** s) for rank in range(1, n + 1)]


async def run(args: argparse.Namespace) -> dict:
    fake = FakeProviders(args.latency)
    fake_port = free_port()
    runner = await fake.start(fake_port)
    with backends() as found:
        sut = System(backends=found, workdir=Path(tempfile.mkdtemp(prefix="epv-bench-md-")))
        await sut.prepare()
        port = free_port()
        env = sut.service_env("marketdata")
        env.update({
            "EPV_PORT": str(port), "EPV_LOG_LEVEL": "WARNING",
            "EPV_ALPHAVANTAGE_API_KEY": "bench-av", "EPV_FINNHUB_API_KEY": "bench-fh",
            "EPV_ALPHAVANTAGE_BASE_URL": f"http://127.0.0.1:{fake_port}",
            "EPV_FINNHUB_BASE_URL": f"http://127.0.0.1:{fake_port}/api/v1",
            "EPV_ALPHAVANTAGE_MIN_INTERVAL_S": "0", "EPV_ALPHAVANTAGE_CALLS_PER_DAY": "0",
            "EPV_FINNHUB_CALLS_PER_MINUTE": "0", "EPV_FINNHUB_CALLS_PER_SECOND": "0",
            "EPV_CACHE_TTL_QUOTE_S": str(args.ttl),
        })
        log = (sut.workdir / "marketdata.log").open("ab")
        process = subprocess.Popen([sys.executable, "-m", "epv_marketdata"], env=env,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        try:
            figures = await _load_test(base, sut, fake, args)
        finally:
            process.terminate()
            process.wait(timeout=15)
            await sut.stop()
            await runner.cleanup()
    return figures


async def _load_test(base: str, sut: System, fake: FakeProviders,
                     args: argparse.Namespace) -> dict:
    headers = sut.internal_headers(role="ANALYST")
    symbols = [f"BM{i:03d}" for i in range(args.symbols)]
    weights = zipf_weights(len(symbols), args.zipf)
    cumulative = list(__import__('itertools').accumulate(weights))
    connector = aiohttp.TCPConnector(limit=args.clients)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        deadline = time.monotonic() + 60
        while True:
            try:
                async with session.get(base + "/health") as r:
                    if r.status == 200:
                        break
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the market-data service did not start")
            await asyncio.sleep(0.3)

        started = time.monotonic()
        warm_until = started + args.warmup
        stop_at = started + args.duration
        latencies: list[float] = []
        hit_latencies: list[float] = []
        outcome: Counter[str] = Counter()
        calls_at_warm: dict[str, int] = {}

        async def client(seed: int) -> None:
            rng = random.Random(seed)
            while (now := time.monotonic()) < stop_at:
                if now >= warm_until and not calls_at_warm:
                    calls_at_warm.update(fake.calls)
                symbol = rng.choices(symbols, cum_weights=cumulative)[0]
                t0 = time.perf_counter()
                async with session.get(base + "/api/market-data",
                                       params={"symbol": symbol, "type": "quote"}) as response:
                    await response.read()
                    cache = response.headers.get("x-cache", "NONE")
                    status = response.status
                elapsed = time.perf_counter() - t0
                if now < warm_until:
                    continue
                latencies.append(elapsed)
                outcome[f"{status}:{cache}"] += 1
                if cache == "HIT":
                    hit_latencies.append(elapsed)

        await asyncio.gather(*(client(i) for i in range(args.clients)))
        async with session.get(base + "/api/market-data/cache/stats") as r:
            stats = await r.json()

    measured = time.monotonic() - warm_until
    hits = sum(n for k, n in outcome.items() if k.endswith(":HIT"))
    total = sum(outcome.values())
    return {
        "duration_s": args.duration, "warmup_s": args.warmup, "clients": args.clients,
        "symbols": args.symbols, "zipf_s": args.zipf, "provider_latency_ms": args.latency * 1000,
        "requests_after_warmup": total,
        "throughput_rps": round(total / measured, 1) if measured > 0 else None,
        "hit_ratio_after_warmup": round(hits / total, 4) if total else None,
        "outcomes": dict(outcome),
        "provider_calls_total": dict(fake.calls),
        "provider_calls_after_warmup": {k: fake.calls[k] - calls_at_warm.get(k, 0)
                                        for k in fake.calls},
        "all_answers": summary_ms(latencies),
        "cached_answers": summary_ms(hit_latencies),
        "service_cache_stats_quote": stats.get("types", {}).get("quote"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--zipf", type=float, default=1.1)
    parser.add_argument("--latency", type=float, default=0.15)
    parser.add_argument("--ttl", type=int, default=60, help="quote cache TTL (s)")
    args = parser.parse_args()
    figures = asyncio.run(run(args))
    report("marketdata_cache", figures)
    hit_ok = (figures["hit_ratio_after_warmup"] or 0) >= 0.95
    p99_ok = figures["cached_answers"]["p99_ms"] < 20
    print(f"   goal hit ratio >= 95 %: {'met' if hit_ok else 'NOT met'}; "
          f"cached p99 < 20 ms: {'met' if p99_ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
