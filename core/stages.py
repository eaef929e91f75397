"""The deal's stage machine (pure): which action moves which stage where, and who may."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from core.errors import NotAllowed
from core.fields import STAGES


@dataclass(frozen=True)
class Move:
    action: str
    sources: tuple[str, ...]
    target: str
    role: str  # partner | reviewer | system | either (the deal's partner or a reviewer)


MOVES: dict[str, Move] = {
    m.action: m
    for m in (
        Move("approve", ("opportunity",), "approved", "reviewer"),
        Move("reject", ("opportunity",), "rejected", "reviewer"),
        Move("return", ("opportunity",), "opportunity", "reviewer"),
        Move("answer", ("opportunity",), "opportunity", "partner"),
        Move("start_order", ("approved",), "order_started", "partner"),
        Move("submit_order", ("order_started",), "order_submitted", "partner"),
        Move("amend", ("opportunity", "approved"), "", "partner"),  # "": the stage stays
        Move("request_amendment", ("approved",), "approved", "partner"),
        Move("approve_amendment", ("approved",), "approved", "reviewer"),
        Move("decline_amendment", ("approved",), "approved", "reviewer"),
        Move("request_extension", ("approved",), "approved", "partner"),
        Move("grant_extension", ("approved",), "approved", "reviewer"),
        Move("decline_extension", ("approved",), "approved", "reviewer"),
        Move("withdraw", ("opportunity", "approved", "order_started"), "withdrawn", "either"),
        Move("expire", ("opportunity", "approved"), "expired", "system"),
    )
}

_ACTION_WORDS = {
    "approve": "approve",
    "reject": "reject",
    "return": "return for information",
    "answer": "answer the deal desk's question",
    "start_order": "start an order",
    "submit_order": "submit the order",
    "amend": "amend the registration",
    "request_amendment": "request an amendment",
    "approve_amendment": "approve the amendment",
    "decline_amendment": "decline the amendment",
    "request_extension": "request an extension",
    "grant_extension": "grant an extension",
    "decline_extension": "decline an extension",
    "withdraw": "withdraw",
    "expire": "expire",
}
# Covered by "amend" in what a refusal offers.
_IMPLIED = {"request_amendment"}


def allowed_moves(stage: str, role: str | None = None) -> list[str]:
    """The actions possible from `stage` (those of `role` when given), in a stable order."""
    return [
        a
        for a, m in MOVES.items()
        if stage in m.sources and (role is None or m.role in (role, "either"))
    ]


def next_stage(
    stage: str, action: str, number: str | None = None, moot: Collection[str] = ()
) -> str:
    """Return the stage `action` leads to from `stage`, or raise NotAllowed naming the deal,
    its stage and the moves the same person may make instead (less the `moot` ones, which
    nothing pending calls for)."""
    move = MOVES.get(action)
    if move is None:
        raise NotAllowed(f"unknown action {action!r}", field="stage")
    if stage not in move.sources:
        role = None if move.role in ("either", "system") else move.role
        offered = [
            _ACTION_WORDS[a]
            for a in allowed_moves(stage, role)
            if a not in moot and a not in _IMPLIED and MOVES[a].role != "system"
        ]
        deal = f" {number}" if number else ""
        raise NotAllowed(
            f"cannot {_ACTION_WORDS[action]}: the deal{deal} is at stage "
            f"{STAGES.get(stage, stage)} ({stage}); allowed now: {', '.join(offered) or 'none'}",
            field="stage",
        )
    return move.target or stage


def required_role(action: str) -> str:
    return MOVES[action].role
