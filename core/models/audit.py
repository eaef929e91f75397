"""What happened: each deal's audit trail, and each scheduled job's last run."""

# No `from __future__ import annotations`: see core/models/__init__.py.

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, intpk, str40, str320


class DealEvent(Base):
    """The audit trail: who moved which deal from where to where, when, by which channel."""

    __tablename__ = "deal_events"
    __table_args__ = (
        Index("ix_deal_events_deal", "deal_id"),
        Index("ix_deal_events_at", "at"),
    )
    id: Mapped[intpk]
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id"))
    at: Mapped[datetime]
    actor: Mapped[str320]
    channel: Mapped[str] = mapped_column(String(10))
    action: Mapped[str40]
    from_stage: Mapped[str | None] = mapped_column(String(20))
    to_stage: Mapped[str | None] = mapped_column(String(20))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class JobRun(Base):
    """The last run of each scheduled job and its error, for `dealreg status`."""

    __tablename__ = "job_runs"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_started_at: Mapped[datetime | None]
    last_finished_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
