"""Block Kit for the deal desk's side of a review card (pure): where the rules routed it, when
a decision is due, who claimed it, what the rules said, the two-person state, and the
buttons; the thread note of a first approval, and the answer to a refused claim.

Everything is read from the deal's `Review` as it is now, so every delivery of the card
shows the same; the due time is written in the business zone, as the service level counts it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from bot.kit import Block, actions, button, context, message, section
from bot.mrkdwn import Mrkdwn, md, when
from core.config import Settings
from core.models import Deal, Review

RULE_ACTOR = "rule:"  # an automatic decision's actor: rule:NAME
_NOTE_MARK = {"shadow": "🔍", "second_approval": "👥", "withheld": "✋"}


@dataclass(frozen=True)
class DeskClock:
    """When a card is drawn, and the business zone its due time is written in; without a
    `now`, no due time is marked overdue."""

    now: datetime | None = None
    zone: tzinfo = field(default=UTC)


def desk_clock(settings: Settings, now: datetime) -> DeskClock:
    """The clock of the business zone (`BUSINESS_TIMEZONE`), as the service level counts."""
    return DeskClock(now, ZoneInfo(settings.business_timezone))


def awaited(deal: Deal) -> bool:
    """Whether the deal desk owes a decision: an opportunity not returned to the partner."""
    return deal.stage == "opportunity" and not deal.returned_question


def local_time(at: datetime, zone: tzinfo) -> str:
    """A moment in the business zone: "Tue 8 Dec 14:30 GMT"."""
    here = at.astimezone(zone)
    return f"{here:%a} {here.day} {here:%b %H:%M} {here.tzname() or ''}".rstrip()


def route_line(review: Review | None) -> str | None:
    """The route a rule gave the deal, for the card's context; None when not routed."""
    if review is None or not review.route_rule:
        return None
    where = f" to {review.route_channel}" if review.route_channel else ""
    who = f" (reviewers: {', '.join(review.route_reviewers)})" if review.route_reviewers else ""
    return f"📮 Routed by *{review.route_rule}*{where}{who}"


def reregistration(review: Review | None) -> list[Block]:
    """The flag on a registration of a prospect and product the partner held lately."""
    if review is None or not review.reregistration_of:
        return []
    return [
        section(
            f"🔁 *Re-registration of {review.reregistration_of}*: this partner held this "
            "prospect and product lately; renewing its protection is the deal desk's call."
        )
    ]


def status_blocks(deal: Deal, names: dict[str, str], clock: DeskClock) -> list[Block]:
    """While a decision is awaited: the due time, the claim, the two-person state, and the
    shadow and two-person rules' lines."""
    review = deal.review
    if review is None or not awaited(deal):
        return []
    due = due_line(review, clock)
    lines = [*([due] if due else []), claim_line(review, names), *two_person_lines(review, names)]
    # The Claim button beside who holds the claim, above Approve / Reject / Return.
    blocks = [section("\n".join(lines), accessory=claim_button(deal.number))]
    notes = [
        f"{_NOTE_MARK[n['kind']]} {n['text']}"
        for n in review.rule_notes or []
        if n.get("kind") in _NOTE_MARK and n.get("text")
    ]
    return blocks + ([context(*notes)] if notes else [])


def due_line(review: Review, clock: DeskClock) -> str | None:
    due = review.review_due_at
    if due is None:
        return None
    if due.tzinfo is None:  # SQLite hands back naive datetimes; stored as UTC
        due = due.replace(tzinfo=UTC)
    if clock.now is not None and clock.now >= due:
        return f"⏰ overdue since {local_time(due, clock.zone)}"
    return f"🕒 Decide by {local_time(due, clock.zone)}"


def claim_line(review: Review, names: dict[str, str]) -> str:
    holder = review.claimed_by
    return f"🙋 Claimed by *{names.get(holder, holder)}*" if holder else "🙋 Not claimed yet"


def claim_button(number: str) -> Block:
    return button("Claim", "deal_claim", number)


def two_person_lines(review: Review, names: dict[str, str]) -> list[str]:
    if not review.second_approval:
        return []
    first = review.first_approved_by
    if first is None:
        return ["👥 *Needs two approvals*"]
    who = names.get(first, first)
    return [f"👥 *Approved 1 of 2* by *{who}*; a different reviewer must approve"]


def review_buttons(number: str) -> Block:
    """The deal desk's decisions while one is awaited (Claim sits beside the claim line)."""
    return actions(
        button("Approve", "deal_approve", number, "primary"),
        button("Reject", "deal_reject", number, "danger"),
        button("Return", "deal_return", number),
        block_id="review",
    )


def approved_automatically(deal: Deal, actor: str, at: datetime) -> Mrkdwn | None:
    """ "Approved automatically by NAME" with the rule's explanation, for a rule's approval;
    None when a person approved."""
    if not actor.startswith(RULE_ACTOR):
        return None
    rule = actor.removeprefix(RULE_ACTOR)
    notes = deal.review.rule_notes if deal.review else None
    said = next((n["text"] for n in notes or [] if n.get("kind") == "approved"), "")
    why = said.split(": ", 1)[1] if ": " in said else said
    text = md(f"✅ Approved automatically by *{rule}* on ", when(at))
    return text + (f": {why}" if why else "")


# -- Thread notes and answers ------------------------------------------------------------


def first_approval_note(deal: Deal, by: str) -> dict[str, Any]:
    """In the review thread: the first of two approvals is recorded."""
    text = f"👥 {deal.number} approved 1 of 2 by *{by}*; a different reviewer must approve."
    return message(f"{deal.number} approved 1 of 2 by {by}", [section(text)])


def claimed_by_other(number: str, holder: str) -> tuple[str, list[Block]]:
    """For a reviewer whose claim was refused: who holds it, and a way to take it over."""
    text = f"🙋 {number} is claimed by {holder}."
    take = actions(button("Take over", "deal_claim_takeover", number), block_id="claim")
    return text, [section(f"{text} Take it over to work on it?"), take]
