"""Tests of bot/finetuned_classifier.py and bot/learned_entities.py inside rasa's component API.

The fine-tuned folder is made here by nlu_train (this environment has torch), then
tests/bot/learned_components_probe.py trains, persists and loads the components in the rasa environment.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"

pytestmark = pytest.mark.skipif(not RASA_PYTHON.exists(), reason="the rasa environment (.venv-rasa) is not installed")

PHRASINGS = {
    "track_order": [
        "where is my order",
        "track my parcel",
        "has my order shipped",
        "order status please",
        "where's my package",
        "my delivery hasn't come",
        "is my order on its way",
        "tracking for my order",
    ],
    "request_refund": [
        "I want a refund",
        "give me my money back",
        "refund my order please",
        "can I get a refund",
        "I'd like to be reimbursed",
        "money back please",
        "refund me",
        "I want my money back",
    ],
    "out_of_scope": [
        "what's the weather",
        "tell me a joke",
        "reset my password",
        "who is the president",
        "unsubscribe me from the newsletter",
        "asdfgh",
        "write me a poem",
        "delete my account",
    ],
}
TEXTS = ["where is my parcel", "I want a refund", "tell me a joke please", "qwpeoirut zmxncb"]


def rasa_yaml(path: Path, blocks: dict[str, list[str]]) -> Path:
    lines = ['version: "3.1"', "nlu:"]
    for intent, texts in blocks.items():
        lines += [f"- intent: {intent}", "  examples: |"] + [f"    - {t}" for t in texts]
    path.write_text("\n".join(lines) + "\n")
    return path


def probe(*args: str) -> dict[str, Any]:
    env = {"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3", "RASA_TELEMETRY_ENABLED": "false"}
    done = subprocess.run(
        [str(RASA_PYTHON), str(Path(__file__).with_name("learned_components_probe.py")), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def encoder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from nlu_train import __main__ as cli

    tmp = tmp_path_factory.mktemp("finetuned")
    data = rasa_yaml(tmp / "nlu.yml", PHRASINGS)
    settings = json.dumps({"epochs": 3, "trainable_layers": 1, "threads": 1, "calibration_share": 0.25})
    assert cli.main(["--data", str(data), "--out", str(tmp / "encoder"), "--settings", settings]) == 0
    return tmp / "encoder", data


def torch_logits(folder: Path, texts: list[str]) -> np.ndarray:
    import torch
    from safetensors.torch import load_file
    from transformers import AutoTokenizer

    from nlu_train.model import load_encoder

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    model = load_encoder(folder).eval()
    head = load_file(str(folder / "head.safetensors"))
    tokens = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        vectors = model(tokens["input_ids"], tokens["attention_mask"])
    return (vectors @ head["weight"].T + head["bias"]).numpy()


def test_the_classifier_serves_the_fine_tuned_head_and_survives_persistence(
    encoder: tuple[Path, Path], tmp_path: Path
) -> None:
    folder, data = encoder
    texts = tmp_path / "texts.json"
    texts.write_text(json.dumps(TEXTS))
    result = probe("classifier", str(folder), str(data), str(texts))

    # the ONNX graph (encoder + pooling + head) computes what the torch model computes
    assert np.allclose(np.array(result["fp32_logits"]), torch_logits(folder, TEXTS), atol=2e-3)
    labels = set(PHRASINGS) | {"nlu_fallback"}
    for parsed in result["trained"]:
        assert parsed["intent"]["name"] in labels
        real = [r for r in parsed["ranking"] if r["name"] != "nlu_fallback"]
        assert {r["name"] for r in real} == set(PHRASINGS)
        assert abs(sum(r["confidence"] for r in real) - 1.0) < 1e-6
    assert result["trained"] == result["loaded"]  # the model archive holds everything
    without = [p["intent"]["name"] for p in result["no_route_out"]]
    assert "nlu_fallback" not in without
    assert without[:2] == ["track_order", "request_refund"]
    assert all(-1.0 <= s <= 1.0 for s in result["similarity"])
    assert result["fingerprint_addon"]
    # data the encoder was not fine-tuned on (e.g. the console's corrections) trains with a warning, not an error
    assert result["other_data"]["intent"]["name"] in labels
    assert "make model" in result["missing_error"]


def test_route_out_follows_the_calibrated_thresholds(encoder: tuple[Path, Path], tmp_path: Path) -> None:
    import shutil

    folder, data = encoder
    strict = tmp_path / "strict"
    shutil.copytree(folder, strict)
    calibration = json.loads((strict / "calibration.json").read_text())
    calibration["similarity_threshold"] = 0.999  # nothing new is that close to a training example
    (strict / "calibration.json").write_text(json.dumps(calibration))
    texts = tmp_path / "texts.json"
    texts.write_text(json.dumps(TEXTS))
    result = probe("classifier", str(strict), str(data), str(texts))
    for parsed, plain in zip(result["trained"], result["no_route_out"], strict=True):
        if plain["intent"]["name"] == "out_of_scope":
            assert parsed["intent"]["name"] == "out_of_scope"  # already routed out: left alone
        else:
            assert parsed["intent"]["name"] == "nlu_fallback"
            # rasa's FallbackClassifier convention: the original ranking follows the fallback
            assert [r["name"] for r in parsed["ranking"][1:]] == [r["name"] for r in plain["ranking"]]


def test_learned_entities_are_found_persisted_and_never_override_a_rule(tmp_path: Path) -> None:
    blocks = {
        "refund_status": [
            "still waiting on the [fifty quid](amount) you owe me",
            "where is my refund of [twenty pounds](amount)",
            "I returned it [a fortnight ago](date) and no money yet",
            "refund approved [last tuesday](date) but nothing",
            "my [thirty euros](amount) refund from [last week](date) hasn't come",
            "where's my money",
            "refund status please",
        ],
        "inform": [
            "my name is [Aisha Rahman](person)",
            "it's under [Mr. Jones](person)",
            "[12 Baker Street](address), London",
            "send it to [4 Mill Lane](address)",
            "it was [a tenner](amount)",
            "I ordered it [yesterday](date)",
            "the order number is 100234",
            "my email is a@b.com",
        ],
    }
    data = rasa_yaml(tmp_path / "nlu.yml", blocks)
    texts = [
        "still waiting on the fifty quid you owe me",
        "my name is Aisha Rahman",
        "send it to 4 Mill Lane",
        "I ordered it yesterday",
        "refund status please",
    ]
    # a rule already claimed "fifty quid" in the first message: the learned extractor must leave it alone
    rule = {"entity": "amount", "value": "50", "start": 21, "end": 31, "extractor": "probe"}
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"texts": texts, "existing": {texts[0]: [rule]}}))
    result = probe("entities", str(data), str(spec))

    found = [
        [(e["entity"], t[e["start"] : e["end"]]) for e in p["entities"]]
        for p, t in zip(result["trained"], texts, strict=True)
    ]
    assert ("amount", "fifty quid") not in found[0]
    assert ("person", "Aisha Rahman") in found[1]
    assert ("address", "4 Mill Lane") in found[2]
    assert ("date", "yesterday") in found[3]
    assert found[4] == []
    assert all(e["extractor"] == "LearnedEntityExtractor" for p in result["trained"] for e in p["entities"])
    assert result["trained"] == result["loaded"]
    # amounts in words get a value the actions' parse_amount reads; figures and non-amounts keep their text
    assert result["amount_values"] == {
        "fifty quid": "£50",
        "a tenner": "£10",
        "twenty five euros": "€25",
        "a hundred and twenty dollars": "$120",
        "£45": None,
        "the thing": None,
    }
