"""Every outgoing email renders, escapes what partners typed and formats for the reader."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from jinja2 import UndefinedError

from core import emails
from core.fields import FIELDS, SECTIONS, label_for
from core.models import Contact, Deal, Partner, Product, Prospect, Quote, QuoteLine, Tier

NOW = datetime(2026, 12, 31, 9, 30, tzinfo=UTC)
HOSTILE = "<script>alert(1)</script> & Co"


def make_deal(stage: str = "approved", company: str = "Acme Ltd") -> tuple[Deal, Quote]:
    """Build a deal and its quote in memory, as the services would leave them."""
    tier = Tier(name="gold", discount_pct=Decimal("15"), reward_margin_pct=Decimal("10"))
    partner = Partner(name="Northwind IT", tier=tier, country="GB", currency="GBP")
    contact = Contact(name="Ann Lee", email="ann@northwind.example", partner=partner)
    product = Product(
        code="email_security",
        name="Email Security Cloud Gateway",
        unit_price=Decimal("3.50"),
        currency="USD",
        term_months=12,
    )
    prospect = Prospect(domain="acme.co.uk", company_name=company, created_at=NOW)
    deal = Deal(
        number="DR-000123",
        stage=stage,
        channel="email",
        partner=partner,
        contact=contact,
        prospect=prospect,
        product=product,
        company_name=company,
        contact_name="Bob Smith",
        contact_phone="+442079460000",
        end_user_first_name="Carol",
        end_user_last_name="Jones",
        end_user_position="IT Director",
        end_user_email="carol@acme.co.uk",
        end_user_phone="+442079460001",
        end_user_role="decision_maker",
        address_line1="1 High Street",
        country="GB",
        postcode="SW1A 1AA",
        number_of_users=1500,
        projected_value=Decimal("120000"),
        currency="GBP",
        close_date=date(2027, 2, 28),
        budget_approved=True,
        project_priority="high",
        problems_to_solve="Too much spam",
        migrating_to="microsoft_365",
        created_at=NOW,
        updated_at=NOW,
        approved_at=NOW,
        protection_expires_at=datetime(2027, 3, 31, 12, 0, tzinfo=UTC),
        reject_reason="existing_customer",
        review_note="Already a customer since 2021.",
        returned_question="How many mailboxes are shared?",
        po_number="PO-4711",
    )
    quote = Quote(
        number="Q-000042",
        deal=deal,
        product=product,
        currency="GBP",
        number_of_users=1500,
        term_months=12,
        discount_pct=Decimal("15"),
        reward_margin_pct=Decimal("10"),
        list_amount=Decimal("50400.00"),
        total=Decimal("37800.00"),
        valid_until=date(2027, 1, 30),
        created_at=NOW,
        created_by="deals@vendor.example",
        lines=[
            QuoteLine(
                position=1,
                kind="list",
                description="Email Security Cloud Gateway",
                unit_price=Decimal("2.80"),
                quantity=1500,
                term_months=12,
                amount=Decimal("50400.00"),
            ),
            QuoteLine(
                position=2,
                kind="tier_discount",
                description="Tier discount (gold)",
                unit_price=Decimal("0"),
                quantity=1500,
                term_months=12,
                pct=Decimal("15"),
                amount=Decimal("-7560.00"),
            ),
            QuoteLine(
                position=3,
                kind="reward_margin",
                description="Reward margin",
                unit_price=Decimal("0"),
                quantity=1500,
                term_months=12,
                pct=Decimal("10"),
                amount=Decimal("-5040.00"),
            ),
        ],
    )
    return deal, quote


def context_for(name: str, deal: Deal, quote: Quote) -> dict[str, Any]:
    """Return a realistic context for one template."""
    ctx: dict[str, Any] = {
        "vendor_name": "Mimecast",
        "intake_address": "deals@vendor.example",
        "deal": deal,
        "quote": quote,
    }
    extra: dict[str, dict[str, Any]] = {
        "intake_errors": {
            "deal": None,
            "errors": [
                {"field": "end_user_email", "message": "is not a valid email address"},
                {"field": "close_date", "message": "must be a future date"},
                {"field": None, "message": "The message has no registration fields."},
            ],
            "country": "GB",
            "values": {"company_name": deal.company_name, "domain": "acme.co.uk"},
            "original_subject": "New deal",
        },
        "intake_form": {"deal": None, "country": "US"},
        "intake_refused": {"deal": None, "reason": "oversize", "max_bytes": 10 * 1024 * 1024},
        "intake_confirm": {
            "deal": None,
            "what": "a deal registration",
            "received_at": datetime(2026, 11, 25, 9, 30, tzinfo=UTC),
            "held_until": datetime(2026, 12, 2, 9, 30, tzinfo=UTC),
            "token": "tok3n-Abc_123",
        },
        "expiry_reminder": {"days_left": 14, "extensions_left": 1},
        "extension_granted": {"extension_days": 30},
        "extension_declined": {"note": "Close date too far out."},
        "sla_reminder": {
            "percent": 90,
            "due_at": datetime(2026, 12, 31, 17, 30, tzinfo=UTC),
            "name": "Dee Desk",
            "claimed_by": "dee@vendor.example",
            "contact": None,
            "progress": [],
        },
        "sla_escalation": {"due_at": datetime(2026, 12, 31, 17, 30, tzinfo=UTC), "progress": []},
        "intake_command": {"command": "status"},
        "deal_amended": {"changes": ["Number of Users: 250 → 300"]},
        "amendment_requested": {"changes": ["Domain: acme.co.uk → acme.com"]},
        "amend_approved": {"changes": ["Number of Users: 250 → 300"], "note": None},
        "amend_declined": {"changes": ["Number of Users: 250 → 300"], "note": "Too many."},
        "deal_withdrawn": {"reason_label": "No budget", "note": None, "by": "Ann Lee"},
    }
    ctx.update(extra.get(name, {}))
    return ctx


@pytest.mark.parametrize("name", [*emails.TEMPLATE_NAMES, "intake_confirmation"])
def test_every_template_renders_text_and_html(name: str) -> None:
    deal, quote = make_deal()
    out = emails.render(name, context_for(name, deal, quote))
    assert out.subject and "\n" not in out.subject
    assert out.text.strip() and "{{" not in out.text
    assert out.html.lstrip().startswith("<!DOCTYPE html>")
    assert "Mimecast" in out.text and "Mimecast" in out.html


def test_the_confirmation_request_carries_its_token_and_echoes_nothing_the_sender_typed() -> None:
    deal, quote = make_deal(company=HOSTILE)
    out = emails.render("intake_confirm", context_for("intake_confirm", deal, quote))
    assert "tok3n-Abc_123" in out.text and "tok3n-Abc_123" in out.html
    assert "2 Dec 2026" in out.text  # when it lapses
    assert "script" not in out.text + out.html + out.subject


def test_company_name_is_escaped_in_html_and_raw_in_text() -> None:
    deal, quote = make_deal(company=HOSTILE)

    out = emails.render("deal_approved", context_for("deal_approved", deal, quote))

    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in out.html
    assert "<script>" not in out.html
    assert HOSTILE in out.text
    assert HOSTILE in out.subject


def test_typed_values_in_intake_errors_are_escaped_in_html() -> None:
    deal, quote = make_deal()
    ctx = context_for("intake_errors", deal, quote)
    ctx["values"] = {"company_name": HOSTILE}
    ctx["errors"] = [{"field": "domain", "message": "<b>bad</b> is not a domain"}]

    out = emails.render("intake_errors", ctx)

    assert "<b>bad</b>" not in out.html and "&lt;b&gt;bad&lt;/b&gt;" in out.html
    assert "&lt;script&gt;" in out.html and f"Company Name: {HOSTILE}" in out.text


@pytest.mark.parametrize(
    ("locale", "protection", "validity", "total"),
    [
        ("en_GB", "31 Mar 2027", "30 Jan 2027", "£37,800.00"),
        ("en_US", "Mar 31, 2027", "Jan 30, 2027", "£37,800.00"),
        ("de_DE", "31.03.2027", "30.01.2027", "37.800,00\xa0£"),
    ],
)
def test_approval_states_protection_end_and_quote_validity_in_the_partners_locale(
    locale: str, protection: str, validity: str, total: str
) -> None:
    deal, quote = make_deal()

    out = emails.render("deal_approved", context_for("deal_approved", deal, quote), locale=locale)

    for body in (out.text, out.html):
        assert protection in body
        assert validity in body
        assert total in body
    assert protection in out.subject
    assert f"valid until {validity}" in out.text


def test_approval_lists_every_quote_line_and_the_totals() -> None:
    deal, quote = make_deal()

    out = emails.render("deal_approved", context_for("deal_approved", deal, quote))

    assert "£2.80 x 1,500 users x 12 months = £50,400.00" in out.text
    assert "Tier discount (gold) (15%): -£7,560.00" in out.text
    assert "Reward margin (10%): -£5,040.00" in out.text
    assert "List amount: £50,400.00" in out.text and "Total:       £37,800.00" in out.text
    assert "/deal advance DR-000123" in out.text


def test_money_follows_the_quote_currency_whatever_the_sign_of_discount_lines() -> None:
    deal, quote = make_deal()
    quote.currency = "USD"
    for line in quote.lines[1:]:
        line.amount = abs(line.amount)

    out = emails.render("deal_approved", context_for("deal_approved", deal, quote), locale="en_US")

    assert "-$7,560.00" in out.text and "$37,800.00" in out.html


def test_datetimes_are_shown_in_the_readers_zone() -> None:
    deal, quote = make_deal(stage="opportunity")
    ctx = context_for("sla_reminder", deal, quote)

    out = emails.render("sla_reminder", ctx, locale="en_US", tz="America/New_York")

    assert "registered Dec 31, 2026, 4:30:00\u202fAM" in out.text
    assert "decides by Dec 31, 2026, 12:30:00\u202fPM" in out.text


def test_progress_bar_marks_the_current_stage_in_text_and_html() -> None:
    deal, quote = make_deal(stage="order_started")

    out = emails.render("order_started", context_for("order_started", deal, quote))

    assert "[x] Opportunity > [x] Approved > [x] Start Order > [ ] Submit Order" in out.text
    assert out.html.count('class="stage-done"') == 2
    assert 'class="stage-current"' in out.html and 'aria-current="step">Start Order' in out.html
    assert out.html.count('class="stage-todo"') == 1


def test_rejection_gives_the_reason_label_and_note() -> None:
    deal, quote = make_deal(stage="rejected")

    out = emails.render("deal_rejected", context_for("deal_rejected", deal, quote))

    assert "Reason: Existing customer" in out.text
    assert "Already a customer since 2021." in out.text
    assert "Existing customer" in out.html


def test_returned_registration_asks_the_question_and_how_to_answer() -> None:
    deal, quote = make_deal(stage="opportunity")

    out = emails.render("deal_returned", context_for("deal_returned", deal, quote))

    assert "How many mailboxes are shared?" in out.text
    assert "Reply to this email" in out.text and "Slack" in out.text


def test_intake_errors_list_each_problem_by_label_and_include_the_form() -> None:
    deal, quote = make_deal()

    out = emails.render("intake_errors", context_for("intake_errors", deal, quote))

    assert "- Email: is not a valid email address" in out.text
    assert "- Close Date: must be a future date" in out.text
    assert "- The message has no registration fields." in out.text
    assert "Company Name: Acme Ltd" in out.text and "Domain: acme.co.uk" in out.text
    assert "Migrating To: " in out.text and "Migrating To: " in out.html
    assert out.subject == "Re: New deal - Deal registration not accepted: 3 problems to fix"


def test_already_registered_names_the_existing_deal() -> None:
    deal, quote = make_deal(stage="opportunity")

    out = emails.render(
        "intake_already_registered", context_for("intake_already_registered", deal, quote)
    )

    assert "already registered as DR-000123" in out.text
    assert out.subject.startswith("Already registered as DR-000123")


def test_expiry_reminder_gives_the_date_and_how_to_extend() -> None:
    deal, quote = make_deal()

    out = emails.render("expiry_reminder", context_for("expiry_reminder", deal, quote))

    assert "ends on 31 Mar 2027, in 14 days" in out.text
    assert "Request an extension" in out.text


def test_subject_is_one_line_even_when_a_name_has_line_breaks() -> None:
    deal, quote = make_deal(company="Acme\nBcc: victim@example.com")

    out = emails.render("registration_received", context_for("registration_received", deal, quote))

    assert "\n" not in out.subject and "\r" not in out.subject


def test_missing_context_key_is_an_error_not_a_blank() -> None:
    deal, quote = make_deal()

    with pytest.raises(UndefinedError):
        emails.render("deal_approved", {"deal": deal, "quote": quote})


def test_blank_form_lists_every_field_label_once_per_line_by_section() -> None:
    form = emails.blank_form()
    lines = form.splitlines()

    for spec in FIELDS:
        assert f"{label_for(spec.name)}: " in lines
    for title in SECTIONS.values():
        assert f"== {title} ==" in lines
    label_lines = [line for line in lines if line.endswith(": ")]
    assert len(label_lines) == len(FIELDS)
    assert "# one of: Low | Medium | High | Critical" in lines


def test_blank_form_uses_the_countrys_labels_and_prefills_values() -> None:
    form = emails.blank_form("US", {"company_name": "Acme\nInc", "country": "US"})

    assert "Zip Code: " in form.splitlines() and "State: " in form.splitlines()
    assert "Company Name: Acme Inc" in form and "Country: US" in form


def test_unknown_locale_falls_back_rather_than_losing_the_email() -> None:
    deal, quote = make_deal()

    out = emails.render("deal_approved", context_for("deal_approved", deal, quote), locale="xx")

    assert "31 Mar 2027" in out.text
