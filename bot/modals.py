"""Modals: registration (with in-place domain check), review and order steps (pure)."""

from __future__ import annotations

import json
from typing import Any

from bot.blocks import check_result, money, partner_locale, progress_line, stage_line
from bot.kit import (
    Block,
    clip,
    context,
    escape,
    header,
    input_block,
    modal,
    options,
    section,
)
from core.errors import DealError, Invalid
from core.fields import (
    END_USER_ROLES,
    FIELDS_BY_NAME,
    MIGRATING_TO,
    PRIORITIES,
    REJECT_REASONS,
    SECTIONS,
    STAGES,
    label_for,
)
from core.models import Deal
from core.protection import DomainCheck

REGISTER = "deal_register"
YES_NO = {"yes": "Yes", "no": "No"}


def loading(title: str = "Deal registration") -> Block:
    return modal("loading", title, [section("⏳ Loading…")], close="Close")


def notice(title: str, text: str) -> Block:
    return modal("notice", title, [section(text)], close="Close")


def _text(multiline: bool = False, max_length: int | None = None) -> Block:
    element: Block = {"type": "plain_text_input", "multiline": multiline}
    if max_length:
        element["max_length"] = max_length
    return element


def _select(choices: dict[str, str] | list[tuple[str, str]]) -> Block:
    return {"type": "static_select", "options": options(choices)}


def _field(name: str, element: Block, country: str | None = None, **kw: Any) -> Block:
    spec = FIELDS_BY_NAME[name]
    optional = kw.pop("optional", not spec.required)
    return input_block(name, label_for(name, country), element, optional=optional, **kw)


def verification_block(result: DomainCheck | str | None) -> list[Block]:
    """The domain check under the domain input: free, already yours, protected, or why not."""
    if result is None:
        return [context("Press Enter in the domain field to verify it.", block_id="domain_check")]
    if isinstance(result, str):
        return [context(f"❌ {result}", block_id="domain_check")]
    return [context(f"Domain verified: {check_result(result)}", block_id="domain_check")]


def registration(
    partner_name: str,
    contact_email: str,
    currency: str,
    products: list[tuple[str, str]],
    *,
    country: str | None = None,
    check: DomainCheck | str | None = None,
) -> Block:
    """The registration modal: the four sections, every input named by its field."""
    domain_el = _text() | {
        "dispatch_action_config": {"trigger_actions_on": ["on_enter_pressed"]},
        "placeholder": {"type": "plain_text", "text": "example.com"},
    }
    external = {"type": "external_select", "min_query_length": 0}
    blocks: list[Block] = [
        header(SECTIONS["company"]),
        _field("company_name", _text()),
        _field("domain", domain_el, dispatch=True, hint="Press Enter to verify the domain"),
        *verification_block(check),
        header(SECTIONS["partner"]),
        section(f"*{partner_name}* · {contact_email}"),
        _field("contact_name", _text()),
        _field("contact_phone", _text()),
        _field("partner_sales_lead_name", _text()),
        _field("partner_sales_lead_email", {"type": "email_text_input"}),
        header(SECTIONS["end_user"]),
        _field("end_user_first_name", _text()),
        _field("end_user_last_name", _text()),
        _field("end_user_position", _text()),
        _field("end_user_email", {"type": "email_text_input"}),
        _field("end_user_phone", _text()),
        _field("end_user_role", _select(END_USER_ROLES)),
        _field("address_line1", _text()),
        _field("address_line2", _text()),
        _field("country", dict(external), dispatch=True),
        _field("state", dict(external), country, optional=True),
        _field("postcode", _text(), country),
        header(SECTIONS["opportunity"]),
        _field("product", _select(products)),
        _field(
            "number_of_users",
            {"type": "number_input", "is_decimal_allowed": False, "min_value": "1"}
            | {"max_value": "1000000"},
        ),
        _field("projected_value", _text(), hint=f"An amount in {currency}, or with its code"),
        _field("close_date", {"type": "datepicker"}),
        _field("budget_approved", _select(YES_NO)),
        _field("project_priority", _select(PRIORITIES)),
        _field("problems_to_solve", _text(multiline=True, max_length=3000)),
        _field("meeting_date", {"type": "datepicker"}),
        _field("migrating_to", _select(MIGRATING_TO)),
    ]
    meta = {"country": country, "currency": currency}
    return modal(REGISTER, "Register a deal", blocks, submit="Register", metadata=meta)


def registered(number: str, stage: str, created: bool) -> Block:
    """The success view: the deal number and the four-stage progress."""
    if created:
        text = f"🎉 Registered *{number}*. The deal desk will review it; you will hear back here."
    else:
        text = f"You already registered this prospect and product: *{number}*."
    return modal(
        "deal_registered", "Deal registered", [section(text), section(progress_line(stage))]
    )


def registered_stage(number: str, stage: str) -> Block:
    """The view after a deal moved on: its number and progress."""
    text = f"✅ *{number}* is now at stage {STAGES[stage]}.\n{progress_line(stage)}"
    return modal("deal_advanced", "Deal advanced", [section(text)], close="Done")


def state_values(view_state: dict[str, Any]) -> dict[str, Any]:
    """Read a view's state into field -> value, leaving out what is empty."""
    out: dict[str, Any] = {}
    for block_id, by_action in (view_state.get("values") or {}).items():
        for element in by_action.values():
            value = element_value(element)
            if value not in (None, ""):
                out[block_id] = value
    return out


def element_value(element: dict[str, Any]) -> Any:
    kind = element.get("type")
    if kind in ("static_select", "external_select"):
        selected = element.get("selected_option")
        return selected.get("value") if selected else None
    if kind == "datepicker":
        return element.get("selected_date")
    return element.get("value")


def registration_form(values: dict[str, Any]) -> dict[str, Any]:
    """Turn modal values into the registration the core validates."""
    form = dict(values)
    if "budget_approved" in form:
        form["budget_approved"] = form["budget_approved"] == "yes"
    return form


def errors_for(error: DealError, blocks: list[str]) -> dict[str, str]:
    """Map a service error to modal errors by block id (currency shows on the amount)."""
    found = error.errors if isinstance(error, Invalid) else []
    pairs = [(e.field, e.message) for e in found] or [(error.field or "", error.message)]
    out: dict[str, str] = {}
    for field, text in pairs:
        block = "projected_value" if field == "currency" else field
        if block not in blocks:
            block = blocks[0]
            text = f"{field}: {text}" if field else text
        out[block] = f"{out[block]}; {text}" if block in out else text
    # Messages quote what was typed: escaped like every other text for Slack.
    return {block: clip(escape(text), 300) for block, text in out.items()}


def metadata(view: dict[str, Any]) -> dict[str, Any]:
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _origin(number: str, from_home: bool) -> dict[str, Any]:
    """The modal's metadata: its deal, and whether it was opened from the App Home (which
    its submission then publishes again)."""
    return {"deal": number, "home": True} if from_home else {"deal": number}


def reject(number: str, from_home: bool = False) -> Block:
    blocks = [
        section(f"Reject *{number}*"),
        input_block("reason", "Reason", _select(REJECT_REASONS)),
        input_block("note", "Note to the partner", _text(True, 2000), optional=True),
    ]
    meta = _origin(number, from_home)
    return modal("deal_reject", "Reject registration", blocks, submit="Reject", metadata=meta)


def return_(number: str, from_home: bool = False) -> Block:
    blocks = [
        section(f"Return *{number}* to the partner with a question"),
        input_block("question", "What is missing?", _text(True, 2000)),
    ]
    meta = _origin(number, from_home)
    return modal("deal_return", "Return for information", blocks, submit="Return", metadata=meta)


def answer(deal: Deal) -> Block:
    number = deal.number
    blocks = [
        section(f"*Question about {number}:* {deal.returned_question or ''}"),
        input_block("answer", "Your answer", _text(True, 2000)),
    ]
    return modal(
        "deal_answer", "Answer the deal desk", blocks, submit="Send", metadata={"deal": number}
    )


def advance(deal: Deal) -> Block:
    """Ask for the quote to order (approved) or the customer's PO number (order started)."""
    number = deal.number
    blocks: list[Block] = [section(f"*{number}*\n{stage_line(deal)}")]
    if deal.stage == "approved":
        locale = partner_locale(deal.partner)
        choices = [
            (q.number, f"{q.number} · {money(q.total, q.currency, locale)}") for q in deal.quotes
        ]
        blocks.append(input_block("quote", "Quote to order", _select(choices)))
        submit = "Start order"
    else:
        blocks.append(input_block("po_number", "Customer's PO number", _text(max_length=100)))
        submit = "Submit order"
    return modal("deal_advance", "Advance deal", blocks, submit=submit, metadata={"deal": number})
