"""Runs wrk (Debian's package) against a URL and returns requests/s and latency percentiles.

wrk drives a closed loop: each connection sends its next request when the last one answered,
so at saturation latency is connections / throughput. `bench.paced` measures the other view,
latency at a fixed offered rate.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
from pathlib import Path

REPORT_LUA = """
init = function(args)
  for i = 1, #args, 2 do
    if args[i] == ":method" then wrk.method = args[i + 1]
    elseif args[i] == ":body" then wrk.body = args[i + 1]
    else wrk.headers[args[i]] = args[i + 1] end
  end
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write("WRKJSON " .. string.format(
    '{"requests": %d, "duration_s": %.3f, "errors": %d, "non_2xx_3xx": %d, '
    .. '"p50_ms": %.3f, "p90_ms": %.3f, "p95_ms": %.3f, "p99_ms": %.3f}',
    summary.requests, summary.duration / 1e6, e.connect + e.read + e.write + e.timeout,
    e.status, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(95) / 1000, latency:percentile(99) / 1000) .. "\\n")
end
"""


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("wrk is needed for HTTP benchmarks: apt-get install -y wrk")
    return path


def _report_script() -> Path:
    """The Lua reporter, in a file of its own per run (wrk takes a path)."""
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(REPORT_LUA)
    return script


async def run_wrk(url: str, *, connections: int, seconds: int = 10, threads: int = 1,
                  headers: dict[str, str] | None = None, method: str = "GET",
                  body: str | None = None) -> dict:
    script = _report_script()
    args = [require_wrk(), f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s",
            "-s", str(script), url, "--", ":method", method]
    if body is not None:
        args += [":body", body]
    for key, value in (headers or {}).items():
        args += [key, value]
    proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate()
    os.unlink(script)
    for line in out.decode().splitlines():
        if line.startswith("WRKJSON "):
            result = json.loads(line.removeprefix("WRKJSON "))
            result["requests_per_s"] = round(result["requests"] / result["duration_s"], 1)
            return result
    raise RuntimeError(f"wrk printed no report:\n{out.decode()}")
