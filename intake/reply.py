"""Answer a message: one threaded reply queued in the outbox, and the outcome recorded on the
message's row, in the caller's transaction.

The loop guard lives here: past `INTAKE_REPLIES_PER_HOUR` automatic replies to one address
in an hour, the outcome is recorded and the reply is not sent, unless a person waits for it
(`Decision.awaited`: a registration attempt or a command from a proven contact); those have
a ceiling of `AWAITED_CEILING` times the limit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from core import outbox
from core.locales import locale_for
from core.models import InboundEmail, Partner
from core.services.actors import Actor
from core.services.inbound import finish
from intake.context import Acting
from intake.decide import Decision
from intake.readahead import Read

log = logging.getLogger(__name__)

# Automatic answers that a loop could multiply; the registration confirmation of a new
# deal is not one of them (a deal is made once), so it is never held back. An answer to a
# command is held back only when no command was read (`hold_back`, from `intake.act`).
LOOP_GUARDED = frozenset(
    {"intake_errors", "intake_form", "intake_already_registered", "intake_refused",
     "intake_confirm"}
)  # fmt: skip
# The replies counted against the limit: awaited answers too, since a loop could be fed
# through any of them.
COUNTED = LOOP_GUARDED | {"intake_command"}
# Awaited answers have a ceiling of their own, this many times the limit: a person sending
# twenty registrations in an hour is answered, an undetected auto-responder that quotes our
# form back is not answered forever.
AWAITED_CEILING = 10


@dataclass(frozen=True)
class Addressing:
    """Who a reply goes to (an address, and the partner whose locale it is written in), the
    thread it joins, and its own Message-ID when an answer must be known by it."""

    to: str
    partner_id: int | None
    in_reply_to: str | None
    references: str | None
    message_id: str | None = None


def to_sender(read: Read, actor: Actor | None) -> Addressing:
    """Address a reply to the sender of a message, in its thread."""
    in_reply_to, references = read.reply_headers
    partner_id = actor.partner_id if actor is not None else None
    return Addressing(read.sender or "", partner_id, in_reply_to, references)


def reply(
    at: Acting,
    row: InboundEmail,
    to: Addressing,
    decision: Decision,
    *,
    deal_id: int | None = None,
) -> None:
    """Queue one threaded reply and record the outcome, in the caller's transaction.

    Past the loop guard's limit of automatic replies to one address per hour, the outcome
    is recorded and the reply is not sent, unless a person waits for it.
    """
    assert decision.template is not None
    settings, session = at.ctx.settings, at.uow.session
    context = decision.context
    counted = decision.template in COUNTED
    guarded = decision.template in LOOP_GUARDED and not decision.awaited
    if guarded and hold_back(at, row, to, decision, deal_id=deal_id):
        return
    ceiling = counted and decision.awaited
    if ceiling and hold_back(at, row, to, decision, AWAITED_CEILING, deal_id=deal_id):
        return
    country = _partner_country(session, to.partner_id)
    email = outbox.Email(
        template=decision.template,
        to=to.to,
        context={"country": country, "max_bytes": settings.intake_max_bytes, **context},
        locale=locale_for(country),
        in_reply_to=to.in_reply_to,
        references=to.references,
        message_id=to.message_id,
    )
    key = f"intake-reply:{row.id}"
    outbox.enqueue(at.uow, email, now=at.now, settings=settings, dedupe_key=key)
    finish(session, row, decision.status, at.now, reason=_reason(decision), deal_id=deal_id)


def hold_back(
    at: Acting,
    row: InboundEmail,
    to: Addressing,
    decision: Decision,
    times: int = 1,
    *,
    deal_id: int | None = None,
) -> bool:
    """Past `times` the limit of automatic replies to `to` in the last hour, record the
    outcome unanswered and say so; else do nothing."""
    since = at.now - timedelta(hours=1)
    limit = at.ctx.settings.intake_replies_per_hour * times
    if outbox.replies_since(at.uow, to.to, since, COUNTED) < limit:
        return False
    log.warning("intake: reply limit reached for %s; inbound %s not answered", to.to, row.id)
    reason = f"{_reason(decision)} (not answered: {limit} replies in the last hour)"
    finish(at.uow.session, row, decision.status, at.now, reason=reason, deal_id=deal_id)
    return True


def _reason(decision: Decision) -> str:
    """The outcome recorded for a reply: its reason, or the errors it tells of."""
    detail = "; ".join(
        f"{e.get('field') or 'form'}: {e.get('message')}"
        for e in decision.context.get("errors", [])
    )
    return decision.reason if decision.reason != decision.template or not detail else detail


def _partner_country(session: Session, partner_id: int | None) -> str | None:
    if partner_id is None:
        return None
    return session.get_one(Partner, partner_id).country
