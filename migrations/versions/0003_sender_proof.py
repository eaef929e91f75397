"""sender proof: how each inbound message's sender was proven, held messages, reply counts

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 22:10:00

A message from a partner contact acts only once its sender is proven. `proof` says how
(dkim, authserv, confirmed); a message that is not is `held` under a random `hold_token`
until `held_until`, while the contact is asked to confirm it. The outbox index counts the
automatic replies sent to one address in the last hour (the loop guard).
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('inbound_emails', schema=None) as batch_op:
        batch_op.add_column(sa.Column('proof', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('hold_token', sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column('held_until', sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_unique_constraint('uq_inbound_emails_hold_token', ['hold_token'])
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_to_created', ['to_addr', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_to_created')
    with op.batch_alter_table('inbound_emails', schema=None) as batch_op:
        batch_op.drop_constraint('uq_inbound_emails_hold_token', type_='unique')
        batch_op.drop_column('held_until')
        batch_op.drop_column('hold_token')
        batch_op.drop_column('proof')
