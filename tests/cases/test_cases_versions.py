"""Version history: every change is a new immutable version; get one, diff two as a JSON Patch,
restore an old one as a new version."""

from __future__ import annotations

import jsonpatch
import pytest

from tests.cases.casekit import create_case, etag, outbox_events, seed_user

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]


async def test_history_diff_and_restore(cases, system):
    owner = await seed_user(system)
    case = await create_case(cases, owner, name="v1", tags=["a"])
    url = f"/api/cases/{case['id']}"
    for v, patch in enumerate([{"name": "v2"}, {"tags": ["a", "b"], "notes": "third"},
                               {"status": "REVIEW"}], start=1):
        response = await cases.patch(url, json=patch, headers={**owner.headers, **etag(v)})
        assert response.status_code == 200, response.text
    page1 = (await cases.get(url + "/versions", params={"limit": 3},
                             headers=owner.headers)).json()
    page2 = (await cases.get(url + "/versions", params={"limit": 3,
                                                        "cursor": page1["next_cursor"]},
                             headers=owner.headers)).json()
    assert [v["version"] for v in page1["items"] + page2["items"]] == [4, 3, 2, 1]
    assert page2["next_cursor"] is None
    v1 = (await cases.get(url + "/versions/1", headers=owner.headers)).json()
    assert v1["content"]["name"] == "v1" and v1["change"] == "created"
    assert (await cases.get(url + "/versions/9", headers=owner.headers)).status_code == 404

    diff = (await cases.get(url + "/versions/1/diff/3", headers=owner.headers)).json()
    assert diff["from"] == 1 and diff["to"] == 3
    v3 = (await cases.get(url + "/versions/3", headers=owner.headers)).json()
    assert jsonpatch.apply_patch(v1["content"], diff["patch"]) == v3["content"]

    stale = await cases.post(url + "/versions/1/restore", headers={**owner.headers, **etag(2)})
    assert stale.status_code == 412
    restored = await cases.post(url + "/versions/1/restore",
                                headers={**owner.headers, **etag(4)})
    assert restored.status_code == 200, restored.text
    body = restored.json()
    assert body["version"] == 5 and body["name"] == "v1" and body["tags"] == ["a"]
    v5 = (await cases.get(url + "/versions/5", headers=owner.headers)).json()
    assert v5["content"] == v1["content"] and v5["restored_from"] == 1
    updates = await outbox_events(system, case["id"], "case.updated")
    assert [e["payload"]["data"]["version"] for e in updates] == [2, 3, 4, 5]
    assert updates[-1]["payload"]["data"]["restored_from"] == 1
