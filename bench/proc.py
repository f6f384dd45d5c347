"""CPU and memory of the processes under test, read from /proc.

CPU per answered request is the figure that holds on a busy two-core machine, where latency
and throughput move with whatever else runs; benches report it beside their latencies.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Iterable
from pathlib import Path

_TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process so far (fields 14 and 15 of /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * _TICK_S


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def postgres_backends(database: str) -> list[int]:
    """The server processes serving this run's database (their title names it), so the
    database's share of the CPU is measured too: it runs on the same two cores."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                title = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if title.startswith("postgres:") and f" {database} " in title:
                pids.append(int(entry.name))
    return pids


def machine_busy_seconds() -> float:
    """CPU time every core of the machine spent on anything but idling and waiting for I/O:
    the load generator, the broker, Redis and the kernel too."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle, iowait = fields[3], fields[4]
    return (sum(fields[:8]) - idle - iowait) * _TICK_S


def processes_named(command: str) -> list[int]:
    """Every process whose command name is `command` (e.g. the broker's beam.smp)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == command:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


# The shared servers outside this run's processes that a request also costs.
SHARED_SERVERS = {"rabbitmq": "beam.smp", "redis": "redis-server"}


def _cpu_or_zero(pid: int) -> float:
    try:
        return cpu_seconds(pid)
    except OSError:  # a backend that ended during the run: its CPU is gone with it
        return 0.0


async def with_cpu(sut, run: Awaitable[dict], *, services: Iterable[str],
                   client_in_process: bool = False) -> dict:
    """The run's figures plus the CPU milliseconds per answered request of each named service
    process, of the run's PostgreSQL backends, and of this process when it is the client (a
    Python client competes for the same two cores); also of the broker and Redis, and of the
    whole machine, whose figure bounds throughput: cores x 1000 / it requests per second."""
    services = tuple(services)
    pids = {name: sut.services[name].process.pid for name in services}
    if client_in_process:
        pids["client"] = os.getpid()
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    backends_before = {pid: _cpu_or_zero(pid) for pid in postgres_backends(sut.database)}
    shared = {name: processes_named(command) for name, command in SHARED_SERVERS.items()}
    shared_before = {name: sum(map(_cpu_or_zero, found)) for name, found in shared.items()}
    machine_before = machine_busy_seconds()
    figures = await run
    machine_spent = machine_busy_seconds() - machine_before
    answered = max(figures.get("requests", 0) - figures.get("errors", 0), 1)
    for name, pid in pids.items():
        spent = cpu_seconds(pid) - before[name]
        figures[f"cpu_ms_per_request_{name}"] = round(1000 * spent / answered, 2)
    spent = sum(_cpu_or_zero(pid) - backends_before.get(pid, 0.0)
                for pid in postgres_backends(sut.database))
    figures["cpu_ms_per_request_postgres"] = round(1000 * spent / answered, 2)
    figures["cpu_ms_per_request_server_side"] = round(sum(
        figures[f"cpu_ms_per_request_{name}"] for name in (*services, "postgres")), 2)
    for name, found in shared.items():
        spent = sum(map(_cpu_or_zero, found)) - shared_before[name]
        figures[f"cpu_ms_per_request_{name}"] = round(1000 * spent / answered, 2)
    figures["cpu_ms_per_request_whole_machine"] = round(1000 * machine_spent / answered, 2)
    return figures
