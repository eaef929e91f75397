"""Who protects a prospect (`core.protection`), rule by rule on deals built in memory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.models import Deal, Prospect
from core.protection import check, own_protection, protector, protects, twin_and_rival

NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
DAY = timedelta(days=1)
ACME = Prospect(id=1, domain="acme.co.uk", skeleton="acme.co.uk")
LOOKALIKE = Prospect(id=2, domain="xn--cme-8cd.co.uk", skeleton="acme.co.uk")


def deal(
    id_: int,
    partner: int,
    stage: str = "opportunity",
    *,
    until: datetime | None = None,
    approved: datetime | None = None,
    prospect: Prospect = ACME,
    product: int = 1,
) -> Deal:
    return Deal(
        id=id_,
        number=f"DR-{id_:06d}",
        partner_id=partner,
        stage=stage,
        protection_expires_at=until,
        approved_at=approved or (NOW - DAY if stage == "approved" else None),
        prospect=prospect,
        prospect_id=prospect.id,
        product_id=product,
    )


def test_a_deal_protects_while_approved_and_before_its_end() -> None:
    assert protects(deal(1, 1, "approved", until=NOW + DAY), NOW)
    assert not protects(deal(1, 1, "approved", until=NOW), NOW)  # the end is exclusive
    assert not protects(deal(1, 1, "opportunity", until=NOW + DAY), NOW)
    assert not protects(deal(1, 1, "order_started", until=NOW + DAY), NOW)


def test_of_two_protecting_deals_the_first_approved_wins_whatever_its_id() -> None:
    later = deal(1, 1, "approved", until=NOW + DAY, approved=NOW - DAY)
    first = deal(2, 2, "approved", until=NOW + DAY, approved=NOW - 2 * DAY)
    lapsed = deal(3, 3, "approved", until=NOW - DAY, approved=NOW - 9 * DAY)
    assert protector([later, first, lapsed], NOW) is first
    assert protector([lapsed], NOW) is None


def test_the_partners_own_deal_is_its_twin_and_an_approved_rival_comes_first() -> None:
    deals = [deal(1, 2), deal(2, 3, "approved", until=NOW + 5 * DAY), deal(3, 1)]
    twin, rival = twin_and_rival(deals, ACME, partner_id=1, now=NOW)
    assert twin is deals[2] and rival is deals[1]


def test_without_an_approved_rival_the_oldest_live_one_is_the_rival() -> None:
    deals = [deal(1, 2), deal(2, 3)]
    assert twin_and_rival(deals, ACME, partner_id=1, now=NOW) == (None, deals[0])


def test_a_lapsed_protection_is_no_rival() -> None:
    lapsed = deal(1, 2, "approved", until=NOW - timedelta(seconds=1))
    assert twin_and_rival([lapsed], ACME, partner_id=1, now=NOW) == (None, None)


def test_a_lookalike_deal_is_a_rival_but_never_a_twin() -> None:
    own_on_lookalike = deal(1, 1, prospect=LOOKALIKE)
    other_on_lookalike = deal(2, 2, prospect=LOOKALIKE)
    twin, rival = twin_and_rival([own_on_lookalike, other_on_lookalike], ACME, 1, NOW)
    assert twin is None and rival is other_on_lookalike


def test_the_partners_protection_is_lost_to_a_lookalike_approved_before_it() -> None:
    mine = deal(1, 1, "approved", until=NOW + 30 * DAY, approved=NOW - DAY)
    theirs = deal(2, 2, "approved", until=NOW + 5 * DAY, approved=NOW - 2 * DAY, prospect=LOOKALIKE)
    assert own_protection([mine, theirs], 1, ACME.id, NOW) is None
    other_product = deal(3, 2, "approved", until=NOW + 5 * DAY, approved=NOW - 3 * DAY, product=2)
    assert own_protection([mine, other_product], 1, ACME.id, NOW) is mine


def test_of_the_partners_protecting_deals_the_longest_protected_is_theirs() -> None:
    short = deal(1, 1, "approved", until=NOW + DAY)
    long = deal(2, 1, "approved", until=NOW + 40 * DAY, product=2)
    pending = deal(3, 1)
    assert own_protection([short, long, pending], 1, ACME.id, NOW) is long
    assert own_protection([pending], 1, ACME.id, NOW) is None


def test_a_check_says_yours_protected_or_free_and_never_whose() -> None:
    mine = deal(1, 1)
    theirs = deal(2, 2, "approved", until=NOW + 9 * DAY, prospect=LOOKALIKE)
    assert check([mine, theirs], "acme.co.uk", 1, NOW).your_deal == "DR-000001"
    told = check([theirs], "acme.co.uk", 1, NOW)
    assert (told.status, told.protected_until, told.your_deal) == ("protected", NOW + 9 * DAY, None)
    assert check([deal(3, 2)], "acme.co.uk", 1, NOW).status == "free"  # not approved yet
    assert check([], "acme.co.uk", None, NOW).status == "free"
