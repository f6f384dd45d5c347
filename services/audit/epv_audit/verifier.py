"""Verify's reading and hashing of the chain, and its worker processes for long chains.

Encoding each entry canonically is most of verify's work and holds the GIL, so one process
verifies at the speed of one core. A long chain is cut into runs between signed checkpoints
that worker processes verify side by side, each reading its run through a connection of its
own over the snapshot the request exported. A run starts on the checkpoint before it, which
the run before it checks where it ends; so runs verified apart join into the result of one
pass (`join_results`).

This module is what the workers import: asyncpg and the chain contract, no SQLAlchemy, so a
worker starts in a fraction of a second.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import itertools
import multiprocessing
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

import asyncpg
import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from epv_audit import SCHEMA
from epv_common.auditchain import (
    Checkpoint,
    EncodedEntry,
    EncodingError,
    VerifyResult,
    canonical_bytes_fast,
    join_results,
    jwk_to_public_key,
    verify_chain,
)

# The columns as stored, in `entries_of`'s order: building one JSON text per row in the query
# costs the server three times the plain read, and the values are encoded anew anyway.
_ENTRIES = (
    "SELECT seq, v, event_id::text, occurred_at, recorded_at, source, action, actor_id, "
    "entity_type, entity_id, request_id, security, before::text, after::text, event::text, "
    f"prev_hash, hash FROM {SCHEMA}.entries WHERE seq >= $1 AND seq <= $2 ORDER BY seq"
)
_SNAPSHOT_ID = re.compile(r"[0-9A-Fa-f-]+")


def keys_of(key_rows: Iterable[tuple[str, str]]) -> dict[str, Ed25519PublicKey]:
    """Public keys by key id, from (key_id, public_key) rows of `signing_keys`."""
    return dict(jwk_to_public_key({"kty": "OKP", "crv": "Ed25519", "x": x}) for _, x in key_rows)


class _NotIJSON:
    """A json column orjson cannot decode (PostgreSQL's json type takes e.g. a lone surrogate
    escape): it has no canonical encoding, so verify names its entry as modified."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"<not I-JSON: {self.text[:60]!r}>"


def _json(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return _NotIJSON(text)


def entries_of(rows: Iterable[asyncpg.Record]) -> Iterator[EncodedEntry]:
    """Rows of `_ENTRIES` as entries for `verify_chain`, each with the canonical bytes of its
    hashed fields encoded from its values (None when they have none: verify then names it)."""
    loads = orjson.loads
    encode = canonical_bytes_fast
    for (seq, v, event_id, occurred_at, recorded_at, source, action, actor_id, entity_type,
         entity_id, request_id, security, before_text, after_text, event_text, prev_hash,
         hash_) in rows:
        try:
            event = loads(event_text)
            before = None if before_text is None else loads(before_text)
            after = None if after_text is None else loads(after_text)
        except orjson.JSONDecodeError:
            event, before, after = _json(event_text), _json(before_text), _json(after_text)
        fields = {"v": v, "seq": seq, "event_id": event_id, "occurred_at": occurred_at,
                  "recorded_at": recorded_at, "source": source, "action": action,
                  "actor_id": actor_id, "entity_type": entity_type, "entity_id": entity_id,
                  "request_id": request_id, "security": security, "before": before,
                  "after": after, "event": event}
        try:
            data: bytes | None = encode(fields)
        except EncodingError:
            data = None
        entry = EncodedEntry(fields, data)
        entry["prev_hash"] = prev_hash
        entry["hash"] = hash_
        yield entry


@dataclass(frozen=True, slots=True)
class Run:
    """Entries lo..hi to verify after `start_prev_hash` (None: see `verify_chain`), against the
    checkpoints from lo - 1 on; the chain is expected to reach `expected_last_seq`."""

    lo: int
    hi: int
    start_prev_hash: str | None
    checkpoints: tuple[Checkpoint, ...]
    expected_last_seq: int

    def verify(self, entries: Iterable[EncodedEntry],
               keys: Mapping[str, Ed25519PublicKey]) -> VerifyResult:
        return verify_chain(entries, self.checkpoints, keys, start_prev_hash=self.start_prev_hash,
                            start_seq=self.lo, expected_last_seq=self.expected_last_seq)

    def split(self, size: int) -> list[Run]:
        """This run cut after checkpoints into runs of at least `size` entries (bar the last),
        each after the first starting on the checkpoint that ends the one before it."""
        runs: list[Run] = []
        rest = self
        for cp in sorted(self.checkpoints, key=lambda c: c.seq):
            if cp.seq - rest.lo + 1 < size or cp.seq >= rest.hi:
                continue
            runs.append(replace(rest, hi=cp.seq, expected_last_seq=cp.seq,
                                checkpoints=tuple(c for c in rest.checkpoints if c.seq <= cp.seq)))
            rest = replace(rest, lo=cp.seq + 1, start_prev_hash=cp.head_hash,
                           checkpoints=tuple(c for c in rest.checkpoints if c.seq >= cp.seq))
        return [*runs, rest]

    def to_end(self, whole: Run) -> Run:
        """From this run's start to the end of `whole`, the run it was cut from."""
        return replace(whole, lo=self.lo, start_prev_hash=self.start_prev_hash,
                       checkpoints=tuple(c for c in whole.checkpoints if c.seq >= self.lo - 1))


async def verify_run(conn: asyncpg.Connection, run: Run, keys: Mapping[str, Ed25519PublicKey],
                     *, batch: int) -> VerifyResult:
    """Verifies `run` as read through `conn` (in the snapshot its transaction holds).

    Hashing runs in a thread fed batch by batch from the event loop, a few batches read ahead:
    the database works while this process hashes, memory stays bounded, and the event loop is
    not stalled.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[list[asyncpg.Record] | Exception | None] = asyncio.Queue(maxsize=4)

    async def produce() -> None:
        try:
            cursor = await conn.cursor(_ENTRIES, run.lo, run.hi)
            while rows := await cursor.fetch(batch):
                await queue.put(rows)
        except Exception as exc:  # a read that failed must fail verify, not end the chain there
            await queue.put(exc)
        else:
            await queue.put(None)

    def entries() -> Iterator[EncodedEntry]:
        while True:
            item = asyncio.run_coroutine_threadsafe(queue.get(), loop).result()
            if item is None:
                return
            if isinstance(item, Exception):
                raise item
            yield from entries_of(item)

    producer = asyncio.create_task(produce())
    try:
        return await asyncio.to_thread(run.verify, entries(), keys)
    finally:
        # Stopped early (a problem found, or this request cancelled): the producer may wait on
        # a full queue, and the thread on an empty one; the sentinel ends a thread still
        # hashing whose result nobody awaits any more.
        producer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await producer
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(None)


async def verify_runs(runs: list[Run], whole: Run, *, in_flight: int,
                      submit: Callable[[Run], asyncio.Future[VerifyResult]],
                      verify_here: Callable[[Run], Awaitable[VerifyResult]]) -> VerifyResult:
    """The result of one pass over `whole`, from `runs` (`whole.split`) verified elsewhere,
    `in_flight` at a time (`submit`), joined in order.

    Past a gap or a swap, a run can name its problem otherwise than one pass over the chain
    would (what it reads past the problem stops at its end); so the chain from the first run
    that does not verify is verified again in one pass (`verify_here`).
    """
    todo = iter(runs)
    flying: collections.deque[tuple[Run, asyncio.Future[VerifyResult]]] = collections.deque()

    def top_up() -> None:
        for run in itertools.islice(todo, in_flight - len(flying)):
            flying.append((run, submit(run)))

    result: VerifyResult | None = None
    try:
        top_up()
        while flying:
            run, future = flying.popleft()
            part = await future
            if not part.ok:
                break
            result = part if result is None else join_results(result, part)
            top_up()
        else:
            assert result is not None
            return result
    finally:
        for _, f in flying:
            f.cancel()
    part = await verify_here(run.to_end(whole))
    return part if result is None else join_results(result, part)


@contextlib.asynccontextmanager
async def attach(dsn: str, snapshot_id: str, *,
                 server_settings: dict[str, str]) -> AsyncIterator[asyncpg.Connection]:
    """A connection of its own in the snapshot another session exported, while that lasts."""
    if _SNAPSHOT_ID.fullmatch(snapshot_id) is None:
        raise ValueError(f"not a snapshot id: {snapshot_id!r}")
    conn = await asyncpg.connect(dsn, server_settings=server_settings)
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            await conn.execute(f"SET TRANSACTION SNAPSHOT '{snapshot_id}'")
            yield conn
    finally:
        await conn.close()


def _verify_in_worker(dsn: str, server_settings: dict[str, str], snapshot_id: str, run: Run,
                      key_rows: list[tuple[str, str]], batch: int) -> VerifyResult:
    """In a worker process: one run."""
    async def main() -> VerifyResult:
        async with attach(dsn, snapshot_id, server_settings=server_settings) as conn:
            return await verify_run(conn, run, keys_of(key_rows), batch=batch)

    return asyncio.run(main())


class VerifyPool:
    """Worker processes for verify, started with the first long verification and kept."""

    def __init__(self, *, workers: int, run_size: int, dsn: str,
                 server_settings: dict[str, str]) -> None:
        self.workers = workers
        self.run_size = run_size
        self._dsn = dsn
        self._server_settings = server_settings
        self._executor: concurrent.futures.ProcessPoolExecutor | None = None

    def plan(self, run: Run) -> list[Run]:
        return run.split(self.run_size)

    def submit(self, snapshot_id: str, run: Run, key_rows: list[tuple[str, str]], *,
               batch: int) -> asyncio.Future[VerifyResult]:
        if self._executor is None:
            # Workers fork from a server process that imported only this module: no copy of a
            # process with threads and an event loop (fork), and no import of the whole service
            # (spawn) in each worker.
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload([__name__])
            self._executor = concurrent.futures.ProcessPoolExecutor(
                self.workers, mp_context=context)
        return asyncio.wrap_future(self._executor.submit(
            _verify_in_worker, self._dsn, self._server_settings, snapshot_id, run, key_rows,
            batch))

    def discard(self) -> None:
        """Drops the executor (at shutdown, or broken: a worker died); the next long
        verification starts a new one."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    async def hold(self) -> None:
        """Runs for the service's lifetime; cancelling it (at shutdown) stops the workers."""
        try:
            await asyncio.Event().wait()
        finally:
            self.discard()
