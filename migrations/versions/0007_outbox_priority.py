"""outbox priority: what a person waits for goes ahead of a batch's mail

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 04:20:00

An approval email caused by a reviewer's click must not wait behind the confirmations of
2,500 emailed registrations queued a minute before. Rows get a `priority` (0: a person's
action, sent first; 1: mail the intake queues for a batch), and the deliverer claims by
priority, then by when each is due.
"""

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        'outbox',
        sa.Column('priority', sa.SmallInteger(), nullable=False, server_default=sa.text('0')),
    )


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('priority')
