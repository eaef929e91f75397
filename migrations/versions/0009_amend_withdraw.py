"""amend and withdraw: a deal's pending amendment, its withdrawal, a quote's status

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 17:00:00

A deal may carry one amendment request awaiting the deal desk, and may end `withdrawn` with
a reason, a note and the stage it had reached. A quote says whether it still stands:
`valid`, `superseded` (an approved amendment replaced it), `ordered` or `void` (its deal
was withdrawn); the quotes that became orders are marked `ordered` here.
"""

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, no table rebuild: on SQLite a rebuild of `deals` breaks the search
    # index's triggers on it (0006), and every column here is nullable or has a default.
    op.add_column('deals', sa.Column('amendment', sa.JSON(), nullable=True))
    op.add_column(
        'deals', sa.Column('amendment_requested_at', sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column('deals', sa.Column('withdraw_reason', sa.String(length=40), nullable=True))
    op.add_column('deals', sa.Column('withdraw_note', sa.Text(), nullable=True))
    op.add_column('deals', sa.Column('withdrawn_from', sa.String(length=20), nullable=True))
    op.add_column(
        'quotes',
        sa.Column('status', sa.String(length=20), server_default='valid', nullable=False),
    )
    op.execute(
        "UPDATE quotes SET status = 'ordered' "
        "WHERE id IN (SELECT order_quote_id FROM deals WHERE order_quote_id IS NOT NULL)"
    )


def downgrade() -> None:
    op.drop_column('quotes', 'status')
    for column in (
        'withdrawn_from', 'withdraw_note', 'withdraw_reason', 'amendment_requested_at',
        'amendment',
    ):
        op.drop_column('deals', column)
