"""Error and warning codes of the EPV engine (epv-method.md sections 10.3 and 10.4).

The engine stops at the first failure: validation and the computation checks raise
``EngineError``, which ``analyse`` turns into an error result. Nothing else is raised
for a well-formed call, so a caller never has to catch anything.

    Exception
     └── EngineError(code, field, message)   one of ERROR_CODES, never leaves analyse()
"""

from __future__ import annotations

INVALID_STRUCTURE = "INVALID_STRUCTURE"
MISSING_FIELD = "MISSING_FIELD"
INVALID_NUMBER = "INVALID_NUMBER"
VALUE_OUT_OF_RANGE = "VALUE_OUT_OF_RANGE"
INVALID_OPTION = "INVALID_OPTION"
INVALID_SHARE_COUNT = "INVALID_SHARE_COUNT"
DUPLICATE_FISCAL_YEAR = "DUPLICATE_FISCAL_YEAR"
INSUFFICIENT_HISTORY = "INSUFFICIENT_HISTORY"
NON_CONSECUTIVE_YEARS = "NON_CONSECUTIVE_YEARS"
INVALID_WACC = "INVALID_WACC"
GROWTH_RATE_NOT_BELOW_WACC = "GROWTH_RATE_NOT_BELOW_WACC"
NON_POSITIVE_EARNINGS = "NON_POSITIVE_EARNINGS"

ERROR_CODES = frozenset(
    {
        INVALID_STRUCTURE,
        MISSING_FIELD,
        INVALID_NUMBER,
        VALUE_OUT_OF_RANGE,
        INVALID_OPTION,
        INVALID_SHARE_COUNT,
        DUPLICATE_FISCAL_YEAR,
        INSUFFICIENT_HISTORY,
        NON_CONSECUTIVE_YEARS,
        INVALID_WACC,
        GROWTH_RATE_NOT_BELOW_WACC,
        NON_POSITIVE_EARNINGS,
    }
)

UNKNOWN_FIELD_IGNORED = "UNKNOWN_FIELD_IGNORED"
TAX_RATE_DEFAULTED = "TAX_RATE_DEFAULTED"
TAX_RATE_CLAMPED = "TAX_RATE_CLAMPED"
REVENUE_DECLINED_NO_GROWTH_CAPEX = "REVENUE_DECLINED_NO_GROWTH_CAPEX"
MAINTENANCE_CAPEX_FLOORED = "MAINTENANCE_CAPEX_FLOORED"
NEGATIVE_EPV_EQUITY = "NEGATIVE_EPV_EQUITY"
RND_HISTORY_SHORT = "RND_HISTORY_SHORT"
GROWTH_NOT_APPLICABLE = "GROWTH_NOT_APPLICABLE"
GROWTH_DESTROYS_VALUE = "GROWTH_DESTROYS_VALUE"

# Section 15: raised by the FinancialDatasetV1 mapping, before the engine's own warnings.
LEGACY_PERCENT_SCALED = "LEGACY_PERCENT_SCALED"
LEGACY_TAX_RATE_DEFAULTED = "LEGACY_TAX_RATE_DEFAULTED"
LEGACY_NO_BALANCE_SHEET = "LEGACY_NO_BALANCE_SHEET"

WARNING_CODES = frozenset(
    {
        UNKNOWN_FIELD_IGNORED,
        TAX_RATE_DEFAULTED,
        TAX_RATE_CLAMPED,
        REVENUE_DECLINED_NO_GROWTH_CAPEX,
        MAINTENANCE_CAPEX_FLOORED,
        NEGATIVE_EPV_EQUITY,
        RND_HISTORY_SHORT,
        GROWTH_NOT_APPLICABLE,
        GROWTH_DESTROYS_VALUE,
        LEGACY_PERCENT_SCALED,
        LEGACY_TAX_RATE_DEFAULTED,
        LEGACY_NO_BALANCE_SHEET,
    }
)


class EngineError(Exception):
    """The first failure of an analysis; ``field`` is a path as in section 2.3, or None."""

    __slots__ = ("code", "field", "message")

    def __init__(self, code: str, field: str | None, message: str) -> None:
        super().__init__(f"{code} at {field}: {message}")
        self.code = code
        self.field = field
        self.message = message


def warning(code: str, field: str | None = None) -> dict[str, str | None]:
    return {"code": code, "field": field}
