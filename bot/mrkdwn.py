"""Slack mrkdwn made of texts and dates (pure): each text escaped once, when it becomes a
block, and each date written out by Slack in the reader's own time zone."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from bot.kit import SECTION_TEXT, Block, escape


@dataclass(frozen=True)
class SlackDate:
    """A date or moment that Slack writes out in each reader's own time zone."""

    epoch: int
    token: str  # Slack's format: "{date_short}", or "{date_short} {time}" for a moment
    fallback: str  # what clients that cannot format dates show instead

    def markup(self) -> str:
        return f"<!date^{self.epoch}^{self.token}|{self.fallback}>"


Part = str | SlackDate


@dataclass(frozen=True)
class Mrkdwn:
    """Mrkdwn made of texts and dates. Each text is escaped when it becomes a block, so
    nothing typed can become a mention or a link; a date stays Slack's date markup."""

    parts: tuple[Part, ...] = ()

    def __add__(self, other: Mrkdwn | Part) -> Mrkdwn:
        return Mrkdwn(self.parts + (other.parts if isinstance(other, Mrkdwn) else (other,)))

    def __radd__(self, other: Part) -> Mrkdwn:
        return Mrkdwn((other, *self.parts))

    @property
    def plain(self) -> str:
        """The text with each date as its fallback: for notification texts and plain_text."""
        return "".join(p if isinstance(p, str) else p.fallback for p in self.parts)

    def markup(self, limit: int = SECTION_TEXT) -> str:
        """The escaped text with its dates' markup, cut to `limit` but never inside a date or
        an escaped character."""
        pieces = [escape(p) if isinstance(p, str) else p.markup() for p in self.parts]
        text = "".join(pieces)
        if len(text) <= limit:
            return text
        units = [u for p in self.parts for u in (map(escape, p) if isinstance(p, str) else [p])]
        kept, used = [], 0
        for unit in units:
            piece = unit if isinstance(unit, str) else unit.markup()
            if used + len(piece) > limit - 1:
                break
            kept.append(piece)
            used += len(piece)
        return "".join(kept) + "…"


def md(*parts: Mrkdwn | Part) -> Mrkdwn:
    """Mrkdwn of texts (ours or typed, escaped later) and dates, in order."""
    return Mrkdwn(tuple(q for p in parts for q in (p.parts if isinstance(p, Mrkdwn) else [p])))


def md_lines(items: Iterable[Mrkdwn]) -> Mrkdwn:
    """Mrkdwn texts one per line."""
    joined = Mrkdwn()
    for i, item in enumerate(items):
        joined += ("\n" if i else "") + item
    return joined


def md_text(value: Mrkdwn | str, limit: int = SECTION_TEXT) -> Block:
    """A mrkdwn text object; `verbatim` keeps a bare URL from a link, and still lets Slack
    read our date markup."""
    return {"type": "mrkdwn", "text": md(value).markup(limit) or " ", "verbatim": True}


def md_section(value: Mrkdwn | str, *, accessory: Block | None = None) -> Block:
    block: Block = {"type": "section", "text": md_text(value)}
    if accessory:
        block["accessory"] = accessory
    return block


def md_context(*values: Mrkdwn | str) -> Block:
    return {"type": "context", "elements": [md_text(v) for v in values[:10]]}


def md_fields(pairs: list[tuple[str, Part]]) -> list[Block]:
    """Label/value pairs as sections of at most ten fields each."""
    items = [md_text(md(f"*{k}*\n", v or "—"), 2000) for k, v in pairs]
    return [{"type": "section", "fields": items[i : i + 10]} for i in range(0, len(items), 10)]


def when(value: datetime | None) -> Part:
    """A moment: its date and time where the reader is."""
    if value is None:
        return "—"
    at = value.astimezone(UTC)
    return SlackDate(int(at.timestamp()), "{date_short} {time}", f"{at:%Y-%m-%d %H:%M} UTC")


def day(value: date | datetime | None) -> Part:
    """A date: the day a moment falls on where the reader is, or a calendar date."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        at = value.astimezone(UTC)
        return SlackDate(int(at.timestamp()), "{date_short}", at.date().isoformat())
    # A calendar date has no time: noon UTC is that same day everywhere from UTC-11 to
    # UTC+11, so every reader sees the date itself (midnight would be the day before in
    # the Americas).
    noon = datetime.combine(value, time(12), UTC)
    return SlackDate(int(noon.timestamp()), "{date_short}", value.isoformat())
