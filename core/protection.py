"""Who protects a prospect, pure: every answer from the deals of one claim, already loaded.

A claim is a prospect and every prospect whose domain looks like it (the same confusable
skeleton): `hаrbourlights.co.uk` with a Cyrillic а is the same claim as the domain it
imitates. `core.services.claims` loads a claim's active deals, oldest first; these
functions decide from them, so registration, approval, quotes and `/deal check` share one
rule, tested on its own (tests/unit/test_protection.py):

- a deal *protects* while it is approved and its protection has not ended;
- of a claim's deals on one product, the first approved that still protects wins;
- at registration, the partner's own active deal on the prospect itself is a *twin*
  (returned instead of a new deal), and another partner's live one is a *rival* (the new
  deal is a conflict for the reviewers).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from core.models import Deal, Prospect


def protects(deal: Deal, now: datetime) -> bool:
    """Whether `deal` holds its prospect now: approved, and its protection not ended."""
    end = deal.protection_expires_at
    return deal.stage == "approved" and end is not None and end > now


def protector(deals: Iterable[Deal], now: datetime) -> Deal | None:
    """Of one claim's deals on one product, the one that protects it: the first approved."""
    holding = [d for d in deals if protects(d, now)]
    return min(holding, key=_approval_order, default=None)


def _approval_order(deal: Deal) -> tuple[datetime, int]:
    assert deal.approved_at is not None, "an approved deal has its approval time"
    return deal.approved_at, deal.id


def twin_and_rival(
    deals: Sequence[Deal], prospect: Prospect, partner_id: int, now: datetime
) -> tuple[Deal | None, Deal | None]:
    """For a new registration: among one claim's active deals on its product, oldest first,
    the partner's own twin (on the prospect itself), and another partner's live rival on
    any prospect of the claim (one approved first, else the oldest)."""
    twin = next((d for d in deals if d.prospect is prospect and d.partner_id == partner_id), None)
    live = [
        d
        for d in deals
        if d.partner_id != partner_id
        and (d.protection_expires_at is None or d.protection_expires_at > now)
    ]
    approved = [d for d in live if d.stage == "approved"]
    candidates = approved or live
    return twin, candidates[0] if candidates else None


def own_protection(
    deals: Iterable[Deal], partner_id: int, prospect_id: int, now: datetime
) -> Deal | None:
    """The partner's deal that protects the prospect for them: of their protecting deals on
    it, the one protected longest whose product no other partner's deal in the claim won
    first (two approvals of lookalikes can predate the check that now refuses the second)."""
    claim = list(deals)
    mine = [
        d
        for d in claim
        if d.partner_id == partner_id and d.prospect_id == prospect_id and protects(d, now)
    ]
    mine.sort(key=lambda d: d.protection_expires_at or now, reverse=True)
    for deal in mine:
        winner = protector((d for d in claim if d.product_id == deal.product_id), now)
        if winner is None or winner.partner_id == partner_id:
            return deal
    return None


@dataclass(frozen=True)
class DomainCheck:
    """All a partner may learn about a domain: free, already theirs, or protected until a
    date by another partner (never who, under which name or which deal)."""

    domain: str
    status: str  # free | yours | protected
    protected_until: datetime | None = None
    your_deal: str | None = None


def check(deals: Iterable[Deal], domain: str, partner_id: int | None, now: datetime) -> DomainCheck:
    """What `partner_id` may learn about `domain` from its claim's active deals."""
    claim = list(deals)
    own = [d for d in claim if d.partner_id == partner_id and d.prospect.domain == domain]
    if own:
        return DomainCheck(domain, "yours", your_deal=own[0].number)
    until = [
        d.protection_expires_at
        for d in claim
        if d.partner_id != partner_id and protects(d, now) and d.protection_expires_at
    ]
    if until:
        return DomainCheck(domain, "protected", protected_until=max(until))
    return DomainCheck(domain, "free")
