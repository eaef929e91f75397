"""Shared pieces of validation: the user-facing error, choices and text."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from core.fields import FieldSpec

if TYPE_CHECKING:
    from core.validation.context import ProductRef


class _Bad(ValueError):
    """A value the user must correct; the message is fit to show."""


# -- choices --------------------------------------------------------------------------------------

ROLE_SYNONYMS: dict[str, str] = {
    "dm": "decision_maker",
    "decider": "decision_maker",
    "economic": "economic_buyer",
    "eb": "economic_buyer",
    "budget holder": "economic_buyer",
    "tech buyer": "technical_buyer",
    "technical": "technical_buyer",
    "tb": "technical_buyer",
    "it buyer": "technical_buyer",
    "champion": "influencer",
    "user": "end_user",
}
PRIORITY_SYNONYMS: dict[str, str] = {
    "urgent": "critical",
    "highest": "critical",
    "top": "critical",
    "med": "medium",
    "normal": "medium",
    "lowest": "low",
}
# fmt: off
MIGRATING_TO_SYNONYMS: dict[str, str] = {
    **dict.fromkeys(["office 365", "o365", "m365", "microsoft 365", "exchange online", "exo",
                     "microsoft"], "microsoft_365"),
    **dict.fromkeys(["exchange", "exchange server", "on-prem exchange", "on-premises exchange",
                     "exchange on-prem", "exchange 2010", "exchange 2013", "exchange 2016",
                     "exchange 2019", "exchange se"], "exchange_on_premises"),
    **dict.fromkeys(["g suite", "gmail", "google workspace", "google apps", "google"],
                    "google_workspace"),
    **dict.fromkeys(["lotus notes", "lotus domino", "domino", "notes", "hcl notes", "hcl domino",
                     "ibm notes"], "hcl_domino"),
    **dict.fromkeys(["n/a", "no migration", "not migrating", "nothing"], "none"),
}
# fmt: on


@lru_cache(maxsize=4096)
def _key(text: str) -> str:
    """Fold text to lower-case ASCII letters and digits, for loose comparison."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed.casefold() if ch.isascii() and ch.isalnum())


def match_choice(value: str, choices: dict[str, str], synonyms: dict[str, str]) -> str | None:
    """Return the key of `choices` that `value` names by key, label or synonym, else None."""
    wanted = _key(value) if isinstance(value, str) else ""
    if not wanted:
        return None
    for key, label in choices.items():
        if wanted in (_key(key), _key(label)):
            return key
    for synonym, key in synonyms.items():
        if wanted == _key(synonym) and key in choices:
            return key
    return None


def _choice(value: Any, choices: dict[str, str], synonyms: dict[str, str]) -> str:
    text = _single_line(_as_text(value))
    key = match_choice(text, choices, synonyms)
    if key is None:
        labels = list(choices.values())
        shown = ", ".join(labels[:8]) + (f", … ({len(labels) - 8} more)" if len(labels) > 8 else "")
        raise _Bad(f"{_show(text)} is not one of: {shown}" if labels else "nothing to choose from")
    return key


def _product(value: Any, products: tuple[ProductRef, ...]) -> str:
    choices = {p.code: p.name for p in products}
    synonyms = {alias: p.code for p in products for alias in p.aliases}
    return _choice(value, choices, synonyms)


# -- text -----------------------------------------------------------------------------------------

_KEEP_FORMAT = {"\u200c", "\u200d"}  # joiners some scripts and emoji need


def _strip_controls(text: str, keep: str = "") -> str:
    """Remove control, format and surrogate characters, except those in `keep`."""
    if text.isprintable():  # the common case: nothing to remove
        return text
    return "".join(
        ch
        for ch in text
        if ch in keep or ch in _KEEP_FORMAT or unicodedata.category(ch) not in ("Cc", "Cf", "Cs")
    )


def _single_line(text: str) -> str:
    return _strip_controls(" ".join(text.split()))


def _long_text(text: str) -> str:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cleaned = "\n".join(_strip_controls(line, keep="\t").rstrip() for line in lines)
    return re.sub(r"\n{3,}", "\n\n", cleaned).strip()


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)
    raise _Bad("must be text")


def _show(text: str, limit: int = 40) -> str:
    """Quote a user's value for a message, shortened if long."""
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _text(value: Any, spec: FieldSpec) -> str:
    raw = _as_text(value)
    text = _long_text(raw) if spec.kind == "longtext" else _single_line(raw)
    if len(text) > spec.max_length:
        raise _Bad(f"is too long ({len(text):,} characters; at most {spec.max_length:,})")
    return text.upper() if spec.name == "postcode" else text


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not _long_text(value))
