"""Export: NDJSON that the offline verifier accepts (and refuses with one byte changed), CSV,
filters, and the export itself audited."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import uuid

import httpx
import orjson
import pytest

from epv_common.auditchain import read_lines
from tests.audit.auditkit import case_event, manager, publish
from tests.conftest import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]


async def export(system, headers: dict, **params) -> httpx.Response:
    async with httpx.AsyncClient(timeout=60) as client:
        return await client.get(system.url("audit") + "/api/audit/export", params=params,
                                headers=headers)


async def published_material(system, tmp_path, *, up_to_seq: int | None = None):
    """The checkpoints and keys a verifier fetches; an export is checked against the
    checkpoints made up to its last entry (later ones describe a longer chain)."""
    async with httpx.AsyncClient(timeout=30) as client:
        base = system.url("audit") + "/api/audit"
        items, cursor = [], None
        while True:
            r = await client.get(base + "/checkpoints", headers=manager(system), params={
                "limit": 200, **({"cursor": cursor} if cursor else {})})
            items += r.json()["items"]
            if not (cursor := r.json()["next_cursor"]):
                break
        keys = (await client.get(base + "/keys")).json()
    if up_to_seq is not None:
        items = [cp for cp in items if cp["seq"] <= up_to_seq]
    (tmp_path / "cps.json").write_bytes(orjson.dumps({"checkpoints": items}))
    (tmp_path / "keys.json").write_bytes(orjson.dumps(keys))
    return tmp_path / "cps.json", tmp_path / "keys.json"


def offline_verify(export_path, cps, keys) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "epv_common.auditchain", str(export_path), "--checkpoint",
         str(cps), "--public-key", str(keys)], capture_output=True, text=True, timeout=60)


async def test_an_ndjson_export_verifies_offline_and_one_changed_byte_does_not(audit, tmp_path):
    system = audit
    await publish(system.backends.amqp_url, system.amqp_prefix, [case_event() for _ in range(5)])

    async def covered() -> bool:
        conn = await system.connect()
        try:
            return await conn.fetchval("SELECT count(*) FROM audit.checkpoints") > 0
        finally:
            await conn.close()

    await eventually(covered, until=bool)
    user = str(uuid.uuid4())
    r = await export(system, manager(system, user_id=user), format="ndjson")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    path = tmp_path / "audit.ndjson"
    path.write_bytes(r.content)
    lines = r.content.splitlines()
    assert lines and orjson.loads(lines[0])["seq"] == 1
    cps, keys = await published_material(system, tmp_path,
                                          up_to_seq=orjson.loads(lines[-1])["seq"])
    ok = offline_verify(path, cps, keys)
    assert ok.returncode == 0, ok.stdout + ok.stderr

    # One byte changed inside an entry's actor (a value the hash covers).
    data = bytearray(r.content)
    at = data.index(b'"source":"cases"', len(data) // 3) + len('"source":"')
    data[at] = ord("k")
    bad = tmp_path / "tampered.ndjson"
    bad.write_bytes(bytes(data))
    failed = offline_verify(bad, cps, keys)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    line_no = bytes(data[:at]).count(b"\n") + 1
    assert f"FAILED at seq {orjson.loads(lines[line_no - 1])['seq']}" in failed.stdout

    # The export is itself an audit entry, with who exported and how.
    async def exported():
        async with httpx.AsyncClient(timeout=30) as client:
            r = await client.get(system.url("audit") + "/api/audit/logs", headers=manager(system),
                                 params={"type": "audit.exported", "actor_id": user})
            return r.json()["items"]

    [entry] = await eventually(exported, until=len)
    assert entry["event"]["data"]["format"] == "ndjson" and entry["source"] == "audit"


async def test_a_filtered_csv_export(audit):
    system = audit
    actor = str(uuid.uuid4())
    events = [case_event(actorid=actor) for _ in range(4)]
    await publish(system.backends.amqp_url, system.amqp_prefix, events)

    async def rows():
        r = await export(system, manager(system), format="csv", actor_id=actor)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        return list(csv.DictReader(io.StringIO(r.text)))

    got = await eventually(rows, until=lambda rs: len(rs) == 4)
    assert [row["event_id"] for row in got] == [e.id for e in events]
    assert [orjson.loads(row["event"])["id"] for row in got] == [e.id for e in events]
    assert all(row["actor_id"] == actor and row["action"] == "case.created" for row in got)
    assert orjson.loads(got[0]["after"])["status"] == "DRAFT"
    r = await export(system, manager(system), format="ndjson", actor_id=actor)
    parsed = list(read_lines(r.content.splitlines()))
    assert [p["actor_id"] for p in parsed] == [actor] * 4
    r = await export(system, manager(system), format="xml")
    assert r.status_code == 422
