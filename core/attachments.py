"""What goes with an outbox email, made when the email is built (not stored with the row):
the PDF of the quote it hands over, and the digest's chart, inline."""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.figures import WEEKLY_TITLE, Week, chart_png
from core.mailer import Attachment
from core.models import OutboxMessage, Quote

CHART_HEADER = "_chart_weeks"  # a row's own note ("_"): never sent as a header
CHART_CID = "weekly-chart@dealreg"


def attachments_of(session: Session, row: OutboxMessage, vendor_name: str) -> list[Attachment]:
    """The files `row`'s email carries."""
    found = []
    if row.quote_id is not None:
        from core import quote_pdf  # reportlab takes 0.15 s to import: only to draw one

        quote = session.get_one(Quote, row.quote_id)
        pdf = quote_pdf.render(quote, vendor_name)
        found.append(Attachment(quote_pdf.filename(quote), "application/pdf", pdf))
    weeks = (row.headers or {}).get(CHART_HEADER)
    if weeks is not None:
        png = chart_png([Week.from_json(w) for w in weeks], WEEKLY_TITLE)
        found.append(Attachment("weekly.png", "image/png", png, content_id=CHART_CID))
    return found
