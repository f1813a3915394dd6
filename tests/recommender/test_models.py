"""Each model fits on the tiny shop and ranks sensibly."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.data import Interactions, TrainingData
from recommender.models.base import history_matrix
from recommender.models.content import ContentModel
from recommender.models.knn import ItemKNN, SequentialRules, UserKNN, co_purchase
from recommender.models.popularity import Popularity


@pytest.fixture(scope="module")
def data(interactions: Interactions) -> TrainingData:
    return interactions.training_data()


def idx(interactions: Interactions, pid: str) -> int:
    return interactions.catalog.index(pid)


def test_history_matrix_decay() -> None:
    m = history_matrix([np.array([0, 1, 2]), np.array([], dtype=np.int64)], 4, decay=0.5)
    assert np.allclose(m.toarray(), [[0.25, 0.5, 1.0, 0.0], [0, 0, 0, 0]])


def test_popularity_ranks_most_bought_first(data: TrainingData) -> None:
    pop = Popularity().fit(data)
    ranking = pop.ranking()
    assert data.item_counts()[ranking[0]] == data.item_counts().max()
    scores = pop.score([np.array([0]), np.array([], dtype=np.int64)])
    assert scores.shape == (2, data.n_items)
    assert np.array_equal(scores[0], scores[1])


@pytest.mark.parametrize(
    "model",
    [ItemKNN(neighbours=20), SequentialRules(window=2), UserKNN(neighbours=20)],
    ids=["item_knn", "seq_rules", "user_knn"],
)
def test_collaborative_models_stay_in_category(
    model: ItemKNN | SequentialRules | UserKNN, data: TrainingData, interactions: Interactions
) -> None:
    model.fit(data)
    history = np.array([idx(interactions, "nails-0-1"), idx(interactions, "nails-1-1")])
    scores = model.score([history])[0]
    scores[history] = -np.inf
    top = np.argsort(-scores, kind="stable")[:3]
    assert (scores[top] > 0).all()
    categories = {interactions.catalog.products[i].category for i in top}
    assert categories == {"nails"}


def test_sequential_rules_predict_the_next_kind(data: TrainingData, interactions: Interactions) -> None:
    rules = SequentialRules(window=1, decay=0.5).fit(data)
    scores = rules.score([np.array([idx(interactions, "skin-2-0")])])[0]
    best = interactions.catalog.products[int(np.argmax(scores))].product_id
    assert best.startswith("skin-3-")  # customers buy kinds in order


def test_content_tfidf_and_minilm_find_same_kind(interactions: Interactions) -> None:
    data = interactions.training_data()
    serum = idx(interactions, "skin-1-0")
    for encoder in ("tfidf", "minilm"):
        model = ContentModel(encoder=encoder).fit(data)
        assert model.used_encoder == encoder
        sims = model.similar_to(serum)
        sims[serum] = -np.inf
        top = [interactions.catalog.products[i].product_id for i in np.argsort(-sims)[:3]]
        assert "skin-new-serum" in top or any(p.startswith("skin-1-") for p in top), top


def test_co_purchase_counts_neighbouring_purchases(data: TrainingData) -> None:
    m = co_purchase(data, window=1)
    assert (m != m.T).nnz == 0
    assert m.sum() > 0


def test_sasrec_fits_ranks_and_is_deterministic(data: TrainingData) -> None:
    from recommender.models.sasrec import SASRec, SASRecConfig

    cfg = SASRecConfig(epochs=3, dim=16, layers=1, heads=1, ff_dim=32, batch_size=32, negatives=0)
    a = SASRec(cfg).fit(data)
    b = SASRec(cfg).fit(data)
    hist = [data.sequences[0], np.array([], dtype=np.int64)]
    sa, sb = a.score(hist), b.score(hist)
    assert sa.shape == (2, data.n_items)
    assert np.allclose(sa, sb)
    assert np.isfinite(sa).all()
    assert len(a.history) == 3 and a.history[-1]["loss"] < a.history[0]["loss"]


def test_one_customer_path_scores_like_the_batch_path(data: TrainingData) -> None:
    """``score_one`` (serving: sparse row look-ups, cached states) equals ``score`` (evaluation)."""
    from recommender.models.hybrid import HybridModel
    from recommender.models.sasrec import SASRec, SASRecConfig

    sasrec = SASRec(SASRecConfig(epochs=1, dim=16, layers=1, heads=1, ff_dim=32, batch_size=32)).fit(data)
    models = {
        "popularity": Popularity().fit(data),
        "item_knn": ItemKNN(20, decay=0.7).fit(data),
        "seq_rules": SequentialRules(3, 0.5).fit(data),
        "user_knn": UserKNN(10).fit(data),
        "content": ContentModel("tfidf", 0.5).fit(data),
        "sasrec": sasrec,
    }
    weights = {"seq_rules": 1.0, "item_knn": 0.5, "user_knn": 0.2, "content": 0.1, "sasrec": 0.3, "popularity": 0.1}
    hybrid = HybridModel(models, weights, data.trained_items())
    histories = [*data.sequences[:25], np.zeros(0, dtype=np.int64)]
    for name, model in {**models, "hybrid": hybrid}.items():
        one = np.stack([model.score_one(h) for h in histories])
        assert np.allclose(one, model.score(histories), atol=1e-5), name
    assert sasrec.cache_states(histories) == 25  # the empty history needs no state
    assert np.allclose(np.stack([sasrec.score_one(h) for h in histories]), sasrec.score(histories), atol=1e-5)


@pytest.mark.parametrize("encoder", ["tfidf", "minilm"])
def test_hybrid_ranking_is_the_top_of_scoring_every_item(data: TrainingData, encoder: str) -> None:
    """Serving ranks from the items the sparse components score plus the popularity order; it must
    return exactly the best items of the full score vector, under any weights and filters, with
    the never-bought new product scored by content and ties going to the lower item."""
    from recommender.models.base import top_indices
    from recommender.models.hybrid import COLD_CONTENT, HybridModel

    models = {
        "popularity": Popularity().fit(data),
        "item_knn": ItemKNN(20, decay=0.7).fit(data),
        "seq_rules": SequentialRules(3, 0.5).fit(data),
        "user_knn": UserKNN(10).fit(data),
        "content": ContentModel(encoder, 0.5).fit(data),
    }
    assert not data.trained_items().all()  # the new serum: the content override is exercised
    rng = np.random.default_rng(3)
    histories = [*data.sequences[:40], np.array([data.n_items - 1])]
    for trial in range(6):
        weights = {n: float(rng.choice([0.0, 0.1, 0.5, 1.0])) for n in models}
        weights["seq_rules"] = 1.0
        weights[COLD_CONTENT] = float(rng.choice([0.05, 1.0]))
        hybrid = HybridModel(models, weights, data.trained_items())
        for h in histories:
            allowed = rng.random(data.n_items) < (1.0 if trial % 2 else 0.4)
            allowed[h] = False
            full = hybrid.score_one(h)
            candidates = np.flatnonzero(allowed)
            for k in (1, 5, 12):
                expected = candidates[top_indices(full[candidates], min(k, len(candidates)))]
                items, scores = hybrid.ranked(h, k, allowed)
                assert items.tolist() == expected.tolist(), (weights, h, k)
                assert np.allclose(scores, full[items])
        assert hybrid.top_k(histories[0], 5).tolist() == hybrid.ranked(histories[0], 5, ~np.isin(
            np.arange(data.n_items), histories[0]))[0].tolist()


def test_sasrec_is_not_trained_when_the_budget_cannot_pay_for_it(data: TrainingData) -> None:
    from recommender.train import TrainOptions, _sasrec

    said: list[str] = []
    params: dict[str, object] = {}
    options = TrainOptions(sasrec_time_budget=1e-4, sasrec_overrides={"dim": 16, "layers": 1, "heads": 1})
    assert _sasrec(data, options, lambda m: 0.0, said.append, params) is None
    assert "sasrec not trained" in said[0] and "budget" in said[0]
    assert str(params["sasrec"]).startswith("not trained")


def test_sasrec_still_improving_when_time_runs_out_is_undertrained(data: TrainingData) -> None:
    from recommender.models.sasrec import SASRec, SASRecConfig

    cfg = SASRecConfig(epochs=4, dim=16, layers=1, heads=1, ff_dim=32, batch_size=32, time_budget=1e9)
    scores = iter([0.1, 0.2, 0.3, 0.4])
    model = SASRec(cfg).fit(data, validate=lambda m: next(scores))
    assert model.stopped == "epochs" and model.best_epoch == 4 and model.undertrained
    plateau = iter([0.1, 0.3, 0.2, 0.2, 0.2])
    model = SASRec(cfg).fit(data, validate=lambda m: next(plateau))
    assert model.best_epoch == 2 and not model.undertrained
