"""deal desk: each registration's review (route, due time, reminders, claim, first of two
approvals, what the rules said) and the catalogue's rules

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 17:50:00

Every deal gets its review row here (empty: no route, no due time), so the code may take
one for granted.
"""

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'reviews',
        sa.Column('deal_id', sa.Integer(), nullable=False),
        sa.Column('route_rule', sa.String(length=100), nullable=True),
        sa.Column('route_channel', sa.String(length=100), nullable=True),
        sa.Column('route_reviewers', sa.JSON(), nullable=True),
        sa.Column('review_due_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('sla_notified', sa.Integer(), server_default='0', nullable=False),
        sa.Column('claimed_by', sa.String(length=320), nullable=True),
        sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('first_approved_by', sa.String(length=320), nullable=True),
        sa.Column('first_approved_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('rule_notes', sa.JSON(), nullable=True),
        sa.Column('reregistration_of', sa.String(length=20), nullable=True),
        sa.Column('second_approval', sa.Boolean(), server_default='0', nullable=False),
        sa.ForeignKeyConstraint(['deal_id'], ['deals.id'], name=op.f('fk_reviews_deal_id_deals')),
        sa.PrimaryKeyConstraint('deal_id', name=op.f('pk_reviews')),
    )
    op.create_index('ix_reviews_due', 'reviews', ['review_due_at'], unique=False)
    op.create_table(
        'rules',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('route', sa.String(length=100), nullable=True),
        sa.Column('reviewers', sa.JSON(), nullable=True),
        sa.Column('approve', sa.Boolean(), nullable=False),
        sa.Column('shadow', sa.Boolean(), nullable=False),
        sa.Column('second_approval', sa.Boolean(), nullable=False),
        sa.Column('conditions', sa.JSON(), nullable=False),
        sa.Column('version', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_rules')),
        sa.UniqueConstraint('name', name=op.f('uq_rules_name')),
    )
    op.execute("INSERT INTO reviews (deal_id, sla_notified, second_approval) SELECT id, 0, "
               "false FROM deals")


def downgrade() -> None:
    op.drop_table('rules')
    op.drop_index('ix_reviews_due', table_name='reviews')
    op.drop_table('reviews')
