"""Numbers, money, percentages and dates read as the partner's locale writes them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from core import formatting


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "expected"),
    [
        ("1234.5", "GBP", "en_GB", "£1,234.50"),
        ("1234567", "JPY", "en_JP", "¥1,234,567"),
        ("148.14", "BHD", "en_GB", "BHD148.140"),
        ("-18.518", "BHD", "en_GB", "-BHD18.518"),
        ("1234.5", "EUR", "de_DE", "1.234,50\xa0€"),
        ("1234567.5", "INR", "en_IN", "₹12,34,567.50"),
    ],
)
def test_money_uses_the_currencys_minor_unit_and_the_locales_grouping(
    amount: str, currency: str, locale: str, expected: str
) -> None:
    assert formatting.money(Decimal(amount), currency, locale) == expected


def test_german_numbers_group_with_dots() -> None:
    assert formatting.number(1234567, "de_DE") == "1.234.567"
    assert formatting.number(1500, "en_GB") == "1,500"


def test_pct_takes_a_number_of_percent() -> None:
    assert formatting.pct(Decimal("12.5"), "en_GB") == "12.5%"
    assert formatting.pct(15, "en_GB") == "15%"
    assert formatting.pct(Decimal("12.5"), "de_DE") == "12,5%"
    assert formatting.pct(None, "en_GB") == ""


def test_datetime_is_shown_as_its_date_in_the_readers_zone() -> None:
    late = datetime(2026, 11, 25, 23, 30, tzinfo=UTC)
    assert formatting.day(late, "en_GB") == "25 Nov 2026"
    assert formatting.day(late, "en_GB", ZoneInfo("Asia/Tokyo")) == "26 Nov 2026"
    assert formatting.day(late, "en_US", ZoneInfo("America/New_York")) == "Nov 25, 2026"
    assert formatting.day(date(2026, 12, 1), "de_DE") == "01.12.2026"
    assert formatting.day(None, "en_GB") == ""


def test_unknown_locale_falls_back_to_british_english() -> None:
    assert formatting.money(Decimal("5"), "GBP", "xx_YY") == "£5.00"
    assert formatting.money(Decimal("5"), "GBP", "en-GB") == "£5.00"
