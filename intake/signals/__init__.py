"""The kinds of signal that mark mail no person wrote to us, each with its source (pure).

Nothing a signal marks is answered: a reply to a bounce, a complaint report or an
auto-reply is how mail loops and blocklistings start (RFC 3834 section 2). Each signal is
a kind of mail, not a sample of it: it names the class it covers and the standard or the
public documentation behind it, and the first that fires gives the message its kind.
docs/classification.md lists them in this order, with what each one reads.

- report: feedback and TLS reports; the senders of abuse, DMARC and feedback-loop reports.
- bounce: delivery reports, non-delivery headers, the null sender, mailer daemons.
- auto_reply: Auto-Submitted and the vendors' auto-reply headers; read receipts; calendar
  replies; challenge-response and ticket systems; the null Return-Path; the subjects and
  opening lines of out-of-office replies, in the languages of `phrases`.
- bulk: Precedence, list headers and list managers; the stamps of bulk mailers (their
  feedback-loop id, unsubscribe headers, envelope addresses and own headers) and their
  role senders (newsletter@, announcements@).

Where each test reads: `headers` (header fields, MIME parts, addresses) and `text`
(subject and opening lines, with the lists in `subjects` and `phrases`). A bulk mailer's
own headers and role senders, and an out-of-office phrase, give way to a registration form:
a partner's marketing platform stamps a person's registration with its headers, and a
person may open a registration by saying they are out of the office.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from intake.signals import headers as h
from intake.signals import text
from intake.signals.facts import Facts, Part, read, strip_reply_prefixes

__all__ = ["SIGNALS", "Facts", "Part", "Signal", "first", "read", "strip_reply_prefixes"]


@dataclass(frozen=True)
class Signal:
    kind: str  # bounce | report | auto_reply | bulk
    name: str  # the class of mail it covers
    source: str  # the standard or documentation behind it
    test: Callable[[Facts], str | None]  # what fired (a header, an address), or None
    form_outranks: bool = False  # a registration form in the message overrules it


def first(facts: Facts, *, form_found: bool = False) -> tuple[Signal, str] | None:
    """Return the first signal that fires and what fired it; a found form outranks some."""
    for signal in SIGNALS:
        if form_found and signal.form_outranks:
            continue
        detail = signal.test(facts)
        if detail:
            return signal, detail
    return None


_DELIVERY_TYPES = {"message/delivery-status", "message/global-delivery-status"}
_MDN_TYPES = {"message/disposition-notification", "message/global-disposition-notification"}
_LIST_HEADERS = ("list-id", "list-subscribe", "list-post", "list-help", "list-owner",
                 "list-archive")  # fmt: skip
_LIST_MANAGER_HEADERS = ("mailing-list", "x-mailing-list", "x-mlserver", "x-ml-name",
                         "x-mailman-version", "x-list-administrivia", "x-beenthere")  # fmt: skip

SIGNALS: tuple[Signal, ...] = (
    Signal("report", "feedback or TLS report", "RFC 5965, RFC 6591, RFC 8460, RFC 6522",
           h.report({"message/feedback-report"}, {"feedback-report", "tlsrpt"})),
    Signal("report", "TLS report headers", "RFC 8460 5.3",
           h.headers("tls-report-domain", "tls-report-submitter")),
    Signal("auto_reply", "read receipt", "RFC 8098, RFC 6533",
           h.report(_MDN_TYPES, {"disposition-notification"})),
    Signal("bounce", "delivery report", "RFC 3464, RFC 6533, RFC 6522",
           h.report(_DELIVERY_TYPES, None)),
    Signal("bounce", "non-delivery headers", "Exim X-Failed-Recipients, MS-OXCMAIL",
           h.headers("x-failed-recipients", "x-ms-exchange-message-is-ndr")),
    Signal("bounce", "null sender", "RFC 5321 4.5.5", h.null_from),
    Signal("bounce", "mailer daemon", "RFC 5321 4.5.1, RFC 2142 5",
           h.sender(r"(?:mailer|mail)[-_.]?daemon|post[-_.]?master")),
    Signal("report", "report sender", "RFC 2142 4, Microsoft JMRP, AOL FBL, RFC 7489",
           h.report_sender),
    Signal("auto_reply", "Auto-Submitted", "RFC 3834 5, RFC 5436", h.auto_submitted),
    Signal("auto_reply", "auto-reply header", "vendor headers, ezmlm-weed(1)",
           h.vendor_auto_reply),
    Signal("auto_reply", "X-Auto-Response-Suppress", "MS-OXCMAIL 2.1.3.2.20", h.suppress),
    Signal("auto_reply", "calendar reply", "RFC 5546 3.2, RFC 6047 2.4", h.calendar_reply),
    Signal("auto_reply", "challenge-response", "TMDA, Bluebottle", h.challenge),
    Signal("auto_reply", "ticket system", "Zendesk, RT SendEmail, OTRS, procmail", h.helpdesk),
    Signal("auto_reply", "null return path", "RFC 3834 2, RFC 5321 4.5.5", h.null_return_path),
    Signal("bulk", "Precedence", "RFC 3834 2, RFC 2076", h.precedence),
    Signal("bulk", "list headers", "RFC 2369, RFC 2919", h.headers(*_LIST_HEADERS)),
    Signal("bulk", "list-manager headers", "ezmlm, fml, SmartList, Mailman, ezmlm-weed(1)",
           h.headers(*_LIST_MANAGER_HEADERS)),
    Signal("bulk", "list manager", "RFC 2142, MIT auto-responder rules",
           h.sender(r"listserv|majordomo|mailman|.+-request|owner-.+|.+-owner|.+-bounces")),
    Signal("bulk", "no-reply sender", "common practice for unanswered senders",
           h.sender(r"(?:do[-_.]?not|dont|no)[-_.]?reply.*|.+[-_.+]no[-_.]?reply.*")),
    Signal("bulk", "unsubscribe headers", "RFC 2369, RFC 8058",
           h.headers("list-unsubscribe", "list-unsubscribe-post")),
    Signal("bulk", "feedback loop id", "Google Feedback-ID", h.headers("feedback-id")),
    Signal("bulk", "ESP bounce address", "VERP, the ESPs' sending documentation",
           h.esp_bounce),
    # A bulk mailer's own stamp and sender: a partner's marketing platform puts them on a
    # person's registration too, so a form outranks them.
    Signal("bulk", "bulk mailer headers", "the ESPs' own headers, Certified Senders Alliance",
           h.headers(*h.BULK_MAILER_HEADERS), form_outranks=True),
    Signal("bulk", "bulk role sender", "RFC 2142, the role names bulk senders use",
           h.bulk_role_sender, form_outranks=True),
    Signal("auto_reply", "auto-reply subject", "intake.signals.subjects, .phrases",
           text.auto_reply_subject),
    Signal("bounce", "delivery notice subject", "intake.signals.subjects", text.delivery_subject),
    Signal("report", "report subject", "intake.signals.subjects", text.report_subject),
    # What a person may write above a form.
    Signal("auto_reply", "out-of-office phrase", "intake.signals.phrases", text.out_of_office,
           form_outranks=True),
)  # fmt: skip
