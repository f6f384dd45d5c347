"""`make bench`: every benchmark in turn, or those named (make bench BENCH="cases audit").

Each runs in its own process and starts what it measures (usually a whole system of its own),
so one benchmark's leftovers never load the next. Figures print as they come and are kept as
JSON in bench/results/.
"""

from __future__ import annotations

import subprocess
import sys
import time

BENCHMARKS = {
    "engine": "bench.bench_engine",              # EPV engine runs/s on one core
    "auditchain": "bench.bench_auditchain_verify",  # offline chain verify entries/s
    "auth-costs": "bench.bench_auth",            # token sign/verify and bcrypt CPU costs
    "events": "bench.events_pipeline",           # outbox -> consumer beside raw RabbitMQ
    "gateway": "bench.gateway_hop",              # bare proxy hop beside direct
    "auth": "bench.auth_gateway",                # logins/s; authenticated GET via gateway
    "cases": "bench.bench_cases",                # GET one / list of 50, 200 clients
    "analyses": "bench.bench_analyses",          # POST analyses at 50 clients
    "audit": "bench.bench_audit",                # ingest, verify 1M, export 1M
    "marketdata": "bench.bench_marketdata",      # Zipf over 500 symbols, cache hit ratio
}


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    failed = []
    for name in names:
        print(f"\n######## {name} ({BENCHMARKS[name]})", flush=True)
        started = time.monotonic()
        if subprocess.run([sys.executable, "-m", BENCHMARKS[name]]).returncode != 0:
            failed.append(name)
        print(f"######## {name}: {time.monotonic() - started:.0f} s", flush=True)
    if failed:
        print(f"benchmarks that failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
