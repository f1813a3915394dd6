"""Staff order lookups: who on the staff opened which order without customer proof.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 05:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``staff_order_lookups``."""
    op.create_table(
        "staff_order_lookups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=128), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.String(length=64), nullable=False),
        sa.Column("staff_role", sa.String(length=32), nullable=False),
        sa.Column("looked_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_staff_order_lookups_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_order_lookups")),
    )
    with op.batch_alter_table("staff_order_lookups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_order_lookups_conversation_id"), ["conversation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_staff_order_lookups_order_id"), ["order_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_staff_order_lookups_staff_id"), ["staff_id"], unique=False)


def downgrade() -> None:
    """Drop ``staff_order_lookups`` (its indexes go with it)."""
    op.drop_table("staff_order_lookups")
