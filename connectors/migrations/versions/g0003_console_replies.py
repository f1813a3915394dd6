"""Console replies: what staff wrote to a customer from the console on a ticket they claimed there.

Revision ID: g0003
Revises: g0002
Create Date: 2026-12-08 07:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "g0003"
down_revision: str | None = "g0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``console_replies`` unless a gateway's ``create_all`` (before migrations) already did."""
    if "console_replies" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "console_replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket", sa.String(length=16), nullable=False),
        sa.Column("sender_id", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("delivered", sa.Boolean(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["console_users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("console_replies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_console_replies_sender_id"), ["sender_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_console_replies_ticket"), ["ticket"], unique=False)


def downgrade() -> None:
    """Drop ``console_replies``."""
    with op.batch_alter_table("console_replies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_console_replies_ticket"))
        batch_op.drop_index(batch_op.f("ix_console_replies_sender_id"))
    op.drop_table("console_replies")
