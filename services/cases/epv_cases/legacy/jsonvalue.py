"""Strict JSON reading and JSON value helpers (equality, copying, compact text).

"Strict" is the README's rule: ``NaN``, ``Infinity``, numbers that overflow to infinity and lone
surrogates make a key ``LEGACY_JSON_INVALID``. Values nested deeper than ``MAX_DEPTH`` are
refused too, so that no later step (ours or a caller's ``json.dumps``) can hit the recursion
limit.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 200

JsonValue = Any
"""``None | bool | int | float | str | list[JsonValue] | dict[str, JsonValue]``"""


class JsonProblem(ValueError):
    """The text or value is not strict JSON; ``str(problem)`` is the report's ``detail``."""


def _refuse_constant(name: str) -> Any:
    raise JsonProblem(f"{name} is not allowed in JSON")


def parse_strict(text: str) -> JsonValue:
    """Parse ``text`` as strict JSON, or raise :class:`JsonProblem`."""
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except JsonProblem:
        raise
    except RecursionError:
        raise JsonProblem("not valid JSON: nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, or an integer with too many digits
        raise JsonProblem(f"not valid JSON: {exc}") from None
    return checked_copy(value)


def checked_copy(value: Any) -> JsonValue:
    """A deep copy of ``value`` if it is JSON data by the strict rule, else :class:`JsonProblem`.

    Tuples become lists. Used both on freshly parsed text and on values a caller passed
    already parsed, so the plan never shares mutable state with its input.
    """
    return _copy(value, "$", 0)


def _copy(value: Any, path: str, depth: int) -> JsonValue:
    if depth > MAX_DEPTH:
        raise JsonProblem(f"nested deeper than {MAX_DEPTH} levels at {path}")
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise JsonProblem(f"number out of range at {path}")
        return value
    if isinstance(value, str):
        if not is_valid_text(value):
            raise JsonProblem(f"lone surrogate in a string at {path}")
        return value
    if isinstance(value, list | tuple):
        return [_copy(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
    if isinstance(value, dict):
        out: dict[str, JsonValue] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise JsonProblem(f"object key {type(key).__name__} is not a string at {path}")
            if not is_valid_text(key):
                raise JsonProblem(f"lone surrogate in an object key at {path}")
            out[key] = _copy(item, f"{path}.{key}", depth + 1)
        return out
    raise JsonProblem(f"{type(value).__name__} is not JSON data at {path}")


def is_valid_text(text: str) -> bool:
    """False for a string holding lone surrogates (not encodable as UTF-8)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def safe_text(text: str) -> str:
    """``text`` itself, or with lone surrogates written as ``\\udXXX`` so it can be stored."""
    if is_valid_text(text):
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def copy_json(value: JsonValue) -> JsonValue:
    """A deep copy of an already validated JSON value."""
    if isinstance(value, list):
        return [copy_json(item) for item in value]
    if isinstance(value, dict):
        return {key: copy_json(item) for key, item in value.items()}
    return value


def compact_text(value: JsonValue) -> str:
    """``JSON.stringify(value)``: the raw text of an item taken out of a parsed array."""
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return f"<not JSON: {type(value).__name__}>"


def json_type(value: Any) -> str:
    """The JSON name of a value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def is_json_number(value: Any) -> bool:
    """A JSON number: an int or a finite float, never a bool."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value)


def canonical_text(value: JsonValue) -> str:
    """A text equal for two values exactly when :func:`json_equal` holds between them."""
    return json.dumps(_canonical(value), sort_keys=True, separators=(",", ":"), allow_nan=False)


def _canonical(value: JsonValue) -> JsonValue:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_canonical(item) for item in value]
    if isinstance(value, dict):
        return {key: _canonical(item) for key, item in value.items()}
    return value


def json_equal(a: JsonValue, b: JsonValue) -> bool:
    """JSON value equality: objects unordered, ``1 == 1.0``, but ``true != 1``."""
    stack = [(a, b)]
    while stack:
        x, y = stack.pop()
        if isinstance(x, bool) or isinstance(y, bool):
            if not (isinstance(x, bool) and isinstance(y, bool) and x is y):
                return False
        elif is_json_number(x) or is_json_number(y):
            if not (is_json_number(x) and is_json_number(y) and x == y):
                return False
        elif isinstance(x, list):
            if not isinstance(y, list) or len(x) != len(y):
                return False
            stack.extend(zip(x, y, strict=True))
        elif isinstance(x, dict):
            if not isinstance(y, dict) or x.keys() != y.keys():
                return False
            stack.extend((x[k], y[k]) for k in x)
        elif type(x) is not type(y) or x != y:
            return False
    return True
