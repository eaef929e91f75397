"""The `dealreg` command's arguments, built from argparse alone so `--help` imports nothing
of the product, and the module and function that run each subcommand."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

JOB_NAMES = ("outbox", "expire", "remind", "sla", "digest", "poll", "retention")
# core.fields' STAGES and WITHDRAW_REASONS codes, written out so `--help` imports no product
# (tests/integration/test_cli_amend.py checks they match).
STAGE_CODES = (
    "opportunity", "approved", "order_started", "order_submitted", "rejected", "expired",
    "withdrawn",
)  # fmt: skip
WITHDRAW_CODES = (
    "lost_to_competitor", "no_budget", "no_decision", "project_cancelled",
    "registered_in_error", "other",
)  # fmt: skip

# "COMMAND ACTION" (or "COMMAND") -> "module:function" that runs it, imported only when run.
HANDLERS: dict[str, str] = {
    "init": "dealreg.init_command:init",
    "catalog load": "dealreg.admin_command:catalog_load",
    "catalog remove": "dealreg.admin_command:catalog_remove",
    "status": "dealreg.admin_command:status",
    "run": "dealreg.worker:run",
    "worker": "dealreg.worker:worker",
    "bot": "dealreg.bot_command:bot",
    "jobs run": "dealreg.job_runner:jobs_run",
    "intake run": "dealreg.intake_command:intake_run",
    "intake parse": "dealreg.intake_command:intake_parse",
    "intake list": "dealreg.intake_command:intake_list",
    "intake retry": "dealreg.intake_command:intake_retry",
    "deals list": "dealreg.deals_read:deals_list",
    "deals show": "dealreg.deals_read:deals_show",
    "deals register": "dealreg.deals_command:deals_register",
    "deals approve": "dealreg.deals_command:deals_approve",
    "deals reject": "dealreg.deals_command:deals_reject",
    "deals return": "dealreg.deals_command:deals_return",
    "deals answer": "dealreg.deals_command:deals_answer",
    "deals advance": "dealreg.deals_command:deals_advance",
    "deals extend": "dealreg.deals_command:deals_extend",
    "deals extension": "dealreg.deals_command:deals_extension",
    "deals quote": "dealreg.deals_command:deals_quote",
    "deals amend": "dealreg.changes_command:deals_amend",
    "deals amendment": "dealreg.changes_command:deals_amendment",
    "deals withdraw": "dealreg.changes_command:deals_withdraw",
    "deals quote-pdf": "dealreg.deals_read:deals_quote_pdf",
    "deals check": "dealreg.prospect_command:deals_check",
    "deals prospect": "dealreg.prospect_command:deals_prospect",
    "rules report": "dealreg.rules_command:rules_report_command",
    "report": "dealreg.report_command:report_command",
    "webhooks list": "dealreg.webhooks_command:webhooks_list",
    "webhooks retry": "dealreg.webhooks_command:webhooks_retry",
    "webhooks enable": "dealreg.webhooks_command:webhooks_enable",
    "webhooks ping": "dealreg.webhooks_command:webhooks_ping",
    "privacy export": "dealreg.privacy_command:privacy_export",
    "privacy erase": "dealreg.privacy_command:privacy_erase",
}


def handler_of(args: argparse.Namespace) -> str:
    """The "module:function" that runs the subcommand `args` name."""
    key = args.command + (f" {args.action}" if getattr(args, "action", None) else "")
    return HANDLERS[key]


def parser() -> argparse.ArgumentParser:
    """The whole argument tree of `dealreg`."""
    p = argparse.ArgumentParser(prog="dealreg", description="Deal registration.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("init", help="create or migrate the database")
    cat = sub.add_parser("catalog", help="the product catalogue").add_subparsers(
        dest="action", required=True
    )
    load = cat.add_parser("load", help="load products, tiers, partners and reviewers (upsert)")
    load.add_argument("file", type=Path)
    load.add_argument("--json", action="store_true")
    remove = cat.add_parser(
        "remove", help="take a reviewer or partner contact out: they no longer act"
    )
    remove.add_argument("email")
    remove.add_argument("--json", action="store_true")

    sub.add_parser("run", help="bot (if Slack is configured), intake and scheduler in one")
    bot = sub.add_parser("bot", help="serve the Slack app over HTTP")
    bot.add_argument("--port", type=int)
    sub.add_parser("worker", help="the scheduler: intake polling, outbox, expiry, reminders")
    st = sub.add_parser("status", help="deals per stage, queues, failures")
    st.add_argument("--json", action="store_true")

    _intake(sub)
    _deals(sub)
    _rules(sub)
    _report(sub)
    _webhooks(sub)
    _privacy(sub)

    jobs = sub.add_parser("jobs", help="scheduled jobs").add_subparsers(
        dest="action", required=True
    )
    run = jobs.add_parser("run", help="run one job now, or as of a given time")
    run.add_argument("name", choices=JOB_NAMES)
    run.add_argument(
        "--at", type=_moment, help="run as of this ISO time (naive: UTC), to replay a missed run"
    )
    run.add_argument("--json", action="store_true")
    return p


def _intake(sub: Any) -> None:
    intake = sub.add_parser("intake", help="the email intake").add_subparsers(
        dest="action", required=True
    )
    run = intake.add_parser("run", help="read the mailbox and handle registrations")
    run.add_argument("--once", action="store_true", help="handle what is there, then stop")
    parse = intake.add_parser("parse", help="print what a message parses to (writes nothing)")
    parse.add_argument("file", type=Path)
    lst = intake.add_parser("list", help="received messages")
    lst.add_argument("--status")
    lst.add_argument("--json", action="store_true")
    retry = intake.add_parser("retry", help="run a stored message through the pipeline again")
    retry.add_argument("id", type=int)


def _deals(sub: Any) -> None:
    deals = sub.add_parser("deals", help="deal registrations").add_subparsers(
        dest="action", required=True
    )

    def cmd(name: str, help_: str, *, number: bool = True, by: str | None = "--by") -> Any:
        c = deals.add_parser(name, help=help_)
        if number:
            c.add_argument("number", metavar="DR-NUMBER")
        if by:
            c.add_argument(by, dest="by", required=True, metavar="EMAIL")
        c.add_argument("--json", action="store_true")
        return c

    lst = cmd("list", "list deals", number=False, by=None)
    lst.add_argument("--search")
    lst.add_argument("--stage", choices=STAGE_CODES)
    lst.add_argument("--as", dest="by", metavar="EMAIL", help="list as this person sees")
    lst.add_argument("--limit", type=int, default=50)
    show = cmd("show", "show one deal", by=None)
    show.add_argument("--as", dest="by", metavar="EMAIL")
    reg = cmd("register", "register from a JSON file of the fields", number=False, by=None)
    reg.add_argument("--partner", required=True, help="the partner's name")
    reg.add_argument("--file", required=True, type=Path)
    reg.add_argument("--by", help="the registering contact (default: the partner's first)")
    cmd("approve", "approve (as a reviewer)", by="--reviewer")
    rej = cmd("reject", "reject (as a reviewer)", by="--reviewer")
    rej.add_argument("--reason", required=True, help="a reason code or text")
    rej.add_argument("--note")
    ret = cmd("return", "return for more information (as a reviewer)", by="--reviewer")
    ret.add_argument("--question", required=True)
    ans = cmd("answer", "answer a returned registration (as the partner)")
    ans.add_argument("--text", required=True)
    adv = cmd("advance", "order started, then order submitted (as the partner)")
    adv.add_argument("--quote", help="the quote that became the order")
    adv.add_argument("--po", help="the customer's purchase-order number")
    cmd("extend", "request an extension of the protection (as the partner)")
    ext = cmd("extension", "grant or decline a requested extension", by="--reviewer")
    ext.add_argument("decision", choices=["grant", "decline"])
    q = cmd("quote", "add a quote to the deal's prospect (as the partner)")
    q.add_argument("--users", type=int)
    q.add_argument("--product")
    pdf = cmd("quote-pdf", "write a quote as a PDF", number=False, by=None)
    pdf.add_argument("quote", metavar="Q-NUMBER")
    pdf.add_argument("-o", "--output", type=Path, help="the file (default: Q-NUMBER.pdf here)")
    pdf.add_argument("--by", metavar="EMAIL", help="as this partner contact (their quotes only)")
    chk = cmd("check", "is a domain free to register?", number=False)
    chk.add_argument("domain")
    pr = cmd("prospect", "a prospect's registrations and quotes", number=False)
    pr.add_argument("domain")
    _changes(cmd)


def _changes(cmd: Any) -> None:
    """`deals amend`, `deals amendment` and `deals withdraw`: a deal changes and ends."""
    amend = cmd("amend", "change registration fields (as the partner)")
    values = amend.add_mutually_exclusive_group(required=True)
    values.add_argument(
        "--set", dest="set", action="append", type=_assignment, metavar="FIELD=VALUE",
        help="a field's new value (repeatable; an empty VALUE clears an optional field)",
    )  # fmt: skip
    values.add_argument("--file", type=Path, help="a JSON object of {field: value}")
    decide = cmd("amendment", "approve or decline a requested amendment", by="--reviewer")
    decide.add_argument("decision", choices=["approve", "decline"])
    decide.add_argument("--note", help="a note for the partner")
    end = cmd("withdraw", "withdraw a deal (its partner or the deal desk)", by=None)
    who = end.add_mutually_exclusive_group(required=True)
    who.add_argument("--by", dest="by", metavar="EMAIL", help="as the deal's partner contact")
    who.add_argument("--reviewer", metavar="EMAIL", help="as the deal desk")
    end.add_argument(
        "--reason", required=True, choices=WITHDRAW_CODES, metavar="CODE",
        help=f"why: {', '.join(WITHDRAW_CODES)}",
    )  # fmt: skip
    end.add_argument("--note")


def _assignment(text: str) -> tuple[str, str]:
    """`FIELD=VALUE` as (field, value); anything else is a usage error naming it."""
    name, eq, value = text.partition("=")
    if not eq or not name.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not FIELD=VALUE")
    return name.strip(), value


def _rules(sub: Any) -> None:
    rules = sub.add_parser("rules", help="the deal desk's rules").add_subparsers(
        dest="action", required=True
    )
    report = rules.add_parser(
        "report", help="per rule: matched, approved, and how often reviewers agreed with shadows"
    )
    report.add_argument("--since", type=_moment, help="from this date or ISO time (UTC)")
    report.add_argument("--json", action="store_true")


def _report(sub: Any) -> None:
    report = sub.add_parser("report", help="the programme's figures over the deals registered")
    report.add_argument("--since", type=_moment, help="registered from this date (UTC)")
    report.add_argument("--until", type=_moment, help="registered before this date (UTC)")
    report.add_argument("--by", choices=("partner", "product", "country", "channel", "rule"))
    report.add_argument("--format", choices=("table", "csv", "json"), default="table")
    report.add_argument("--chart", type=Path, metavar="FILE.png", help="write a weekly chart")


def _privacy(sub: Any) -> None:
    privacy = sub.add_parser("privacy", help="a person's data: export or erase").add_subparsers(
        dest="action", required=True
    )
    export = privacy.add_parser("export", help="print as JSON everything held about a person")
    export.add_argument("email", metavar="EMAIL")
    erase = privacy.add_parser(
        "erase", help="erase a person's data (irreversible; without --yes: what would go)"
    )
    erase.add_argument("email", metavar="EMAIL")
    erase.add_argument("--yes", action="store_true", help="erase: this cannot be undone")
    erase.add_argument("--json", action="store_true")


def _webhooks(sub: Any) -> None:
    hooks = sub.add_parser("webhooks", help="deal events POSTed to WEBHOOK_URLS").add_subparsers(
        dest="action", required=True
    )
    lst = hooks.add_parser("list", help="each endpoint, on or off, with its deliveries by state")
    lst.add_argument("--failed", action="store_true", help="the failed deliveries instead")
    lst.add_argument("--json", action="store_true")
    retry = hooks.add_parser("retry", help="send failed deliveries again")
    retry.add_argument("id", type=int, nargs="?", metavar="ID")
    retry.add_argument("--all-failed", action="store_true", help="every failed delivery")
    retry.add_argument("--json", action="store_true")
    enable = hooks.add_parser("enable", help="turn an endpoint on again (after a 410)")
    enable.add_argument("url", metavar="URL")
    enable.add_argument("--json", action="store_true")
    ping = hooks.add_parser("ping", help="send a signed webhook.ping to each enabled endpoint")
    ping.add_argument("--json", action="store_true")


def _moment(text: str) -> datetime:
    """An ISO date or time; a naive one is UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO date or time") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
