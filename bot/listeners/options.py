"""Typeahead for the external selects: countries, and states of the chosen country."""

from __future__ import annotations

from typing import Any

import pycountry
import slack_bolt
from slack_bolt import Ack

from bot import kit
from core.validation import states_for


def register(app: slack_bolt.App) -> None:
    """Answer the country and state typeahead."""
    app.options("country")(on_country)
    app.options("state")(on_state)


def on_country(ack: Ack, body: dict[str, Any]) -> None:
    ack(options=kit.options(countries(_text(body.get("value")))))


def on_state(ack: Ack, body: dict[str, Any]) -> None:
    """States of the country chosen in the same modal, if one is."""
    country = _dig(body, "view", "state", "values", "country", "country", "selected_option")
    code = _dig(country, "value")
    typed = _text(body.get("value"))
    ack(options=kit.options(states(code if isinstance(code, str) else None, typed)))


def _text(value: Any) -> str:
    """What the user typed; anything that is not text counts as nothing typed."""
    return value if isinstance(value, str) else ""


def _dig(data: Any, *keys: str) -> Any:
    """Follow `keys` through nested dicts; None where the payload has another shape."""
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _matches(typed: str, *names: str) -> bool:
    needle = typed.strip().casefold()
    return not needle or any(needle in n.casefold() for n in names)


def countries(typed: str) -> list[tuple[str, str]]:
    """ISO countries whose name or code contains `typed`, codes exact first."""
    found = [
        (c.alpha_2, c.name)
        for c in pycountry.countries
        if _matches(typed, c.name, c.alpha_2, getattr(c, "common_name", ""))
    ]
    exact = [pair for pair in found if pair[0].casefold() == typed.strip().casefold()]
    rest = sorted((p for p in found if p not in exact), key=lambda p: p[1])
    return (exact + rest)[: kit.MAX_OPTIONS]


def states(country: str | None, typed: str) -> list[tuple[str, str]]:
    """Subdivisions of `country` matching `typed`: top-level ones first."""
    if not country or pycountry.countries.get(alpha_2=country.upper()) is None:
        return []
    country = country.upper()
    top = states_for(country)
    # pycountry leaves the subdivisions' get() unannotated.
    subs = pycountry.subdivisions.get(country_code=country) or []  # type: ignore[no-untyped-call]
    lower = sorted(((s.code, s.name) for s in subs if s.parent_code), key=lambda p: p[1])
    pairs = [p for p in top + lower if _matches(typed, p[1], p[0])]
    return pairs[: kit.MAX_OPTIONS]
