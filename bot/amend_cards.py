"""Block Kit for a deal's changes and its end (pure): on the review card and in its thread
for the deal desk, and the details of a partner's DM.

What the card shows is read from the deal as it is now (its pending request, its audit
trail), so every delivery of the card shows the same; a thread note says what one event did.
"""

from __future__ import annotations

from typing import Any

from bot.blocks import deal_title, partner_locale, priced_text
from bot.kit import Block, actions, button, message, section
from bot.mrkdwn import Mrkdwn, md, md_section, when
from core.fields import WITHDRAW_REASONS, change_lines
from core.models import Deal, DealEvent
from core.pricing import Priced

# The changes of a deal the card lists, newest last, and how many of them.
CHANGE_EVENTS = ("amend", "amend_approved", "amend_declined")
SHOWN_CHANGES = 3
_DONE = {
    "amend": "✏️ *Changed*",
    "amend_approved": "✅ *Amendment approved*",
    "amend_declined": "⛔ *Amendment declined*",
}


def bullets(deal: Deal, changes: dict[str, Any]) -> str:
    """A line per change, `• Number of Users: 250 → 300`."""
    return "\n".join(f"• {line}" for line in change_lines(changes, deal.country))


def changes_of(details: dict[str, Any]) -> dict[str, Any]:
    """The `{field: [old, new]}` pairs of an event's details (without its note or quote)."""
    return {k: v for k, v in details.items() if isinstance(v, list) and len(v) == 2}


def last_event(deal: Deal, *names: str) -> DealEvent | None:
    for event in reversed(deal.events):
        if event.action in names:
            return event
    return None


def decision_buttons(number: str) -> Block:
    return actions(
        button("Approve change", "deal_amend_approve", number, "primary"),
        button("Decline change", "deal_amend_decline", number, "danger"),
        block_id="amendment",
    )


def request_blocks(deal: Deal, priced: Priced | None, names: dict[str, str]) -> list[Block]:
    """The pending amendment request: old → new, the quote it would give, and the buttons."""
    pending = deal.amendment or {}
    asked = last_event(deal, "amend_requested")
    who = names.get(asked.actor, asked.actor) if asked else deal.contact.name
    text = md(f"✏️ *Amendment requested* by *{who}* on ", when(deal.amendment_requested_at))
    blocks = [md_section(text + f":\n{bullets(deal, pending)}")]
    if priced is not None:
        locale = partner_locale(deal.partner)
        blocks.append(section(priced_text(priced, locale, "Quote with the new values")))
    return [*blocks, decision_buttons(deal.number)]


def card_sections(deal: Deal, priced: Priced | None, names: dict[str, str]) -> list[Block]:
    """For the review card: the latest changes, a pending request, and the withdrawal."""
    events = [e for e in deal.events if e.action in CHANGE_EVENTS][-SHOWN_CHANGES:]
    blocks = [md_section(change_text(deal, e, names)) for e in events]
    if deal.amendment is not None:
        blocks += request_blocks(deal, priced, names)
    if deal.stage == "withdrawn":
        blocks.append(md_section(withdrawn_text(deal, names)))
    return blocks


def change_text(deal: Deal, event: DealEvent, names: dict[str, str]) -> Mrkdwn:
    who = names.get(event.actor, event.actor)
    text = md(f"{_DONE[event.action]} by *{who}* on ", when(event.at))
    text += f":\n{bullets(deal, changes_of(event.details))}"
    if event.details.get("quote"):
        text += f"\nNew quote: {event.details['quote']}"
    if event.details.get("note"):
        text += f"\nNote: {event.details['note']}"
    return text


def withdrawn_text(deal: Deal, names: dict[str, str]) -> Mrkdwn:
    event = last_event(deal, "withdraw")
    who = names.get(event.actor, event.actor) if event else "—"
    label = WITHDRAW_REASONS.get(deal.withdraw_reason or "", deal.withdraw_reason or "")
    text = md(f"🚫 *Withdrawn* by *{who}* on ", when(event.at if event else None))
    text += f"\nReason: {label}."
    return text + (f" {deal.withdraw_note}" if deal.withdraw_note else "")


# -- Thread notes ------------------------------------------------------------------------


def amended_note(deal: Deal, changes: dict[str, Any], by: str) -> dict[str, Any]:
    """In the review thread: what the partner changed at once."""
    text = f"✏️ *{by}* changed *{deal_title(deal)}*:\n{bullets(deal, changes)}"
    return message(f"{deal.number} changed by {by}", [section(text)])


def amendment_message(
    deal: Deal, changes: dict[str, Any], priced: Priced | None, by: str
) -> dict[str, Any]:
    """In the review thread: the partner asks to change the claim; buttons while pending."""
    text = f"✏️ *{by}* asks to change *{deal_title(deal)}*:\n{bullets(deal, changes)}"
    blocks = [section(text)]
    if deal.amendment is not None:
        if priced is not None:
            locale = partner_locale(deal.partner)
            blocks.append(section(priced_text(priced, locale, "Quote with the new values")))
        blocks.append(decision_buttons(deal.number))
    return message(f"Amendment request for {deal.number}", blocks)


def amendment_decided(deal: Deal, payload: dict[str, Any]) -> dict[str, Any]:
    """The request once decided: what was asked, who decided and when, no buttons."""
    approved = payload.get("event") == "amend_approved"
    verb = "approved" if approved else "declined"
    by = str(payload.get("by", ""))
    changes = changes_of(payload.get("changes") or {})
    event = last_event(deal, "amend_approved", "amend_declined")
    text = md(
        f"{'✅' if approved else '⛔'} Amendment of *{deal_title(deal)}* {verb} by *{by}* on ",
        when(event.at if event else None),
        f":\n{bullets(deal, changes)}",
    )
    if approved and deal.quotes:
        text += f"\nNew quote: {deal.quotes[-1].number}"
    return message(f"Amendment {verb} for {deal.number}", [md_section(text)])


def withdrawn_note(deal: Deal, by: str) -> dict[str, Any]:
    label = WITHDRAW_REASONS.get(deal.withdraw_reason or "", deal.withdraw_reason or "")
    text = f"🚫 *{by}* withdrew *{deal_title(deal)}*: {label}."
    return message(f"{deal.number} withdrawn", [section(text)])


def unblocked_note(deal: Deal, by_deal: str) -> dict[str, Any]:
    """For the deal desk only: the registration that blocked this one is withdrawn."""
    text = (
        f"🔓 {by_deal} was withdrawn: *{deal.number}* is no longer blocked by it"
        " and may be approved."
    )
    return message(f"{deal.number} no longer blocked", [section(text)])


# -- Partner DMs -------------------------------------------------------------------------

_DM_EVENTS = {
    "amended": "amend",
    "amendment_requested": "amend_requested",
    "amend_approved": "amend_approved",
    "amend_declined": "amend_declined",
}


def dm_details(deal: Deal, event: str) -> list[Block]:
    """What a partner's DM about a change or a withdrawal adds: the changes, or the reason."""
    if event == "withdrawn":
        label = WITHDRAW_REASONS.get(deal.withdraw_reason or "", deal.withdraw_reason or "")
        note = f" {deal.withdraw_note}" if deal.withdraw_note else ""
        ended = "\nIts protection has ended." if deal.withdrawn_from != "opportunity" else ""
        return [section(f"*Reason:* {label}.{note}{ended}")]
    action = _DM_EVENTS.get(event)
    found = last_event(deal, action) if action else None
    if found is None:
        return []
    text = bullets(deal, changes_of(found.details))
    if found.details.get("note"):
        text += f"\n*Note from the deal desk:* {found.details['note']}"
    if found.details.get("quote"):
        text += f"\nYour new quote is {found.details['quote']}."
    return [section(text)]
