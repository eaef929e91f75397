"""deal search: an FTS5 trigram index of what `search` matches, on SQLite only

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 10:00:00

`search` matches part of a deal's number, its own company name, its prospect's name or
domain (`ILIKE '%text%'`). PostgreSQL answers that from its pg_trgm indexes (0002); SQLite
has none and read every deal. `deal_search` is an FTS5 table with the trigram tokenizer
(SQLite 3.34 or later), one row per deal (rowid = deals.id) holding those four texts, so
`core.services.queries.search` finds a term of three characters or more with one MATCH.

The table is kept in step by triggers on deals and prospects, and filled here from the
existing rows. On PostgreSQL this migration does nothing.

SQLite drops a table's triggers with the table: a future migration that rebuilds `deals`
or `prospects` on SQLite (a `batch_alter_table` that copies the table, as 0005 did) must
create these TRIGGERS again after the rebuild, or the index silently goes stale.
tests/integration/test_schema.py fails when one is missing after `upgrade`.
"""

import sqlite3

from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

MINIMUM_SQLITE = (3, 34, 0)  # the trigram tokenizer

TABLE = """
CREATE VIRTUAL TABLE deal_search USING fts5(
    number, company_name, prospect_name, domain, tokenize = 'trigram'
)
"""

# One row of deal_search from a deal and its prospect (NULLs when the prospect is missing).
_DEAL_ROW = """
INSERT INTO deal_search (rowid, number, company_name, prospect_name, domain)
SELECT new.id, new.number, new.company_name, p.company_name, p.domain
FROM (SELECT 1) LEFT JOIN prospects AS p ON p.id = new.prospect_id;
"""


def _prospect_rows(prospect: str, name: str, domain: str) -> str:
    """Copy a prospect's name and domain to the rows of its deals (prospect ids never change)."""
    return f"""
UPDATE deal_search SET prospect_name = {name}, domain = {domain}
WHERE rowid IN (SELECT id FROM deals WHERE prospect_id = {prospect}.id);
"""


TRIGGERS = {
    'deal_search_deal_insert': f"AFTER INSERT ON deals BEGIN {_DEAL_ROW} END",
    'deal_search_deal_update': (
        "AFTER UPDATE OF id, number, company_name, prospect_id ON deals BEGIN"
        f" DELETE FROM deal_search WHERE rowid = old.id; {_DEAL_ROW} END"
    ),
    'deal_search_deal_delete': (
        "AFTER DELETE ON deals BEGIN DELETE FROM deal_search WHERE rowid = old.id; END"
    ),
    # A new prospect has no deals yet, unless they were written first with foreign keys off.
    'deal_search_prospect_insert': (
        "AFTER INSERT ON prospects BEGIN"
        f" {_prospect_rows('new', 'new.company_name', 'new.domain')} END"
    ),
    'deal_search_prospect_update': (
        "AFTER UPDATE OF company_name, domain ON prospects BEGIN"
        f" {_prospect_rows('new', 'new.company_name', 'new.domain')} END"
    ),
    'deal_search_prospect_delete': (
        f"AFTER DELETE ON prospects BEGIN {_prospect_rows('old', 'NULL', 'NULL')} END"
    ),
}

FILL = """
INSERT INTO deal_search (rowid, number, company_name, prospect_name, domain)
SELECT d.id, d.number, d.company_name, p.company_name, p.domain
FROM deals AS d LEFT JOIN prospects AS p ON p.id = d.prospect_id
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != 'sqlite':
        return
    if sqlite3.sqlite_version_info < MINIMUM_SQLITE:
        raise RuntimeError(
            f'deal search needs SQLite {".".join(map(str, MINIMUM_SQLITE))} or later'
            f' (the FTS5 trigram tokenizer); this Python has {sqlite3.sqlite_version}'
        )
    op.execute(TABLE)
    op.execute(FILL)
    create_triggers()


def create_triggers() -> None:
    """Create the triggers that keep deal_search in step (again, after a table rebuild)."""
    for name, body in TRIGGERS.items():
        op.execute(f'DROP TRIGGER IF EXISTS {name}')
        op.execute(f'CREATE TRIGGER {name} {body}')


def downgrade() -> None:
    if op.get_bind().dialect.name != 'sqlite':
        return
    for name in TRIGGERS:
        op.execute(f'DROP TRIGGER IF EXISTS {name}')
    op.execute('DROP TABLE deal_search')
