"""The deal desk's morning digest in its review channel: the figures as a message, then the
week chart as a PNG shared in the message's thread (`files_upload_v2`).

The payload is the outbox row's (`core.services.digest.Digest` as JSON). The message is
posted once: its channel and ts are kept on the row, so a retry after the chart failed to
upload shares the chart without posting the figures again.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from slack_sdk import WebClient

from bot.kit import context, fields_section, header, message, section
from core.figures import WEEKLY_TITLE, chart_png
from core.models import OutboxMessage
from core.services.digest import Digest


def _rate(x: float | None) -> str:
    return "—" if x is None else f"{x:.0%}"


def _hours(x: float | None) -> str:
    return "—" if x is None else f"{x:.1f} business hours"


def blocks(d: Digest) -> dict[str, Any]:
    """The digest's message (pure)."""
    waiting = sum(d.waiting.values())
    ages = ", ".join(f"{band}: {n}" for band, n in d.waiting.items())
    decided = d.decisions
    made = ", ".join(f"{decided.get(k, 0)} {k}" for k in ("approved", "rejected", "returned"))
    body = [
        header(f"Deal desk digest, {d.day:%a %d %b %Y}"),
        section(
            f"*{waiting} waiting for a decision* ({ages})\n"
            f"{d.with_partner} waiting for the partner's answer"
        ),
        *fields_section(
            [
                ("Overdue", str(d.overdue)),
                (f"Decided on {date.fromisoformat(d.decided_since):%a %d %b}", made),
                (
                    "Median time to decision (30 days)",
                    f"{_hours(d.median_hours)}, {d.decided_month} decided",
                ),
                ("Approval rate (30 days)", _rate(d.approval_rate)),
                ("Protections ending within 14 days", str(d.ending)),
            ]
        ),
    ]
    if d.overdue_deals:
        # Typed by partners: `section` escapes it, so nothing can become a mention or a link.
        late = "\n".join(f"• {o['number']} {o['company']}" for o in d.overdue_deals)
        more = d.overdue - len(d.overdue_deals)
        body.append(
            section(
                f"*Overdue, oldest first*\n{late}" + (f"\n… and {more} more" if more > 0 else "")
            )
        )
    body.append(context("The chart of registrations and decisions per week is in the thread."))
    text = f"Deal desk digest: {waiting} waiting, {d.overdue} overdue"
    return message(text, body)


def post(client: WebClient, row: OutboxMessage, payload: str) -> None:
    """Post the digest's message (once) and share its chart in the thread."""
    digest = Digest.from_json(payload)
    if not (row.headers or {}).get("ts"):
        posted = client.chat_postMessage(channel=row.to_addr, **blocks(digest))
        row.headers = {"channel": str(posted["channel"]), "ts": str(posted["ts"])}
    client.files_upload_v2(
        channel=row.headers["channel"],
        thread_ts=row.headers["ts"],
        file=chart_png(digest.chart_weeks(), WEEKLY_TITLE),
        filename=f"digest-{digest.day.isoformat()}.png",
        title=f"{WEEKLY_TITLE} to {digest.day:%d %b %Y}",
    )
