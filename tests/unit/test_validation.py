"""Registration validation: loose values in, a typed registration (or every error) out."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import FieldError, Invalid
from core.fields import FIELDS
from core.validation import (
    ProductRef,
    Registration,
    ValidationContext,
    match_choice,
    normalise_email,
    normalise_phone,
    parse_date,
    parse_money,
    states_for,
    validate_registration,
)

TODAY = date(2026, 11, 25)
PRODUCTS = (
    ProductRef("email_security", "Email Security Cloud Gateway", ("Secure Email Gateway", "SEG")),
    ProductRef("archiving", "Cloud Archive"),
)
CTX = ValidationContext(
    partner_country="GB", partner_currency="GBP", products=PRODUCTS, today=TODAY
)


def good(**overrides: Any) -> dict[str, Any]:
    """Return a valid registration as a GB partner types it, with some values replaced."""
    raw: dict[str, Any] = {
        "company_name": "Acme Widgets Ltd",
        "domain": "https://www.acme.co.uk/about",
        "contact_name": "Ann Lee",
        "contact_phone": "020 7946 0000",
        "partner_sales_lead_name": "Bob Stone",
        "partner_sales_lead_email": "bob@northwind.example",
        "end_user_first_name": "Carla",
        "end_user_last_name": "Diaz",
        "end_user_position": "Head of IT",
        "end_user_email": "Carla.Diaz@ACME.co.uk",
        "end_user_phone": "+44 7400 123456",
        "end_user_role": "Decision Maker",
        "address_line1": "1 High Street",
        "address_line2": "",
        "country": "United Kingdom",
        "state": "Kent",
        "postcode": "ct1 1aa",
        "product": "SEG",
        "number_of_users": "1,500 users",
        "projected_value": "£85,000.50",
        "close_date": "31/03/2027",
        "budget_approved": "Yes",
        "project_priority": "High",
        "problems_to_solve": "Phishing.\nToo much spam.",
        "meeting_date": "Dec 1, 2026",
        "migrating_to": "Office 365",
    }
    raw.update(overrides)
    return raw


def errors_of(raw: dict[str, Any], ctx: ValidationContext = CTX) -> list[FieldError]:
    with pytest.raises(Invalid) as caught:
        validate_registration(raw, ctx)
    return caught.value.errors


def only_error(raw: dict[str, Any], ctx: ValidationContext = CTX) -> FieldError:
    errors = errors_of(raw, ctx)
    assert len(errors) == 1, errors
    return errors[0]


# -- the whole registration -----------------------------------------------------------------------


def test_loose_registration_becomes_typed_values() -> None:
    reg = validate_registration(good(end_user_phone="07400 123456"), CTX)
    assert reg.domain == "acme.co.uk"
    assert reg.contact_phone == "+442079460000"
    assert reg.end_user_phone == "+447400123456"
    assert reg.end_user_email == "Carla.Diaz@acme.co.uk"
    assert reg.end_user_role == "decision_maker"
    assert (reg.country, reg.state, reg.postcode) == ("GB", "GB-KEN", "CT1 1AA")
    assert reg.address_line2 is None
    assert reg.product == "email_security"
    assert reg.number_of_users == 1500
    assert (reg.projected_value, reg.currency) == (Decimal("85000.50"), "GBP")
    assert reg.close_date == date(2027, 3, 31)
    assert reg.budget_approved is True
    assert reg.project_priority == "high"
    assert reg.meeting_date == date(2026, 12, 1)
    assert reg.migrating_to == "microsoft_365"


def test_five_bad_fields_yield_five_errors_in_field_order() -> None:
    raw = good(
        migrating_to="carrier pigeon",
        end_user_email="carla@",
        domain="localhost",
        number_of_users="0",
        close_date="2020-01-01",
    )
    errors = errors_of(raw)
    assert [e.field for e in errors] == [
        "domain",
        "end_user_email",
        "number_of_users",
        "close_date",
        "migrating_to",
    ]


def test_empty_registration_reports_every_required_field() -> None:
    errors = errors_of({})
    required = [f.name for f in FIELDS if f.required and f.name != "state"]
    assert [e.field for e in errors] == required
    assert {e.message for e in errors} == {"is required"}


def test_blank_strings_count_as_missing() -> None:
    assert only_error(good(company_name="  \t ")) == FieldError("company_name", "is required")


def test_unknown_keys_are_ignored() -> None:
    reg = validate_registration(good(favourite_colour="teal", Company="x"), CTX)
    assert reg.company_name == "Acme Widgets Ltd"


def test_json_round_trip_gives_the_same_registration() -> None:
    reg = validate_registration(good(), CTX)
    data = json.loads(json.dumps(reg.to_json()))
    assert validate_registration(data, CTX) == reg


def test_json_round_trip_holds_in_a_locale_that_groups_with_dots() -> None:
    ctx = replace(CTX, locale="de_DE")
    reg = validate_registration(good(projected_value="€85.000,50", number_of_users=1500), ctx)
    data = json.loads(json.dumps(reg.to_json()))
    assert data["projected_value"] == "85000.50"
    assert validate_registration(data, ctx) == reg


def test_to_json_uses_spec_types() -> None:
    data = validate_registration(good(), CTX).to_json()
    assert data["close_date"] == "2027-03-31"
    assert data["meeting_date"] == "2026-12-01"
    assert data["number_of_users"] == 1500
    assert data["budget_approved"] is True
    assert (data["projected_value"], data["currency"]) == ("85000.50", "GBP")
    assert data["address_line2"] is None
    assert list(data)[:2] == ["company_name", "domain"]


def test_to_json_writes_large_amounts_without_exponent() -> None:
    reg = validate_registration(good(projected_value=Decimal("1E+5")), CTX)
    assert reg.to_json()["projected_value"] == "100000"


def test_amount_loses_only_zeros_beyond_the_currency_minor_unit() -> None:
    reg = validate_registration(good(projected_value=Decimal("120.5000")), CTX)
    assert str(reg.projected_value) == "120.50"


def test_already_typed_values_are_accepted() -> None:
    raw = good(
        number_of_users=250,
        projected_value=Decimal("1200.50"),
        currency="eur",
        close_date=date(2027, 1, 31),
        meeting_date=datetime(2026, 12, 2, 10, 30),  # noqa: DTZ001
        budget_approved=False,
    )
    reg = validate_registration(raw, CTX)
    assert reg.number_of_users == 250
    assert (reg.projected_value, reg.currency) == (Decimal("1200.50"), "EUR")
    assert reg.close_date == date(2027, 1, 31)
    assert reg.meeting_date == date(2026, 12, 2)
    assert reg.budget_approved is False


# -- text -----------------------------------------------------------------------------------------


def test_text_is_trimmed_and_inner_whitespace_collapsed() -> None:
    reg = validate_registration(good(company_name="  Acme \t  Widgets\nLtd  "), CTX)
    assert reg.company_name == "Acme Widgets Ltd"


def test_control_and_bidi_characters_are_removed() -> None:
    reg = validate_registration(good(contact_name="Ann\x00 L\u202eee\x07"), CTX)
    assert reg.contact_name == "Ann Lee"


def test_problems_to_solve_keeps_its_line_breaks() -> None:
    reg = validate_registration(good(problems_to_solve="  One\r\nTwo\x00\n\n\n\nThree  "), CTX)
    assert reg.problems_to_solve == "One\nTwo\n\nThree"


def test_problems_to_solve_may_hold_3000_characters() -> None:
    reg = validate_registration(good(problems_to_solve="x" * 3000), CTX)
    assert len(reg.problems_to_solve) == 3000


def test_problems_to_solve_over_3000_characters_is_refused() -> None:
    error = only_error(good(problems_to_solve="x" * 3001))
    assert error == FieldError("problems_to_solve", "is too long (3,001 characters; at most 3,000)")


def test_single_line_field_over_its_max_length_is_refused() -> None:
    error = only_error(good(company_name="a" * 201))
    assert error.field == "company_name"
    assert "at most 200" in error.message


def test_optional_text_may_be_missing() -> None:
    reg = validate_registration(
        good(partner_sales_lead_name=None, partner_sales_lead_email=""), CTX
    )
    assert (reg.partner_sales_lead_name, reg.partner_sales_lead_email) == (None, None)


def test_non_text_value_for_a_text_field_is_refused() -> None:
    assert only_error(good(contact_name=["Ann"])) == FieldError("contact_name", "must be text")


# -- domain ---------------------------------------------------------------------------------------


def test_domain_error_is_collected_under_domain() -> None:
    error = only_error(good(domain="http://192.168.0.1/"))
    assert error == FieldError("domain", "an IP address is not a domain")


# -- email ----------------------------------------------------------------------------------------


def test_email_domain_is_lower_cased() -> None:
    assert normalise_email("  Ann@Example.COM ", "end_user_email") == "Ann@example.com"


def test_email_with_international_domain_is_accepted() -> None:
    assert normalise_email("ann@bücher.de", "end_user_email") == "ann@bücher.de"


@pytest.mark.parametrize(
    "value", ["ann", "ann@", "ann@example", "ann..lee@example.com", "a b@x.com"]
)
def test_malformed_email_is_refused_for_its_field(value: str) -> None:
    with pytest.raises(Invalid) as caught:
        normalise_email(value, "partner_sales_lead_email")
    [error] = caught.value.errors
    assert error.field == "partner_sales_lead_email"
    assert error.message.startswith("is not a valid email address (")


def test_bad_optional_email_is_reported() -> None:
    error = only_error(good(partner_sales_lead_email="bob at northwind"))
    assert error.field == "partner_sales_lead_email"


# -- phone ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "region", "expected"),
    [
        ("020 7946 0000", "GB", "+442079460000"),
        ("+44 (0)20 7946 0000", "US", "+442079460000"),
        ("(415) 555-2671", "US", "+14155552671"),
        ("+1 415-555-2671", "GB", "+14155552671"),
        ("030 901820", "DE", "+4930901820"),
    ],
)
def test_phone_is_formatted_as_e164(value: str, region: str, expected: str) -> None:
    assert normalise_phone(value, region, "contact_phone") == expected


@pytest.mark.parametrize("value", ["12", "hello", "020 7946", "+999 1234 5678"])
def test_invalid_phone_is_refused_with_an_example(value: str) -> None:
    with pytest.raises(Invalid) as caught:
        normalise_phone(value, "GB", "contact_phone")
    [error] = caught.value.errors
    assert error.field == "contact_phone"
    assert "phone number (e.g. +44 " in error.message


def test_contact_phone_is_parsed_with_the_partner_region() -> None:
    ctx = replace(CTX, partner_country="US", partner_currency="USD")
    raw = good(contact_phone="(415) 555-2671", close_date="2027-03-31")
    reg = validate_registration(raw, ctx)
    assert reg.contact_phone == "+14155552671"


def test_end_user_phone_is_parsed_with_the_end_user_country() -> None:
    raw = good(country="USA", state="California", end_user_phone="(415) 555-2671")
    reg = validate_registration(raw, CTX)
    assert reg.end_user_phone == "+14155552671"


def test_end_user_phone_falls_back_to_partner_region_when_country_is_bad() -> None:
    error = only_error(good(country="Narnia", end_user_phone="07400 123456"))
    assert error.field == "country"


# -- country and state ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("GB", "GB"),
        ("gbr", "GB"),
        ("United Kingdom", "GB"),
        ("UK", "GB"),
        ("England", "GB"),
        ("USA", "US"),
        ("United States", "US"),
        ("united states of america", "US"),
        ("U.S.", "US"),
        ("Germany", "DE"),
        ("Cote d'Ivoire", "CI"),
        ("Moldova", "MD"),
        ("South Korea", "KR"),
        ("Turkey", "TR"),
    ],
)
def test_country_is_read_from_code_name_or_common_name(value: str, expected: str) -> None:
    state = {"GB": "Kent", "US": "NY", "DE": "Berlin", "CI": "CI-AB", "MD": "MD-CU",
             "KR": "KR-11", "TR": "TR-34"}[expected]  # fmt: skip
    assert validate_registration(good(country=value, state=state), CTX).country == expected


def test_unknown_country_is_refused() -> None:
    error = only_error(good(country="Narnia", state=""))
    assert error == FieldError(
        "country", "'Narnia' is not a country (use a name or a code such as GB or US)"
    )


@pytest.mark.parametrize("value", ["CA", "ca", "US-CA", "California", "california"])
def test_us_state_is_read_from_code_or_name(value: str) -> None:
    assert validate_registration(good(country="US", state=value), CTX).state == "US-CA"


@pytest.mark.parametrize("value", ["Kent", "KEN", "GB-KEN", "gb-ken"])
def test_gb_county_is_read_from_any_gb_subdivision(value: str) -> None:
    assert validate_registration(good(state=value), CTX).state == "GB-KEN"


def test_gb_county_that_is_not_top_level_is_accepted() -> None:
    assert validate_registration(good(state="Manchester"), CTX).state == "GB-MAN"


def test_gb_county_is_optional() -> None:
    assert validate_registration(good(state=""), CTX).state is None


def test_us_state_is_required() -> None:
    assert only_error(good(country="US", state=" ")) == FieldError("state", "is required")


def test_unknown_state_names_the_country_and_an_example() -> None:
    error = only_error(good(country="US", state="Narnia"))
    assert error == FieldError(
        "state", "'Narnia' is not a state of United States (e.g. Alabama or US-AL)"
    )


def test_state_of_another_country_is_refused() -> None:
    assert only_error(good(country="US", state="GB-KEN")).field == "state"


def test_state_is_dropped_for_a_country_without_subdivisions() -> None:
    reg = validate_registration(good(country="Aruba", state="Oranjestad"), CTX)
    assert (reg.country, reg.state) == ("AW", None)


def test_state_is_not_checked_when_country_is_bad() -> None:
    assert [e.field for e in errors_of(good(country="Narnia", state="Kent"))] == ["country"]


def test_states_for_lists_top_level_subdivisions() -> None:
    us = states_for("US")
    assert ("US-CA", "California") in us
    assert [name for _, name in us] == sorted(name for _, name in us)
    assert [code for code, _ in states_for("gb")] == ["GB-ENG", "GB-NIR", "GB-SCT", "GB-WLS"]
    assert states_for("AW") == []


# -- choices --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Decision Maker", "decision_maker"),
        ("decision-maker", "decision_maker"),
        ("decision_maker", "decision_maker"),
        ("DM", "decision_maker"),
        ("Economic buyer", "economic_buyer"),
        ("Tech buyer", "technical_buyer"),
        ("Technical Buyer", "technical_buyer"),
        ("influencer", "influencer"),
        ("End User", "end_user"),
        ("OTHER", "other"),
    ],
)
def test_role_spellings_map_to_keys(value: str, expected: str) -> None:
    assert validate_registration(good(end_user_role=value), CTX).end_user_role == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("High", "high"), ("HIGH", "high"), ("low", "low"), ("Medium", "medium"),
     ("normal", "medium"), ("Critical", "critical"), ("urgent", "critical")],
)  # fmt: skip
def test_priority_spellings_map_to_keys(value: str, expected: str) -> None:
    assert validate_registration(good(project_priority=value), CTX).project_priority == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Office 365", "microsoft_365"),
        ("O365", "microsoft_365"),
        ("Microsoft 365", "microsoft_365"),
        ("Exchange Online", "microsoft_365"),
        ("Microsoft 365 / Exchange Online", "microsoft_365"),
        ("Exchange", "exchange_on_premises"),
        ("Exchange 2019", "exchange_on_premises"),
        ("on-prem Exchange", "exchange_on_premises"),
        ("G Suite", "google_workspace"),
        ("GSuite", "google_workspace"),
        ("Gmail", "google_workspace"),
        ("Google Workspace", "google_workspace"),
        ("Lotus Notes", "hcl_domino"),
        ("Domino", "hcl_domino"),
        ("HCL Notes", "hcl_domino"),
        ("none", "none"),
        ("N/A", "none"),
        ("no migration", "none"),
        ("Other", "other"),
    ],
)
def test_migrating_to_spellings_map_to_keys(value: str, expected: str) -> None:
    assert validate_registration(good(migrating_to=value), CTX).migrating_to == expected


def test_unknown_choice_lists_the_accepted_labels() -> None:
    error = only_error(good(project_priority="whenever"))
    assert error == FieldError(
        "project_priority", "'whenever' is not one of: Low, Medium, High, Critical"
    )


@pytest.mark.parametrize(
    "value", ["email_security", "Email Security", "EMAIL SECURITY CLOUD GATEWAY", "seg",
              " Secure  Email Gateway "]
)  # fmt: skip
def test_product_is_matched_by_code_name_or_alias(value: str) -> None:
    assert validate_registration(good(product=value), CTX).product == "email_security"


def test_unknown_product_lists_the_catalogue() -> None:
    error = only_error(good(product="Antivirus"))
    assert error == FieldError(
        "product", "'Antivirus' is not one of: Email Security Cloud Gateway, Cloud Archive"
    )


def test_long_choice_list_is_shortened_in_the_message() -> None:
    products = tuple(ProductRef(f"p{i}", f"Product {i}") for i in range(12))
    error = only_error(good(product="nope"), replace(CTX, products=products))
    assert error.message.endswith("Product 6, Product 7, … (4 more)")


def test_match_choice_returns_none_for_unknown_or_blank() -> None:
    assert match_choice("purple", {"low": "Low"}, {}) is None
    assert match_choice("  ", {"low": "Low"}, {}) is None
    assert match_choice("LO", {"low": "Low"}, {"lo": "low"}) == "low"


# -- numbers of users -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["1,500", "1500 users", "1 500", "1500", " 1,500 Users ", 1500, Decimal(1500), 1500.0]
)
def test_number_of_users_spellings_are_accepted(value: Any) -> None:
    assert validate_registration(good(number_of_users=value), CTX).number_of_users == 1500


def test_number_of_users_follows_the_partner_locale() -> None:
    ctx = replace(CTX, partner_country="DE", partner_currency="EUR")
    raw = good(number_of_users="1.500", projected_value="€1.000", contact_phone="030 901820")
    reg = validate_registration(raw, ctx)
    assert (reg.number_of_users, reg.projected_value) == (1500, Decimal(1000))


def test_english_grouping_is_not_read_as_german_thousands() -> None:
    raw = good(number_of_users="1,500", projected_value="€85.000,50")
    error = only_error(raw, replace(CTX, locale="de_DE"))
    assert error == FieldError("number_of_users", "must be a whole number, e.g. 1500")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "must be between 1 and 1,000,000"),
        ("1,000,001", "must be between 1 and 1,000,000"),
        ("-5", "'-5' is not a number (write it like 1,500)"),
        ("1.5", "must be a whole number, e.g. 1500"),
        ("lots", "'lots' is not a number (write it like 1,500)"),
        ("2k", "'2k' is ambiguous: write the number in full, e.g. 1,500"),
        ("1,50", "'1,50' is not a clear number here (write it like 1,500)"),
        (True, "must be a whole number, e.g. 1500"),
    ],
)
def test_bad_number_of_users_is_refused(value: Any, message: str) -> None:
    assert only_error(good(number_of_users=value)) == FieldError("number_of_users", message)


# -- money ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "partner_currency", "locale", "expected"),
    [
        ("$120,000", "GBP", "en_GB", (Decimal(120000), "USD")),
        ("€40,000", "GBP", "en_GB", (Decimal(40000), "EUR")),
        ("GBP 85,000.50", "USD", "en_US", (Decimal("85000.50"), "GBP")),
        ("120000 USD", "GBP", "en_GB", (Decimal(120000), "USD")),
        ("85.000,50 EUR", "EUR", "de_DE", (Decimal("85000.50"), "EUR")),
        ("£1,200.50", "USD", "en_US", (Decimal("1200.50"), "GBP")),
        ("120,000", "GBP", "en_GB", (Decimal(120000), "GBP")),
        ("usd 10", "GBP", "en_GB", (Decimal(10), "USD")),
        ("US$ 10", "CAD", "en_CA", (Decimal(10), "USD")),
        ("C$10", "USD", "en_US", (Decimal(10), "CAD")),
        ("40 000 €", "EUR", "fr_FR", (Decimal(40000), "EUR")),
        ("¥1,200", "GBP", "en_GB", (Decimal(1200), "JPY")),
        ("0", "GBP", "en_GB", (Decimal(0), "GBP")),
    ],
)
def test_amount_spellings_are_parsed(
    value: str, partner_currency: str, locale: str, expected: tuple[Decimal, str]
) -> None:
    assert parse_money(value, partner_currency, locale) == expected


def test_amount_with_euro_sign_sets_currency() -> None:
    reg = validate_registration(good(projected_value="€40,000"), CTX)
    assert (reg.projected_value, reg.currency) == (Decimal(40000), "EUR")


def test_amount_without_currency_takes_the_partner_currency() -> None:
    assert validate_registration(good(projected_value="40,000"), CTX).currency == "GBP"


def test_dollar_sign_means_usd_for_a_non_dollar_partner() -> None:
    assert parse_money("$100", "GBP", "en_GB") == (Decimal(100), "USD")


def test_dollar_sign_means_the_partner_dollar() -> None:
    assert parse_money("$100", "CAD", "en_CA") == (Decimal(100), "CAD")
    assert parse_money("$100", "AUD", "en_AU") == (Decimal(100), "AUD")


def test_amount_in_german_locale_from_context() -> None:
    ctx = replace(CTX, locale="de_DE")
    reg = validate_registration(good(projected_value="85.000,50 EUR", number_of_users="1.500"), ctx)
    assert (reg.projected_value, reg.currency) == (Decimal("85000.50"), "EUR")


def test_separate_currency_applies_to_a_bare_amount() -> None:
    reg = validate_registration(good(projected_value="85000.50", currency="USD"), CTX)
    assert (reg.projected_value, reg.currency) == (Decimal("85000.50"), "USD")


def test_amount_in_another_currency_than_the_separate_one_is_refused() -> None:
    error = only_error(good(projected_value="€100", currency="USD"))
    assert error == FieldError("projected_value", "is in EUR but the currency given is USD")


def test_unknown_separate_currency_is_refused() -> None:
    error = only_error(good(projected_value="100", currency="XYZ"))
    assert error.field == "projected_value"
    assert error.message.startswith("'XYZ' is not a currency code")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("12k", "'12k' is ambiguous: write the number in full, e.g. 120,000"),
        ("$1.5m", "'1.5m' is ambiguous: write the number in full, e.g. 120,000"),
        ("-100", "must be 0 or more"),
        ("-$100", "must be 0 or more"),
        ("$100 EUR", "names two currencies (USD and EUR)"),
        ("XYZ 100", "'XYZ' is not a currency code (use ISO 4217, e.g. USD, EUR, GBP)"),
        ("about 100", "'about 100' is not a number (write it like 120,000)"),
        ("NaN", "'NaN' is not a number (write it like 120,000)"),
        ("1e6", "'1e6' is not a number (write it like 120,000)"),
        ("1,20", "'1,20' is not a clear number here (write it like 120,000)"),
        ("£1.505", "has more decimal places than GBP allows (2)"),
        ("¥100.5", "has more decimal places than JPY allows (0)"),
        ("1000000000000", "must be less than 1,000,000,000,000"),
    ],
)
def test_unclear_or_negative_amount_is_refused(value: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_money(value, "GBP", "en_GB")
    assert str(caught.value) == message


def test_bad_amount_is_reported_under_projected_value() -> None:
    error = only_error(good(projected_value="12k"))
    assert error.field == "projected_value"


@pytest.mark.parametrize("value", [Decimal("-1"), Decimal("NaN"), float("inf"), True, [1]])
def test_bad_typed_amount_is_refused(value: Any) -> None:
    assert only_error(good(projected_value=value)).field == "projected_value"


# -- dates ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["2027-03-31", "31/03/2027", "31.03.2027", "31-03-2027", "Mar 31, 2027", "31 Mar 2027",
     "March 31 2027", "31st March, 2027", "31 march 2027"],
)  # fmt: skip
def test_date_spellings_are_parsed(value: str) -> None:
    assert parse_date(value) == date(2027, 3, 31)


def test_spec_date_examples_are_parsed() -> None:
    expected = date(2027, 12, 31)
    assert [parse_date(v) for v in ("Dec 31, 2027", "31 Dec 2027", "December 31 2027")] == [
        expected
    ] * 3


def test_numeric_date_is_month_first_when_asked() -> None:
    assert parse_date("12/31/2027", month_first=True) == date(2027, 12, 31)
    assert parse_date("03/04/2027", month_first=True) == date(2027, 3, 4)
    assert parse_date("03/04/2027") == date(2027, 4, 3)


def test_us_partner_writes_numeric_dates_month_first() -> None:
    ctx = replace(CTX, partner_country="US", partner_currency="USD")
    raw = good(close_date="12/31/2027", contact_phone="+44 20 7946 0000")
    assert validate_registration(raw, ctx).close_date == date(2027, 12, 31)


def test_month_first_date_from_a_gb_partner_is_refused() -> None:
    error = only_error(good(close_date="12/13/2027"))
    assert error == FieldError(
        "close_date", "'12/13/2027' is not a date (use YYYY-MM-DD, e.g. 2027-03-31)"
    )


@pytest.mark.parametrize(
    "value", ["31/03/27", "next Friday", "2027-02-30", "Smarch 3 2027", "2027", "2027-03-31T10:00",
              "31/03-2027", "soon"]
)  # fmt: skip
def test_ambiguous_or_impossible_date_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="is not a date"):
        parse_date(value)


def test_close_date_must_be_after_today() -> None:
    for value in ("2026-11-25", "2026-01-01"):
        error = only_error(good(close_date=value))
        assert error == FieldError("close_date", "must be a date after 2026-11-25")
    assert validate_registration(good(close_date="2026-11-26"), CTX).close_date == date(
        2026, 11, 26
    )


def test_meeting_date_may_be_in_the_past_or_missing() -> None:
    assert validate_registration(good(meeting_date="2020-01-02"), CTX).meeting_date == date(
        2020, 1, 2
    )
    assert validate_registration(good(meeting_date=None), CTX).meeting_date is None


def test_non_date_value_is_refused() -> None:
    assert only_error(good(meeting_date=20270331)).field == "meeting_date"


# -- yes/no ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("yes", True), ("YES", True), ("y", True), ("True", True), ("1", True), (True, True),
     (1, True), ("no", False), ("N", False), ("false", False), ("0", False), (False, False),
     (0, False)],
)  # fmt: skip
def test_budget_approved_spellings(value: Any, expected: bool) -> None:
    assert validate_registration(good(budget_approved=value), CTX).budget_approved is expected


@pytest.mark.parametrize("value", ["maybe", "2", 2, "yes please"])
def test_budget_approved_must_be_yes_or_no(value: Any) -> None:
    assert only_error(good(budget_approved=value)) == FieldError(
        "budget_approved", "must be yes or no"
    )


# -- robustness -----------------------------------------------------------------------------------

_NAMES = [f.name for f in FIELDS] + ["currency"]
_ANY_VALUE = st.one_of(
    st.text(),
    st.text(alphabet="0123456789.,/- $€£kKmMABCDEFGHIJKLMNOPQRSTUVWXYZ+()"),
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.decimals(),
    st.dates(),
    st.lists(st.integers(), max_size=2),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(_NAMES), _ANY_VALUE))
def test_arbitrary_values_raise_nothing_but_invalid(values: dict[str, Any]) -> None:
    raw = good(**values)
    try:
        reg = validate_registration(raw, CTX)
    except Invalid as exc:
        assert exc.errors
        assert {e.field for e in exc.errors} <= set(_NAMES)
    else:
        assert isinstance(reg, Registration)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(_NAMES), st.text()))
def test_arbitrary_text_alone_raises_nothing_but_invalid(values: dict[str, str]) -> None:
    try:
        validate_registration(values, CTX)
    except Invalid as exc:
        assert all(e.message for e in exc.errors)
