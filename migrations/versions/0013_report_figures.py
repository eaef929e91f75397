"""report figures: what each deal ever reached, kept on its review; decision hours to the
tenth; the audit trail indexed by time

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 20:00:00

`reviews.reached` is a set of flags (core.figures.MILESTONE_BITS), filled in here from the
audit trail. The report and the digest read it instead of the whole audit trail.
"""

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

# As core.figures.MILESTONE_BITS, frozen here.
_BITS = {'approve': 1, 'reject': 2, 'return': 4, 'withdraw': 8, 'expire': 16,
         'start_order': 32, 'submit_order': 64}


def upgrade() -> None:
    op.add_column('reviews', sa.Column('reached', sa.Integer(), server_default='0', nullable=False))
    op.create_index('ix_deal_events_at', 'deal_events', ['at'], unique=False)
    for action, bit in _BITS.items():
        op.execute(
            sa.text(
                f"UPDATE reviews SET reached = reached | {bit} WHERE deal_id IN "
                "(SELECT deal_id FROM deal_events WHERE action = :action)"
            ).bindparams(action=action)
        )
    op.execute("UPDATE reviews SET decision_hours = round(CAST(decision_hours AS numeric), 1) "
               "WHERE decision_hours IS NOT NULL")


def downgrade() -> None:
    op.drop_index('ix_deal_events_at', table_name='deal_events')
    with op.batch_alter_table('reviews') as batch:
        batch.drop_column('reached')
