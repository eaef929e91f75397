"""Buttons and in-modal actions: review, extensions, answers, domain verification.

Who may press a button is the core's to say: a refused click is told why, and changes nothing.
A click that changes a deal shows through the outbox, as the worker would show it: the bot
delivers the Slack messages the service queued at once, and they update the clicked message.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import slack_bolt
from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from bot import amend_modals, modals
from bot.context import Bot, bot_of
from bot.kit import Block
from bot.listeners.commands import advance_view, registration_view
from bot.listeners.events import refresh_home
from bot.listeners.replies import guarded, open_then, to_user
from core.errors import DealError, NotAllowed
from core.models import Partner, Product
from core.protection import DomainCheck
from core.services.register import check_domain
from core.services.review import approve, decide_extension
from core.services.views import show


def register(app: slack_bolt.App) -> None:
    """Listen to the review, extension, answer and modal buttons."""
    app.action("deal_approve")(on_approve)
    app.action("deal_reject")(on_reject_or_return)
    app.action("deal_return")(on_reject_or_return)
    app.action("deal_extension_grant")(on_extension)
    app.action("deal_extension_decline")(on_extension)
    app.action("deal_answer")(on_answer)
    app.action("deal_advance")(on_advance)
    app.action("deal_register_open")(on_register_open)
    app.action("domain")(on_refresh)
    app.action("country")(on_refresh)


def on_approve(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    ack()
    bot = bot_of(context)
    guarded(to_user(client, body), partial(_approve, bot, body))
    bot.deliver()
    refresh_home(bot, client, body)


def on_reject_or_return(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
    """Open the modal that asks for the reason or the question; its submission decides."""
    ack()
    guarded(to_user(client, body), partial(_open_review, client, body))


def on_extension(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    ack()
    bot = bot_of(context)
    guarded(to_user(client, body), partial(_decide_extension, bot, body))
    bot.deliver()


def on_answer(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    ack()
    user, number = body["user"]["id"], body["actions"][0]["value"]
    open_then(client, body["trigger_id"], partial(_answer_view, bot_of(context), user, number))


def on_advance(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    ack()
    user, number = body["user"]["id"], body["actions"][0]["value"]
    open_then(client, body["trigger_id"], partial(advance_view, bot_of(context), user, number))


def on_register_open(
    ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    ack()
    user = body["user"]["id"]
    open_then(client, body["trigger_id"], partial(registration_view, bot_of(context), user))


def on_refresh(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """Rebuild the registration modal when the domain is entered or the country picked."""
    ack()
    guarded(to_user(client, body), partial(_refresh, bot_of(context), client, body))


def _approve(bot: Bot, body: dict[str, Any]) -> None:
    actor, number = bot.actor(body["user"]["id"]), body["actions"][0]["value"]
    runtime = bot.runtime
    with runtime.uow() as uow:
        approve(uow, actor, number, now=runtime.now(), settings=runtime.settings)


def _open_review(client: WebClient, body: dict[str, Any]) -> None:
    action = body["actions"][0]
    build = modals.reject if action["action_id"] == "deal_reject" else modals.return_
    from_home = (body.get("view") or {}).get("type") == "home"
    client.views_open(trigger_id=body["trigger_id"], view=build(action["value"], from_home))


def _decide_extension(bot: Bot, body: dict[str, Any]) -> None:
    actor = bot.actor(body["user"]["id"])
    action = body["actions"][0]
    grant = action["action_id"] == "deal_extension_grant"
    runtime = bot.runtime
    with runtime.uow() as uow:
        decide_extension(
            uow, actor, action["value"], grant=grant, now=runtime.now(), settings=runtime.settings
        )


def _answer_view(bot: Bot, user_id: str, number: str) -> Block:
    actor = bot.actor(user_id)
    with bot.runtime.uow() as uow:
        deal = show(uow.session, actor, number)
        if not deal.returned_question:
            return modals.notice("Answer", f"{deal.number} has no open question.")
        return modals.answer(deal)


def _refresh(bot: Bot, client: WebClient, body: dict[str, Any]) -> None:
    view = body["view"]
    client.views_update(view_id=view["id"], hash=view.get("hash"), view=_refreshed(bot, body))


def _refreshed(bot: Bot, body: dict[str, Any]) -> Block:
    """The registration (or edit) modal again, with the domain check and the country's
    labels."""
    actor = bot.actor(body["user"]["id"])
    if actor.partner_id is None:  # only partners open the modal; a forged click is refused
        raise NotAllowed("only partner contacts can register deals", field="actor")
    values = modals.state_values(body["view"].get("state") or {})
    for action in body.get("actions", []):  # the dispatching input's own value wins
        value = modals.element_value(action)
        if value:
            values[action["action_id"]] = value
    meta = modals.metadata(body["view"])
    country = values.get("country") or meta.get("country")
    with bot.runtime.uow() as uow:
        check: DomainCheck | str | None = None
        if values.get("domain"):
            try:
                check = check_domain(uow.session, actor, values["domain"], bot.runtime.now())
            except DealError as exc:
                check = f"Domain {exc.message}"
        partner = uow.session.get_one(Partner, actor.partner_id)
        products = [(p.code, p.name) for p in uow.session.query(Product).order_by(Product.name)]
        if body["view"].get("callback_id") == amend_modals.AMEND:  # an edit stays an edit
            deal = show(uow.session, actor, str(meta.get("deal", "")))
            return amend_modals.edit(deal, products, country=country, check=check)
    return modals.registration(
        partner.name, actor.email, partner.currency, products, country=country, check=check
    )
