"""`dealreg deals amend|amendment|withdraw` and what `deals show`, `deals list` and `status`
say of a changed or ended deal, on SQLite and PostgreSQL (commands run in this process, as
in test_cli.py)."""

from __future__ import annotations

import pytest

from core.fields import STAGES, WITHDRAW_REASONS
from dealreg.arguments import STAGE_CODES, WITHDRAW_CODES
from tests.factories import ANN, BOB, REVIEWER, form
from tests.integration.test_cli import Cli


def registered(cli: Cli, *, approved: bool = False) -> str:
    reg = cli.write("reg.json", form())
    number: str = cli.json("deals", "register", "--partner", "Northwind IT", "--file", reg)[
        "number"
    ]
    if approved:
        cli.ok("deals", "approve", number, "--reviewer", REVIEWER)
    return number


def test_the_choices_written_into_the_arguments_are_the_cores() -> None:
    assert tuple(STAGES) == STAGE_CODES
    assert tuple(WITHDRAW_REASONS) == WITHDRAW_CODES


def test_amend_at_opportunity_applies_at_once_and_is_audited(cli: Cli) -> None:
    number = registered(cli)
    out = cli.ok(
        "deals", "amend", number, "--by", ANN,
        "--set", "number_of_users=300", "--set", "contact_name=Ann Lee-Smith",
    )  # fmt: skip
    assert out.splitlines() == [  # in the form's order
        f"{number}: changed",
        "  Contact Name: Sam Carter → Ann Lee-Smith",
        "  Number of Users: 250 → 300",
    ]
    view = cli.json("deals", "show", number)
    assert (view["number_of_users"], view["contact_name"]) == (300, "Ann Lee-Smith")
    assert view["stage"] == "opportunity" and view["amendment"] is None
    [entry] = [h for h in view["history"] if h["action"] == "amend"]
    assert entry["details"] == {
        "number_of_users": [250, 300],
        "contact_name": ["Sam Carter", "Ann Lee-Smith"],
    }
    assert (entry["actor"], entry["channel"]) == (ANN, "cli")

    again = cli.ok("deals", "amend", number, "--by", ANN, "--set", "number_of_users=300")
    assert again.strip() == f"{number}: nothing to change"
    assert [h["action"] for h in cli.json("deals", "show", number)["history"]].count("amend") == 1


def test_amend_from_a_file_prints_json_of_what_applied(cli: Cli) -> None:
    number = registered(cli)
    changes = cli.write(
        "changes.json", {"project_priority": "critical", "close_date": "2027-06-30"}
    )
    done = cli.json("deals", "amend", number, "--by", ANN, "--file", changes)
    assert done["applied"] == {
        "close_date": ["2027-03-31", "2027-06-30"],
        "project_priority": ["high", "critical"],
    }
    assert done["requested"] == {}
    assert (done["project_priority"], done["close_date"]) == ("critical", "2027-06-30")


def test_amend_arguments_are_checked_before_anything_runs(cli: Cli) -> None:
    number = registered(cli)
    no_eq = cli("deals", "amend", number, "--by", ANN, "--set", "number_of_users")
    assert no_eq.returncode == 2 and "'number_of_users' is not FIELD=VALUE" in no_eq.stderr
    both = cli.write("c.json", {"number_of_users": 5})
    exclusive = cli("deals", "amend", number, "--by", ANN, "--set", "a=b", "--file", both)
    assert exclusive.returncode == 2 and "not allowed with" in exclusive.stderr
    (cli.tmp / "list.json").write_text("[1, 2]")
    not_object = cli("deals", "amend", number, "--by", ANN, "--file", "list.json")
    assert not_object.returncode == 1 and "must hold a JSON object" in not_object.stderr


def test_bad_values_name_every_field_with_its_label_and_change_nothing(cli: Cli) -> None:
    number = registered(cli)
    bad = cli(
        "deals", "amend", number, "--by", ANN,
        "--set", "number_of_users=lots", "--set", "end_user_email=nope",
        "--set", "contact_name=Someone Else", "--set", "colour=blue",
    )  # fmt: skip
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert "dealreg: colour: is not a registration field" in bad.stderr
    bad = cli(
        "deals", "amend", number, "--by", ANN,
        "--set", "number_of_users=lots", "--set", "end_user_email=nope",
        "--set", "contact_name=Someone Else",
    )  # fmt: skip
    assert bad.returncode == 1
    lines = bad.stderr.splitlines()
    assert any(
        s.startswith("dealreg: number_of_users: Number of Users 'lots' is not") for s in lines
    )
    assert any(s.startswith("dealreg: end_user_email: Email is not") for s in lines)
    view = cli.json("deals", "show", number)
    assert view["contact_name"] == "Sam Carter"  # all or nothing
    assert "amend" not in [h["action"] for h in view["history"]]


def test_claim_change_at_approved_is_a_request_the_desk_approves(cli: Cli) -> None:
    number = registered(cli, approved=True)
    before = cli.json("deals", "show", number)
    [first_quote] = before["quotes"]
    out = cli.ok(
        "deals", "amend", number, "--by", ANN,
        "--set", "number_of_users=300", "--set", "end_user_position=CIO",
    )  # fmt: skip
    assert out.splitlines() == [
        f"{number}: changed",
        "  Position: Head of IT → CIO",
        f"{number}: asked of the deal desk (applies once approved)",
        "  Number of Users: 250 → 300",
    ]
    view = cli.json("deals", "show", number)
    assert view["amendment"] == {"number_of_users": [250, 300]}
    assert view["number_of_users"] == 250 and view["end_user_position"] == "CIO"
    shown = cli.ok("deals", "show", number)
    assert "Amendment awaiting the deal desk: Number of Users: 250 → 300" in shown
    twice = cli("deals", "amend", number, "--by", ANN, "--set", "number_of_users=400")
    assert twice.returncode == 1 and "already has an amendment request" in twice.stderr
    assert "amendment requests awaiting the deal desk: 1" in cli.ok("status")

    partner = cli("deals", "amendment", number, "approve", "--reviewer", ANN)
    assert partner.returncode == 1 and "only reviewers" in partner.stderr
    approved = cli.ok("deals", "amendment", number, "approve", "--reviewer", REVIEWER)
    view = cli.json("deals", "show", number)
    old, new = view["quotes"]
    assert old["number"] == first_quote["number"] and old["status"] == "superseded"
    assert new["status"] == "valid" and new["number_of_users"] == 300
    assert approved.splitlines()[:2] == [
        f"{number}: amendment approved",
        "  Number of Users: 250 → 300",
    ]
    assert f"new quote {new['number']}: GBP {new['total']}" in approved
    assert view["number_of_users"] == 300 and view["amendment"] is None
    assert view["protection_expires_at"] == before["protection_expires_at"]
    shown = cli.ok("deals", "show", number).splitlines()
    assert f"quote {old['number']} (valid until {old['valid_until']}): superseded" in shown
    assert f"quote {new['number']} (valid until {new['valid_until']}): valid" in shown
    assert "amendment requests awaiting the deal desk: 0" in cli.ok("status")
    assert "amend_approved" in [h["action"] for h in view["history"]]


def test_the_desk_declines_an_amendment_with_a_note(cli: Cli) -> None:
    number = registered(cli, approved=True)
    cli.ok("deals", "amend", number, "--by", ANN, "--set", "number_of_users=900")
    declined = cli.json(
        "deals", "amendment", number, "decline", "--reviewer", REVIEWER, "--note", "Too many"
    )
    assert declined["decision"] == "declined" and declined["quote"] is None
    assert declined["changes"] == {"number_of_users": [250, 900]}
    view = cli.json("deals", "show", number)
    assert view["number_of_users"] == 250 and view["amendment"] is None
    assert [q["status"] for q in view["quotes"]] == ["valid"]
    [entry] = [h for h in view["history"] if h["action"] == "amend_declined"]
    assert entry["details"]["note"] == "Too many"
    nothing = cli("deals", "amendment", number, "approve", "--reviewer", REVIEWER)
    assert nothing.returncode == 1 and "no amendment request" in nothing.stderr


def test_amend_after_the_order_started_is_refused_naming_the_stage(cli: Cli) -> None:
    number = registered(cli, approved=True)
    cli.ok("deals", "advance", number, "--by", ANN)
    refused = cli("deals", "amend", number, "--by", ANN, "--set", "number_of_users=300")
    assert refused.returncode == 1 and "Start Order" in refused.stderr
    assert refused.stderr.count("\n") == 1
    assert cli.json("deals", "show", number)["number_of_users"] == 250


def test_a_rival_partner_can_neither_amend_nor_withdraw(cli: Cli) -> None:
    number = registered(cli)
    amend = cli("deals", "amend", number, "--by", BOB, "--set", "number_of_users=1")
    assert amend.returncode == 1 and f"no deal {number}" in amend.stderr
    end = cli("deals", "withdraw", number, "--by", BOB, "--reason", "no_budget")
    assert end.returncode == 1 and f"no deal {number}" in end.stderr
    desk = cli("deals", "amend", number, "--by", REVIEWER, "--set", "number_of_users=1")
    assert desk.returncode == 1 and "only the registering partner's contacts" in desk.stderr
    posing = cli("deals", "withdraw", number, "--reviewer", ANN, "--reason", "no_budget")
    assert posing.returncode == 1 and "only reviewers" in posing.stderr
    assert cli.json("deals", "show", number)["stage"] == "opportunity"


def test_withdraw_ends_protection_voids_quotes_and_shows_why(cli: Cli) -> None:
    number = registered(cli, approved=True)
    before = cli.json("deals", "show", number)["protection_expires_at"]
    out = cli.ok(
        "deals", "withdraw", number, "--by", ANN, "--reason", "lost_to_competitor",
        "--note", "Went with the incumbent",
    )  # fmt: skip
    assert out.strip() == (
        f"{number} withdrawn at Approved (Lost to a competitor): protection ended, 1 quote void"
    )
    view = cli.json("deals", "show", number)
    assert view["stage"] == "withdrawn"
    assert (view["withdraw_reason"], view["withdraw_note"]) == (
        "lost_to_competitor",
        "Went with the incumbent",
    )
    assert view["protection_expires_at"] < before
    assert [q["status"] for q in view["quotes"]] == ["void"]
    [entry] = [h for h in view["history"] if h["action"] == "withdraw"]
    assert (entry["from"], entry["to"]) == ("approved", "withdrawn")

    shown = cli.ok("deals", "show", number).splitlines()
    assert shown[1] == (
        "[x] Opportunity > [x] Approved > [ ] Start Order > [ ] Submit Order   (Withdrawn)"
    )
    assert "withdrawn: Lost to a competitor" in shown
    assert "note: Went with the incumbent" in shown
    assert not any(s.startswith("protected until") for s in shown)
    assert any(s.startswith("quote Q-") and s.endswith("): void") for s in shown)

    again = cli("deals", "withdraw", number, "--by", ANN, "--reason", "other")
    assert again.returncode == 1 and "Withdrawn" in again.stderr
    amend = cli("deals", "amend", number, "--by", ANN, "--set", "number_of_users=1")
    assert amend.returncode == 1 and "Withdrawn" in amend.stderr


def test_the_desk_withdraws_and_lists_and_counts_withdrawn_deals(cli: Cli) -> None:
    kept = registered(cli)
    other = cli.write("other.json", form(domain="other-example.com"))
    ended = cli.json("deals", "register", "--partner", "Northwind IT", "--file", other)["number"]
    done = cli.json(
        "deals", "withdraw", ended, "--reviewer", REVIEWER, "--reason", "registered_in_error"
    )
    assert (done["stage"], done["withdraw_reason"]) == ("withdrawn", "registered_in_error")
    assert [r["number"] for r in cli.json("deals", "list", "--stage", "withdrawn")] == [ended]
    assert [r["number"] for r in cli.json("deals", "list", "--stage", "opportunity")] == [kept]
    assert cli.json("deals", "list", "--stage", "withdrawn", "--as", ANN)[0]["number"] == ended
    assert cli.json("deals", "list", "--stage", "withdrawn", "--as", BOB) == []
    typo = cli("deals", "list", "--stage", "withdrawm")
    assert typo.returncode == 2 and "invalid choice" in typo.stderr
    bad_reason = cli("deals", "withdraw", kept, "--by", ANN, "--reason", "bored")
    assert bad_reason.returncode == 2

    status = cli.json("status")
    assert status["deals"] == {"opportunity": 1, "withdrawn": 1}
    assert status["amendments_waiting"] == 0
    assert "withdrawn 1" in cli.ok("status").splitlines()[0]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_help_of_the_new_commands_names_their_arguments(cli: Cli) -> None:
    for command, word in (("amend", "--set"), ("amendment", "decline"), ("withdraw", "--reason")):
        result = cli("deals", command, "--help")
        assert result.returncode == 0 and word in result.stdout
