"""Fast unit tests of the shared mechanisms' pure parts."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from pydantic import ValidationError

from epv_common import errors
from epv_common.bodyguard import is_json_media_type
from epv_common.identity import Role, principal_from_headers
from epv_common.logging import REDACTED, redact
from epv_common.pagination import decode_cursor, encode_cursor, page_of
from epv_common.problems import field_errors_from_pydantic, status_for
from epv_common.requestctx import child_traceparent, sane_request_id
from epv_common.settings import ServiceSettings


@pytest.mark.parametrize(("error", "status"), [
    (errors.InvalidInput(errors=[]), 422), (errors.NotAuthenticated(), 401),
    (errors.PermissionDenied(), 403), (errors.NotFound(entity="case"), 404),
    (errors.Conflict(), 409), (errors.PreconditionFailed(), 412),
    (errors.PreconditionRequired(), 428), (errors.RateLimited(retry_after=3), 429),
    (errors.DependencyUnavailable(dependency="Redis"), 503),
    (errors.DependencyTimeout(dependency="cases"), 504),
])
def test_each_error_family_maps_to_one_status(error, status):
    assert status_for(error) == status


def test_a_service_error_inherits_its_family_status_and_renders_its_template():
    class CaseNotFound(errors.NotFound):
        code = "case-not-found"
        template = "No case {case_id}."

    error = CaseNotFound(case_id="42")
    assert status_for(error) == 404
    assert error.detail == "No case 42."


def test_pydantic_errors_become_field_rule_message():
    raw = [{"loc": ("body", "financial_data", "fiscal_years", 0, "revenue"),
            "type": "greater_than_equal", "msg": "must be >= 0"}]
    assert field_errors_from_pydantic(raw) == [{
        "field": "financial_data.fiscal_years.0.revenue", "in": "body",
        "rule": "greater_than_equal", "message": "must be >= 0"}]


def test_cursor_round_trip_and_junk_cursor_is_invalid_input():
    assert decode_cursor(encode_cursor({"seq": 41, "id": "x"})) == {"seq": 41, "id": "x"}
    for junk in ("%%%", "bm90IGpzb24", encode_cursor({"a": 1})[:-3] + "!!", "WzEsMl0"):
        with pytest.raises(errors.InvalidInput):
            decode_cursor(junk)


def test_page_of_uses_the_extra_row_only_to_say_there_is_more():
    page = page_of([{"n": 1}, {"n": 2}, {"n": 3}], limit=2, position_of=lambda r: {"n": r["n"]})
    assert page["items"] == [{"n": 1}, {"n": 2}]
    assert decode_cursor(page["next_cursor"]) == {"n": 2}
    last = page_of([{"n": 3}], limit=2, position_of=lambda r: {"n": r["n"]})
    assert last["next_cursor"] is None


def test_secrets_are_redacted_at_any_depth():
    line = redact({"user": {"email": "a@b.c", "password": "hunter2hunter2"},
                   "headers": [{"Authorization": "Bearer x"}], "refresh_token": "t",
                   "password_hash": "$2b$..."})
    assert line["user"] == {"email": "a@b.c", "password": REDACTED}
    assert line["headers"] == [{"Authorization": REDACTED}]
    assert line["refresh_token"] == REDACTED
    assert line["password_hash"] == REDACTED


@pytest.mark.parametrize(("content_type", "ok"), [
    ("application/json", True), ("application/json; charset=utf-8", True),
    ("application/merge-patch+json", True), ("Application/JSON", True),
    ("text/plain", False), ("application/x-www-form-urlencoded", False), ("", False),
    ("application/jsonp", False),
])
def test_json_media_types(content_type, ok):
    assert is_json_media_type(content_type) is ok


def test_request_ids_are_kept_only_when_sane():
    assert sane_request_id("abc-123_X.y:z") == "abc-123_X.y:z"
    assert sane_request_id("a" * 129) != "a" * 129
    assert sane_request_id("drop table;") != "drop table;"
    assert len(sane_request_id(None)) == 32


def test_traceparent_keeps_the_trace_and_starts_a_new_span():
    incoming = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    child = child_traceparent(incoming)
    assert child.split("-")[1] == "0af7651916cd43dd8448eb211c80319c"
    assert child.split("-")[2] != "b7ad6b7169203331"
    assert len(child_traceparent("garbage").split("-")[1]) == 32


def test_identity_headers_need_the_internal_token():
    headers = {"x-epv-user-id": "u1", "x-epv-role": "ADMIN", "x-epv-session-id": "s1"}
    assert principal_from_headers(headers, internal_token="secret") is None
    forged = {**headers, "x-epv-internal-token": "guess"}
    assert principal_from_headers(forged, internal_token="secret") is None
    real = {**headers, "x-epv-internal-token": "secret"}
    principal = principal_from_headers(real, internal_token="secret")
    assert principal is not None and principal.role is Role.ADMIN
    bad_role = {**real, "x-epv-role": "GOD"}
    assert principal_from_headers(bad_role, internal_token="secret") is None


def test_default_secrets_are_refused_outside_development():
    with pytest.raises(ValidationError, match="EPV_INTERNAL_TOKEN"):
        ServiceSettings(environment="production")
    assert ServiceSettings(environment="production", internal_token="a-real-secret").is_dev is False


def test_an_extension_member_may_be_called_code():
    import orjson

    from epv_common.problems import problem_response

    response = problem_response(422, "insufficient-history", "Invalid input", "Too few years.",
                                code="INSUFFICIENT_HISTORY", field="fiscal_years")
    body = orjson.loads(response.body)
    assert body["type"].endswith("/insufficient-history")
    assert (body["code"], body["field"], body["status"]) == ("INSUFFICIENT_HISTORY",
                                                             "fiscal_years", 422)


def test_a_started_service_freezes_its_startup_heap_out_of_the_collectors_sight():
    """In a child process, so this test run's own collector is left as it was."""
    probe = textwrap.dedent("""
        import gc, json
        from epv_common.gctuning import freeze_startup_heap
        startup_objects = [[i] for i in range(50_000)]
        cycle = []; cycle.append(cycle); del cycle  # garbage that startup left behind
        freeze_startup_heap(12_345)
        print(json.dumps({"frozen": gc.get_freeze_count(), "tracked": len(gc.get_objects()),
                          "threshold": gc.get_threshold()[0]}))
    """)
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, timeout=60)
    state = json.loads(out.stdout)
    assert state["frozen"] > 50_000
    assert state["tracked"] < 1_000  # what a collection still walks
    assert state["threshold"] == 12_345


def test_the_young_collection_threshold_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("EPV_GC_YOUNG_THRESHOLD", "20000")
    assert ServiceSettings().gc_young_threshold == 20_000
    monkeypatch.setenv("EPV_GC_YOUNG_THRESHOLD", "5")
    with pytest.raises(ValidationError):
        ServiceSettings()
