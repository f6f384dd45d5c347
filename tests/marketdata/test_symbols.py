"""Symbol validation (junk -> 422 at our API) and normalisation."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from epv_marketdata.providers import (
    InvalidSymbolError,
    Symbol,
    is_valid_symbol,
    normalize_symbol,
)
from epv_marketdata.providers.symbols import MAX_SYMBOL_LENGTH


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("AAPL", "AAPL"),
        ("aapl", "AAPL"),
        ("  msft\t", "MSFT"),
        ("Ko", "KO"),
        ("BRK.B", "BRK.B"),
        ("brk-b", "BRK-B"),
        ("TSCO.LON", "TSCO.LON"),
        ("600104.SHH", "600104.SHH"),
        ("0700.hk", "0700.HK"),
        ("A", "A"),
        ("RDS-A.L", "RDS-A.L"),
        ("X" * MAX_SYMBOL_LENGTH, "X" * MAX_SYMBOL_LENGTH),
    ],
)
def test_valid_symbols_are_normalised(raw: str, normalised: str) -> None:
    assert normalize_symbol(raw) == normalised
    assert is_valid_symbol(raw)
    assert normalize_symbol(normalised) == normalised  # idempotent


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "\n",
        "AA PL",
        "AAPL&function=OVERVIEW",
        "AAPL?x=1",
        "AAPL/US",
        "AAPL#",
        "A%20B",
        "^GSPC",
        "EUR:USD",
        "'; DROP TABLE",
        '"AAPL"',
        ".AAPL",
        "AAPL.",
        "-AAPL",
        "BRK..B",
        "BRK.-B",
        "ÄPPLE",
        "ＡＡＰＬ",  # full-width letters
        "ß",
        "AAPL\x00",
        "X" * (MAX_SYMBOL_LENGTH + 1),
        "A" * 1000,
    ],
)
def test_junk_is_rejected(raw: str) -> None:
    with pytest.raises(InvalidSymbolError) as caught:
        normalize_symbol(raw)
    assert isinstance(caught.value, ValueError)  # pydantic turns it into a 422 field error
    assert caught.value.reason
    assert not is_valid_symbol(raw)


@pytest.mark.parametrize("raw", [None, 123, 1.5, b"AAPL", ["AAPL"]])
def test_non_strings_are_rejected(raw: object) -> None:
    with pytest.raises(InvalidSymbolError):
        normalize_symbol(raw)
    assert not is_valid_symbol(raw)


class _Query(BaseModel):
    symbol: Symbol


def test_symbol_field_type_normalises() -> None:
    assert _Query(symbol=" brk.b ").symbol == "BRK.B"


def test_symbol_field_type_rejects_junk_as_a_validation_error() -> None:
    with pytest.raises(ValidationError) as caught:
        _Query(symbol="AAPL&x")
    error = caught.value.errors()[0]
    assert error["loc"] == ("symbol",)
    assert "invalid symbol" in error["msg"]
