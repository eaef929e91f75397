"""The one Bot every listener shares, and how a listener gets it: Bolt's request context."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass

from slack_bolt import BoltContext, BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware
from slack_sdk import WebClient

from bot.delivery import deliver_slack_due
from bot.identity import Identities
from core.ports import Runtime
from core.services.actors import Actor

log = logging.getLogger("bot")


@dataclass(frozen=True)
class Bot:
    """The bot's shared parts: the product, the Slack client, identities, a worker pool."""

    runtime: Runtime
    client: WebClient
    identities: Identities
    worker_id: str
    pool: Executor

    def actor(self, user_id: str) -> Actor:
        """Return the actor for a Slack user, or raise NotRegistered."""
        return self.identities.actor(user_id)

    def deliver(self) -> None:
        """Deliver the Slack messages people's actions queued (this request's among them),
        so a click shows at once; a batch's backlog is the worker's to post, not a request's
        to wait for."""
        try:
            now = self.runtime.now()
            deliver_slack_due(self.runtime, self.client, now, self.worker_id, urgent_only=True)
        except Exception:
            log.exception("slack delivery failed; the worker will retry")


class WithBot(Middleware):
    """Put the Bot on every request's context, where `bot_of` finds it."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    def process(
        self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse | None:
        req.context["bot"] = self.bot
        return next()


def bot_of(context: BoltContext) -> Bot:
    """The Bot of the app this request came to."""
    bot = context["bot"]
    if not isinstance(bot, Bot):
        raise TypeError("the Bolt app was built without WithBot")
    return bot
