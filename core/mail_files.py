"""Copies of mail kept as files: the outbox folder's `.eml` copies of sent mail (when no
SMTP server is set) and the Maildir the intake reads (when no IMAP server is set)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from core.mailer import eml_name
from core.redact import Person, raw_carries

_MAILDIR_PARTS = frozenset({"new", "cur", "tmp"})


def remove_copies(outbox_dir: Path, message_ids: Iterable[str]) -> int:
    """Delete the outbox folder's copies of these messages; how many there were."""
    removed = 0
    for message_id in message_ids:
        path = outbox_dir / eml_name(message_id)
        if path.is_file():
            path.unlink()
            removed += 1
    return removed


def remove_carrying(folders: Iterable[Path], person: Person) -> int:
    """Delete every message file in these folders (outbox copies, Maildir messages) that
    holds the person's address; how many there were."""
    removed = 0
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in folder.rglob("*"):
            if _is_message(path) and raw_carries(path.read_bytes(), person):
                path.unlink()
                removed += 1
    return removed


def _is_message(path: Path) -> bool:
    return path.is_file() and (path.suffix == ".eml" or path.parent.name in _MAILDIR_PARTS)
