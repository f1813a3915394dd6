"""Where things are: a shelf location per store stock row, and each physical store's coordinates.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 05:00:00

In-store tablets answer "do you have <product> here" with the aisle and shelf, and suggest the nearest
other shop when this one is out. Existing rows are backfilled with the same rules the demo seed uses,
frozen here on purpose (a later change of the seed must not change what this revision did).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The demo shops' coordinates (store.seed._STORES); other stores keep NULL until someone sets them.
_COORDINATES = {
    "LDN-01": (51.5126, -0.1250),
    "MAN-01": (53.4810, -2.2446),
    "EDI-01": (55.9531, -3.1995),
    "BRS-01": (51.4584, -2.5850),
}


def shelf_location(aisle: int, category: str, product_id: int) -> str:
    """The seed's rule: one aisle per category (sorted by name), four shelves filled by product id."""
    return f"aisle {aisle} ({category}), shelf {product_id % 4 + 1}"


def upgrade() -> None:
    """Add ``store_stock.location`` and ``stores.latitude/longitude``, then backfill them."""
    with op.batch_alter_table("store_stock", schema=None) as batch_op:
        batch_op.add_column(sa.Column("location", sa.String(length=80), server_default="", nullable=False))
    with op.batch_alter_table("stores", schema=None) as batch_op:
        batch_op.add_column(sa.Column("latitude", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("longitude", sa.Float(), nullable=True))

    bind = op.get_bind()
    stores = sa.table("stores", sa.column("id", sa.String), sa.column("latitude"), sa.column("longitude"))
    for store_id, (latitude, longitude) in _COORDINATES.items():
        bind.execute(sa.update(stores).where(stores.c.id == store_id).values(latitude=latitude, longitude=longitude))
    stock = sa.table(
        "store_stock", sa.column("store_id", sa.String), sa.column("product_id", sa.Integer), sa.column("location")
    )
    products = sa.table("products", sa.column("id", sa.Integer), sa.column("category", sa.String))
    rows = bind.execute(
        sa.select(stock.c.store_id, stock.c.product_id, products.c.category).join(
            products, products.c.id == stock.c.product_id
        )
    ).all()
    aisles = {category: index for index, category in enumerate(sorted({r.category for r in rows}), start=1)}
    for row in rows:
        bind.execute(
            sa.update(stock)
            .where(stock.c.store_id == row.store_id, stock.c.product_id == row.product_id)
            .values(location=shelf_location(aisles[row.category], row.category, row.product_id))
        )


def downgrade() -> None:
    """Drop the columns again.

    Plain ``DROP COLUMN`` (SQLite >= 3.35 has it): batch mode would rebuild ``stores``, and with
    foreign keys on, dropping the old table cascades into ``store_stock`` and empties it.
    """
    op.drop_column("stores", "longitude")
    op.drop_column("stores", "latitude")
    op.drop_column("store_stock", "location")
