"""The service level's Slack messages (pure): a reminder in the review card's thread,
mentioning whoever it is for, and the escalation of an overdue registration.

The payload is the outbox row's (`core.services.sla_notices`): `due_at` (ISO), `percent`,
`mention` (Slack user ids), `names` (those without one), `claimed_by`.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from bot.kit import message
from bot.mrkdwn import Mrkdwn, md, md_context, md_text, when
from core.models import Deal

# A Slack user id, and nothing else, may become a mention.
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,20}$")


def _due(payload: dict[str, Any]) -> datetime | None:
    text = payload.get("due_at")
    return datetime.fromisoformat(text) if isinstance(text, str) else None


def mentions(payload: dict[str, Any]) -> str:
    """`<@U1> <@U2>` for the payload's Slack user ids (anything else is dropped)."""
    ids = [str(u) for u in payload.get("mention") or [] if _USER_ID.match(str(u))]
    return " ".join(f"<@{u}>" for u in ids)


def reminder(deal: Deal, payload: dict[str, Any]) -> dict[str, Any]:
    """The reminder at `percent` of the review time, in the card's thread."""
    text = md(
        f"⏰ {payload.get('percent', '?')}% of the review time for {deal.number} "
        f"({deal.company_name}) has passed: decide by ",
        when(_due(payload)),
        ".",
    )
    names = [str(n) for n in payload.get("names") or []]
    who = mentions(payload)
    body = md_text(text)
    if who:
        body["text"] = f"{who} {body['text']}"
    blocks = [{"type": "section", "text": body}]
    if names:
        blocks.append(md_context(md("For ", ", ".join(names), " (no Slack account on file).")))
    return message(text.plain, blocks)


def escalation(deal: Deal, payload: dict[str, Any]) -> dict[str, Any]:
    """The escalation of a registration past its due time, in the escalation channel."""
    claimed = payload.get("claimed_by")
    text: Mrkdwn = md(
        f"🚨 {deal.number} ({deal.company_name}, from {deal.partner.name}) is overdue: "
        "a decision was due by ",
        when(_due(payload)),
        ".",
    )
    who = md(f"Claimed by {claimed}." if claimed else "No one has claimed it.")
    blocks = [{"type": "section", "text": md_text(text)}, md_context(who)]
    return message(text.plain, blocks)
