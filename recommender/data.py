"""Interaction logs and product catalogues: the input every recommender model is trained from.

Built by the ``train``/``evaluate`` commands from a dataset file, or by a caller (the order store
adapter, tests) from any iterable of ``(customer, sku, weight, timestamp)`` records.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse

from recommender.errors import DatasetError

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Product:
    """What the recommender knows about one product (all optional except the id).

    Attributes:
        product_id: The shop's SKU / product id.
        title: Display name; embedded by the content model together with ``description``.
        description: Free text.
        category: Category used by filters and per-category popularity.
        price: Price in the shop currency, used by price filters.
        attributes: Anonymous attribute tokens (brand, category path, ...); TF-IDF fallback text.
        consumable: True when customers may sensibly buy it again (shampoo, not a hair dryer).
    """

    product_id: str
    title: str = ""
    description: str = ""
    category: str | None = None
    price: float | None = None
    attributes: tuple[str, ...] = ()
    consumable: bool = False

    def text(self) -> str:
        """The natural-language text of the product (empty when it has none)."""
        return " ".join(part for part in (self.title, self.description) if part).strip()

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable dict (see :meth:`from_json`)."""
        return {
            "product_id": self.product_id,
            "title": self.title,
            "description": self.description,
            "category": self.category,
            "price": self.price,
            "attributes": list(self.attributes),
            "consumable": self.consumable,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Product:
        """Rebuild a product from :meth:`to_json` output (called 100k times when a big
        catalogue loads, hence no more work than the fields need)."""
        price = raw.get("price")
        attributes = raw.get("attributes")
        return cls(
            str(raw["product_id"]),
            raw.get("title") or "",
            raw.get("description") or "",
            raw.get("category"),
            None if price is None else float(price),
            tuple(map(str, attributes)) if attributes else (),
            bool(raw.get("consumable", False)),
        )


@dataclass(frozen=True)
class Catalog:
    """An ordered product list; the position of a product is its item index in every model."""

    products: tuple[Product, ...]
    _index: dict[str, int] = field(init=False, repr=False, compare=False)
    _ids: list[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ids = [p.product_id for p in self.products]
        index = {pid: i for i, pid in enumerate(ids)}
        if len(index) != len(self.products):
            raise DatasetError("duplicate product ids in catalogue")
        object.__setattr__(self, "_index", index)
        object.__setattr__(self, "_ids", ids)

    def __len__(self) -> int:
        return len(self.products)

    def __contains__(self, product_id: object) -> bool:
        return product_id in self._index

    def index(self, product_id: str) -> int:
        """Item index of ``product_id``; raises ``KeyError`` when unknown."""
        return self._index[product_id]

    def get(self, product_id: str) -> Product | None:
        """The product, or None when unknown."""
        i = self._index.get(product_id)
        return None if i is None else self.products[i]

    @property
    def ids(self) -> list[str]:
        """Product ids in item-index order (built once; do not modify)."""
        return self._ids

    def has_text(self) -> bool:
        """True when at least half of the products have a title or description."""
        with_text = sum(1 for p in self.products if p.text())
        return len(self.products) > 0 and with_text * 2 >= len(self.products)

    def prices(self) -> FloatArray:
        """Prices in item order, NaN where unknown."""
        return np.array([np.nan if p.price is None else p.price for p in self.products], dtype=np.float32)

    def categories(self) -> list[str | None]:
        """Categories in item order."""
        return [p.category for p in self.products]

    def with_products(self, extra: Iterable[Product]) -> Catalog:
        """A catalogue with ``extra`` products appended (existing ids are kept as they are)."""
        new = [p for p in extra if p.product_id not in self._index]
        return Catalog(self.products + tuple(new))

    @classmethod
    def from_ids(cls, ids: Iterable[str]) -> Catalog:
        """A bare catalogue that knows only product ids."""
        return cls(tuple(Product(str(i)) for i in ids))


@dataclass(frozen=True)
class Interactions:
    """An interaction log: who did what with which product, how strongly, and when.

    Users and items are mapped to dense indices; item indices are catalogue positions. Events
    are stored column-wise; ``weight`` is the signal strength (purchase 1.0, add-to-cart 0.5,
    view 0.1, ...), ``timestamp`` any monotone number (epoch seconds, or the position in a
    sequence dataset).
    """

    user_ids: tuple[str, ...]
    catalog: Catalog
    users: IntArray
    items: IntArray
    weights: FloatArray
    timestamps: npt.NDArray[np.float64]

    @property
    def n_users(self) -> int:
        """Number of distinct users."""
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        """Number of catalogue items (including items nobody interacted with)."""
        return len(self.catalog)

    def __len__(self) -> int:
        return int(self.users.shape[0])

    @classmethod
    def from_records(
        cls,
        records: Iterable[tuple[str, str, float, float]],
        catalog: Catalog | None = None,
    ) -> Interactions:
        """Build a log from ``(customer, sku, weight, timestamp)`` records.

        Args:
            records: Any iterable of records, in any order.
            catalog: Products to index items by. Unknown SKUs in ``records`` are appended as bare
                products; catalogue products without records stay (they are "new items").

        Returns:
            The interaction log.
        """
        user_index: dict[str, int] = {}
        extra: dict[str, None] = {}
        base = catalog if catalog is not None else Catalog(())
        rows: list[tuple[int, str, float, float]] = []
        for customer, sku, weight, ts in records:
            u = user_index.setdefault(str(customer), len(user_index))
            sku = str(sku)
            if sku not in base:
                extra[sku] = None
            rows.append((u, sku, float(weight), float(ts)))
        full = base.with_products(Product(s) for s in extra) if extra else base
        users = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        items = np.fromiter((full.index(r[1]) for r in rows), dtype=np.int64, count=len(rows))
        weights = np.fromiter((r[2] for r in rows), dtype=np.float32, count=len(rows))
        stamps = np.fromiter((r[3] for r in rows), dtype=np.float64, count=len(rows))
        return cls(tuple(user_index), full, users, items, weights, stamps)

    @classmethod
    def from_sequences(cls, sequences: Mapping[str, Sequence[str]], catalog: Catalog | None = None) -> Interactions:
        """Build a log from time-ordered item lists per user (timestamp = position, weight 1)."""
        return cls.from_records(
            ((u, item, 1.0, float(t)) for u, seq in sequences.items() for t, item in enumerate(seq)),
            catalog,
        )

    def matrix(self) -> sparse.csr_matrix:
        """The user x item matrix of summed weights."""
        m = sparse.csr_matrix((self.weights, (self.users, self.items)), shape=(self.n_users, self.n_items))
        m.sum_duplicates()
        return m

    def _order(self) -> tuple[IntArray, IntArray]:
        """Event order by (user, timestamp, input position) and each user's bounds in it."""
        order = np.lexsort((np.arange(len(self)), self.timestamps, self.users))
        bounds = np.searchsorted(self.users[order], np.arange(self.n_users + 1))
        return order, bounds

    def sequences(self) -> list[IntArray]:
        """Each user's item indices in time order (ties keep input order)."""
        order, bounds = self._order()
        items = self.items[order]
        return [items[bounds[u] : bounds[u + 1]] for u in range(self.n_users)]

    def training_data(self) -> TrainingData:
        """Everything a model ``fit`` needs, as time-ordered sequences."""
        order, bounds = self._order()
        items, weights, stamps = self.items[order], self.weights[order], self.timestamps[order]
        users = range(self.n_users)
        return TrainingData(
            sequences=[items[bounds[u] : bounds[u + 1]] for u in users],
            weights=[weights[bounds[u] : bounds[u + 1]] for u in users],
            timestamps=[stamps[bounds[u] : bounds[u + 1]] for u in users],
            catalog=self.catalog,
        )


@dataclass(frozen=True)
class TrainingData:
    """Time-ordered per-user sequences (item indices, weights, timestamps) plus the catalogue."""

    sequences: list[IntArray]
    weights: list[FloatArray]
    timestamps: list[npt.NDArray[np.float64]]
    catalog: Catalog

    @property
    def n_items(self) -> int:
        """Number of catalogue items."""
        return len(self.catalog)

    @property
    def n_users(self) -> int:
        """Number of users (sequences)."""
        return len(self.sequences)

    @classmethod
    def from_sequences(cls, sequences: Sequence[IntArray], catalog: Catalog) -> TrainingData:
        """Unit weights, position timestamps."""
        seqs = [np.asarray(s, dtype=np.int64) for s in sequences]
        return cls(
            sequences=seqs,
            weights=[np.ones(len(s), dtype=np.float32) for s in seqs],
            timestamps=[np.arange(len(s), dtype=np.float64) for s in seqs],
            catalog=catalog,
        )

    def matrix(self, binary: bool = True) -> sparse.csr_matrix:
        """User x item matrix (binary by default, else summed weights)."""
        lengths = np.array([len(s) for s in self.sequences], dtype=np.int64)
        rows = np.repeat(np.arange(self.n_users), lengths)
        cols = np.concatenate(self.sequences) if self.sequences else np.zeros(0, np.int64)
        vals = (
            np.ones(len(cols), dtype=np.float32)
            if binary
            else (np.concatenate(self.weights) if self.weights else np.zeros(0, np.float32))
        )
        m = sparse.csr_matrix((vals, (rows, cols)), shape=(self.n_users, self.n_items))
        m.sum_duplicates()
        if binary:
            m.data[:] = 1.0
        return m.astype(np.float32)

    def item_counts(self) -> FloatArray:
        """Summed interaction weight per item."""
        if not self.sequences:
            return np.zeros(self.n_items, dtype=np.float32)
        items = np.concatenate(self.sequences)
        weights = np.concatenate(self.weights).astype(np.float64)
        return np.bincount(items, weights=weights, minlength=self.n_items).astype(np.float32)

    def trained_items(self) -> npt.NDArray[np.bool_]:
        """True for items that appear at least once in the training sequences."""
        seen = np.zeros(self.n_items, dtype=bool)
        if self.sequences:
            seen[np.concatenate(self.sequences)] = True
        return seen


def load_sequence_dataset(directory: str | Path) -> tuple[Interactions, dict[str, IntArray]]:
    """Load a dataset in the amazon-beauty layout (``sequences.txt`` + ``item_attributes.json``).

    Args:
        directory: Folder holding ``sequences.txt`` (``user item item ...`` per line, in time
            order) and optionally ``item_attributes.json`` (``{item: [attribute, ...]}``).

    Returns:
        The interaction log (timestamp = position in the user's sequence) and, per user id,
        the raw sequence as catalogue indices.

    Raises:
        DatasetError: When the folder or ``sequences.txt`` is missing or malformed.
    """
    folder = Path(directory)
    seq_path = folder / "sequences.txt"
    if not seq_path.is_file():
        raise DatasetError(f"{seq_path} not found")
    raw: dict[str, list[str]] = {}
    with seq_path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) < 2:
                raise DatasetError(f"{seq_path}:{lineno}: a user without items")
            raw[parts[0]] = parts[1:]
    attributes: dict[str, list[Any]] = {}
    attr_path = folder / "item_attributes.json"
    if attr_path.is_file():
        attributes = json.loads(attr_path.read_text(encoding="utf-8"))
    item_ids = sorted({i for seq in raw.values() for i in seq}, key=_natural_key)
    catalog = Catalog(tuple(Product(i, attributes=tuple(f"a{a}" for a in attributes.get(i, ()))) for i in item_ids))
    # Arrays straight from the sequences (a million events load in seconds, no record tuples).
    index = {pid: k for k, pid in enumerate(item_ids)}
    lengths = np.fromiter((len(seq) for seq in raw.values()), dtype=np.int64, count=len(raw))
    total = int(lengths.sum())
    items = np.fromiter((index[i] for seq in raw.values() for i in seq), dtype=np.int64, count=total)
    users = np.repeat(np.arange(len(raw), dtype=np.int64), lengths)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    stamps = (np.arange(total, dtype=np.int64) - starts).astype(np.float64)
    interactions = Interactions(
        tuple(raw), catalog, users, items, np.ones(total, dtype=np.float32), stamps
    )
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    return interactions, {u: items[offsets[k] : offsets[k + 1]] for k, u in enumerate(interactions.user_ids)}


#: Folder holding the shared datasets (``amazon-beauty/`` ...), when not found above the checkout.
DATASETS_ENV = "RECOMMENDER_DATASETS"


def find_dataset(name: str) -> Path | None:
    """The shared dataset folder ``name``: under ``$RECOMMENDER_DATASETS``, else under the first
    ``shared/datasets`` folder above this checkout (``../shared`` from the main checkout,
    ``../../shared`` from a worktree). None when there is none."""
    import os

    roots = [Path(os.environ[DATASETS_ENV])] if os.environ.get(DATASETS_ENV) else []
    here = Path(__file__).resolve().parent.parent
    roots += [parent / "shared" / "datasets" for parent in here.parents]
    for root in roots:
        if (root / name / "sequences.txt").is_file():
            return root / name
    return None


def _natural_key(value: str) -> tuple[int, str]:
    return (int(value), "") if value.isdigit() else (1 << 62, value)


@dataclass(frozen=True)
class NewOrder:
    """One order placed after the artifacts were built.

    Attributes:
        order_id: The store's order id (orders are applied once each).
        customer: Customer id, as in training (``str(customer_id)`` for the order store).
        skus: Product ids of its lines, in line order.
        placed: When it was placed (epoch seconds; the training timestamps' unit).
        weight: Event weight of its lines (1.0 = a purchase).
    """

    order_id: int
    customer: str
    skus: tuple[str, ...]
    placed: float
    weight: float = 1.0
