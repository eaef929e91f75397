"""webhooks: the endpoints' state, and when each webhook delivery was first tried

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 20:00:00

Webhook deliveries are outbox rows of kind `webhook`; each is retried until a day after its
first attempt (`outbox.first_attempt_at`). `webhook_endpoints` keeps each URL of
WEBHOOK_URLS as first seen, and whether it takes events (a 410 answer turns it off until the
operator turns it on again).
"""

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'webhook_endpoints',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('url', sa.String(length=2000), nullable=False),
        sa.Column('enabled', sa.Boolean(), server_default=sa.text('true'), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('disabled_reason', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('url'),
    )
    # Plain ADD COLUMN: no rebuild of the outbox on SQLite.
    op.add_column('outbox', sa.Column('first_attempt_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('first_attempt_at')
    op.drop_table('webhook_endpoints')
