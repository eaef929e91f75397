"""numbers not null: every deal and quote has its number from its INSERT

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 10:00:00

A deal (DR-000042) and a quote (Q-000042) are numbered from their id, which is now
reserved before the row is written (`core.db.reserve_ids`), so the number goes in with the
row instead of in an UPDATE after it, and the column becomes NOT NULL. A row left without
its number (none should be: the UPDATE ran in the INSERT's transaction) gets it from its id
first.
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

# Each table and the prefix of its numbers: the prefix, then the id in six digits or more.
NUMBERED = (('deals', 'DR-'), ('quotes', 'Q-'))


def upgrade() -> None:
    # On SQLite the batch copies each table and drops the old one: `core.schema.upgrade`
    # runs migrations with foreign keys off (and checks them before commit) for that.
    for table, prefix in NUMBERED:
        _fill(op.get_bind(), table, prefix)
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('number', existing_type=sa.String(length=20), nullable=False)


def _fill(conn: sa.Connection, name: str, prefix: str) -> None:
    table = sa.table(name, sa.column('id', sa.Integer), sa.column('number', sa.String))
    ids = conn.execute(sa.select(table.c.id).where(table.c.number.is_(None))).scalars().all()
    if ids:
        update = (
            table.update()
            .where(table.c.id == sa.bindparam('_id'))
            .values(number=sa.bindparam('_number'))
        )
        conn.execute(update, [{'_id': i, '_number': f'{prefix}{i:06d}'} for i in ids])


def downgrade() -> None:
    for table, _prefix in reversed(NUMBERED):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('number', existing_type=sa.String(length=20), nullable=True)
