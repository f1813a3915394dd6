"""Experiment exp-faq (issue 13): would a learned question-topic matcher answer follow-ups the readers miss?

A bank of question topics (bench/data/topics.yml: each names the answer it would give and 10-12 paraphrases
written for it) is embedded with the served fine-tuned encoder: the same ONNX session and ``_embed`` as
bot/finetuned_classifier.py, taken from the rasa model archive. Every customer turn of a conversation bench
result is embedded too; its topic is the one with the most similar paraphrase (cosine), kept when the
similarity reaches a threshold and the turn passes a gate on the NLU result:

  any       every turn
  unsure    NLU routed out (nlu_fallback) or its top confidence is below 0.7
  unsure+oos  unsure, or NLU said out_of_scope
  fallback  only where the bot would otherwise give up: it said "didn't quite understand" / "not something
            I can help with" (the last resort before the fallback)

Per threshold and gate the table counts, over FAILING turns, those a topic rescues (the hand label of
bench/data/topic_labels_<set>.yml names the matched topic) and those it would answer with the wrong topic
(the label names another topic or none), and over PASSING turns the hijacks: a topic match whose answer the
turn did not already give (the bot's reply does not match the topic's `marker`).

Run in the rasa environment (onnxruntime, transformers):
  .venv-rasa/bin/python bench/topic_matcher_experiment.py --set dev
  .venv-rasa/bin/python bench/topic_matcher_experiment.py --set k
  .venv-rasa/bin/python bench/topic_matcher_experiment.py --set dev --gate fallback --threshold 0.55 --detail
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import tarfile
from pathlib import Path
from typing import Any, Dict, List, Tuple

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SETS = {
    "dev": (Path("/work/wt/merge2/var/bench/all-final/conversation_bench.json"), "topic_labels_dev.yml"),
    "k": (Path("/work/wt/merge2/var/bench/k-conv12/conversation_bench.json"), "topic_labels_k.yml"),
}
THRESHOLDS = [0.45, 0.50, 0.55, 0.60, 0.65, 0.70, 0.75, 0.80, 0.85]
GATES = ["any", "unsure", "unsure+oos", "fallback"]
#: the operating point chosen on dev (all-final) before K was looked at: the only net-positive one there
FROZEN = ("fallback", 0.55)
GIVE_UP = re.compile(r"didn't quite (understand|get that)|not something I can help with", re.I)
COMPONENT = "components/train_bot.finetuned_classifier.FineTunedIntentClassifier1/"


class Encoder:
    """The served encoder: FineTunedIntentClassifier's own session and `_embed`, from the model archive."""

    def __init__(self, model: Path) -> None:
        from transformers import AutoTokenizer

        from bot.finetuned_classifier import FineTunedIntentClassifier

        cache = ROOT / "var" / "topic_exp" / hashlib.sha256(model.read_bytes()).hexdigest()[:12]
        if not (cache / "encoder.onnx").exists():
            cache.mkdir(parents=True, exist_ok=True)
            with tarfile.open(model) as archive:
                members = [m for m in archive.getmembers() if m.name.lstrip("/").startswith(COMPONENT)]
                if not members:
                    raise SystemExit(f"{model}: no FineTunedIntentClassifier component in this model")
                for member in members:
                    name = member.name.lstrip("/")[len(COMPONENT) :]
                    if member.isfile() and name in {
                        "encoder.onnx",
                        "tokenizer.json",
                        "tokenizer_config.json",
                        "special_tokens_map.json",
                        "vocab.txt",
                        "config.json",
                    }:
                        data = archive.extractfile(member)
                        assert data is not None
                        (cache / name).write_bytes(data.read())
        self.cache = cache
        clf = FineTunedIntentClassifier.__new__(FineTunedIntentClassifier)
        clf._config = FineTunedIntentClassifier.get_default_config()
        clf._session = clf._new_session((cache / "encoder.onnx").read_bytes())
        clf._tokenizer = AutoTokenizer.from_pretrained(str(cache))
        self._clf = clf
        self._memo: Dict[str, np.ndarray] = {}

    def embed(self, texts: List[str]) -> np.ndarray:
        for text in texts:
            if text not in self._memo:
                self._memo[text] = self._clf._embed(text).astype(np.float32)
        return np.stack([self._memo[t] for t in texts])


def load_bank(path: Path) -> Dict[str, Dict[str, Any]]:
    topics = yaml.safe_load(path.read_text())["topics"]
    for name, topic in topics.items():
        if not topic.get("answer") or not topic.get("marker") or len(topic.get("paraphrases", [])) < 8:
            raise SystemExit(f"{path}: topic {name} needs an answer, a marker and at least 8 paraphrases")
        topic["marker_re"] = re.compile(topic["marker"], re.I)
    return topics


def conversation_texts() -> set[str]:
    """Every string in tests/conversations/*.yml, normalised: the bank must not copy any."""
    seen: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, str):
            seen.add(norm(node))
        elif isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in sorted((ROOT / "tests" / "conversations").glob("*.yml")):
        walk(yaml.safe_load(path.read_text()))
    return seen


def norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def accepted(label: str | List[str] | None) -> List[str]:
    """The topics a label accepts: none, one, or a list (several answers would each pass the turn)."""
    return [] if label is None else [label] if isinstance(label, str) else list(label)


def parse_nlu(nlu: str) -> Tuple[str, float]:
    match = re.match(r"(\S+) ([0-9.]+)", nlu or "")
    return (match.group(1), float(match.group(2))) if match else ("", 0.0)


def gate_open(gate: str, turn: Dict[str, Any]) -> bool:
    intent, confidence = parse_nlu(turn.get("nlu", ""))
    unsure = intent == "nlu_fallback" or confidence < 0.7
    if gate == "any":
        return True
    if gate == "unsure":
        return unsure
    if gate == "unsure+oos":
        return unsure or intent == "out_of_scope"
    if gate == "fallback":
        return bool(GIVE_UP.search(turn.get("said", "")))
    raise ValueError(gate)


def load_turns(bench: Path, labels_path: Path) -> Tuple[List[Dict[str, Any]], Dict[str, Any]]:
    import json

    data = json.loads(bench.read_text())
    labels = yaml.safe_load(labels_path.read_text()) or {}
    turns = []
    for conversation in data["conversations"]:
        for turn in conversation["turns"]:
            key = f"{conversation['id']}:{turn['index']}"
            turns.append({**turn, "key": key, "failing": bool(turn["problems"])})
    failing = {t["key"] for t in turns if t["failing"]}
    if set(labels) != failing:
        raise SystemExit(
            f"{labels_path}: labels must list exactly the failing turns; missing {sorted(failing - set(labels))}, "
            f"extra {sorted(set(labels) - failing)}"
        )
    return turns, labels


def score(encoder: Encoder, topics: Dict[str, Dict[str, Any]], turns: List[Dict[str, Any]]) -> None:
    names, rows = [], []
    for name, topic in topics.items():
        for text in topic["paraphrases"]:
            names.append(name)
            rows.append(text)
    bank = encoder.embed(rows)
    owner = np.array(names)
    vectors = encoder.embed([t["sent"] for t in turns])
    sims = vectors @ bank.T
    order = list(topics)
    per_topic = np.stack([sims[:, owner == name].max(axis=1) for name in order], axis=1)
    for turn, row in zip(turns, per_topic, strict=True):
        best = int(np.argmax(row))
        second = float(np.partition(row, -2)[-2])
        turn["topic"], turn["sim"], turn["second"] = order[best], float(row[best]), second


def table(turns, labels, topics, gates, thresholds) -> List[Dict[str, Any]]:
    failing = [t for t in turns if t["failing"]]
    passing = [t for t in turns if not t["failing"]]
    labelled = sum(1 for t in failing if labels[t["key"]])
    print(f"turns {len(turns)}: failing {len(failing)} (a topic would fix {labelled}), passing {len(passing)}")
    print(f"{'gate':<11} {'thr':>5} | {'rescued':>7} {'wrong-topic':>11} {'matched-fail':>12} |", end=" ")
    print(f"{'hijacks':>7} {'agree':>5}")
    out = []
    for gate in gates:
        for threshold in thresholds:
            rescued = wrong = hijack = agree = 0
            for turn in failing:
                if gate_open(gate, turn) and turn["sim"] >= threshold:
                    if turn["topic"] in accepted(labels[turn["key"]]):
                        rescued += 1
                    else:
                        wrong += 1
            for turn in passing:
                if gate_open(gate, turn) and turn["sim"] >= threshold:
                    if topics[turn["topic"]]["marker_re"].search(turn.get("said", "")):
                        agree += 1
                    else:
                        hijack += 1
            row = dict(gate=gate, thr=threshold, rescued=rescued, wrong=wrong, hijack=hijack, agree=agree)
            out.append(row)
            frozen = "  <- frozen choice" if (gate, threshold) == FROZEN else ""
            print(
                f"{gate:<11} {threshold:>5.2f} | {rescued:>4}/{labelled:<2} {wrong:>11} {rescued + wrong:>12} |"
                f" {hijack:>7} {agree:>5}{frozen}"
            )
    return out


def detail(turns, labels, topics, gate, threshold) -> None:
    print(f"\nfailing turns (gate {gate}, threshold {threshold:.2f}): label / nearest topic, similarity")
    for turn in turns:
        if turn["failing"]:
            hit = gate_open(gate, turn) and turn["sim"] >= threshold
            mark = ("RESCUED" if turn["topic"] in accepted(labels[turn["key"]]) else "WRONG") if hit else "-"
            print(
                f"  {mark:<7} {turn['key']:<10} label={labels[turn['key']]!s:<14} near={turn['topic']:<18}"
                f" {turn['sim']:.3f} nlu={turn['nlu'][:28]!r:<30} {turn['sent'][:80]!r}"
            )
    print(f"\nhijacks on passing turns (gate {gate}, threshold {threshold:.2f}):")
    for turn in turns:
        matched = not turn["failing"] and gate_open(gate, turn) and turn["sim"] >= threshold
        if matched and not topics[turn["topic"]]["marker_re"].search(turn.get("said", "")):
            print(
                f"  {turn['key']:<10} {turn['topic']:<18} {turn['sim']:.3f} nlu={turn['nlu'][:28]!r:<30}"
                f" {turn['sent'][:70]!r} -> said {turn['said'][:60]!r}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", choices=sorted(SETS), default="dev")
    parser.add_argument("--bench", type=Path, help="a conversation_bench.json instead of the set's")
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "current.tar.gz")
    parser.add_argument("--bank", type=Path, default=ROOT / "bench" / "data" / "topics.yml")
    parser.add_argument("--threshold", type=float, help="one threshold (the frozen choice) instead of the sweep")
    parser.add_argument("--gate", choices=GATES, help="one gate instead of all")
    parser.add_argument("--detail", action="store_true", help="list every failing turn and every hijack")
    args = parser.parse_args()

    topics = load_bank(args.bank)
    written = conversation_texts()
    copied = [(name, text) for name, topic in topics.items() for text in topic["paraphrases"] if norm(text) in written]
    if copied:
        raise SystemExit(f"{args.bank}: paraphrases copied from tests/conversations: {copied}")
    bench, labels_name = SETS[args.set]
    turns, labels = load_turns(args.bench or bench, ROOT / "bench" / "data" / labels_name)
    unknown = {name for v in labels.values() for name in accepted(v)} - set(topics)
    if unknown:
        raise SystemExit(f"labels name topics the bank does not have: {sorted(unknown)}")
    encoder = Encoder(args.model)
    score(encoder, topics, turns)
    print(
        f"set {args.set}: {args.bench or bench}; bank {len(topics)} topics, "
        f"{sum(len(t['paraphrases']) for t in topics.values())} paraphrases"
    )
    gates = [args.gate] if args.gate else GATES
    thresholds = [args.threshold] if args.threshold is not None else THRESHOLDS
    table(turns, labels, topics, gates, thresholds)
    if args.detail:
        detail(turns, labels, topics, gates[0], thresholds[0])


if __name__ == "__main__":
    main()
