"""The use cases under one name, as the tests call them (`services.approve(...)`).

The product imports each from its module; a test reads more plainly with one namespace.
"""

from core.protection import DomainCheck
from core.services.actors import SYSTEM, Actor, identify
from core.services.amend import Amended, amend
from core.services.amendment import decide_amendment
from core.services.lifecycle import expire_lapsed
from core.services.orders import add_quote, advance
from core.services.prospects import prospect_page
from core.services.queries import search
from core.services.register import Registered, Request, check_domain, register, validate
from core.services.review import (
    answer,
    approve,
    decide_extension,
    reject,
    request_extension,
    return_for_info,
)
from core.services.views import deal_view, find_quote, quote_view, show
from core.services.withdraw import withdraw

__all__ = [
    "SYSTEM",
    "Actor",
    "Amended",
    "DomainCheck",
    "Registered",
    "Request",
    "add_quote",
    "advance",
    "amend",
    "answer",
    "approve",
    "check_domain",
    "deal_view",
    "decide_amendment",
    "decide_extension",
    "expire_lapsed",
    "find_quote",
    "identify",
    "prospect_page",
    "quote_view",
    "register",
    "reject",
    "request_extension",
    "return_for_info",
    "search",
    "show",
    "validate",
    "withdraw",
]
