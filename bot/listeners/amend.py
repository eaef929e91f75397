"""Changing and ending a deal: `/deal edit` and `/deal withdraw` (and the Edit and Withdraw
buttons), their modals' submissions, and the deal desk's buttons on an amendment request.

Who may do what is the core's to say: the modal opens only where the move is allowed, and
the submission asks again. A refusal is told, never a field error on an unrelated input.
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
from bot.listeners.replies import guarded, open_then, submit, to_user, told
from core.errors import DealError, FieldError, Invalid
from core.fields import change_lines
from core.models import Product
from core.services.actors import authorise
from core.services.amend import amend
from core.services.amendment import Verdict, decide_amendment
from core.services.views import registration_json, show
from core.services.withdraw import Withdrawal, withdraw
from core.stages import next_stage


def register(app: slack_bolt.App) -> None:
    """Listen to the edit and withdraw buttons and modals, and the amendment decisions."""
    app.action("deal_edit_open")(on_edit_open)
    app.action("deal_withdraw_open")(on_withdraw_open)
    app.action("deal_amend_approve")(on_decide)
    app.action("deal_amend_decline")(on_decide)
    app.view(amend_modals.AMEND)(on_amend)
    app.view(amend_modals.WITHDRAW)(on_withdraw)


def on_edit_open(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    ack()
    user, number = body["user"]["id"], body["actions"][0]["value"]
    open_then(client, body["trigger_id"], partial(edit_view, bot_of(context), user, number))


def on_withdraw_open(
    ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    ack()
    user, number = body["user"]["id"], body["actions"][0]["value"]
    open_then(client, body["trigger_id"], partial(withdraw_view, bot_of(context), user, number))


def on_decide(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    ack()
    bot = bot_of(context)
    guarded(to_user(client, body), partial(_decide, bot, body))
    bot.deliver()


def on_amend(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    submit(bot_of(context), ack, body, _amend)


def on_withdraw(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    submit(bot_of(context), ack, body, _withdraw)


def products(bot: Bot) -> list[tuple[str, str]]:
    """The catalogue's products as the registration modal offers them."""
    with bot.runtime.read() as uow:
        return [(p.code, p.name) for p in uow.session.query(Product).order_by(Product.name)]


def edit_view(bot: Bot, user_id: str, number: str) -> Block:
    """The registration modal filled with one of the user's deals, where it may change."""
    _named(number, "edit")
    actor = bot.actor(user_id)
    choices = products(bot)
    with bot.runtime.read() as uow:
        deal = show(uow.session, actor, number)  # another partner's deal is not found
        authorise(actor, deal, "amend")
        next_stage(deal.stage, "amend", deal.number, deal.moot())  # refused: says why
        return amend_modals.edit(deal, choices)


def withdraw_view(bot: Bot, user_id: str, number: str) -> Block:
    """Ask why one of the user's deals (or, for the deal desk, any deal) ends."""
    _named(number, "withdraw")
    actor = bot.actor(user_id)
    with bot.runtime.read() as uow:
        deal = show(uow.session, actor, number)
        authorise(actor, deal, "withdraw")
        next_stage(deal.stage, "withdraw", deal.number, deal.moot())
        return amend_modals.withdraw(deal)


def _named(number: str, verb: str) -> None:
    if not number:
        raise Invalid([FieldError("deal", f"name the deal: /deal {verb} DR-000123")])


def _decide(bot: Bot, body: dict[str, Any]) -> None:
    actor = bot.actor(body["user"]["id"])
    action = body["actions"][0]
    verdict = Verdict(approve=action["action_id"] == "deal_amend_approve")
    runtime = bot.runtime
    with runtime.uow() as uow:
        decide_amendment(
            uow, actor, action["value"], verdict, now=runtime.now(), settings=runtime.settings
        )


def _amend(bot: Bot, body: dict[str, Any]) -> Block:
    """Send the fields that differ from the deal's to `amend`; say what applied and what
    went to the deal desk. Bad values come back as field errors (the caller's)."""
    actor = bot.actor(body["user"]["id"])
    view = body["view"]
    number = str(modals.metadata(view).get("deal", ""))
    typed = modals.state_values(view.get("state") or {})
    inputs = [b["block_id"] for b in view.get("blocks", []) if b.get("type") == "input"]
    runtime = bot.runtime
    with runtime.uow() as uow:
        try:
            deal = show(uow.session, actor, number)
            changes = amend_modals.changes(typed, registration_json(deal), inputs)
            done = amend(
                uow, actor, number, changes=changes, now=runtime.now(), settings=runtime.settings
            )
        except Invalid:
            raise
        except DealError as exc:  # not the fields' fault: the whole edit is refused
            return modals.notice("Not saved", told(exc))
        applied, requested = (
            change_lines(done.applied, done.deal.country),
            change_lines(done.requested, done.deal.country),
        )
        return amend_modals.amended(done.deal.number, applied, requested)


def _withdraw(bot: Bot, body: dict[str, Any]) -> Block:
    actor = bot.actor(body["user"]["id"])
    view = body["view"]
    number = str(modals.metadata(view).get("deal", ""))
    values = modals.state_values(view.get("state") or {})
    why = Withdrawal(str(values.get("withdraw_reason", "")), values.get("withdraw_note"))
    runtime = bot.runtime
    with runtime.uow() as uow:
        try:
            deal = withdraw(uow, actor, number, why, now=runtime.now(), settings=runtime.settings)
        except Invalid:
            raise
        except DealError as exc:
            return modals.notice("Not withdrawn", told(exc))
        return amend_modals.withdrawn(deal)
