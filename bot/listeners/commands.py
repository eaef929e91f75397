"""`/deal VERB ...`: acknowledge at once, then open a modal or do the work and answer
ephemerally."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

import slack_bolt
from slack_bolt import Ack, BoltContext, Respond
from slack_sdk import WebClient

from bot import blocks, files, modals
from bot.context import Bot, bot_of
from bot.desk_cards import desk_clock
from bot.home import change_buttons
from bot.kit import MESSAGE_BLOCKS, Block, actions, context, section
from bot.listeners.amend import edit_view, withdraw_view
from bot.listeners.replies import Reply, ephemeral, guarded, open_then
from bot.mrkdwn import md_section
from bot.queue_blocks import FOR_PARTNERS, queue_blocks
from core.errors import FieldError, Invalid
from core.models import Partner, Product, Quote
from core.services.actors import Actor
from core.services.orders import QuoteAsk, add_quote
from core.services.prospects import prospect_page
from core.services.queries import search
from core.services.queue import desk_queue
from core.services.register import check_domain
from core.services.review import request_extension
from core.services.views import show

log = logging.getLogger("bot")

Verb = Callable[[Bot, Actor, str], tuple[str, list[Block]]]


def register(app: slack_bolt.App) -> None:
    """Listen to the `/deal` slash command."""
    app.command("/deal")(on_deal)


def on_deal(
    ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext
) -> None:
    ack()  # first, whatever the database is doing
    bot = bot_of(context)
    user = body["user_id"]
    verb, _, rest = (body.get("text") or "").strip().partition(" ")
    verb, rest = verb.lower(), rest.strip()
    if verb in MODAL_VERBS:
        build = partial(MODAL_VERBS[verb], bot, user, rest)
        open_then(client, body["trigger_id"], build)
        return
    reply = ephemeral(respond)
    guarded(reply, partial(_run, bot, user, verb, rest, reply))
    bot.deliver()


def _run(bot: Bot, user_id: str, verb: str, rest: str, reply: Reply) -> None:
    handler = VERBS.get(verb)
    if handler is None or (not rest and verb not in ("help", "search", "queue")):
        note = None if verb in ("", "help") else f"I did not understand “/deal {verb}”."
        reply("Deal registration help", blocks.help_blocks(note))
        return
    text, found = handler(bot, bot.actor(user_id), rest)
    reply(text, found)


def registration_view(bot: Bot, user_id: str, rest: str = "") -> Block:
    """The registration modal for the user's partner company (`rest` is not read)."""
    actor = bot.actor(user_id)
    if actor.partner_id is None:
        return modals.notice("Register a deal", "Only partner contacts register deals.")
    with bot.runtime.uow() as uow:
        partner = uow.session.get_one(Partner, actor.partner_id)
        products = uow.session.query(Product).order_by(Product.name).all()
        choices = [(p.code, p.name) for p in products]
        return modals.registration(
            partner.name, actor.email, partner.currency, choices, country=partner.country
        )


def advance_view(bot: Bot, user_id: str, number: str) -> Block:
    """Ask for the quote to order, or the PO number, for one of the user's deals."""
    if not number:
        raise Invalid([FieldError("deal", "name the deal: /deal advance DR-000123")])
    actor = bot.actor(user_id)
    with bot.runtime.uow() as uow:
        deal = show(uow.session, actor, number)
        if deal.stage not in ("approved", "order_started"):
            stage = blocks.stage_line(deal)
            return modals.notice("Advance deal", f"{deal.number} cannot advance now.\n{stage}")
        return modals.advance(deal)


def _search(bot: Bot, actor: Actor, rest: str) -> tuple[str, list[Block]]:
    with bot.runtime.read() as uow:
        found = search(uow.session, actor, rest, limit=40)
        return f"{len(found)} deal(s)", blocks.search_results(rest, found)


def _show(bot: Bot, actor: Actor, rest: str) -> tuple[str, list[Block]]:
    """A deal's details; its partner gets Edit and Withdraw where the stage allows them,
    near the top so a long history never cuts them off."""
    with bot.runtime.read() as uow:
        deal = show(uow.session, actor, rest)
        found = blocks.deal_details(deal)
        buttons = change_buttons(deal) if actor.partner_id is not None else []
        if buttons:
            found.insert(3, actions(*buttons))
        return deal.number, found


def _quote(bot: Bot, actor: Actor, rest: str) -> tuple[str, list[Block]]:
    number, *more = rest.split()
    with bot.runtime.uow() as uow:
        deal = show(uow.session, actor, number)
        domain, product, users = deal.prospect.domain, deal.product.code, deal.number_of_users
    for word in more:
        if word.replace(",", "").isdigit():
            users = int(word.replace(",", ""))
        else:
            product = word
    runtime = bot.runtime
    with runtime.uow() as uow:
        quote = add_quote(
            uow,
            actor,
            QuoteAsk(domain, product, users),
            now=runtime.now(),
            settings=runtime.settings,
        )  # committed: the quote stays whatever becomes of its PDF
        note = _pdf_to_dm(bot, actor, quote)
        return f"Quote {quote.number}: {note}", [*blocks.quote_blocks(quote), context(note)]


def _pdf_to_dm(bot: Bot, actor: Actor, quote: Quote) -> str:
    """Share the quote's PDF in the actor's DM with the bot, never in a channel others read;
    say where it went, or that it could not be sent (logged under a reference)."""
    try:
        if actor.slack_user_id is None:
            raise ValueError(f"{actor.email} has no Slack user to send the PDF to")
        channel = files.open_dm(bot.client, actor.slack_user_id)
        files.share_quote(bot.client, channel, quote, bot.runtime.settings.vendor_name)
    except Exception:
        ref = uuid.uuid4().hex[:8]
        log.exception("could not share the PDF of %s, reference %s", quote.number, ref)
        return f"⚠️ The quote is saved, but its PDF could not be sent (reference {ref})."
    return "📄 Its PDF is in your direct messages with me."


def _check(bot: Bot, actor: Actor, rest: str) -> tuple[str, list[Block]]:
    with bot.runtime.read() as uow:
        found = blocks.check_text(check_domain(uow.session, actor, rest, bot.runtime.now()))
    return found.plain, [md_section(found)]


def _prospect(bot: Bot, actor: Actor, rest: str) -> tuple[str, list[Block]]:
    with bot.runtime.read() as uow:
        page = prospect_page(uow.session, actor, rest, bot.runtime.now())
        return page.company_name or page.domain, blocks.prospect_blocks(page)


def _extend(bot: Bot, actor: Actor, rest: str) -> tuple[str, list[Block]]:
    runtime = bot.runtime
    with runtime.uow() as uow:
        deal = request_extension(uow, actor, rest, now=runtime.now(), settings=runtime.settings)
        text = f"⏳ Asked the deal desk to extend the protection of {deal.number}."
    return text, [section(text)]


def _queue(bot: Bot, actor: Actor, rest: str) -> tuple[str, list[Block]]:
    if not actor.is_reviewer:
        return FOR_PARTNERS, [section(FOR_PARTNERS)]
    runtime = bot.runtime
    clock = desk_clock(runtime.settings, runtime.now())
    with runtime.read() as uow:
        rows = desk_queue(uow.session, actor)
    return "The deal desk's queue", queue_blocks(rows, clock, MESSAGE_BLOCKS)


def _help(bot: Bot, actor: Actor, rest: str) -> tuple[str, list[Block]]:
    return "Deal registration help", blocks.help_blocks()


# The verbs that open a modal: answered within the trigger's 3 seconds (`open_then`).
MODAL_VERBS: dict[str, Callable[[Bot, str, str], Block]] = {
    "register": registration_view,
    "advance": advance_view,
    "edit": edit_view,
    "withdraw": withdraw_view,
}

VERBS: dict[str, Verb] = {
    "search": _search,
    "show": _show,
    "quote": _quote,
    "check": _check,
    "prospect": _prospect,
    "extend": _extend,
    "queue": _queue,
    "help": _help,
}
