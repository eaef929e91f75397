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
