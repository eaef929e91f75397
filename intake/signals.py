"""The kinds of signal that mark mail no person wrote to us, each with its standard (pure).

Nothing a signal marks is answered: a reply to a bounce, a complaint report or an
auto-reply is how mail loops and blocklistings start (RFC 3834 section 2). Each signal is
a kind of mail, not a sample of it: it names the class it covers and the standard or the
public documentation behind it, and the first that fires gives the message its kind.
docs/classification.md lists them in this order, with what each one reads.

- report: feedback reports (RFC 5965 ARF, RFC 6591) and TLS reports (RFC 8460), as
  multipart/report or as a message/feedback-report part anywhere in the MIME tree.
- auto_reply: read receipts (RFC 8098 MDN) wherever their report part is.
- bounce: delivery reports (RFC 3464, RFC 6533, RFC 6522) wherever their report part is;
  Exim's X-Failed-Recipients and Exchange's X-MS-Exchange-Message-Is-Ndr; the null
  sender in From (RFC 5321 4.5.5); mailer daemons in From, Sender or Return-Path
  (postmaster of RFC 5321 4.5.1 and RFC 2142 5, post_master, mailer-daemon).
- report: report senders (abuse of RFC 2142 4, DMARC and TLS reporters, the feedback
  loops of Microsoft and AOL).
- auto_reply: Auto-Submitted other than "no" (RFC 3834 5); the auto-reply headers of
  vendors and of ezmlm-weed(1); Precedence: auto_reply; X-Auto-Response-Suppress
  (MS-OXCMAIL 2.1.3.2.20), which Exchange, Zendesk and newsletters put on their own mail;
  calendar replies (RFC 5546 iTIP, RFC 6047 iMIP); challenge-response requests; the
  ticket systems' loop stamps (Zendesk, RT, OTRS, procmail's X-Loop); the null
  Return-Path (RFC 3834 section 2, RFC 5321 4.5.5).
- bulk: Precedence bulk, list or junk (RFC 3834 section 2); list headers (RFC 2369,
  RFC 2919, RFC 8058) and the list managers' own (ezmlm, fml, SmartList, Mailman);
  Google's Feedback-ID; list-manager and no-reply senders; ESP bounce (VERP) addresses.
- subjects of auto-replies, recalls, delivery notices and reports (intake.subjects).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import Message
from email.utils import getaddresses

from intake import subjects
from intake.messages import header, normalise_address, return_path

MAX_PARTS = 200  # parts of the MIME tree looked at: report parts come first
MAX_DEPTH = 8
SUBJECT_CHARS = 300  # what a subject signal reads: every marker is at the start


@dataclass(frozen=True)
class Part:
    """One part of the MIME tree: its type and the parameters the signals read."""

    ctype: str
    report_type: str = ""
    method: str = ""


@dataclass(frozen=True)
class Facts:
    """What the signals read from one message, each read once."""

    headers: Mapping[str, tuple[str, ...]]  # raw values by lower-cased name
    subject: str  # decoded, without Re:/Fwd: prefixes, lower-cased, its start only
    senders: tuple[str, ...]  # From, Sender and Return-Path addresses, lower-cased
    null_from: bool
    return_path: str | None
    parts: tuple[Part, ...]  # not inside attached messages: those are other mail

    def value(self, name: str) -> str:
        """Return the first raw value of a header, unfolded and lower-cased, or ""."""
        values = self.headers.get(name)
        return " ".join(values[0].split()).lower() if values else ""

    def has(self, *names: str) -> str | None:
        """Return the first of `names` present with a value, or None."""
        return next((n for n in names if self.value(n)), None)


@dataclass(frozen=True)
class Signal:
    kind: str  # bounce | report | auto_reply | bulk
    name: str  # the class of mail it covers
    source: str  # the standard or documentation behind it
    test: Callable[[Facts], str | None]  # what fired (a header, an address), or None


def read(msg: Message) -> Facts:
    """Read what the signals need from a message, in one pass over its headers."""
    index: dict[str, list[str]] = {}
    for name, value in msg.raw_items():
        index.setdefault(name.lower(), []).append(str(value))
    froms = [a for _, a in _addresses(index.get("from", []))]
    path = return_path(msg)
    subject = strip_reply_prefixes(" ".join(header(msg, "Subject")[:SUBJECT_CHARS].split()))
    return Facts(
        headers={k: tuple(v) for k, v in index.items()},
        subject=subject.lower(),
        senders=tuple(_senders(index, froms, path)),
        null_from=bool(index.get("from")) and not any(froms),
        return_path=path,
        parts=_parts(msg),
    )


def strip_reply_prefixes(subject: str) -> str:
    """Return the subject without reply and forward prefixes."""
    return _REPLY_PREFIX.sub("", subject)


def first(facts: Facts) -> tuple[Signal, str] | None:
    """Return the first signal that fires, with what fired it."""
    for signal in SIGNALS:
        detail = signal.test(facts)
        if detail:
            return signal, detail
    return None


_REPLY_PREFIX = re.compile(r"^(?:(?:re|fw|fwd|aw|wg|tr|sv|vs|antw)\s*(?:\[\d+\])?\s*:\s*)+", re.I)


def _addresses(values: list[str]) -> list[tuple[str, str]]:
    try:
        return getaddresses(values)
    except Exception:
        return []


def _senders(index: dict[str, list[str]], froms: list[str], path: str | None) -> list[str]:
    """Return the From, Sender and Return-Path addresses, lower-cased and IDNA-encoded."""
    found = froms + [a for _, a in _addresses(index.get("sender", []))]
    out = [normalise_address(a) or a.strip().lower() for a in found if a.strip()]
    return out + ([path] if path else [])


def _parts(msg: Message) -> tuple[Part, ...]:
    """Return the parts of the MIME tree, depth first, without entering attached mail."""
    out: list[Part] = []
    stack: list[tuple[Message, int]] = [(msg, 0)]
    while stack and len(out) < MAX_PARTS:
        part, depth = stack.pop()
        ctype = _content_type(part)
        out.append(Part(ctype, _param(part, "report-type"), _param(part, "method")))
        payload = part.get_payload() if depth < MAX_DEPTH else None
        if isinstance(payload, list) and not ctype.startswith("message/"):
            stack += [(p, depth + 1) for p in reversed(payload) if isinstance(p, Message)]
    return tuple(out)


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type().lower()
    except Exception:
        return ""


def _param(part: Message, name: str) -> str:
    try:
        value = part.get_param(name)
    except Exception:
        return ""
    value = value[2] if isinstance(value, tuple) else value
    return str(value or "").strip().lower()


def _report(types: set[str], report_types: set[str] | None) -> Callable[[Facts], str | None]:
    """Fire on a report part of `types`, or a multipart/report of `report_types` (None: any)."""

    def test(facts: Facts) -> str | None:
        for part in facts.parts:
            if part.ctype in types:
                return part.ctype
            if part.ctype == "multipart/report" and (
                report_types is None or part.report_type in report_types
            ):
                return f"multipart/report; report-type={part.report_type or '(none)'}"
        return None

    return test


def _headers(*names: str) -> Callable[[Facts], str | None]:
    """Fire when any of the headers is present with a value."""
    return lambda facts: facts.has(*names)


def _sender(pattern: str) -> Callable[[Facts], str | None]:
    """Fire on a From, Sender or Return-Path address whose local part matches."""
    local = re.compile(pattern, re.I)

    def test(facts: Facts) -> str | None:
        return next((a for a in facts.senders if local.fullmatch(a.rpartition("@")[0] or a)), None)

    return test


def _subject(
    *lists: tuple[str, ...], phrases: tuple[str, ...] = (), end: str = r"\s*(?:[:：(]|$)"
) -> Callable[[Facts], str | None]:
    """Fire on a subject that starts with a prefix (then `end`) or holds one of the phrases."""
    words = "|".join(re.escape(p) for lst in lists for p in lst)
    prefix = re.compile(rf"^(?:{words}){end}") if words else None
    inside = re.compile("|".join(re.escape(p) for p in phrases)) if phrases else None

    def test(facts: Facts) -> str | None:
        if prefix is not None and prefix.match(facts.subject):
            return facts.subject
        if inside is not None and inside.search(facts.subject):
            return facts.subject
        return None

    return test


def _auto_submitted(facts: Facts) -> str | None:
    value = facts.value("auto-submitted").split(";")[0].split("(")[0].strip()
    return f"Auto-Submitted: {value}" if value and value != "no" else None


def _vendor_auto_reply(facts: Facts) -> str | None:
    found = facts.has("x-autoreply", "x-autorespond", "x-autoresponder", "x-auto-reply",
                      "x-mail-autoreply", "x-autoreply-from", "x-amazon-auto-reply")  # fmt: skip
    if found:
        return found
    checks = (
        ("x-apple-action", "vacation"),  # iCloud vacation (sisimai)
        ("x-post-messageclass", "autoresponder"),  # "9; Autoresponder"
        ("x-mailer", "vacation"),  # vacation(1), per MIT's auto-responder rules
        ("thread-topic", "autoresponse"),  # ezmlm-weed(1)
        ("precedence", "auto_reply"),
    )
    return next((f"{n}: {w}" for n, w in checks if w in facts.value(n)), None)


_SUPPRESS = frozenset({"all", "oof", "autoreply", "dr", "ndr"})


def _suppress(facts: Facts) -> str | None:
    tokens = {t.strip() for t in facts.value("x-auto-response-suppress").split(",")}
    found = tokens & _SUPPRESS
    return f"X-Auto-Response-Suppress: {', '.join(sorted(found))}" if found else None


_ITIP_REPLIES = frozenset({"reply", "counter", "declinecounter", "refresh"})


def _calendar_reply(facts: Facts) -> str | None:
    hit = next(
        (p for p in facts.parts if p.ctype == "text/calendar" and p.method in _ITIP_REPLIES), None
    )
    return f"text/calendar; method={hit.method}" if hit else None


def _challenge(facts: Facts) -> str | None:
    if facts.value("x-delivery-agent").startswith("tmda"):
        return "X-Delivery-Agent: TMDA"
    return facts.has("x-bluebottle-request")


def _helpdesk(facts: Facts) -> str | None:
    if facts.value("x-mailer").startswith("zendesk"):
        return "X-Mailer: Zendesk Mailer"
    return facts.has("x-zendesk-from-account-id", "x-rt-loop-prevention", "rt-ticket",
                     "x-rt-ticket", "x-otrs-loop", "x-loop")  # fmt: skip


def _precedence(facts: Facts) -> str | None:
    value = facts.value("precedence")
    return f"Precedence: {value}" if value in ("bulk", "list", "junk") else None


def _null_from(facts: Facts) -> str | None:
    return "From: <>" if facts.null_from else None


def _null_return_path(facts: Facts) -> str | None:
    return "Return-Path: <>" if facts.return_path == "" else None


_PROVIDER_ROLES = frozenset(
    {f"staff@{d}" for d in ("hotmail.com", "outlook.com", "live.com", "msn.com")}
    | {"scomp@aol.net"}
)
_REPORT_LOCALS = re.compile(
    r"abuse|fbl|feedback-?loop|(?:noreply-)?dmarc[-_.a-z]*|tlsrpt[-_.a-z]*", re.I
)


def _report_sender(facts: Facts) -> str | None:
    for addr in facts.senders:
        if addr in _PROVIDER_ROLES or _REPORT_LOCALS.fullmatch(addr.rpartition("@")[0]):
            return addr
    return None


# The default envelope domains of email service providers (their sending documentation):
# Amazon SES, Postmark, SendGrid, Mailchimp and Mandrill, SparkPost, Mailjet, Brevo,
# Campaign Monitor, Marketo, HubSpot, Salesforce Marketing Cloud.
_ESP_DOMAINS = (
    "amazonses.com", "mtasv.net", "sendgrid.net", "mcsv.net", "rsgsv.net", "mcdlv.net",
    "mandrillapp.com", "sparkpostmail.com", "mailjet.com", "sendinblue.com", "brevo.com",
    "createsend.com", "mktomail.com", "hubspotemail.net", "exacttarget.com",
)  # fmt: skip
# VERP return paths that ESPs and list servers give each message: bounce-md_1.2@,
# bounces+123-abc@, bounces-main+x@, list-bounces@, pm_bounces@, bounce.mc.us5_1@.
_BOUNCE_LOCAL = re.compile(r"(?:[a-z0-9]+[-_.])?bounces?(?:[-_.+=].*)?", re.I)


def _esp_bounce(facts: Facts) -> str | None:
    for addr in facts.senders:
        local, _, domain = addr.rpartition("@")
        labels = domain.split(".")
        if _BOUNCE_LOCAL.fullmatch(local) or {"bounce", "bounces"} & set(labels[:-2]):
            return addr
        if any(domain == d or domain.endswith("." + d) for d in _ESP_DOMAINS):
            return addr
    return None


_DELIVERY_TYPES = {"message/delivery-status", "message/global-delivery-status"}

SIGNALS: tuple[Signal, ...] = (
    Signal("report", "feedback or TLS report", "RFC 5965, RFC 6591, RFC 8460, RFC 6522",
           _report({"message/feedback-report"}, {"feedback-report", "tlsrpt"})),
    Signal("report", "TLS report headers", "RFC 8460 5.3",
           _headers("tls-report-domain", "tls-report-submitter")),
    Signal("auto_reply", "read receipt", "RFC 8098, RFC 6533",
           _report({"message/disposition-notification", "message/global-disposition-notification"},
                   {"disposition-notification"})),
    Signal("bounce", "delivery report", "RFC 3464, RFC 6533, RFC 6522",
           _report(_DELIVERY_TYPES, None)),
    Signal("bounce", "non-delivery headers", "Exim X-Failed-Recipients, MS-OXCMAIL",
           _headers("x-failed-recipients", "x-ms-exchange-message-is-ndr")),
    Signal("bounce", "null sender", "RFC 5321 4.5.5", _null_from),
    Signal("bounce", "mailer daemon", "RFC 5321 4.5.1, RFC 2142 5",
           _sender(r"(?:mailer|mail)[-_.]?daemon|post[-_.]?master")),
    Signal("report", "report sender", "RFC 2142 4, Microsoft JMRP, AOL FBL, RFC 7489",
           _report_sender),
    Signal("auto_reply", "Auto-Submitted", "RFC 3834 5, RFC 5436", _auto_submitted),
    Signal("auto_reply", "auto-reply header", "vendor headers, ezmlm-weed(1)", _vendor_auto_reply),
    Signal("auto_reply", "X-Auto-Response-Suppress", "MS-OXCMAIL 2.1.3.2.20", _suppress),
    Signal("auto_reply", "calendar reply", "RFC 5546 3.2, RFC 6047 2.4", _calendar_reply),
    Signal("auto_reply", "challenge-response", "TMDA, Bluebottle", _challenge),
    Signal("auto_reply", "ticket system", "Zendesk, RT SendEmail, OTRS, procmail", _helpdesk),
    Signal("auto_reply", "null return path", "RFC 3834 2, RFC 5321 4.5.5", _null_return_path),
    Signal("bulk", "Precedence", "RFC 3834 2, RFC 2076", _precedence),
    Signal("bulk", "list headers", "RFC 2369, RFC 2919, RFC 8058",
           _headers("list-id", "list-unsubscribe", "list-unsubscribe-post", "list-subscribe",
                    "list-post", "list-help", "list-owner", "list-archive")),
    Signal("bulk", "list-manager headers", "ezmlm, fml, SmartList, Mailman, ezmlm-weed(1)",
           _headers("mailing-list", "x-mailing-list", "x-mlserver", "x-ml-name",
                    "x-mailman-version", "x-list-administrivia", "x-beenthere")),
    Signal("bulk", "feedback loop id", "Google Feedback-ID", _headers("feedback-id")),
    Signal("bulk", "list manager", "RFC 2142, MIT auto-responder rules",
           _sender(r"listserv|majordomo|mailman|.+-request|owner-.+|.+-owner|.+-bounces")),
    Signal("bulk", "no-reply sender", "common practice for unanswered senders",
           _sender(r"(?:do[-_.]?not|dont|no)[-_.]?reply.*|.+[-_.+]no[-_.]?reply.*")),
    Signal("bulk", "ESP bounce address", "VERP, the ESPs' sending documentation", _esp_bounce),
    Signal("auto_reply", "auto-reply subject", "intake.subjects",
           _subject(subjects.AUTO_REPLY_PREFIXES, subjects.RECALL_PREFIXES,
                    phrases=subjects.AUTO_REPLY_PHRASES + subjects.RECEIPT_PHRASES)),
    Signal("bounce", "delivery notice subject", "intake.subjects",
           _subject(subjects.DELIVERY_PREFIXES, end=r"(?!\w)")),
    Signal("report", "report subject", "intake.subjects",
           _subject(phrases=subjects.REPORT_PHRASES)),
)  # fmt: skip
