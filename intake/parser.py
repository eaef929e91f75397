"""Read a registration form out of an email: labels to field names, values as typed (pure).

Values stay raw strings; typing and validation happen in `core.validation`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import Message

from core.fields import FIELDS, FIELDS_BY_NAME
from intake import labels
from intake.body import body_text, has_alternatives
from intake.classify import IGNORED_KINDS, Classification, classify
from intake.messages import load

MAX_LINES = 5_000
MAX_LINE = 2_000
MAX_DEPTH = 6

_STOP = re.compile(
    r"^(?:-{2,}\s*(?:original message|forwarded message|forwarded|weitergeleitete nachricht)"
    r"\s*-{2,}|begin forwarded message:?|--|_{10,}|sent from my\b.{0,40}"
    r"|.{0,300}\bwrote:|am\s.{0,300}\bschrieb.{0,100}:"
    r"|(?:many thanks|thanks(?: again)?|thank you|(?:kind |best |warm )?regards|best|cheers)"
    r"[\s,.!]*)$",
    re.IGNORECASE,
)
_HEADER_BLOCK = re.compile(r"^(?:from|von|de)\s*:", re.IGNORECASE)
_HEADER_NEXT = re.compile(r"^(?:sent|date|gesendet|datum|envoyé)\s*:", re.IGNORECASE)
_QUOTE = re.compile(r"^\s*>\s?")
_BLANK = re.compile(r"[\s._\-–—*\[\]()<>]+")  # "........", "[ ]", "____": left to fill
_LINK = re.compile(r"\s*<(?:mailto:|https?://)[^<>\s]{0,500}>")


@dataclass(frozen=True)
class ParsedForm:
    fields: dict[str, str] = field(default_factory=dict)
    unknown_labels: list[str] = field(default_factory=list)
    sections_seen: list[str] = field(default_factory=list)
    labels_seen: frozenset[str] = frozenset()  # the fields whose labels were found, filled or not


@dataclass(frozen=True)
class IntakeResult:
    status: str  # ok | invalid | ignored
    fields: dict[str, str]
    errors: list[dict[str, str | None]]
    reason: str | None
    classification: Classification
    unknown_labels: list[str] = field(default_factory=list)


# A registration attempt carries enough of the form: the end user's company and domain,
# or three of its labels of which two ask about the deal (company or opportunity), which
# contact and address labels alone do not: a signature, a ticket ("Priority:") or another
# sender's form ("Address:", "Country:", "Email:") is no form, and the sender is sent the
# blank form rather than a list of fields they never meant to fill.
MIN_FORM_LABELS = 3
MIN_DEAL_LABELS = 2
_IDENTITY = frozenset({"company_name", "domain"})
_DEAL_SECTIONS = frozenset({"company", "opportunity"})
_DEAL_FIELDS = frozenset(
    {f.name for f in FIELDS if f.section in _DEAL_SECTIONS}
    | {"partner_sales_lead_name", "partner_sales_lead_email"}
)


def is_form(form: ParsedForm) -> bool:
    """Return whether a parsed text carries enough of the form to be a registration."""
    if form.fields.keys() >= _IDENTITY:
        return True
    deal = len(form.labels_seen & _DEAL_FIELDS)
    return len(form.labels_seen) >= MIN_FORM_LABELS and deal >= MIN_DEAL_LABELS


# Where the errors of a message that cannot be decoded come from: the standard library's
# email package and the codecs, meeting MIME they were not written for.
_DECODING_MODULES = ("email", "encodings", "codecs", "quopri", "base64", "binascii")


def decoding_problem(exc: BaseException) -> bool:
    """Whether an error was raised decoding the message itself, not by our own code."""
    if isinstance(exc, UnicodeError | LookupError):
        return True  # a charset or an encoding the message names and we cannot use
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    module = str(tb.tb_frame.f_globals.get("__name__", "")) if tb is not None else ""
    return module.split(".")[0] in _DECODING_MODULES


def parse_message(
    raw: bytes,
    *,
    own_addresses: set[str] | frozenset[str] = frozenset(),
    msg: Message | None = None,
) -> IntakeResult:
    """Classify a raw message (or `msg`, the same already parsed) and read its form."""
    try:
        if msg is None:
            msg = load(raw)
        form = _read_form(msg)
        verdict = classify(msg, own_addresses=set(own_addresses), form_found=is_form(form))
    except Exception as exc:
        if not decoding_problem(exc):
            raise  # our bug: logged and retried by the caller, never told as the sender's
        verdict = Classification("registration", "unreadable message")
        form = ParsedForm()
    if verdict.kind in IGNORED_KINDS:
        return IntakeResult("ignored", {}, [], verdict.reason, verdict)
    if is_form(form):
        return IntakeResult("ok", form.fields, [], None, verdict, form.unknown_labels)
    reason = "form_request" if verdict.kind == "form_request" else "no_form"
    if verdict.kind != "form_request":
        verdict = Classification("form_request", "no registration form was found")
    error = {"field": None, "message": "No registration form was found in the message."}
    return IntakeResult("invalid", {}, [error], reason, verdict, form.unknown_labels)


def _read_form(msg: Message) -> ParsedForm:
    """Read the form from the plain text, else from the HTML alternative when there is one."""
    form = parse_form(body_text(msg))
    if not is_form(form) and has_alternatives(msg):  # a plain part that says "view in HTML"
        html = parse_form(body_text(msg, prefer="text/html"))
        if is_form(html):
            return html
    return form


def parse_form(text: str) -> ParsedForm:
    """Read the registration form in a text: the first part of the mail that holds one."""
    try:
        lines = str(text or "").replace("\r\n", "\n").replace("\r", "\n").split("\n")
        return _parse_segments(lines[:MAX_LINES], 0)
    except RecursionError:
        return ParsedForm()


def _parse_segments(lines: list[str], depth: int) -> ParsedForm:
    """Parse each segment (new text, forwards, quotes) in order; keep the first form.

    Without a form, the first segment with any field is kept, so that what was found can
    be reported.
    """
    first: ParsedForm | None = None
    for quoted, seg in _segments(lines):
        if quoted and depth < MAX_DEPTH:
            form = _parse_segments(seg, depth + 1)
        else:
            form = _parse_lines(seg)
        if is_form(form):
            return form
        if first is None or (form.fields and not first.fields):
            first = form
    return first or ParsedForm()


def _segments(lines: list[str]) -> list[tuple[bool, list[str]]]:
    """Split text at quotes, reply and forward markers, signatures and sign-offs."""
    segs: list[tuple[bool, list[str]]] = [(False, [])]
    i = 0
    while i < len(lines):
        line = lines[i][:MAX_LINE]
        if _QUOTE.match(line):
            quoted = []
            while i < len(lines) and _QUOTE.match(lines[i]):
                quoted.append(_QUOTE.sub("", lines[i], count=1))
                i += 1
            segs += [(True, quoted), (False, [])]
            continue
        if _is_stop(lines, i):
            segs.append((False, []))
        else:
            segs[-1][1].append(line)
        i += 1
    return [(q, s) for q, s in segs if any(x.strip() for x in s)]


def _is_stop(lines: list[str], i: int) -> bool:
    """Return whether line i starts a quote, a forward, a signature or a sign-off."""
    line = lines[i].strip()
    if _STOP.match(line[:MAX_LINE]):
        return True
    if _HEADER_BLOCK.match(line):
        following = [x.strip() for x in lines[i + 1 : i + 3] if x.strip()]
        return bool(following) and bool(_HEADER_NEXT.match(following[0]))
    return False


@dataclass
class _State:
    section: str | None = None
    inferred: str | None = None
    current: str | None = None
    value: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    found: dict[str, list[str]] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)


def _parse_lines(lines: list[str]) -> ParsedForm:
    """Read `Label: value` lines, sections and continuation lines into fields."""
    st = _State()
    for raw in lines:
        line = raw.strip()
        if not line:
            if st.current:
                st.pending.append("")
            continue
        heading = labels.section_heading(line)
        if heading:
            _finish(st, False)
            st.section = st.inferred = heading
            st.sections.append(heading)
            continue
        hit = labels.match_label(line)
        if hit and hit.candidates:
            _finish(st, True)
            _start(st, hit.candidates, _clean_value(hit.value))
        elif hit and not _in_longtext(st):
            _finish(st, False)
            st.unknown.append(hit.label)
        elif st.current:
            (st.pending if st.pending else st.value).append(_clean_value(line))
    _finish(st, False)
    return ParsedForm(_collect(st.found), st.unknown, st.sections, frozenset(st.found))


def _in_longtext(st: _State) -> bool:
    """Return whether the current field takes free text, where stray colons are prose."""
    spec = FIELDS_BY_NAME.get(st.current or "")
    return bool(spec and spec.kind == "longtext")


def _start(st: _State, candidates: tuple[str, ...], value: str) -> None:
    """Begin the value of the field a label resolves to (duplicates go nowhere)."""
    name = _resolve(candidates, st)
    st.inferred = labels.section_of(name)
    if name in st.found:
        st.current = None
        return
    st.found[name] = []
    st.current = name
    st.value = [value] if value else []


def _finish(st: _State, next_is_label: bool) -> None:
    """Store the current value; paragraphs after a blank line join free text only."""
    if st.current:
        text = [x for x in st.pending if x.strip()]
        if text and next_is_label and _in_longtext(st):
            st.value += st.pending
        st.found[st.current] = st.value
    st.current, st.value, st.pending = None, [], []


def _resolve(candidates: tuple[str, ...], st: _State) -> str:
    """Pick the field a repeated label means: by section, by context, then by order."""
    if len(candidates) == 1:
        return candidates[0]
    for section in (st.section, st.inferred):
        if not section:
            continue
        here = [c for c in candidates if labels.section_of(c) == section]
        if here and (section == st.section or here[0] not in st.found):
            return here[0]
    return next((c for c in candidates if c not in st.found), candidates[-1])


def _clean_value(value: str) -> str:
    """Strip markup a mail client leaves around a typed value, and blanks left to fill."""
    value = _LINK.sub("", value).strip()
    for mark in ("**", "__"):
        value = value.removeprefix(mark).removesuffix(mark).strip()
    return "" if _BLANK.fullmatch(value) else value


def _collect(found: dict[str, list[str]]) -> dict[str, str]:
    """Join multi-line values, drop empty and pseudo fields, split a full end-user name."""
    out = {k: "\n".join(v).strip() for k, v in found.items()}
    full = out.pop(labels.END_USER_NAME, "")
    if full and "end_user_first_name" not in out and "end_user_last_name" not in out:
        first, _, last = full.rpartition(" ")
        out["end_user_first_name"], out["end_user_last_name"] = (
            (first or last),
            (last if first else ""),
        )
    order = {f.name: i for i, f in enumerate(FIELDS)}
    kept = {k: v for k, v in out.items() if v and k in order}
    return dict(sorted(kept.items(), key=lambda kv: order[kv[0]]))
