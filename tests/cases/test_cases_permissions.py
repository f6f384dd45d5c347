"""The permission matrix: every case route against owner, each share level, an expired share,
a revoked share, a deactivated grantee, a stranger and an ADMIN. A case you may not see is a
404; a case you see without the level is a 403."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.cases.casekit import User, create_case, etag, outbox_events, seed_user, share, sql

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

ACTORS = ["owner", "READ", "COMMENT", "EDIT", "ADMIN_SHARE", "expired", "revoked",
          "deactivated", "stranger", "ADMIN_ROLE"]
# route -> the actors that succeed; None marks "sees it but lacks the level" (403) for the rest
# of the seeing actors; actors that cannot see the case get 404.
SEEING = {"owner", "READ", "COMMENT", "EDIT", "ADMIN_SHARE", "ADMIN_ROLE"}
ALLOWED = {
    "get": SEEING,
    "versions": SEEING,
    "version": SEEING,
    "diff": SEEING,
    "shares": SEEING,
    "comments": SEEING,
    "comment": {"owner", "COMMENT", "EDIT", "ADMIN_SHARE"},
    "put": {"owner", "EDIT", "ADMIN_SHARE"},
    "patch": {"owner", "EDIT", "ADMIN_SHARE"},
    "restore_version": {"owner", "EDIT", "ADMIN_SHARE"},
    "share": {"owner", "ADMIN_SHARE"},
    "revoke": {"owner", "ADMIN_SHARE"},
    "delete": {"owner"},
}


async def _world(cases, system) -> tuple[dict, dict[str, User], User]:
    """A case owned by a SENIOR_ANALYST, shared at every level, plus a spare grantee."""
    owner = await seed_user(system, role="SENIOR_ANALYST")
    actors: dict[str, User] = {"owner": owner}
    for name in ACTORS[1:]:
        role = "ADMIN" if name == "ADMIN_ROLE" else "ANALYST"
        actors[name] = await seed_user(system, role=role)
    case = await create_case(cases, owner)
    levels = {"READ": "READ", "COMMENT": "COMMENT", "EDIT": "EDIT", "ADMIN_SHARE": "ADMIN",
              "expired": "EDIT", "revoked": "EDIT", "deactivated": "EDIT"}
    for name, level in levels.items():
        response = await share(cases, case["id"], owner, actors[name], level)
        assert response.status_code == 201, response.text
    await sql(system, "UPDATE cases.shares SET expires_at = now() - interval '1 second' "
                      "WHERE case_id = $1 AND user_id = $2",
              uuid.UUID(case["id"]), uuid.UUID(actors["expired"].id))
    revoked = await cases.delete(f"/api/cases/{case['id']}/share",
                                 params={"email": actors["revoked"].email}, headers=owner.headers)
    assert revoked.status_code == 204
    await sql(system, "UPDATE cases.users SET active = false WHERE id = $1",
              uuid.UUID(actors["deactivated"].id))
    comment = await cases.post(f"/api/cases/{case['id']}/comments", json={"body": "v1 looks ok"},
                               headers=owner.headers)
    assert comment.status_code == 201
    spare = await seed_user(system)
    return case, actors, spare


async def _call(cases, route: str, case: dict, user: User, spare: User) -> httpx.Response:
    url = f"/api/cases/{case['id']}"
    h = user.headers
    current = (await cases.get(url, headers=case["_owner_headers"])).json()["version"]
    match route:
        case "get":
            return await cases.get(url, headers=h)
        case "versions":
            return await cases.get(url + "/versions", headers=h)
        case "version":
            return await cases.get(url + "/versions/1", headers=h)
        case "diff":
            return await cases.get(url + "/versions/1/diff/1", headers=h)
        case "shares":
            return await cases.get(url + "/share", headers=h)
        case "comments":
            return await cases.get(url + "/comments", headers=h)
        case "comment":
            return await cases.post(url + "/comments", json={"body": "hi"}, headers=h)
        case "put":
            return await cases.put(url, json={"name": f"by {user.id[:6]}"},
                                   headers={**h, **etag(current)})
        case "patch":
            return await cases.patch(url, json={"notes": user.id},
                                     headers={**h, **etag(current)})
        case "restore_version":
            return await cases.post(url + "/versions/1/restore", headers=h)
        case "share":
            return await cases.post(url + "/share", headers=h,
                                    json={"email": spare.email, "level": "READ"})
        case "revoke":
            return await cases.delete(url + "/share", params={"email": spare.email}, headers=h)
        case "delete":
            return await cases.delete(url, headers=h)
    raise AssertionError(route)


async def test_permission_matrix(cases, system):
    case, actors, spare = await _world(cases, system)
    case["_owner_headers"] = actors["owner"].headers
    failures = []
    # Destructive routes last; delete is checked separately below (it ends the case).
    for route in [r for r in ALLOWED if r != "delete"]:
        for name in ACTORS:
            if route == "revoke":
                # Something to revoke each time.
                assert (await share(cases, case["id"], actors["owner"], spare,
                                    "READ")).status_code in (200, 201)
            response = await _call(cases, route, case, actors[name], spare)
            expected = (range(200, 300) if name in ALLOWED[route]
                        else [403] if name in SEEING else [404])
            if response.status_code not in expected:
                failures.append((route, name, response.status_code, response.text[:120]))
    for name in ACTORS:
        if name == "owner":
            continue
        response = await _call(cases, "delete", case, actors[name], spare)
        want = 403 if name in SEEING else 404
        if response.status_code != want:
            failures.append(("delete", name, response.status_code, response.text[:120]))
    assert (await _call(cases, "delete", case, actors["owner"], spare)).status_code == 204
    assert not failures, failures


async def test_privileged_reads_are_audited(cases, system):
    owner = await seed_user(system)
    admin = await seed_user(system, role="ADMIN")
    case = await create_case(cases, owner)
    assert (await cases.get(f"/api/cases/{case['id']}", headers=admin.headers)).status_code == 200
    assert (await cases.get(f"/api/cases/{case['id']}/versions",
                            headers=admin.headers)).status_code == 200
    reads = await outbox_events(system, case["id"], "case.privileged_read")
    assert len(reads) == 2
    assert all(r["payload"]["data"]["security"] is True for r in reads)
    assert reads[0]["payload"]["actorid"] == admin.id
    # The owner's own reads are not privileged.
    await cases.get(f"/api/cases/{case['id']}", headers=owner.headers)
    assert len(await outbox_events(system, case["id"], "case.privileged_read")) == 2


async def test_share_levels_by_role_and_expiry(cases, system):
    analyst = await seed_user(system)
    senior = await seed_user(system, role="SENIOR_ANALYST")
    friend = await seed_user(system)
    mine = await create_case(cases, analyst)
    for level, status in [("READ", 201), ("COMMENT", 200), ("EDIT", 403), ("ADMIN", 403)]:
        response = await share(cases, mine["id"], analyst, friend, level)
        assert response.status_code == status, (level, response.text)
    theirs = await create_case(cases, senior)
    assert (await share(cases, theirs["id"], senior, friend, "ADMIN")).status_code == 201
    # A share-ADMIN who is an ANALYST still shares only READ/COMMENT.
    other = await seed_user(system)
    assert (await share(cases, theirs["id"], friend, other, "EDIT")).status_code == 403
    assert (await share(cases, theirs["id"], friend, other, "COMMENT")).status_code == 201
    listed = (await cases.get(f"/api/cases/{theirs['id']}/share",
                              headers=senior.headers)).json()["items"]
    assert {(s["email"], s["level"]) for s in listed} == {(friend.email, "ADMIN"),
                                                          (other.email, "COMMENT")}
    # The owner, an unknown email and a past expiry are field errors.
    for body, field in [({"email": senior.email, "level": "READ"}, "email"),
                        ({"email": "nobody@example.com", "level": "READ"}, "email"),
                        ({"email": other.email, "level": "READ",
                          "expires_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat()},
                         "expires_at")]:
        response = await cases.post(f"/api/cases/{theirs['id']}/share", json=body,
                                    headers=senior.headers)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == field
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    response = await share(cases, theirs["id"], senior, other, "READ", expires_at=future)
    assert response.status_code == 200 and response.json()["expires_at"]
    shared = (await cases.get("/api/cases", params={"scope": "shared"},
                              headers=other.headers)).json()["items"]
    assert [c["id"] for c in shared] == [theirs["id"]] and shared[0]["access"] == "READ"
    types = [e["event_type"] for e in await outbox_events(system, theirs["id"])]
    assert types.count("case.shared") == 3


async def test_revoked_share_stops_at_once_and_self_revoke(cases, system):
    owner = await seed_user(system)
    friend = await seed_user(system)
    case = await create_case(cases, owner)
    await share(cases, case["id"], owner, friend, "READ")
    url = f"/api/cases/{case['id']}"
    assert (await cases.get(url, headers=friend.headers)).status_code == 200
    assert (await cases.delete(url + "/share", params={"user_id": friend.id},
                               headers=friend.headers)).status_code == 204
    assert (await cases.get(url, headers=friend.headers)).status_code == 404
    assert (await cases.delete(url + "/share", params={"email": friend.email},
                               headers=owner.headers)).status_code == 404
    [event] = await outbox_events(system, case["id"], "case.share_revoked")
    assert event["payload"]["data"]["user_id"] == friend.id


async def test_comments_add_list_page_and_delete_own(cases, system):
    owner = await seed_user(system)
    commenter = await seed_user(system)
    case = await create_case(cases, owner)
    await share(cases, case["id"], owner, commenter, "COMMENT")
    url = f"/api/cases/{case['id']}/comments"
    ids = []
    for i in range(3):
        who = owner if i % 2 else commenter
        response = await cases.post(url, json={"body": f"c{i}"}, headers=who.headers)
        assert response.status_code == 201
        ids.append(response.json()["id"])
    first = (await cases.get(url, params={"limit": 2}, headers=owner.headers)).json()
    second = (await cases.get(url, params={"limit": 2, "cursor": first["next_cursor"]},
                              headers=owner.headers)).json()
    assert [c["id"] for c in first["items"] + second["items"]] == ids
    assert second["next_cursor"] is None
    assert (await cases.delete(f"{url}/{ids[1]}", headers=commenter.headers)).status_code == 403
    assert (await cases.delete(f"{url}/{ids[0]}", headers=commenter.headers)).status_code == 204
    assert (await cases.delete(f"{url}/{ids[0]}", headers=commenter.headers)).status_code == 404
    empty = await cases.post(url, json={"body": ""}, headers=owner.headers)
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "body"
    assert len(await outbox_events(system, case["id"], "case.commented")) == 3
