"""What the bot posts follows Slack's conventions: dates in each reader's own time zone,
money and counts as the partner's emails show them, a domain with its punycode beside it,
and everything typed still escaped."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from bot import blocks, notifications, sla_messages
from bot.mrkdwn import SlackDate, day, md, when
from core.models import Contact, Deal, DealEvent, Partner, Product, Prospect, Quote, QuoteLine
from core.pricing import Priced
from core.protection import DomainCheck
from core.services.prospects import ProspectPage

APPROVED_AT = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
PROTECTED_UNTIL = datetime(2027, 2, 23, 9, 30, tzinfo=UTC)
VALID_UNTIL = date(2027, 1, 24)
CLOSE_DATE = date(2027, 3, 31)
UNICODE, PUNYCODE = "bücher.example", "xn--bcher-kva.example"
REVIEWER = "deals@vendor.example"
HOSTILE = "<!channel> <https://evil.example|portal> & co"
DATE_TOKEN = re.compile(r"<!date\^(\d+)\^(\{date_short\}(?: \{time\})?)\|([^>]*)>")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def partner(country: str = "GB", currency: str = "GBP", locale: str | None = None) -> Partner:
    return Partner(name="Northwind IT", country=country, currency=currency, locale=locale)


def quote(owner: Partner) -> Quote:
    lines = [
        QuoteLine(position=1, kind="list", description="Email Security", amount=Decimal("8400")),
        QuoteLine(
            position=2,
            kind="tier_discount",
            description="Partner tier discount",
            amount=Decimal("-1260"),
            pct=Decimal("15.0000"),
        ),
        QuoteLine(
            position=3,
            kind="reward_margin",
            description="Reward margin",
            amount=Decimal("-840"),
            pct=Decimal("10.0000"),
        ),
    ]
    return Quote(
        number="Q-000001",
        partner=owner,
        product=Product(code="email_security", name="Email Security", term_months=12),
        currency=owner.currency,
        number_of_users=1500,
        term_months=12,
        total=Decimal("1234.5"),
        valid_until=VALID_UNTIL,
        lines=lines,
    )


def deal(owner: Partner | None = None, stage: str = "approved", **changes: Any) -> Deal:
    owner = owner or partner()
    values: dict[str, Any] = {
        "number": "DR-000001",
        "stage": stage,
        "channel": "slack",
        "company_name": f"Bücher {HOSTILE}",
        "country": "GB",
        "currency": owner.currency,
        "number_of_users": 1500,
        "projected_value": Decimal("85000.5"),
        "close_date": CLOSE_DATE,
        "budget_approved": True,
        "created_at": APPROVED_AT - timedelta(days=1),
        "protection_expires_at": PROTECTED_UNTIL,
        "extensions_granted": 0,
        "partner": owner,
        "contact": Contact(name="Ann Lee", email="ann@northwind.example", partner=owner),
        "prospect": Prospect(domain=PUNYCODE),
        "product": Product(code="email_security", name="Email Security", term_months=12),
        "events": [DealEvent(at=APPROVED_AT, actor=REVIEWER, channel="slack", action="approve")],
    }
    made = Deal(**(values | changes))
    made.quotes = [quote(owner)]
    return made


def text_objects(value: Any) -> Iterator[dict[str, Any]]:
    """Every text object in a message, view or block list."""
    if isinstance(value, dict):
        if value.get("type") in ("mrkdwn", "plain_text") and isinstance(value.get("text"), str):
            yield value
        for child in value.values():
            yield from text_objects(child)
    elif isinstance(value, list):
        for child in value:
            yield from text_objects(child)


def mrkdwn_of(value: Any) -> str:
    return "\n".join(t["text"] for t in text_objects(value) if t["type"] == "mrkdwn")


REMINDER = {"percent": 50, "due_at": "2026-11-24T09:30:00+00:00", "mention": ["U0REVIEW"]}


def everything_posted(d: Deal) -> list[Any]:
    """Every message and block list the bot builds about `d`."""
    return [
        blocks.deal_details(d),
        blocks.quote_blocks(d.quotes[0]),
        notifications.review_message(d, None, {}),
        notifications.extension_request(d, "more time"),
        notifications.extension_decided(d, True, "Deal Desk"),
        sla_messages.reminder(d, REMINDER),
        sla_messages.escalation(d, REMINDER),
        notifications.partner_dm(d, "approved"),
    ]


def test_a_moment_is_slacks_date_and_time_with_a_utc_fallback() -> None:
    moment = when(APPROVED_AT)
    assert isinstance(moment, SlackDate)
    assert moment.markup() == (
        f"<!date^{int(APPROVED_AT.timestamp())}^{{date_short}} {{time}}|2026-11-25 09:30 UTC>"
    )
    assert when(None) == "—"


def test_a_protection_end_is_shown_as_the_date_it_falls_on_for_each_reader() -> None:
    end = day(PROTECTED_UNTIL)
    assert isinstance(end, SlackDate)
    assert end.markup() == f"<!date^{int(PROTECTED_UNTIL.timestamp())}^{{date_short}}|2027-02-23>"


@pytest.mark.parametrize("hours", range(-11, 12))
def test_a_calendar_date_reads_the_same_day_from_utc_minus_11_to_plus_11(hours: int) -> None:
    valid = day(VALID_UNTIL)
    assert isinstance(valid, SlackDate)
    assert (valid.token, valid.fallback) == ("{date_short}", "2027-01-24")
    shown = datetime.fromtimestamp(valid.epoch, timezone(timedelta(hours=hours))).date()
    assert shown == VALID_UNTIL


def test_every_date_in_mrkdwn_is_slacks_date_markup_and_no_bare_date_is_left() -> None:
    d = deal()
    for built in everything_posted(d):
        text = mrkdwn_of(built)
        tokens = DATE_TOKEN.findall(text)
        assert tokens, text
        for epoch, fmt, fallback in tokens:
            at = datetime.fromtimestamp(int(epoch), UTC)
            if fmt == "{date_short}":
                assert ISO_DATE.fullmatch(fallback)
            else:
                assert fallback == f"{at:%Y-%m-%d %H:%M} UTC"
        assert not ISO_DATE.search(DATE_TOKEN.sub("", text)), text
    shown = {int(e) for e, _, _ in DATE_TOKEN.findall(mrkdwn_of(blocks.deal_details(d)))}
    noon = int(datetime(2027, 3, 31, 12, tzinfo=UTC).timestamp())
    assert {int(PROTECTED_UNTIL.timestamp()), int(APPROVED_AT.timestamp()), noon} <= shown


def test_plain_text_and_the_notification_text_carry_no_date_markup() -> None:
    for built in everything_posted(deal()):
        plain = [t["text"] for t in text_objects(built) if t["type"] == "plain_text"]
        assert not [p for p in plain if "<!date" in p]
        if isinstance(built, dict):
            assert "<!date" not in built["text"] and "&lt;!date" not in built["text"]
    reminder = sla_messages.reminder(deal(), REMINDER)
    assert reminder["text"].endswith("has passed: decide by 2026-11-24 09:30 UTC.")


def test_money_and_counts_are_in_the_partners_locale_as_in_the_emails() -> None:
    gb = mrkdwn_of(blocks.quote_blocks(quote(partner())))
    assert "1,500 users" in gb and "*Total £1,234.50*" in gb and "-£1,260.00 (15%)" in gb
    assert "(10%)" in gb and "GBP" not in gb
    de = mrkdwn_of(blocks.quote_blocks(quote(partner("DE", "EUR", "de_DE"))))
    assert "1.500 users" in de and "*Total 1.234,50\xa0€*" in de
    fields = dict(blocks.deal_fields(deal(), ["number_of_users", "projected_value"]))
    assert fields == {"Number of Users": "1,500", "Projected Value": "£85,000.50"}


def test_the_review_previews_the_quote_in_the_partners_locale() -> None:
    priced = Priced(
        currency="EUR",
        list_amount=Decimal("2000"),
        discount_pct=Decimal(0),
        reward_margin_pct=Decimal(0),
        total=Decimal("2000"),
        lines=(),
    )
    assert "*Total 2.000,00\xa0€*" in notifications.preview_text(priced, "de_DE")


def test_a_non_ascii_domain_is_shown_with_its_punycode_beside_it() -> None:
    both = f"{UNICODE} ({PUNYCODE})"
    d = deal()
    assert both in blocks.deal_line(d)
    assert both in mrkdwn_of(notifications.review_message(d, None, {}))
    check = DomainCheck(PUNYCODE, "protected", protected_until=PROTECTED_UNTIL)
    assert both in blocks.check_text(check).plain
    page = ProspectPage(PUNYCODE, "Bücher GmbH", check, [d], [])
    header = blocks.prospect_blocks(page)[0]["text"]["text"]
    assert header == f"Bücher GmbH · {both}"


def test_typed_text_beside_a_date_is_escaped_and_the_date_stays_live() -> None:
    typed = "<!date^0^{date_short}|forged> <!channel>"
    text = md(f"*{typed}* until ", day(VALID_UNTIL), ".").markup()
    assert text.startswith("*&lt;!date^0^{date_short}|forged&gt; &lt;!channel&gt;* until <!date^")
    posted = json.dumps(everything_posted(deal()), ensure_ascii=False)
    assert "<!channel>" not in posted and "&lt;!channel&gt;" in posted
    assert "&amp;lt;" not in posted  # escaped once


def test_a_long_text_is_cut_between_dates_and_escapes_never_inside_one() -> None:
    line = md("&" * 5, " ", when(APPROVED_AT), "\n")
    text = md(*[line] * 200).markup(3000)
    assert len(text) <= 3000 and text.endswith("…")
    body = text.removesuffix("…")
    assert DATE_TOKEN.sub("", body).replace("&amp;", "").strip(" \n") == ""
    assert md("<" * 10).markup(8) == "&lt;" + "…"


def test_the_plain_domain_check_for_a_modal_shows_the_iso_date() -> None:
    check = DomainCheck("acme.com", "protected", protected_until=PROTECTED_UNTIL)
    assert blocks.check_result(check) == (
        "⛔ *acme.com* is protected by another partner until 2027-02-23."
    )
    assert "<!date^" in blocks.md_section(blocks.check_text(check))["text"]["text"]
