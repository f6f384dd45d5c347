"""The "numbers stored as strings" rule of the legacy README, and the percent-to-fraction rule.

- A JSON number is used as is.
- After trimming surrounding whitespace, a string matching ``-?\\d{1,3}(,\\d{3})+(\\.\\d+)?``
  (en-US thousands separators) or ``-?\\d+(\\.\\d+)?`` is coerced: commas removed, the rest
  parsed. Digits are ASCII only (Python's ``\\d`` would also accept other scripts' digits).
- Any other string (``"12%"``, ``"1.250,5"``, ``"n/a"``, ``""``) is not guessed at.
- Anything else (``true``, ``null``, an object) is not a number string: it is left as given and
  the engine reports it later.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

_PLAIN = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_GROUPED = re.compile(r"-?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?")

Number = int | float


class NumberKind(StrEnum):
    NUMBER = "number"
    """A JSON number, used as is."""
    COERCED = "coerced"
    """A number string, parsed (``LEGACY_NUMBER_COERCED``)."""
    UNPARSEABLE = "unparseable"
    """A string that is not a number by the rule (``LEGACY_NUMBER_UNPARSEABLE``)."""
    OTHER = "other"
    """Not a number and not a string (bool, null, array, object): left as given."""


@dataclass(frozen=True, slots=True)
class Coercion:
    kind: NumberKind
    value: Any
    """The number for NUMBER / COERCED, ``None`` for UNPARSEABLE, the input for OTHER."""
    raw: Any
    """The value as received."""


def parse_number_string(text: str) -> Number | None:
    """The number a string stands for by the README rule, or ``None``.

    An integer string gives an ``int``, one with a fraction a ``float``. A string whose value
    does not fit a finite float (or an int of more digits than Python converts) is ``None``.
    """
    candidate = text.strip()
    if not (_PLAIN.fullmatch(candidate) or _GROUPED.fullmatch(candidate)):
        return None
    digits = candidate.replace(",", "")
    try:
        if "." in digits:
            value = float(digits)
            return value if math.isfinite(value) else None
        return int(digits)
    except ValueError:  # more digits than int() accepts
        return None


def coerce_number(value: Any) -> Coercion:
    """Classify one value of a numeric field by the README rule."""
    if isinstance(value, bool):
        return Coercion(NumberKind.OTHER, value, value)
    if isinstance(value, int):
        return Coercion(NumberKind.NUMBER, value, value)
    if isinstance(value, float):
        if math.isfinite(value):
            return Coercion(NumberKind.NUMBER, value, value)
        return Coercion(NumberKind.UNPARSEABLE, None, value)
    if isinstance(value, str):
        parsed = parse_number_string(value)
        if parsed is None:
            return Coercion(NumberKind.UNPARSEABLE, None, value)
        return Coercion(NumberKind.COERCED, parsed, value)
    return Coercion(NumberKind.OTHER, value, value)


def as_fraction(value: Number) -> tuple[float | Number, bool]:
    """The old app's fraction rule: a value > 1 is a percentage and is divided by 100.

    Returns ``(fraction, scaled)``. The division is decimal, so ``15`` gives ``0.15`` exactly
    as written, not ``0.15000000000000002``. A value too large for a float gives ``inf``,
    which callers must treat as unusable (``is_json_number`` is false for it).
    """
    if value > 1:
        try:
            return float(Decimal(repr(value)) / 100), True
        except (InvalidOperation, ValueError, OverflowError):
            return math.inf, True
    return value, False
