"""Modal submissions: register, reject, return, answer, advance."""

from __future__ import annotations

from typing import Any

import slack_bolt

from bot import modals
from bot.kit import Block
from bot.listeners.common import Bot, submit
from core.errors import NotAllowed
from core.services import advance, answer, reject, return_for_info
from core.services import register as register_deal


def register(bolt_app: slack_bolt.App, bot: Bot) -> None:
    """Listen to every modal submission."""

    @bolt_app.view(modals.REGISTER)
    def on_register(ack: Any, body: dict[str, Any]) -> None:
        submit(bot, ack, body, lambda: _register(bot, body))

    @bolt_app.view("deal_reject")
    def on_reject(ack: Any, body: dict[str, Any]) -> None:
        submit(bot, ack, body, lambda: _review(bot, body, "reject"))

    @bolt_app.view("deal_return")
    def on_return(ack: Any, body: dict[str, Any]) -> None:
        submit(bot, ack, body, lambda: _review(bot, body, "return"))

    @bolt_app.view("deal_answer")
    def on_answer(ack: Any, body: dict[str, Any]) -> None:
        submit(bot, ack, body, lambda: _answer(bot, body))

    @bolt_app.view("deal_advance")
    def on_advance(ack: Any, body: dict[str, Any]) -> None:
        submit(bot, ack, body, lambda: _advance(bot, body))


def _values(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    view = body["view"]
    return str(modals.metadata(view).get("deal", "")), modals.state_values(view.get("state") or {})


def _register(bot: Bot, body: dict[str, Any]) -> Block:
    actor = bot.actor(body["user"]["id"])
    form = modals.registration_form(modals.state_values(body["view"].get("state") or {}))
    with bot.app.uow() as uow:
        done = register_deal(uow, actor, form, now=bot.app.now(), settings=bot.app.settings)
        return modals.registered(done.deal.number or "", done.deal.stage, done.created)


def _review(bot: Bot, body: dict[str, Any], what: str) -> None:
    actor = bot.actor(body["user"]["id"])
    if not actor.is_reviewer:
        raise NotAllowed("only the deal desk's reviewers can do that", field="actor")
    number, values = _values(body)
    app = bot.app
    with app.uow() as uow:
        if what == "reject":
            reason, note = values.get("reason", ""), values.get("note")
            reject(
                uow, actor, number, reason=reason, note=note, now=app.now(), settings=app.settings
            )
        else:
            question = values.get("question", "")
            return_for_info(
                uow, actor, number, question=question, now=app.now(), settings=app.settings
            )


def _answer(bot: Bot, body: dict[str, Any]) -> Block:
    actor = bot.actor(body["user"]["id"])
    number, values = _values(body)
    with bot.app.uow() as uow:
        deal = answer(
            uow,
            actor,
            number,
            text=values.get("answer", ""),
            now=bot.app.now(),
            settings=bot.app.settings,
        )
        return modals.notice("Answer sent", f"✅ Sent your answer for {deal.number}.")


def _advance(bot: Bot, body: dict[str, Any]) -> Block:
    actor = bot.actor(body["user"]["id"])
    number, values = _values(body)
    with bot.app.uow() as uow:
        deal = advance(
            uow,
            actor,
            number,
            quote_number=values.get("quote"),
            po_number=values.get("po_number"),
            now=bot.app.now(),
            settings=bot.app.settings,
        )
        return modals.registered_stage(deal.number or "", deal.stage)
