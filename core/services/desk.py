"""The deal desk's side of a registration: its review opened with what the rules say (route,
automatic approval, shadow, two-person approval, re-registration), and claims.

The rules themselves are evaluated by `core.rules` (pure); this module gathers a deal's
facts, records the verdict on its `Review` and in the audit trail, and carries out an
automatic approval through the same `approve` a reviewer's click calls, as `rule:NAME`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm.attributes import set_committed_value

from core import rules
from core.config import Settings
from core.db import insert_loaded
from core.domains import suspicion
from core.errors import Conflict, NotAllowed
from core.models import Deal, Prospect, Review, Rule
from core.services.actors import Actor, authorise, load_deal, require_role
from core.services.common import Event, Notice, audit, notify_slack
from core.services.sla import start_clock
from core.uow import UnitOfWork


def rule_actor(name: str) -> Actor:
    """The actor an automatic decision of rule `name` is made by."""
    return Actor(kind="reviewer", email=f"rule:{name}", name=f"rule {name}", channel="system")


def stored_rules(uow: UnitOfWork) -> list[rules.RuleSpec]:
    stmt = select(Rule).order_by(Rule.position)
    return [rules.spec_of(row) for row in uow.session.scalars(stmt)]


def open_reviews(
    uow: UnitOfWork,
    deals: Sequence[Deal],
    specs: Sequence[rules.RuleSpec],
    now: datetime,
    settings: Settings,
) -> list[rules.Verdict]:
    """Give new registrations their reviews: the rules' verdict, the route, the due time.

    One query finds the re-registrations of them all and one INSERT writes the reviews: a
    flush per deal would cost more than the registration itself."""
    earlier = reregistrations(uow, deals, now, settings)
    verdicts, reviews = [], []
    for deal in deals:
        again = earlier.get((deal.partner_id, deal.product_id, deal.prospect.skeleton))
        verdict = rules.evaluate(facts(deal, again), specs)
        route = verdict.route
        review = Review(
            deal_id=deal.id,
            route_rule=route.name if route else None,
            route_channel=route.route if route else None,
            route_reviewers=list(route.reviewers) if route and route.reviewers else None,
            claimed_by=None,
            claimed_at=None,
            first_approved_by=None,
            first_approved_at=None,
            second_approval=verdict.second_approval is not None,
            reregistration_of=again.number if again else None,
            rule_notes=_notes(verdict, specs),
            desk_hours=0.0,
            decided_at=None,
            decision_hours=None,
            reached=0,
        )
        start_clock(review, now, settings)
        verdicts.append(verdict)
        reviews.append(review)
    insert_loaded(uow.session, reviews)
    for deal, review in zip(deals, reviews, strict=True):
        set_committed_value(deal, "review", review)
    return verdicts


def record_verdict(
    uow: UnitOfWork,
    deal: Deal,
    specs: Sequence[rules.RuleSpec],
    verdict: rules.Verdict,
    now: datetime,
) -> None:
    """Write what the rules said of a new registration to its audit trail, with the rules'
    version; nothing when there are no rules."""
    if not specs:
        return
    details = {
        "version": rules.rules_version(specs),
        "route": verdict.route.name if verdict.route else None,
        "approve_by": verdict.approve_by.name if verdict.approve_by else None,
        "second_approval": verdict.second_approval.name if verdict.second_approval else None,
        # The shadow rules that would have approved it (none while something withholds it).
        "shadows": [] if verdict.withheld else [s.name for s in verdict.shadows],
        "findings": [
            {"rule": f.rule, "matched": f.matched, "explanation": f.explanation}
            for f in verdict.findings
        ],
    }
    system = Actor(kind="system", email="system", name="dealreg", channel="system")
    audit(uow, deal, system, now, Event("rules", deal.stage, deal.stage, details))


def facts(deal: Deal, again: Deal | None) -> rules.Facts:
    """What the rules read of a deal, and why no automatic approval may happen, if any."""
    return rules.Facts(
        country=deal.country,
        tier=deal.partner.tier.name,
        partner=deal.partner.name,
        product=deal.product.code,
        channel=deal.channel,
        users=deal.number_of_users,
        value=deal.projected_value,
        currency=deal.currency,
        withheld=tuple(withheld(deal, again)),
    )


def withheld(deal: Deal, again: Deal | None) -> list[str]:
    """Why a registration may not be approved automatically, as lines for the card."""
    reasons = []
    other = deal.conflict_with if deal.conflict_with_id is not None else None
    if other is not None:
        same = other.prospect_id == deal.prospect_id
        reasons.append(f"{'conflict' if same else 'lookalike'} with {other.number}")
    if suspicion(deal.prospect.domain) is not None:
        reasons.append("suspicious domain (mixed scripts)")
    # A registration is never yet returned or an amendment: the rules read new ones only.
    if again is not None:
        reasons.append(f"re-registration of {again.number}")
    return reasons


def reregistrations(
    uow: UnitOfWork, deals: Sequence[Deal], now: datetime, settings: Settings
) -> dict[tuple[int, int, str], Deal]:
    """For each (partner, product, prospect skeleton) of `deals`: the partner's latest earlier
    deal on that claim (the prospect or a lookalike) and product that was approved and let
    expire or withdrawn within the protection period. Registering again must not renew a
    protection without the deal desk."""
    if not deals:
        return {}
    since = now - timedelta(days=settings.protection_days)
    stmt = (
        select(Deal, Prospect.skeleton)
        .join(Prospect, Deal.prospect_id == Prospect.id)
        .where(
            Deal.partner_id.in_({d.partner_id for d in deals}),
            Deal.product_id.in_({d.product_id for d in deals}),
            Prospect.skeleton.in_({d.prospect.skeleton for d in deals}),
            Deal.stage.in_(("expired", "withdrawn")),
            Deal.approved_at.is_not(None),
            Deal.protection_expires_at >= since,
        )
        .order_by(Deal.protection_expires_at)
    )
    with uow.session.no_autoflush:
        rows = uow.session.execute(stmt).all()
    return {(d.partner_id, d.product_id, skeleton): d for d, skeleton in rows}  # the latest


def _notes(verdict: rules.Verdict, specs: Sequence[rules.RuleSpec]) -> list[dict[str, str]]:
    """The lines the review card shows of the verdict; a live approval rule that held but
    was withheld says why, for the reviewer who now decides."""
    notes = []
    line = verdict.approval_line()
    if line:
        notes.append({"kind": "approved", "text": line})
    held = {f.rule for f in verdict.findings if f.matched}
    live = [s for s in specs if s.approve and not s.shadow and s.name in held]
    if live and verdict.approve_by is None and verdict.withheld:
        why = "; ".join(verdict.withheld)
        text = f"{live[0].name} would approve, but not automatically: {why}"
        notes.append({"kind": "withheld", "text": text})
    notes += [{"kind": "shadow", "text": text} for text in verdict.shadow_lines()]
    if verdict.second_approval is not None:
        text = f"{verdict.second_approval.name}: two different reviewers must approve"
        notes.append({"kind": "second_approval", "text": text})
    return notes


def review_of(deal: Deal) -> Review:
    """The deal's review; a deal made before reviews existed gets an empty one."""
    if deal.review is None:
        deal.review = Review(
            deal_id=deal.id, sla_notified=0, second_approval=False, desk_hours=0.0, reached=0
        )
    return deal.review


def claim(
    uow: UnitOfWork,
    actor: Actor,
    number: str,
    *,
    take_over: bool = False,
    now: datetime,
    settings: Settings,
) -> Review:
    """A reviewer takes a registration awaiting a decision; someone else's claim is refused
    naming its holder unless `take_over`."""
    require_role(actor, "reviewer", "claim registrations")
    deal = load_deal(uow.session, actor, number, for_update=True)
    authorise(actor, deal, "approve")  # the route's reviewers only
    if deal.stage != "opportunity":
        raise NotAllowed(f"{deal.number} awaits no decision: it is {deal.stage}", "deal")
    review = review_of(deal)
    holder = review.claimed_by
    if holder == actor.email:
        return review
    if holder is not None and not take_over:
        raise Conflict(f"{deal.number} is claimed by {holder}; take it over to work on it", "deal")
    review.claimed_by, review.claimed_at = actor.email, now
    details = {"from": holder} if holder else {}
    audit(uow, deal, actor, now, Event("claim", deal.stage, deal.stage, details))
    payload = {"event": "claimed", "by": actor.name, "by_email": actor.email, "at": now.isoformat()}
    notify_slack(uow, deal, Notice("review_update", payload), now=now, settings=settings)
    uow.commit()
    return review
