"""Block Kit for what the bot posts: the review channel's messages and partner DMs (pure)."""

from __future__ import annotations

from typing import Any

from bot.amend_cards import card_sections, dm_details
from bot.blocks import (
    SUMMARY,
    deal_fields,
    deal_title,
    partner_locale,
    priced_text,
    stage_line,
)
from bot.desk_cards import (
    DeskClock,
    approved_automatically,
    reregistration,
    review_buttons,
    route_line,
    status_blocks,
)
from bot.kit import Block, actions, button, context, header, message, section
from bot.mrkdwn import Mrkdwn, day, md, md_fields, md_section, when
from core.domains import describe, display_both, suspicion
from core.fields import REJECT_REASONS, STAGES
from core.models import Deal, DealEvent
from core.pricing import Priced

_DONE = {
    "approve": "✅ Approved",
    "reject": "⛔ Rejected",
    "return": "↩️ Returned for information",
    "expire": "⌛ Expired",
}
# A conflicting registration that ended no longer blocks approval.
ENDED = ("withdrawn", "rejected", "expired")
REVIEW_ACTIONS = ("approve", "reject", "return", "answer", "expire")


def last_review_event(deal: Deal) -> DealEvent | None:
    for event in reversed(deal.events):
        if event.action in REVIEW_ACTIONS:
            return event
    return None


def preview_text(priced: Priced, locale: str) -> str:
    """The quote approval would make, its amounts in the partner's `locale`."""
    return priced_text(priced, locale, "Quote on approval")


def review_message(
    deal: Deal, priced: Priced | None, names: dict[str, str], clock: DeskClock | None = None
) -> dict[str, Any]:
    """The review request; once someone acted, who did what and when, without buttons.

    While a decision is awaited it shows when it is due (in `clock`'s zone, overdue past
    its `now`), who claimed it and what the rules said."""
    number = deal.number
    source = f"From *{deal.partner.name}* ({deal.contact.name}, {deal.contact.email})"
    route = route_line(deal.review)
    blocks: list[Block] = [
        header(f"Registration {deal_title(deal)}"),
        context(f"{source} by {deal.channel}", stage_line(deal), *([route] if route else [])),
    ]
    blocks += md_fields(deal_fields(deal, SUMMARY))
    if deal.problems_to_solve:
        blocks.append(section(f"*Problems to solve*\n{deal.problems_to_solve}"))
    blocks += warnings(deal) + reregistration(deal.review)
    if priced is not None and deal.stage == "opportunity":
        blocks.append(section(preview_text(priced, partner_locale(deal.partner))))
    changes = card_sections(deal, priced, names)
    outcome = status_blocks(deal, names, clock or DeskClock()) + _outcome(deal, names)
    # In the order things happened: the review's buttons last while it is pending, else
    # the decision before the changes and the end that came after it.
    blocks += changes + outcome if deal.stage == "opportunity" else outcome + changes
    return message(f"Registration {number} from {deal.partner.name}", blocks)


def warnings(deal: Deal) -> list[Block]:
    """For reviewers: the conflicting registration (on this domain or one that looks like
    it) and what is odd about the domain's letters, with its punycode."""
    blocks: list[Block] = []
    other = deal.conflict_with
    if other is not None and other.stage in ENDED:
        blocks.append(
            section(
                f"✅ *No longer blocked:* another partner's registration {other.number} is "
                f"{STAGES.get(other.stage, other.stage).lower()}; it no longer blocks approval."
            )
        )
    elif other is not None and other.prospect_id == deal.prospect_id:
        blocks.append(
            section(f"⚠️ *Conflict:* another partner's registration {other.number} ({other.stage})")
        )
    elif other is not None:
        blocks.append(
            section(
                f"⚠️ *Lookalike:* {display_both(deal.prospect.domain)} looks like "
                f"{display_both(other.prospect.domain)}, another partner's registration "
                f"{other.number} ({other.stage})"
            )
        )
    odd = suspicion(deal.prospect.domain)
    if odd is not None:
        blocks.append(section(f"⚠️ *Suspicious domain:* {describe(odd)} ({deal.prospect.domain})"))
    return blocks


def _outcome(deal: Deal, names: dict[str, str]) -> list[Block]:
    event = last_review_event(deal)
    number = deal.number
    pending = deal.stage == "opportunity" and not deal.returned_question
    if event is None or (pending and event.action != "answer"):
        return [review_buttons(number)] if pending else []
    automatic = approved_automatically(deal, event.actor, event.at)
    if event.action == "approve" and automatic is not None:
        return [md_section(automatic + _protected(deal))]
    who = names.get(event.actor, event.actor)
    if event.action == "answer":
        answer = str(event.details.get("answer", ""))
        said = md(f"💬 *{who} answered* (", when(event.at), f"): {answer}")
        return [md_section(said)] + ([review_buttons(number)] if pending else [])
    text = md(f"{_DONE[event.action]} by *{who}* on ", when(event.at))
    if event.action == "reject":
        code = str(event.details.get("reason", ""))
        text += f"\nReason: {REJECT_REASONS.get(code, code)}. {deal.review_note or ''}"
    if event.action == "return":
        text += f"\nQuestion: {event.details.get('question', '')}"
    if event.action == "approve":
        text += _protected(deal)
    return [md_section(text)]


def _protected(deal: Deal) -> Mrkdwn:
    if deal.protection_expires_at is None:
        return md()
    return md("\nProtected until ", day(deal.protection_expires_at))


def extension_request(deal: Deal, reason: str = "") -> dict[str, Any]:
    number = deal.number
    because = f" Why: {reason}" if reason else ""
    blocks = [
        md_section(
            md(
                f"⏳ *{deal.partner.name}* asks to extend the protection of "
                f"*{deal_title(deal)}* (until ",
                day(deal.protection_expires_at),
                f"; {deal.extensions_granted} extension(s) so far).{because}",
            )
        ),
        actions(
            button("Grant", "deal_extension_grant", number, "primary"),
            button("Decline", "deal_extension_decline", number, "danger"),
            block_id="extension",
        ),
    ]
    return message(f"Extension request for {number}", blocks)


def extension_decided(deal: Deal, granted: bool, who: str) -> dict[str, Any]:
    verb = "granted" if granted else "declined"
    text = md(
        f"Extension of *{deal_title(deal)}* {verb} by *{who}*; protected until ",
        day(deal.protection_expires_at),
        ".",
    )
    return message(f"Extension {verb} for {deal.number}", [md_section(text)])


def answer_in_thread(deal: Deal, answer: str) -> dict[str, Any]:
    text = f"💬 {deal.contact.name} answered for {deal.number}: {answer}"
    return message(f"Answer for {deal.number}", [section(text)])


_DM = {
    "registered": "📝 We received your registration *{n}*; the deal desk will review it.",
    "approved": "✅ Your registration *{n}* was approved; a quote is ready.",
    "rejected": "⛔ Your registration *{n}* was rejected.",
    "returned": "↩️ The deal desk has a question about *{n}*.",
    "extension_granted": "⏳ The protection of *{n}* was extended.",
    "extension_declined": "⏳ The extension of *{n}* was declined.",
    "order_started": "🛒 The order for *{n}* is started.",
    "order_submitted": "📦 The order for *{n}* is submitted.",
    "amended": "✏️ Your changes to *{n}* are saved.",
    "amendment_requested": "⏳ Your changes to *{n}* went to the deal desk for approval.",
    "amend_approved": "✅ The deal desk approved your changes to *{n}*; a new quote is ready.",
    "amend_declined": "⛔ The deal desk declined your changes to *{n}*; the deal is unchanged.",
    "withdrawn": "🚫 *{n}* is withdrawn.",
}


def partner_dm(deal: Deal, event: str) -> dict[str, Any]:
    """Tell the registering contact what happened to their deal, with the next step."""
    number = deal.number
    text = _DM.get(event, "ℹ️ *{n}* was updated.").format(n=number)
    blocks: list[Block] = [section(f"{text}\n{deal.company_name}")]
    blocks.append(context(stage_line(deal)))
    if event == "returned" and deal.returned_question:
        blocks.append(section(f"*Question:* {deal.returned_question}"))
        blocks.append(actions(button("Answer", "deal_answer", number, "primary")))
    if event == "rejected" and deal.reject_reason:
        reason = REJECT_REASONS.get(deal.reject_reason, deal.reject_reason)
        blocks.append(section(f"*Reason:* {reason}. {deal.review_note or ''}"))
    if event == "approved":
        blocks.append(
            md_section(
                md(
                    "Protected until ",
                    day(deal.protection_expires_at),
                    f". Next: `/deal advance {number}` to start the order from the quote.",
                )
            )
        )
    blocks += dm_details(deal, event)
    plain_text = text.replace("*", "")
    return message(plain_text, blocks)
