"""Render outgoing email from `templates/email/<name>/{subject.txt,body.txt,body.html}`.

Rendering never sends: the outbox stores what this returns and a worker delivers it.

Context keys every template may use (render fills the optional ones):
    vendor_name   required: the vendor's name ("Mimecast")
    intake_address  required where a template shows commands: the intake mailbox, for the
                  `mailto:` links of the next steps (the outbox always sets it)
    deal          core.models.Deal or None
    quote         core.models.Quote or None (with its `lines`)
    partner       core.models.Partner or None (default: deal.partner)
    contact       core.models.Contact or None (default: deal.contact)
    progress      the four stages (core.fields.progress), default from deal.stage, else []
    base_url      link to the product, or None

Template-specific keys (required unless marked optional):
    registration_received / intake_confirmation   deal; decides_by (optional: when the
                           desk decides, as the partner reads it; shown while deal.review
                           has a due time)
    deal_approved          deal (protection_expires_at set), quote; extensions_left (optional)
    deal_rejected          deal (reject_reason, review_note); reason_label, note (optional,
                           override the deal's)
    deal_returned          deal; question (optional, default deal.returned_question)
    intake_errors          errors: [{"field", "message"}]; country, values {field: text},
                           original_subject (all optional)
    intake_already_registered   deal
    intake_form            country (optional)
    intake_refused         reason: "oversize" | "unknown_sender" | "hold_lapsed"; max_bytes
                           (optional)
    intake_confirm         what, received_at, held_until, token: "did you send this?"
    expiry_reminder        deal; days_left, extensions_left (optional)
    deal_expired           deal
    order_started          deal, quote (the quote that became the order)
    order_submitted        deal; quote (optional)
    extension_granted      deal; extension_days (optional)
    extension_declined     deal; note (optional)
    sla_reminder           deal, percent (50 | 90), due_at; name, claimed_by (optional)
    sla_escalation         deal, due_at; claimed_by (optional)
    deal_amended           deal, changes (lines "Label: old → new")
    amendment_requested    deal, changes
    amend_approved         deal, changes, quote (the new one); note (optional)
    amend_declined         deal, changes; note (optional)
    deal_withdrawn         deal, reason_label; note, by (optional)
    intake_command         command (start_order | submit_order | quote | extend | status |
                           deals | check | amend | withdraw); error (a refusal: nothing
                           changed), else deal, quote, deals or check (a
                           core.protection.DomainCheck) as the command gives; amend:
                           applied, requested (lines "Label: old → new")
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date as date_type
from datetime import datetime as datetime_type
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context

from core import fields, formatting

log = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
DEFAULT_LOCALE = formatting.DEFAULT_LOCALE
# One template serves both: an emailed registration is confirmed like any other.
ALIASES = {"intake_confirmation": "registration_received"}
TEMPLATE_NAMES = (
    "registration_received",
    "deal_approved",
    "deal_rejected",
    "deal_returned",
    "intake_errors",
    "intake_already_registered",
    "intake_form",
    "intake_refused",
    "intake_confirm",
    "expiry_reminder",
    "deal_expired",
    "order_started",
    "order_submitted",
    "extension_granted",
    "extension_declined",
    "sla_reminder",
    "sla_escalation",
    "intake_command",
    "deal_amended",
    "amendment_requested",
    "amend_approved",
    "amend_declined",
    "deal_withdrawn",
)


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def _locale(ctx: Context) -> Locale:
    loc = ctx.get("locale")
    return loc if isinstance(loc, Locale) else formatting.parse_locale(DEFAULT_LOCALE)


def _zone(ctx: Context) -> ZoneInfo:
    zone = ctx.get("tz")
    return zone if isinstance(zone, ZoneInfo) else formatting.UTC


@pass_context
def _money(ctx: Context, amount: Decimal | int | str, currency: str) -> str:
    return formatting.money(amount, currency, _locale(ctx))


@pass_context
def _date(ctx: Context, value: date_type | datetime_type | None) -> str:
    return formatting.day(value, _locale(ctx), _zone(ctx))


@pass_context
def _datetime(ctx: Context, value: datetime_type | None) -> str:
    return formatting.moment(value, _locale(ctx), _zone(ctx))


@pass_context
def _pct(ctx: Context, value: Decimal | int | str | None) -> str:
    """Format a percentage given as a number of percent (15 -> "15%")."""
    return formatting.pct(value, _locale(ctx))


@pass_context
def _number(ctx: Context, value: int | Decimal) -> str:
    return formatting.number(value, _locale(ctx))


def field_label(name: str, country: str | None = None) -> str:
    """Return a field's label for a reader in `country`; unknown names as they are."""
    if name in fields.FIELDS_BY_NAME:
        return fields.label_for(name, country)
    return name.replace("_", " ").capitalize()


def _make_env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        auto_reload=False,  # the templates ship with the code: no stat() per render
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(money=_money, date=_date, datetime=_datetime, pct=_pct, number=_number)
    env.globals.update(
        field_label=field_label,
        blank_form=blank_form,
        roles=fields.END_USER_ROLES,
        priorities=fields.PRIORITIES,
        migrating_to=fields.MIGRATING_TO,
        reject_reasons=fields.REJECT_REASONS,
        withdraw_reasons=fields.WITHDRAW_REASONS,
        stages=fields.STAGES,
    )
    return env


def _full_context(context: Mapping[str, Any], locale: str, tz: str) -> dict[str, Any]:
    ctx = dict(context)
    deal = ctx.setdefault("deal", None)
    ctx.setdefault("quote", None)
    ctx.setdefault("partner", deal.partner if deal is not None else None)
    ctx.setdefault("contact", deal.contact if deal is not None else None)
    ctx.setdefault(
        "progress", fields.progress(deal.stage, deal.withdrawn_from) if deal is not None else []
    )
    ctx.setdefault("base_url", None)
    ctx["locale"] = formatting.parse_locale(locale)
    ctx["tz"] = ZoneInfo(tz)
    return ctx


def render(
    name: str, context: Mapping[str, Any], *, locale: str = DEFAULT_LOCALE, tz: str = "UTC"
) -> Rendered:
    """Render one email's subject, plain text and HTML for a reader's locale and zone."""
    folder = ALIASES.get(name, name)
    ctx = _full_context(context, locale, tz)
    subject = _env.get_template(f"email/{folder}/subject.txt").render(ctx)
    return Rendered(
        subject=" ".join(subject.split()),
        # Optional sections leave runs of blank lines behind; one blank line is enough.
        text=re.sub(r"\n{3,}", "\n\n", _env.get_template(f"email/{folder}/body.txt").render(ctx)),
        html=_env.get_template(f"email/{folder}/body.html").render(ctx),
    )


def _hint(spec: fields.FieldSpec) -> str:
    choices = {
        "end_user_role": fields.END_USER_ROLES,
        "project_priority": fields.PRIORITIES,
        "migrating_to": fields.MIGRATING_TO,
    }.get(spec.name)
    if choices:
        hint = "one of: " + " | ".join(choices.values())
    else:
        hint = {
            "domain": "the customer's primary domain, e.g. example.com",
            "email": "an email address",
            "phone": "with the country code, e.g. +44 20 7946 0000",
            "country": "two-letter country code, e.g. GB, US",
            "state": "state, county or province, where the country has them",
            "int": "a whole number, 1 to 1,000,000",
            "money": "amount and currency, e.g. 120000 GBP",
            "date": "YYYY-MM-DD",
            "bool": "Yes or No",
            "longtext": "free text, up to 3,000 characters",
        }.get(spec.kind, "")
        if spec.name == "product":
            hint = "the product name or code from the price list"
    if not spec.required:
        hint = f"optional; {hint}" if hint else "optional"
    return hint


def blank_form(country: str | None = None, values: Mapping[str, str] | None = None) -> str:
    """Return the registration form as `Label: value` lines, grouped by section."""
    values = values or {}
    sections = [
        {
            "title": title,
            "fields": [
                {
                    "label": fields.label_for(f.name, country),
                    "hint": _hint(f),
                    # One line per field: the intake parser reads `Label: value` lines.
                    "value": " ".join(str(values.get(f.name, "")).split()),
                }
                for f in fields.FIELDS
                if f.section == key
            ],
        }
        for key, title in fields.SECTIONS.items()
    ]
    return _env.get_template("intake/form.txt").render(sections=sections)


_env = _make_env()
