"""Ticker symbols: what we accept, and the one spelling we use for it.

A symbol is normalised by trimming surrounding whitespace and upper-casing it. The result
must then be 1 to 15 ASCII characters: letters and digits, optionally split into parts by a
single `.` or `-` (`AAPL`, `BRK.B`, `BRK-B`, `TSCO.LON`, `600104.SHH`, `0700.HK`).

Junk, which our API answers with 422 and never sends to a provider: an empty or blank
string, non-ASCII letters, whitespace inside, any other punctuation (`/`, `&`, `?`, `=`,
`#`, `%`, `^`, `:`, quotes ...), a leading, trailing or doubled separator, and anything
longer than 15 characters. Rejecting these up front keeps query strings clean and stops a
malformed call from spending a provider's daily quota.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

MAX_SYMBOL_LENGTH = 15

_SYMBOL_RE = re.compile(r"[A-Z0-9]+(?:[.\-][A-Z0-9]+)*")


class InvalidSymbolError(ValueError):
    """The text is not a ticker symbol (the API answers 422)."""

    def __init__(self, raw: object, reason: str) -> None:
        self.raw = raw
        self.reason = reason
        super().__init__(f"invalid symbol: {reason}")


def normalize_symbol(raw: object) -> str:
    """Return the canonical spelling of `raw`, or raise InvalidSymbolError."""
    if not isinstance(raw, str):
        raise InvalidSymbolError(raw, "a symbol must be a string")
    text = raw.strip()
    if not text:
        raise InvalidSymbolError(raw, "a symbol must not be empty")
    if not text.isascii():
        raise InvalidSymbolError(raw, "a symbol must use ASCII letters, digits, '.' or '-'")
    text = text.upper()
    if len(text) > MAX_SYMBOL_LENGTH:
        raise InvalidSymbolError(raw, f"a symbol has at most {MAX_SYMBOL_LENGTH} characters")
    if not _SYMBOL_RE.fullmatch(text):
        raise InvalidSymbolError(
            raw,
            "a symbol is letters and digits, optionally split by single '.' or '-' "
            "(for example AAPL or BRK.B)",
        )
    return text


def is_valid_symbol(raw: object) -> bool:
    try:
        normalize_symbol(raw)
    except InvalidSymbolError:
        return False
    return True


#: A pydantic field type: validates and normalises (a ValueError becomes a 422 field error).
Symbol = Annotated[str, AfterValidator(normalize_symbol)]

__all__ = [
    "MAX_SYMBOL_LENGTH",
    "InvalidSymbolError",
    "Symbol",
    "is_valid_symbol",
    "normalize_symbol",
]
