"""The deal's own rules (`Deal.approve`, `reject`, extensions, orders): no database needed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.errors import Invalid, NotAllowed
from core.models import Deal, Quote

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def deal(stage: str = "opportunity", **values: object) -> Deal:
    return Deal(**{"number": "DR-000007", "stage": stage, "extensions_granted": 0, **values})


def approved(**values: object) -> Deal:
    return deal("approved", protection_expires_at=NOW + 10 * DAY, **values)


def test_approving_protects_from_now_and_names_the_reviewer() -> None:
    one = deal()
    one.approve("desk@vendor.example", NOW, 90 * DAY)
    assert (one.stage, one.approved_at, one.protection_expires_at, one.reviewed_by) == (
        "approved",
        NOW,
        NOW + 90 * DAY,
        "desk@vendor.example",
    )
    assert one.updated_at == NOW


def test_a_move_the_stage_does_not_allow_is_refused_naming_what_is_allowed() -> None:
    one = deal("rejected")
    with pytest.raises(NotAllowed, match="allowed now: none"):
        one.approve("desk@vendor.example", NOW, 90 * DAY)
    assert one.stage == "rejected" and one.approved_at is None


def test_rejecting_keeps_the_reason_and_the_note() -> None:
    one = deal()
    one.reject("desk@vendor.example", "duplicate", "seen before", NOW)
    assert (one.stage, one.reject_reason, one.review_note) == (
        "rejected",
        "duplicate",
        "seen before",
    )


def test_an_answer_closes_the_open_question_and_needs_one() -> None:
    one = deal(last_nudged_at=NOW - DAY)
    with pytest.raises(NotAllowed, match="no open question"):
        one.answer(NOW)
    one.return_for_info("Which tenant?", NOW)
    assert one.answer(NOW) == "Which tenant?"
    assert (one.stage, one.returned_question, one.last_nudged_at) == ("opportunity", None, None)


def test_asking_twice_for_an_extension_is_one_request() -> None:
    one = approved()
    assert one.request_extension(NOW, limit=2) is True
    assert one.request_extension(NOW + DAY, limit=2) is False
    assert one.extension_requested_at == NOW


def test_an_extension_runs_from_the_end_or_from_now_whichever_is_later() -> None:
    one = approved(extension_requested_at=NOW)
    assert one.grant_extension(NOW, 30 * DAY, limit=2) == NOW + 10 * DAY
    assert one.protection_expires_at == NOW + 40 * DAY
    assert (one.extensions_granted, one.extension_requested_at) == (1, None)
    late = approved()
    late.protection_expires_at = NOW - DAY  # lapsed, not yet expired by the job
    late.grant_extension(NOW, 30 * DAY, limit=2)
    assert late.protection_expires_at == NOW + 30 * DAY


@pytest.mark.parametrize("move", ["request", "grant"])
def test_the_extension_limit_holds_for_asking_and_for_granting(move: str) -> None:
    one = approved(extensions_granted=2)
    with pytest.raises(NotAllowed, match="already had 2 extension"):
        if move == "request":
            one.request_extension(NOW, limit=2)
        else:
            one.grant_extension(NOW, 30 * DAY, limit=2)
    assert one.extensions_granted == 2


def test_declining_needs_a_pending_request() -> None:
    one = approved()
    with pytest.raises(NotAllowed, match="no extension request"):
        one.decline_extension(NOW)
    one.request_extension(NOW, limit=2)
    one.decline_extension(NOW)
    assert one.extension_requested_at is None and one.stage == "approved"


def test_an_order_starts_only_while_protected_and_is_submitted_with_a_po() -> None:
    quote = Quote(id=3, number="Q-000003")
    lapsed = approved()
    lapsed.protection_expires_at = NOW
    with pytest.raises(NotAllowed, match="protection lapsed"):
        lapsed.start_order(quote, NOW)
    one = approved()
    one.start_order(quote, NOW)
    assert (one.stage, one.order_quote_id) == ("order_started", 3)
    with pytest.raises(Invalid, match="po_number"):
        one.submit_order("  ", NOW)
    one.submit_order(" PO-7781 ", NOW)
    assert (one.stage, one.po_number) == ("order_submitted", "PO-7781")


def test_expiry_ends_an_active_deal_only() -> None:
    one = deal()
    one.expire(NOW)
    assert one.stage == "expired"
    with pytest.raises(NotAllowed):
        one.expire(NOW)
