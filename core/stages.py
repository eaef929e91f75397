"""The deal's stage machine (pure): which action moves which stage where, and who may."""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import NotAllowed
from core.fields import STAGES


@dataclass(frozen=True)
class Move:
    action: str
    sources: tuple[str, ...]
    target: str
    role: str  # partner | reviewer | system


MOVES: dict[str, Move] = {
    m.action: m
    for m in (
        Move("approve", ("opportunity",), "approved", "reviewer"),
        Move("reject", ("opportunity",), "rejected", "reviewer"),
        Move("return", ("opportunity",), "opportunity", "reviewer"),
        Move("answer", ("opportunity",), "opportunity", "partner"),
        Move("start_order", ("approved",), "order_started", "partner"),
        Move("submit_order", ("order_started",), "order_submitted", "partner"),
        Move("request_extension", ("approved",), "approved", "partner"),
        Move("grant_extension", ("approved",), "approved", "reviewer"),
        Move("decline_extension", ("approved",), "approved", "reviewer"),
        Move("expire", ("opportunity", "approved"), "expired", "system"),
    )
}

_ACTION_WORDS = {
    "approve": "approve",
    "reject": "reject",
    "return": "return for information",
    "answer": "answer the reviewer",
    "start_order": "start an order",
    "submit_order": "submit the order",
    "request_extension": "request an extension",
    "grant_extension": "grant an extension",
    "decline_extension": "decline an extension",
    "expire": "expire",
}


def allowed_moves(stage: str) -> list[str]:
    """The actions possible from `stage`, in a stable order."""
    return [a for a, m in MOVES.items() if stage in m.sources]


def next_stage(stage: str, action: str) -> str:
    """Return the stage `action` leads to from `stage`, or raise NotAllowed naming both."""
    move = MOVES.get(action)
    if move is None:
        raise NotAllowed(f"unknown action {action!r}", field="stage")
    if stage not in move.sources:
        allowed = ", ".join(_ACTION_WORDS[a] for a in allowed_moves(stage)) or "none"
        raise NotAllowed(
            f"cannot {_ACTION_WORDS[action]}: the deal is at stage "
            f"{STAGES.get(stage, stage)} ({stage}); allowed now: {allowed}",
            field="stage",
        )
    return move.target


def required_role(action: str) -> str:
    return MOVES[action].role
