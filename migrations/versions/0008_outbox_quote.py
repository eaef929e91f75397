"""outbox quote: the quote whose PDF goes with an email

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 10:20:00

The approval email and each further quote asked for by email carry the quote as a PDF,
rendered when the email is sent (a quote never changes, so neither do its bytes).
"""

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('quote_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_outbox_quote_id_quotes', 'quotes', ['quote_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_constraint('fk_outbox_quote_id_quotes', type_='foreignkey')
        batch_op.drop_column('quote_id')
