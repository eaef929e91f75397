"""The Block Kit builders keep Slack's limits and the SPEC's names."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot import kit, modals
from bot.blocks import check_result
from bot.listeners.options import countries, states
from core.errors import FieldError, Invalid, NotAllowed
from core.fields import FIELDS, REJECT_REASONS
from core.protection import DomainCheck

PRODUCTS = [(f"p{i}", f"Product {i}") for i in range(150)]


def test_registration_modal_names_every_input_by_its_field_and_fits_slacks_limits() -> None:
    view = modals.registration("Northwind IT", "ann@northwind.example", "GBP", PRODUCTS)
    inputs = [b for b in view["blocks"] if b["type"] == "input"]
    assert [b["block_id"] for b in inputs] == [f.name for f in FIELDS]
    assert all(b["element"]["action_id"] == b["block_id"] for b in inputs)
    assert len(view["blocks"]) <= kit.MODAL_BLOCKS
    assert len(view["title"]["text"]) <= kit.MODAL_TITLE
    product = next(b for b in inputs if b["block_id"] == "product")
    assert len(product["element"]["options"]) == kit.MAX_OPTIONS
    domain = next(b for b in inputs if b["block_id"] == "domain")
    assert domain["dispatch_action"] is True


def test_labels_follow_the_end_users_country() -> None:
    us = modals.registration("Contoso", "bob@x.example", "USD", PRODUCTS[:3], country="US")
    labels = {b["block_id"]: b["label"]["text"] for b in us["blocks"] if b["type"] == "input"}
    assert (labels["postcode"], labels["state"]) == ("Zip Code", "State")


def test_currency_errors_show_on_the_amount_and_unknown_fields_on_the_first_input() -> None:
    error = Invalid([FieldError("currency", "is not a code"), FieldError("end_user_email", "bad")])
    blocks = [f.name for f in FIELDS]
    assert modals.errors_for(error, blocks) == {
        "projected_value": "is not a code",
        "end_user_email": "bad",
    }
    assert modals.errors_for(NotAllowed("no", field="actor"), blocks) == {
        "company_name": "actor: no"
    }


def test_reject_modal_offers_every_reason_code() -> None:
    view = modals.reject("DR-000001")
    values = [o["value"] for o in view["blocks"][1]["element"]["options"]]
    assert values == list(REJECT_REASONS)
    assert json.loads(view["private_metadata"]) == {"deal": "DR-000001"}


def test_a_view_breaking_a_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="blocks"):
        kit.modal("x", "Too many", [kit.section("a")] * 101)
    with pytest.raises(ValueError, match="private_metadata"):
        kit.modal("x", "Big", [], metadata={"a": "x" * 3001})


def test_long_texts_are_clipped_to_slacks_lengths() -> None:
    assert len(kit.section("x" * 5000)["text"]["text"]) == kit.SECTION_TEXT
    assert len(kit.option("y" * 200, "v")["text"]["text"]) == kit.OPTION_TEXT


def test_typeahead_finds_countries_and_the_chosen_countrys_states() -> None:
    assert countries("gb")[0] == ("GB", "United Kingdom")
    assert ("US-TX", "Texas") in states("US", "tex")
    assert states(None, "tex") == []
    assert len(countries("")) <= kit.MAX_OPTIONS


HOSTILE = "<!channel> approve via <https://evil.example/login|the new portal> & <@U123>"
ESCAPED = (
    "&lt;!channel&gt; approve via &lt;https://evil.example/login|the new portal&gt; "
    "&amp; &lt;@U123&gt;"
)


def test_every_text_for_slack_is_escaped_once_by_the_kit() -> None:
    assert kit.section(f"*Company:* {HOSTILE}")["text"]["text"] == f"*Company:* {ESCAPED}"
    assert kit.header(HOSTILE)["text"]["text"] == ESCAPED
    assert kit.context(HOSTILE)["elements"][0]["text"] == ESCAPED
    assert kit.option(HOSTILE, "v")["text"]["text"].startswith("&lt;!channel&gt;")
    assert kit.fields_section([("Name", HOSTILE)])[0]["fields"][0]["text"] == f"*Name*\n{ESCAPED}"
    assert kit.message(f"⚠️ {HOSTILE}", [])["text"] == f"⚠️ {ESCAPED}"


def test_mrkdwn_is_verbatim_so_a_bare_url_stays_text() -> None:
    assert kit.mrkdwn("see https://evil.example")["verbatim"] is True


def test_modal_field_errors_are_escaped() -> None:
    error = Invalid([FieldError("domain", f"{HOSTILE!r} is not a valid host name")])
    assert modals.errors_for(error, ["domain"]) == {
        "domain": f"'{ESCAPED}' is not a valid host name"
    }


def test_a_domain_check_says_free_yours_or_protected_and_warns_of_odd_letters() -> None:
    until = datetime(2027, 2, 23, tzinfo=UTC)
    lookalike = "xn--hrbourlights-x9j.co.uk"
    assert check_result(DomainCheck("acme.com", "free")) == "✅ *acme.com* is free to register."
    assert check_result(DomainCheck("acme.com", "yours", your_deal="DR-000007")) == (
        "ℹ️ *acme.com* is already yours: DR-000007."
    )
    assert check_result(DomainCheck(lookalike, "protected", protected_until=until)) == (
        f"⛔ *h\u0430rbourlights.co.uk ({lookalike})* is protected by another partner until "
        "2027-02-23.\n⚠️ Check the spelling: “h\u0430rbourlights” mixes Latin and Cyrillic "
        "letters in one label."
    )


def test_the_digest_escapes_a_typed_company_name_once() -> None:
    from datetime import date

    from bot.digest_message import blocks
    from core.services.digest import Digest

    typed = "<!channel> & <https://evil.example|Acme>"
    late = [{"number": "DR-000004", "company": typed, "due": "x"}]
    digest = Digest("#deal-desk", date(2026, 11, 30), overdue=1, overdue_deals=late,
                    decided_since="2026-11-27")  # fmt: skip
    text = json.dumps(blocks(digest)["blocks"])
    assert "&lt;!channel&gt; &amp; &lt;https://evil.example|Acme&gt;" in text
    assert "&amp;lt;" not in text and "<!channel>" not in text
    assert "Decided on Fri 27 Nov" in text
