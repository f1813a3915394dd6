"""The evaluation protocol and the ``evaluate`` / ``train`` commands on a sample of real data and on the shop."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from recommender.__main__ import main
from recommender.data import Catalog
from recommender.evaluate import leave_last_out, rank_metrics


def test_rank_metrics_by_hand() -> None:
    scores = np.array([[0.9, 0.8, 0.7, 0.1, 0.5], [0.0, 0.0, 0.0, 0.0, 0.0]], dtype=np.float32)
    histories = [np.array([0]), np.array([1])]
    hit, ndcg = rank_metrics(scores, histories, np.array([2, 3]), k=2)
    # user 0: item 0 is history, item 1 is ahead -> rank 1 (0-based) -> hit, 1/log2(3)
    assert hit.tolist() == [1.0, 0.0]  # user 1: constant scores, ties count against the target
    assert np.isclose(ndcg[0], 1 / np.log2(3))
    hit, _ = rank_metrics(scores, histories, np.array([2, 3]), k=1)
    assert hit.tolist() == [0.0, 0.0]


def test_leave_last_out_split() -> None:
    split = leave_last_out([np.array([1, 2, 3, 4]), np.array([5, 6])], Catalog.from_ids("0123456"))
    assert len(split.train) == 1
    assert split.train[0].tolist() == [1, 2]
    assert split.val_targets.tolist() == [3] and split.test_targets.tolist() == [4]
    assert split.test_histories[0].tolist() == [1, 2, 3]


def test_evaluate_command_on_a_sample_beats_popularity(beauty_sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval"
    args = ["evaluate", "--dataset", str(beauty_sample), "--out", str(out), "--sasrec-epochs", "2"]
    assert main([*args, "--tune-users", "800", "--threads", "1", "--quiet"]) == 0
    doc = json.loads((out / "results.json").read_text())
    rows = {r["model"]: r for r in doc["results"]}
    expected = {"popularity", "item_knn", "seq_rules", "user_knn", "content", "sasrec", "hybrid"}
    assert expected <= set(rows)
    assert "implicit_als" in rows and rows["implicit_als"]["reference"]
    ours = [r for r in doc["results"] if not r["reference"]]
    best = max(ours, key=lambda r: r["ndcg10"])
    assert best["ndcg10"] > 1.5 * rows["popularity"]["ndcg10"]
    assert best["hr10"] > rows["popularity"]["hr10"]
    for r in doc["results"]:
        assert 0.0 <= r["ndcg10"] <= r["hr10"] <= 1.0
        assert r["p99_ms"] >= r["p50_ms"] > 0
    hybrid = rows["hybrid"]["params"]
    assert hybrid["serving_top10_agreement"] >= 0.95  # one-customer path ranks like the batch path
    assert hybrid["all_items_p50_ms"] > 0 and set(hybrid["components"]) >= {"popularity"}
    assert (out / "hr_ndcg.png").stat().st_size > 1000


def test_train_command_writes_loadable_artifacts(beauty_sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "artifacts"
    status = main(
        ["train", "--dataset", str(beauty_sample), "--out", str(out), "--models", "popularity,item_knn,seq_rules"]
        + ["--quiet"]
    )
    assert status == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["models"] == ["item_knn", "popularity", "seq_rules"]
    assert "popularity" in manifest["served"]
    from recommender.service import Recommender

    rec = Recommender.load(out)
    picks = rec.recommend("1", 10)
    assert len(picks) == 10 and all(r.reason == "personal" for r in picks)
    assert not {r.product_id for r in picks} & {"1", "2", "3", "4", "5"}  # user 1 bought these


@pytest.fixture(scope="module")
def shop_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A seeded demo shop (the order store) in a SQLite file."""
    from sqlalchemy.orm import sessionmaker

    from store.db import make_engine
    from store.migrate import upgrade
    from store.seed import seed

    url = f"sqlite:///{tmp_path_factory.mktemp('shop') / 'shop.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with sessionmaker(engine)() as session:
        seed(session, seed=42, anchor=datetime(2025, 3, 3, tzinfo=UTC))
        session.commit()
    engine.dispose()
    return url


def test_train_from_store_reads_the_shop_and_caches_embeddings(
    shop_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "artifacts"
    args = ["train", "--from-store", "--database-url", shop_url, "--out", str(out)]
    args += ["--models", "popularity,item_knn,seq_rules,content"]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert "213 products" in first and "(minilm, 213 products, 0 from the cache)" in first
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["source"]["products"] == 213 and manifest["source"]["order_lines"] > 300
    assert main(args) == 0  # nothing changed in the catalogue: no text is embedded again
    assert "(minilm, 213 products, 213 from the cache)" in capsys.readouterr().out

    from recommender.service import Recommender

    rec = Recommender.load(out)
    customer = next(iter(rec.purchases))
    owned = {rec.catalog.ids[i] for i in rec.purchases[customer]}
    picks = rec.recommend(customer, 5, rebuy=False)
    assert len(picks) == 5 and not {p.product_id for p in picks} & owned
    assert rec.catalog.get("SKN-0001") is not None and rec.catalog.get("SKN-0001").price  # type: ignore[union-attr]


def test_train_without_a_source_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main(["train", "--out", str(tmp_path)])


def test_sparse_rank_metrics_equal_the_dense_ones() -> None:
    """Sparse models are ranked without densifying; ties (absent entries all score 0, equal
    entries) and history exclusion must count exactly as in the dense version."""
    from scipy import sparse

    from recommender.tuning import sparse_rank_metrics

    rng = np.random.default_rng(5)
    for density in (0.0, 0.05, 0.3):
        dense = np.where(rng.random((40, 30)) < density, rng.integers(1, 4, (40, 30)), 0).astype(np.float32)
        histories = [rng.choice(30, size=int(rng.integers(0, 6)), replace=False) for _ in range(40)]
        targets = np.array([rng.choice(np.setdiff1d(np.arange(30), h)) for h in histories])
        for k in (1, 3, 10):
            expected = rank_metrics(dense, histories, targets, k=k)
            got = sparse_rank_metrics(sparse.csr_matrix(dense), histories, targets, k=k)
            assert np.array_equal(expected[0], got[0]) and np.allclose(expected[1], got[1])


def test_hybrid_tuning_prefers_the_informative_model(interactions) -> None:  # type: ignore[no-untyped-def]
    from recommender.models.knn import SequentialRules
    from recommender.models.popularity import Popularity
    from recommender.train import _hold_out_last
    from recommender.tuning import tune_hybrid

    rest, hist, targets = _hold_out_last(interactions.training_data())
    models = {"popularity": Popularity().fit(rest), "seq_rules": SequentialRules(3, 0.5).fit(rest)}
    weights = tune_hybrid(models, hist, targets, rest.trained_items(), memory=1 << 20)
    assert weights["seq_rules"] == 1.0  # customers buy kinds in order: the rules anchor the hybrid
