"""Fundamentals as a case's financial-data document (shared/reference/epv-method.md, section 2).

The rules are those of shared/fixtures/marketdata/README.md, "Fundamentals in the case
schema"; for the fixture symbols the output equals `fundamentals-expected/{SYMBOL}.json`
(apart from `as_of`, which is the fetch time). In short:

- years: every annual `fiscal_date_ending` present in all three statements, ascending;
  `fiscal_year` is the calendar year of that date. Quarterly reports are not used.
- money and shares: units / 1,000,000, rounded half-even to 6 decimals (`company.units` is
  "millions"); `beta` and `current_share_price` are not scaled.
- a year still missing a required field after its fallbacks is left out, with one
  FUNDAMENTALS_YEAR_INCOMPLETE warning per missing field; nothing else is corrected, except
  the sign of capex (absolute value).
- FUNDAMENTALS_SHARES_NOT_DILUTED once when at least one year is written: the share count is
  the period-end basic count.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from epv_marketdata.providers.models import (
    BalanceSheet,
    Fundamentals,
    Overview,
    Quote,
    StatementPeriod,
    current_debt,
    total_debt,
)

SCHEMA_VERSION = "1.0"
UNITS = "millions"

WARNING_SHARES_NOT_DILUTED = "FUNDAMENTALS_SHARES_NOT_DILUTED"
WARNING_YEAR_INCOMPLETE = "FUNDAMENTALS_YEAR_INCOMPLETE"

BETA_RANGE = (Decimal(0), Decimal(5))  # closed
PRICE_MAX = Decimal(10_000_000)  # the price must lie in (0, 1e7]

_MILLION = Decimal(1_000_000)
_SIX_PLACES = Decimal("0.000001")
_ZERO = Decimal(0)

# Key order of a fiscal year, as in the table of epv-method.md 2.2.
FISCAL_YEAR_FIELDS = (
    "fiscal_year", "revenue", "operating_income", "depreciation_amortization",
    "capital_expenditures", "ppe_net", "total_assets", "cash", "total_debt", "shares_diluted",
    "income_tax_expense", "pretax_income", "sga", "rnd", "one_off_items",
    "goodwill_intangibles", "non_interest_bearing_liabilities",
)
REQUIRED_FIELDS = FISCAL_YEAR_FIELDS[:14]


def _first(*values: Decimal | None) -> Decimal | None:
    for value in values:
        if value is not None:
            return value
    return None


def _or_zero(value: Decimal | None) -> Decimal:
    return _ZERO if value is None else value


def _goodwill_intangibles(bs: BalanceSheet) -> Decimal:
    if bs.intangible_assets is not None:
        return bs.intangible_assets
    return _or_zero(bs.goodwill) + _or_zero(bs.intangible_assets_excluding_goodwill)


def _non_interest_bearing(bs: BalanceSheet) -> Decimal | None:
    if bs.total_current_liabilities is None:
        return None
    value = bs.total_current_liabilities - current_debt(bs)
    return value if value >= 0 else None


def _capex(value: Decimal | None) -> Decimal | None:
    return None if value is None else abs(value)


# field -> how to read it from one period (None = missing)
_SOURCES: dict[str, Callable[[StatementPeriod], Decimal | None]] = {
    "revenue": lambda p: p.income.total_revenue,
    "operating_income": lambda p: p.income.operating_income,
    "depreciation_amortization": lambda p: _first(
        p.cash_flow.depreciation_depletion_and_amortization,
        p.income.depreciation_and_amortization),
    "capital_expenditures": lambda p: _capex(p.cash_flow.capital_expenditures),
    "ppe_net": lambda p: p.balance.property_plant_equipment,
    "total_assets": lambda p: p.balance.total_assets,
    "cash": lambda p: _first(p.balance.cash_and_short_term_investments,
                             p.balance.cash_and_cash_equivalents),
    "total_debt": lambda p: total_debt(p.balance),
    "shares_diluted": lambda p: p.balance.common_stock_shares_outstanding,
    "income_tax_expense": lambda p: p.income.income_tax_expense,
    "pretax_income": lambda p: p.income.income_before_tax,
    "sga": lambda p: p.income.selling_general_and_administrative,
    "rnd": lambda p: _or_zero(p.income.research_and_development),
    "one_off_items": lambda p: _ZERO,
    "goodwill_intangibles": lambda p: _goodwill_intangibles(p.balance),
    "non_interest_bearing_liabilities": lambda p: _non_interest_bearing(p.balance),
}


def to_millions(value: Decimal) -> float:
    """Units -> millions, rounded half-even to 6 decimals, as a JSON number."""
    return float((value / _MILLION).quantize(_SIX_PLACES, rounding=ROUND_HALF_EVEN))


def _fiscal_year(period: StatementPeriod) -> tuple[dict[str, Any] | None, list[str]]:
    """The case entry of one period, or None and the required fields that are missing."""
    entry: dict[str, Any] = {"fiscal_year": period.fiscal_date_ending.year}
    missing: list[str] = []
    for field in FISCAL_YEAR_FIELDS[1:]:
        value = _SOURCES[field](period)
        if value is None:
            if field in REQUIRED_FIELDS:
                missing.append(field)
            continue
        entry[field] = to_millions(value)
    return (None, missing) if missing else (entry, [])


def _rfc3339(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def fundamentals_to_case(
    fundamentals: Fundamentals,
    overview: Overview | None = None,
    quote: Quote | None = None,
    *,
    symbol: str | None = None,
    as_of: datetime | None = None,
) -> dict[str, Any]:
    """The fundamentals answer in the case shape.

    `symbol` is the requested symbol (default: the fundamentals' own); `as_of` is when the
    provider responses were fetched (default: `fundamentals.fetched_at`; left out if neither
    is known). An `overview` or `quote` that is None (an unknown symbol there, or not
    fetched) only takes away the values read from it: name, currency fallback, beta, price.
    """
    ticker = (symbol or fundamentals.symbol).strip().upper()
    periods = sorted(fundamentals.annual_periods(),
                     key=lambda p: (p.fiscal_date_ending.year, p.fiscal_date_ending))

    years: list[dict[str, Any]] = []
    kept: list[StatementPeriod] = []
    warnings: list[dict[str, str]] = []
    for period in periods:
        entry, missing = _fiscal_year(period)
        if entry is None:
            label = period.fiscal_date_ending.year
            warnings.extend(
                {"code": WARNING_YEAR_INCOMPLETE, "field": f"fiscal_years[fiscal_year={label}].{f}"}
                for f in missing
            )
            continue
        years.append(entry)
        kept.append(period)
    if years:
        warnings.insert(0, {"code": WARNING_SHARES_NOT_DILUTED,
                            "field": "fiscal_years[*].shares_diluted"})

    company: dict[str, Any] = {
        "name": (overview.name if overview is not None and overview.name else None) or ticker,
        "ticker": ticker,
    }
    currency = _currency(fundamentals, kept, overview)
    if currency is not None:
        company["currency"] = currency
    company["units"] = UNITS

    assumptions: dict[str, Any] = {}
    if overview is not None and overview.beta is not None and (
            BETA_RANGE[0] <= overview.beta <= BETA_RANGE[1]):
        assumptions["beta"] = float(overview.beta)
    if quote is not None and quote.price is not None and _ZERO < quote.price <= PRICE_MAX:
        assumptions["current_share_price"] = float(quote.price)

    answer: dict[str, Any] = {"symbol": ticker, "source": fundamentals.source}
    moment = as_of or fundamentals.fetched_at
    if moment is not None:
        answer["as_of"] = _rfc3339(moment)
    answer["financial_data"] = {
        "schema_version": SCHEMA_VERSION,
        "company": company,
        "fiscal_years": years,
        "assumptions": assumptions,
    }
    answer["warnings"] = warnings
    return answer


def _currency(fundamentals: Fundamentals, kept: list[StatementPeriod],
              overview: Overview | None) -> str | None:
    """reportedCurrency of the newest kept year (newest report if none), else OVERVIEW's."""
    if kept:
        newest = max(kept, key=lambda p: p.fiscal_date_ending)
        reported = newest.income.reported_currency
    else:
        reports = fundamentals.annual.income
        newest_report = max(reports, key=lambda r: r.fiscal_date_ending) if reports else None
        reported = newest_report.reported_currency if newest_report else None
    if reported:
        return reported
    if overview is not None and overview.currency:
        return overview.currency
    return None


__all__ = [
    "FISCAL_YEAR_FIELDS",
    "REQUIRED_FIELDS",
    "WARNING_SHARES_NOT_DILUTED",
    "WARNING_YEAR_INCOMPLETE",
    "fundamentals_to_case",
    "to_millions",
]
