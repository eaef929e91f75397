"""Typed settings, read once at the composition root and passed down."""

from __future__ import annotations

import base64
import binascii
import functools
from datetime import time
from decimal import Decimal
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core import business_time


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
    # The deal desk's service level: a decision is due this many business hours after a
    # registration arrives (or the partner answers a return), counted in these hours and zone,
    # skipping the public holidays of a country (optionally `GB-ENG`: with a subdivision).
    review_sla_hours: float = Field(default=16, gt=0)
    business_hours: str = "Mon-Fri 09:00-17:30"
    business_timezone: str = "Europe/London"
    business_holidays: str = "GB"
    # Where an overdue registration is escalated (each optional).
    slack_escalation_channel: str | None = None
    escalation_email: str | None = None
    # The desk's morning digest: from this business time on each business day, once.
    digest_at: time = time(8, 30)
    max_extensions: int = Field(default=1, ge=0)
    extension_days: int = Field(default=30, ge=1)
    intake_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    # Sender proof (docs/security.md). A message acts only once its sender is proven: DKIM
    # verified here, the trusted receiving server's Authentication-Results, or the contact's
    # threaded reply to a confirmation email. Turning the check off is unsafe.
    intake_require_sender_proof: bool = True
    intake_trusted_authserv_id: str | None = None
    # DNS servers for DKIM key lookups ("127.0.0.1:5353" or "10.0.0.2"); empty: the system's.
    intake_dns_resolvers: list[str] = Field(default_factory=list)
    intake_dns_timeout_s: float = Field(default=5.0, gt=0)
    intake_hold_days: int = Field(default=7, ge=1)
    # Automatic replies to one sender address per hour; past it, mail is recorded unanswered.
    intake_replies_per_hour: int = Field(default=5, ge=1)
    # Read a long run's messages one batch ahead in a second process (a second core).
    intake_read_ahead: bool = True
    outbox_max_attempts: int = Field(default=12, ge=1)
    # Handled mail's raw bytes and sent mail's bodies are dropped after this many days
    # (the `retention` job; docs/privacy.md).
    raw_mail_retention_days: int = Field(default=365, ge=1)
    # Slack requests are a few KB; a bigger body is refused (413) before it is read whole.
    slack_max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # The port on which `dealreg worker` and `dealreg run` serve /metrics (unset: none; the
    # bot serves /metrics on its own port either way).
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    base_url: str = "http://localhost:3000"
    # Where every deal event is POSTed, signed with the secret (docs/webhooks.md).
    webhook_urls: list[str] = Field(default_factory=list)
    webhook_secret: SecretStr | None = None
    webhook_timeout_s: float = Field(default=10.0, gt=0)

    @field_validator("business_hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        business_time.parse_hours(value)
        return value

    @field_validator("business_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        business_time.parse_zone(value)
        return value

    @field_validator("business_holidays")
    @classmethod
    def _region(cls, value: str) -> str:
        # The default is known good; checking another loads the holidays package (~60 ms,
        # which every command reading the settings would otherwise pay).
        if value != "GB":
            business_time.parse_region(value)
        return value

    @field_validator("webhook_urls")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        for url in value:
            if not url.startswith(("https://", "http://")):
                raise ValueError(f"{url!r} is not an http(s) URL")
        return list(dict.fromkeys(value))

    @field_validator("webhook_secret")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _is_webhook_secret(value.get_secret_value()):
            raise ValueError("must be whsec_ followed by base64 of at least 24 bytes")
        return value

    @model_validator(mode="after")
    def _signed(self) -> Settings:
        if self.webhook_urls and self.webhook_secret is None:
            raise ValueError("WEBHOOK_URLS needs WEBHOOK_SECRET to sign with")
        return self

    @property
    def business_calendar(self) -> business_time.BusinessCalendar:
        """The deal desk's business calendar, from the three business settings (built once
        per set of values)."""
        return _calendar(self.business_hours, self.business_timezone, self.business_holidays)

    @property
    def slack_enabled(self) -> bool:
        return self.slack_bot_token is not None and self.slack_signing_secret is not None


def _is_webhook_secret(text: str) -> bool:
    """Whether `text` is `whsec_` and base64 of a key long enough to sign with."""
    if not text.startswith("whsec_"):
        return False
    try:
        key = base64.b64decode(text.removeprefix("whsec_"), validate=True)
    except binascii.Error:
        return False
    return len(key) >= 24


@functools.lru_cache(maxsize=8)
def _calendar(hours: str, zone: str, holidays: str) -> business_time.BusinessCalendar:
    return business_time.calendar(hours, zone, holidays)
