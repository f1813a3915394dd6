"""Customer photos and ratings, and the shop of a tablet's staff call.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 02:00:00

A customer may attach a photo to a return or a complaint (``customer_photos``: the gateway's
re-encoded copy, linked to the hand-off ticket or the return) and rate a conversation or a resolved
hand-off once (``conversation_ratings``). A hand-off ticket from an in-store tablet records its shop
(``handoff_tickets.store_id``) so the support console's queue shows where the shopper is waiting.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``handoff_tickets.store_id`` and create ``customer_photos`` and ``conversation_ratings``."""
    with op.batch_alter_table("handoff_tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("store_id", sa.String(length=16), nullable=True))
    op.create_table(
        "customer_photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=128), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("handoff_ticket_id", sa.Integer(), nullable=True),
        sa.Column("return_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "content_type IN ('image/jpeg', 'image/png', 'image/webp')", name=op.f("ck_customer_photos_content_type")
        ),
        sa.ForeignKeyConstraint(
            ["handoff_ticket_id"],
            ["handoff_tickets.id"],
            name=op.f("fk_customer_photos_handoff_ticket_id_handoff_tickets"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["return_id"], ["returns.id"], name=op.f("fk_customer_photos_return_id_returns"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_photos")),
    )
    with op.batch_alter_table("customer_photos", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customer_photos_conversation_id"), ["conversation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_customer_photos_handoff_ticket_id"), ["handoff_ticket_id"], unique=False)
    op.create_table(
        "conversation_ratings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=128), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=24), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("score BETWEEN 1 AND 5", name=op.f("ck_conversation_ratings_score")),
        sa.CheckConstraint("outcome IN ('assistant', 'handoff')", name=op.f("ck_conversation_ratings_outcome")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_ratings")),
        sa.UniqueConstraint(
            "conversation_id", "subject", name=op.f("uq_conversation_ratings_conversation_subject")
        ),
    )
    with op.batch_alter_table("conversation_ratings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_conversation_ratings_channel"), ["channel"], unique=False)
        batch_op.create_index(batch_op.f("ix_conversation_ratings_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    """Drop the two tables and the column."""
    with op.batch_alter_table("conversation_ratings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conversation_ratings_created_at"))
        batch_op.drop_index(batch_op.f("ix_conversation_ratings_channel"))
    op.drop_table("conversation_ratings")
    with op.batch_alter_table("customer_photos", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_photos_handoff_ticket_id"))
        batch_op.drop_index(batch_op.f("ix_customer_photos_conversation_id"))
    op.drop_table("customer_photos")
    with op.batch_alter_table("handoff_tickets", schema=None) as batch_op:
        batch_op.drop_column("store_id")
