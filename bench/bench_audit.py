"""Audit service benchmark (standalone): python bench/bench_audit.py [--entries N]

1. Sustained ingest with two audit replicas on one queue: events published at a fixed rate
   straight to the run's exchange; entries/s and lag p99 (event time -> entry recorded_at).
   Goal: >= 1,000 entries/s with lag p99 < 500 ms.
2. Verify over N (default 1,000,000) entries through GET /api/audit/verify. Goal >= 100,000/s.
   With the CPU time it cost the audit processes (verify's workers too) and the database.
3. NDJSON export of those N entries, streamed; peak RSS of the audit process. Goal: constant.

Everything runs in a database and broker prefix of its own; the million entries are seeded by
COPY as the superuser, hashed with the published rule (cross-checked against build_chain).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import aio_pika
import asyncpg
import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from epv_audit.settings import DEV_SIGNING_SEED  # noqa: E402
from epv_common import bootstrap  # noqa: E402
from epv_common.auditchain import (  # noqa: E402
    GENESIS_PREV_HASH,
    build_chain,
    canonical_bytes_fast,
    public_jwk,
    sign_checkpoint,
)
from epv_common.events.envelope import CloudEvent  # noqa: E402
from epv_common.testing.backends import local_backends  # noqa: E402
from epv_common.testing.system import INTERNAL_TOKEN, ServiceProcess, role_dsn  # noqa: E402
from epv_common.testing.tcpproxy import free_port  # noqa: E402

HEADERS = {"x-epv-internal-token": INTERNAL_TOKEN, "x-epv-user-id": str(uuid.uuid4()),
           "x-epv-role": "MANAGER", "x-epv-session-id": str(uuid.uuid4())}
COLUMNS = ("seq", "v", "event_id", "occurred_at", "recorded_at", "actor_id", "action",
           "entity_type", "entity_id", "request_id", "source", "security", "before", "after",
           "event", "prev_hash", "hash")


class Instance:
    def __init__(self, backends, workdir: Path) -> None:
        self.backends = backends
        self.tag = uuid.uuid4().hex[:8]
        self.database = f"epv_bench_audit_{self.tag}"
        self.prefix = f"benchaudit{self.tag}."
        self.workdir = workdir
        self.processes: list[ServiceProcess] = []

    def env(self) -> dict[str, str]:
        admin = self.backends.admin_database_url
        env = {k: v for k, v in os.environ.items() if not k.startswith("EPV_")}
        env.update({
            "EPV_ENVIRONMENT": "test", "EPV_REDIS_URL": self.backends.redis_url,
            "EPV_REDIS_PREFIX": f"benchaudit:{self.tag}:", "EPV_AMQP_URL": self.backends.amqp_url,
            "EPV_AMQP_PREFIX": self.prefix, "EPV_INTERNAL_TOKEN": INTERNAL_TOKEN,
            "EPV_LOG_LEVEL": "WARNING", "EPV_DB_STATEMENT_TIMEOUT_MS": "0",
            "EPV_DATABASE_URL": role_dsn(admin, self.database, "epv_audit"),
            "EPV_MIGRATIONS_DATABASE_URL": role_dsn(admin, self.database, "epv_audit_owner"),
        })
        return env

    @property
    def superuser_dsn(self) -> str:
        return bootstrap.with_database(self.backends.admin_database_url, self.database)

    async def prepare(self) -> None:
        await bootstrap.bootstrap(self.backends.admin_database_url, self.database)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "epv_audit", "migrate", env=self.env(),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out, _ = await proc.communicate()
        if proc.returncode:
            raise RuntimeError(out.decode())

    async def start(self, replicas: int) -> None:
        for i in range(replicas):
            port = free_port()
            p = ServiceProcess(name="audit", port=port, env={**self.env(), "EPV_PORT": str(port)},
                               log_path=self.workdir / f"audit-{i}.log")
            p.start()
            self.processes.append(p)
        async with httpx.AsyncClient(timeout=3) as client:
            for p in self.processes:
                for _ in range(300):
                    with contextlib.suppress(httpx.HTTPError, ValueError):
                        r = await client.get(p.url + "/health")
                        if r.json().get("status") == "up":
                            break
                    await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)  # consumers bind after the health connection

    def stop(self) -> None:
        for p in self.processes:
            p.stop()
        self.processes = []

    async def cleanup(self) -> None:
        self.stop()
        conn = await asyncpg.connect(self.backends.admin_database_url)
        await conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        await conn.close()
        with contextlib.suppress(Exception):
            connection = await aio_pika.connect(self.backends.amqp_url)
            channel = await connection.channel()
            for q in ("audit.events", "audit.events.dlq"):
                await channel.queue_delete(self.prefix + q)
            for x in ("epv.events", "epv.dlx"):
                await channel.exchange_delete(self.prefix + x)
            await connection.close()


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] if values else float("nan")


async def ingest(inst: Instance, *, rate: int, seconds: float) -> None:
    total = int(rate * seconds)
    connection = await aio_pika.connect(inst.backends.amqp_url)
    channel = await connection.channel(publisher_confirms=True)
    exchange = await channel.get_exchange(inst.prefix + "epv.events")
    start = time.monotonic()
    pending = []
    for i in range(total):
        due = start + i / rate
        if (delay := due - time.monotonic()) > 0:
            await asyncio.sleep(delay)
        s = str(uuid.uuid4())
        e = CloudEvent(source="cases", type="case.created", subject=s, data={
            "case_id": s, "owner_id": s, "name": "bench", "status": "DRAFT", "version": 1})
        pending.append(exchange.publish(aio_pika.Message(
            e.to_json(), message_id=e.id, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
            routing_key=e.type))
        if len(pending) >= 200:
            await asyncio.gather(*pending)
            pending = []
    await asyncio.gather(*pending)
    await connection.close()
    conn = await asyncpg.connect(inst.superuser_dsn)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            n = await conn.fetchval("SELECT count(*) FROM audit.entries WHERE action = 'case.created'")
            if n >= total:
                break
            await asyncio.sleep(0.2)
        rows = await conn.fetch(
            "SELECT occurred_at, recorded_at FROM audit.entries WHERE action = 'case.created'")
        gaps = await conn.fetchval("SELECT max(seq) - min(seq) + 1 - count(*) FROM audit.entries")
    finally:
        await conn.close()
    occurred = [datetime.fromisoformat(r["occurred_at"]) for r in rows]
    recorded = [datetime.fromisoformat(r["recorded_at"]) for r in rows]
    lags = [(b - a).total_seconds() * 1000 for a, b in zip(occurred, recorded, strict=True)]
    span = (max(recorded) - min(occurred)).total_seconds()
    print(f"ingest @ {rate}/s offered, 2 replicas: {len(rows)}/{total} entries, "
          f"{len(rows) / span:,.0f} entries/s, lag p50 {pct(lags, .5):.0f} ms, "
          f"p99 {pct(lags, .99):.0f} ms, max {max(lags):.0f} ms, gaps {gaps}")


def _fields(i: int, s: str) -> dict:
    ts = "2024-01-01T00:00:00.000000Z"
    data = {"case_id": s, "owner_id": s, "name": f"seed {i}", "status": "DRAFT", "version": 1}
    event = {"specversion": "1.0", "id": s, "source": "cases", "type": "case.created",
             "time": ts, "subject": s, "datacontenttype": "application/json", "data": data,
             "actorid": s}
    return {"v": 1, "seq": i, "event_id": s, "occurred_at": ts, "recorded_at": ts,
            "source": "cases", "action": "case.created", "actor_id": s, "entity_type": "case",
            "entity_id": s, "request_id": None, "security": False, "before": None,
            "after": data, "event": event}


async def seed(inst: Instance, n: int, *, every: int = 1000) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.from_private_bytes(DEV_SIGNING_SEED)
    probe = [_fields(i, str(uuid.uuid4())) for i in range(1, 501)]
    reference = [e["hash"] for e in build_chain(probe)]
    t0 = time.perf_counter()
    prev = bytes.fromhex(GENESIS_PREV_HASH)
    checked = []
    conn = await asyncpg.connect(inst.superuser_dsn)
    cps = []
    try:
        batch = []
        for i in range(1, n + 1):
            f = probe[i - 1] if i <= len(probe) else _fields(i, str(uuid.uuid4()))
            digest = hashlib.sha256(prev + canonical_bytes_fast(f)).digest()
            h = digest.hex()
            if i <= len(probe):
                checked.append(h)
            batch.append((i, 1, uuid.UUID(f["event_id"]), f["occurred_at"], f["recorded_at"],
                          f["actor_id"], f["action"], "case", f["entity_id"], None, "cases",
                          False, None, orjson.dumps(f["after"]).decode(),
                          orjson.dumps(f["event"]).decode(), prev.hex(), h))
            prev = digest
            if i % every == 0 or i == n:
                cps.append(sign_checkpoint(key, seq=i, head_hash=h, created_at=datetime.now(UTC)))
            if len(batch) >= 20_000:
                await conn.copy_records_to_table("entries", schema_name="audit", records=batch,
                                                 columns=COLUMNS)
                batch = []
        if batch:
            await conn.copy_records_to_table("entries", schema_name="audit", records=batch,
                                             columns=COLUMNS)
        assert checked == reference[: len(checked)], "seeded hashes differ from build_chain"
        await conn.executemany(
            "INSERT INTO audit.checkpoints (seq, head_hash, created_at, key_id, signature) "
            "VALUES ($1, $2, $3, $4, $5)",
            [(c.seq, c.head_hash, c.created_at, c.key_id, c.signature) for c in cps])
        jwk = public_jwk(key.public_key())
        await conn.execute("INSERT INTO audit.signing_keys (key_id, public_key) VALUES ($1, $2) "
                           "ON CONFLICT DO NOTHING", jwk["kid"], jwk["x"])
        await conn.execute(
            "INSERT INTO audit.chain_head (id, seq, hash, checkpoint_seq, checkpoint_at, "
            "content_seq) VALUES (1, $1, $2, $1, now(), $1)", n, prev.hex())
        await conn.execute("ANALYZE audit.entries")
    finally:
        await conn.close()
    print(f"seeded {n:,} entries in {time.perf_counter() - t0:.1f} s")


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (st := _stat(int(name))) is not None:
            children.setdefault(int(st[1]), []).append(int(name))
    pids, todo = [], [root]
    while todo:
        pids.append(pid := todo.pop())
        todo.extend(children.get(pid, []))
    return pids


class CpuMeter:
    """CPU seconds of a process with its descendants, and of a database's backends, over a span:
    sampled while it runs, since worker processes and backends come and go. On a machine shared
    with other work, wall time says little; CPU time says what the work cost."""

    def __init__(self, pid: int, admin_dsn: str, database: str) -> None:
        self.pid, self.admin_dsn, self.database = pid, admin_dsn, database
        self.first: dict[tuple[str, int], float] = {}
        self.last: dict[tuple[str, int], float] = {}

    async def _sample(self, conn: asyncpg.Connection) -> None:
        backends = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1",
                                    self.database)
        for kind, pids in (("audit", _tree(self.pid)), ("db", [r["pid"] for r in backends])):
            for pid in pids:
                if (st := _stat(pid)) is not None:
                    self.last[(kind, pid)] = (int(st[11]) + int(st[12])) / CLOCK_TICKS

    @contextlib.asynccontextmanager
    async def span(self):
        conn = await asyncpg.connect(self.admin_dsn)
        await self._sample(conn)
        self.first = dict(self.last)
        done = asyncio.Event()

        async def sample() -> None:
            while not done.is_set():
                await self._sample(conn)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(done.wait(), 0.1)

        sampler = asyncio.create_task(sample())
        try:
            yield self
        finally:
            done.set()
            await sampler
            await self._sample(conn)
            await conn.close()

    def seconds(self, kind: str) -> float:
        """Processes that started during the span count from zero."""
        return sum(v - self.first.get(k, 0.0) for k, v in self.last.items() if k[0] == kind)


def rss_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


async def verify_and_export(inst: Instance, n: int) -> None:
    p = inst.processes[0]
    pid = p.process.pid
    async with httpx.AsyncClient(timeout=600) as client:
        meter = CpuMeter(pid, inst.backends.admin_database_url, inst.database)
        async with meter.span():
            t = time.perf_counter()
            r = await client.get(p.url + "/api/audit/verify", headers=HEADERS)
            dt = time.perf_counter() - t
        body = r.json()
        print(f"verify {body['entries_checked']:,} entries: ok={body['ok']} in {dt:.1f} s = "
              f"{body['entries_checked'] / dt:,.0f} entries/s "
              f"({body['checkpoints_verified']} checkpoints); CPU {meter.seconds('audit'):.1f} s "
              f"audit processes, {meter.seconds('db'):.1f} s database; load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        rss_before = rss_kb(pid, "VmRSS")
        peak = rss_before
        size = lines = 0
        t = time.perf_counter()
        async with client.stream("GET", p.url + "/api/audit/export", headers=HEADERS,
                                 params={"format": "ndjson"}) as resp:
            async for chunk in resp.aiter_bytes():
                size += len(chunk)
                lines += chunk.count(b"\n")
                peak = max(peak, rss_kb(pid, "VmRSS"))
        dt = time.perf_counter() - t
        print(f"export ndjson {lines:,} lines, {size / 1e6:,.0f} MB in {dt:.1f} s "
              f"({lines / dt:,.0f} entries/s); audit RSS {rss_before / 1024:.0f} MB before, "
              f"peak {peak / 1024:.0f} MB during (VmHWM {rss_kb(pid, 'VmHWM') / 1024:.0f} MB)")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--rate", type=int, default=1200)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--only", choices=["ingest", "big"], default=None)
    args = parser.parse_args()
    backends = local_backends()
    workdir = Path(tempfile.mkdtemp(prefix="bench-audit-"))
    ingest_inst = Instance(backends, workdir)
    if args.only == "big":
        ingest_inst = None
    try:
        if ingest_inst is not None:
            await ingest_inst.prepare()
            await ingest_inst.start(replicas=2)
            await ingest(ingest_inst, rate=args.rate, seconds=args.seconds)
    finally:
        if ingest_inst is not None:
            await ingest_inst.cleanup()
    if args.only == "ingest":
        return
    big = Instance(backends, workdir)
    try:
        await big.prepare()
        await seed(big, args.entries)
        await big.start(replicas=1)
        await verify_and_export(big, args.entries)
    finally:
        await big.cleanup()
    print(f"(logs in {workdir})")


if __name__ == "__main__":
    asyncio.run(main())
