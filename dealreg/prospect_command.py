"""`dealreg deals check|prospect`: whether a domain is free, and a prospect's page."""

from __future__ import annotations

import argparse
from typing import Any

from core.domains import describe, suspicion
from core.protection import DomainCheck
from core.services.prospects import prospect_page
from core.services.register import check_domain
from core.services.views import quote_view
from dealreg import render
from dealreg.deals_read import actor
from dealreg.output import emit
from dealreg.wiring import App


def _check_data(check: DomainCheck) -> dict[str, Any]:
    """What a partner may learn about a domain, and what is odd about the letters typed."""
    odd = suspicion(check.domain)
    return {
        "domain": check.domain,
        "status": check.status,
        "protected_until": check.protected_until.date().isoformat()
        if check.protected_until
        else None,
        "your_deal": check.your_deal,
        "warning": describe(odd) if odd else None,
    }


def deals_check(app: App, args: argparse.Namespace) -> int:
    """Say whether a domain is free, already yours or protected."""
    who = actor(app, args.by)
    with app.uow() as uow:
        data = _check_data(check_domain(uow.session, who, args.domain, app.now()))
    return emit(args, data, render.check_text(data))


def deals_prospect(app: App, args: argparse.Namespace) -> int:
    """Show a prospect's registrations and quotes as the person may see them."""
    who = actor(app, args.by)
    with app.uow() as uow:
        page = prospect_page(uow.session, who, args.domain, app.now())
        data = {
            "company_name": page.company_name,
            "domain": page.domain,
            **_check_data(page.check),
            "deals": [render.deal_row(d) for d in page.deals],
            "quotes": [quote_view(q) for q in page.quotes],
        }
    return emit(args, data, render.prospect_text(data))
