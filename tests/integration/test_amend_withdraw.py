"""A deal changes and ends: amendments at each stage, the deal desk's decision on claim
changes, withdrawal and what it frees, on SQLite and PostgreSQL through the core services."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from core.errors import Conflict, Invalid, NotAllowed, NotFound
from core.models import Deal, OutboxMessage
from core.services.amendment import Verdict
from core.services.orders import OrderStep
from core.services.withdraw import Withdrawal
from tests import factories, services
from tests.factories import ANN, BOB, NOW, REVIEWER, World, form

APPROVE = Verdict(approve=True)
OTHER = Withdrawal("other")
US = {
    "contact_phone": "+1 415 555 0100",
    "partner_sales_lead_name": "Bob Smith",
    "partner_sales_lead_email": "bob@contoso-partners.example",
}


def register(world: World, email: str = ANN, **changes: Any) -> str:
    with world.uow() as uow:
        done = factories.register(
            uow, world.actor(email), form(**changes), now=NOW, settings=world.settings
        )
        return done.deal.number


def approve(world: World, number: str) -> None:
    with world.uow() as uow:
        services.approve(uow, world.actor(REVIEWER), number, now=NOW, settings=world.settings)


def amend(world: World, number: str, who: str = ANN, **changes: Any) -> services.Amended:
    with world.uow() as uow:
        return services.amend(
            uow, world.actor(who), number, changes=changes, now=NOW, settings=world.settings
        )


def view(world: World, number: str, who: str = REVIEWER) -> dict[str, Any]:
    with world.uow() as uow:
        actor = world.actor(who)
        return services.deal_view(services.show(uow.session, actor, number), actor)


def actions(world: World, number: str) -> list[str]:
    return [e["action"] for e in view(world, number)["history"]]


def outbox_templates(world: World, deal_number: str) -> list[str]:
    with world.uow() as uow:
        deal_id = uow.session.scalar(select(Deal.id).where(Deal.number == deal_number))
        stmt = select(OutboxMessage.template).where(OutboxMessage.deal_id == deal_id)
        return list(uow.session.scalars(stmt.order_by(OutboxMessage.id)))


# -- amend -----------------------------------------------------------------------------------


def test_at_opportunity_every_change_applies_at_once_and_is_audited(world: World) -> None:
    number = register(world)
    done = amend(world, number, number_of_users="300", meeting_date="2027-01-15")
    assert done.applied == {
        "number_of_users": [250, 300],
        "meeting_date": [None, "2027-01-15"],
    }
    assert done.requested == {}
    shown = view(world, number)
    assert shown["number_of_users"] == 300 and shown["meeting_date"] == "2027-01-15"
    amend_event = shown["history"][-1]
    assert amend_event["action"] == "amend"
    assert amend_event["details"] == {
        "number_of_users": [250, 300],
        "meeting_date": [None, "2027-01-15"],
    }
    assert "deal_amended" in outbox_templates(world, number)


def test_only_values_that_differ_count_as_changes(world: World) -> None:
    number = register(world)
    done = amend(world, number, **form())  # the whole form sent back, as a modal does
    assert not done.changed
    assert actions(world, number) == ["register"]


def test_every_bad_field_is_reported_at_once_and_nothing_applies(world: World) -> None:
    number = register(world)
    with pytest.raises(Invalid) as bad:
        amend(world, number, number_of_users="lots", end_user_email="not-an-email", postcode="X")
    assert {e.field for e in bad.value.errors} == {"number_of_users", "end_user_email"}
    assert view(world, number)["number_of_users"] == 250
    with pytest.raises(Invalid) as unknown:
        amend(world, number, partner="Contoso")
    assert unknown.value.errors[0].field == "partner"


def test_a_close_date_passed_since_registration_does_not_block_another_change(
    world: World,
) -> None:
    number = register(world, close_date=(NOW + timedelta(days=10)).date().isoformat())
    later = NOW + timedelta(days=30)
    with world.uow() as uow:
        done = services.amend(
            uow, world.actor(ANN), number, changes={"number_of_users": 260}, now=later,
            settings=world.settings,
        )  # fmt: skip
    assert done.applied == {"number_of_users": [250, 260]}


def test_a_new_domain_at_opportunity_moves_the_deal_and_recomputes_the_conflict(
    world: World,
) -> None:
    rival = register(world, BOB, domain="rival-held.com", **US)
    number = register(world, domain="first.com")
    assert view(world, number)["conflict_with"] is None
    done = amend(world, number, domain="https://www.Rival-Held.com/about")
    assert done.applied == {"domain": ["first.com", "rival-held.com"]}
    shown = view(world, number)
    assert shown["prospect"]["domain"] == "rival-held.com"
    assert shown["conflict_with"] == rival
    assert "conflict_with" not in view(world, number, ANN)  # never shown to the partner


def test_at_approved_details_apply_and_claim_fields_await_the_deal_desk(world: World) -> None:
    number = register(world)
    approve(world, number)
    done = amend(world, number, number_of_users="300", contact_name="Sam Carter-Jones")
    assert done.applied == {"contact_name": ["Sam Carter", "Sam Carter-Jones"]}
    assert done.requested == {"number_of_users": [250, 300]}
    shown = view(world, number)
    assert shown["number_of_users"] == 250 and shown["contact_name"] == "Sam Carter-Jones"
    assert shown["amendment"] == {"number_of_users": [250, 300]}
    assert actions(world, number)[-2:] == ["amend", "amend_requested"]
    with pytest.raises(NotAllowed, match="already has an amendment request"):
        amend(world, number, number_of_users="400")


def test_an_approved_amendment_applies_requotes_and_supersedes(world: World) -> None:
    number = register(world)
    approve(world, number)
    before = view(world, number)
    amend(world, number, number_of_users="300")
    with world.uow() as uow:
        _, quote = services.decide_amendment(
            uow, world.actor(REVIEWER), number, APPROVE, now=NOW, settings=world.settings
        )
        assert quote is not None
    shown = view(world, number)
    assert shown["number_of_users"] == 300 and shown["amendment"] is None
    statuses = [(q["number_of_users"], q["status"]) for q in shown["quotes"]]
    assert statuses == [(250, "superseded"), (300, "valid")]
    assert shown["quotes"][-1]["reward_margin_pct"] != "0"
    assert shown["protection_expires_at"] == before["protection_expires_at"]
    assert shown["history"][-1]["action"] == "amend_approved"


def test_a_declined_amendment_changes_nothing(world: World) -> None:
    number = register(world)
    approve(world, number)
    amend(world, number, number_of_users="300")
    with world.uow() as uow:
        services.decide_amendment(
            uow, world.actor(REVIEWER), number, Verdict(False, "Show us the PO first"), now=NOW,
            settings=world.settings,
        )  # fmt: skip
    shown = view(world, number)
    assert shown["number_of_users"] == 250 and shown["amendment"] is None
    assert shown["history"][-1]["action"] == "amend_declined"
    assert shown["history"][-1]["details"]["note"] == "Show us the PO first"
    with pytest.raises(NotAllowed), world.uow() as uow:  # nothing left to decide
        services.decide_amendment(
            uow, world.actor(REVIEWER), number, APPROVE, now=NOW, settings=world.settings
        )


def test_a_new_domain_held_by_a_rival_cannot_be_approved(world: World) -> None:
    held = register(world, BOB, domain="held.com", **US)
    approve(world, held)
    number = register(world, domain="mine.com")
    approve(world, number)
    amend(world, number, domain="held.com")
    with pytest.raises(Conflict, match="held by"), world.uow() as uow:
        services.decide_amendment(
            uow, world.actor(REVIEWER), number, APPROVE, now=NOW, settings=world.settings
        )
    assert view(world, number)["prospect"]["domain"] == "mine.com"


def test_only_reviewers_decide_and_only_the_partner_amends(world: World) -> None:
    number = register(world)
    approve(world, number)
    amend(world, number, number_of_users="300")
    with pytest.raises(NotAllowed, match="only reviewers"), world.uow() as uow:
        services.decide_amendment(
            uow, world.actor(ANN), number, APPROVE, now=NOW, settings=world.settings
        )
    with pytest.raises(NotFound):  # a rival learns nothing, not even that it exists
        amend(world, number, BOB, number_of_users="1")


def test_from_order_started_amending_is_refused_naming_the_stage_and_moves(
    world: World,
) -> None:
    number = register(world)
    approve(world, number)
    with world.uow() as uow:
        services.advance(uow, world.actor(ANN), number, now=NOW, settings=world.settings)
    with pytest.raises(NotAllowed) as refused:
        amend(world, number, number_of_users="300")
    message = str(refused.value)
    assert number in message and "Start Order" in message
    assert "allowed now: submit the order, withdraw" in message


# -- withdraw --------------------------------------------------------------------------------


def test_withdraw_ends_protection_voids_quotes_and_frees_the_rival(world: World) -> None:
    held = register(world)
    approve(world, held)
    rival = register(world, BOB, **US)
    assert view(world, rival)["conflict_with"] == held
    later = NOW + timedelta(days=3)
    with world.uow() as uow:
        services.withdraw(
            uow, world.actor(ANN), held, Withdrawal("lost to a competitor", "Chose Proofpoint"),
            now=later, settings=world.settings,
        )  # fmt: skip
    shown = view(world, held, ANN)
    assert shown["stage"] == "withdrawn" and shown["withdraw_reason"] == "lost_to_competitor"
    assert shown["protection_expires_at"] == later.isoformat()
    assert [q["status"] for q in shown["quotes"]] == ["void"]
    assert [p["state"] for p in shown["progress"]] == ["done", "done", "todo", "todo"]
    assert shown["history"][-1]["details"] == {
        "reason": "lost_to_competitor",
        "note": "Chose Proofpoint",
    }
    with world.uow() as uow:  # the rival may now be approved
        services.approve(uow, world.actor(REVIEWER), rival, now=later, settings=world.settings)
    assert "deal_withdrawn" in outbox_templates(world, held)


def test_withdraw_is_the_partners_own_or_a_reviewers_and_not_after_the_order(
    world: World,
) -> None:
    number = register(world)
    with pytest.raises(NotFound), world.uow() as uow:
        services.withdraw(uow, world.actor(BOB), number, OTHER, now=NOW, settings=world.settings)
    with world.uow() as uow:
        services.withdraw(
            uow, world.actor(REVIEWER), number, Withdrawal("registered_in_error"), now=NOW,
            settings=world.settings,
        )  # fmt: skip
    assert view(world, number)["stage"] == "withdrawn"
    with pytest.raises(NotAllowed, match="allowed now: none"), world.uow() as uow:
        services.withdraw(uow, world.actor(ANN), number, OTHER, now=NOW, settings=world.settings)
    submitted = register(world, domain="ordered.com")
    approve(world, submitted)
    with world.uow() as uow:
        services.advance(uow, world.actor(ANN), submitted, now=NOW, settings=world.settings)
    with world.uow() as uow:
        services.advance(
            uow, world.actor(ANN), submitted, step=OrderStep(po_number="PO-1"), now=NOW,
            settings=world.settings,
        )  # fmt: skip
    with pytest.raises(NotAllowed), world.uow() as uow:
        services.withdraw(uow, world.actor(ANN), submitted, OTHER, now=NOW, settings=world.settings)
