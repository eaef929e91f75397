"""A quote: the priced offer for a prospect, its lines, and whether it still stands."""

# No `from __future__ import annotations`: see core/models/__init__.py.

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import Date, ForeignKey, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, intpk, money, pct, str200, str320
from core.models.catalog import Partner, Product
from core.models.prospect import Prospect

if TYPE_CHECKING:
    from core.models.deal import Deal

# valid: it stands; superseded: an approved amendment replaced it; ordered: the order was
# started from it; void: its deal was withdrawn. Superseded and void quotes stay documents.
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
    deal: Mapped["Deal | None"] = relationship(back_populates="quotes", foreign_keys=[deal_id])
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
