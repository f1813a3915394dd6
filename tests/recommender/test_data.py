"""Interaction logs and datasets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recommender.data import Catalog, Interactions, load_sequence_dataset
from recommender.errors import DatasetError


def test_from_records_orders_by_time_and_appends_unknown_skus() -> None:
    catalog = Catalog.from_ids(["a", "b", "c"])
    log = Interactions.from_records([("u1", "b", 1.0, 20.0), ("u1", "a", 1.0, 10.0), ("u2", "zz", 0.5, 5.0)], catalog)
    assert log.n_users == 2
    assert log.catalog.ids == ["a", "b", "c", "zz"]
    seqs = log.sequences()
    assert [log.catalog.ids[i] for i in seqs[0]] == ["a", "b"]
    assert [log.catalog.ids[i] for i in seqs[1]] == ["zz"]
    assert log.matrix().shape == (2, 4)
    assert np.isclose(log.matrix()[1, 3], 0.5)


def test_catalog_products_without_events_are_kept(interactions: Interactions) -> None:
    data = interactions.training_data()
    trained = data.trained_items()
    assert not trained[interactions.catalog.index("skin-new-serum")]
    assert trained.sum() > 40


def test_load_sequence_dataset(tmp_path: Path) -> None:
    (tmp_path / "sequences.txt").write_text("1 10 11 12\n2 11 12 13 10\n", encoding="utf-8")
    (tmp_path / "item_attributes.json").write_text('{"10": [1, 2]}', encoding="utf-8")
    log, by_user = load_sequence_dataset(tmp_path)
    assert log.n_users == 2 and log.n_items == 4 and len(log) == 7
    assert [log.catalog.ids[i] for i in by_user["2"]] == ["11", "12", "13", "10"]
    assert log.catalog.get("10") is not None
    assert log.catalog.get("10").attributes == ("a1", "a2")  # type: ignore[union-attr]


def test_missing_dataset_raises(tmp_path: Path) -> None:
    with pytest.raises(DatasetError):
        load_sequence_dataset(tmp_path)
