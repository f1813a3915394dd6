"""Proof attempts counted per order number and per source; grants say what the proof unlocked.

``verification_attempts`` gains ``source`` (who tried, as the gateway vouched), ``outcome`` (pending,
matched, failed, paused) and ``proof_kind``, with indexes for counting failures per order number and per
source. ``access_grants`` gains ``scope``: ``order`` (a postcode opens that order only), ``customer`` (an
e-mail opens the customer: their other orders, linking, news) or ``staff``. Grants made before this
revision recorded no proof, so they become ``order`` grants (the narrowest).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the new columns, fill ``outcome`` from ``success``, and index the counts."""
    with op.batch_alter_table("verification_attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source", sa.String(length=160), nullable=True))
        batch_op.add_column(sa.Column("outcome", sa.String(length=16), server_default="failed", nullable=False))
        batch_op.add_column(sa.Column("proof_kind", sa.String(length=16), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_verification_attempts_outcome"), "outcome IN ('pending', 'matched', 'failed', 'paused')"
        )
        batch_op.create_index(batch_op.f("ix_verification_attempts_order_number"), ["order_number"], unique=False)
        batch_op.create_index(batch_op.f("ix_verification_attempts_source"), ["source"], unique=False)
    op.execute(sa.text("UPDATE verification_attempts SET outcome = 'matched' WHERE success"))
    with op.batch_alter_table("access_grants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scope", sa.String(length=16), server_default="order", nullable=False))
        batch_op.create_check_constraint(op.f("ck_access_grants_scope"), "scope IN ('order', 'customer', 'staff')")


def downgrade() -> None:
    """Drop the columns again (the counts per source and the scopes are lost)."""
    with op.batch_alter_table("access_grants", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_access_grants_scope"), type_="check")
        batch_op.drop_column("scope")
    with op.batch_alter_table("verification_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_verification_attempts_source"))
        batch_op.drop_index(batch_op.f("ix_verification_attempts_order_number"))
        batch_op.drop_constraint(op.f("ck_verification_attempts_outcome"), type_="check")
        batch_op.drop_column("proof_kind")
        batch_op.drop_column("outcome")
        batch_op.drop_column("source")
