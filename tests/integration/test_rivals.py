"""A registration is a claim: lookalike domains conflict with the original, and no rival
partner learns anything about another's registration. Services on SQLite and PostgreSQL,
then the Slack bot over signed HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import inspect, select, text

from core.db import make_engine
from core.errors import Conflict, NotAllowed
from core.models import Deal, OutboxMessage, Prospect
from core.schema import alembic_config
from core.services.orders import QuoteAsk
from core.services.register import Request, validate
from tests import factories, services
from tests.factories import ANN, BOB, JANA, NOW, REVIEWER, World, form
from tests.integration.bot_harness import BotHarness
from tests.slack_fake import FakeSlack

HARBOUR = "harbourlights.co.uk"
LOOKALIKE = "h\u0430rbourlights.co.uk"  # a Cyrillic а: identical to the eye
LOOKALIKE_ACE = "xn--hrbourlights-x9j.co.uk"
SECRET = "nightingale-secret.com"
SECRET_NAME = "Project Nightingale Holdings"
US = {  # Bob's partner is in the US; its own sales lead, not the form's default
    "contact_phone": "+1 415 555 0100",
    "partner_sales_lead_name": "Bob Smith",
    "partner_sales_lead_email": "bob@contoso-partners.example",
}
DE = {
    "contact_phone": "+49 30 1234567",
    "end_user_phone": "+49 30 901820",
    "projected_value": "€40.000",
}


def register(world: World, email: str, **changes: Any) -> Deal:
    with world.uow() as uow:
        done = factories.register(
            uow, world.actor(email), form(**changes), now=NOW, settings=world.settings
        )
        return done.deal


def approve(world: World, number: str) -> Deal:
    with world.uow() as uow:
        deal, _ = services.approve(
            uow, world.actor(REVIEWER), number, now=NOW, settings=world.settings
        )
        return deal


def stage(world: World, number: str) -> str:
    with world.uow() as uow:
        return str(uow.session.scalar(select(Deal.stage).where(Deal.number == number)))


# -- lookalike domains ---------------------------------------------------------------------


def test_a_lookalike_domain_is_registered_as_a_conflict_with_the_original(world: World) -> None:
    kestrel = register(world, ANN, domain=HARBOUR)
    bluefin = register(world, BOB, domain=LOOKALIKE, **US)
    assert bluefin.prospect.domain == LOOKALIKE_ACE != kestrel.prospect.domain
    assert bluefin.conflict_with is not None
    assert bluefin.conflict_with.number == kestrel.number
    with world.uow() as uow:
        events = uow.session.get_one(Deal, bluefin.id).events
        assert events[0].details["conflict_with"] == kestrel.number


def test_the_original_registered_second_conflicts_with_the_lookalike(world: World) -> None:
    bluefin = register(world, BOB, domain=LOOKALIKE, **US)
    kestrel = register(world, ANN, domain=HARBOUR)
    assert kestrel.conflict_with is not None
    assert kestrel.conflict_with.number == bluefin.number


def test_a_lookalike_cannot_be_approved_while_the_original_is(world: World) -> None:
    kestrel = register(world, ANN, domain=HARBOUR)
    bluefin = register(world, BOB, domain=LOOKALIKE, **US)
    approve(world, kestrel.number)
    with pytest.raises(Conflict) as refused:
        approve(world, bluefin.number)
    assert kestrel.number in refused.value.message
    assert LOOKALIKE_ACE in refused.value.message and "looks like" in refused.value.message
    assert stage(world, bluefin.number) == "opportunity"


def test_the_original_cannot_be_approved_while_a_lookalike_is(world: World) -> None:
    kestrel = register(world, ANN, domain=HARBOUR)
    bluefin = register(world, BOB, domain=LOOKALIKE, **US)
    approve(world, bluefin.number)
    with pytest.raises(Conflict, match=bluefin.number):
        approve(world, kestrel.number)


def test_lookalikes_in_one_batch_conflict_as_if_registered_one_by_one(world: World) -> None:
    ann, bob, jana = (world.actor(e) for e in (ANN, BOB, JANA))
    raws = [(ann, form(domain=HARBOUR)), (bob, form(domain=LOOKALIKE, **US))]
    raws.append((jana, form(domain=f"mail.{LOOKALIKE}", **DE)))
    with world.uow() as uow:
        requests = [Request(a, validate(uow.session, a, raw, NOW)) for a, raw in raws]
        got = services.register(uow, requests, now=NOW, settings=world.settings)
        numbers = [r.deal.number for r in got]
        rivals = [r.deal.conflict_with for r in got]
    assert rivals[0] is None
    assert rivals[1] is not None and rivals[1].number == numbers[0]
    assert rivals[2] is not None and rivals[2].number == numbers[0]
    with world.uow() as uow:  # Jana's subdomain is the lookalike's prospect, not a third
        assert len(uow.session.scalars(select(Prospect)).all()) == 2


def test_check_of_a_lookalike_says_protected_until_the_originals_end(world: World) -> None:
    kestrel = register(world, ANN, domain=HARBOUR)
    approve(world, kestrel.number)
    with world.uow() as uow:
        check = services.check_domain(uow.session, world.actor(BOB), LOOKALIKE, NOW)
    assert (check.status, check.protected_until) == ("protected", NOW + timedelta(days=90))
    assert check.your_deal is None and kestrel.number not in repr(check)


def test_a_lookalike_approved_before_the_check_existed_earns_no_reward_margin(
    world: World,
) -> None:
    kestrel = register(world, ANN, domain=HARBOUR)
    bluefin = register(world, BOB, domain=LOOKALIKE, **US)
    approve(world, kestrel.number)
    with world.uow() as uow:  # the lookalike as stored before skeletons were compared
        skeleton = uow.session.get_one(Prospect, bluefin.prospect_id).skeleton
        uow.session.execute(
            text("UPDATE prospects SET skeleton = domain WHERE id = :id"),
            {"id": bluefin.prospect_id},
        )
        uow.commit()
    with world.uow() as uow:
        services.approve(
            uow, world.actor(REVIEWER), bluefin.number, now=NOW + timedelta(hours=1),
            settings=world.settings,
        )  # fmt: skip
    with world.uow() as uow:  # the skeleton filled in, as the migration does
        uow.session.get_one(Prospect, bluefin.prospect_id).skeleton = skeleton
        uow.commit()
    later = NOW + timedelta(days=1)
    assert _quote_margin(world, BOB, LOOKALIKE, later) == 0
    assert _quote_margin(world, ANN, HARBOUR, later) > 0


def _quote_margin(world: World, email: str, domain: str, when: datetime) -> Any:
    with world.uow() as uow:
        ask = QuoteAsk(domain, product_code="email_security", users=10)
        quote = services.add_quote(uow, world.actor(email), ask, now=when, settings=world.settings)
        return quote.reward_margin_pct


def test_an_all_cyrillic_domain_registers_and_is_approved_like_any_other(world: World) -> None:
    deal = register(world, JANA, domain="пример.рф", **DE)
    other = register(world, BOB, domain="пример.com", **US)
    assert deal.conflict_with is None and other.conflict_with is None
    assert approve(world, deal.number).stage == "approved"


def test_the_migration_fills_in_the_skeleton_of_existing_prospects(
    db_url: str, tmp_path: Path
) -> None:
    engine = make_engine(db_url)
    cfg = alembic_config(db_url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
        for domain in (HARBOUR, LOOKALIKE_ACE, "example.com"):
            conn.execute(
                text(
                    "INSERT INTO prospects (domain, company_name, created_at) "
                    "VALUES (:d, 'Old Ltd', :at)"
                ),
                {"d": domain, "at": NOW},
            )
        command.upgrade(cfg, "head")
    with engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT domain, skeleton FROM prospects")).all())
        indexes = {i["name"]: i["column_names"] for i in inspect(conn).get_indexes("prospects")}
        column = next(c for c in inspect(conn).get_columns("prospects") if c["name"] == "skeleton")
    engine.dispose()
    assert rows[HARBOUR] == rows[LOOKALIKE_ACE] == HARBOUR
    assert rows["example.com"] == "exarnple.corn"  # a key for comparing, never shown
    assert indexes["ix_prospects_skeleton"] == ["skeleton"]
    assert column["nullable"] is False


# -- rivals learn nothing ------------------------------------------------------------------


def test_a_rival_learns_nothing_from_check_prospect_or_search(world: World) -> None:
    kestrel = register(world, ANN, domain=SECRET, company_name=SECRET_NAME)
    bob = world.actor(BOB)
    with world.uow() as uow:
        check = services.check_domain(uow.session, bob, SECRET, NOW)
        page = services.prospect_page(uow.session, bob, SECRET, NOW)
        unknown = services.prospect_page(uow.session, bob, "nobody-registered.com", NOW)
        found = services.search(uow.session, bob, "Nightingale")
    assert (check.status, check.protected_until, check.your_deal) == ("free", None, None)
    assert "Nightingale" not in repr(check) and kestrel.number not in repr(check)
    # The same page as for a domain no one registered.
    assert (page.company_name, page.deals, page.quotes) == (None, [], [])
    assert (unknown.company_name, unknown.check.status) == (None, "free")
    assert found == []


def test_a_rivals_own_registration_shows_only_what_it_typed(world: World) -> None:
    kestrel = register(world, ANN, domain=SECRET, company_name=SECRET_NAME)
    approve(world, kestrel.number)
    bluefin = register(world, BOB, domain=SECRET, company_name="NS Corp", **US)
    bob, desk_actor = world.actor(BOB), world.actor(REVIEWER)
    with world.uow() as uow:
        view = services.deal_view(services.show(uow.session, bob, bluefin.number), bob)
        page = services.prospect_page(uow.session, bob, SECRET, NOW)
        by_rival_name = services.search(uow.session, bob, "Holdings")
        by_domain = services.search(uow.session, bob, "nightingale")
        desk = services.deal_view(
            services.show(uow.session, desk_actor, bluefin.number), desk_actor
        )
        mail = uow.session.scalars(
            select(OutboxMessage).where(OutboxMessage.deal_id == bluefin.id)
        ).all()
    shown = json.dumps(view)
    assert view["prospect"] == {"company_name": "NS Corp", "domain": SECRET}
    assert "conflict_with" not in view
    assert kestrel.number not in shown and "Nightingale" not in shown
    assert (page.company_name, [d.number for d in page.deals]) == ("NS Corp", [bluefin.number])
    assert page.check.status == "yours"
    assert by_rival_name == [] and [d.number for d in by_domain] == [bluefin.number]
    assert desk["conflict_with"] == kestrel.number  # the deal desk sees the conflict
    assert mail and all("NS Corp" in m.subject and "Nightingale" not in m.body_text for m in mail)


def test_a_partner_asking_to_approve_is_refused_before_any_rival_is_named(world: World) -> None:
    kestrel = register(world, ANN, domain=SECRET, company_name=SECRET_NAME)
    approve(world, kestrel.number)
    bluefin = register(world, BOB, domain=SECRET, **US)
    with world.uow() as uow, pytest.raises(NotAllowed) as refused:
        services.approve(uow, world.actor(BOB), bluefin.number, now=NOW, settings=world.settings)
    assert "only reviewers" in refused.value.message
    assert kestrel.number not in refused.value.message


# -- the same over Slack -------------------------------------------------------------------


def slack_register(world: World, email: str, settings: Any, **changes: Any) -> str:
    with world.uow() as uow:
        done = factories.register(
            uow, world.actor(email, "slack"), form(**changes), now=datetime.now(UTC),
            settings=settings,
        )  # fmt: skip
        return done.deal.number


def slack_approve(world: World, number: str, settings: Any) -> None:
    with world.uow() as uow:
        services.approve(
            uow, world.actor(REVIEWER), number, now=datetime.now(UTC), settings=settings
        )


def texts(params: dict[str, Any]) -> str:
    return json.dumps({k: params.get(k) for k in ("text", "blocks", "view")}, ensure_ascii=False)


def ask(bot: BotHarness, slack: FakeSlack, user: str, command_text: str) -> str:
    """Run `/deal TEXT` as `user` and return everything the answer shows."""
    before = len(slack.calls_to("response_url"))
    assert bot.command(user, command_text).status == 200
    slack.wait_for("response_url", lambda p: len(slack.calls_to("response_url")) > before)
    return texts(slack.calls_to("response_url")[before].params)


def review_post(slack: FakeSlack, number: str) -> str:
    post = slack.wait_for(
        "chat.postMessage", lambda p: p["channel"] == "#deal-desk" and number in p["text"]
    )
    return texts(post)


def test_the_review_card_of_a_lookalike_shows_both_forms_and_the_original(
    bot: BotHarness, sqlite_world: World, slack: FakeSlack
) -> None:
    settings = bot.app.settings
    kestrel = slack_register(sqlite_world, ANN, settings, domain=HARBOUR)
    bluefin = slack_register(sqlite_world, BOB, settings, domain=LOOKALIKE, **US)
    bot.deliver()
    card = review_post(slack, bluefin)
    assert f"{LOOKALIKE} ({LOOKALIKE_ACE})" in card
    assert f"looks like {HARBOUR}, another partner's registration {kestrel}" in card
    assert "Suspicious domain" in card and "mixes Latin and Cyrillic letters" in card

    slack_approve(sqlite_world, kestrel, settings)
    bot.click("U0REVIEW", "deal_approve", bluefin)
    told = slack.wait_for("chat.postEphemeral", lambda p: p["user"] == "U0REVIEW")
    assert kestrel in told["text"] and "looks like" in told["text"]
    assert stage(sqlite_world, bluefin) == "opportunity"


def test_a_mixed_script_domain_with_no_lookalike_is_still_flagged_to_reviewers(
    bot: BotHarness, sqlite_world: World, slack: FakeSlack
) -> None:
    settings = bot.app.settings
    mixed = slack_register(sqlite_world, BOB, settings, domain="ex\u0430mple-shop.com", **US)
    cyrillic = slack_register(sqlite_world, ANN, settings, domain="пример.рф")
    bot.deliver()
    card = review_post(slack, mixed)
    assert "Suspicious domain" in card and "mixes Latin and Cyrillic letters" in card
    assert "xn--" in card and "Conflict" not in card and "Lookalike" not in card
    assert "Suspicious" not in review_post(slack, cyrillic)


def test_slack_tells_a_rival_only_free_or_protected_and_shows_its_own_name(
    bot: BotHarness, sqlite_world: World, slack: FakeSlack
) -> None:
    settings = bot.app.settings
    kestrel = slack_register(sqlite_world, ANN, settings, domain=SECRET, company_name=SECRET_NAME)
    secrets = ("Nightingale Holdings", kestrel, "Northwind", "northwind", "Ann Lee")

    check = ask(bot, slack, "U02BOB", f"check {SECRET}")
    prospect = ask(bot, slack, "U02BOB", f"prospect {SECRET}")
    assert "is free to register" in check and "is free to register" in prospect
    bot.command("U02BOB", "register")
    view = slack.wait_for("views.update", lambda p: p["view"]["callback_id"] == "deal_register")
    bot.view_action("U02BOB", view["view"] | {"id": view["view_id"]}, "domain", SECRET)
    verified = texts(slack.wait_for("views.update", lambda p: "Domain verified" in texts(p)))
    assert "is free to register" in verified

    slack_approve(sqlite_world, kestrel, settings)
    protected = ask(bot, slack, "U02BOB", f"check {SECRET}")
    assert "is protected by another partner until" in protected
    for shown in (check, prospect, verified, protected):
        assert not [s for s in secrets if s in shown]

    bluefin = slack_register(
        sqlite_world, BOB, settings, domain=SECRET, company_name="NS Corp", **US
    )
    bot.deliver()
    dm = texts(slack.wait_for("chat.postMessage", lambda p: p["channel"] == "DU02BOB"))
    own = [
        dm,
        ask(bot, slack, "U02BOB", f"show {bluefin}"),
        ask(bot, slack, "U02BOB", "search nightingale"),
    ]
    own.append(ask(bot, slack, "U02BOB", f"prospect {SECRET}"))
    for shown in own:
        assert "NS Corp" in shown and not [s for s in secrets if s in shown]
    assert f"already yours: {bluefin}" in own[-1]
