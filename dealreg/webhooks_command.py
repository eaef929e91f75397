"""`dealreg webhooks list|retry|enable|ping`: the endpoints, their deliveries, and what the
operator does when one fails or answers 410."""

from __future__ import annotations

import argparse
from typing import Any

from core import webhook_admin, webhook_endpoints
from core.webhook_delivery import Sending, sync
from dealreg.output import CommandError, emit
from dealreg.wiring import App


def _synced(app: App) -> None:
    """Make the setting's new endpoints known before showing or acting on them. Only the
    worker, which sends, turns off those the setting left: a shell without the setting
    must not stop deliveries."""
    sync(app.uow, app.settings.webhook_urls, app.now(), remove=False)


def webhooks_list(app: App, args: argparse.Namespace) -> int:
    """Each endpoint, on or off, with its deliveries by state; `--failed`: the failures."""
    _synced(app)
    with app.read_uow() as uow:
        if args.failed:
            rows = webhook_admin.failed(uow.session)
            return emit(args, rows, _failed_text(rows))
        found = webhook_admin.endpoints(uow.session)
    return emit(args, found, _endpoints_text(found))


def webhooks_retry(app: App, args: argparse.Namespace) -> int:
    """Queue failed deliveries again: one by id, or every failed one."""
    if args.id is None and not args.all_failed:
        raise CommandError("name a delivery's ID or give --all-failed", code=2)
    _synced(app)
    with app.uow() as uow:
        ids = None if args.all_failed else [args.id]
        count = webhook_admin.retry(uow.session, app.now(), ids)
        uow.commit()
    if count == 0 and args.id is not None:
        raise CommandError(
            f"no failed delivery {args.id} to an enabled endpoint "
            "(see `dealreg webhooks list --failed`; `dealreg webhooks enable URL` first)"
        )
    return emit(args, {"requeued": count}, f"{count} deliveries queued again")


def webhooks_enable(app: App, args: argparse.Namespace) -> int:
    """Turn an endpoint on again (after a 410); its failed deliveries wait for `retry`."""
    _synced(app)
    if args.url not in app.settings.webhook_urls:
        raise CommandError(f"{args.url} is not in WEBHOOK_URLS")
    with app.uow() as uow:
        endpoint = webhook_endpoints.enable(uow.session, args.url)
        uow.commit()
    if endpoint is None:
        raise CommandError(f"no webhook endpoint {args.url}")
    return emit(args, {"url": args.url, "state": "enabled"}, f"{args.url}: enabled")


def webhooks_ping(app: App, args: argparse.Namespace) -> int:
    """Send a signed `webhook.ping` to each enabled endpoint now; exit 1 if one fails."""
    sending = Sending.of(app.settings)
    if sending is None:
        raise CommandError("set WEBHOOK_URLS and WEBHOOK_SECRET first")
    _synced(app)
    with app.uow() as uow:
        results = webhook_admin.ping(uow.session, sending, app.now())
        uow.commit()
    if not results:
        raise CommandError("no enabled webhook endpoint to ping")
    lines = [
        f"{r['url']}: {'ok' if r['ok'] else 'FAILED'} ({r['error'] or r['status']})"
        for r in results
    ]
    emit(args, results, "\n".join(lines))
    return 0 if all(r["ok"] for r in results) else 1


def _endpoints_text(found: list[dict[str, Any]]) -> str:
    if not found:
        return "no webhook endpoints (set WEBHOOK_URLS and WEBHOOK_SECRET)"
    lines = []
    for e in found:
        state = e["state"]
        if e["disabled_reason"]:
            state += f" ({e['disabled_reason']})"
        counts = ", ".join(f"{n} {s}" for s, n in e["deliveries"].items())
        lines.append(f"{e['url']}: {state}\n  deliveries: {counts}")
    return "\n".join(lines)


def _failed_text(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no failed webhook deliveries"
    cols = ("id", "endpoint", "type", "deal", "attempts", "failed_at", "last_error")
    cells = [[str(r[c] if c != "last_error" else (r[c] or "")[:60]) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)
