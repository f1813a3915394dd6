"""Hand-off assignment: who claimed a ticket and when, and when it was closed.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 05:45:00

The gateway's hand-off desk claims and resolves tickets from Slack; the order store keeps the same
status with who and when, so reports and the console read one place.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``handoff_tickets.assigned_to``, ``assigned_at`` and ``closed_at``."""
    with op.batch_alter_table("handoff_tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assigned_to", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("assigned_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("closed_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    """Drop the three columns."""
    with op.batch_alter_table("handoff_tickets", schema=None) as batch_op:
        batch_op.drop_column("closed_at")
        batch_op.drop_column("assigned_at")
        batch_op.drop_column("assigned_to")
