"""The deal, its own rules (each move through the stage machine), and its quotes."""

# No `from __future__ import annotations`: see core/models/__init__.py.

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, Numeric, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, intpk, money, pct, str40, str200, str320
from core.errors import FieldError, Invalid, NotAllowed
from core.models.audit import DealEvent
from core.models.catalog import Contact, Partner, Product
from core.models.desk import Review
from core.models.prospect import Prospect, trigram_index
from core.stages import next_stage

ACTIVE_STAGES = ("opportunity", "approved")


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
    # A pending amendment request of claim fields: {field: [old, new]} as JSON values.
    amendment: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    amendment_requested_at: Mapped[datetime | None]
    withdraw_reason: Mapped[str | None] = mapped_column(String(40))
    withdraw_note: Mapped[str | None] = mapped_column(Text)
    withdrawn_from: Mapped[str | None] = mapped_column(String(20))  # the stage it reached

    partner: Mapped[Partner] = relationship(lazy="joined", innerjoin=True)
    contact: Mapped[Contact] = relationship(lazy="joined", innerjoin=True)
    prospect: Mapped[Prospect] = relationship(lazy="joined", innerjoin=True)
    product: Mapped[Product] = relationship(lazy="joined", innerjoin=True)
    conflict_with: Mapped["Deal | None"] = relationship(remote_side="Deal.id")
    quotes: Mapped[list["Quote"]] = relationship(
        back_populates="deal", order_by="Quote.id", foreign_keys="Quote.deal_id"
    )
    events: Mapped[list[DealEvent]] = relationship(order_by="DealEvent.id")
    review: Mapped[Review | None] = relationship(lazy="selectin")

    # The deal's own rules. Each move goes through the stage machine (core.stages), which
    # refuses one the deal's stage does not allow; who may make it is the services' check.

    def _move(self, action: str, now: datetime) -> None:
        self.stage = next_stage(self.stage, action, self.number, self.moot())
        self.updated_at = now

    def moot(self) -> set[str]:
        """The stage's moves nothing pending calls for, left out of what a refusal offers."""
        moot = set()
        if not self.returned_question:
            moot.add("answer")
        if self.extension_requested_at is None:
            moot |= {"grant_extension", "decline_extension"}
        if self.amendment is None:
            moot |= {"approve_amendment", "decline_amendment"}
        return moot

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
        """Protection extended by `extension` from its end (or now, if later); the old end."""
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

    def start_order(self, quote: "Quote", now: datetime) -> None:
        """The order starts from `quote`, while the deal is still protected."""
        end = self.protection_expires_at
        if self.stage == "approved" and end is not None and end <= now:
            raise NotAllowed(f"{self.number}'s protection lapsed on {end:%Y-%m-%d}", "deal")
        self._move("start_order", now)
        self.order_quote_id = quote.id
        quote.status = "ordered"

    def submit_order(self, po_number: str, now: datetime) -> None:
        """Submitted with the customer's purchase-order number."""
        po = po_number.strip()
        if self.stage == "order_started" and not po:
            raise Invalid([FieldError("po_number", "is required: the customer's PO number")])
        self._move("submit_order", now)
        self.po_number = po[:100]

    def expire(self, now: datetime) -> None:
        self._move("expire", now)

    def amend(self, now: datetime) -> None:
        self._move("amend", now)  # the stage takes changes; the services apply them

    def request_amendment(self, changes: dict[str, Any], now: datetime) -> None:
        """Claim fields to change once the deal desk agrees: one request at a time."""
        if self.amendment is not None:
            pending = f"{self.number} already has an amendment request awaiting the deal desk"
            raise NotAllowed(f"{pending}; wait for its decision before asking again", "deal")
        self._move("request_amendment", now)
        self.amendment = changes
        self.amendment_requested_at = now

    def decide_amendment(self, approve: bool, now: datetime) -> dict[str, Any]:
        """Close the pending request; return its changes (the services apply them)."""
        changes = self.amendment
        if changes is None:
            raise NotAllowed(f"{self.number} has no amendment request to decide", "deal")
        self._move("approve_amendment" if approve else "decline_amendment", now)
        self.amendment = None
        self.amendment_requested_at = None
        return changes

    def withdraw(self, reason: str, note: str | None, now: datetime) -> str:
        """Ended now, protection and all, nothing left pending; returns the stage reached."""
        reached = self.stage
        self._move("withdraw", now)
        self.withdrawn_from = reached
        self.withdraw_reason = reason
        self.withdraw_note = note
        self.protection_expires_at = now
        self.amendment = self.amendment_requested_at = self.extension_requested_at = None
        return reached


# superseded: an approved amendment replaced it; void: its deal was withdrawn (both stay
# documents); ordered: the order was started from it.
QUOTE_STATUSES = ("valid", "superseded", "ordered", "void")


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
    status: Mapped[str] = mapped_column(String(20), default="valid", server_default="valid")
    deal: Mapped[Deal | None] = relationship(back_populates="quotes", foreign_keys=[deal_id])
    partner: Mapped[Partner] = relationship()
    prospect: Mapped[Prospect] = relationship()
    product: Mapped[Product] = relationship(lazy="joined", innerjoin=True)
    lines: Mapped[list["QuoteLine"]] = relationship(
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
