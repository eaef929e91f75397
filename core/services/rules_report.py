"""`dealreg rules report`: what each rule did, from the audit trail.

Per rule, over the registrations whose rules were read since a date: how many it matched (its
`when` held), how many it approved automatically, and for a shadow rule how often the
reviewers' decision agreed with what it would have done (an approval agrees, a rejection
does not; a deal still undecided, withdrawn or expired counts as neither).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import DealEvent


@dataclass
class RuleFigures:
    rule: str
    matched: int = 0
    approved: int = 0  # approved automatically by it
    shadow_matched: int = 0  # as a shadow rule: matched and would have approved
    agreed: int = 0  # ... and the reviewers approved
    disagreed: int = 0  # ... and the reviewers rejected

    @property
    def agreement(self) -> float | None:
        decided = self.agreed + self.disagreed
        return self.agreed / decided if decided else None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "agreement": self.agreement}


def rules_report(session: Session, since: datetime | None = None) -> list[RuleFigures]:
    """The figures of every rule named in the audit trail since `since`, in first-seen order."""
    stmt = select(DealEvent.deal_id, DealEvent.details).where(DealEvent.action == "rules")
    if since is not None:
        stmt = stmt.where(DealEvent.at >= since)
    figures: dict[str, RuleFigures] = {}
    shadowed: dict[int, list[str]] = defaultdict(list)
    for deal_id, details in session.execute(stmt.order_by(DealEvent.id)):
        for finding in details.get("findings", []):
            row = figures.setdefault(finding["rule"], RuleFigures(finding["rule"]))
            row.matched += bool(finding["matched"])
        for name in details.get("shadows", []):
            figures.setdefault(name, RuleFigures(name)).shadow_matched += 1
            shadowed[deal_id].append(name)
    decisions = select(DealEvent.deal_id, DealEvent.action, DealEvent.actor).where(
        DealEvent.action.in_(("approve", "reject"))
    )
    if since is not None:
        decisions = decisions.where(DealEvent.at >= since)
    for deal_id, action, actor in session.execute(decisions.order_by(DealEvent.id)):
        if action == "approve" and actor.startswith("rule:"):
            name = actor.removeprefix("rule:")
            figures.setdefault(name, RuleFigures(name)).approved += 1
        for name in shadowed.pop(deal_id, []):  # the first decision counts
            if action == "approve":
                figures[name].agreed += 1
            else:
                figures[name].disagreed += 1
    return list(figures.values())
