"""Block Kit for the deal desk's queue (pure): each registration awaiting a decision with its
due time, claim and conflict and the desk's buttons; then those waiting for the partner."""

from __future__ import annotations

from bot.desk_cards import DeskClock, local_time
from bot.kit import Block, actions, button, context, divider, section
from core.services.queue import QueueRow

FOR_PARTNERS = "The queue is for the deal desk; `/deal search` finds your own deals."


def due_text(row: QueueRow, clock: DeskClock) -> str:
    """When a decision is due, in the business zone; marked once it is overdue."""
    if row.due_at is None:
        return "🕒 no due time"
    if clock.now is not None and clock.now >= row.due_at:
        return f"⏰ *overdue* since {local_time(row.due_at, clock.zone)}"
    return f"🕒 due {local_time(row.due_at, clock.zone)}"


def awaiting_blocks(row: QueueRow, clock: DeskClock) -> list[Block]:
    """Two blocks: who, what and when beside Claim; then Approve, Reject and Return."""
    claim = f"🙋 {row.claimed_by}" if row.claimed_by else "🙋 not claimed"
    status = [due_text(row, clock), claim]
    if row.conflict_with:
        status.append(f"⚠️ conflicts with {row.conflict_with}")
    text = (
        f"*{row.number}* · *{row.company}*\n"
        f"{row.partner} · {row.product} · {row.users:,} users\n" + " · ".join(status)
    )
    number = row.number
    return [
        section(text, accessory=button("Claim", "deal_claim", number)),
        actions(
            button("Approve", "deal_approve", number, "primary"),
            button("Reject", "deal_reject", number, "danger"),
            button("Return", "deal_return", number),
            block_id=f"queue_{number}",  # unique in a view, unlike the card's "review"
        ),
    ]


def returned_line(row: QueueRow) -> Block:
    return section(f"↩️ *{row.number}* · {row.company} · {row.partner} · {row.product}")


def queue_blocks(rows: list[QueueRow], clock: DeskClock, room: int) -> list[Block]:
    """The queue in at most `room` blocks, soonest due first, the returned ones apart; the
    last block says how many more there are when they do not fit."""
    waiting = [r for r in rows if not r.returned]
    back = [r for r in rows if r.returned]
    blocks = [
        section(f"*Awaiting a decision: {waiting[0].total if waiting else 0}*"),
        context(f"Soonest due first · times in {clock.zone}"),
    ]
    if not waiting:
        blocks.append(section("Nothing awaits a decision. 🎉"))
    shown = 0
    for row in waiting + back:
        part = [returned_line(row)] if row.returned else awaiting_blocks(row, clock)
        if row is (back[0] if back else None):
            part[:0] = [divider(), section(f"*Waiting for the partner: {row.total}*")]
        if len(blocks) + len(part) >= room:  # one block kept for the "more" line
            break
        blocks += part
        shown += 1
    hidden = sum(group[0].total for group in (waiting, back) if group) - shown
    if hidden > 0:
        blocks.append(context(f"…and {hidden} more"))
    return blocks
