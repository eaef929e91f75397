"""The intake's routing rules, one by one: `decide` is pure, so no server is needed."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from core.models import InboundEmail
from intake.classify import Classification
from intake.decide import Facts, decide
from intake.parser import IntakeResult
from intake.proof import Proof
from intake.readahead import Read

FORM = {"company_name": "Acme Ltd", "domain": "acme.co.uk"}
CONTACT = Facts(partner_contact=True, proven=True)
TOKEN = "A" * 32


def read(status: str = "ok", kind: str = "registration", **changes: Any) -> Read:
    fields = changes.pop("fields", FORM if status == "ok" else {})
    errors = changes.pop("errors", [])
    parsed = IntakeResult(
        status, fields, errors, changes.pop("why", None), Classification(kind, "")
    )
    base = Read(
        key="sha256:x",
        message_id="<m@partner.example>",
        sender="ann@northwind.example",
        subject="Deal",
        parsed=parsed,
        proof=Proof(True, "dkim", "dkim pass"),
    )
    return replace(base, **changes)


def test_a_proven_partner_form_is_registered() -> None:
    assert decide(read(), CONTACT).action == "register"


@pytest.mark.parametrize("kind", ["auto_reply", "bounce", "bulk", "own"])
def test_machine_mail_is_ignored_without_a_reply(kind: str) -> None:
    decision = decide(read("ignored", kind, why=f"a {kind}"), CONTACT)
    assert (decision.action, decision.status, decision.reason) == ("close", "ignored", f"a {kind}")


@pytest.mark.parametrize("count", [0, 2])
def test_not_exactly_one_from_is_refused_without_a_reply(count: int) -> None:
    decision = decide(read(from_count=count), CONTACT)
    assert (decision.action, decision.status) == ("close", "refused")


def test_a_stranger_is_refused_without_a_reply() -> None:
    decision = decide(read(), Facts(partner_contact=False, proven=True))
    assert (decision.action, decision.status) == ("close", "refused")
    assert "unknown sender ann@northwind.example" in decision.reason


def test_an_unproven_registration_is_held_and_its_sender_asked() -> None:
    unproven = read(proof=Proof(False, "none", "no aligned DKIM signature"))
    decision = decide(unproven, Facts(partner_contact=True, proven=False))
    assert (decision.action, decision.status, decision.template) == (
        "hold",
        "held",
        "intake_confirm",
    )
    assert "no aligned DKIM signature" in decision.reason


def test_an_invalid_form_is_answered_with_its_errors_proven_or_not() -> None:
    errors = [{"field": "close_date", "message": "must be a future date"}]
    for facts in (CONTACT, Facts(partner_contact=True, proven=False)):
        decision = decide(read("invalid", errors=errors), facts)
        assert (decision.action, decision.template) == ("reply", "intake_errors")
        assert decision.context["errors"] == errors


def test_a_request_for_the_form_gets_the_blank_form() -> None:
    decision = decide(read(kind="form_request", fields={}), CONTACT)
    assert (decision.action, decision.status, decision.template) == (
        "reply",
        "answered",
        "intake_form",
    )


CONFIRM = (f"<confirm.{TOKEN}@dealreg.localhost>",)


def _held(sender: str, status: str) -> InboundEmail:
    return InboundEmail(id=7, sender=sender, status=status)


def test_the_senders_reply_to_a_live_confirmation_releases_the_held_message() -> None:
    held = _held("ann@northwind.example", "held")
    facts = replace(CONTACT, proven=False, held=held, held_live=True)
    decision = decide(read(references=CONFIRM), facts)
    assert (decision.action, decision.status) == ("release", "answered")
    assert "inbound 7" in decision.reason


@pytest.mark.parametrize(
    ("held", "live", "action", "status"),
    [
        (None, False, "close", "refused"),  # a token no one holds
        (("raj@northwind.example", "held"), True, "close", "refused"),  # someone else
        (("ann@northwind.example", "lapsed"), False, "reply", "refused"),  # too late
        (("ann@northwind.example", "registered"), False, "close", "answered"),  # again
    ],
)
def test_other_confirmations_release_nothing(
    held: tuple[str, str] | None, live: bool, action: str, status: str
) -> None:
    row = _held(*held) if held else None
    decision = decide(read(references=CONFIRM), replace(CONTACT, held=row, held_live=live))
    assert (decision.action, decision.status) == (action, status)


def test_a_reply_to_a_returned_registration_answers_it() -> None:
    reply = read(fields={}, references=("<ours@x>",), reply_text="The EU tenant.")
    decision = decide(
        reply, replace(CONTACT, thread_template="deal_returned", thread_deal="DR-000001")
    )
    assert (decision.action, decision.deal) == ("answer", "DR-000001")


def test_a_reply_to_a_reminder_asks_to_extend() -> None:
    reply = read(fields={}, references=("<ours@x>",), reply_text="Yes please")
    decision = decide(
        reply, replace(CONTACT, thread_template="expiry_reminder", thread_deal="DR-000002")
    )
    assert (decision.action, decision.deal) == ("extend", "DR-000002")


def test_a_reply_to_an_approval_extends_only_when_it_asks_to() -> None:
    thread = replace(CONTACT, thread_template="deal_approved", thread_deal="DR-000003")
    asks = read(fields={}, references=("<ours@x>",), reply_text="Can we extend this?")
    thanks = read(fields={}, references=("<ours@x>",), reply_text="Thanks!")
    assert decide(asks, thread).action == "extend"
    # Anything else in the deal's thread is told the deal's stage, never sent the form.
    assert (decide(thanks, thread).action, decide(thanks, thread).deal) == ("status", "DR-000003")


def test_an_unproven_reply_that_would_act_is_held() -> None:
    reply = read(fields={}, references=("<ours@x>",), reply_text="ok")
    facts = Facts(True, False, thread_template="expiry_reminder", thread_deal="DR-000002")
    decision = decide(reply, facts)
    assert decision.action == "hold" and decision.context["what"] == "a reply about DR-000002"


def test_a_new_form_in_a_reply_is_a_registration_not_an_answer() -> None:
    form = "Company Name: Acme Ltd\nDomain: acme.co.uk"
    reply = read(references=("<ours@x>",), reply_text=form)
    thread = replace(CONTACT, thread_template="deal_returned", thread_deal="DR-000001")
    assert decide(reply, thread).action == "register"
    # The deal's summary in our email, quoted below a reply, is no new form.
    quoted = replace(reply, reply_text="Thanks!")
    assert decide(quoted, thread).action == "answer"
    approved = replace(thread, thread_template="deal_approved")
    assert decide(quoted, approved).action == "status"


def test_a_message_too_large_to_read_is_told_so_only_when_a_partner_sent_it() -> None:
    big = read(parsed=None)
    assert decide(big, CONTACT).template == "intake_refused"
    assert decide(big, Facts(False, True)).action == "close"
    assert decide(replace(big, automatic=True), CONTACT).action == "close"
