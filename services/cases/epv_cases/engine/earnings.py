"""Normalised operating earnings, tax rate and NOPAT (epv-method.md sections 3 and 4)."""

from __future__ import annotations

from dataclasses import dataclass

from . import errors as E
from .schema import Assumptions

DEFAULT_TAX_RATE = 0.25
MAX_HISTORICAL_TAX_RATE = 0.5


@dataclass(slots=True)
class Earnings:
    window: list[dict]
    operating_margins: list[float]
    normalized_operating_margin: float
    revenue_latest: float
    revenue_basis_value: float
    normalized_ebit: float
    normalized_tax_rate: float
    tax_rate_source: str
    nopat: float


def normalise_earnings(years: list[dict], a: Assumptions, warnings: list) -> Earnings:
    window = years[-min(a.normalization_years, len(years)) :]
    if a.one_off_treatment == "exclude":
        # A charge is added back and a gain taken out, so the margin is the recurring one.
        margins = [(y["operating_income"] + y["one_off_items"]) / y["revenue"] for y in window]
    else:
        margins = [y["operating_income"] / y["revenue"] for y in window]
    # The mean of yearly margins, not total EBIT over total revenue: each year of the cycle
    # counts once, whatever its size.
    margin = sum(margins) / len(margins)
    revenue_latest = window[-1]["revenue"]
    if a.revenue_basis == "latest":
        basis_value = revenue_latest
    else:
        basis_value = sum(y["revenue"] for y in window) / len(window)
    ebit = margin * basis_value

    if a.tax_rate_override is not None:
        rate, source = a.tax_rate_override, "override"
    else:
        # Ratio of sums over profitable years: a near-zero year cannot distort the rate, and a
        # loss year's tax benefit says nothing about the rate on normal profits.
        tax = pretax = 0.0
        profitable = 0
        for y in window:
            if y["pretax_income"] > 0:
                tax += y["income_tax_expense"]
                pretax += y["pretax_income"]
                profitable += 1
        if not profitable:
            rate, source = DEFAULT_TAX_RATE, "default"
            warnings.append(E.warning(E.TAX_RATE_DEFAULTED))
        else:
            rate, source = tax / pretax, "historical"
            if rate < 0.0 or rate > MAX_HISTORICAL_TAX_RATE:
                rate = min(max(rate, 0.0), MAX_HISTORICAL_TAX_RATE)
                warnings.append(E.warning(E.TAX_RATE_CLAMPED))

    return Earnings(
        window=window,
        operating_margins=margins,
        normalized_operating_margin=margin,
        revenue_latest=revenue_latest,
        revenue_basis_value=basis_value,
        normalized_ebit=ebit,
        normalized_tax_rate=rate,
        tax_rate_source=source,
        nopat=ebit * (1.0 - rate),
    )
