"""Email addresses and phone numbers."""

from __future__ import annotations

import email_validator
import phonenumbers

from core.errors import FieldError, Invalid
from core.validation._common import _show, _single_line

# -- email and phone ------------------------------------------------------------------------------


def normalise_email(value: str, field: str) -> str:
    """Return the normalised form of an email address (syntax only; IDN allowed)."""
    text = _single_line(value) if isinstance(value, str) else ""
    if not text:
        raise Invalid([FieldError(field, "is required")])
    try:
        result = email_validator.validate_email(text, check_deliverability=False)
    except email_validator.EmailNotValidError as exc:
        raise Invalid([FieldError(field, f"is not a valid email address ({exc})")]) from None
    return str(result.normalized)


def _phone_hint(region: str) -> str:
    example = phonenumbers.example_number(region)
    if example is None:
        return "include the country code, e.g. +44 20 7946 0000"
    shown = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return f"e.g. {shown}"


def normalise_phone(value: str, region: str, field: str) -> str:
    """Return a phone number in E.164, parsed with `region` when it has no country code."""
    text = _single_line(value) if isinstance(value, str) else ""
    if not text:
        raise Invalid([FieldError(field, "is required")])
    region = region.upper()
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise Invalid(
            [FieldError(field, f"{_show(text)} is not a phone number ({_phone_hint(region)})")]
        ) from None
    if not phonenumbers.is_valid_number(number):
        message = f"{_show(text)} is not a valid phone number ({_phone_hint(region)})"
        raise Invalid([FieldError(field, message)])
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
