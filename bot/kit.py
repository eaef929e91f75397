"""Block Kit primitives that respect Slack's limits (pure: data in, dicts out).

Every text bound for Slack (a text object, a message's notification text, a modal's field
error) is escaped once, by `escape`: builders pass values as they are, user input included,
and nothing a partner typed can become a mention, a channel ping or a link.
"""

from __future__ import annotations

import json
from typing import Any

Block = dict[str, Any]

# Slack's documented limits.
SECTION_TEXT = 3000
HEADER_TEXT = 150
BUTTON_TEXT = 75
OPTION_TEXT = 75
OPTION_VALUE = 150
MAX_OPTIONS = 100
LABEL_TEXT = 2000
MODAL_TITLE = 24
MODAL_BLOCKS = 100
MESSAGE_BLOCKS = 50
PRIVATE_METADATA = 3000
CONTEXT_ELEMENTS = 10


def clip(text: str, limit: int) -> str:
    """Shorten `text` to `limit` characters, marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def escape(text: str) -> str:
    """Escape the three characters Slack treats as control characters in any text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain(text: str, limit: int = SECTION_TEXT) -> dict[str, Any]:
    # Slack decodes the three entities in plain_text too, so escaping shows the text as is.
    return {"type": "plain_text", "text": clip(escape(text), limit) or " ", "emoji": True}


def mrkdwn(text: str, limit: int = SECTION_TEXT) -> dict[str, Any]:
    """Markup text: *bold* and the like work; `verbatim` keeps a bare URL from a link."""
    return {"type": "mrkdwn", "text": clip(escape(text), limit) or " ", "verbatim": True}


def header(text: str) -> Block:
    return {"type": "header", "text": plain(text, HEADER_TEXT)}


def section(text: str, *, block_id: str | None = None, accessory: Block | None = None) -> Block:
    block: Block = {"type": "section", "text": mrkdwn(text)}
    if block_id:
        block["block_id"] = block_id
    if accessory:
        block["accessory"] = accessory
    return block


def fields_section(pairs: list[tuple[str, str]]) -> list[Block]:
    """Label/value pairs as sections of at most ten fields each."""
    items = [mrkdwn(f"*{k}*\n{v or '—'}", 2000) for k, v in pairs]
    return [{"type": "section", "fields": items[i : i + 10]} for i in range(0, len(items), 10)]


def context(*texts: str, block_id: str | None = None) -> Block:
    block: Block = {"type": "context", "elements": [mrkdwn(t) for t in texts[:CONTEXT_ELEMENTS]]}
    if block_id:
        block["block_id"] = block_id
    return block


def divider() -> Block:
    return {"type": "divider"}


def button(text: str, action_id: str, value: str, style: str | None = None) -> Block:
    element: Block = {
        "type": "button",
        "text": plain(text, BUTTON_TEXT),
        "action_id": action_id,
        "value": clip(value, 2000),
    }
    if style:
        element["style"] = style
    return element


def actions(*elements: Block, block_id: str | None = None) -> Block:
    block: Block = {"type": "actions", "elements": list(elements)[:25]}
    if block_id:
        block["block_id"] = block_id
    return block


def option(label: str, value: str) -> Block:
    if len(value) > OPTION_VALUE:
        raise ValueError(f"option value longer than {OPTION_VALUE}: {value[:20]}…")
    return {"text": plain(label, OPTION_TEXT), "value": value}


def options(choices: dict[str, str] | list[tuple[str, str]]) -> list[Block]:
    """Options from value->label pairs, at most Slack's 100."""
    pairs = list(choices.items()) if isinstance(choices, dict) else choices
    return [option(label, value) for value, label in pairs[:MAX_OPTIONS]]


def input_block(
    name: str,
    label: str,
    element: Block,
    *,
    optional: bool = False,
    hint: str | None = None,
    dispatch: bool = False,
) -> Block:
    """An input whose block_id and action_id are both the field name."""
    element = {**element, "action_id": name}
    block: Block = {
        "type": "input",
        "block_id": name,
        "label": plain(label, LABEL_TEXT),
        "element": element,
        "optional": optional,
    }
    if hint:
        block["hint"] = plain(hint, LABEL_TEXT)
    if dispatch:
        block["dispatch_action"] = True
    return block


def modal(
    callback_id: str,
    title: str,
    blocks: list[Block],
    *,
    submit: str | None = None,
    close: str = "Cancel",
    metadata: dict[str, Any] | None = None,
) -> Block:
    """A modal view, refusing what Slack would refuse."""
    view: Block = {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain(title, MODAL_TITLE),
        "close": plain(close, MODAL_TITLE),
        "blocks": blocks,
    }
    if submit:
        view["submit"] = plain(submit, MODAL_TITLE)
    if metadata is not None:
        view["private_metadata"] = json.dumps(metadata, separators=(",", ":"))
    check_view(view)
    return view


def check_view(view: Block) -> None:
    """Raise ValueError when a view breaks a Slack limit."""
    limit = MODAL_BLOCKS if view.get("type") in ("modal", "home") else MESSAGE_BLOCKS
    if len(view.get("blocks", [])) > limit:
        raise ValueError(f"{len(view['blocks'])} blocks; Slack allows {limit}")
    if len(view.get("private_metadata", "")) > PRIVATE_METADATA:
        raise ValueError("private_metadata is longer than 3000 characters")
    if len(view.get("title", {}).get("text", "")) > MODAL_TITLE:
        raise ValueError("modal title is longer than 24 characters")


def message(text: str, blocks: list[Block]) -> dict[str, Any]:
    """A message with its notification text (escaped too: Slack parses it), at most 50 blocks."""
    if len(blocks) > MESSAGE_BLOCKS:
        blocks = [*blocks[: MESSAGE_BLOCKS - 1], context("… more not shown")]
    return {"text": clip(escape(text), 3000), "blocks": blocks}
