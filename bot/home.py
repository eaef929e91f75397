"""The App Home tab, and the buttons that act on a partner's deal wherever it shows (pure)."""

from __future__ import annotations

from bot.blocks import deal_line
from bot.desk_cards import DeskClock
from bot.kit import Block, actions, button, clip, divider, header, section
from bot.queue_blocks import queue_blocks
from core.models import Deal
from core.services.queue import QueueRow
from core.stages import allowed_moves

# A home view holds at most 100 blocks; each deal takes up to two.
_HOME_ROOM = 98
HOME_BLOCKS = 100


def next_step_button(deal: Deal) -> Block | None:
    """The button that takes a partner's deal to its next stage, if any."""
    if deal.stage in ("approved", "order_started"):
        label = "Start order" if deal.stage == "approved" else "Submit order"
        return button(label, "deal_advance", deal.number, "primary")
    if deal.stage == "opportunity" and deal.returned_question:
        return button("Answer the deal desk", "deal_answer", deal.number, "primary")
    return None


def change_buttons(deal: Deal) -> list[Block]:
    """Edit and Withdraw, each where the deal's stage lets its partner make that move."""
    moves = allowed_moves(deal.stage, "partner")
    found = []
    if "amend" in moves:
        found.append(button("Edit", "deal_edit_open", deal.number))
    if "withdraw" in moves:
        found.append(button("Withdraw", "deal_withdraw_open", deal.number, "danger"))
    return found


def home_view(name: str, deals: list[Deal]) -> Block:
    """A partner's App Home: their deals with next steps (a reviewer's is `desk_home`)."""
    blocks: list[Block] = [header(f"Deals for {clip(name, 100)}")]
    blocks.append(actions(button("Register a deal", "deal_register_open", "new", "primary")))
    blocks += [divider(), section(f"*Your deals: {len(deals)}*")]
    for deal in deals:
        if len(blocks) + 2 > _HOME_ROOM:
            break
        blocks.append(section(deal_line(deal), accessory=next_step_button(deal)))
        changes = change_buttons(deal)
        if changes:
            blocks.append(actions(*changes))
    return {"type": "home", "blocks": blocks}


def desk_home(name: str, rows: list[QueueRow], clock: DeskClock) -> Block:
    """A reviewer's App Home: the deal desk's queue, as `/deal queue` shows it."""
    blocks: list[Block] = [header(f"Deal desk · {clip(name, 100)}"), divider()]
    blocks += queue_blocks(rows, clock, HOME_BLOCKS - len(blocks))
    return {"type": "home", "blocks": blocks}
