"""The standard, provider-independent models: one per data type.

- Quote: the latest price.
- Overview: who the company is (name, sector, industry) plus the provider's headline
  figures and ratios.
- Fundamentals: multi-year income statements, balance sheets and cash-flow statements.
- BenchmarkInput: one company's margins and multiples, derived from the three above; the
  service takes medians of these by sector and industry.

Conventions:
- Amounts are `Decimal` parsed exactly from the provider's text, in **units** of the
  currency (never thousands or millions: Finnhub's millions are scaled up when parsed).
  They serialise to JSON numbers. A missing value is `None`, never 0.
- Margins, yields and returns are **fractions** (0.3151), whatever the provider used.
  The one exception is `Quote.change_percent`, which is in percent, as its name says.
- Lists of statements keep the provider's order: newest first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer


def _json_number(value: Decimal) -> int | float:
    if value == value.to_integral_value():
        return int(value)
    return float(value)


#: An exact decimal that is written as a JSON number.
Number = Annotated[Decimal, PlainSerializer(_json_number, return_type=int | float,
                                            when_used="json")]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --------------------------------------------------------------------------- quote


class Quote(_Model):
    symbol: str
    source: str
    price: Number
    open: Number | None = None
    high: Number | None = None
    low: Number | None = None
    previous_close: Number | None = None
    change: Number | None = None
    change_percent: Number | None = Field(None, description="in percent: 1.8171 means 1.8171%")
    volume: int | None = None
    latest_trading_day: date | None = None
    timestamp: datetime | None = Field(None, description="time of the price, when the provider "
                                       "gives one (UTC)")
    fetched_at: datetime | None = None


# --------------------------------------------------------------------------- overview


class Overview(_Model):
    symbol: str
    source: str
    name: str | None = None
    description: str | None = None
    asset_type: str | None = None
    exchange: str | None = None
    currency: str | None = None
    country: str | None = None
    sector: str | None = Field(None, description="the provider's own label (AV: TECHNOLOGY, "
                               "MANUFACTURING ...); Finnhub gives none")
    industry: str | None = Field(None, description="the provider's own label (AV: upper-case SIC "
                                 "description; Finnhub: finnhubIndustry)")
    fiscal_year_end: str | None = None
    latest_quarter: date | None = None
    ipo: date | None = None
    web_url: str | None = None
    market_capitalization: Number | None = None
    shares_outstanding: Number | None = None
    enterprise_value: Number | None = None
    revenue_ttm: Number | None = None
    gross_profit_ttm: Number | None = None
    ebitda: Number | None = None
    beta: Number | None = None
    pe_ratio: Number | None = None
    trailing_pe: Number | None = None
    forward_pe: Number | None = None
    peg_ratio: Number | None = None
    price_to_book: Number | None = None
    price_to_sales_ttm: Number | None = None
    ev_to_revenue: Number | None = None
    ev_to_ebitda: Number | None = None
    eps: Number | None = None
    diluted_eps_ttm: Number | None = None
    book_value_per_share: Number | None = None
    revenue_per_share_ttm: Number | None = None
    dividend_per_share: Number | None = None
    dividend_yield: Number | None = None
    profit_margin: Number | None = None
    operating_margin_ttm: Number | None = None
    gross_margin_ttm: Number | None = None
    return_on_assets_ttm: Number | None = None
    return_on_equity_ttm: Number | None = None
    week_52_high: Number | None = None
    week_52_low: Number | None = None
    analyst_target_price: Number | None = None
    fetched_at: datetime | None = None


# --------------------------------------------------------------------------- fundamentals


class _Statement(_Model):
    fiscal_date_ending: date
    reported_currency: str | None = None


class IncomeStatement(_Statement):
    total_revenue: Number | None = None
    cost_of_revenue: Number | None = None
    cost_of_goods_and_services_sold: Number | None = None
    gross_profit: Number | None = None
    operating_expenses: Number | None = None
    selling_general_and_administrative: Number | None = None
    research_and_development: Number | None = None
    operating_income: Number | None = None
    investment_income_net: Number | None = None
    net_interest_income: Number | None = None
    interest_income: Number | None = None
    interest_expense: Number | None = None
    interest_and_debt_expense: Number | None = None
    non_interest_income: Number | None = None
    other_non_operating_income: Number | None = None
    depreciation: Number | None = None
    depreciation_and_amortization: Number | None = None
    income_before_tax: Number | None = None
    income_tax_expense: Number | None = None
    net_income_from_continuing_operations: Number | None = None
    comprehensive_income_net_of_tax: Number | None = None
    ebit: Number | None = Field(None, description="AV's ebit: income before tax + interest "
                                "expense; NOT operating income")
    ebitda: Number | None = None
    net_income: Number | None = Field(None, description="attributable to the parent")


class BalanceSheet(_Statement):
    total_assets: Number | None = None
    total_current_assets: Number | None = None
    cash_and_cash_equivalents: Number | None = None
    cash_and_short_term_investments: Number | None = None
    inventory: Number | None = None
    current_net_receivables: Number | None = None
    total_non_current_assets: Number | None = None
    property_plant_equipment: Number | None = Field(None, description="net PP&E")
    accumulated_depreciation_amortization_ppe: Number | None = None
    intangible_assets: Number | None = Field(None, description="AV: includes goodwill")
    intangible_assets_excluding_goodwill: Number | None = None
    goodwill: Number | None = None
    investments: Number | None = None
    long_term_investments: Number | None = None
    short_term_investments: Number | None = None
    other_current_assets: Number | None = None
    other_non_current_assets: Number | None = None
    total_liabilities: Number | None = None
    total_current_liabilities: Number | None = None
    current_accounts_payable: Number | None = None
    deferred_revenue: Number | None = None
    current_debt: Number | None = None
    short_term_debt: Number | None = None
    total_non_current_liabilities: Number | None = None
    capital_lease_obligations: Number | None = None
    long_term_debt: Number | None = None
    current_long_term_debt: Number | None = None
    long_term_debt_noncurrent: Number | None = None
    short_long_term_debt_total: Number | None = None
    other_current_liabilities: Number | None = None
    other_non_current_liabilities: Number | None = None
    total_shareholder_equity: Number | None = None
    treasury_stock: Number | None = Field(None, description="sign varies between companies")
    retained_earnings: Number | None = None
    common_stock: Number | None = None
    common_stock_shares_outstanding: Number | None = Field(None, description="period end, basic")


class CashFlowStatement(_Statement):
    operating_cashflow: Number | None = None
    payments_for_operating_activities: Number | None = None
    proceeds_from_operating_activities: Number | None = None
    change_in_operating_liabilities: Number | None = None
    change_in_operating_assets: Number | None = None
    depreciation_depletion_and_amortization: Number | None = None
    capital_expenditures: Number | None = Field(None, description="AV: a positive outflow")
    change_in_receivables: Number | None = None
    change_in_inventory: Number | None = None
    profit_loss: Number | None = None
    cashflow_from_investment: Number | None = None
    cashflow_from_financing: Number | None = None
    proceeds_from_repayments_of_short_term_debt: Number | None = None
    payments_for_repurchase_of_common_stock: Number | None = None
    payments_for_repurchase_of_equity: Number | None = None
    payments_for_repurchase_of_preferred_stock: Number | None = None
    dividend_payout: Number | None = None
    dividend_payout_common_stock: Number | None = None
    dividend_payout_preferred_stock: Number | None = None
    proceeds_from_issuance_of_common_stock: Number | None = None
    proceeds_from_issuance_of_long_term_debt_and_capital_securities_net: Number | None = None
    proceeds_from_issuance_of_preferred_stock: Number | None = None
    proceeds_from_repurchase_of_equity: Number | None = None
    proceeds_from_sale_of_treasury_stock: Number | None = None
    change_in_cash_and_cash_equivalents: Number | None = None
    change_in_exchange_rate: Number | None = None
    net_income: Number | None = None


class FinancialStatements(_Model):
    """One period type (annual or quarterly) of the three statements, newest first."""

    income: list[IncomeStatement] = Field(default_factory=list)
    balance: list[BalanceSheet] = Field(default_factory=list)
    cash_flow: list[CashFlowStatement] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class StatementPeriod:
    """The three statements of one period end, joined on the exact period-end date."""

    fiscal_date_ending: date
    income: IncomeStatement
    balance: BalanceSheet
    cash_flow: CashFlowStatement


class Fundamentals(_Model):
    symbol: str
    source: str
    annual: FinancialStatements
    quarterly: FinancialStatements = Field(default_factory=FinancialStatements)
    fetched_at: datetime | None = None

    def annual_periods(self) -> list[StatementPeriod]:
        """Annual periods present in all three statements, oldest first.

        The join is on the exact `fiscal_date_ending`; the first report of a date wins if a
        provider lists one date twice.
        """
        balance: dict[date, BalanceSheet] = {}
        for report in self.annual.balance:
            balance.setdefault(report.fiscal_date_ending, report)
        cash_flow: dict[date, CashFlowStatement] = {}
        for report in self.annual.cash_flow:
            cash_flow.setdefault(report.fiscal_date_ending, report)
        periods: dict[date, StatementPeriod] = {}
        for income in self.annual.income:
            day = income.fiscal_date_ending
            if day in periods or day not in balance or day not in cash_flow:
                continue
            periods[day] = StatementPeriod(day, income, balance[day], cash_flow[day])
        return [periods[day] for day in sorted(periods)]


# --------------------------------------------------------------------------- benchmarks


class BenchmarkInput(_Model):
    """One company's margins and multiples: a sample for the sector and industry medians.

    Margins come from the newest annual period of the fundamentals (the statements the EPV
    method uses), or from the overview's trailing figures when there are no fundamentals.
    Multiples put the market value (price x shares, else the provider's market cap) over
    the same period's figures; with no fundamentals, the provider's own ratios are used.
    A multiple over a zero or negative denominator is left out (None), as is any figure
    whose inputs are missing. All ratios are plain floats; margins are fractions.
    """

    symbol: str
    sector: str | None = None
    industry: str | None = None
    currency: str | None = None
    fiscal_year: int | None = None
    # margins and rates (fractions of revenue unless named otherwise)
    gross_margin: float | None = None
    operating_margin: float | None = None
    ebitda_margin: float | None = None
    pretax_margin: float | None = None
    net_margin: float | None = None
    tax_rate: float | None = Field(None, description="income tax / pretax income")
    da_to_revenue: float | None = None
    capex_to_revenue: float | None = None
    rnd_to_revenue: float | None = None
    sga_to_revenue: float | None = None
    return_on_assets: float | None = None
    return_on_equity: float | None = None
    # market value and multiples
    market_cap: float | None = None
    enterprise_value: float | None = None
    pe_ratio: float | None = None
    price_to_book: float | None = None
    price_to_sales: float | None = None
    ev_to_revenue: float | None = None
    ev_to_ebitda: float | None = None
    ev_to_ebit: float | None = None
    dividend_yield: float | None = None

    @classmethod
    def derive(
        cls,
        *,
        symbol: str,
        fundamentals: Fundamentals | None = None,
        overview: Overview | None = None,
        quote: Quote | None = None,
    ) -> BenchmarkInput:
        ov = overview
        values: dict[str, object] = {
            "symbol": symbol,
            "sector": ov.sector if ov else None,
            "industry": ov.industry if ov else None,
            "currency": ov.currency if ov else None,
            "dividend_yield": _f(ov.dividend_yield) if ov else None,
        }
        periods = fundamentals.annual_periods() if fundamentals else []
        latest = periods[-1] if periods else None

        shares = ov.shares_outstanding if ov and ov.shares_outstanding else None
        if shares is None and latest is not None:
            shares = latest.balance.common_stock_shares_outstanding
        market_cap: Decimal | None = None
        if quote is not None and shares is not None and shares > 0:
            market_cap = quote.price * shares
        elif ov is not None:
            market_cap = ov.market_capitalization
        values["market_cap"] = _f(market_cap)

        if latest is not None:
            inc, bal, cf = latest.income, latest.balance, latest.cash_flow
            values["fiscal_year"] = latest.fiscal_date_ending.year
            values["currency"] = inc.reported_currency or values["currency"]
            revenue = inc.total_revenue
            da = _first(cf.depreciation_depletion_and_amortization,
                        inc.depreciation_and_amortization)
            ebitda = (inc.operating_income + da
                      if inc.operating_income is not None and da is not None else None)
            capex = abs(cf.capital_expenditures) if cf.capital_expenditures is not None else None
            values.update(
                gross_margin=_ratio(inc.gross_profit, revenue),
                operating_margin=_ratio(inc.operating_income, revenue),
                ebitda_margin=_ratio(ebitda, revenue),
                pretax_margin=_ratio(inc.income_before_tax, revenue),
                net_margin=_ratio(inc.net_income, revenue),
                tax_rate=_ratio(inc.income_tax_expense, inc.income_before_tax),
                da_to_revenue=_ratio(da, revenue),
                capex_to_revenue=_ratio(capex, revenue),
                rnd_to_revenue=_ratio(inc.research_and_development or Decimal(0), revenue),
                sga_to_revenue=_ratio(inc.selling_general_and_administrative, revenue),
                return_on_assets=_ratio(inc.net_income, bal.total_assets),
                return_on_equity=_ratio(inc.net_income, bal.total_shareholder_equity),
            )
            if market_cap is not None:
                debt = total_debt(bal)
                cash = _first(bal.cash_and_short_term_investments, bal.cash_and_cash_equivalents)
                ev = market_cap + debt - (cash or Decimal(0))
                values.update(
                    enterprise_value=_f(ev),
                    pe_ratio=_ratio(market_cap, inc.net_income),
                    price_to_book=_ratio(market_cap, bal.total_shareholder_equity),
                    price_to_sales=_ratio(market_cap, revenue),
                    ev_to_revenue=_ratio(ev, revenue),
                    ev_to_ebitda=_ratio(ev, ebitda),
                    ev_to_ebit=_ratio(ev, inc.operating_income),
                )
        elif ov is not None:
            gross = ov.gross_margin_ttm
            if gross is None:
                gross_value = _ratio(ov.gross_profit_ttm, ov.revenue_ttm)
            else:
                gross_value = _f(gross)
            values.update(
                gross_margin=gross_value,
                operating_margin=_f(ov.operating_margin_ttm),
                net_margin=_f(ov.profit_margin),
                return_on_assets=_f(ov.return_on_assets_ttm),
                return_on_equity=_f(ov.return_on_equity_ttm),
                enterprise_value=_f(ov.enterprise_value),
                pe_ratio=_positive(_first(ov.pe_ratio, ov.trailing_pe)),
                price_to_book=_positive(ov.price_to_book),
                price_to_sales=_positive(ov.price_to_sales_ttm),
                ev_to_revenue=_positive(ov.ev_to_revenue),
                ev_to_ebitda=_positive(ov.ev_to_ebitda),
            )
        return cls.model_validate(values)


def current_debt(balance: BalanceSheet) -> Decimal:
    """`currentDebt`, else `shortTermDebt + currentLongTermDebt` (missing counts as 0)."""
    if balance.current_debt is not None:
        return balance.current_debt
    return (balance.short_term_debt or Decimal(0)) + (balance.current_long_term_debt or Decimal(0))


def total_debt(balance: BalanceSheet) -> Decimal:
    """`shortLongTermDebtTotal`, else non-current + current debt (always a number)."""
    if balance.short_long_term_debt_total is not None:
        return balance.short_long_term_debt_total
    if balance.long_term_debt_noncurrent is not None:
        noncurrent = balance.long_term_debt_noncurrent
    else:
        noncurrent = (balance.long_term_debt or Decimal(0)) - (
            balance.current_long_term_debt or Decimal(0))
    return noncurrent + current_debt(balance)


def _first(*values: Decimal | None) -> Decimal | None:
    for value in values:
        if value is not None:
            return value
    return None


def _f(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _positive(value: Decimal | None) -> float | None:
    return float(value) if value is not None and value > 0 else None


def _ratio(numerator: Decimal | None, denominator: Decimal | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return float(numerator / denominator)


__all__ = [
    "BalanceSheet",
    "BenchmarkInput",
    "CashFlowStatement",
    "FinancialStatements",
    "Fundamentals",
    "IncomeStatement",
    "Number",
    "Overview",
    "Quote",
    "StatementPeriod",
    "current_debt",
    "total_debt",
]
