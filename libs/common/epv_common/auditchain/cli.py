"""Verify an exported audit chain offline: no database, no service code.

    python -m epv_common.auditchain EXPORT.ndjson --checkpoint cp.json --public-key keys.json

``--checkpoint`` files hold one checkpoint object, a list of them, or ``{"checkpoints": [...]}``
(repeatable). ``--public-key`` files hold a JWK set ``{"keys": [...]}``, one JWK, or a PEM
public key (repeatable). The export is read as a stream, so its size does not matter; ``-``
reads standard input.

The chain is verified from the file's first entry (genesis when it is seq 1; after a retention
cut, the head of the checkpoint at the seq before it when one is given). It passes when every
entry verifies and at least one given checkpoint inside the exported range verifies against
it; entries after the last checkpoint are reported as chained but unsigned.

Exit status: 0 verified, 1 not verified (the first bad entry is printed), 2 unusable input.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import orjson

from epv_common.auditchain.checkpoint import (
    Checkpoint,
    CheckpointError,
    derive_key_id,
    load_public_key,
    load_public_keys,
)
from epv_common.auditchain.ndjson import read_lines
from epv_common.auditchain.verify import VerifyResult, verify_chain

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _InputError(Exception):
    pass


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise _InputError(f"cannot read {path}: {e.strerror or e}") from None


def _load_checkpoints(path: str) -> list[Checkpoint]:
    try:
        doc: Any = orjson.loads(_read(path))
    except orjson.JSONDecodeError as e:
        raise _InputError(f"{path}: not JSON ({e})") from None
    if isinstance(doc, dict) and "checkpoints" in doc:
        doc = doc["checkpoints"]
    items = doc if isinstance(doc, list) else [doc]
    try:
        return [Checkpoint.from_dict(item) for item in items]
    except CheckpointError as e:
        raise _InputError(f"{path}: {e}") from None


def _load_keys(path: str) -> dict[str, Any]:
    data = _read(path)
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            key = load_public_key(data)
            return {derive_key_id(key): key}
        return load_public_keys(orjson.loads(data))
    except (orjson.JSONDecodeError, CheckpointError, ValueError) as e:
        raise _InputError(f"{path}: not a public key document ({e})") from None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m epv_common.auditchain",
        description="Verify an exported audit chain (NDJSON) against signed checkpoints.",
    )
    p.add_argument("export", help="the NDJSON export file ('-' for standard input)")
    p.add_argument(
        "--checkpoint", action="append", required=True, metavar="FILE",
        help="a published checkpoint (JSON); repeatable",
    )
    p.add_argument(
        "--public-key", action="append", required=True, metavar="FILE",
        help="the checkpoint signing key(s): JWK set, JWK or PEM; repeatable",
    )
    p.add_argument(
        "--expect-last-seq", type=int, metavar="SEQ",
        help="fail when the export ends before this seq (a truncated tail)",
    )
    p.add_argument(
        "--lenient", action="store_true",
        help="accept lines that are valid but not in canonical form",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    return p


def _report(result: VerifyResult, *, covered: bool, checkpoint_seqs: list[int]) -> str:
    lines: list[str] = []
    span = (
        f"seq {result.first_seq}..{result.last_seq}" if result.last_seq is not None else "none"
    )
    cp = result.last_good_checkpoint
    if not result.ok:
        lines.append(f"FAILED at seq {result.seq}: {result.problem} - {result.detail}")
        lines.append(f"verified before it: {result.entries_checked} entries ({span})")
        lines.append(
            f"last good checkpoint: seq {cp.seq} ({cp.created_at}, key {cp.key_id})"
            if cp else "last good checkpoint: none"
        )
        return "\n".join(lines)
    if not covered:
        lines.append(
            f"FAILED: no given checkpoint lies within the export ({span}); checkpoints given "
            f"at seq {', '.join(map(str, checkpoint_seqs)) or 'none'}"
        )
        lines.append(f"the {result.entries_checked} entries chain correctly but nothing signs them")
        return "\n".join(lines)
    assert cp is not None
    lines.append(f"OK: {result.entries_checked} entries verified ({span}), head {result.head_hash}")
    lines.append(
        f"checkpoint seq {cp.seq} verified ({cp.created_at}, key {cp.key_id}); "
        f"{result.checkpoints_verified} checkpoint(s) checked"
    )
    if result.unsigned_entries:
        lines.append(
            f"warning: {result.unsigned_entries} entries after seq {cp.seq} are chained but not "
            f"covered by a given checkpoint"
        )
    if not result.anchored_start:
        lines.append(
            f"note: the export starts at seq {result.first_seq} with no checkpoint at seq "
            f"{(result.first_seq or 1) - 1} given; earlier entries are not vouched for"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        checkpoints = [cp for path in args.checkpoint for cp in _load_checkpoints(path)]
        keys: dict[str, Any] = {}
        for path in args.public_key:
            keys.update(_load_keys(path))
        stream = (
            sys.stdin.buffer if args.export == "-" else open(args.export, "rb")  # noqa: SIM115
        )
    except _InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as e:
        print(f"error: cannot read {args.export}: {e.strerror or e}", file=sys.stderr)
        return EXIT_USAGE
    with stream:
        result = verify_chain(
            read_lines(stream, strict=not args.lenient),
            checkpoints,
            keys,
            start_prev_hash=None,
            start_seq=None,
            expected_last_seq=args.expect_last_seq,
        )
    covered = (
        result.last_good_checkpoint is not None
        and result.first_seq is not None
        and result.last_good_checkpoint.seq >= result.first_seq
    )
    passed = result.ok and covered
    if args.json:
        out = result.to_dict()
        out["covered_by_checkpoint"] = covered
        out["verified"] = passed
        print(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode())
    else:
        print(_report(result, covered=covered, checkpoint_seqs=sorted({c.seq for c in checkpoints})))
    return EXIT_OK if passed else EXIT_FAILED
