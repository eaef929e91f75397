"""Scheduled jobs as plain functions of (unit-of-work factory, now, settings)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from core import delivery, webhook_admin
from core.config import Settings
from core.models import Deal, InboundEmail, JobRun, Review
from core.services import inbound
from core.services.common import Notice, notify_partner
from core.services.lifecycle import expire_lapsed
from core.services.sla import ESCALATED, STEP_NAMES, step_due
from core.services.sla_notices import claim_step, notify_step
from core.uow import UnitOfWork

UowFactory = Callable[[], UnitOfWork]


def remind(uow_factory: UowFactory, now: datetime, settings: Settings) -> list[str]:
    """Remind partners before protection ends: once per deal, threshold and end date."""
    sent: list[str] = []
    horizon = now + timedelta(days=max(settings.reminder_days, default=0))
    with uow_factory() as uow:
        deals = uow.session.scalars(
            select(Deal).where(
                Deal.stage == "approved",
                Deal.protection_expires_at > now,
                Deal.protection_expires_at <= horizon,
            )
        ).all()
        for deal in deals:
            assert deal.protection_expires_at is not None
            left = deal.protection_expires_at - now
            due = [d for d in sorted(settings.reminder_days) if left <= timedelta(days=d)]
            if not due:
                continue
            # The smallest threshold reached names the reminder; an extension (new end
            # date) makes a new key, so reminders start again for the new window.
            key = f"expiry_reminder:{deal.id}:{due[0]}:{deal.protection_expires_at:%Y%m%d}"
            extra = {"days_left": left.days, "extensions_left": _left(deal, settings)}
            notice = Notice("expiry_reminder", extra)
            if notify_partner(uow, deal, notice, now=now, settings=settings, dedupe_key=key):
                sent.append(deal.number)
        uow.commit()
    return sent


def _left(deal: Deal, settings: Settings) -> int:
    return max(settings.max_extensions - deal.extensions_granted, 0)


def sla(uow_factory: UowFactory, now: datetime, settings: Settings) -> list[str]:
    """Remind the desk at 50% and 90% of each awaited decision's business time, and escalate
    once it is due: each step once, whichever worker gets to it first."""
    with uow_factory() as uow:
        waiting = uow.session.execute(
            select(Review.deal_id, Review.review_due_at, Review.sla_notified)
            .join(Deal, Deal.id == Review.deal_id)
            .where(Deal.stage == "opportunity", Deal.returned_question.is_(None))
            .where(Review.review_due_at.is_not(None), Review.sla_notified < ESCALATED)
            .order_by(Review.review_due_at)
        ).all()
    done: list[str] = []
    for deal_id, due_at, notified in waiting:
        assert due_at is not None  # as the query asks
        step = step_due(due_at, now, settings)
        if step <= notified:
            continue
        # A missed run sends only the step reached now: one late reminder, not a burst.
        with uow_factory() as uow:
            if not claim_step(uow, deal_id, due_at, step):
                continue
            deal = uow.session.get_one(Deal, deal_id)
            notify_step(uow, deal, step, now, settings)
            uow.commit()
            done.append(f"{deal.number}: {STEP_NAMES[step]}")
    return done


def expire(uow_factory: UowFactory, now: datetime, settings: Settings) -> list[str]:
    return expire_lapsed(uow_factory, now, settings)


def lapse_held(uow_factory: UowFactory, now: datetime) -> int:
    """Record held messages whose senders did not confirm them in time; their count."""
    with uow_factory() as uow:
        return inbound.lapse_held(uow, now)


def record_run(
    uow_factory: UowFactory, name: str, started: datetime, finished: datetime, error: str | None
) -> None:
    """Remember the last run of a job and its error, for `dealreg status`.

    An upsert: several workers finish the same job at the same moment.
    """
    with uow_factory() as uow:
        values = {
            "name": name,
            "last_started_at": started,
            "last_finished_at": finished,
            "last_error": error,
        }
        insert = pg_insert if uow.dialect == "postgresql" else sqlite_insert
        stmt = insert(JobRun).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[JobRun.name],
            set_={k: v for k, v in values.items() if k != "name"},
        )
        uow.session.execute(stmt)
        uow.commit()


def status(uow_factory: UowFactory, now: datetime) -> dict[str, Any]:
    """What an operator needs at a glance: stages, queues, failures, the mailbox."""
    with uow_factory() as uow:
        s = uow.session
        stages = dict(s.execute(select(Deal.stage, func.count()).group_by(Deal.stage)).all())
        oldest = s.scalar(select(func.min(Deal.created_at)).where(Deal.stage == "opportunity"))
        runs = {
            r.name: {
                "last_started_at": r.last_started_at,
                "last_finished_at": r.last_finished_at,
                "last_error": r.last_error,
            }
            for r in s.scalars(select(JobRun))
        }
        failed_inbound = s.scalar(
            select(func.count())
            .select_from(InboundEmail)
            .where(InboundEmail.status == "received", InboundEmail.attempts > 0)
        )
        held = s.scalar(
            select(func.count()).select_from(InboundEmail).where(InboundEmail.status == "held")
        )
        # Webhooks are outbox rows too, shown on their own line with their endpoints.
        hooks = webhook_admin.counts(s)
        box = {k: n - hooks[k] for k, n in delivery.pending_counts(s).items()}
        return {
            "deals": {k: int(v) for k, v in stages.items()},
            "waiting_review": int(stages.get("opportunity", 0)),
            "oldest_waiting_since": oldest.isoformat() if oldest else None,
            "oldest_waiting_hours": round((now - oldest).total_seconds() / 3600, 1)
            if oldest
            else None,
            "outbox": box,
            "webhooks": hooks,
            "jobs": runs,
            "inbound_failed": int(failed_inbound or 0),
            "inbound_held": int(held or 0),
        }
