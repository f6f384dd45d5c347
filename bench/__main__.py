"""`make bench`: every benchmark, or those named: python -m bench [events gateway engine auditchain]."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from bench import auth_gateway, events_pipeline, gateway_hop

HERE = Path(__file__).parent
SCRIPTS = {"engine": HERE / "bench_engine.py", "auditchain": HERE / "bench_auditchain_verify.py"}
ASYNC = {"events": events_pipeline.run, "gateway": gateway_hop.run, "auth": auth_gateway.run}


def main(argv: list[str]) -> int:
    names = argv or [*ASYNC, *SCRIPTS]
    unknown = [n for n in names if n not in ASYNC and n not in SCRIPTS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join([*ASYNC, *SCRIPTS])}")
        return 2
    for name in names:
        if name in ASYNC:
            asyncio.run(ASYNC[name]())
        elif SCRIPTS[name].exists():
            print(f"\n== {name}")
            subprocess.run([sys.executable, str(SCRIPTS[name])], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
