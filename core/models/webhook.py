"""The endpoints webhooks go to, and whether each still takes them."""

# No `from __future__ import annotations`: see core/models/__init__.py.

from datetime import datetime

from sqlalchemy import Boolean, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, intpk


class WebhookEndpoint(Base):
    """One URL of `WEBHOOK_URLS` as first seen, and its state: an endpoint that answered
    410 Gone, or that left the setting, takes no events until it is enabled again."""

    __tablename__ = "webhook_endpoints"
    id: Mapped[intpk]
    url: Mapped[str] = mapped_column(String(2000), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(Text)
