"""The check every recorded Slack payload goes through refuses what Slack refuses."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackObjectFormationError

from tests.slack_fake import Call, assert_valid_block_kit


def message(blocks: list[dict[str, object]]) -> Call:
    return Call("chat.postMessage", {"channel": "C1", "blocks": blocks}, 0.0)


def test_valid_blocks_pass() -> None:
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "*DR-000001* approved"}}
    assert_valid_block_kit([message([section])])


@pytest.mark.parametrize(
    "block",
    [
        {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}},  # over 3,000
        {"type": "header", "text": {"type": "plain_text", "text": "x" * 151}},  # over 150
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "deal_approve",
                    "text": {"type": "plain_text", "text": "x" * 76},  # over 75
                    "value": "DR-000001",
                }
            ],
        },
    ],
)
def test_blocks_slack_refuses_fail_the_check(block: dict[str, object]) -> None:
    with pytest.raises((SlackObjectFormationError, AssertionError)):
        assert_valid_block_kit([message([block])])
