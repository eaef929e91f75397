"""The catalogue and the people: tiers, partners and their contacts, reviewers, products and
their regional prices."""

# No `from __future__ import annotations`: see core/models/__init__.py.

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, ForeignKey, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, intpk, money, pct, str40, str200, str320


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
    contacts: Mapped[list["Contact"]] = relationship(back_populates="partner")


class Contact(Base):
    """A partner's person: registers and advances the partner's deals."""

    __tablename__ = "contacts"
    id: Mapped[intpk]
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    name: Mapped[str200]
    email: Mapped[str320] = mapped_column(unique=True)
    slack_user_id: Mapped[str | None] = mapped_column(String(40), unique=True)
    # Taken out of the catalogue (`dealreg catalog remove`): no longer acts; the row stays
    # because the deals they registered point to it.
    removed_at: Mapped[datetime | None]
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
    prices: Mapped[list["ProductPrice"]] = relationship(
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
