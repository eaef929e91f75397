"""review due cleared: a review's due time is kept only while the desk's decision is awaited

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 20:30:00

A registration that lapsed unreviewed kept its due time. Lapsing now clears it, as a
decision, a return and a withdrawal do; this clears it on the reviews of deals already past
waiting, so `reviews.review_due_at < now` holds only the overdue ones (the overdue gauge
counts that range of ix_reviews_due alone).
"""

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        sa.text(
            "UPDATE reviews SET review_due_at = NULL WHERE review_due_at IS NOT NULL AND deal_id IN"
            " (SELECT id FROM deals WHERE stage <> 'opportunity' OR returned_question IS NOT NULL)"
        )
    )


def downgrade() -> None:
    pass  # the due times cleared belonged to no awaited decision
