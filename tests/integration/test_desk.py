"""The deal desk's rules at work, through the core services on SQLite and PostgreSQL:
routing and who may act, automatic approval and each reason it is withheld, shadow rules and
their report, two-person approval, claims."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from core.errors import Conflict, NotAllowed
from core.models import Deal, DealEvent, OutboxMessage, Review
from core.services.desk import claim
from core.services.review import Rejection
from core.services.rules_report import rules_report
from core.services.withdraw import Withdrawal
from tests import factories, services
from tests.factories import ANN, BOB, NOW, REVIEWER, World, form, with_rules

PRIYA = "priya@vendor.example"
US = {
    "contact_phone": "+1 415 555 0100",
    "partner_sales_lead_name": "Bob Smith",
    "partner_sales_lead_email": "bob@contoso-partners.example",
}
EMEA = {
    "name": "emea-desk",
    "route": "#deal-desk-emea",
    "reviewers": [PRIYA],
    "when": {"countries": ["GB", "IE"]},
}
GOLD_SMALL = {
    "name": "gold-small",
    "approve": True,
    "when": {"tiers": ["gold"], "products": ["email_security"], "max_users": 500},
}


def register(world: World, who: str = ANN, **changes: Any) -> str:
    extra = US if who == BOB else {}
    with world.uow() as uow:
        done = factories.register(
            uow, world.actor(who), form(**{**extra, **changes}), now=NOW, settings=world.settings
        )
        return done.deal.number


def approve(world: World, number: str, who: str = REVIEWER) -> None:
    with world.uow() as uow:
        services.approve(uow, world.actor(who), number, now=NOW, settings=world.settings)


def deal_and_review(world: World, number: str) -> tuple[Deal, Review]:
    with world.uow() as uow:
        deal = uow.session.scalars(select(Deal).where(Deal.number == number)).one()
        assert deal.review is not None
        uow.session.expunge_all()
        return deal, deal.review


def events(world: World, number: str) -> list[DealEvent]:
    with world.uow() as uow:
        deal_id = uow.session.scalar(select(Deal.id).where(Deal.number == number))
        stmt = select(DealEvent).where(DealEvent.deal_id == deal_id).order_by(DealEvent.id)
        rows = list(uow.session.scalars(stmt))
        uow.session.expunge_all()
        return rows


def test_a_routed_registration_is_for_its_routes_reviewers_only(world: World) -> None:
    with_rules(world, EMEA)
    number = register(world)
    _, review = deal_and_review(world, number)
    assert (review.route_rule, review.route_channel) == ("emea-desk", "#deal-desk-emea")
    assert review.route_reviewers == [PRIYA]
    with pytest.raises(NotAllowed, match="only the reviewers of the emea-desk route"):
        approve(world, number, REVIEWER)
    approve(world, number, PRIYA)
    assert deal_and_review(world, number)[0].stage == "approved"
    elsewhere = register(
        world, BOB, domain="elsewhere.com", country="US", state="CA", postcode="94105",
        end_user_phone="+1 415 555 0199",
    )  # fmt: skip
    assert deal_and_review(world, elsewhere)[1].route_rule is None
    approve(world, elsewhere, REVIEWER)  # unrouted: every reviewer, as before


def test_a_rule_approves_through_approve_and_says_why(world: World) -> None:
    with_rules(world, GOLD_SMALL)
    number = register(world)
    deal, review = deal_and_review(world, number)
    assert deal.stage == "approved" and deal.protection_expires_at is not None
    assert deal.reviewed_by == "rule:gold-small"
    history = events(world, number)
    assert [e.action for e in history] == ["register", "rules", "approve"]
    assert history[1].details["approve_by"] == "gold-small" and history[1].details["version"]
    assert history[2].actor == "rule:gold-small"
    notes = [n for n in review.rule_notes or [] if n["kind"] == "approved"]
    assert notes and "gold-small" in notes[0]["text"]
    ann = world.actor(ANN)
    with world.uow() as uow:
        shown = services.deal_view(services.show(uow.session, ann, number), ann)
    assert len(shown["quotes"]) == 1 and shown["quotes"][0]["reward_margin_pct"] == "10"
    with world.uow() as uow:  # the partner is told why, in the approval email
        email = uow.session.scalars(
            select(OutboxMessage).where(OutboxMessage.template == "deal_approved")
        ).one()
    assert "approved at once under the programme's rules: " in email.body_text
    assert "gold-small" in email.body_text


def test_no_automatic_approval_for_a_conflict(world: World) -> None:
    with_rules(world, GOLD_SMALL)
    rival = register(world, BOB, domain="contested.com")
    number = register(world, domain="contested.com")
    deal, _ = deal_and_review(world, number)
    assert deal.stage == "opportunity"
    history = events(world, number)
    assert history[1].details["approve_by"] is None
    findings = history[1].details["findings"]
    assert findings[0]["matched"] is True  # the rule held, the conflict withheld it
    assert deal.conflict_with_id is not None and rival


def test_no_automatic_approval_for_a_re_registration_within_the_protection_period(
    world: World,
) -> None:
    with_rules(world, GOLD_SMALL)
    first = register(world, domain="again.com")
    assert deal_and_review(world, first)[0].stage == "approved"
    with world.uow() as uow:
        services.withdraw(
            uow, world.actor(ANN), first, Withdrawal("no_decision"), now=NOW,
            settings=world.settings,
        )  # fmt: skip
    second = register(world, domain="again.com")
    deal, review = deal_and_review(world, second)
    assert deal.stage == "opportunity" and review.reregistration_of == first


def test_a_shadow_rule_only_says_what_it_would_do_and_the_report_counts_agreement(
    world: World,
) -> None:
    with_rules(world, {**GOLD_SMALL, "shadow": True})
    agreed = register(world, domain="shadow-1.com")
    rejected = register(world, domain="shadow-2.com")
    deal, review = deal_and_review(world, agreed)
    assert deal.stage == "opportunity"
    assert [n["kind"] for n in review.rule_notes or []] == ["shadow"]
    approve(world, agreed)
    with world.uow() as uow:
        services.reject(
            uow, world.actor(REVIEWER), rejected, rejection=Rejection("not_qualified"),
            now=NOW, settings=world.settings,
        )  # fmt: skip
    with world.uow() as uow:
        [figures] = rules_report(uow.session)
    assert (figures.rule, figures.matched, figures.approved) == ("gold-small", 2, 0)
    assert (figures.shadow_matched, figures.agreed, figures.disagreed) == (2, 1, 1)


def test_two_people_approve_a_big_deal_and_a_return_ends_the_wait(world: World) -> None:
    with_rules(world, {"name": "big-deals", "second_approval": True, "when": {"min_users": 200}})
    number = register(world)
    approve(world, number, REVIEWER)
    deal, review = deal_and_review(world, number)
    assert deal.stage == "opportunity" and review.first_approved_by == REVIEWER
    with pytest.raises(NotAllowed, match="different reviewer"):
        approve(world, number, REVIEWER)
    approve(world, number, PRIYA)
    assert deal_and_review(world, number)[0].stage == "approved"
    assert [e.action for e in events(world, number)][-2:] == ["approve_first", "approve"]

    other = register(world, domain="returned.com")
    approve(world, other, REVIEWER)
    with world.uow() as uow:
        services.return_for_info(
            uow, world.actor(PRIYA), other, question="Which mail system?", now=NOW,
            settings=world.settings,
        )  # fmt: skip
    assert deal_and_review(world, other)[1].first_approved_by is None


def test_a_claim_is_one_reviewers_until_taken_over(world: World) -> None:
    number = register(world)
    later = NOW + timedelta(minutes=5)
    with world.uow() as uow:
        claim(uow, world.actor(REVIEWER), number, now=NOW, settings=world.settings)
    with pytest.raises(Conflict, match=f"claimed by {REVIEWER}"), world.uow() as uow:
        claim(uow, world.actor(PRIYA), number, now=later, settings=world.settings)
    with world.uow() as uow:
        claim(uow, world.actor(PRIYA), number, take_over=True, now=later, settings=world.settings)
    assert deal_and_review(world, number)[1].claimed_by == PRIYA
    with pytest.raises(NotAllowed, match="only reviewers"), world.uow() as uow:
        claim(uow, world.actor(ANN), number, now=later, settings=world.settings)
    desk = world.actor(REVIEWER)
    with world.uow() as uow:
        shown = services.deal_view(services.show(uow.session, desk, number), desk)
    assert shown["claimed_by"] == PRIYA


@pytest.mark.parametrize(
    ("rival_domain", "domain", "reason"),
    [
        ("harbourlights.co.uk", "h\u0430rbourlights.co.uk", "lookalike with DR-000001"),
        (None, "p\u0430ypal-billing.com", "suspicious domain (mixed scripts)"),
    ],
)
def test_no_automatic_approval_for_a_lookalike_or_a_mixed_script_domain(
    world: World, rival_domain: str | None, domain: str, reason: str
) -> None:
    with_rules(world, GOLD_SMALL)
    if rival_domain is not None:
        register(world, BOB, domain=rival_domain)
    number = register(world, domain=domain)
    deal, review = deal_and_review(world, number)
    assert deal.stage == "opportunity"
    [rules_event] = [e for e in events(world, number) if e.action == "rules"]
    assert rules_event.details["approve_by"] is None
    assert rules_event.details["findings"][0]["matched"] is True
    [note] = review.rule_notes or []  # the reviewer is told why it waits for them
    assert note["kind"] == "withheld" and note["text"].startswith("gold-small would approve")
    assert reason in note["text"]


def test_no_automatic_approval_after_a_return_or_an_amendment(world: World) -> None:
    # The rules read a registration once, as it arrives: a deal they did not approve then
    # (here: too many users) is never approved by them later, whatever it becomes.
    with_rules(world, GOLD_SMALL)
    number = register(world, number_of_users="800")
    assert deal_and_review(world, number)[0].stage == "opportunity"
    with world.uow() as uow:
        services.amend(
            uow, world.actor(ANN), number, changes={"number_of_users": 300}, now=NOW,
            settings=world.settings,
        )  # fmt: skip
    with world.uow() as uow:
        services.return_for_info(
            uow, world.actor(REVIEWER), number, question="Which mail system?", now=NOW,
            settings=world.settings,
        )  # fmt: skip
    with world.uow() as uow:
        services.answer(
            uow, world.actor(ANN), number, text="Exchange 2016", now=NOW, settings=world.settings
        )
    deal, _ = deal_and_review(world, number)
    assert (deal.stage, deal.number_of_users) == ("opportunity", 300)
    assert "approve" not in [e.action for e in events(world, number)]
