"""Deal search gives the same deals, in the same order, on SQLite (its trigram index) and on
PostgreSQL (ILIKE on pg_trgm indexes), and stays right as deals and prospects change."""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from core import schema
from core.models import Deal, DealEvent, InboundEmail, OutboxMessage, Prospect, Quote, Review
from core.services import queries
from core.services.actors import identify
from core.services.queries import search
from core.services.register import Request, register, validate
from core.services.review import approve
from tests.factories import ANN, BOB, NOW, REVIEWER, World, form

US = {  # Bob's partner is in the US, with its own sales lead
    "contact_phone": "+1 415 555 0100",
    "partner_sales_lead_name": "Bob Smith",
    "partner_sales_lead_email": "bob@contoso-partners.example",
}

# Registered in this order: DR-000001 ... DR-000008.
DEALS = (
    (ANN, "100% Pure_Water Ltd", "purewater.com"),
    (ANN, "Plain Water", "plainwater.com"),
    (ANN, "Müller Öl GmbH", "mueller-oel.de"),
    (ANN, 'O\'Brien "Quoted" Ltd', "obrien.ie"),
    (ANN, "Harbour Lights Ltd", "harbourlights.co.uk"),
    (BOB, "Contoso Widgets", "widgets.com"),
    (BOB, "Nightingale Holdings", "harbourlights.co.uk"),  # Ann's prospect, Bob's own name
    (BOB, "Crème Brûlée SA", "creme-brulee.fr"),
)

# (term, what the reviewer, Ann and Bob find): deal numbers' last digit, newest first.
# Their non-ASCII letters are stored in lower case: SQLite's LIKE folds ASCII case only.
CASES = (
    ("water", "21", "21", ""),
    ("WaTeR", "21", "21", ""),
    ("plain water", "2", "2", ""),
    ("100%", "1", "1", ""),  # `%` and `_` are literal
    ("n_W", "", "", ""),
    ("e_W", "1", "1", ""),
    ("%", "1", "1", ""),
    ("_", "1", "1", ""),
    ("e_", "1", "1", ""),
    ("wa", "21", "21", ""),
    ("A", "87521", "521", "87"),
    ("dr-000001", "1", "1", ""),
    ("DR-000007", "7", "", "7"),
    ("0000", "87654321", "54321", "876"),
    ("00006", "6", "", "6"),
    ("müller", "3", "3", ""),
    ("MÜLLER", "3", "3", ""),
    ("brûlée", "8", "", "8"),
    ("BRÛLÉE", "8", "", "8"),
    ("ème", "8", "", "8"),
    ("o'brien", "4", "4", ""),
    ('"Quoted"', "4", "4", ""),
    ('"quo', "4", "4", ""),
    ("'", "4", "4", ""),
    ('""', "", "", ""),
    ("Lights Ltd", "75", "5", ""),  # Bob cannot spell out Ann's name for the prospect
    ("lights.co", "75", "5", "7"),
    ("widgets.com", "6", "", "6"),
    ("https://www.Widgets.com/contact", "6", "", "6"),  # names the domain
    ("zzz", "", "", ""),
    ("wat*", "", "", ""),  # nor is anything else MATCH would read
    ('NEAR(water "x")', "", "", ""),
    ("{domain} : water", "", "", ""),
    ("ab\\c", "", "", ""),
)


def make_deals(world: World, deals: Iterable[tuple[str, str, str]]) -> None:
    """Register the deals in one unit of work, in order."""
    with world.uow() as uow:
        requests = []
        for email, name, domain in deals:
            actor = identify(uow.session, channel="cli", email=email)
            extra = US if email == BOB else {}
            values = validate(
                uow.session, actor, form(company_name=name, domain=domain, **extra), NOW
            )
            requests.append(Request(actor, values))
        register(uow, requests, now=NOW, settings=world.settings)
        uow.commit()


def found(
    world: World, cases: Iterable[tuple[str, ...]], *, stage: str | None = None, limit: int = 50
) -> dict[str, str]:
    """What each actor finds for each term, as the last digits of the deal numbers."""
    actors = {
        who: world.actor(email)
        for who, email in (("reviewer", REVIEWER), ("ann", ANN), ("bob", BOB))
    }
    out: dict[str, str] = {}
    with world.uow() as uow:
        for term, *_ in cases:
            for who, actor in actors.items():
                deals = search(uow.session, actor, term, stage=stage, limit=limit)
                out[f"{who} {term}"] = "".join(d.number[-1] for d in deals)
    return out


def expected(cases: Iterable[tuple[str, str, str, str]]) -> dict[str, str]:
    return {
        f"{who} {term}": digits
        for term, *by_actor in cases
        for who, digits in zip(("reviewer", "ann", "bob"), by_actor, strict=True)
    }


def delete_deal(world: World, number: str) -> None:
    """Delete a deal and every row that refers to it (nothing in the product deletes one)."""
    with world.uow() as uow:
        s = uow.session
        deal_id = s.scalar(select(Deal.id).where(Deal.number == number))
        s.execute(delete(DealEvent).where(DealEvent.deal_id == deal_id))
        s.execute(delete(OutboxMessage).where(OutboxMessage.deal_id == deal_id))
        s.execute(delete(Quote).where(Quote.deal_id == deal_id))
        s.execute(delete(Review).where(Review.deal_id == deal_id))
        s.execute(update(InboundEmail).where(InboundEmail.deal_id == deal_id).values(deal_id=None))
        s.execute(
            update(Deal).where(Deal.conflict_with_id == deal_id).values(conflict_with_id=None)
        )
        s.execute(delete(Deal).where(Deal.id == deal_id))
        uow.commit()


def test_search_finds_the_same_deals_in_the_same_order_on_both_databases(world: World) -> None:
    make_deals(world, DEALS)
    assert found(world, CASES) == expected(CASES)
    assert found(world, [("0000",)], limit=3) == {
        "reviewer 0000": "876",
        "ann 0000": "543",
        "bob 0000": "876",
    }
    with world.uow() as uow:
        approve(uow, world.actor(REVIEWER), "DR-000002", now=NOW, settings=world.settings)
    assert found(world, [("water",)], stage="approved") == {
        "reviewer water": "2",
        "ann water": "2",
        "bob water": "",
    }
    assert found(world, [("water",)], stage="opportunity")["ann water"] == "1"


def test_search_follows_changes_to_deals_and_prospects(world: World) -> None:
    make_deals(world, DEALS)
    with world.uow() as uow:
        uow.session.execute(
            update(Prospect)
            .where(Prospect.domain == "purewater.com")
            .values(company_name="Crystal Springs", domain="crystalsprings.com")
        )
        uow.session.execute(
            update(Deal).where(Deal.number == "DR-000002").values(company_name="Plain Fountain")
        )
        uow.commit()
    delete_deal(world, "DR-000004")
    delete_deal(world, "DR-000006")
    with world.uow() as uow:
        uow.session.execute(delete(Prospect).where(Prospect.domain == "widgets.com"))
        uow.commit()
    make_deals(world, [(ANN, "Quoted Again Ltd", "quotedagain.com")])  # DR-000009
    cases = (
        ("crystal", "1", "1", ""),  # Ann's own name for it is still Pure_Water: by domain
        ("Crystal Springs", "1", "", ""),
        ("springs.com", "1", "1", ""),
        ("pure_water", "", "", ""),
        ("purewater", "", "", ""),
        ("plain water", "2", "", ""),  # Ann's deal now says Plain Fountain
        ("fountain", "", "", ""),  # but the prospect does not
        ("quoted", "9", "9", ""),
        ("o'brien", "", "", ""),
        ("widgets", "", "", ""),
        ("0000", "9875321", "95321", "87"),
    )
    assert found(world, cases) == expected(cases)


@pytest.fixture
def sqlite_only(world: World) -> World:
    if world.engine.dialect.name != "sqlite":
        pytest.skip("the trigram index is SQLite's")
    return world


def test_sqlite_index_finds_what_a_scan_of_every_deal_finds(
    sqlite_only: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_deals(sqlite_only, DEALS)
    texts = [text for _email, name, domain in DEALS for text in (name, domain)]
    # Every 3- and 5-character piece of the stored texts, as stored and in other cases.
    pieces = {t[i : i + n] for t in texts for n in (3, 5) for i in range(len(t) - n + 1)}
    variants = sorted({v for p in pieces for v in (p, p.upper(), p.swapcase())})
    # A seeded sample of them (all of them take half a minute), and every listed case.
    terms = set(random.Random(1125).sample(variants, 200)) | {c[0] for c in CASES}
    cases = [(term,) for term in [*sorted(terms), "wat\0er"] if term.strip() == term]
    indexed = found(sqlite_only, cases)
    monkeypatch.setattr(queries, "_indexable", lambda term: False)
    assert found(sqlite_only, cases) == indexed


def test_sqlite_index_holds_each_deal_with_its_prospect_after_changes(sqlite_only: World) -> None:
    test_search_follows_changes_to_deals_and_prospects(sqlite_only)
    index, source = index_and_source(sqlite_only)
    assert len(index) == 7
    assert index == source


def test_upgrade_fills_the_sqlite_index_from_the_deals_already_there(sqlite_only: World) -> None:
    make_deals(sqlite_only, DEALS)
    schema.downgrade(sqlite_only.engine, "0005")  # before the index
    with sqlite_only.engine.connect() as conn:
        assert not conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE name LIKE 'deal_search%'"
        ).all()
    schema.upgrade(sqlite_only.engine)
    index, source = index_and_source(sqlite_only)
    assert len(index) == len(DEALS)
    assert index == source
    assert found(sqlite_only, CASES) == expected(CASES)


def index_and_source(world: World) -> tuple[list[Any], list[Any]]:
    """The rows of the trigram index (checked by FTS5 first), and what they should hold."""
    with world.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO deal_search (deal_search) VALUES ('integrity-check')")
        index = conn.exec_driver_sql(
            "SELECT rowid, number, company_name, prospect_name, domain FROM deal_search"
            " ORDER BY rowid"
        ).all()
        source = conn.exec_driver_sql(
            "SELECT d.id, d.number, d.company_name, p.company_name, p.domain FROM deals AS d"
            " JOIN prospects AS p ON p.id = d.prospect_id ORDER BY d.id"
        ).all()
    return list(index), list(source)
