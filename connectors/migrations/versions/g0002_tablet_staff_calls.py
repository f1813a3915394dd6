"""Tablet staff calls: each tablet's recent calls for a person, so one device cannot open call after call.

Revision ID: g0002
Revises: g0001
Create Date: 2026-12-07 06:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "g0002"
down_revision: str | None = "g0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``tablet_staff_calls`` unless a gateway's ``create_all`` (before migrations) already did."""
    if "tablet_staff_calls" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "tablet_staff_calls",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("ticket", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["device_id"], ["tablet_devices.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("tablet_staff_calls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tablet_staff_calls_device_id"), ["device_id"], unique=False)


def downgrade() -> None:
    """Drop ``tablet_staff_calls``."""
    with op.batch_alter_table("tablet_staff_calls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tablet_staff_calls_device_id"))
    op.drop_table("tablet_staff_calls")
