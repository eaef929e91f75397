"""The deal desk's side of a registration, and its rules.

`Review` is the desk's work on one deal: where it is routed and who may act on it, when a
decision is due and which reminders went out, who claimed it, the first of two approvals,
and what the rules said. `Rule` is one `[[rules]]` entry of the catalogue, in order.
"""

# No `from __future__ import annotations`: see core/models/__init__.py.

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, intpk


class Review(Base):
    __tablename__ = "reviews"
    __table_args__ = (
        Index("ix_reviews_due", "review_due_at"),
        Index("ix_reviews_decided", "decided_at"),
    )
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id"), primary_key=True)
    # The routing rule that matched, its channel and its reviewers (None: every reviewer),
    # as they were when the deal was registered.
    route_rule: Mapped[str | None] = mapped_column(String(100))
    route_channel: Mapped[str | None] = mapped_column(String(100))
    route_reviewers: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    # While a decision is awaited: when it is due (business hours), and how far the
    # reminders went (0 none, 1 the 50% reminder, 2 the 90% one, 3 escalated).
    review_due_at: Mapped[datetime | None]
    sla_notified: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The desk's own time on the deal, the partner's waits after a return left out: when its
    # current wait began, the business hours of the waits before, and, once first approved
    # or rejected, when and after how many business hours in all.
    waited_since: Mapped[datetime | None]
    desk_hours: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    decided_at: Mapped[datetime | None]
    decision_hours: Mapped[float | None] = mapped_column(Float)  # to the tenth
    # What the deal ever reached, as flags (core.figures.MILESTONE_BITS): the report's counts.
    reached: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    claimed_by: Mapped[str | None] = mapped_column(String(320))
    claimed_at: Mapped[datetime | None]
    # Two-person approval: the first of the two.
    first_approved_by: Mapped[str | None] = mapped_column(String(320))
    first_approved_at: Mapped[datetime | None]
    # What the rules said at registration: [{"rule", "matched", "action", "explanation"}].
    rule_notes: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON(none_as_null=True))
    reregistration_of: Mapped[str | None] = mapped_column(String(20))
    second_approval: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class Rule(Base):
    __tablename__ = "rules"
    id: Mapped[intpk]
    position: Mapped[int]
    name: Mapped[str] = mapped_column(String(100), unique=True)
    route: Mapped[str | None] = mapped_column(String(100))
    reviewers: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    approve: Mapped[bool] = mapped_column(Boolean, default=False)
    shadow: Mapped[bool] = mapped_column(Boolean, default=False)
    second_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    conditions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the `when` table
    # The catalogue's rules as a whole (a hash), recorded with each decision they made.
    version: Mapped[str] = mapped_column(String(64))
