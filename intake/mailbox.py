"""The intake mailbox: fetch raw messages by UID and file them away (IMAP or a local Maildir).

No parsing and no database here. Both mailboxes offer the same interface (`Mailbox`, and
`uidvalidity()`): `fetch_new(after_uid)`, `move(uid, folder)`, `wait(timeout_s)`,
`reconnect()` and `close()`. The caller stores and handles each message, commits, and only
then moves it out of the inbox, so whatever is still in the inbox is due.
"""

from __future__ import annotations

import contextlib
import ssl
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from imapclient import IMAPClient

IDLE_REISSUE_S = 9 * 60  # servers may drop an IDLE after 29 minutes (RFC 2177)


class MailboxError(Exception):
    """The mailbox cannot be used as configured (bad URL, refused login, ...)."""


class MailboxDisconnected(MailboxError):
    """The server closed the connection; call `reconnect()` (with back-off) and go on."""


@dataclass(frozen=True)
class FetchedMessage:
    """One message as stored in the mailbox; `raw` is None when it was too large to fetch."""

    uidvalidity: int
    uid: int
    raw: bytes | None
    size: int
    too_large: bool = False
    headers: bytes | None = None


@dataclass(frozen=True)
class Folders:
    """Where handled messages are filed, beside the inbox: the accepted, and the rest."""

    processed: str = "Processed"
    rejected: str = "Rejected"


FOLDERS = Folders()


class Mailbox(Protocol):
    def fetch_new(
        self, after_uid: int, *, max_bytes: int | None = None
    ) -> Iterable[FetchedMessage]: ...
    def move(self, uid: int, folder: str) -> None: ...
    def move_many(self, uids: list[int], folder: str) -> None: ...
    def wait(self, timeout_s: float) -> bool: ...
    def reconnect(self) -> None: ...
    def close(self) -> None: ...


def _response_says_bye(responses: list[Any]) -> bool:
    return any(isinstance(r, tuple) and r and r[0] == b"BYE" for r in responses)


def _response_says_new_mail(responses: list[Any]) -> bool:
    return any(
        isinstance(r, tuple) and len(r) >= 2 and r[1] in (b"EXISTS", b"RECENT") for r in responses
    )


class ImapMailbox:
    """A folder on an IMAP server, given as `imap[s]://user:password@host:port/FOLDER`."""

    def __init__(
        self,
        url: str,
        *,
        folders: Folders = FOLDERS,
        batch: int = 200,
        max_bytes: int | None = None,
        timeout_s: float = 60.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("imap", "imaps") or not parts.hostname or not parts.username:
            raise MailboxError("IMAP_URL must look like imap[s]://user:password@host[:port]/FOLDER")
        self._tls = parts.scheme == "imaps"
        self._host = parts.hostname
        self._port = parts.port or (993 if self._tls else 143)
        self._user = unquote(parts.username)
        self._password = unquote(parts.password or "")
        self.folder = unquote(parts.path.lstrip("/")) or "INBOX"
        self.folders = folders
        self.batch, self.max_bytes = batch, max_bytes
        self._timeout = timeout_s
        self._ssl_context = ssl_context
        self._client: IMAPClient | None = None
        self._uidvalidity = 0

    def __enter__(self) -> ImapMailbox:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def connect(self) -> None:
        """Log in, select the folder and create the Processed/Rejected folders if missing."""
        if self._client is not None:
            return
        try:
            client = IMAPClient(
                self._host, self._port, ssl=self._tls, ssl_context=self._ssl_context,
                timeout=self._timeout,
            )  # fmt: skip
        except OSError as exc:
            raise MailboxDisconnected(f"cannot reach {self._host}:{self._port}: {exc}") from exc
        try:
            if not self._tls and client.has_capability("STARTTLS"):
                client.starttls(self._ssl_context)
            client.login(self._user, self._password)
            for name in (self.folders.processed, self.folders.rejected):
                if not client.folder_exists(name):
                    client.create_folder(name)
            selected = client.select_folder(self.folder)
        except Exception:
            with contextlib.suppress(Exception):
                client.shutdown()
            raise
        self._uidvalidity = int(selected[b"UIDVALIDITY"])
        self._client = client

    def _conn(self) -> IMAPClient:
        if self._client is None:
            self.connect()
        assert self._client is not None
        return self._client

    def close(self) -> None:
        """Log out, or drop the connection if the server is gone."""
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.logout()
        except Exception:
            with contextlib.suppress(Exception):
                client.shutdown()

    def reconnect(self) -> None:
        """Drop the connection and connect again (the caller does the back-off)."""
        self.close()
        self.connect()

    def uidvalidity(self) -> int:
        """Return the selected folder's UIDVALIDITY; UIDs are keyed on it."""
        self._conn()
        return self._uidvalidity

    def fetch_new(
        self, after_uid: int, *, max_bytes: int | None = None
    ) -> Iterator[FetchedMessage]:
        """Yield messages with a UID above `after_uid`, oldest first, without setting \\Seen."""
        limit = max_bytes if max_bytes is not None else self.max_bytes
        client = self._conn()
        with self._disconnects():
            client.noop()  # let the server sync the selected folder, or SEARCH misses new mail
            found = client.search(["UID", f"{after_uid + 1}:*", "NOT", "DELETED"])
            # `UID n:*` always matches the last message, even below n: filter ourselves.
            uids = sorted(uid for uid in found if uid > after_uid)
        for start in range(0, len(uids), self.batch):
            yield from self._fetch_batch(client, uids[start : start + self.batch], limit)

    def _fetch_batch(
        self, client: IMAPClient, uids: list[int], limit: int | None
    ) -> Iterator[FetchedMessage]:
        with self._disconnects():
            sizes = {
                uid: int(data[b"RFC822.SIZE"])
                for uid, data in client.fetch(uids, ["RFC822.SIZE"]).items()
            }
            small = [u for u in uids if u in sizes and (limit is None or sizes[u] <= limit)]
            bodies = client.fetch(small, ["BODY.PEEK[]"]) if small else {}
        for uid in uids:
            if uid not in sizes:
                continue  # expunged by someone else meanwhile
            if uid in bodies:
                raw = bytes(bodies[uid][b"BODY[]"])
                yield FetchedMessage(self._uidvalidity, uid, raw, sizes[uid])
                continue
            with self._disconnects():
                header = client.fetch([uid], ["BODY.PEEK[HEADER]"]).get(uid, {})
            yield FetchedMessage(
                self._uidvalidity, uid, None, sizes[uid], too_large=True,
                headers=bytes(header.get(b"BODY[HEADER]", b"")),
            )  # fmt: skip

    def move(self, uid: int, folder: str) -> None:
        """Move one message to `folder`; never expunges any other message."""
        self.move_many([uid], folder)

    def move_many(self, uids: list[int], folder: str) -> None:
        """Move these messages to `folder` in one command; never expunges any other."""
        if not uids:
            return
        client = self._conn()
        with self._disconnects():
            if client.has_capability("MOVE"):
                client.move(uids, folder)
                return
            client.copy(uids, folder)
            client.add_flags(uids, [b"\\Deleted"])
            if client.has_capability("UIDPLUS"):
                client.uid_expunge(uids)
            # Without UIDPLUS the message stays flagged \Deleted: fetch_new skips it, and a
            # plain EXPUNGE could remove messages someone else flagged.

    def wait(self, timeout_s: float) -> bool:
        """Wait up to `timeout_s` for new mail; True when some may have arrived."""
        client = self._conn()
        if not client.has_capability("IDLE"):
            time.sleep(timeout_s)
            with self._disconnects():
                return _response_says_new_mail(client.noop()[1])
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if self._idle_once(client, min(remaining, IDLE_REISSUE_S)):
                return True

    def _idle_once(self, client: IMAPClient, timeout_s: float) -> bool:
        """Run one IDLE for up to `timeout_s`; True when the server announced new mail."""
        with self._disconnects():
            client.idle()
        started = time.monotonic()
        arrived = False
        try:
            while not arrived:
                left = timeout_s - (time.monotonic() - started)
                if left <= 0:
                    break
                responses = client.idle_check(timeout=left)
                if _response_says_bye(responses):
                    raise MailboxDisconnected("the server said BYE during IDLE")
                arrived = _response_says_new_mail(responses)
                if not responses and time.monotonic() - started < timeout_s - 0.05:
                    break  # woke early with nothing: maybe EOF; idle_done() below tells
        except (OSError, IMAPClient.AbortError) as exc:
            self._drop()
            raise MailboxDisconnected(str(exc)) from exc
        except MailboxDisconnected:
            self._drop()
            raise
        with self._disconnects():
            _text, responses = client.idle_done()
        return arrived or _response_says_new_mail(responses)

    @contextlib.contextmanager
    def _disconnects(self) -> Iterator[None]:
        """Turn a dropped connection into MailboxDisconnected, forgetting the client."""
        try:
            yield
        except (OSError, EOFError, IMAPClient.AbortError) as exc:
            self._drop()
            raise MailboxDisconnected(str(exc) or type(exc).__name__) from exc
        except IMAPClient.Error as exc:
            if "EOF" in str(exc) or "BYE" in str(exc):
                self._drop()
                raise MailboxDisconnected(str(exc)) from exc
            raise

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.shutdown()


__all__ = [
    "FOLDERS",
    "FetchedMessage",
    "Folders",
    "ImapMailbox",
    "Mailbox",
    "MailboxDisconnected",
    "MailboxError",
]
