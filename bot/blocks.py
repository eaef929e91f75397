"""Block Kit for reading deals: progress, details, quotes, search, checks, help, App Home
(pure)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from bot.kit import (
    Block,
    actions,
    button,
    clip,
    context,
    divider,
    fields_section,
    header,
    section,
)
from core.domains import Suspicion, describe, display_both, display_domain, suspicion
from core.fields import (
    END_USER_ROLES,
    FIELDS,
    MIGRATING_TO,
    PRIORITIES,
    REJECT_REASONS,
    STAGES,
    label_for,
    progress,
)
from core.models import Deal, Quote
from core.pricing import round_money
from core.protection import DomainCheck
from core.services.queries import ProspectPage

_MARK = {"done": "✅", "current": "🔵", "todo": "⚪"}
_CHOICES = {
    "end_user_role": END_USER_ROLES,
    "project_priority": PRIORITIES,
    "migrating_to": MIGRATING_TO,
}


def progress_line(stage: str) -> str:
    """The four stages with the current one marked, as the portal's progress bar."""
    steps = " → ".join(f"{_MARK[str(s['state'])]} {s['label']}" for s in progress(stage))
    if stage in ("rejected", "expired"):
        steps += f"   ⛔ *{STAGES[stage]}*"
    return steps


def when(value: datetime | None) -> str:
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def money(amount: Any, currency: str) -> str:
    return f"{currency} {round_money(amount, currency):,}"


def field_value(deal: Deal, name: str) -> str:
    """One registration field of `deal` as a person reads it."""
    if name == "domain":
        return display_both(deal.prospect.domain)
    if name == "product":
        return deal.product.name
    value = getattr(deal, name)
    if value is None:
        return ""
    if name in _CHOICES:
        return _CHOICES[name].get(value, str(value))
    if name == "projected_value":
        return money(value, deal.currency)
    if name == "budget_approved":
        return "Yes" if value else "No"
    return str(value)


def deal_fields(deal: Deal, names: Iterable[str] | None = None) -> list[tuple[str, str]]:
    wanted = list(names) if names is not None else [f.name for f in FIELDS]
    return [(label_for(n, deal.country), field_value(deal, n)) for n in wanted]


SUMMARY = (
    "company_name",
    "domain",
    "product",
    "number_of_users",
    "projected_value",
    "close_date",
    "country",
    "project_priority",
    "budget_approved",
    "migrating_to",
)


def deal_title(deal: Deal) -> str:
    """The deal's number and the company name its registration typed."""
    return f"{deal.number} · {deal.company_name}"


def quote_blocks(quote: Quote) -> list[Block]:
    """A quote with its lines and total."""
    lines = [
        f"• {line.description}: {money(line.amount, quote.currency)}"
        + (f" ({line.pct.normalize()}%)" if line.pct is not None else "")
        for line in quote.lines
    ]
    text = (
        f"*Quote {quote.number}* · {quote.product.name} · {quote.number_of_users:,} users"
        f" × {quote.term_months} months\n" + "\n".join(lines) + "\n"
        f"*Total {money(quote.total, quote.currency)}* · valid until {quote.valid_until}"
    )
    return [section(text)]


def deal_details(deal: Deal) -> list[Block]:
    """Everything about one deal: fields, progress, quotes, history."""
    blocks: list[Block] = [header(deal_title(deal)), section(progress_line(deal.stage))]
    blocks.append(
        context(
            f"Partner: {deal.partner.name} · {deal.contact.email}",
            f"Protected until: {when(deal.protection_expires_at)}",
        )
    )
    if deal.returned_question:
        blocks.append(section(f"*Question from the deal desk:* {deal.returned_question}"))
    if deal.reject_reason:
        reason = REJECT_REASONS.get(deal.reject_reason, deal.reject_reason)
        blocks.append(section(f"*Rejected:* {reason}. {deal.review_note or ''}"))
    blocks += fields_section(deal_fields(deal))
    for quote in deal.quotes[-5:]:
        blocks += quote_blocks(quote)
    history = [f"{when(e.at)} · {e.action} by {e.actor} ({e.channel})" for e in deal.events[-10:]]
    if history:
        blocks += [divider(), context(clip("\n".join(history), 3000))]
    return blocks


def deal_line(deal: Deal) -> str:
    return (
        f"*{deal.number}* · {deal.company_name} "
        f"({display_domain(deal.prospect.domain)}) · {deal.product.name}\n"
        f"{progress_line(deal.stage)}"
    )


def search_results(term: str, deals: list[Deal]) -> list[Block]:
    if not deals:
        return [section(f"No deals match “{term}”.")]
    blocks = [section(f"*{len(deals)} deal(s) match “{term}”*")]
    blocks += [section(deal_line(d)) for d in deals[:40]]
    return blocks


def check_result(check: DomainCheck) -> str:
    """Free, already yours, or protected until a date: never who protects it or how."""
    domain = display_both(check.domain)
    if check.status == "yours":
        text = f"ℹ️ *{domain}* is already yours: {check.your_deal}."
    elif check.status == "protected":
        until = check.protected_until.strftime("%Y-%m-%d") if check.protected_until else "?"
        text = f"⛔ *{domain}* is protected by another partner until {until}."
    else:
        text = f"✅ *{domain}* is free to register."
    odd = suspicion(check.domain)
    return text if odd is None else f"{text}\n{spelling_warning(odd)}"


def spelling_warning(odd: Suspicion) -> str:
    """Ask the registrant to check a domain whose letters are odd (their own input only)."""
    return f"⚠️ Check the spelling: {describe(odd)}."


def prospect_blocks(page: ProspectPage) -> list[Block]:
    """A prospect as the actor may see it: its availability, their deals and quotes."""
    name = page.company_name or display_domain(page.domain)
    blocks: list[Block] = [header(clip(f"{name} ({display_domain(page.domain)})", 150))]
    blocks.append(section(check_result(page.check)))
    blocks += [section(deal_line(d)) for d in page.deals[:20]] or [
        section("No registrations to show.")
    ]
    for quote in page.quotes[-10:]:
        blocks += quote_blocks(quote)
    return blocks


HELP = """*Deal registration in Slack*
• `/deal register`: register a deal (a form with the four sections)
• `/deal check DOMAIN`: is a prospect free or protected?
• `/deal search TEXT`: find deals by number, company or domain
• `/deal show DR-000123`: a deal's details, progress, quotes and history
• `/deal advance DR-000123`: start the order from a quote, then submit it with the PO number
• `/deal quote DR-000123 [PRODUCT] [USERS]`: add a quote for the deal's prospect
• `/deal prospect DOMAIN`: a prospect's registrations and quotes
• `/deal extend DR-000123`: ask the deal desk to extend the protection
• `/deal help`: this help"""


def help_blocks(note: str | None = None) -> list[Block]:
    return ([section(note)] if note else []) + [section(HELP)]


def next_step_button(deal: Deal) -> Block | None:
    """The button that takes a partner's deal to its next stage, if any."""
    if deal.stage in ("approved", "order_started"):
        label = "Start order" if deal.stage == "approved" else "Submit order"
        return button(label, "deal_advance", deal.number, "primary")
    if deal.stage == "opportunity" and deal.returned_question:
        return button("Answer the deal desk", "deal_answer", deal.number, "primary")
    return None


def home_view(name: str, deals: list[Deal], queue: list[Deal] | None) -> Block:
    """The App Home: the user's deals with next steps; reviewers also see the queue."""
    blocks: list[Block] = [header(f"Deals for {clip(name, 100)}")]
    blocks.append(actions(button("Register a deal", "deal_register_open", "new", "primary")))
    if queue is not None:
        blocks += [divider(), section(f"*Awaiting review: {len(queue)}*")]
        blocks += [section(deal_line(d)) for d in queue[:30]]
    blocks += [divider(), section(f"*Your deals: {len(deals)}*")]
    for deal in deals[: 90 - len(blocks)]:
        step = next_step_button(deal)
        blocks.append(section(deal_line(deal), accessory=step))
    return {"type": "home", "blocks": blocks[:100]}
