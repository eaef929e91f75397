"""Deliver built messages: by SMTP, or as .eml files in the outbox folder.

SMTP URLs:
    smtp://[user:pass@]host[:port]            STARTTLS when the server offers it (port 25);
                                              refuses to send a password without TLS
    smtp+starttls://[user:pass@]host[:port]   STARTTLS required (port 587)
    smtps://[user:pass@]host[:port]           implicit TLS (port 465)
    smtp+insecure://[user:pass@]host[:port]   never TLS: local relays and tests only
User and password are percent-decoded.
"""

from __future__ import annotations

import os
import re
import smtplib
import ssl
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path
from types import TracebackType
from typing import Protocol
from urllib.parse import unquote, urlsplit

from core.config import Settings
from core.models import OutboxMessage

_DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465, "smtp+insecure": 25}


class Mailer(Protocol):
    """Sends built messages; `open`/`close` bracket a batch on one connection."""

    sender: str

    def open(self) -> None: ...

    def close(self) -> None: ...

    def send(self, msg: EmailMessage) -> None: ...


def sender_address(settings: Settings) -> str:
    """Return the From address: the product's name at the intake address."""
    return formataddr((settings.mail_from_name, settings.intake_address))


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes
    content_id: str | None = None  # shown inline in the HTML (`cid:…`), not as a file


def build_message(
    row: OutboxMessage, sender: str, attachments: Sequence[Attachment] = ()
) -> EmailMessage:
    """Build the message for one outbox row: its text and HTML as multipart/alternative,
    inside multipart/mixed with the attachments when there are any."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = row.to_addr
    msg["Subject"] = row.subject
    msg["Date"] = format_datetime(row.created_at)
    msg["Message-ID"] = row.message_id
    for name, value in (row.headers or {}).items():
        if value and not name.startswith("_"):  # "_": the row's own notes
            msg[name] = str(value)
    msg.set_content(row.body_text)
    if row.body_html:
        msg.add_alternative(row.body_html, subtype="html")
    for item in attachments:
        maintype, _, subtype = item.content_type.partition("/")
        html = msg.get_body(("html",)) if item.content_id else None
        if html is not None and item.content_id:
            cid = f"<{item.content_id}>"
            html.add_related(item.data, maintype=maintype, subtype=subtype, cid=cid,
                             filename=item.filename, disposition="inline")  # fmt: skip
            continue
        msg.add_attachment(item.data, maintype=maintype, subtype=subtype, filename=item.filename)
    return msg


class SmtpMailer:
    """Send over one SMTP connection per batch, reconnecting once if it dropped."""

    def __init__(self, url: str, *, sender: str, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise ValueError(f"unsupported SMTP URL scheme or host: {parts.scheme}://…")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or _DEFAULT_PORTS[parts.scheme]
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else ""
        self.sender = sender
        self.timeout = timeout
        self._smtp: smtplib.SMTP | None = None

    def __repr__(self) -> str:
        return f"SmtpMailer({self.scheme}://{self.host}:{self.port})"

    def open(self) -> None:
        """Connect, secure and log in, unless already connected."""
        self._connection()

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.scheme == "smtps":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            self._secure_and_login(smtp, context)
        except BaseException:
            smtp.close()
            raise
        self._smtp = smtp
        return smtp

    def _secure_and_login(self, smtp: smtplib.SMTP, context: ssl.SSLContext) -> None:
        smtp.ehlo()
        tls = self.scheme == "smtps"
        if self.scheme != "smtps" and self.scheme != "smtp+insecure":
            if smtp.has_extn("starttls"):
                smtp.starttls(context=context)
                smtp.ehlo()
                tls = True
            elif self.scheme == "smtp+starttls":
                raise smtplib.SMTPNotSupportedError("server does not offer STARTTLS")
        if self.user:
            if not tls and self.scheme != "smtp+insecure":
                raise smtplib.SMTPNotSupportedError("refusing to log in without TLS")
            smtp.login(self.user, self.password)

    def close(self) -> None:
        """Say goodbye politely; a dead connection is simply dropped."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()

    def send(self, msg: EmailMessage) -> None:
        """Send one message; reconnect once if the server dropped the connection."""
        envelope_from = parseaddr(self.sender)[1]
        try:
            self._connection().send_message(msg, from_addr=envelope_from)
        except smtplib.SMTPServerDisconnected:
            self._smtp = None
            self._connection().send_message(msg, from_addr=envelope_from)

    def __enter__(self) -> SmtpMailer:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def eml_name(message_id: str) -> str:
    """Return a file name for a Message-ID, safe on every file system."""
    return re.sub(r"[^A-Za-z0-9._@-]", "_", message_id.strip().strip("<>")) + ".eml"


class FileMailer:
    """Write each message to `<dir>/<message-id>.eml`; a re-send overwrites the same file."""

    def __init__(self, directory: Path | str, *, sender: str) -> None:
        self.directory = Path(directory)
        self.sender = sender

    def open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)

    def close(self) -> None:
        return None

    def send(self, msg: EmailMessage) -> None:
        """Write the message atomically: a reader never sees half a file."""
        self.open()
        target = self.directory / eml_name(str(msg["Message-ID"]))
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".eml")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(msg.as_bytes())
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def make_mailer(settings: Settings) -> Mailer:
    """Return the SMTP mailer when SMTP_URL is set, else the outbox folder."""
    sender = sender_address(settings)
    if settings.smtp_url is not None:
        return SmtpMailer(settings.smtp_url.get_secret_value(), sender=sender)
    return FileMailer(settings.outbox_dir, sender=sender)
