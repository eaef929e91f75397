"""decision time: the desk's own business hours on each review, partner waits left out

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 19:50:00

Existing reviews are filled in by replaying each deal's audit trail (registered, returned,
answered, first approved or rejected, withdrawn) on the business calendar of the settings
the migration runs with.
"""

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

def upgrade() -> None:
    op.add_column('reviews', sa.Column('waited_since', sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        'reviews', sa.Column('desk_hours', sa.Float(), server_default='0', nullable=False)
    )
    op.add_column('reviews', sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('reviews', sa.Column('decision_hours', sa.Float(), nullable=True))
    op.create_index('ix_reviews_decided', 'reviews', ['decided_at'], unique=False)
    _backfill(op.get_bind())


def downgrade() -> None:
    op.drop_index('ix_reviews_decided', table_name='reviews')
    with op.batch_alter_table('reviews') as batch:
        batch.drop_column('decision_hours')
        batch.drop_column('decided_at')
        batch.drop_column('desk_hours')
        batch.drop_column('waited_since')


def _backfill(conn: Any) -> None:
    from core.business_time import business_hours_between
    from core.config import Settings
    from core.db import UTCDateTime

    cal = Settings().business_calendar
    events = conn.execute(
        sa.text(
            "SELECT deal_id, action, at FROM deal_events WHERE action IN "
            "('register', 'return', 'answer', 'approve', 'reject', 'withdraw') "
            "ORDER BY deal_id, at, id"
        ).columns(sa.column('deal_id', sa.Integer), sa.column('action', sa.String),
                  sa.column('at', UTCDateTime()))
    )  # fmt: skip
    update = sa.text(
        "UPDATE reviews SET waited_since = :waited_since, desk_hours = :desk_hours, "
        "decided_at = :decided_at, decision_hours = :decision_hours WHERE deal_id = :deal_id"
    ).bindparams(sa.bindparam('waited_since', type_=UTCDateTime()),
                 sa.bindparam('decided_at', type_=UTCDateTime()))  # fmt: skip
    batch: list[dict[str, Any]] = []
    for deal_id, trail in _per_deal(events):
        since: datetime | None = None
        hours, decided_at, decision = 0.0, None, None
        for action, at in trail:
            if action in ("register", "answer"):
                since = at
                continue
            if since is not None:
                hours += business_hours_between(since, at, cal)
                since = None
            if action in ("approve", "reject") and decided_at is None:
                decided_at, decision = at, hours
        batch.append(
            {"deal_id": deal_id, "waited_since": since, "desk_hours": hours,
             "decided_at": decided_at, "decision_hours": decision}
        )  # fmt: skip
        if len(batch) >= 5000:
            conn.execute(update, batch)
            batch = []
    if batch:
        conn.execute(update, batch)


def _per_deal(rows: Any) -> Iterator[tuple[int, list[tuple[str, datetime]]]]:
    current: int | None = None
    trail: list[tuple[str, datetime]] = []
    for deal_id, action, at in rows:
        if deal_id != current:
            if current is not None:
                yield current, trail
            current, trail = deal_id, []
        trail.append((action, at))
    if current is not None:
        yield current, trail
