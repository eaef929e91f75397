"""Plain-text views for the terminal: deals, domain checks, prospects, status."""

from __future__ import annotations

from typing import Any

from core.fields import FIELDS, PROGRESS, STAGES, WITHDRAW_REASONS, label_for
from core.models import Deal


def deal_row(deal: Deal) -> dict[str, Any]:
    return {
        "number": deal.number,
        "stage": deal.stage,
        "partner": deal.partner.name,
        "company_name": deal.company_name,  # as this registration typed it
        "domain": deal.prospect.domain,
        "product": deal.product.code,
        "number_of_users": deal.number_of_users,
        "created_at": deal.created_at.date().isoformat(),
        "protection_expires_at": deal.protection_expires_at.date().isoformat()
        if deal.protection_expires_at
        else None,
    }


def table(rows: list[dict[str, Any]]) -> str:
    cols = ("number", "stage", "partner", "company_name", "domain", "product", "created_at")
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols}
    out = ["  ".join(c.ljust(widths[c]) for c in cols)]
    out += ["  ".join(str(r[c]).ljust(widths[c]) for c in cols) for r in rows]
    return "\n".join(out)


def progress_text(stage: str, progress: list[dict[str, Any]]) -> str:
    """The four stages, those reached marked; a side exit (withdrawn, ...) named after them."""
    marks = {"done": "[x]", "current": "[>]", "todo": "[ ]"}
    bar = " > ".join(f"{marks[str(p['state'])]} {p['label']}" for p in progress)
    if stage not in PROGRESS:
        bar += f"   ({STAGES[stage]})"
    return bar


def deal_text(view: dict[str, Any], amendment: list[str] | None = None) -> str:
    """One deal for the terminal; `amendment`: the pending request's lines (Label: old → new)."""
    lines = [
        f"{view['number']}  {view['prospect']['company_name']} ({view['prospect']['domain']})",
        progress_text(view["stage"], view["progress"]),
        f"partner: {view['partner']} ({view['contact_email']})",
    ]
    if view.get("conflict_with"):  # reviewers only
        lines.append(f"conflict: {view['conflict_with']} is registered by another partner")
    lines += _ending(view)
    if amendment:
        lines.append(f"Amendment awaiting the deal desk: {'; '.join(amendment)}")
    lines.append("")
    for spec in FIELDS:
        value = view.get(spec.name)
        if value not in (None, ""):
            if spec.name == "projected_value":
                value = f"{value} {view['currency']}"
            lines.append(f"{label_for(spec.name, view.get('country')):28} {value}")
    for q in view["quotes"]:
        lines.append("")
        lines.append(f"quote {q['number']} (valid until {q['valid_until']}): {q['status']}")
        for line in q["lines"]:
            lines.append(f"  {line['description']:40} {line['amount']:>14} {q['currency']}")
        lines.append(f"  {'total':40} {q['total']:>14} {q['currency']}")
    lines.append("")
    lines.append("history:")
    for e in view["history"]:
        move = f"{e['from'] or '-'} -> {e['to'] or '-'}"
        lines.append(f"  {e['at'][:19]}  {e['action']:18} {move:28} {e['actor']} ({e['channel']})")
    return "\n".join(lines)


def _ending(view: dict[str, Any]) -> list[str]:
    """The protection's end, and why a withdrawn deal ended."""
    until = view["protection_expires_at"]
    if view["stage"] != "withdrawn":
        return [f"protected until: {until[:10]}"] if until else []
    reason = view["withdraw_reason"]
    lines = [f"withdrawn: {WITHDRAW_REASONS.get(reason, reason)}"]
    if view["withdraw_note"]:
        lines.append(f"note: {view['withdraw_note']}")
    if until:
        lines.append(f"protection ended: {until[:10]}")
    return lines


def check_text(data: dict[str, Any]) -> str:
    """Free, already yours, or protected until a date; and a warning about odd letters."""
    status = data["status"]
    if status == "yours":
        text = f"{data['domain']}: already yours ({data['your_deal']})"
    elif status == "protected":
        text = f"{data['domain']}: protected by another partner until {data['protected_until']}"
    else:
        text = f"{data['domain']}: free"
    return text + (f"\nwarning: {data['warning']}" if data.get("warning") else "")


def prospect_text(data: dict[str, Any]) -> str:
    name = data["company_name"] or data["domain"]
    lines = [f"{name} ({data['domain']})", check_text(data), "", "registrations:"]
    lines += [f"  {d['number']}  {d['stage']:16} {d['product']}" for d in data["deals"]] or [
        "  none"
    ]
    lines += ["", "quotes:"]
    lines += [
        f"  {q['number']}  {q['product']:20} {q['currency']} {q['total']} "
        f"(reward margin {q['reward_margin_pct']}%)"
        for q in data["quotes"]
    ] or ["  none"]
    return "\n".join(lines)


def status_text(data: dict[str, Any]) -> str:
    deals = ", ".join(f"{k} {v}" for k, v in sorted(data["deals"].items())) or "none"
    lines = [f"deals: {deals}"]
    waiting = data["waiting_review"]
    if waiting:
        lines.append(f"waiting review: {waiting} (oldest {data['oldest_waiting_hours']} h)")
    box = data["outbox"]
    lines.append(
        f"outbox: {box['pending']} pending, {box['retrying']} retrying, {box['failed']} failed"
    )
    hooks = data["webhooks"]
    lines.append(
        f"webhooks: {hooks['pending']} pending, {hooks['retrying']} retrying, "
        f"{hooks['failed']} failed, {hooks['endpoints_disabled']} endpoints disabled"
    )
    lines.append(f"amendment requests awaiting the deal desk: {data['amendments_waiting']}")
    lines.append(f"inbound failed (to retry): {data['inbound_failed']}")
    lines.append(f"inbound held (awaiting the sender's confirmation): {data['inbound_held']}")
    for name, run in sorted(data["jobs"].items()):
        error = f"  error: {run['last_error']}" if run["last_error"] else ""
        lines.append(f"job {name}: last {run['last_finished_at']}{error}")
    return "\n".join(lines)
