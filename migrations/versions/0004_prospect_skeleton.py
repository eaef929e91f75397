"""prospect skeleton: the confusable skeleton of each prospect's domain, indexed

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 10:00:00

Two domains that look alike (`hаrbourlights.co.uk` with a Cyrillic а and
`harbourlights.co.uk`) share their Unicode TR39 skeleton (`core.domains.skeleton`). Each
prospect stores it so that registration, approval, quotes and `/deal check` find a
lookalike with one indexed lookup. Existing rows are filled in batches before the column
becomes NOT NULL.
"""

import sqlalchemy as sa
from alembic import op

from core.domains import skeleton

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

BATCH = 1000


def upgrade() -> None:
    with op.batch_alter_table('prospects', schema=None) as batch_op:
        batch_op.add_column(sa.Column('skeleton', sa.String(length=1000), nullable=True))
    _backfill(op.get_bind())
    with op.batch_alter_table('prospects', schema=None) as batch_op:
        batch_op.alter_column('skeleton', existing_type=sa.String(length=1000), nullable=False)
        batch_op.create_index('ix_prospects_skeleton', ['skeleton'], unique=False)


def _backfill(conn: sa.Connection) -> None:
    prospects = sa.table(
        'prospects', sa.column('id', sa.Integer), sa.column('domain', sa.String),
        sa.column('skeleton', sa.String),
    )
    update = (
        prospects.update()
        .where(prospects.c.id == sa.bindparam('_id'))
        .values(skeleton=sa.bindparam('_skeleton'))
    )
    last = 0
    while True:
        rows = conn.execute(
            sa.select(prospects.c.id, prospects.c.domain)
            .where(prospects.c.id > last)
            .order_by(prospects.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        conn.execute(update, [{'_id': i, '_skeleton': skeleton(d)} for i, d in rows])
        last = rows[-1][0]


def downgrade() -> None:
    with op.batch_alter_table('prospects', schema=None) as batch_op:
        batch_op.drop_index('ix_prospects_skeleton')
        batch_op.drop_column('skeleton')
