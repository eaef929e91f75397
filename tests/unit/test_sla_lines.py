"""What the service level says: the partner's due line in their zone and locale, the
confirmation's line, the steps a moment reaches, and the Slack reminder's mentions."""

from __future__ import annotations

from datetime import UTC, datetime

from bot import sla_messages
from core import emails
from core.config import Settings
from core.models import Partner, Review
from core.services.sla import ESCALATED, REMINDER_50, REMINDER_90, due_line, step_due
from tests.unit.test_emails import context_for, make_deal

SETTINGS = Settings(_env_file=None)  # type: ignore[call-arg]
DUE = datetime(2026, 12, 1, 17, 30, tzinfo=UTC)  # a Tuesday


def test_the_due_line_is_in_the_partners_zone_and_locale() -> None:
    review = Review(review_due_at=DUE)
    assert due_line(review, Partner(country="GB"), SETTINGS) == "Tue, 1 Dec 2026, 17:30 GMT"
    us = due_line(review, Partner(country="US"), SETTINGS)
    assert us == "Tue, Dec 1, 2026, 12:30\u202fPM EST"  # New York, not Adak
    german = due_line(review, Partner(country="DE", locale="de_DE"), SETTINGS)
    assert german == "Di., 1. Dez. 2026, 18:30 MEZ"
    assert due_line(Review(review_due_at=None), Partner(country="GB"), SETTINGS) is None


def test_the_confirmation_says_when_the_desk_decides_only_while_it_is_due() -> None:
    deal, quote = make_deal(stage="opportunity")
    ctx = context_for("registration_received", deal, quote)
    assert "decides by" not in emails.render("registration_received", ctx).text
    deal.review = Review(review_due_at=DUE)
    ctx["decides_by"] = "Tue, 1 Dec 2026, 17:30 GMT"
    out = emails.render("registration_received", ctx)
    assert "The deal desk decides by Tue, 1 Dec 2026, 17:30 GMT." in out.text
    assert "decides by <strong>Tue, 1 Dec 2026, 17:30 GMT</strong>" in out.html


def test_steps_follow_the_business_time_used() -> None:
    # Due Tue 1 Dec 17:30 after 16 h: it started Mon 30 Nov 10:00 (7.5 h Mon, 8.5 h Tue);
    # 8 h are used Tue 09:30 (50%), 14.4 h Tue 15:54 (90%).
    assert step_due(DUE, datetime(2026, 11, 30, 10, tzinfo=UTC), SETTINGS) == 0
    assert step_due(DUE, datetime(2026, 12, 1, 9, 29, tzinfo=UTC), SETTINGS) == 0
    assert step_due(DUE, datetime(2026, 12, 1, 9, 30, tzinfo=UTC), SETTINGS) == REMINDER_50
    assert step_due(DUE, datetime(2026, 12, 1, 15, 53, tzinfo=UTC), SETTINGS) == REMINDER_50
    assert step_due(DUE, datetime(2026, 12, 1, 15, 54, tzinfo=UTC), SETTINGS) == REMINDER_90
    assert step_due(DUE, DUE, SETTINGS) == ESCALATED


def test_a_reminder_mentions_only_slack_user_ids() -> None:
    deal, _ = make_deal(stage="opportunity")
    payload = {"percent": 50, "due_at": DUE.isoformat(), "mention": ["U0PRIYA", "<!channel>"]}
    body = sla_messages.reminder(deal, {**payload, "names": ["Dee <Desk>"]})
    first = body["blocks"][0]["text"]["text"]
    assert first.startswith("<@U0PRIYA> ⏰ 50% of the review time for DR-000123")
    assert "<!channel>" not in str(body) and "Dee &lt;Desk&gt;" in str(body["blocks"][1])
    assert body["text"].endswith("decide by 2026-12-01 17:30 UTC.")
