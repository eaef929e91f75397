"""What Slack sends to `/slack/events`: pure checks of a request body before Bolt reads it.

Bolt reads some fields before any listener runs without checking what they hold; a body
with anything else there fails inside Bolt (a 500). The edge refuses such bodies instead.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"

# Where Slack always sends an object (or for a reference, an id), and Bolt relies on it.
REFERENCES = ("user", "team", "channel", "enterprise")  # an object, an id or null
OBJECTS = ("event", "view", "container", "message")  # an object when present
INNER = ("event", "message", "previous_message", "item", "assistant_thread")  # Bolt looks in
NEEDED: dict[str, tuple[str | None, tuple[str, ...]]] = {
    # kind -> (the object, itself if None, and the keys it must hold as strings)
    "event_callback": ("event", ("type",)),
    "view_submission": ("view", ("type", "callback_id")),
    "view_closed": ("view", ("type", "callback_id")),
    "block_suggestion": (None, ("action_id",)),
}


class Malformed(ValueError):
    """A body Slack never sends; the message says what is wrong with it."""


def kind_of(body: str, content_type: str) -> tuple[str, dict[str, Any]]:
    """The kind of a Slack request body and its fields; Malformed if Slack never sends it.

    The kind is "command", "ssl_check", an interaction's `type` or an event envelope's.
    """
    media = content_type.split(";")[0].strip().lower()
    if media == JSON:
        envelope = _object(body, "body")
        return _type(envelope, "body"), envelope
    if media != FORM or body.startswith("{"):  # Bolt would read the latter as JSON
        raise Malformed("not form-encoded or JSON as Slack sends")
    try:
        form = parse_qs(body, keep_blank_values=True, strict_parsing=bool(body))
    except ValueError:
        raise Malformed("not form-encoded") from None
    if any(len(values) > 1 for values in form.values()):
        raise Malformed("a field given twice")
    fields = {name: values[0] for name, values in form.items()}
    if "payload" in fields:
        payload = _object(fields["payload"], "payload")
        return _type(payload, "payload"), payload
    if fields.get("command", "").startswith("/") and fields.get("user_id"):
        return "command", fields
    if fields.get("ssl_check") == "1":
        return "ssl_check", fields
    raise Malformed("a form with neither a command and its user nor payload")


def _object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than json allows
        raise Malformed(f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise Malformed(f"{what} is not a JSON object")
    return value


def _type(value: dict[str, Any], what: str) -> str:
    kind = value.get("type")
    if not isinstance(kind, str) or not kind:
        raise Malformed(f"{what} has no type")
    problem = shape_problem(kind, value)
    if problem:
        raise Malformed(f"{what}: {problem}")
    return kind


def shape_problem(kind: str, value: dict[str, Any]) -> str | None:
    """What in an interaction or event of `kind` is not as Slack sends it, if anything."""
    problem = _reference_problem(value, depth=0)
    if problem:
        return problem
    for name in OBJECTS:
        if name in value and not isinstance(value[name], dict):
            return f"{name} is not an object"
    if kind == "block_actions":
        actions = value.get("actions")
        if not actions or not isinstance(actions, list) or not all(map(_has_action_id, actions)):
            return "actions are not a list of actions"
    if kind in NEEDED:
        holder, keys = NEEDED[kind]
        inner = value if holder is None else value.get(holder)
        if not isinstance(inner, dict) or not all(isinstance(inner.get(k), str) for k in keys):
            return f"{holder or kind} lacks {', '.join(keys)}"
    return None


def _reference_problem(value: dict[str, Any], depth: int) -> str | None:
    for name in REFERENCES:
        if not isinstance(value.get(name), dict | str | None):
            return f"{name} is neither an object nor an id"
    for name in INNER:
        inner = value.get(name)
        if not isinstance(inner, dict):
            continue
        if depth >= 4:  # Slack nests a message in an event at most; Bolt would recurse on
            return f"{name} nested too deep"
        problem = _reference_problem(inner, depth + 1)
        if problem:
            return f"{name}.{problem}"
    return None


def _has_action_id(action: Any) -> bool:
    return isinstance(action, dict) and isinstance(action.get("action_id"), str)
