"""Modal submissions: register, reject, return, answer, advance."""

from __future__ import annotations

from typing import Any

import slack_bolt
from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from bot import modals
from bot.context import Bot, bot_of
from bot.kit import Block
from bot.listeners.events import refresh_home
from bot.listeners.replies import submit
from core.services.orders import OrderStep, advance
from core.services.register import Request, validate
from core.services.register import register as register_deals
from core.services.review import Rejection, answer, reject, return_for_info


def register(app: slack_bolt.App) -> None:
    """Listen to every modal submission."""
    app.view(modals.REGISTER)(on_register)
    app.view("deal_reject")(on_reject)
    app.view("deal_return")(on_return)
    app.view("deal_answer")(on_answer)
    app.view("deal_advance")(on_advance)


def on_register(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    submit(bot_of(context), ack, body, _register)


def on_reject(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    submit(bot_of(context), ack, body, _reject)
    refresh_home(bot_of(context), client, body)


def on_return(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    submit(bot_of(context), ack, body, _return)
    refresh_home(bot_of(context), client, body)


def on_answer(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    submit(bot_of(context), ack, body, _answer)


def on_advance(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    submit(bot_of(context), ack, body, _advance)


def _values(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The deal number the modal was opened for, and what was typed into it."""
    view = body["view"]
    return str(modals.metadata(view).get("deal", "")), modals.state_values(view.get("state") or {})


def _register(bot: Bot, body: dict[str, Any]) -> Block:
    actor = bot.actor(body["user"]["id"])
    form = modals.registration_form(modals.state_values(body["view"].get("state") or {}))
    runtime = bot.runtime
    with runtime.uow() as uow:
        now = runtime.now()
        values = validate(uow.session, actor, form, now)
        [done] = register_deals(uow, [Request(actor, values)], now=now, settings=runtime.settings)
        return modals.registered(done.deal.number, done.deal.stage, done.created)


def _reject(bot: Bot, body: dict[str, Any]) -> None:
    actor = bot.actor(body["user"]["id"])
    number, values = _values(body)
    runtime = bot.runtime
    with runtime.uow() as uow:
        reject(
            uow,
            actor,
            number,
            rejection=Rejection(values.get("reason", ""), values.get("note")),
            now=runtime.now(),
            settings=runtime.settings,
        )


def _return(bot: Bot, body: dict[str, Any]) -> None:
    actor = bot.actor(body["user"]["id"])
    number, values = _values(body)
    runtime = bot.runtime
    with runtime.uow() as uow:
        question = values.get("question", "")
        return_for_info(
            uow, actor, number, question=question, now=runtime.now(), settings=runtime.settings
        )


def _answer(bot: Bot, body: dict[str, Any]) -> Block:
    actor = bot.actor(body["user"]["id"])
    number, values = _values(body)
    runtime = bot.runtime
    with runtime.uow() as uow:
        deal = answer(
            uow,
            actor,
            number,
            text=values.get("answer", ""),
            now=runtime.now(),
            settings=runtime.settings,
        )
        return modals.notice("Answer sent", f"✅ Sent your answer for {deal.number}.")


def _advance(bot: Bot, body: dict[str, Any]) -> Block:
    actor = bot.actor(body["user"]["id"])
    number, values = _values(body)
    runtime = bot.runtime
    with runtime.uow() as uow:
        deal = advance(
            uow,
            actor,
            number,
            step=OrderStep(quote_number=values.get("quote"), po_number=values.get("po_number")),
            now=runtime.now(),
            settings=runtime.settings,
        )
        return modals.registered_stage(deal.number, deal.stage)
