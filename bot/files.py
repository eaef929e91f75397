"""A quote's PDF, shared as a file in a person's direct message with the bot.

A partner sees only their own deals and quotes, so a PDF goes to a direct message, never to
a channel others read.
"""

from __future__ import annotations

from slack_sdk import WebClient

from bot.kit import escape
from core import quote_pdf
from core.models import Quote


def open_dm(client: WebClient, user_id: str) -> str:
    """Open (or find) the direct message between the bot and `user_id`; return its channel."""
    opened = client.conversations_open(users=user_id)
    return str(opened["channel"]["id"])


def share_quote(client: WebClient, channel: str, quote: Quote, vendor_name: str) -> None:
    """Upload the quote's PDF into `channel` with a line saying what it is."""
    comment = f"📄 Quote {quote.number} for {quote.product.name}, as a PDF."
    client.files_upload_v2(
        channel=channel,
        file=quote_pdf.render(quote, vendor_name),
        filename=quote_pdf.filename(quote),
        title=f"Quote {quote.number}",
        initial_comment=escape(comment),  # message text: Slack parses it as mrkdwn
    )
