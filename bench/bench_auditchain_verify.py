"""Benchmark: audit chain verification speed (entries/s, one core).

    .venv/bin/python bench/bench_auditchain_verify.py [--entries 1000000] [--keep FILE]

Generates a chain of realistic entries (CloudEvents envelopes of case updates with before and
after, logins, security events; some carry floats, some integral floats that take the slower
respelling path), signs a checkpoint every 10,000 entries, writes the NDJSON export to a
temporary file, then times, each in one streaming pass:

1. the offline verification of the export, as the CLI does it: ``read_lines`` (strict: the
   hashed bytes are cut from each line) + ``verify_chain``;
2. ``verify_chain`` over plain decoded dicts, as the audit service verifies rows it fetched
   (each entry re-encoded canonically), with the JSON decoding timed apart and subtracted.

Times are the process's CPU time, so other load on the machine does not skew them.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from epv_common.auditchain import (
    GENESIS_PREV_HASH,
    HASHED_FIELDS,
    canonical_bytes_fast,
    derive_key_id,
    dump_line,
    entry_hash,
    format_timestamp,
    generate_private_key,
    read_lines,
    sign_checkpoint,
    verify_chain,
)

T0 = datetime(2025, 1, 1, tzinfo=UTC)
CHECKPOINT_EVERY = 10_000


def _uuid(n: int, salt: int) -> str:
    h = f"{(n * 2654435761 + salt * 40503) & (2**128 - 1):032x}"
    return f"{h[:8]}-{h[8:12]}-7{h[13:16]}-8{h[17:20]}-{h[20:]}"


def _fields(seq: int) -> dict[str, Any]:
    kind = seq % 10
    occurred = T0 + timedelta(milliseconds=seq * 137)
    time_s = format_timestamp(occurred)
    actor = f"u-{seq % 97:04d}"
    request = _uuid(seq, 2)
    before: Any = None
    after: Any = None
    security = False
    if kind < 5:
        action, source, entity_type = "case.updated", "cases", "case"
        entity = _uuid(seq % 5000, 3)
        before = {"status": "draft", "title": f"Case {seq % 5000}", "wacc": 0.085, "growth": 0.02}
        after = {"status": "review", "title": f"Case {seq % 5000}", "wacc": 0.0925, "growth": 0.02}
        if kind == 4:  # integral floats: orjson writes "1500000.0", JCS "1500000"
            before["revenue"], after["revenue"] = 1500000.0, 1750000.0
        data: dict[str, Any] = {"case_id": entity, "before": before, "after": after}
    elif kind < 8:
        action, source, entity_type = "auth.user.logged_in", "auth", "user"
        entity = f"u-{seq % 97:04d}"
        data = {"user_id": entity, "ip": f"10.0.{seq % 256}.{(seq * 7) % 256}", "mfa": False}
    elif kind == 8:
        action, source, entity_type = "auth.login.failed", "auth", "user"
        entity, security, actor = f"u-{seq % 97:04d}", True, None
        data = {"email": f"user{seq % 97}@example.com", "reason": "bad_password", "attempt": 3}
    else:
        action, source, entity_type = "analysis.completed", "cases", "analysis"
        entity = _uuid(seq, 4)
        data = {"case_id": _uuid(seq % 5000, 3), "epv": 1234.56, "margin_of_safety": 0.31}
    event = {
        "specversion": "1.0",
        "id": _uuid(seq, 1),
        "source": source,
        "type": action,
        "time": time_s,
        "subject": entity,
        "datacontenttype": "application/json",
        "actorid": actor,
        "requestid": request,
        "traceparent": f"00-{_uuid(seq, 5).replace('-', '')}-{seq:016x}-01",
        "data": data,
    }
    return {
        "v": 1,
        "seq": seq,
        "event_id": event["id"],
        "occurred_at": time_s,
        "recorded_at": format_timestamp(occurred + timedelta(microseconds=20_000 + seq % 999)),
        "source": source,
        "action": action,
        "actor_id": actor,
        "entity_type": entity_type,
        "entity_id": entity,
        "request_id": request,
        "security": security,
        "before": before,
        "after": after,
        "event": event,
    }


def generate(path: str, n: int, key: Any) -> list[Any]:
    """Write n chained entries to path; return the checkpoints."""
    checkpoints = []
    prev_hex = GENESIS_PREV_HASH
    prev = bytes.fromhex(prev_hex)
    with open(path, "wb", buffering=1 << 20) as out:
        for seq in range(1, n + 1):
            fields = _fields(seq)
            digest = hashlib.sha256(prev + canonical_bytes_fast(fields)).digest()
            h = digest.hex()
            if seq <= 200:  # the fast encoder agrees with the reference one
                assert h == entry_hash(prev_hex, fields), seq
            out.write(dump_line({**fields, "prev_hash": prev_hex, "hash": h}))
            prev, prev_hex = digest, h
            if seq % CHECKPOINT_EVERY == 0 or seq == n:
                checkpoints.append(
                    sign_checkpoint(key, seq=seq, head_hash=h, created_at=T0 + timedelta(seconds=seq))
                )
    return checkpoints


def _lines(path: str) -> Iterator[bytes]:
    with open(path, "rb", buffering=1 << 20) as f:
        yield from f


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--keep", metavar="FILE", help="write the export here and keep it")
    args = ap.parse_args(argv)
    n = args.entries
    assert HASHED_FIELDS  # the contract is importable without any service code

    key = generate_private_key()
    keys = {derive_key_id(key.public_key()): key.public_key()}
    tmpdir = None
    path = args.keep
    if path is None:
        tmpdir = tempfile.mkdtemp(prefix="bench_auditchain_")
        path = os.path.join(tmpdir, "audit.ndjson")
    try:
        t = time.perf_counter()
        checkpoints = generate(path, n, key)
        gen_s = time.perf_counter() - t
        size = os.path.getsize(path)
        print(
            f"generated {n:,} entries, {len(checkpoints)} checkpoints, {size / n:.0f} B/line, "
            f"{size / 2**20:.0f} MiB in {gen_s:.1f}s"
        )

        def timed(fn: Any) -> float:
            gc.collect()
            t = time.process_time()
            fn()
            return time.process_time() - t

        def check(result: Any) -> None:
            assert result.ok, result
            assert result.entries_checked == n
            assert result.checkpoints_verified == len(checkpoints)

        def decoded() -> Iterator[dict[str, Any]]:
            return map(orjson.loads, _lines(path))

        # 1. offline: the CLI's path (strict reader + verify_chain)
        offline_s = timed(lambda: check(verify_chain(read_lines(_lines(path)), checkpoints, keys)))
        # 2. service: verify_chain over plain decoded dicts (rows), minus the decoding
        decode_s = timed(lambda: sum(1 for _ in decoded()))
        rows_s = timed(lambda: check(verify_chain(decoded(), checkpoints, keys))) - decode_s

        print(
            f"offline verify of the export (read+parse+verify): {offline_s:6.2f}s "
            f"{n / offline_s:>10,.0f} entries/s"
        )
        print(
            f"verify_chain over decoded dicts (decode excluded): {rows_s:6.2f}s "
            f"{n / rows_s:>10,.0f} entries/s   (decode alone {n / decode_s:,.0f}/s)"
        )
        print(f"(CPU time of this process; python {sys.version.split()[0]}, one core)")
    finally:
        if tmpdir is not None:
            os.remove(path)
            os.rmdir(tmpdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
