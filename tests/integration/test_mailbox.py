"""The intake mailbox adapter against a real Dovecot and a real Maildir."""

from __future__ import annotations

import mailbox
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from intake.mailbox import (
    FetchedMessage,
    ImapMailbox,
    MailboxDisconnected,
    MailboxError,
)
from intake.maildir import MaildirMailbox
from tests.servers import ImapAccount


def message(n: int, body: str = "hello") -> bytes:
    return f"Message-ID: <m{n}@example.com>\r\nSubject: deal {n}\r\n\r\n{body}\r\n".encode()


@pytest.fixture
def box(imap_account: ImapAccount) -> Iterator[ImapMailbox]:
    mbox = ImapMailbox(imap_account.imap_url)
    try:
        yield mbox
    finally:
        mbox.close()


def later(delay: float, action: object) -> threading.Thread:
    def run() -> None:
        time.sleep(delay)
        action()  # type: ignore[operator]

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_fetch_new_returns_appended_messages_in_uid_order(
    imap_account: ImapAccount, box: ImapMailbox
) -> None:
    imap_account.append(message(1))
    imap_account.append(message(2))

    fetched = list(box.fetch_new(0))

    assert [m.raw for m in fetched] == [message(1), message(2)]
    assert [m.uid for m in fetched] == sorted(imap_account.messages())
    assert all(m.uidvalidity == box.uidvalidity() > 0 for m in fetched)
    assert [m.size for m in fetched] == [len(message(1)), len(message(2))]


def test_watermark_at_last_uid_returns_nothing(imap_account: ImapAccount, box: ImapMailbox) -> None:
    imap_account.append(message(1))
    imap_account.append(message(2))
    last = max(m.uid for m in box.fetch_new(0))

    # `UID last+1:*` matches the last message on the server; the adapter filters it out.
    assert list(box.fetch_new(last)) == []
    assert list(box.fetch_new(last + 50)) == []
    imap_account.append(message(3))
    assert [m.raw for m in box.fetch_new(last)] == [message(3)]


def test_fetch_in_small_batches_returns_everything(imap_account: ImapAccount) -> None:
    for n in range(7):
        imap_account.append(message(n))
    with ImapMailbox(imap_account.imap_url, batch=3) as mbox:
        assert [m.raw for m in mbox.fetch_new(0)] == [message(n) for n in range(7)]


def test_fetch_does_not_mark_messages_seen(imap_account: ImapAccount, box: ImapMailbox) -> None:
    imap_account.append(message(1))

    list(box.fetch_new(0))

    [(flags, _raw)] = imap_account.messages().values()
    assert b"\\Seen" not in flags


def test_connect_creates_processed_and_rejected_folders(
    imap_account: ImapAccount, box: ImapMailbox
) -> None:
    box.connect()
    assert imap_account.messages("Processed") == {}
    with imap_account.client() as client:
        names = {name for _flags, _sep, name in client.list_folders()}  # type: ignore[attr-defined]
    assert {"INBOX", "Processed", "Rejected"} <= names


def test_folder_comes_from_the_url_path(imap_account: ImapAccount) -> None:
    imap_account.append(message(1), folder="Deals")
    imap_account.append(message(2))
    with ImapMailbox(imap_account.url("Deals")) as mbox:
        assert [m.raw for m in mbox.fetch_new(0)] == [message(1)]


def test_move_files_one_message_into_processed(imap_account: ImapAccount, box: ImapMailbox) -> None:
    imap_account.append(message(1))
    imap_account.append(message(2))
    first, _second = list(box.fetch_new(0))

    box.move(first.uid, "Processed")

    assert [raw for _f, raw in imap_account.messages().values()] == [message(2)]
    assert [raw for _f, raw in imap_account.messages("Processed").values()] == [message(1)]


def test_move_without_move_capability_expunges_only_that_message(
    imap_account: ImapAccount, box: ImapMailbox
) -> None:
    # Someone else's message flagged \Deleted must survive: no plain EXPUNGE.
    imap_account.append(message(1), flags=(b"\\Deleted",))
    imap_account.append(message(2))
    client = box._conn()
    real = client.has_capability
    client.has_capability = lambda cap: cap != "MOVE" and real(cap)  # type: ignore[method-assign]
    [ours] = list(box.fetch_new(0))  # the \Deleted one is skipped

    box.move(ours.uid, "Rejected")

    inbox = imap_account.messages()
    assert [raw for _f, raw in inbox.values()] == [message(1)]
    assert [raw for _f, raw in imap_account.messages("Rejected").values()] == [message(2)]


def test_oversize_message_yields_headers_only(imap_account: ImapAccount) -> None:
    imap_account.append(message(1, body="x" * 5000))
    imap_account.append(message(2))
    with ImapMailbox(imap_account.imap_url, max_bytes=1000) as mbox:
        big, small = list(mbox.fetch_new(0))

    assert big.too_large and big.raw is None and big.size > 5000
    assert big.headers is not None and b"Subject: deal 1" in big.headers
    assert b"xxx" not in big.headers
    assert small == FetchedMessage(small.uidvalidity, small.uid, message(2), len(message(2)))


def test_wait_returns_true_when_mail_arrives_during_idle(
    imap_account: ImapAccount, box: ImapMailbox
) -> None:
    box.connect()
    later(0.3, lambda: imap_account.append(message(1)))

    started = time.monotonic()
    assert box.wait(10) is True
    assert time.monotonic() - started < 5
    assert [m.raw for m in box.fetch_new(0)] == [message(1)]


def test_wait_times_out_quietly_without_mail(box: ImapMailbox) -> None:
    started = time.monotonic()
    assert box.wait(0.3) is False
    assert time.monotonic() - started < 2
    assert list(box.fetch_new(0)) == []  # the connection is still usable


def test_wait_without_idle_polls_after_sleeping(
    imap_account: ImapAccount, box: ImapMailbox
) -> None:
    client = box._conn()
    real = client.has_capability
    client.has_capability = lambda cap: cap != "IDLE" and real(cap)  # type: ignore[method-assign]
    later(0.05, lambda: imap_account.append(message(1)))

    assert box.wait(0.5) is True


def test_server_restart_during_idle_raises_disconnected_then_reconnect_works(
    imap_account: ImapAccount, box: ImapMailbox
) -> None:
    assert imap_account.server is not None
    box.connect()
    later(0.3, imap_account.server.restart)

    started = time.monotonic()
    with pytest.raises(MailboxDisconnected):
        box.wait(20)
    assert time.monotonic() - started < 10

    deadline = time.monotonic() + 10
    while True:  # the caller's back-off loop, in short
        try:
            box.reconnect()
            break
        except MailboxDisconnected:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    imap_account.append(message(1))
    assert [m.raw for m in box.fetch_new(0)] == [message(1)]


def test_stopped_server_raises_disconnected_on_connect(imap_account: ImapAccount) -> None:
    url = imap_account.imap_url
    assert imap_account.server is not None
    imap_account.server.stop()
    try:
        with pytest.raises(MailboxDisconnected):
            ImapMailbox(url).connect()
    finally:
        imap_account.server.start()


@pytest.mark.parametrize("url", ["http://u:p@host/INBOX", "imap://host/INBOX", "imap:///INBOX"])
def test_bad_url_is_refused(url: str) -> None:
    with pytest.raises(MailboxError):
        ImapMailbox(url)


# --------------------------------------------------------------------------- Maildir


def deliver(path: Path, raw: bytes) -> str:
    for sub in ("tmp", "new", "cur"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    return mailbox.Maildir(path, create=False).add(raw)


def test_maildir_fetch_new_with_watermark(tmp_path: Path) -> None:
    box = MaildirMailbox(tmp_path / "mail")
    deliver(tmp_path / "mail", message(1))
    deliver(tmp_path / "mail", message(2))

    fetched = list(box.fetch_new(0))

    assert [m.raw for m in fetched] == [message(1), message(2)]
    assert [m.uid for m in fetched] == [1, 2]
    assert list(box.fetch_new(2)) == []
    deliver(tmp_path / "mail", message(3))
    assert [(m.uid, m.raw) for m in box.fetch_new(2)] == [(3, message(3))]


def test_maildir_uids_and_uidvalidity_survive_a_new_instance(tmp_path: Path) -> None:
    deliver(tmp_path, message(1))
    first = MaildirMailbox(tmp_path)
    [before] = list(first.fetch_new(0))

    [after] = list(MaildirMailbox(tmp_path).fetch_new(0))

    assert (after.uidvalidity, after.uid) == (before.uidvalidity, before.uid)
    assert after.uidvalidity == first.uidvalidity() > 0


def test_maildir_move_to_processed_and_uids_never_reused(tmp_path: Path) -> None:
    box = MaildirMailbox(tmp_path)
    deliver(tmp_path, message(1))
    [first] = list(box.fetch_new(0))

    box.move(first.uid, "Processed")
    deliver(tmp_path, message(2))

    assert [(m.uid, m.raw) for m in box.fetch_new(0)] == [(2, message(2))]
    processed = list((tmp_path / ".Processed" / "cur").iterdir())
    assert [p.read_bytes() for p in processed] == [message(1)]
    assert processed[0].name.endswith(":2,")
    with pytest.raises(MailboxError):
        box.move(first.uid, "Processed")


def test_maildir_oversize_message_yields_headers_only(tmp_path: Path) -> None:
    deliver(tmp_path, message(1, body="x" * 5000))
    [big] = list(MaildirMailbox(tmp_path, max_bytes=1000).fetch_new(0))
    assert big.too_large and big.raw is None
    assert big.headers is not None and big.headers.startswith(b"Message-ID: <m1@example.com>")
    assert b"xxx" not in big.headers


def test_maildir_wait_sees_a_new_delivery(tmp_path: Path) -> None:
    box = MaildirMailbox(tmp_path, poll_s=0.05)
    assert box.wait(0.1) is False
    later(0.1, lambda: deliver(tmp_path, message(1)))
    assert box.wait(5) is True
