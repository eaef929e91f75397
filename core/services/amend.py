"""A partner changes their own deal's registration.

The values are validated exactly as a registration's, merged over the deal's own, and every
bad field is reported at once; then nothing applies. Only values that differ from the deal's
count as changes (a Slack modal sends every field back). The stage machine decides what is
allowed: at `opportunity` every change applies at once (a new domain or product recomputes
the conflict, as a registration would); at `approved` the detail fields apply at once and
the claim fields (`CLAIM_FIELDS`) become one amendment request for the deal desk
(`core.services.amendment`); from `order_started` on nothing may change.

An unchanged field keeps its value even where today's rules would refuse it: a close date
that has passed since the registration is not the amendment's fault.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from core.config import Settings
from core.errors import FieldError, Invalid
from core.fields import FIELDS_BY_NAME, change_lines
from core.models import Deal
from core.redact import ERASED
from core.services.actors import Actor, authorise, load_deal, require_role
from core.services.common import Event, Notice, audit, notify_partner, notify_slack
from core.services.register import validation_context
from core.services.relocate import move_claim
from core.services.views import registration_json
from core.uow import UnitOfWork
from core.validation import validate_registration

# What the deal desk's protection rests on: changed on an approved deal only with its consent.
CLAIM_FIELDS = ("domain", "product", "number_of_users", "projected_value", "currency")
Changes = dict[str, list[Any]]  # {field: [old, new]} in JSON values


@dataclass(frozen=True)
class Amended:
    """What an amendment did: the changes applied now and those requested of the deal desk."""

    deal: Deal
    applied: Changes = field(default_factory=dict)
    requested: Changes = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.applied or self.requested)


def amend(
    uow: UnitOfWork,
    actor: Actor,
    number: str,
    *,
    changes: Mapping[str, Any],
    now: datetime,
    settings: Settings,
) -> Amended:
    """Change registration fields of the actor's own deal (see the module's docstring)."""
    require_role(actor, "partner", "amend deals")
    session = uow.session
    deal = load_deal(session, actor, number, for_update=True)
    authorise(actor, deal, "amend")
    deal.amend(now)  # refuses a stage that takes no changes, naming the moves allowed
    diff = differences(uow, deal, changes, now)
    if not diff:
        return Amended(deal)
    if deal.stage == "approved":
        claim = {k: v for k, v in diff.items() if k in CLAIM_FIELDS}
        detail = {k: v for k, v in diff.items() if k not in CLAIM_FIELDS}
    else:
        claim, detail = {}, diff
    if claim:
        deal.request_amendment(claim, now)  # one at a time: refused while one is pending
    if detail:
        apply_values(uow, deal, {k: new for k, (_, new) in detail.items()}, now)
        audit(uow, deal, actor, now, Event("amend", deal.stage, deal.stage, detail))
        notice = Notice("deal_amended", {"changes": change_lines(detail, deal.country)})
        notify_partner(uow, deal, notice, now=now, settings=settings)
        _tell_slack(uow, deal, {"event": "amended", "changes": detail}, actor, settings, now)
    if claim:
        audit(uow, deal, actor, now, Event("amend_requested", deal.stage, deal.stage, claim))
        notice = Notice("amendment_requested", {"changes": change_lines(claim, deal.country)})
        notify_partner(uow, deal, notice, now=now, settings=settings)
        request = {"changes": claim, "by": actor.name, "at": now.isoformat()}
        notify_slack(uow, deal, Notice("amendment_request", request), now=now, settings=settings)
        dm = Notice("partner_dm", {"event": "amendment_requested"})
        notify_slack(uow, deal, dm, now=now, settings=settings)
    uow.commit()
    return Amended(deal, applied=detail, requested=claim)


def differences(uow: UnitOfWork, deal: Deal, changes: Mapping[str, Any], now: datetime) -> Changes:
    """Validate `changes` over the deal's values; return those that differ, {field: [old,
    new]}, or raise Invalid naming every bad field (only fields the changes touch or make
    bad: a stale value left as it was is not reported)."""
    unknown = [
        FieldError(k, "cannot be changed: a deal stays with its partner")
        if k in ("partner", "partner_id")
        else FieldError(k, "is not a registration field")
        for k in changes
        if k not in FIELDS_BY_NAME and k != "currency"
    ]
    if unknown:
        raise Invalid(unknown)
    old = registration_json(deal)
    merged = {**old, **changes}
    amount = str(changes.get("projected_value", ""))
    if "currency" not in changes and re.search(r"[^\d\s.,'’]", amount):
        merged.pop("currency")  # the amount says its own currency ("$120,000", "EUR 5")
    session = uow.session
    context = validation_context(session, deal.partner, now)
    try:
        new = validate_registration(merged, context).to_json()
    except Invalid as bad:
        stale = _stale(old, context)
        kept = [e for e in bad.errors if e.field in changes or e not in stale]
        if kept:
            raise Invalid(kept) from None
        # Only stale values failed: validate again with each as it was registered.
        registered = validation_context(session, deal.partner, deal.created_at)
        try:
            new = validate_registration(merged, registered).to_json()
        except Invalid as still:  # values erased on request are stale for good
            raise Invalid([_erased(e, old) for e in still.errors]) from None
    return {name: [old[name], value] for name, value in new.items() if not _same(old, name, value)}


def _erased(error: FieldError, old: dict[str, Any]) -> FieldError:
    """Say so when the field's value was erased on request, rather than that it is bad."""
    if old.get(error.field) != ERASED:
        return error
    return FieldError(error.field, "was erased on request: give it a new value to amend the deal")


def _stale(values: dict[str, Any], context: Any) -> list[FieldError]:
    try:
        validate_registration(values, context)
    except Invalid as bad:
        return bad.errors
    return []


def _same(old: dict[str, Any], name: str, value: Any) -> bool:
    if name == "projected_value":
        return Decimal(str(old[name])) == Decimal(str(value))
    return bool(old.get(name) == value)


def apply_values(uow: UnitOfWork, deal: Deal, values: Mapping[str, Any], now: datetime) -> None:
    """Set validated JSON values on the deal; a new domain or product moves its claim."""
    if "domain" in values or "product" in values:
        move_claim(uow, deal, values.get("domain"), values.get("product"), now)
    typed = FIELDS_BY_NAME
    for name, value in values.items():
        if name in ("domain", "product"):
            continue
        kind = typed[name].kind if name in typed else "text"
        setattr(deal, name, _typed(kind, value))
    deal.updated_at = now


def _typed(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "date":
        return date.fromisoformat(value)
    if kind == "money":
        return Decimal(str(value))
    return value


def _tell_slack(
    uow: UnitOfWork,
    deal: Deal,
    payload: dict[str, Any],
    actor: Actor,
    settings: Settings,
    now: datetime,
) -> None:
    full = {**payload, "by": actor.name, "by_email": actor.email, "at": now.isoformat()}
    notify_slack(uow, deal, Notice("review_update", full), now=now, settings=settings)
    dm = Notice("partner_dm", {"event": payload["event"]})
    notify_slack(uow, deal, dm, now=now, settings=settings)
