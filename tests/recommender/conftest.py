"""Fixtures for the recommender tests: a tiny fixed-seed shop catalogue and its purchase log."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from recommender.data import Catalog, Interactions, Product

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

CATEGORIES = {
    "hair": ["shampoo", "conditioner", "hair mask", "hair oil", "dry shampoo", "hair spray"],
    "skin": ["face cream", "serum", "cleanser", "toner", "sunscreen", "eye cream"],
    "nails": ["nail polish", "top coat", "nail file", "cuticle oil", "polish remover", "base coat"],
}
BRANDS = ["Aurora", "Borealis", "Cirrus"]
NEW_PRODUCT = "skin-new-serum"


def make_catalog() -> Catalog:
    """54 products (3 categories x 6 kinds x 3 brands) plus one never-bought new serum."""
    products = []
    for cat, kinds in CATEGORIES.items():
        for k, kind in enumerate(kinds):
            for b, brand in enumerate(BRANDS):
                products.append(
                    Product(
                        product_id=f"{cat}-{k}-{b}",
                        title=f"{brand} {kind}",
                        description=f"A {kind} for your {cat} care routine.",
                        category=cat,
                        price=float(5 + 4 * k + 3 * b),
                        attributes=(f"brand_{brand}", f"kind_{kind.replace(' ', '_')}"),
                        consumable=kind in {"shampoo", "conditioner"},
                    )
                )
    products.append(
        Product(
            NEW_PRODUCT,
            title="Aurora vitamin C serum",
            description="A brightening serum for your skin care routine.",
            category="skin",
            price=24.0,
            attributes=("brand_Aurora", "kind_serum"),
        )
    )
    return Catalog(tuple(products))


def make_records(catalog: Catalog, seed: int = 7) -> list[tuple[str, str, float, float]]:
    """120 customers, each loyal to one category, buying its products in kind order (so the
    next kind is predictable); 'shampoo' is rebought; a few views (weight 0.2)."""
    rng = np.random.default_rng(seed)
    records: list[tuple[str, str, float, float]] = []
    cats = list(CATEGORIES)
    for c in range(120):
        cat = cats[c % 3]
        brand = int(rng.integers(0, 3))
        start = int(rng.integers(0, 3))
        length = int(rng.integers(3, 6))
        t = float(c)
        for step in range(length):
            kind = (start + step) % 6
            b = brand if rng.random() < 0.8 else int(rng.integers(0, 3))
            records.append((f"cust-{c}", f"{cat}-{kind}-{b}", 1.0, t))
            t += 10.0
        if cat == "hair" and rng.random() < 0.5:
            records.append((f"cust-{c}", f"hair-0-{brand}", 1.0, t))  # shampoo rebuy
        if rng.random() < 0.3:
            records.append((f"cust-{c}", f"{cat}-5-{brand}", 0.2, t + 1))  # a view
    return records


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return make_catalog()


@pytest.fixture(scope="session")
def interactions(catalog: Catalog) -> Interactions:
    return Interactions.from_records(make_records(catalog), catalog)


@pytest.fixture(scope="session", autouse=True)
def _few_threads() -> Iterator[None]:
    """The machine is shared: one torch / BLAS thread in tests."""
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass
    yield


@pytest.fixture(scope="session")
def beauty_dir() -> Path:
    from recommender.data import find_dataset

    path = find_dataset("amazon-beauty")
    if path is None:
        pytest.skip("amazon-beauty not found above the checkout (set RECOMMENDER_DATASETS to its parent folder)")
    return path


@pytest.fixture(scope="session")
def beauty_sample(beauty_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every 12th user of amazon-beauty (about 1,860 users and the items they bought) in the
    same layout: real data, small enough for CI. The full file is the benchmark's."""
    out = tmp_path_factory.mktemp("beauty-sample")
    lines = (beauty_dir / "sequences.txt").read_text(encoding="utf-8").splitlines()[::12]
    (out / "sequences.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    items = {i for line in lines for i in line.split()[1:]}
    attributes = json.loads((beauty_dir / "item_attributes.json").read_text(encoding="utf-8"))
    kept = {i: a for i, a in attributes.items() if i in items}
    (out / "item_attributes.json").write_text(json.dumps(kept), encoding="utf-8")
    return out
