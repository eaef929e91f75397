"""Typed settings, read once at the composition root and passed down."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting of the product; environment first, then `.env`."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = "sqlite:///dealreg.db"
    imap_url: SecretStr | None = None
    maildir: Path = Path("var/maildir")
    smtp_url: SecretStr | None = None
    outbox_dir: Path = Path("var/outbox")
    intake_address: str = "deals@dealreg.localhost"
    mail_from_name: str = "Deal Registration"
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    slack_review_channel: str = "#deal-desk"
    vendor_name: str = "Mimecast"
    protection_days: int = Field(default=90, ge=1)
    reward_margin_pct: Decimal = Field(default=Decimal("10"), ge=0, le=100)
    quote_valid_days: int = Field(default=30, ge=1)
    reminder_days: list[int] = Field(default_factory=lambda: [14, 3])
    nudge_after_hours: int = Field(default=48, ge=1)
    max_extensions: int = Field(default=1, ge=0)
    extension_days: int = Field(default=30, ge=1)
    intake_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    intake_trusted_authserv_id: str | None = None
    # Read a long run's messages one batch ahead in a second process (a second core).
    intake_read_ahead: bool = True
    outbox_max_attempts: int = Field(default=12, ge=1)
    base_url: str = "http://localhost:3000"

    @property
    def slack_enabled(self) -> bool:
        return self.slack_bot_token is not None and self.slack_signing_secret is not None
