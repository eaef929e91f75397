"""How listeners answer: the user's mistakes told, ours apologised for, modals opened in time."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from concurrent.futures import TimeoutError
from typing import Any

from slack_bolt import Ack, Respond
from slack_sdk import WebClient

from bot import modals
from bot.context import Bot
from bot.identity import NOT_REGISTERED, NotRegistered
from bot.kit import Block, message, section
from core.errors import DealError, NotAllowed

log = logging.getLogger("bot")

Reply = Callable[[str, list[Block] | None], None]
# What a modal submission does: the result view, or None to close the modal.
Submission = Callable[[Bot, dict[str, Any]], Block | None]

# A view submission must be answered within 3 seconds; past this, answer and finish later.
SUBMIT_BUDGET = 2.0


def apology() -> str:
    """Log the current exception under a reference and return the user's apology."""
    ref = uuid.uuid4().hex[:8]
    log.exception("unexpected error, reference %s", ref)
    return f"Sorry, something went wrong on our side. Please try again (reference {ref})."


def told(error: DealError) -> str:
    """The user's mistake as the bot says it; a refusal of who they are changed nothing."""
    if isinstance(error, NotAllowed) and error.field == "actor":
        return f"⚠️ {error.message}; nothing was changed."
    return f"⚠️ {error.message}"


def guarded(reply: Reply, work: Callable[[], object]) -> None:
    """Run `work`, telling the user about their mistakes and apologising for ours."""
    try:
        work()
    except NotRegistered:
        reply(NOT_REGISTERED, None)
    except DealError as exc:
        reply(told(exc), None)
    except Exception:
        reply(apology(), None)


def ephemeral(respond: Respond) -> Reply:
    """A reply through the response URL that only the user sees."""

    def reply(text: str, blocks: list[Block] | None) -> None:
        body = message(text, blocks or [section(text)])  # escaped: the text may echo input
        respond(**body, response_type="ephemeral", replace_original=False)

    return reply


def to_user(client: WebClient, body: dict[str, Any]) -> Reply:
    """An ephemeral message in the channel of a click, else a direct message."""
    user = body["user"]["id"]
    channel = (body.get("channel") or {}).get("id")

    def reply(text: str, blocks: list[Block] | None) -> None:
        body = message(text, blocks or [section(text)])  # escaped: the text may echo input
        if channel:
            client.chat_postEphemeral(channel=channel, user=user, **body)
        else:
            client.chat_postMessage(channel=user, **body)

    return reply


def open_then(client: WebClient, trigger_id: str, build: Callable[[], Block]) -> None:
    """Open a loading modal inside the trigger's 3 seconds, then show what `build` makes."""
    opened = client.views_open(trigger_id=trigger_id, view=modals.loading())
    view = opened["view"]
    try:
        final = build()
    except NotRegistered:
        final = modals.notice("Not registered", NOT_REGISTERED)
    except DealError as exc:
        final = modals.notice("Cannot do that", told(exc))
    except Exception:
        final = modals.notice("Sorry", apology())
    client.views_update(view_id=view["id"], hash=view.get("hash"), view=final)


def submit(bot: Bot, ack: Ack, body: dict[str, Any], work: Submission) -> None:
    """Run a view submission: field errors inline, else the result view or close.

    When the database is slow the submission is acknowledged with a "working" view and
    the result replaces it when ready.
    """
    view = body["view"]
    blocks = [b["block_id"] for b in view.get("blocks", []) if b.get("type") == "input"]
    future = bot.pool.submit(_outcome, bot, body, work, blocks)
    try:
        kind, value = future.result(timeout=SUBMIT_BUDGET)
    except TimeoutError:
        ack(response_action="update", view=modals.notice("Working", "⏳ Saving…"))
        future.add_done_callback(lambda f: _finish_late(bot, view["id"], *f.result()))
        return
    if kind == "errors":
        ack(response_action="errors", errors=value)
    elif value is None:
        ack()
    else:
        ack(response_action="update", view=value)
    bot.deliver()


def _outcome(
    bot: Bot, body: dict[str, Any], work: Submission, blocks: list[str]
) -> tuple[str, Any]:
    try:
        return "view", work(bot, body)
    except NotRegistered:
        return "view", modals.notice("Not registered", NOT_REGISTERED)
    except DealError as exc:
        return "errors", modals.errors_for(exc, blocks or ["_"])
    except Exception:
        return "view", modals.notice("Sorry", apology())


def _finish_late(bot: Bot, view_id: str, kind: str, value: Any) -> None:
    if kind == "errors":
        text = "⚠️ Nothing was saved:\n" + "\n".join(f"• {k}: {v}" for k, v in value.items())
        value = modals.notice("Not saved", text)
    final = value or modals.notice("Done", "✅ Done.")
    try:
        bot.client.views_update(view_id=view_id, view=final)
    except Exception:
        log.exception("could not show a late result")
    bot.deliver()
