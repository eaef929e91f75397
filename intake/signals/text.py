"""The signals read from the words of a message: its subject and its opening lines (pure).

Both sides are folded (`intake.signals.facts.fold`): a list written with diacritics
matches text written without them. A subject that starts with a machine-written prefix
("Automatic reply:", "Undeliverable:") marks machine mail whatever the body holds: an
auto-reply or a bounce quotes the registration it answers. An out-of-office phrase that
opens a clause of the subject or of the body's first two lines ("Abwesenheitsnotiz",
"Thank you for your mail. I am out of the office until ...") marks it only when the
message carries no registration form: a person may say as much above a form.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator

from intake.signals.facts import Facts, fold
from intake.signals.phrases import LANGUAGES
from intake.signals.subjects import (
    AUTO_REPLY_PHRASES,
    AUTO_REPLY_PREFIXES,
    DELIVERY_PREFIXES,
    RECALL_PREFIXES,
    RECEIPT_PHRASES,
    REPORT_PHRASES,
)

Test = Callable[[Facts], str | None]

# Clauses the opening is cut into: an out-of-office phrase opens one of the first few
# ("Hello, I am out of the office", "Danke für Ihre Nachricht. Ich bin nicht im Büro").
MAX_CLAUSES = 4
# A full stop after a digit is part of a date ("bis zum 5. Mai"), not the end of a clause.
_CLAUSE_BREAK = re.compile(r"[\n,;:!?|()\[\]<>\"\u3001\u3002]+|(?<!\d)\.+|\s[-\u2013\u2014]+\s")
# "…" in a phrase stands for a few words (German and Dutch put the date before the rest:
# "Ich bin bis zum 5. Mai nicht im Büro"); a few characters in scripts without spaces.
GAP = "…"
_WORDS_GAP = r"\s*(?:\S+\s+){0,5}?"
_CJK_GAP = r"\S{0,10}?"
# Mail written without diacritics spells these letters as two (Buero, Fraanvaro).
_DIGRAPHS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "å": "aa", "æ": "ae", "ø": "oe"})
# After a machine-written prefix: a colon (Outlook), a parenthesis, a closing bracket
# ("[Automatyczna odpowiedź] ..."), or nothing.
_PREFIX_END = r"\s*(?:[:(\]]|$)"


def alternatives(entries: Iterable[str]) -> str:
    """Return a regex alternation of phrases, each folded and spelled both ways."""
    found: set[str] = set()
    for entry in entries:
        for spelled in {entry, entry.translate(_DIGRAPHS)}:
            found.add(_pattern([fold(piece).strip() for piece in spelled.split(GAP)]))
    return "|".join(sorted(found, key=len, reverse=True))


def _pattern(pieces: list[str]) -> str:
    """Return the regex of one phrase's folded pieces, a gap between each two; a piece
    ending in "*" is a stem."""
    out = []
    for i, piece in enumerate(pieces):
        if i:
            out.append(_CJK_GAP if _runs_on(piece[:1]) else _WORDS_GAP)
        if piece.endswith("*"):
            out.append(re.escape(piece[:-1]) + r"\w*")
        elif piece:
            out.append(re.escape(piece) + _word_end(piece[-1]))
    return "".join(out)


def _word_end(char: str) -> str:
    """Return what must follow a phrase ending in `char`: no letter, after a word."""
    return r"(?!\w)" if char.isalnum() and not _runs_on(char) else ""


def _runs_on(char: str) -> bool:
    """Return whether a letter is of a script written without spaces between words."""
    name = unicodedata.name(char, "") if char else ""
    return name.startswith(("CJK", "HIRAGANA", "KATAKANA", "HANGUL", "THAI"))


def subject(*lists: Iterable[str], phrases: Iterable[str] = (), end: str = _PREFIX_END) -> Test:
    """Fire on a subject that starts with a prefix (then `end`) or holds one of the phrases."""
    words = alternatives(p for lst in lists for p in lst)
    prefix = re.compile(rf"^\[?(?:{words}){end}") if words else None
    held = alternatives(phrases)
    inside = re.compile(held) if held else None

    def test(facts: Facts) -> str | None:
        text = facts.folded_subject
        if prefix is not None and prefix.match(text):
            return facts.subject
        if inside is not None and inside.search(text):
            return facts.subject
        return None

    return test


OUT_OF_OFFICE: tuple[str, ...] = tuple(p for lang in LANGUAGES for p in lang.phrases)
_OPENS_WITH = re.compile(rf"(?:{alternatives(OUT_OF_OFFICE)})")

# A subject that is an out-of-office phrase, or starts with one and a colon, is as sure a
# sign as Outlook's prefix; not a phrase that may follow other words ("… ofis dışında").
auto_reply_subject = subject(
    AUTO_REPLY_PREFIXES,
    RECALL_PREFIXES,
    [p for p in OUT_OF_OFFICE if not p.startswith(GAP)],
    phrases=AUTO_REPLY_PHRASES + RECEIPT_PHRASES,
)
delivery_subject = subject(DELIVERY_PREFIXES, end=r"(?!\w)")
report_subject = subject(phrases=REPORT_PHRASES)


def out_of_office(facts: Facts) -> str | None:
    """Fire on an out-of-office phrase opening a clause of the subject or the body's start."""
    for where, text in (("subject", facts.folded_subject), ("body", facts.opening)):
        for clause in _clauses(text):
            if _OPENS_WITH.match(clause):
                return f"{where}: {clause[:80]}"
    return None


def _clauses(text: str) -> Iterator[str]:
    """Yield the first clauses of a text, stripped, the empty ones skipped."""
    count = 0
    for clause in _CLAUSE_BREAK.split(text):
        clause = clause.strip(" \t*_=#~'-")
        if clause:
            yield clause
            count += 1
            if count == MAX_CLAUSES:
                return
