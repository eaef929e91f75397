"""The persistent model: partners and their people, the catalogue, prospects, deals, quotes,
the audit trail, inbound email and the outbox.

Importing the package maps every table on `core.db.Base`. Its modules: `catalog` (tiers,
partners, contacts, reviewers, products), `prospect` (the end customer), `deal` (the deal, its
rules and its quotes), `desk` (the deal desk's review of a deal, its rules), `audit` (the
trail, the jobs' runs), `mail` (inbound, outbox) and `webhook` (its endpoints).

Their annotations are objects, not strings (no `from __future__ import annotations`): the
mapping reads them as they are, where it would first evaluate each string, a sixth of the
time the import takes. A forward reference is quoted: `Mapped[list["Quote"]]`.
"""

from core.models.audit import DealEvent, JobRun
from core.models.catalog import Contact, Partner, Product, ProductPrice, Reviewer, Tier
from core.models.deal import ACTIVE_STAGES, QUOTE_STATUSES, Deal, Quote, QuoteLine, deal_number
from core.models.desk import Review, Rule
from core.models.mail import InboundEmail, OutboxMessage
from core.models.prospect import Prospect, trigram_index
from core.models.webhook import WebhookEndpoint

__all__ = [
    "ACTIVE_STAGES",
    "QUOTE_STATUSES",
    "Contact",
    "Deal",
    "DealEvent",
    "InboundEmail",
    "JobRun",
    "OutboxMessage",
    "Partner",
    "Product",
    "ProductPrice",
    "Prospect",
    "Quote",
    "QuoteLine",
    "Review",
    "Reviewer",
    "Rule",
    "Tier",
    "WebhookEndpoint",
    "deal_number",
    "trigram_index",
]
