"""The deal desk's Claim button, and taking over a registration someone else claimed.

Who may claim is the core's to say (reviewers, and only a route's own reviewers): a refused
click is told why and changes nothing. A claim held by someone else is answered, to the
clicker only, with its holder and a Take over button.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import slack_bolt
from slack_bolt import Ack, BoltContext, Respond
from slack_sdk import WebClient
from sqlalchemy import select

from bot import desk_cards
from bot.context import Bot, bot_of
from bot.kit import message, section
from bot.listeners.events import refresh_home
from bot.listeners.replies import Reply, guarded, to_user
from core.errors import Conflict
from core.models import Reviewer
from core.services.actors import Actor, load_deal
from core.services.desk import claim

CLAIM = "deal_claim"
TAKE_OVER = "deal_claim_takeover"


def register(app: slack_bolt.App) -> None:
    """Listen to the Claim and Take over buttons."""
    app.action(CLAIM)(on_claim)
    app.action(TAKE_OVER)(on_claim)


def on_claim(
    ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond, context: BoltContext
) -> None:
    ack()
    bot = bot_of(context)
    reply = to_user(client, body)
    guarded(reply, partial(_claim, bot, body, reply, respond))
    bot.deliver()
    refresh_home(bot, client, body)


def _claim(bot: Bot, body: dict[str, Any], reply: Reply, respond: Respond) -> None:
    """Claim (or take over) the clicked registration; someone else's claim offers a take-over."""
    actor, action = bot.actor(body["user"]["id"]), body["actions"][0]
    number, take_over = action["value"], action["action_id"] == TAKE_OVER
    runtime = bot.runtime
    now, settings = runtime.now(), runtime.settings
    with runtime.uow() as uow:
        try:
            claim(uow, actor, number, take_over=take_over, now=now, settings=settings)
        except Conflict:
            uow.rollback()
            holder = _holder(bot, actor, number)
            if holder is None:  # let go meanwhile: say what the core said
                raise
            reply(*desk_cards.claimed_by_other(number, holder))
            return
    if take_over:  # the offer is answered: replace it, for the clicker only
        text = f"🙋 You took over {number}."
        respond(**message(text, [section(text)]), replace_original=True)


def _holder(bot: Bot, actor: Actor, number: str) -> str | None:
    """The name of whoever holds the claim on `number`; None if nobody does now."""
    with bot.runtime.read() as uow:
        review = load_deal(uow.session, actor, number).review
        held = review.claimed_by if review else None
        if held is None:
            return None
        name = uow.session.scalar(select(Reviewer.name).where(Reviewer.email == held))
        return name or held
