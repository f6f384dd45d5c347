"""Strict JSON reading and JSON value equality (used for exact duplicates)."""

from __future__ import annotations

import pytest

from epv_cases.legacy.jsonvalue import (
    MAX_DEPTH,
    JsonProblem,
    canonical_text,
    checked_copy,
    json_equal,
    parse_strict,
)

EQUAL = [
    (1, 1.0),
    (0, -0.0),
    ({"a": 1, "b": [1, 2]}, {"b": [1.0, 2], "a": 1}),
    ([], []),
    (None, None),
    ("é", "é"),
]
DIFFERENT = [
    (True, 1),
    (False, 0),
    (None, 0),
    ("1", 1),
    ([1, 2], [2, 1]),
    ({"a": 1}, {"a": 1, "b": None}),
    (2**53 + 1, float(2**53)),
    ([[]], [{}]),
]


@pytest.mark.parametrize(("a", "b"), EQUAL, ids=repr)
def test_json_equal(a: object, b: object) -> None:
    assert json_equal(a, b) and json_equal(b, a)
    assert canonical_text(a) == canonical_text(b)


@pytest.mark.parametrize(("a", "b"), DIFFERENT, ids=repr)
def test_json_different(a: object, b: object) -> None:
    assert not json_equal(a, b) and not json_equal(b, a)
    assert canonical_text(a) != canonical_text(b)


def test_parse_strict_copies_and_accepts_plain_json() -> None:
    assert parse_strict(' {"a": [1, 2.5, "x", null, true]} ') == {"a": [1, 2.5, "x", None, True]}


def test_depth_limit_is_inclusive() -> None:
    nested_ok = "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)
    parse_strict(nested_ok)
    with pytest.raises(JsonProblem):
        parse_strict("[" + nested_ok + "]")


def test_checked_copy_turns_tuples_into_lists() -> None:
    source = {"a": (1, [2])}
    copy = checked_copy(source)
    assert copy == {"a": [1, [2]]}
    copy["a"][1].append(3)
    assert source == {"a": (1, [2])}
