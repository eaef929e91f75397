"""How people wrap a command, pure: the sentences of a line, and the greetings, courtesy and
sign-offs around the words that ask for something.

`core_of("Hi Ann, could you please start the order? Thanks")` is `Wording("start the
order", question=True, asked=True)`: what is left is matched against the commands
(`intake.command_rules`), and a question counts only when it is put as a request
("could you …?") or asks for the status.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# "P.O." is one word: its dots end no sentence.
_PO_DOTS = re.compile(r"\bP\.\s?O\.?(?=[\s:#]|$)", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_NAME = r"(?:\s+[\w'’.\-]+){0,3}?"  # "Hi Ann", "Dear deal desk", "Thanks John"
# Greetings and interjections, each a clause of its own: ended by a comma, dash or "!".
_HARD = (
    r"hi|hello|hey|hiya|dear|greetings|good\s+(?:morning|afternoon|evening|day)|"
    r"thanks|thank\s+you(?:\s+(?:so|very)\s+much)?|many\s+thanks|cheers|"
    r"great(?:\s+news)?|good\s+news|perfect|excellent|brilliant|awesome|fantastic|"
    r"wonderful|all\s+good|noted|understood|got\s+it|fine|alright|right"
)
# Courtesy words that lead into a request, with or without a comma after them.
_SOFT = (
    r"yes|yeah|yep|yup|ok(?:ay)?|sure|so|and|also|now|then|just|unfortunately|sadly|"
    r"sorry|i'?m\s+afraid|please|pls|plz|kindly|"
    r"(?:(?:please|now|so)\s+)?go\s+ahead\s+and|let'?s|let\s+us|time\s+to|"
    r"(?:we|i)(?:'d|\s+would)\s+like\s+(?:you\s+)?to|(?:we|i)\s+want\s+(?:you\s+)?to|"
    r"(?:we|i)(?:'re|\s+are|'m|\s+am)\s+ready\s+to|you\s+(?:can|may)(?:\s+now)?|"
    r"feel\s+free\s+to"
)
# A request put as a question: "could you start the order?" asks us to act.
_REQUEST = r"(?:could|can|would|will)\s+you(?:\s+(?:please|kindly))?|would\s+you\s+mind"
_LEAD = re.compile(
    rf"^(?:(?:{_HARD}){_NAME}\s*(?:[,!:;]+|\s[-–—]+)\s*|(?:{_HARD})\s*$|"
    rf"(?P<asked>{_REQUEST}|please|pls|plz|kindly)\b[\s,:]*|(?:{_SOFT})\b[\s,:]*)",
    re.IGNORECASE,
)
_TAIL = re.compile(
    r"(?:[\s,;:\-–—]*\b(?:please|pls|plz|thanks|thank\s+you|thx|ty|asap|now|today|"
    r"as\s+soon\s+as\s+possible|for\s+(?:us|me)|if\s+you\s+(?:can|could|would|don'?t\s+mind)|"
    r"when\s+you\s+(?:can|get\s+a\s+chance)|many\s+thanks|cheers)\b|[\s.!?:]|[:;]-?[)D])+$",
    re.IGNORECASE,
)
# A deal number and the words that tie it in: "for deal DR-000123", "re DR-5".
_DEAL_WORDS = re.compile(
    r"(?:\b(?:for|on|of|about|regarding|re:?|with)\s+)?(?:\b(?:the\s+)?deal\s+)?#?\s*"
    r"\bDR-?\d{1,9}\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Wording:
    """What a sentence asks for, its courtesy gone; whether it was a question, and whether
    it was put as a request ("could you …", "please …")."""

    words: str
    question: bool = False
    asked: bool = False


def sentences(line: str) -> list[str]:
    """The sentences of a line, in order; "P.O." ends none."""
    text = _PO_DOTS.sub("PO", line)
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def core_of(sentence: str) -> Wording:
    """The words of a sentence that ask for something, without its deal number, courtesy
    and filler; and how it was asked."""
    text = " ".join(_DEAL_WORDS.sub(" ", sentence).split())
    question = bool(re.search(r"\?[\s.!)]*(?:[:;]-?[)D])?\s*$", text))
    asked = False
    while True:
        text = _TAIL.sub("", text).strip(" ,;")
        lead = _LEAD.match(text)
        if lead is None or not lead.group(0):
            break
        asked = asked or bool(lead.group("asked"))
        text = text[lead.end() :]
    return Wording(text.strip(), question, asked)
