"""The NDJSON export and the offline verifier (epv_common.auditchain.ndjson / .cli)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from epv_common.auditchain import (
    ENTRY_KEYS,
    EncodedEntry,
    MalformedLine,
    build_chain,
    canonical_bytes_fast,
    derive_key_id,
    dump_line,
    dump_lines,
    generate_private_key,
    make_fields,
    public_key_to_pem,
    public_keys_document,
    read_lines,
    sign_checkpoint,
    verify_chain,
)
from epv_common.auditchain.cli import main

T0 = datetime(2025, 4, 1, tzinfo=UTC)
KEY = generate_private_key()
N = 30


def _fields(seq: int) -> dict:
    return make_fields(
        seq=seq,
        event_id=f"ev-{seq}",
        occurred_at=T0 + timedelta(minutes=seq),
        recorded_at=T0 + timedelta(minutes=seq, milliseconds=7),
        source="cases",
        action="case.updated",
        actor_id=f"u-{seq % 4}",
        entity_type="case",
        entity_id=f"c-{seq % 6}",
        request_id=f"r-{seq}",
        security=False,
        before={"title": "Acme \u00e9", "revenue": 1500000.0, "wacc": 0.085},
        after={"title": "Acme \u00e9 \U0001f600", "revenue": 1750000.0, "wacc": 1e-7},
        event={"id": f"ev-{seq}", "type": "case.updated", "data": {"n": seq, "ctl": "\x01\n"}},
    )


CHAIN = list(build_chain(_fields(i) for i in range(1, N + 1)))
CPS = {
    s: sign_checkpoint(KEY, seq=s, head_hash=CHAIN[s - 1]["hash"], created_at=T0 + timedelta(days=s))
    for s in (10, 20, 30)
}
EXPORT = b"".join(dump_lines(CHAIN))


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {
        "export": tmp_path / "audit.ndjson",
        "head": tmp_path / "checkpoint.json",
        "all": tmp_path / "checkpoints.json",
        "keys": tmp_path / "keys.json",
        "pem": tmp_path / "key.pem",
    }
    paths["export"].write_bytes(EXPORT)
    paths["head"].write_bytes(orjson.dumps(CPS[30].to_dict()))
    paths["all"].write_bytes(orjson.dumps({"checkpoints": [c.to_dict() for c in CPS.values()]}))
    paths["keys"].write_bytes(orjson.dumps(public_keys_document([KEY.public_key()])))
    paths["pem"].write_bytes(public_key_to_pem(KEY.public_key()))
    return paths


def _run(files: dict[str, Path], *extra: str, export: Path | None = None, cp: str = "head") -> int:
    return main([str(export or files["export"]), "--checkpoint", str(files[cp]),
                 "--public-key", str(files["keys"]), *extra])


# --------------------------------------------------------------------------- the format


def test_export_lines_are_canonical_entries():
    lines = EXPORT.splitlines(keepends=True)
    assert len(lines) == N and all(line.endswith(b"\n") for line in lines)
    for line, entry in zip(lines, CHAIN, strict=True):
        obj = orjson.loads(line)
        assert list(obj) == sorted(ENTRY_KEYS) and obj == entry
        assert line[:-1] == canonical_bytes_fast(entry)
    assert b"\xc3\xa9" in EXPORT  # UTF-8, not \u escapes
    assert dump_line(CHAIN[0]) == lines[0]


def test_reader_streams_entries_and_flags_bad_lines():
    raw = EXPORT.splitlines(keepends=True)
    items = list(read_lines([raw[0], b"\n", b"not json\n", b"[1]\n", b'{"seq":1}\n', raw[1].decode()]))
    assert isinstance(items[0], EncodedEntry) and items[0] == CHAIN[0]
    assert [type(i) for i in items[1:4]] == [MalformedLine] * 3
    assert [i.line_no for i in items[1:4]] == [3, 4, 5]
    assert items[4] == CHAIN[1]
    reformatted = orjson.dumps(CHAIN[0], option=orjson.OPT_INDENT_2).replace(b"\n", b"") + b"\n"
    assert isinstance(next(read_lines([b" " + raw[0]])), EncodedEntry)  # caught by the hash
    assert next(read_lines([reformatted], strict=False)) == CHAIN[0]
    assert isinstance(next(read_lines([reformatted])), MalformedLine)


def test_reformatted_export_verifies_only_when_lenient():
    lines = [json.dumps(orjson.loads(line)).encode() + b"\n" for line in EXPORT.splitlines()]
    assert lines != EXPORT.splitlines(keepends=True)  # spaces, \u escapes, key order
    keys = {derive_key_id(KEY.public_key()): KEY.public_key()}
    assert verify_chain(read_lines(lines, strict=False), [CPS[30]], keys).ok
    strict = verify_chain(read_lines(lines), [CPS[30]], keys)
    assert (strict.ok, strict.problem, strict.seq) == (False, "modified", 1)


# --------------------------------------------------------------------------- the CLI


def test_unchanged_export_passes(files, capsys):
    assert _run(files) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK: 30 entries verified (seq 1..30)")
    assert "checkpoint seq 30 verified" in out


def test_all_checkpoints_and_pem_key(files, capsys):
    code = main([str(files["export"]), "--checkpoint", str(files["all"]),
                 "--public-key", str(files["pem"])])
    assert code == 0
    assert "3 checkpoint(s) checked" in capsys.readouterr().out


@pytest.mark.parametrize("position", [0, 1, 137, len(EXPORT) // 2, len(EXPORT) - 2, len(EXPORT) - 1])
def test_one_byte_changed_fails(files, capsys, position):
    data = bytearray(EXPORT)
    data[position] ^= 0x01
    files["export"].write_bytes(bytes(data))
    assert _run(files) == 1
    assert capsys.readouterr().out.startswith("FAILED")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(0, len(EXPORT) - 1), flip=st.integers(1, 255))
def test_any_one_byte_change_fails(files, position, flip):
    data = bytearray(EXPORT)
    data[position] ^= flip
    files["export"].write_bytes(bytes(data))
    assert _run(files) == 1


def test_changed_value_names_the_entry(files, capsys):
    files["export"].write_bytes(EXPORT.replace(b'"actor_id":"u-3","after"', b'"actor_id":"u-9","after"', 1))
    assert _run(files) == 1
    assert "FAILED at seq 3: modified" in capsys.readouterr().out


def test_deleted_line_is_missing(files, capsys):
    lines = EXPORT.splitlines(keepends=True)
    files["export"].write_bytes(b"".join(lines[:11] + lines[12:]))
    assert _run(files) == 1
    assert "FAILED at seq 12: missing" in capsys.readouterr().out


def test_swapped_lines_are_out_of_order(files, capsys):
    lines = EXPORT.splitlines(keepends=True)
    lines[4], lines[5] = lines[5], lines[4]
    files["export"].write_bytes(b"".join(lines))
    assert _run(files) == 1
    assert "FAILED at seq 5: out_of_order" in capsys.readouterr().out


def test_truncated_export_fails_against_the_head_checkpoint(files, capsys):
    lines = EXPORT.splitlines(keepends=True)
    files["export"].write_bytes(b"".join(lines[:25]))
    assert _run(files, cp="all") == 1
    out = capsys.readouterr().out
    assert "FAILED at seq 26: after_last_checkpoint" in out
    assert "last good checkpoint: seq 20" in out


def test_expect_last_seq(files, capsys):
    lines = EXPORT.splitlines(keepends=True)
    files["export"].write_bytes(b"".join(lines[:25]))
    files["head"].write_bytes(orjson.dumps(CPS[20].to_dict()))
    assert _run(files) == 0
    assert "5 entries after seq 20" in capsys.readouterr().out
    assert _run(files, "--expect-last-seq", "30") == 1


def test_export_after_a_retention_cut(files, capsys):
    lines = EXPORT.splitlines(keepends=True)
    files["export"].write_bytes(b"".join(lines[10:]))  # entries 11..30, cut at checkpoint 10
    assert _run(files, cp="all") == 0
    out = capsys.readouterr().out
    assert "20 entries verified (seq 11..30)" in out and "note:" not in out
    files["export"].write_bytes(b"".join(lines[11:]))  # 11 gone too
    assert _run(files, cp="all") == 0  # a range export verifies, but its start is unanchored
    assert "note: the export starts at seq 12" in capsys.readouterr().out


def test_checkpoint_outside_the_export_does_not_vouch_for_it(files, capsys):
    lines = EXPORT.splitlines(keepends=True)
    files["export"].write_bytes(b"".join(lines[10:]))
    files["head"].write_bytes(orjson.dumps(CPS[10].to_dict()))
    assert _run(files) == 1
    assert "no given checkpoint lies within the export" in capsys.readouterr().out


def test_wrong_public_key_fails(files, capsys):
    files["keys"].write_bytes(orjson.dumps(public_keys_document([generate_private_key().public_key()])))
    assert _run(files) == 1
    assert "bad_signature" in capsys.readouterr().out


def test_json_output(files, capsys):
    assert _run(files, "--json") == 0
    out = orjson.loads(capsys.readouterr().out)
    assert out["verified"] is True and out["entries_checked"] == N
    assert out["last_good_checkpoint"]["seq"] == 30 and out["problem"] is None


def test_unusable_input_exits_2(files, capsys, tmp_path):
    assert _run(files, export=tmp_path / "nope.ndjson") == 2
    files["head"].write_bytes(b"{not json")
    assert _run(files) == 2
    files["head"].write_bytes(b'{"seq": 1}')
    assert _run(files) == 2
    assert "error:" in capsys.readouterr().err


def test_python_dash_m(files):
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    cmd = [sys.executable, "-m", "epv_common.auditchain", str(files["export"]),
           "--checkpoint", str(files["head"]), "--public-key", str(files["keys"])]
    ok = subprocess.run(cmd, capture_output=True, env=env, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith(b"OK")
    files["export"].write_bytes(EXPORT.replace(b"c-1", b"c-2", 1))
    bad = subprocess.run(cmd, capture_output=True, env=env, timeout=60)
    assert bad.returncode == 1 and bad.stdout.startswith(b"FAILED")


def test_line_with_brackets_after_the_hash_still_verifies_strictly(tmp_path):
    fields = [{**_fields(i), "request_id": "{[r]}"} for i in range(1, 4)]
    chain = list(build_chain(fields))
    lines = list(dump_lines(chain))
    items = list(read_lines(lines))
    assert items == chain and not any(isinstance(i, MalformedLine) for i in items)
    keys = {derive_key_id(KEY.public_key()): KEY.public_key()}
    cp = sign_checkpoint(KEY, seq=3, head_hash=chain[-1]["hash"], created_at=T0)
    assert verify_chain(read_lines(lines), [cp], keys).ok
    spaced = lines[1].replace(b'"{[r]}"', b' "{[r]}"')
    assert isinstance(next(read_lines([spaced])), MalformedLine)
