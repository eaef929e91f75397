"""Modals for changing and ending a deal (pure): the registration modal filled with a deal's
values (`deal_amend`), the withdrawal modal (`deal_withdraw`), and what each did."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pycountry

from bot.blocks import deal_title, stage_line
from bot.kit import Block, context, input_block, modal, option, options, section
from bot.modals import registration, registration_form
from core.fields import FIELDS_BY_NAME, WITHDRAW_REASONS
from core.models import Deal
from core.protection import DomainCheck
from core.services.views import registration_json

AMEND = "deal_amend"
WITHDRAW = "deal_withdraw"


def edit(
    deal: Deal,
    products: list[tuple[str, str]],
    *,
    country: str | None = None,
    check: DomainCheck | str | None = None,
) -> Block:
    """The registration modal, its inputs holding the deal's values, to submit as changes."""
    country = country or deal.country
    view = registration(
        deal.partner.name, deal.contact.email, deal.currency, products, country=country, check=check
    )
    values = registration_json(deal)
    blocks = [prefilled(block, values) for block in view["blocks"]]
    meta = {"deal": deal.number, "country": country, "currency": deal.currency}
    return modal(AMEND, f"Edit {deal.number}", blocks, submit="Save", metadata=meta)


def prefilled(block: Block, values: dict[str, Any]) -> Block:
    """An input block showing the value `values` holds for its field (others as they are)."""
    value = values.get(block.get("block_id") or "")
    if block.get("type") != "input" or value is None or value == "":
        return block
    element = dict(block["element"])
    kind = element["type"]
    if kind == "datepicker":
        element["initial_date"] = str(value)
    elif kind == "static_select":
        wanted = ("yes" if value else "no") if isinstance(value, bool) else str(value)
        chosen = [o for o in element.get("options", []) if o["value"] == wanted]
        if chosen:
            element["initial_option"] = chosen[0]
    elif kind == "external_select":
        element["initial_option"] = option(_place_name(str(value)), str(value))
    else:
        element["initial_value"] = str(value)
    return {**block, "element": element}


def _place_name(code: str) -> str:
    """A country's or subdivision's name, as the typeahead offers it; else the code."""
    # pycountry leaves the subdivisions' get() unannotated.
    place = pycountry.countries.get(alpha_2=code) or pycountry.subdivisions.get(code=code)  # type: ignore[no-untyped-call]
    return str(getattr(place, "name", code))


def changes(
    typed: dict[str, Any], current: dict[str, Any], inputs: Iterable[str]
) -> dict[str, Any]:
    """The fields among `inputs` whose typed value differs from the deal's `current` one; an
    input left empty clears its field (the core says when that field is required)."""
    form = registration_form(typed)
    found: dict[str, Any] = {}
    for name in inputs:
        if name not in FIELDS_BY_NAME:
            continue
        new, old = form.get(name), current.get(name)
        if old == new or (old is not None and new is not None and str(old) == str(new)):
            continue
        if old in (None, "") and new in (None, ""):
            continue
        found[name] = new
    return found


def amended(number: str, applied: list[str], requested: list[str]) -> Block:
    """What an edit did: the changes saved, and those sent to the deal desk."""
    parts = []
    if applied:
        parts.append(f"✅ Saved your changes to *{number}*:\n" + _bullets(applied))
    if requested:
        parts.append(
            f"⏳ Sent to the deal desk for approval (they change what *{number}* protects):\n"
            + _bullets(requested)
        )
    if not parts:
        parts.append(f"Nothing changed: the values are those *{number}* already has.")
    return modal("deal_amended", "Deal updated", [section(p) for p in parts], close="Done")


def withdraw(deal: Deal) -> Block:
    """Ask why the deal ends, and for an optional note."""
    blocks = [
        section(f"Withdraw *{deal_title(deal)}*\n{stage_line(deal)}"),
        context("Its protection ends at once and its quotes become void; it cannot be undone."),
        input_block(
            "withdraw_reason",
            "Reason",
            {"type": "static_select", "options": options(WITHDRAW_REASONS)},
        ),
        input_block(
            "withdraw_note",
            "Note",
            {"type": "plain_text_input", "multiline": True, "max_length": 2000},
            optional=True,
        ),
    ]
    meta = {"deal": deal.number}
    return modal(WITHDRAW, "Withdraw deal", blocks, submit="Withdraw", metadata=meta)


def withdrawn(deal: Deal) -> Block:
    """The view after a withdrawal: the deal, its reason and where it got to."""
    label = WITHDRAW_REASONS.get(deal.withdraw_reason or "", deal.withdraw_reason or "")
    text = f"🚫 *{deal.number}* is withdrawn: {label}.\n{stage_line(deal)}"
    return modal("deal_withdrawn", "Deal withdrawn", [section(text)], close="Done")


def _bullets(lines: list[str]) -> str:
    return "\n".join(f"• {line}" for line in lines)
