from decimal import Decimal as D

import pytest

from core.pricing import ListPrice, price_quote, round_money


def quote(unit: str, currency: str, users: int, months: int, disc: str, margin: str):  # type: ignore[no-untyped-def]
    return price_quote(
        ListPrice("Email Security Cloud Gateway", D(unit), currency, months),
        users,
        discount_pct=D(disc),
        reward_margin_pct=D(margin),
    )


def test_discount_and_margin_are_percentages_of_list_and_add_up() -> None:
    q = quote("3.50", "USD", 1000, 12, "15", "10")
    assert q.list_amount == D("42000.00")
    assert [line.amount for line in q.lines] == [D("42000.00"), D("-6300.00"), D("-4200.00")]
    assert q.total == D("31500.00")  # 25% off list


def test_rounding_is_half_up_to_minor_unit() -> None:
    # 0.35 x 3 x 1 = 1.05; 15% = 0.1575 -> 0.16; 10% = 0.105 -> 0.11 (half-up, not banker's)
    q = quote("0.35", "GBP", 3, 1, "15", "10")
    assert [line.amount for line in q.lines] == [D("1.05"), D("-0.16"), D("-0.11")]
    assert q.total == D("0.78")


def test_zero_decimal_currency_rounds_to_whole_yen() -> None:
    q = quote("333", "JPY", 1, 1, "15", "10")  # 49.95 -> 50; 33.3 -> 33
    assert [line.amount for line in q.lines] == [D("333"), D("-50"), D("-33")]
    assert q.total == D("250")


def test_three_decimal_currency_keeps_fils() -> None:
    q = quote("1.2345", "BHD", 10, 12, "12.5", "0")
    assert q.list_amount == D("148.140")
    assert [line.kind for line in q.lines] == ["list", "tier_discount"]
    assert q.total == D("148.140") - D("18.518")  # 18.5175 -> 18.518


def test_lines_always_sum_to_total() -> None:
    for users in (1, 7, 99, 1234, 999_999):
        q = quote("2.8", "EUR", users, 12, "17.5", "7.25")
        assert sum(line.amount for line in q.lines) == q.total


def test_no_margin_line_when_margin_is_zero() -> None:
    q = quote("1.10", "USD", 100, 12, "0", "0")
    assert [line.kind for line in q.lines] == ["list"]
    assert q.total == D("1320.00")


def test_round_money_half_up() -> None:
    assert round_money(D("2.675"), "USD") == D("2.68")
    assert round_money(D("-2.675"), "USD") == D("-2.68")


def test_more_than_hundred_percent_off_is_refused() -> None:
    with pytest.raises(ValueError):
        quote("1", "USD", 1, 1, "60", "50")
