"""What validation is given (the partner's defaults, the catalogue, today) and works in."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any


@dataclass(frozen=True)
class ProductRef:
    code: str
    name: str
    aliases: tuple[str, ...] = ()
    # The catalogue row, when the reference was read from the database.
    id: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ValidationContext:
    partner_country: str
    partner_currency: str
    products: tuple[ProductRef, ...]
    today: date
    locale: str | None = None


@dataclass(frozen=True)
class _Env:
    ctx: ValidationContext
    locale: str
    month_first: bool
    country: str | None  # the end user's country, when valid
    currency: Any  # a separate `currency` value, as given
