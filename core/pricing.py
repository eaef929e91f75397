"""Quote pricing (pure): list amount, tier discount and reward margin, rounded half-up."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import get_currency_precision

_HUNDRED = Decimal(100)


@dataclass(frozen=True)
class PriceLine:
    kind: str  # list | tier_discount | reward_margin
    description: str
    unit_price: Decimal
    quantity: int
    term_months: int
    pct: Decimal | None
    amount: Decimal


@dataclass(frozen=True)
class Priced:
    currency: str
    lines: tuple[PriceLine, ...]
    list_amount: Decimal
    discount_pct: Decimal
    reward_margin_pct: Decimal
    total: Decimal


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round half-up to the currency's minor unit (2 for GBP, 0 for JPY, 3 for BHD)."""
    exponent = Decimal(1).scaleb(-get_currency_precision(currency))
    return amount.quantize(exponent, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class ListPrice:
    """A product's price before any discount: its name, its price a user a month in a
    currency, and its term."""

    product_name: str
    unit_price: Decimal
    currency: str
    term_months: int


def price_quote(
    price: ListPrice, users: int, *, discount_pct: Decimal, reward_margin_pct: Decimal
) -> Priced:
    """Price a quote: list = unit x users x months; discounts are percentages of list.

    The tier discount and the reward margin each take their percentage of the list
    amount (they add up: 15% + 10% = 25% off list) and each is its own rounded line;
    the total is the rounded list less the two rounded deductions, so the lines always
    add up to the total exactly.
    """
    if users < 1 or price.term_months < 1:
        raise ValueError("users and term_months must be positive")
    if discount_pct + reward_margin_pct > _HUNDRED:
        raise ValueError("discount and reward margin exceed 100% of list")
    unit, months, currency = price.unit_price, price.term_months, price.currency
    list_amount = round_money(unit * users * months, currency)
    lines = [PriceLine("list", price.product_name, unit, users, months, None, list_amount)]
    deductions = Decimal(0)
    for kind, label, p in (
        ("tier_discount", "Partner tier discount", discount_pct),
        ("reward_margin", "Deal registration reward margin", reward_margin_pct),
    ):
        if p > 0:
            amount = round_money(list_amount * p / _HUNDRED, currency)
            deductions += amount
            lines.append(PriceLine(kind, label, unit, users, months, p, -amount))
    return Priced(
        currency=currency,
        lines=tuple(lines),
        list_amount=list_amount,
        discount_pct=discount_pct,
        reward_margin_pct=reward_margin_pct,
        total=list_amount - deductions,
    )
