"""The persistent model: partners and their people, the catalogue, prospects, deals, quotes,
the audit trail, inbound email and the outbox."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, intpk, money, pct, str40, str200, str320
from core.errors import FieldError, Invalid, NotAllowed
from core.stages import next_stage

ACTIVE_STAGES = ("opportunity", "approved")


class Tier(Base):
    __tablename__ = "tiers"
    id: Mapped[intpk]
    name: Mapped[str40] = mapped_column(unique=True)
    discount_pct: Mapped[pct]
    reward_margin_pct: Mapped[Decimal | None] = mapped_column(Numeric(7, 4))


class Partner(Base):
    __tablename__ = "partners"
    id: Mapped[intpk]
    name: Mapped[str200] = mapped_column(unique=True)
    tier_id: Mapped[int] = mapped_column(ForeignKey("tiers.id"))
    country: Mapped[str] = mapped_column(String(2))
    currency: Mapped[str] = mapped_column(String(3))
    locale: Mapped[str | None] = mapped_column(String(20))
    tier: Mapped[Tier] = relationship(lazy="joined", innerjoin=True)
    contacts: Mapped[list[Contact]] = relationship(back_populates="partner")


class Contact(Base):
    """A partner's person: registers and advances the partner's deals."""

    __tablename__ = "contacts"
    id: Mapped[intpk]
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    name: Mapped[str200]
    email: Mapped[str320] = mapped_column(unique=True)
    slack_user_id: Mapped[str | None] = mapped_column(String(40), unique=True)
    partner: Mapped[Partner] = relationship(
        back_populates="contacts", lazy="joined", innerjoin=True
    )


class Reviewer(Base):
    """The vendor's deal desk: approves, rejects, returns, grants extensions."""

    __tablename__ = "reviewers"
    id: Mapped[intpk]
    name: Mapped[str200]
    email: Mapped[str320] = mapped_column(unique=True)
    slack_user_id: Mapped[str | None] = mapped_column(String(40), unique=True)


class Product(Base):
    __tablename__ = "products"
    id: Mapped[intpk]
    code: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str200]
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    unit_price: Mapped[money]
    currency: Mapped[str] = mapped_column(String(3))
    term_months: Mapped[int] = mapped_column(Integer, default=12)
    prices: Mapped[list[ProductPrice]] = relationship(
        back_populates="product", lazy="selectin", cascade="all, delete-orphan"
    )

    def price_in(self, currency: str) -> tuple[Decimal, str]:
        """The unit price in `currency` if the price book has it, else the product's own."""
        for p in self.prices:
            if p.currency == currency:
                return p.unit_price, currency
        return self.unit_price, self.currency


class ProductPrice(Base):
    """A regional price: the product's unit price in another currency."""

    __tablename__ = "product_prices"
    __table_args__ = (UniqueConstraint("product_id", "currency"),)
    id: Mapped[intpk]
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    currency: Mapped[str] = mapped_column(String(3))
    unit_price: Mapped[money]
    product: Mapped[Product] = relationship(back_populates="prices")


def trigram_index(name: str, column: str) -> Index:
    """A pg_trgm GIN index: fast `ILIKE '%text%'` on PostgreSQL.

    SQLite has no trigram index; there the index is partial over no row at all (`WHERE 0`),
    so it costs nothing and the schema still matches the migrations name for name.
    """
    return Index(
        name,
        column,
        postgresql_using="gin",
        postgresql_ops={column: "gin_trgm_ops"},
        sqlite_where=text("0"),
    )


class Prospect(Base):
    """An end customer, unique by its registrable primary domain."""

    __tablename__ = "prospects"
    __table_args__ = (
        trigram_index("ix_prospects_company_name_trgm", "company_name"),
        trigram_index("ix_prospects_domain_trgm", "domain"),
        Index("ix_prospects_skeleton", "skeleton"),
    )
    id: Mapped[intpk]
    domain: Mapped[str] = mapped_column(String(253), unique=True)
    # The domain's confusable skeleton (core.domains.skeleton): prospects that look alike
    # share it, so finding a lookalike is one indexed lookup.
    skeleton: Mapped[str] = mapped_column(String(1000))
    # The first registration's name: shown to reviewers only (each deal keeps its own).
    company_name: Mapped[str200]
    created_at: Mapped[datetime]


def deal_number(deal_id: int) -> str:
    """A deal's number: DR- and its id, zero-padded to six digits."""
    return f"DR-{deal_id:06d}"


class Deal(Base):
    __tablename__ = "deals"
    __table_args__ = (
        # One active registration per partner, prospect and product: the database
        # itself refuses the second of two racing registrations.
        Index(
            "uq_deals_active_per_partner",
            "partner_id",
            "prospect_id",
            "product_id",
            unique=True,
            sqlite_where=text("stage IN ('opportunity', 'approved')"),
            postgresql_where=text("stage IN ('opportunity', 'approved')"),
        ),
        Index("ix_deals_stage", "stage"),
        Index("ix_deals_prospect_product", "prospect_id", "product_id"),
        trigram_index("ix_deals_number_trgm", "number"),
    )
    id: Mapped[intpk]
    number: Mapped[str] = mapped_column(String(20), unique=True)
    stage: Mapped[str] = mapped_column(String(20), default="opportunity")
    channel: Mapped[str] = mapped_column(String(10))
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    prospect_id: Mapped[int] = mapped_column(ForeignKey("prospects.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    conflict_with_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id"))

    # Company / partner / end user / opportunity: the SPEC's registration fields.
    company_name: Mapped[str200]
    contact_name: Mapped[str200]
    contact_phone: Mapped[str40]
    partner_sales_lead_name: Mapped[str | None] = mapped_column(String(200))
    partner_sales_lead_email: Mapped[str | None] = mapped_column(String(320))
    end_user_first_name: Mapped[str200]
    end_user_last_name: Mapped[str200]
    end_user_position: Mapped[str200]
    end_user_email: Mapped[str320]
    end_user_phone: Mapped[str40]
    end_user_role: Mapped[str40]
    address_line1: Mapped[str200]
    address_line2: Mapped[str | None] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    state: Mapped[str | None] = mapped_column(String(10))
    postcode: Mapped[str40]
    number_of_users: Mapped[int]
    projected_value: Mapped[money]
    currency: Mapped[str] = mapped_column(String(3))
    close_date: Mapped[date] = mapped_column(Date)
    budget_approved: Mapped[bool] = mapped_column(Boolean)
    project_priority: Mapped[str40]
    problems_to_solve: Mapped[str] = mapped_column(Text)
    meeting_date: Mapped[date | None] = mapped_column(Date)
    migrating_to: Mapped[str40]

    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    approved_at: Mapped[datetime | None]
    protection_expires_at: Mapped[datetime | None]
    reviewed_by: Mapped[str | None] = mapped_column(String(320))
    reject_reason: Mapped[str | None] = mapped_column(String(40))
    review_note: Mapped[str | None] = mapped_column(Text)
    returned_question: Mapped[str | None] = mapped_column(Text)
    order_quote_id: Mapped[int | None]  # the quote that became the order (no FK: a cycle)
    po_number: Mapped[str | None] = mapped_column(String(100))
    extensions_granted: Mapped[int] = mapped_column(Integer, default=0)
    extension_requested_at: Mapped[datetime | None]
    last_nudged_at: Mapped[datetime | None]
    thread_message_id: Mapped[str | None] = mapped_column(String(998))
    # The inbound message key it was registered from: a replayed email finds its own deal.
    source_key: Mapped[str | None] = mapped_column(String(998))
    slack_review_channel: Mapped[str | None] = mapped_column(String(40))
    slack_review_ts: Mapped[str | None] = mapped_column(String(40))

    partner: Mapped[Partner] = relationship(lazy="joined", innerjoin=True)
    contact: Mapped[Contact] = relationship(lazy="joined", innerjoin=True)
    prospect: Mapped[Prospect] = relationship(lazy="joined", innerjoin=True)
    product: Mapped[Product] = relationship(lazy="joined", innerjoin=True)
    conflict_with: Mapped[Deal | None] = relationship(remote_side="Deal.id")
    quotes: Mapped[list[Quote]] = relationship(
        back_populates="deal", order_by="Quote.id", foreign_keys="Quote.deal_id"
    )
    events: Mapped[list[DealEvent]] = relationship(order_by="DealEvent.id")

    @property
    def active(self) -> bool:
        return self.stage in ACTIVE_STAGES

    # The deal's own rules. Each move goes through the stage machine (core.stages), which
    # refuses one the deal's stage does not allow; who may make it is the services' check.

    def _move(self, action: str, now: datetime) -> None:
        self.stage = next_stage(self.stage, action)
        self.updated_at = now

    def approve(self, by: str, now: datetime, protection: timedelta) -> None:
        """Approved: protected from now for `protection`."""
        self._move("approve", now)
        self.approved_at = now
        self.reviewed_by = by
        self.protection_expires_at = now + protection

    def reject(self, by: str, reason: str, note: str | None, now: datetime) -> None:
        self._move("reject", now)
        self.reject_reason = reason
        self.review_note = note
        self.reviewed_by = by

    def return_for_info(self, question: str, now: datetime) -> None:
        """Back to the partner with a question; it stays an opportunity."""
        self._move("return", now)
        self.returned_question = question

    def answer(self, now: datetime) -> str:
        """The partner answered the open question (returned): the deal is back in review."""
        question = self.returned_question
        if question is None:
            raise NotAllowed(f"{self.number} has no open question from the deal desk", "deal")
        self._move("answer", now)
        self.returned_question = None
        self.last_nudged_at = None
        return question

    def _check_extension_limit(self, limit: int) -> None:
        if self.extensions_granted >= limit:
            raise NotAllowed(
                f"{self.number} already had {self.extensions_granted} extension(s); "
                f"the limit is {limit}",
                field="deal",
            )

    def request_extension(self, now: datetime, limit: int) -> bool:
        """Ask for more time; False when a request is already pending (asking twice is one)."""
        self._check_extension_limit(limit)
        if self.extension_requested_at is not None:
            return False
        self._move("request_extension", now)
        self.extension_requested_at = now
        return True

    def grant_extension(self, now: datetime, extension: timedelta, limit: int) -> datetime:
        """Protection extended by `extension` from its end (or from now, if that is later);
        the old end is returned."""
        self._check_extension_limit(limit)
        old_end = self.protection_expires_at
        assert old_end is not None, "an approved deal has a protection end"
        self._move("grant_extension", now)
        self.extension_requested_at = None
        self.protection_expires_at = max(old_end, now) + extension
        self.extensions_granted += 1
        return old_end

    def decline_extension(self, now: datetime) -> None:
        if self.extension_requested_at is None:
            raise NotAllowed(f"{self.number} has no extension request to decline", "deal")
        self._move("decline_extension", now)
        self.extension_requested_at = None

    def start_order(self, quote: Quote, now: datetime) -> None:
        """The order starts from `quote`, while the deal is still protected."""
        end = self.protection_expires_at
        if self.stage == "approved" and end is not None and end <= now:
            raise NotAllowed(f"{self.number}'s protection lapsed on {end:%Y-%m-%d}", "deal")
        self._move("start_order", now)
        self.order_quote_id = quote.id

    def submit_order(self, po_number: str, now: datetime) -> None:
        """Submitted with the customer's purchase-order number."""
        po = po_number.strip()
        if self.stage == "order_started" and not po:
            raise Invalid([FieldError("po_number", "is required: the customer's PO number")])
        self._move("submit_order", now)
        self.po_number = po[:100]

    def expire(self, now: datetime) -> None:
        self._move("expire", now)


class Quote(Base):
    __tablename__ = "quotes"
    id: Mapped[intpk]
    number: Mapped[str] = mapped_column(String(20), unique=True)
    prospect_id: Mapped[int] = mapped_column(ForeignKey("prospects.id"))
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    currency: Mapped[str] = mapped_column(String(3))
    number_of_users: Mapped[int]
    term_months: Mapped[int]
    discount_pct: Mapped[pct]
    reward_margin_pct: Mapped[pct]
    list_amount: Mapped[money]
    total: Mapped[money]
    valid_until: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime]
    created_by: Mapped[str320]
    deal: Mapped[Deal | None] = relationship(back_populates="quotes", foreign_keys=[deal_id])
    partner: Mapped[Partner] = relationship()
    prospect: Mapped[Prospect] = relationship()
    product: Mapped[Product] = relationship(lazy="joined", innerjoin=True)
    lines: Mapped[list[QuoteLine]] = relationship(
        order_by="QuoteLine.position", lazy="selectin", cascade="all, delete-orphan"
    )


class QuoteLine(Base):
    __tablename__ = "quote_lines"
    id: Mapped[intpk]
    quote_id: Mapped[int] = mapped_column(ForeignKey("quotes.id"))
    position: Mapped[int]
    kind: Mapped[str] = mapped_column(String(20))  # list | tier_discount | reward_margin
    description: Mapped[str200]
    unit_price: Mapped[money]
    quantity: Mapped[int]
    term_months: Mapped[int]
    pct: Mapped[Decimal | None] = mapped_column(Numeric(7, 4))
    amount: Mapped[money]


class DealEvent(Base):
    """The audit trail: who moved which deal from where to where, when, by which channel."""

    __tablename__ = "deal_events"
    __table_args__ = (Index("ix_deal_events_deal", "deal_id"),)
    id: Mapped[intpk]
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id"))
    at: Mapped[datetime]
    actor: Mapped[str320]
    channel: Mapped[str] = mapped_column(String(10))
    action: Mapped[str40]
    from_stage: Mapped[str | None] = mapped_column(String(20))
    to_stage: Mapped[str | None] = mapped_column(String(20))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class InboundEmail(Base):
    """Every message the intake received, raw, keyed so it is handled exactly once."""

    __tablename__ = "inbound_emails"
    __table_args__ = (
        Index("ix_inbound_status", "status"),
        UniqueConstraint("hold_token", name="uq_inbound_emails_hold_token"),
    )
    id: Mapped[intpk]
    message_key: Mapped[str] = mapped_column(String(998), unique=True)
    message_id: Mapped[str | None] = mapped_column(String(998))
    mailbox: Mapped[str | None] = mapped_column(String(200))
    uidvalidity: Mapped[int | None]
    uid: Mapped[int | None]
    sender: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(String(998))
    size: Mapped[int]
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    # received | registered | duplicate | invalid | ignored | refused | answered | held | lapsed
    status: Mapped[str] = mapped_column(String(20), default="received")
    reason: Mapped[str | None] = mapped_column(Text)
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime]
    handled_at: Mapped[datetime | None]
    moved_to: Mapped[str | None] = mapped_column(String(40))
    # How the sender was proven: dkim | authserv | confirmed | off (the check turned off).
    proof: Mapped[str | None] = mapped_column(String(20))
    # A held message waits for its sender's threaded reply to a confirmation carrying this.
    hold_token: Mapped[str | None] = mapped_column(String(64))
    held_until: Mapped[datetime | None]


class OutboxMessage(Base):
    """A notification written in the same transaction as its cause; a worker delivers it."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_pending", "sent_at", "next_attempt_at"),
        # Replies to one address in the last hour: the intake's loop guard.
        Index("ix_outbox_to_created", "to_addr", "created_at"),
    )
    id: Mapped[intpk]
    kind: Mapped[str] = mapped_column(String(10), default="email")  # email | slack
    # 0: caused by a person just now, sent first; 1: a batch's mail (see UnitOfWork.background).
    priority: Mapped[int] = mapped_column(SmallInteger, default=0, server_default=text("0"))
    template: Mapped[str40]
    dedupe_key: Mapped[str | None] = mapped_column(String(300), unique=True)
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id"))
    to_addr: Mapped[str] = mapped_column(String(998))
    subject: Mapped[str] = mapped_column(String(998))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    message_id: Mapped[str] = mapped_column(String(998))
    # The quote whose PDF goes with this email, rendered when it is sent (same bytes).
    quote_id: Mapped[int | None] = mapped_column(ForeignKey("quotes.id"))
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    sent_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class JobRun(Base):
    """The last run of each scheduled job and its error, for `dealreg status`."""

    __tablename__ = "job_runs"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_started_at: Mapped[datetime | None]
    last_finished_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
