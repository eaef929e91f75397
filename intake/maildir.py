"""The local Maildir mailbox: the embedded default when no IMAP server is configured.

Same interface as `intake.mailbox.ImapMailbox`; see that module for the contract.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from intake.mailbox import FOLDERS, FetchedMessage, Folders, MailboxError


class MaildirMailbox:
    """A local Maildir with the same interface, for running on a laptop.

    Maildir has no UIDs, so each message gets one from a small index file kept in the Maildir
    (`dealreg-uids.json`): UIDs only grow, and the index's creation time serves as UIDVALIDITY
    (a lost index starts new UIDs under a new UIDVALIDITY, as a recreated IMAP folder does).
    Handled messages are moved to the `.Processed`/`.Rejected` subfolders.
    """

    INDEX = "dealreg-uids.json"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        folders: Folders = FOLDERS,
        max_bytes: int | None = None,
        poll_s: float = 0.2,
    ) -> None:
        self.path = Path(path)
        self.folders = folders
        self.max_bytes = max_bytes
        self._poll_s = poll_s
        filed = (self.path / f".{folders.processed}", self.path / f".{folders.rejected}")
        for folder in (self.path, *filed):
            for sub in ("tmp", "new", "cur"):
                (folder / sub).mkdir(parents=True, exist_ok=True)
        self._index_path = self.path / self.INDEX

    def __enter__(self) -> MaildirMailbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def connect(self) -> None:
        """Nothing to connect to."""

    def close(self) -> None:
        """Nothing to close."""

    def reconnect(self) -> None:
        """Nothing to reconnect."""

    def _files(self) -> dict[str, Path]:
        """Map each inbox message's key (its name before ':') to its file."""
        files: dict[str, Path] = {}
        for sub in ("new", "cur"):
            for entry in os.scandir(self.path / sub):
                if entry.is_file() and not entry.name.startswith("."):
                    files[entry.name.split(":", 1)[0]] = Path(entry.path)
        return files

    @contextlib.contextmanager
    def _index(self) -> Iterator[dict[str, Any]]:
        """Open the UID index under an exclusive lock and save it afterwards."""
        with (self.path / f"{self.INDEX}.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                index = json.loads(self._index_path.read_text())
            except FileNotFoundError:
                index = {"uidvalidity": int(time.time()), "next_uid": 1, "uids": {}}
            yield index
            tmp = self._index_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(index))
            tmp.replace(self._index_path)

    def _assign_uids(self) -> tuple[int, dict[int, Path]]:
        """Give new inbox messages UIDs (in delivery order) and forget departed ones."""
        files = self._files()
        with self._index() as index:
            known: dict[str, int] = index["uids"]
            for key in list(known):
                if key not in files:
                    del known[key]
            fresh = sorted((k for k in files if k not in known), key=lambda k: _mtime(files[k]))
            for key in fresh:
                known[key] = index["next_uid"]
                index["next_uid"] += 1
            return index["uidvalidity"], {uid: files[key] for key, uid in known.items()}

    def uidvalidity(self) -> int:
        """Return the index's UIDVALIDITY."""
        return self._assign_uids()[0]

    def fetch_new(
        self, after_uid: int, *, max_bytes: int | None = None
    ) -> Iterator[FetchedMessage]:
        """Yield inbox messages with a UID above `after_uid`, oldest first."""
        limit = max_bytes if max_bytes is not None else self.max_bytes
        validity, by_uid = self._assign_uids()
        for uid in sorted(u for u in by_uid if u > after_uid):
            try:
                size = by_uid[uid].stat().st_size
                if limit is not None and size > limit:
                    headers = _read_headers(by_uid[uid])
                    yield FetchedMessage(validity, uid, None, size, True, headers)
                else:
                    yield FetchedMessage(validity, uid, by_uid[uid].read_bytes(), size)
            except FileNotFoundError:
                continue  # moved away meanwhile

    def move(self, uid: int, folder: str) -> None:
        """Move one message into the `.folder` subfolder (an atomic rename)."""
        self.move_many([uid], folder)

    def move_many(self, uids: list[int], folder: str) -> None:
        """Move these messages into the `.folder` subfolder, one atomic rename each."""
        target = self.path / f".{folder}"
        if not (target / "cur").is_dir():
            raise MailboxError(f"no such Maildir folder: {folder}")
        _validity, by_uid = self._assign_uids()
        for uid in uids:
            if uid not in by_uid:
                raise MailboxError(f"no message with UID {uid} in {self.path}")
            source = by_uid[uid]
            name = source.name if ":" in source.name else f"{source.name}:2,"
            source.rename(target / "cur" / name)

    def wait(self, timeout_s: float) -> bool:
        """Poll for messages not seen before; True as soon as one appears."""
        deadline = time.monotonic() + timeout_s
        with self._index() as index:
            known = set(index["uids"])
        while True:
            if any(key not in known for key in self._files()):
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(self._poll_s, left))


def _mtime(path: Path) -> tuple[float, str]:
    """Sort key in delivery order: modification time, then the (time-prefixed) name."""
    try:
        return (path.stat().st_mtime, path.name)
    except FileNotFoundError:
        return (0.0, path.name)


def _read_headers(path: Path) -> bytes:
    """Read a message's header block, up to and including the blank line."""
    lines: list[bytes] = []
    with path.open("rb") as file:
        for line in file:
            lines.append(line)
            if line in (b"\r\n", b"\n"):
                break
    return b"".join(lines)
