"""Buttons and in-modal actions: review, extensions, answers, domain verification."""

from __future__ import annotations

from typing import Any

import slack_bolt
from slack_sdk import WebClient

from bot import messages, modals
from bot.kit import Block
from bot.listeners.commands import advance_view, registration_view
from bot.listeners.common import Bot, guarded, open_then, to_user
from core.errors import DealError, NotAllowed
from core.models import Partner, Product
from core.services import approve, check_domain, decide_extension, show

REVIEWERS_ONLY = "Only the deal desk's reviewers can {what}; nothing was changed."


def register(bolt_app: slack_bolt.App, bot: Bot) -> None:
    """Listen to the review, extension, answer and modal buttons."""

    @bolt_app.action("deal_approve")
    def on_approve(ack: Any, body: dict[str, Any], client: WebClient) -> None:
        ack()
        number = body["actions"][0]["value"]

        def work() -> None:
            actor = _reviewer(bot, body, "approve registrations")
            with bot.app.uow() as uow:
                approve(uow, actor, number, now=bot.app.now(), settings=bot.app.settings)

        guarded(to_user(client, body), work)
        bot.deliver()

    @bolt_app.action("deal_reject")
    @bolt_app.action("deal_return")
    def on_reject_or_return(ack: Any, body: dict[str, Any], client: WebClient) -> None:
        ack()
        action = body["actions"][0]
        number = action["value"]
        build = modals.reject if action["action_id"] == "deal_reject" else modals.return_

        def work() -> None:
            _reviewer(bot, body, "review registrations")
            client.views_open(trigger_id=body["trigger_id"], view=build(number))

        guarded(to_user(client, body), work)

    @bolt_app.action("deal_extension_grant")
    @bolt_app.action("deal_extension_decline")
    def on_extension(ack: Any, body: dict[str, Any], client: WebClient) -> None:
        ack()
        action = body["actions"][0]
        grant = action["action_id"] == "deal_extension_grant"

        def work() -> None:
            actor = _reviewer(bot, body, "decide extensions")
            with bot.app.uow() as uow:
                deal = decide_extension(
                    uow,
                    actor,
                    action["value"],
                    grant=grant,
                    now=bot.app.now(),
                    settings=bot.app.settings,
                )
                done = messages.extension_decided(deal, grant, actor.name)
            client.chat_update(channel=body["channel"]["id"], ts=body["message"]["ts"], **done)

        guarded(to_user(client, body), work)
        bot.deliver()

    @bolt_app.action("deal_answer")
    def on_answer(ack: Any, body: dict[str, Any], client: WebClient) -> None:
        ack()
        user, number = body["user"]["id"], body["actions"][0]["value"]
        open_then(client, body["trigger_id"], lambda: _answer_view(bot, user, number))

    @bolt_app.action("deal_advance")
    def on_advance(ack: Any, body: dict[str, Any], client: WebClient) -> None:
        ack()
        user, number = body["user"]["id"], body["actions"][0]["value"]
        open_then(client, body["trigger_id"], lambda: advance_view(bot, user, number))

    @bolt_app.action("deal_register_open")
    def on_register_open(ack: Any, body: dict[str, Any], client: WebClient) -> None:
        ack()
        user = body["user"]["id"]
        open_then(client, body["trigger_id"], lambda: registration_view(bot, user))

    @bolt_app.action("domain")
    @bolt_app.action("country")
    def on_refresh(ack: Any, body: dict[str, Any], client: WebClient) -> None:
        ack()
        view = body["view"]
        guarded(
            to_user(client, body),
            lambda: client.views_update(
                view_id=view["id"], hash=view.get("hash"), view=_refreshed(bot, body)
            ),
        )


def _reviewer(bot: Bot, body: dict[str, Any], what: str) -> Any:
    actor = bot.actor(body["user"]["id"])
    if not actor.is_reviewer:
        raise NotAllowed(REVIEWERS_ONLY.format(what=what), field="actor")
    return actor


def _answer_view(bot: Bot, user_id: str, number: str) -> Block:
    actor = bot.actor(user_id)
    with bot.app.uow() as uow:
        deal = show(uow.session, actor, number)
        if not deal.returned_question:
            return modals.notice("Answer", f"{deal.number} has no open question.")
        return modals.answer(deal)


def _refreshed(bot: Bot, body: dict[str, Any]) -> Block:
    """Rebuild the registration modal with the domain check and the country's labels."""
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
    with bot.app.uow() as uow:
        check: Any = None
        if values.get("domain"):
            try:
                check = check_domain(uow.session, actor, values["domain"], bot.app.now())
            except DealError as exc:
                check = f"Domain {exc.message}"
        partner = uow.session.get_one(Partner, actor.partner_id)
        products = [(p.code, p.name) for p in uow.session.query(Product).order_by(Product.name)]
    return modals.registration(
        partner.name, actor.email, partner.currency, products, country=country, check=check
    )
