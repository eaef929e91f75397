"""Events: the App Home tab."""

from __future__ import annotations

from typing import Any

import slack_bolt
from slack_bolt import BoltContext
from slack_sdk import WebClient

from bot import modals
from bot.context import Bot, bot_of
from bot.desk_cards import desk_clock
from bot.home import desk_home, home_view
from bot.identity import NOT_REGISTERED, NotRegistered
from bot.kit import Block, section
from bot.listeners.replies import apology
from core.services.queries import search
from core.services.queue import desk_queue


def register(app: slack_bolt.App) -> None:
    """Publish the App Home whenever the user opens it."""
    app.event("app_home_opened")(on_home_opened)


def on_home_opened(event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    user = event["user"]
    client.views_publish(user_id=user, view=home(bot_of(context), user))


def refresh_home(bot: Bot, client: WebClient, body: dict[str, Any]) -> None:
    """Publish the user's App Home again when the click came from it (or the submitted modal
    was opened from it), so a decided or claimed registration shows as it is now (Slack
    keeps the old view until then)."""
    view = body.get("view") or {}
    if view.get("type") == "home" or modals.metadata(view).get("home"):
        user = body["user"]["id"]
        client.views_publish(user_id=user, view=home(bot, user))


def home(bot: Bot, user_id: str) -> Block:
    """The user's deals with next steps; a reviewer sees the queue awaiting review."""
    try:
        actor = bot.actor(user_id)
        with bot.runtime.read() as uow:
            if actor.is_reviewer:
                clock = desk_clock(bot.runtime.settings, bot.runtime.now())
                return desk_home(actor.name, desk_queue(uow.session, actor), clock)
            deals = search(uow.session, actor, limit=40)
            return home_view(actor.name, deals)
    except NotRegistered:
        return {"type": "home", "blocks": [section(NOT_REGISTERED)]}
    except Exception:
        return {"type": "home", "blocks": [section(apology())]}
