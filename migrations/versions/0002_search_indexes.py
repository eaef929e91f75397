"""search indexes: pg_trgm GIN indexes for substring search on PostgreSQL

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 12:40:00

`search` matches part of a deal number, prospect name or domain (`ILIKE '%text%'`). Without
these indexes PostgreSQL reads every deal for a rare term. SQLite has no trigram indexes: it
gets the same names as partial indexes over no row (`WHERE 0`), which cost nothing and keep
the schema equal to the models (see `core.models.trigram_index`).
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_prospects_company_name_trgm", "prospects", "company_name"),
    ("ix_prospects_domain_trgm", "prospects", "domain"),
    ("ix_deals_number_trgm", "deals", "number"),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        for name, table, column in INDEXES:
            op.create_index(name, table, [column], sqlite_where=sa.text("0"))
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in INDEXES:
        op.create_index(
            name, table, [column], postgresql_using="gin",
            postgresql_ops={column: "gin_trgm_ops"},
        )


def downgrade() -> None:
    for name, table, _column in INDEXES:
        op.drop_index(name, table_name=table)
