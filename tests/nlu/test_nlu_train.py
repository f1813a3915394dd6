"""Tests of nlu_train (the encoder fine-tuning that `make model` runs in .venv): data reading, typos, calibration,
and one real (tiny) fine-tuning run whose output folder the rasa classifier reads."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from nlu_train import __main__ as cli
from nlu_train.data import load, parse_annotated
from nlu_train.finetune import Settings, fit_temperature, softmax, split, typo

ROOT = Path(__file__).resolve().parents[2]


def test_annotations_become_plain_text_and_spans() -> None:
    text, spans = parse_annotated(
        'refund [£45](amount) for [ORD-100234](order_number) and [web]{"entity": "linked_channel"}'
    )
    assert text == "refund £45 for ORD-100234 and web"
    assert [(e, text[s:t]) for e, s, t in spans] == [
        ("amount", "£45"),
        ("order_number", "ORD-100234"),
        ("linked_channel", "web"),
    ]
    assert parse_annotated("[telegram](linked_channel:telegram) please") == (
        "telegram please",
        (("linked_channel", 0, 8),),
    )


def test_the_project_data_reads_like_rasa_reads_it() -> None:
    examples = load([ROOT / "nlu_data" / "nlu"])
    assert len(examples) > 2500
    assert {"out_of_scope", "track_order", "resume_return"} <= {e.intent for e in examples}
    assert all("[" not in e.text or "](" not in e.text for e in examples)  # no annotation left in a text


def test_a_typo_changes_one_word_of_four_letters_or_more() -> None:
    rng = random.Random(1)
    for _ in range(200):
        text = "where is my refund for the lipstick"
        noisy = typo(text, rng)
        changed = [(a, b) for a, b in zip(text.split(" "), noisy.split(" "), strict=True) if a != b]
        assert len(changed) <= 1
        for before, after in changed:
            assert len(before) >= 4 and abs(len(before) - len(after)) <= 1
    assert typo("ok", rng) == "ok"


def test_the_calibration_split_keeps_every_intent_in_training() -> None:
    examples = [type("E", (), {"intent": i, "text": f"{i} {k}"})() for i in ("a", "b", "c") for k in range(20)]
    examples += [type("E", (), {"intent": "rare", "text": f"rare {k}"})() for k in range(3)]
    seen, held = split(examples, 0.15, seed=3)
    assert {e.intent for e in seen} == {"a", "b", "c", "rare"}
    assert {e.intent for e in held} == {"a", "b", "c"}  # fewer than 5 examples: all kept for training
    assert sum(e.intent == "a" for e in held) == 3


def test_temperature_scaling_recovers_an_overconfident_models_temperature() -> None:
    rng = np.random.default_rng(0)
    true_logits = rng.normal(size=(4000, 5)) * 2.0
    targets = np.array([rng.choice(5, p=p) for p in softmax(true_logits)])
    fitted = fit_temperature(true_logits * 3.0, targets)  # the model says 3x what it knows
    assert 2.6 < fitted < 3.4


def test_a_tiny_fine_tuning_run_writes_the_folder_the_rasa_classifier_reads(tmp_path: Path) -> None:
    data = tmp_path / "nlu.yml"
    lines = ['version: "3.1"', "nlu:"]
    phrasings = {
        "track_order": [
            "where is my order",
            "track my parcel",
            "has my order shipped",
            "order status please",
            "where's my package",
            "my delivery hasn't come",
        ],
        "request_refund": [
            "I want a refund",
            "give me my money back",
            "refund my order please",
            "can I get a refund",
            "I'd like to be reimbursed",
            "money back please",
        ],
        "out_of_scope": [
            "what's the weather",
            "tell me a joke",
            "reset my password",
            "who is the president",
            "unsubscribe me from the newsletter",
            "asdfgh",
        ],
    }
    for intent, texts in phrasings.items():
        lines += [f"- intent: {intent}", "  examples: |"] + [f"    - {t}" for t in texts]
    data.write_text("\n".join(lines) + "\n")
    out = tmp_path / "encoder"
    settings = json.dumps({"epochs": 2, "trainable_layers": 1, "threads": 1, "calibration_share": 0.34})
    assert cli.main(["--data", str(data), "--out", str(out), "--settings", settings]) == 0
    names = {p.name for p in out.iterdir()}
    assert {
        "model.safetensors",
        "head.safetensors",
        "calibration.json",
        "train_vectors.npy",
        "train_texts.json",
    } <= names
    calibration = json.loads((out / "calibration.json").read_text())
    assert calibration["labels"] == sorted(phrasings)
    assert calibration["temperature"] > 0
    assert 0.0 <= calibration["probability_threshold"] <= 1.0
    assert -1.0 <= calibration["similarity_threshold"] <= 1.0
    assert calibration["calibration"]["held_examples"] == 6
    vectors = np.load(out / "train_vectors.npy")
    assert vectors.shape == (18, 384)
    assert np.allclose(np.linalg.norm(vectors.astype(np.float32), axis=1), 1.0, atol=1e-2)
    # same data, settings and code: nothing to do; new data: trained again
    stamp = (out / "calibration.json").stat().st_mtime_ns
    assert cli.main(["--data", str(data), "--out", str(out), "--settings", settings]) == 0
    assert (out / "calibration.json").stat().st_mtime_ns == stamp
    data.write_text(data.read_text() + "    - is my order on the way\n")
    assert cli.main(["--data", str(data), "--out", str(out), "--settings", settings]) == 0
    assert json.loads((out / "calibration.json").read_text())["data_fingerprint"] != calibration["data_fingerprint"]


def test_unknown_settings_are_refused_with_the_known_ones(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert cli.main(["--data", str(tmp_path), "--out", str(tmp_path / "x"), "--settings", '{"epoch": 3}']) == 2
    assert "trainable_layers" in capsys.readouterr().err
    assert Settings().trainable_layers >= 1


def test_the_low_quantile_estimate_is_steadier_than_one_order_statistic() -> None:
    from nlu_train.finetune import low_quantile

    rng = np.random.default_rng(5)
    samples = [rng.beta(8, 1, size=400) for _ in range(60)]
    truth = float(np.quantile(rng.beta(8, 1, size=400_000), 0.02))
    smooth = np.array([low_quantile(x, 0.02) for x in samples])
    raw = np.array([np.quantile(x, 0.02) for x in samples])
    assert abs(smooth.mean() - truth) < 0.02
    assert smooth.std() < raw.std()


def test_a_data_round_that_makes_the_calibration_split_easy_cannot_raise_the_route_out_thresholds() -> None:
    """Every held-out support message is a near copy of a training one, so the fitted thresholds come out high
    (0.9+): the thresholds served stay at the ceilings, and the fitted values are reported beside them."""
    from nlu_train.data import Example
    from nlu_train.finetune import calibrate

    intents = ["track_order", "cancel_order", "out_of_scope"]
    words = {"track_order": "where is my parcel", "cancel_order": "cancel my order now", "out_of_scope": "weather"}
    seen = [Example(f"{words[i]} {k}", i) for i in intents for k in range(30)]
    held = [Example(f"{words[i]} {k}", i) for i in intents for k in range(30, 36)]
    axis = {i: np.eye(8)[n] for n, i in enumerate(intents)}

    class Trainer:
        settings = Settings()
        index = {label: n for n, label in enumerate(intents)}

        def embed(self, texts: list) -> tuple:
            vectors = np.array([axis[next(i for i in intents if t.startswith(words[i]))] for t in texts])
            return vectors, vectors[:, : len(intents)] * 10.0

    result = calibrate(Trainer(), seen, held, ["track_order", "cancel_order"], "out_of_scope")  # type: ignore[arg-type]
    assert result.calibration["similarity_threshold_fitted"] > 0.9
    assert result.calibration["probability_threshold_fitted"] > Settings().max_probability_threshold
    assert result.probability_threshold == Settings().max_probability_threshold
    assert result.similarity_threshold == Settings().max_similarity_threshold
