"""Block Kit for reading deals: progress, details, quotes, search, checks, help, App Home
(pure).

Shown as Slack shows things: dates in each reader's own time zone, money and counts in the
partner's locale as the emails show them, a domain with its punycode beside its Unicode form.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from bot.kit import (
    Block,
    clip,
    divider,
    header,
    section,
)
from bot.mrkdwn import (
    Mrkdwn,
    Part,
    day,
    md,
    md_context,
    md_fields,
    md_lines,
    md_section,
    when,
)
from core import formatting
from core.domains import Suspicion, describe, display_both, suspicion
from core.fields import (
    END_USER_ROLES,
    FIELDS,
    FIELDS_BY_NAME,
    MIGRATING_TO,
    PRIORITIES,
    REJECT_REASONS,
    STAGES,
    WITHDRAW_REASONS,
    label_for,
    progress,
)
from core.locales import locale_for
from core.models import Deal, Partner, Quote
from core.pricing import Priced
from core.protection import DomainCheck
from core.services.prospects import ProspectPage

_MARK = {"done": "✅", "current": "🔵", "todo": "⚪"}
_CHOICES = {
    "end_user_role": END_USER_ROLES,
    "project_priority": PRIORITIES,
    "migrating_to": MIGRATING_TO,
}


# -- Values as the partner reads them ------------------------------------------------------


def partner_locale(partner: Partner) -> str:
    """The locale the partner's emails and Slack messages show money and counts in."""
    return locale_for(partner.country, partner.locale)


def money(
    amount: Decimal | int | str, currency: str, locale: str = formatting.DEFAULT_LOCALE
) -> str:
    """An amount as the emails show it ("£1,234.50" in en_GB)."""
    return formatting.money(amount, currency, locale)


def progress_line(stage: str, reached: str | None = None) -> str:
    """The four stages with the current one marked, as the portal's progress bar; a side
    exit shows the stage reached, then the exit."""
    bar = progress(stage, reached)
    steps = " → ".join(f"{_MARK[str(s['state'])]} {s['label']}" for s in bar)
    if stage in ("rejected", "expired", "withdrawn"):
        steps += f"   ⛔ *{STAGES[stage]}*"
    return steps


def stage_line(deal: Deal) -> str:
    """The deal's progress as `progress_line` shows it; a withdrawn deal with its reason."""
    line = progress_line(deal.stage, deal.withdrawn_from)
    if deal.stage == "withdrawn" and deal.withdraw_reason:
        line += f" ({WITHDRAW_REASONS.get(deal.withdraw_reason, deal.withdraw_reason)})"
    return line


def priced_text(priced: Priced, locale: str, title: str) -> str:
    """A quote that is not made yet (`title` says when it would be), in the partner's
    `locale`."""
    lines = [
        f"• {line.description}: {money(line.amount, priced.currency, locale)}"
        for line in priced.lines
    ]
    total = money(priced.total, priced.currency, locale)
    return f"*{title}*\n" + "\n".join(lines) + f"\n*Total {total}*"


def field_value(deal: Deal, name: str) -> Part:
    """One registration field of `deal` as a person reads it."""
    if name == "domain":
        return display_both(deal.prospect.domain)
    if name == "product":
        return deal.product.name
    value = getattr(deal, name)
    spec = FIELDS_BY_NAME.get(name)
    kind = spec.kind if spec is not None else "text"
    if value is None:
        return ""
    if name in _CHOICES:
        return _CHOICES[name].get(value, str(value))
    if kind == "money":
        return money(value, deal.currency, partner_locale(deal.partner))
    if kind == "int":
        return formatting.number(value, partner_locale(deal.partner))
    if kind == "date":
        return day(value)
    if kind == "bool":
        return "Yes" if value else "No"
    return str(value)


def deal_fields(deal: Deal, names: Iterable[str] | None = None) -> list[tuple[str, Part]]:
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
    """A quote with its lines and total, in its partner's locale."""
    locale = partner_locale(quote.partner)
    lines = [
        f"• {line.description}: {money(line.amount, quote.currency, locale)}"
        + (f" ({formatting.pct(line.pct, locale)})" if line.pct is not None else "")
        for line in quote.lines
    ]
    users = formatting.number(quote.number_of_users, locale)
    text = md(
        f"*Quote {quote.number}* · {quote.product.name} · {users} users"
        f" × {quote.term_months} months\n" + "\n".join(lines) + "\n"
        f"*Total {money(quote.total, quote.currency, locale)}* · valid until ",
        day(quote.valid_until),
    )
    return [md_section(text)]


def deal_details(deal: Deal) -> list[Block]:
    """Everything about one deal: fields, progress, quotes, history."""
    blocks: list[Block] = [header(deal_title(deal)), section(stage_line(deal))]
    blocks.append(
        md_context(
            f"Partner: {deal.partner.name} · {deal.contact.email}",
            md("Protected until: ", day(deal.protection_expires_at)),
        )
    )
    if deal.returned_question:
        blocks.append(section(f"*Question from the deal desk:* {deal.returned_question}"))
    if deal.reject_reason:
        reason = REJECT_REASONS.get(deal.reject_reason, deal.reject_reason)
        blocks.append(section(f"*Rejected:* {reason}. {deal.review_note or ''}"))
    if deal.withdraw_reason:
        reason = WITHDRAW_REASONS.get(deal.withdraw_reason, deal.withdraw_reason)
        blocks.append(section(f"*Withdrawn:* {reason}. {deal.withdraw_note or ''}"))
    blocks += md_fields(deal_fields(deal))
    for quote in deal.quotes[-5:]:
        blocks += quote_blocks(quote)
    history = [
        md(when(e.at), f" · {e.action} by {e.actor} ({e.channel})") for e in deal.events[-10:]
    ]
    if history:
        blocks += [divider(), md_context(md_lines(history))]
    return blocks


def deal_line(deal: Deal) -> str:
    return (
        f"*{deal.number}* · {deal.company_name} · "
        f"{display_both(deal.prospect.domain)} · {deal.product.name}\n"
        f"{stage_line(deal)}"
    )


def search_results(term: str, deals: list[Deal]) -> list[Block]:
    if not deals:
        return [section(f"No deals match “{term}”.")]
    blocks = [section(f"*{len(deals)} deal(s) match “{term}”*")]
    blocks += [section(deal_line(d)) for d in deals[:40]]
    return blocks


def check_text(check: DomainCheck) -> Mrkdwn:
    """Free, already yours, or protected until a date: never who protects it or how."""
    domain = display_both(check.domain)
    if check.status == "yours":
        text = md(f"ℹ️ *{domain}* is already yours: {check.your_deal}.")
    elif check.status == "protected":
        until = day(check.protected_until)
        text = md(f"⛔ *{domain}* is protected by another partner until ", until, ".")
    else:
        text = md(f"✅ *{domain}* is free to register.")
    odd = suspicion(check.domain)
    return text if odd is None else text + f"\n{spelling_warning(odd)}"


def check_result(check: DomainCheck) -> str:
    """The domain check in plain words, its date as an ISO date (for a modal's note)."""
    return check_text(check).plain


def spelling_warning(odd: Suspicion) -> str:
    """Ask the registrant to check a domain whose letters are odd (their own input only)."""
    return f"⚠️ Check the spelling: {describe(odd)}."


def prospect_blocks(page: ProspectPage) -> list[Block]:
    """A prospect as the actor may see it: its availability, their deals and quotes."""
    domain = display_both(page.domain)
    title = f"{page.company_name} · {domain}" if page.company_name else domain
    blocks: list[Block] = [header(clip(title, 150))]
    blocks.append(md_section(check_text(page.check)))
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
• `/deal edit DR-000123`: change a registration (an approved deal's claim: the deal desk decides)
• `/deal withdraw DR-000123`: withdraw a deal, with the reason (lost, no budget, …)
• `/deal queue`: for the deal desk, what awaits a decision, soonest due first
• `/deal help`: this help"""


def help_blocks(note: str | None = None) -> list[Block]:
    return ([section(note)] if note else []) + [section(HELP)]
