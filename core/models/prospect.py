"""The end customer, and the trigram index that finds prospects and deals by part of a name."""

# No `from __future__ import annotations`: see core/models/__init__.py.

from datetime import datetime

from sqlalchemy import Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, intpk, str200


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
