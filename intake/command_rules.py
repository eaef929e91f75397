"""The words of each command by email, pure: a rule per way of asking, matched against the
whole of what a sentence asks for once its courtesy is gone (`intake.phrasing`).

A rule matches all of the words or none, so a sentence that says more than a command
("Status of the Acme project", "we will submit the PO next week", "don't start the order
yet", "if they sign, start the order") is no command.
"""

from __future__ import annotations

import re

_ORDER = (
    r"(?:the\s+|an\s+|our\s+|this\s+|my\s+)?order"
    r"(?:\s+(?:for\s+)?(?:this(?:\s+(?:one|deal))?|it))?"
)
_START = (
    r"(?:start|begin|place|process|open|create|raise|kick\s+off|proceed\s+with|"
    r"go\s+ahead\s+with|move\s+(?:forward|ahead)\s+with|go\s+with)"
)
_QUOTE_NUMBER = (
    r"(?:\s+(?:with|from|using|on|for)\s+)?(?:\s*(?:the\s+)?quote\s+)?\s*(?P<quote>Q-?\d{1,9})"
)
_PO_NUMBER = r"(?P<po>(?=[A-Za-z0-9_\-/.]*\d)[A-Za-z0-9][A-Za-z0-9_\-/.]{0,99}?)"
_PO_LABEL = r"(?:PO|purchase\s+order)(?:\s+(?:number|no\.?|nr\.?|num(?:ber)?))?"
_PO_OWNER = r"(?:(?:the|our|my|their|customer'?s|the\s+customer'?s|client'?s)\s+)?"
_PO_LEAD = (
    r"(?:(?:here\s+is|here'?s|attached\s+is|enclosed\s+is|(?:please\s+)?find\s+attached|"
    r"attached|enclosed|we\s+have|we'?ve\s+got|we\s+got)\s+)?"
)
_PO_TAIL = (
    r"(?:\s+(?:is\s+)?(?:attached|enclosed|below|here))?"
    r"(?:[\s,;\-–—]+(?:and\s+)?(?:please\s+)?submit(?:\s+(?:it|the\s+order))?)?"
)
_PO = rf"{_PO_LEAD}{_PO_OWNER}{_PO_LABEL}(?:\s*[:#=]\s*|\s+is\s*:?\s*|\s+){_PO_NUMBER}{_PO_TAIL}"
# "Please process the order - PO is 4500012345": the step, then the PO it goes with.
_WITH_PO = (
    rf"(?:(?:{_START}|submit|complete|finali[sz]e|book)\s+{_ORDER}\s*"
    rf"(?:[-–—,:;]+\s*(?:and\s+)?|\s+(?:with|using|under|against|on)\s+|\s+)(?:an?\s+)?)?"
)
_USERS = r"(?P<users>\d[\d,]{0,9})"
_PRODUCT = r"(?P<product>[A-Za-z0-9][\w\-]{0,59})"
_THIS = (
    r"(?:\s+(?:the\s+deal|this(?:\s+(?:one|deal))?|it|the\s+registration|my\s+deal|"
    r"our\s+deal))?"
)
_REASON = r"(?:\s*[:,\-–—]\s*|\s+)?(?P<reason>.{0,180}?)"
_EXTEND = (
    r"(?:extend|extension|request\s+(?:an?\s+)?extension|(?:we\s+)?need\s+(?:an?\s+)?extension|"
    r"(?:we\s+)?need\s+more\s+time|more\s+time|renew(?:\s+the)?\s+(?:protection|registration)|"
    r"prolong(?:\s+the)?\s+protection)"
)
_STATUS = (
    r"status(?:\s+(?:update|check|report))?|"
    r"(?:what'?s|what\s+is)\s+(?:the\s+)?(?:current\s+|latest\s+)?status"
    r"(?:\s+(?:of|on)" + _THIS + r")?|"
    r"(?:(?:tell|send|give|update)\s+(?:me|us)\s+(?:on\s+)?)(?:the\s+)?(?:current\s+|latest\s+)?"
    r"status|"
    r"any\s+(?:status\s+)?(?:updates?|news|progress)(?:\s+(?:on|with)" + _THIS + r")?|"
    r"where\s+(?:are\s+we|do\s+we\s+stand|is\s+it|does\s+it\s+stand)(?:\s+at)?"
    r"(?:\s+(?:with|on)" + _THIS + r")?(?:\s+at)?|"
    r"how\s+is\s+(?:it|this|this\s+one|the\s+deal)\s+(?:going|looking)"
)
_AMEND = (
    r"(?:amend|change|modify)" + _THIS + r"(?:\s+(?:as\s+follows|below|to\s+the\s+following))?|"
    r"(?:please\s+)?(?:make\s+)?(?:the\s+)?following\s+(?:changes|amendments)|"
    r"(?:changes|amendments)(?:\s+(?:to|for)" + _THIS + r")?"
)
_DEALS = r"(?:(?:list|show|send)\s+(?:me\s+|us\s+)?)?(?:all\s+(?:of\s+)?)?(?:my\s+|our\s+)?deals"
_LOST = r"(?:we(?:'ve|\s+have)?\s+)?lost(?P<object>\s+(?:the\s+deal|this(?:\s+one|\s+deal)?|it))?"

RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (verb, re.compile(rf"^(?:{pattern})$", re.IGNORECASE))
    for verb, pattern in (
        ("submit_order", rf"{_WITH_PO}{_PO}"),
        ("submit_order", rf"submit\s+{_ORDER}"),
        ("start_order", rf"{_START}\s+{_ORDER}(?:{_QUOTE_NUMBER})?"),
        ("quote", (
            r"(?:(?:send|give|get|make|prepare|need|want|request)\s+(?:me\s+|us\s+)?)?"
            r"(?:an?\s+)?(?:new\s+|updated\s+|revised\s+|fresh\s+)?quote\s+(?:for\s+)?"
            rf"{_USERS}\s+(?:users?|seats?|licen[cs]es?)(?:\s+(?:of|for|on|with)?\s*{_PRODUCT})?"
        )),
        ("extend", rf"{_EXTEND}\b{_REASON}"),
        ("status", _STATUS),
        ("deals", rf"{_DEALS}"),
        ("check", r"check(?:\s+(?:the\s+)?domain)?\s+(?P<domain>[^\s@]+\.[^\s@]+?)"),
        ("help", r"help|(?:list\s+(?:of\s+)?)?commands"),
        ("amend", _AMEND),
        ("withdraw", rf"withdraw\b(?:\s+from)?{_THIS}{_REASON}"),
        ("lost", rf"{_LOST}\b{_REASON}"),
    )
)  # fmt: skip
