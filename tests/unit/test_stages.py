import pytest

from core.errors import NotAllowed
from core.stages import allowed_moves, next_stage


def test_happy_path_through_the_four_stages() -> None:
    stage = "opportunity"
    for action, expected in (
        ("approve", "approved"),
        ("start_order", "order_started"),
        ("submit_order", "order_submitted"),
    ):
        stage = next_stage(stage, action)
        assert stage == expected


@pytest.mark.parametrize(
    ("stage", "action"),
    [
        ("opportunity", "start_order"),
        ("approved", "approve"),
        ("order_submitted", "reject"),
        ("rejected", "approve"),
        ("expired", "start_order"),
        ("order_started", "expire"),
    ],
)
def test_illegal_move_names_current_stage_and_allowed_moves(stage: str, action: str) -> None:
    with pytest.raises(NotAllowed) as err:
        next_stage(stage, action)
    assert f"({stage})" in str(err.value)
    assert "allowed now:" in str(err.value)


def test_side_exits() -> None:
    assert next_stage("opportunity", "reject") == "rejected"
    assert next_stage("opportunity", "expire") == "expired"
    assert next_stage("approved", "expire") == "expired"
    assert next_stage("opportunity", "return") == "opportunity"


def test_terminal_stages_allow_nothing() -> None:
    assert allowed_moves("order_submitted") == []
    assert allowed_moves("rejected") == []
    assert allowed_moves("expired") == []


def test_a_refusal_names_the_deal_and_only_the_moves_of_the_person_refused() -> None:
    # A partner asking to start the order of a deal awaiting review: the deal desk's moves
    # (approve, reject, return) are not theirs to make, and an answer with no question is moot.
    with pytest.raises(NotAllowed) as partner:
        next_stage("opportunity", "start_order", "DR-000007", moot={"answer"})
    assert str(partner.value) == (
        "cannot start an order: the deal DR-000007 is at stage Opportunity (opportunity); "
        "allowed now: amend the registration, withdraw"
    )
    with pytest.raises(NotAllowed) as reviewer:
        next_stage("order_started", "approve", "DR-000007")
    assert str(reviewer.value).endswith("allowed now: withdraw")


def test_withdraw_is_a_side_exit_from_the_three_live_stages_only() -> None:
    for stage in ("opportunity", "approved", "order_started"):
        assert next_stage(stage, "withdraw") == "withdrawn"
    for stage in ("order_submitted", "rejected", "expired", "withdrawn"):
        with pytest.raises(NotAllowed, match="allowed now: none"):
            next_stage(stage, "withdraw")
    assert next_stage("approved", "amend") == "approved"  # an amendment keeps the stage
    assert "amend" not in allowed_moves("order_started")
