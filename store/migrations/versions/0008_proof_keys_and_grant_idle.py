"""Failed proofs counted per proof value too; grants end when the conversation leaves them idle.

``verification_attempts`` gains ``proof_key``: a keyed hash of the e-mail or postcode that was checked
(``store.proofs.ProofHasher``), indexed, so one e-mail tried against every order number pauses however many
conversations and sources the tries come from. Attempts made before this revision have none (their values
were never stored). ``access_grants`` gains ``last_used_at``; existing grants count as last used when they
were granted, so grants idle for longer than ``SHOP_GRANT_IDLE_MINUTES`` end at once.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``proof_key`` (indexed) and ``last_used_at`` (filled from ``granted_at``)."""
    with op.batch_alter_table("verification_attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("proof_key", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_verification_attempts_proof_key"), ["proof_key"], unique=False)
    with op.batch_alter_table("access_grants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_used_at", sa.DateTime(), nullable=True))
    op.execute(sa.text("UPDATE access_grants SET last_used_at = granted_at"))


def downgrade() -> None:
    """Drop both columns (the counts per proof and the idle times are lost)."""
    with op.batch_alter_table("access_grants", schema=None) as batch_op:
        batch_op.drop_column("last_used_at")
    with op.batch_alter_table("verification_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_verification_attempts_proof_key"))
        batch_op.drop_column("proof_key")
