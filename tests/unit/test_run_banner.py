"""What `dealreg run` tells whoever started it: where mail goes, whether Slack is on and why."""

from __future__ import annotations

from core.config import Settings
from dealreg.wiring import App
from dealreg.worker import describe


def test_on_embedded_defaults_it_says_where_to_drop_mail_and_why_slack_is_off() -> None:
    # The embedded default; the suite turns the check off for other tests.
    text = describe(App(Settings(_env_file=None, intake_require_sender_proof=True)))  # type: ignore[call-arg]
    assert "drop .eml files into var/maildir/new" in text
    assert ".eml files in var/outbox" in text
    assert "Slack         off: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET" in text
    assert "cp examples/registration.eml var/maildir/new/" in text
    assert "then answer the confirmation in var/outbox" in text
    assert text.count("answer the confirmation") == 1
    assert 'write "help" to deals@dealreg.localhost' in text


def test_configured_servers_are_named_without_their_secrets() -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url="postgresql+psycopg://dealreg:db-secret@db.internal/dealreg",
        imap_url="imaps://deals:imap-secret@mail.vendor.example/INBOX",
        smtp_url="smtp://relay:smtp-secret@smtp.vendor.example:587",
        slack_bot_token="xoxb-token-secret",
        slack_signing_secret="signing-secret",
        slack_review_channel="#deal-desk",
        intake_require_sender_proof=False,
    )
    text = describe(App(settings))
    assert "IMAP imaps://mail.vendor.example/INBOX" in text
    assert "SMTP smtp.vendor.example:587" in text
    assert "Slack         on:" in text and "#deal-desk" in text
    assert "sender proof OFF" in text and "confirmation" not in text
    assert "secret" not in text


def test_with_smtp_and_sender_proof_it_says_once_to_answer_the_confirmation_email() -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        smtp_url="smtp://relay.example:25",
        intake_require_sender_proof=True,
    )
    [line] = [x for x in describe(App(settings)).splitlines() if "first deal" in x]
    assert line.endswith("then answer the confirmation email")
    assert line.count("confirmation") == 1
