"""Every form in the email corpus, validated by the same rules as Slack and the CLI."""

from __future__ import annotations

import json
from datetime import date

import pytest

from core import catalog
from core.errors import Invalid
from core.validation import ProductRef, ValidationContext, validate_registration
from intake import messages, parser
from tests.factories import DEMO_CATALOG, ROOT

CORPUS = ROOT / "tests" / "fixtures" / "email"
EXPECTED = json.loads((CORPUS / "expected.json").read_text())["messages"]
DATA = catalog.parse(DEMO_CATALOG.read_text())
PRODUCTS = tuple(
    ProductRef(p["code"], p["name"], tuple(p.get("aliases", []))) for p in DATA["products"]
)
PARTNER_OF = {
    c["email"]: (p["country"], p["currency"]) for p in DATA["partners"] for c in p["contacts"]
}
FORMS = [n for n, e in EXPECTED.items() if e["status"] == "ok" and not e.get("stranger")]


@pytest.mark.parametrize("name", FORMS)
def test_corpus_form_validates_to_the_expected_errors(name: str) -> None:
    raw = (CORPUS / name).read_bytes()
    result = parser.parse_message(raw)
    sender = messages.sender_address(messages.load(raw))
    country, currency = PARTNER_OF[sender or ""]
    ctx = ValidationContext(country, currency, PRODUCTS, date(2026, 11, 25))
    try:
        validate_registration(result.fields, ctx)
        bad: list[str] = []
    except Invalid as exc:
        bad = [e.field for e in exc.errors]
    assert sorted(bad) == sorted(EXPECTED[name].get("invalid_fields", []))
