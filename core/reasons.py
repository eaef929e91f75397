"""Reasons as people type them, mapped to the SPEC's codes (pure).

"lost to a competitor", "Lost - no budget", "registered in error", `no_decision` or the
label itself each name a code; words that name none are `other`, kept as the note.
"""

from __future__ import annotations

import re

from core.errors import FieldError, Invalid
from core.fields import WITHDRAW_REASONS

# Words a partner writes for each withdrawal reason, after "withdraw" or "lost".
_WITHDRAW_WORDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (code, re.compile(pattern, re.IGNORECASE))
    for code, pattern in (
        ("lost_to_competitor", r"^(?:to\s+)?(?:a\s+|the\s+)?(?:competitor|competition|rival)s?$"),
        ("no_budget", r"^(?:no|lack\s+of|without)\s+(?:the\s+)?budget$|^budget\s+(?:cut|gone)$"),
        ("no_decision", r"^(?:no\s+decision|undecided|stalled|went\s+dark)$"),
        ("project_cancelled", r"^(?:the\s+)?project\s+(?:was\s+)?cancell?ed$|^cancell?ed$"),
        ("registered_in_error", r"^(?:registered\s+)?(?:in|by)\s+(?:error|mistake)$"),
    )
)


def withdraw_code(text: str | None) -> tuple[str, str | None]:
    """The withdrawal reason code for `text` and a note for words the code does not say.

    A code or its label maps exactly; known phrasings map to their code; anything else is
    `other` with the words kept as the note. Empty text is refused: a reason is required.
    """
    words = " ".join((text or "").replace("_", " ").split()).strip(" .!,;:-–—")
    if not words:
        raise Invalid([FieldError("withdraw_reason", "is required: say why the deal ends")])
    key = words.lower().replace(" ", "_")
    if key in WITHDRAW_REASONS:
        return key, None
    for code, label in WITHDRAW_REASONS.items():
        if words.lower() == label.lower():
            return code, None
    for code, rule in _WITHDRAW_WORDS:
        if rule.match(words):
            return code, None
    # "to Proofpoint": lost to a named rival.
    if re.match(r"^to\s+\S", words, re.IGNORECASE):
        return "lost_to_competitor", words[3:].strip()
    return "other", words
