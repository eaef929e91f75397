"""The `retention` job: raw mail and sent bodies are kept `RAW_MAIL_RETENTION_DAYS`.

Past that, a handled inbound message keeps its row (key, Message-ID, sender, subject,
status, the deal it made) and loses its raw bytes; a sent outbox row keeps its row (key,
Message-ID, recipient, subject, when it was sent) and loses its bodies, and its copy in the
outbox folder goes. Mail still waiting (received, held) or not sent is never touched. The
dropped bytes are then scrubbed from the database's files (`core.scrub`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, text, update

from core.config import Settings
from core.mail_files import remove_copies
from core.models import InboundEmail, OutboxMessage
from core.scrub import scrub
from core.services.inbound import FINAL
from core.uow import UnitOfWork

log = logging.getLogger(__name__)
TABLES = ("inbound_emails", "outbox")
BATCH = 500  # rows per transaction, so the intake never waits long for the write lock
HANDLED = FINAL - {"held"}  # a held message may yet be confirmed and act


def retention(
    uow_factory: Callable[[], UnitOfWork], now: datetime, settings: Settings
) -> dict[str, Any]:
    """Drop the raw bytes of handled mail received, and the bodies of mail sent, more than
    RAW_MAIL_RETENTION_DAYS before `now`; what was dropped, by count."""
    cutoff = now - timedelta(days=settings.raw_mail_retention_days)
    raw_dropped = bodies_dropped = 0
    message_ids: list[str] = []
    while True:
        with uow_factory() as uow:
            if uow.dialect == "sqlite":
                uow.session.execute(text("PRAGMA secure_delete=ON"))  # freed space zeroed
            raws = _drop_raw(uow, cutoff)
            sent = _drop_bodies(uow, cutoff)
            uow.commit()
            engine = uow.session.get_bind().engine
        raw_dropped += raws
        bodies_dropped += len(sent)
        message_ids += sent
        if raws < BATCH and len(sent) < BATCH:
            break
    files = remove_copies(settings.outbox_dir, message_ids)
    if (raw_dropped or bodies_dropped) and not scrub(engine, TABLES).log_emptied:
        # SQLite's own checkpoints write over those pages in time, once no reader holds them.
        log.warning("retention: a reader kept the write-ahead log from being emptied")
    return {"raw_dropped": raw_dropped, "bodies_dropped": bodies_dropped, "files_removed": files}


def _drop_raw(uow: UnitOfWork, cutoff: datetime) -> int:
    ids = list(
        uow.session.scalars(
            select(InboundEmail.id)
            .where(
                InboundEmail.received_at < cutoff,
                InboundEmail.status.in_(sorted(HANDLED)),
                func.length(InboundEmail.raw) > 0,
            )
            .limit(BATCH)
        )
    )
    if ids:
        stmt = update(InboundEmail).where(InboundEmail.id.in_(ids)).values(raw=b"")
        uow.session.execute(stmt.execution_options(synchronize_session=False))
    return len(ids)


def _drop_bodies(uow: UnitOfWork, cutoff: datetime) -> list[str]:
    """Drop the bodies of mail sent before `cutoff`; the Message-IDs of the rows."""
    rows = uow.session.execute(
        select(OutboxMessage.id, OutboxMessage.message_id)
        .where(
            OutboxMessage.sent_at < cutoff,
            or_(OutboxMessage.body_text != "", OutboxMessage.body_html.is_not(None)),
        )
        .limit(BATCH)
    ).all()
    if rows:
        stmt = (
            update(OutboxMessage)
            .where(OutboxMessage.id.in_([r.id for r in rows]))
            .values(body_text="", body_html=None)
        )
        uow.session.execute(stmt.execution_options(synchronize_session=False))
    return [r.message_id for r in rows]
