"""The deal lifecycle through the services, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core.errors import Conflict, Invalid, NotAllowed, NotFound
from core.models import Deal, DealEvent, OutboxMessage, Quote
from core.services.orders import OrderStep, QuoteAsk
from core.services.review import Rejection
from tests import factories, services
from tests.factories import ANN, BOB, JANA, NOW, RAJ, REVIEWER, World, form


def register(world: World, email: str, **changes: object) -> services.Registered:
    with world.uow() as uow:
        return factories.register(
            uow, world.actor(email), form(**changes), now=NOW, settings=world.settings
        )


def approve(world: World, number: str, when=NOW):  # type: ignore[no-untyped-def]
    with world.uow() as uow:
        return services.approve(
            uow, world.actor(REVIEWER), number, now=when, settings=world.settings
        )


def count(world: World, model: type, *where: object) -> int:
    with world.uow() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(model).where(*where)))


def test_url_typed_domain_is_stored_as_registrable_domain(world: World) -> None:
    deal = register(world, ANN).deal
    assert deal.number == "DR-000001"
    assert deal.prospect.domain == "example.co.uk"
    assert deal.stage == "opportunity"
    assert deal.channel == "cli"


def test_same_partner_registering_again_gets_the_same_deal(world: World) -> None:
    first = register(world, ANN)
    again = register(world, RAJ, domain="mail.example.co.uk")  # same partner, subdomain
    assert first.created and not again.created
    assert again.deal.number == first.deal.number
    assert count(world, Deal) == 1


def test_second_partner_on_same_domain_is_flagged_as_conflict(world: World) -> None:
    first = register(world, ANN).deal
    second = register(world, BOB, contact_phone="+1 415 555 0100").deal
    assert second.number != first.number
    assert second.conflict_with is not None
    assert second.conflict_with.number == first.number
    assert count(world, Deal) == 2


def test_approving_rival_while_first_is_approved_is_refused(world: World) -> None:
    first = register(world, ANN).deal
    second = register(world, BOB, contact_phone="+1 415 555 0100").deal
    approve(world, first.number)
    with pytest.raises(Conflict, match=first.number):
        approve(world, second.number)
    with world.uow() as uow:
        assert uow.session.scalar(select(Deal.stage).where(Deal.id == second.id)) == "opportunity"


def test_different_product_on_same_prospect_is_no_conflict(world: World) -> None:
    register(world, ANN)
    other = register(world, BOB, product="archive", contact_phone="+1 415 555 0100").deal
    assert other.conflict_with is None


def test_approval_sets_protection_and_generates_priced_quote(world: World) -> None:
    deal = register(world, ANN).deal
    approved, quote = approve(world, deal.number)
    assert approved.stage == "approved"
    assert approved.protection_expires_at == NOW + timedelta(days=90)
    # Northwind: gold (15% discount, 10% margin), GBP price 2.80 x 250 users x 12 months.
    assert quote.currency == "GBP"
    assert [(line.kind, line.amount) for line in quote.lines] == [
        ("list", Decimal("8400.00")),
        ("tier_discount", Decimal("-1260.00")),
        ("reward_margin", Decimal("-840.00")),
    ]
    assert quote.total == Decimal("6300.00")
    assert quote.valid_until == (NOW + timedelta(days=30)).date()


def test_quote_falls_back_to_product_currency_without_regional_price(world: World) -> None:
    # Fabrikam: registered tier (0% discount, 5% margin), EUR; continuity has no EUR price.
    deal = register(
        world,
        JANA,
        product="continuity",
        number_of_users="333",
        contact_phone="+49 30 1234567",
        projected_value="€40.000",
    ).deal
    _, quote = approve(world, deal.number)
    assert quote.currency == "USD"
    # 1.75 x 333 x 24 = 13986.00; 5% = 699.30
    assert quote.list_amount == Decimal("13986.00")
    assert [line.kind for line in quote.lines] == ["list", "reward_margin"]
    assert quote.total == Decimal("13286.70")


def test_silver_tier_uses_default_margin_setting(world: World) -> None:
    # Contoso: silver (10% discount, no margin override -> REWARD_MARGIN_PCT 10), USD 3.50.
    deal = register(world, BOB, number_of_users="7", contact_phone="+1 415 555 0100").deal
    _, quote = approve(world, deal.number)
    # 3.50 x 7 x 12 = 294.00; 10% = 29.40 twice
    assert quote.total == Decimal("235.20")
    assert quote.reward_margin_pct == Decimal("10")


@pytest.mark.parametrize(
    ("who", "action", "message"),
    [
        (ANN, "advance", "stage Opportunity"),
        (REVIEWER, "approve-twice", "stage Approved"),
        (BOB, "advance-other", "no deal"),
        (ANN, "approve", "only reviewers"),
    ],
)
def test_illegal_moves_are_refused_and_change_nothing(
    world: World, who: str, action: str, message: str
) -> None:
    deal = register(world, ANN).deal
    number = deal.number
    if action in ("approve-twice", "advance-other"):
        approve(world, number)
    events_before = count(world, DealEvent)
    stage_before = _stage(world, number)
    actor = world.actor(who)
    with world.uow() as uow, pytest.raises((NotAllowed, NotFound)) as err:
        if action.startswith("advance"):
            services.advance(uow, actor, number, now=NOW, settings=world.settings)
        else:
            services.approve(uow, actor, number, now=NOW, settings=world.settings)
    assert message in str(err.value)
    assert count(world, DealEvent) == events_before
    assert _stage(world, number) == stage_before


def _stage(world: World, number: str) -> str:
    with world.uow() as uow:
        return str(uow.session.scalar(select(Deal.stage).where(Deal.number == number)))


def test_advance_names_quote_then_needs_po_number(world: World) -> None:
    number = register(world, ANN).deal.number
    _, quote = approve(world, number)
    with world.uow() as uow:
        deal = services.advance(uow, world.actor(ANN), number, now=NOW, settings=world.settings)
        assert deal.stage == "order_started"
        assert deal.order_quote_id == quote.id
    with world.uow() as uow, pytest.raises(Invalid) as err:
        services.advance(uow, world.actor(ANN), number, now=NOW, settings=world.settings)
    assert err.value.errors[0].field == "po_number"
    with world.uow() as uow:
        step = OrderStep(po_number="PO-7781")
        deal = services.advance(
            uow, world.actor(RAJ), number, step=step, now=NOW, settings=world.settings
        )
        assert (deal.stage, deal.po_number) == ("order_submitted", "PO-7781")
        view = services.deal_view(deal, world.actor(RAJ))
    assert [e["action"] for e in view["history"]] == [
        "register",
        "approve",
        "start_order",
        "submit_order",
    ]
    assert view["order_quote"] == quote.number


def test_reject_with_reason_code_and_note(world: World) -> None:
    number = register(world, ANN).deal.number
    with world.uow() as uow:
        deal = services.reject(
            uow,
            world.actor(REVIEWER),
            number,
            rejection=Rejection("Existing customer", note="Direct account since 2020"),
            now=NOW,
            settings=world.settings,
        )
    assert (deal.stage, deal.reject_reason) == ("rejected", "existing_customer")
    assert deal.review_note == "Direct account since 2020"


def test_return_for_information_and_partner_answer(world: World) -> None:
    number = register(world, ANN).deal.number
    with world.uow() as uow:
        services.return_for_info(
            uow,
            world.actor(REVIEWER),
            number,
            question="Which tenant?",
            now=NOW,
            settings=world.settings,
        )
    with world.uow() as uow:
        deal = services.answer(
            uow, world.actor(ANN), number, text="The EU one", now=NOW, settings=world.settings
        )
    assert deal.stage == "opportunity" and deal.returned_question is None
    with world.uow() as uow, pytest.raises(NotAllowed):
        services.answer(
            uow, world.actor(ANN), number, text="again", now=NOW, settings=world.settings
        )


def test_further_quote_carries_margin_only_while_protected(world: World) -> None:
    number = register(world, ANN).deal.number
    with world.uow() as uow:
        before = services.add_quote(
            uow,
            world.actor(ANN),
            QuoteAsk("example.co.uk", product_code="archive", users=100),
            now=NOW,
            settings=world.settings,
        )
    assert before.reward_margin_pct == 0
    approve(world, number)
    with world.uow() as uow:
        during = services.add_quote(
            uow,
            world.actor(ANN),
            QuoteAsk("example.co.uk", product_code="archive", users=100),
            now=NOW + timedelta(days=1),
            settings=world.settings,
        )
    assert during.reward_margin_pct == Decimal("10")
    # GBP 1.80 x 100 x 12 = 2160.00; 15% = 324.00; 10% = 216.00
    assert during.total == Decimal("1620.00")
    with world.uow() as uow:
        after = services.add_quote(
            uow,
            world.actor(ANN),
            QuoteAsk("example.co.uk", product_code="archive", users=100),
            now=NOW + timedelta(days=91),
            settings=world.settings,
        )
    assert after.reward_margin_pct == 0
    assert count(world, Quote) == 4


def test_search_is_literal_and_scoped_to_partner(world: World) -> None:
    register(world, ANN, company_name="100% Pure_Water Ltd", domain="purewater.com")
    register(
        world,
        BOB,
        company_name="Contoso Widgets",
        domain="widgets.com",
        contact_phone="+1 415 555 0100",
    )
    register(world, ANN, company_name="Plain Water", domain="plainwater.com")
    ann, bob = world.actor(ANN), world.actor(BOB)
    with world.uow() as uow:
        assert [d.prospect.domain for d in services.search(uow.session, ann, "100%")] == [
            "purewater.com"
        ]
        assert services.search(uow.session, ann, "n_W") == []  # `_` is no wildcard
        assert len(services.search(uow.session, ann, "e_W")) == 1
        assert len(services.search(uow.session, ann, "water")) == 2
        assert services.search(uow.session, bob, "water") == []
        assert [d.number for d in services.search(uow.session, ann, "dr-000001")] == ["DR-000001"]
        assert services.search(uow.session, ann, "DR-000002") == []  # Bob's deal
        with pytest.raises(NotFound):
            services.show(uow.session, ann, "DR-000002")


def test_check_domain_never_names_the_other_partner(world: World) -> None:
    number = register(world, ANN).deal.number
    approve(world, number)
    bob, raj = world.actor(BOB), world.actor(RAJ)
    with world.uow() as uow:
        result = services.check_domain(uow.session, bob, "example.co.uk", NOW)
        mine = services.check_domain(uow.session, raj, "EXAMPLE.co.uk", NOW)
        new = services.check_domain(uow.session, bob, "fresh.io", NOW)
    assert result.status == "protected"
    assert result.protected_until == NOW + timedelta(days=90)
    assert "Northwind" not in repr(result) and "Example Holdings" not in repr(result)
    assert number not in repr(result)
    assert (mine.status, mine.your_deal) == ("yours", number)
    assert new.status == "free"


def test_every_transition_queues_an_email_in_the_same_transaction(world: World) -> None:
    number = register(world, ANN).deal.number
    approve(world, number)
    with world.uow() as uow:
        rows = uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        assert [r.template for r in rows] == ["registration_received", "deal_approved"]
        assert {r.to_addr for r in rows} == {ANN}


def test_invalid_registration_reports_every_field_and_stores_nothing(world: World) -> None:
    with pytest.raises(Invalid) as err:
        register(
            world,
            ANN,
            end_user_email="not-an-email",
            close_date="2020-01-01",
            number_of_users="0",
            product="Toaster",
            domain="localhost",
        )
    fields = {e.field for e in err.value.errors}
    assert {"end_user_email", "close_date", "number_of_users", "product", "domain"} <= fields
    assert count(world, Deal) == 0
    assert count(world, OutboxMessage) == 0


def test_expiry_lapses_approved_deal_once_and_tells_partner(world: World) -> None:
    number = register(world, ANN).deal.number
    approve(world, number)
    later = NOW + timedelta(days=91)
    assert services.expire_lapsed(world.uow, NOW + timedelta(days=89), world.settings) == []
    assert services.expire_lapsed(world.uow, later, world.settings) == [number]
    assert services.expire_lapsed(world.uow, later, world.settings) == []
    assert _stage(world, number) == "expired"
    assert count(world, OutboxMessage, OutboxMessage.template == "deal_expired") == 1


def test_extension_is_capped_by_setting(world: World) -> None:
    number = register(world, ANN).deal.number
    approve(world, number)
    with world.uow() as uow:
        services.request_extension(uow, world.actor(ANN), number, now=NOW, settings=world.settings)
    with world.uow() as uow:
        deal = services.decide_extension(
            uow, world.actor(REVIEWER), number, grant=True, now=NOW, settings=world.settings
        )
    assert deal.protection_expires_at == NOW + timedelta(days=90 + 30)
    with world.uow() as uow, pytest.raises(NotAllowed, match="limit is 1"):
        services.request_extension(uow, world.actor(ANN), number, now=NOW, settings=world.settings)


def test_a_rolled_back_registration_leaves_nothing_that_blocks_the_next(world: World) -> None:
    from core.uow import SavepointUnitOfWork

    actor = world.actor(ANN)
    with world.uow() as outer:
        session = outer.session
        undone = session.begin_nested()
        with SavepointUnitOfWork(session) as uow:
            factories.register(uow, actor, form(), now=NOW, settings=world.settings)
        undone.rollback()  # the batch's savepoint for this message is abandoned
        # SQLite hands the rolled-back ids out again; the session must not trip on them.
        with SavepointUnitOfWork(session) as uow:
            done = factories.register(uow, actor, form(), now=NOW, settings=world.settings)
        outer.commit()
    assert done.created
    with world.uow() as uow:
        deals = uow.session.scalars(select(Deal)).all()
        assert [d.number for d in deals] == [done.deal.number]
        assert deals[0].prospect.domain == "example.co.uk"


def _requests(world: World) -> list[services.Request]:
    """A batch with every case: new, own twin, rival (new and stored), replay."""
    from core.services.register import Request, validate

    ann, raj, bob, jana = (world.actor(e) for e in (ANN, RAJ, BOB, JANA))
    us = {
        "country": "US",
        "state": "CA",
        "postcode": "94105",
        "projected_value": "120000",
        "contact_phone": "+1 212 555 0100",
        "end_user_phone": "+1 415 555 0132",
    }
    de = {
        "country": "DE", "state": "BE", "postcode": "10115", "projected_value": "40.000",
        "contact_phone": "+49 30 1234567", "end_user_phone": "+49 30 901820",
    }  # fmt: skip
    raws = [
        (ann, form(domain="alpha.com"), None),
        (bob, form(domain="stored.com", **us), None),  # a rival of the deal stored first
        (raj, form(domain="www.alpha.com"), None),  # Ann's twin: same partner, same prospect
        (jana, form(domain="alpha.com", **de), None),  # a rival of Ann's, new in the batch
        (ann, form(domain="gamma.com"), "<once@partner>"),
        (ann, form(domain="gamma.com"), "<once@partner>"),  # a replay
        (jana, form(domain="alpha.com", product="Email Archive", **de), None),  # other product
    ]
    with world.uow() as uow:
        return [
            Request(actor, validate(uow.session, actor, raw, NOW), source_key=key)
            for actor, raw, key in raws
        ]


def _outcomes(world: World, results: list[services.Registered]) -> list[object]:
    out: list[object] = []
    for r in results:
        with world.uow() as uow:
            d = uow.session.scalars(select(Deal).where(Deal.number == r.deal.number)).one()
            events = [e.action for e in d.events]
            mails = uow.session.scalars(
                select(OutboxMessage.template).where(OutboxMessage.deal_id == d.id)
            ).all()
            rival = d.conflict_with.number if d.conflict_with else None
            out.append((r.created, d.number, d.prospect.domain, d.partner_id, rival, events, mails))
    return out


def test_registering_together_gives_each_the_outcome_it_would_have_alone(
    world: World, tmp_path_factory: pytest.TempPathFactory
) -> None:
    register(world, ANN, domain="stored.com")
    with world.uow() as uow:  # all in one transaction
        together = services.register(uow, _requests(world), now=NOW, settings=world.settings)

    tmp = tmp_path_factory.mktemp("alone")
    alone_world = World(f"sqlite:///{tmp}/db.sqlite", tmp)
    try:
        register(alone_world, ANN, domain="stored.com")
        alone: list[services.Registered] = []
        for request in _requests(alone_world):
            with alone_world.uow() as uow:
                alone += services.register(uow, [request], now=NOW, settings=alone_world.settings)
        expected = _outcomes(alone_world, alone)
    finally:
        alone_world.close()
    got = _outcomes(world, together)
    assert got == expected
    created = [o for o in got if o[0] is True]
    assert len(created) == 6  # alpha (Ann, Jana x2 products), stored (Bob), gamma + its replay
    alpha_rival = got[3]
    assert alpha_rival[4] == got[0][1]  # Jana's deal conflicts with Ann's, new in the batch
    assert got[1][4] is not None  # Bob's conflicts with the stored deal
    assert got[2][0] is False and got[2][1] == got[0][1]  # Raj gets Ann's deal back
    assert got[5][0] is True and got[5][1] == got[4][1]  # the replay finds its own deal
    assert got[5][5:] == (["register"], ["registration_received"])  # and announces nothing
