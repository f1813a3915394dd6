"""NLU bench: config.yml, the frozen-encoder pipeline before it and the `rasa init` pipeline (`make bench-nlu`).

Runs with the rasa environment's python (.venv-rasa). Pipelines: `ours` (config.yml: MiniLM fine-tuned by
nlu_train, which runs in .venv first on exactly the same training file), `frozen` (bench/nlu_frozen_config.yml:
frozen MiniLM + logistic regression, the pipeline of issue 3) and `default` (bench/nlu_default_config.yml,
`rasa init`). For each:
  * stratified k-fold cross-validation on nlu_data/nlu, the same folds for every pipeline (regexes, lookups
    and synonyms go into every fold),
  * train on all of nlu_data/nlu, test on each held-out file (tests/nlu/test_*.yml; never trained on: the
    bench refuses to run when a held-out message of 3+ words is also a training example),
  * parse latency p50/p95 through `POST /model/parse` of a `rasa run --enable-api` on a free loopback port,
and prints side-by-side tables, writes var/bench/nlu_bench.json and a confusion-matrix PNG for our pipeline.

Routing rule: `nlu_fallback` counts as `out_of_scope` (correct for unsupported requests, an error for support
examples); "route out" precision/recall are those of that merged label. Since the FallbackClassifier keeps
the original intent ranking, its threshold is also swept offline on the stored predictions (no retraining).
Entities: exact spans per entity type; the micro-F1 counts only types the file annotates (a file written
before `date` existed has no dates marked, so a found date is not an error there), and for our pipeline the
same parse is also scored without the learned (spaCy NER) entities: the rules alone.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
os.environ["RASA_MAX_CACHE_SIZE"] = "0"  # no training cache: every fold is trained, and timed, for real
sys.path.insert(0, str(ROOT))

SUPPORT_INTENTS = [
    "track_order",
    "cancel_order",
    "change_shipping_address",
    "shipping_options",
    "shipping_cost",
    "delivery_time",
    "return_item",
    "return_policy",
    "return_status",
    "request_refund",
    "refund_status",
    "payment_methods",
    "payment_problem",
    "get_invoice",
    "human_handoff",
    "complaint",
    "recommend_product",
    "check_stock",
]
OOS = "out_of_scope"
FALLBACK = "nlu_fallback"
PIPELINES = ("ours", "frozen", "default")
# entity extractors that learn from annotations (left out for the "rules alone" figures)
LEARNED_EXTRACTORS = {"LearnedEntityExtractor", "DIETClassifier", "CRFEntityExtractor"}


def log(msg: str) -> None:
    """Progress on stderr, with the time, so a long run shows where it is."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------- data and splits


def load_examples(path: Path) -> Tuple[Any, List[Any]]:
    """The TrainingData at `path` and its intent examples."""
    from rasa.shared.nlu.training_data.loading import load_data

    td = load_data(str(path))
    return td, [m for m in td.training_examples if m.get("intent")]


def write_training_file(base: Any, examples: Sequence[Any], path: Path) -> None:
    """Examples plus the regexes, lookup tables and synonyms of `base`, as a Rasa YAML file."""
    from rasa.shared.nlu.training_data.training_data import TrainingData

    td = TrainingData(
        training_examples=list(examples),
        entity_synonyms=base.entity_synonyms,
        regex_features=base.regex_features,
        lookup_tables=base.lookup_tables,
    )
    path.write_text(td.nlu_as_yaml(), encoding="utf-8")


def config_with_epochs(config: Path, epochs: int | None, out: Path) -> Path:
    """A copy of `config` whose DIET/ResponseSelector epochs are `epochs` (or `config` itself if None)."""
    if epochs is None:
        return config
    import yaml

    data = yaml.safe_load(config.read_text())
    for comp in data.get("pipeline", []):
        if comp.get("name") in ("DIETClassifier", "ResponseSelector"):
            comp["epochs"] = epochs
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


# ----------------------------------------------------------------------------------------- train and parse


FINETUNED = "bot.finetuned_classifier.FineTunedIntentClassifier"
PY311 = ROOT / ".venv" / "bin" / "python"


def needs_encoder(config: Path) -> bool:
    """Whether `config` has the fine-tuned classifier, whose encoder nlu_train must train first."""
    import yaml

    return any(c.get("name") == FINETUNED for c in yaml.safe_load(config.read_text()).get("pipeline", []))


def finetune(config: Path, nlu_file: Path, out_dir: Path, name: str) -> Tuple[Path, float]:
    """Fine-tune the encoder on `nlu_file` (nlu_train in .venv) and a copy of `config` that points at it."""
    import yaml

    encoder = out_dir / f"encoder-{name}"
    t0 = time.perf_counter()
    log(f"{name}: fine-tuning the encoder on {nlu_file.name} (nlu_train, .venv)")
    done = subprocess.run(
        [str(PY311), "-m", "nlu_train", "--data", str(nlu_file), "--out", str(encoder), "--force"],
        cwd=ROOT,
        stdout=sys.stderr,
        stderr=sys.stderr,
    )
    if done.returncode != 0:
        raise RuntimeError(f"nlu_train failed on {nlu_file} (exit {done.returncode})")
    elapsed = time.perf_counter() - t0
    data = yaml.safe_load(config.read_text())
    for comp in data.get("pipeline", []):
        if comp.get("name") == FINETUNED:
            comp["encoder_dir"] = str(encoder)
    copy = out_dir / f"config-{name}.yml"
    copy.write_text(yaml.safe_dump(data, sort_keys=False))
    return copy, elapsed


def train(config: Path, nlu_file: Path, out_dir: Path, name: str) -> Tuple[str, float]:
    """Train an NLU-only model (fine-tuning its encoder first if it has one); its path and wall-clock seconds."""
    from rasa.model_training import train_nlu

    extra = 0.0
    if needs_encoder(config):
        config, extra = finetune(config, nlu_file, out_dir, name)
    t0 = time.perf_counter()
    model = train_nlu(str(config), str(nlu_file), str(out_dir), fixed_model_name=name)
    elapsed = time.perf_counter() - t0 + extra
    if not model:
        raise RuntimeError(f"training failed for {config} on {nlu_file}")
    return str(model), elapsed


def predict(model_path: str, examples: Sequence[Any]) -> List[Dict[str, Any]]:
    """Parse every example with the trained model (in process)."""
    from rasa.core.agent import Agent

    agent = Agent.load(model_path)

    async def run() -> List[Dict[str, Any]]:
        return [await agent.parse_message(m.get("text")) for m in examples]

    return asyncio.run(run())


def record(example: Any, parsed: Dict[str, Any]) -> Dict[str, Any]:
    """What the metrics need from one gold example and its parse."""
    ranking = [r for r in parsed.get("intent_ranking") or [] if r.get("name") != FALLBACK]
    return {
        "text": example.get("text"),
        "gold": example.get("intent"),
        "pred": (parsed.get("intent") or {}).get("name"),
        "ranking": [(r["name"], float(r.get("confidence") or 0.0)) for r in ranking[:3]],
        "gold_entities": [(e["entity"], e["start"], e["end"]) for e in example.get("entities") or []],
        "pred_entities": sorted({(e["entity"], e["start"], e["end"]) for e in parsed.get("entities") or []}),
        "rule_entities": sorted(
            {
                (e["entity"], e["start"], e["end"])
                for e in parsed.get("entities") or []
                if e.get("extractor") not in LEARNED_EXTRACTORS
            }
        ),
    }


# ----------------------------------------------------------------------------------------- metrics


def routed(pred: str | None) -> str:
    """nlu_fallback is routed like out_of_scope."""
    return OOS if pred in (OOS, FALLBACK, None) else pred


def refallback(rec: Dict[str, Any], threshold: float, ambiguity: float) -> str:
    """The prediction had the FallbackClassifier used `threshold` / `ambiguity`."""
    ranking = rec["ranking"]
    if not ranking:
        return FALLBACK
    top = ranking[0][1]
    second = ranking[1][1] if len(ranking) > 1 else 0.0
    if top < threshold or (top - second) < ambiguity:
        return FALLBACK
    return ranking[0][0]


def intent_metrics(records: Sequence[Dict[str, Any]], preds: Sequence[str] | None = None) -> Dict[str, Any]:
    """Accuracy, macro-F1, support macro-F1, per-intent P/R/F1 and out-of-scope P/R, on routed labels."""
    gold = [r["gold"] for r in records]
    pred = [routed(p) for p in (preds if preds is not None else [r["pred"] for r in records])]
    labels = sorted(set(gold))
    per: Dict[str, Dict[str, float]] = {}
    for label in labels:
        tp = sum(1 for g, p in zip(gold, pred, strict=True) if g == label and p == label)
        fp = sum(1 for g, p in zip(gold, pred, strict=True) if g != label and p == label)
        fn = sum(1 for g, p in zip(gold, pred, strict=True) if g == label and p != label)
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        per[label] = {"precision": prec, "recall": rec, "f1": f1, "support": tp + fn}
    support = [label for label in SUPPORT_INTENTS if label in per]
    fallback_on_support = sum(
        1
        for r, p in zip(records, preds or [r["pred"] for r in records], strict=True)
        if r["gold"] in SUPPORT_INTENTS and p == FALLBACK
    )
    return {
        "n": len(gold),
        "accuracy": sum(g == p for g, p in zip(gold, pred, strict=True)) / len(gold),
        "macro_f1": sum(per[label]["f1"] for label in labels) / len(labels),
        "support_macro_f1": sum(per[label]["f1"] for label in support) / len(support),
        "oos_precision": per.get(OOS, {}).get("precision", 0.0),
        "oos_recall": per.get(OOS, {}).get("recall", 0.0),
        "support_to_fallback_or_oos": sum(
            1 for g, p in zip(gold, pred, strict=True) if g in SUPPORT_INTENTS and p == OOS
        ),
        "support_to_fallback": fallback_on_support,
        "per_intent": per,
    }


def entity_metrics(records: Sequence[Dict[str, Any]], key: str = "pred_entities") -> Dict[str, Dict[str, float]]:
    """Exact-span precision/recall/F1 per entity type, and `_micro` over the types the file annotates."""
    counts: Dict[str, Counter] = defaultdict(Counter)
    annotated = {e[0] for r in records for e in r["gold_entities"]}
    for r in records:
        gold = set(map(tuple, r["gold_entities"]))
        pred = set(map(tuple, r.get(key, r["pred_entities"])))
        for e in gold & pred:
            counts[e[0]]["tp"] += 1
            counts["_micro"]["tp"] += 1
        for e in pred - gold:
            counts[e[0]]["fp"] += 1
            if e[0] in annotated:
                counts["_micro"]["fp"] += 1
        for e in gold - pred:
            counts[e[0]]["fn"] += 1
            counts["_micro"]["fn"] += 1
    out: Dict[str, Dict[str, float]] = {}
    for ent, c in counts.items():
        p = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 0.0
        rc = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 0.0
        out[ent] = {
            "precision": p,
            "recall": rc,
            "f1": 2 * p * rc / (p + rc) if p + rc else 0.0,
            "support": c["tp"] + c["fn"],
            "predicted": c["tp"] + c["fp"],
        }
    return out


def fallback_sweep(records: Sequence[Dict[str, Any]], ambiguity: float) -> List[Dict[str, float]]:
    """Support macro-F1 and out-of-scope P/R for a range of fallback thresholds, from stored rankings."""
    rows = []
    for t in [0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6]:
        m = intent_metrics(records, [refallback(r, t, ambiguity) for r in records])
        rows.append(
            {
                "threshold": t,
                "accuracy": m["accuracy"],
                "macro_f1": m["macro_f1"],
                "support_macro_f1": m["support_macro_f1"],
                "oos_precision": m["oos_precision"],
                "oos_recall": m["oos_recall"],
                "support_to_fallback": m["support_to_fallback"],
            }
        )
    return rows


# ----------------------------------------------------------------------------------------- latency


def free_port() -> int:
    """A free loopback port, chosen by the kernel."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def parse_latency(model_path: str, texts: Sequence[str], n: int, warmup: int = 30) -> Dict[str, float]:
    """p50/p95/mean of `POST /model/parse` over `n` sequential requests to a fresh `rasa run --enable-api`."""
    port = free_port()
    logf = tempfile.NamedTemporaryFile(prefix="bench-rasa-", suffix=".log", delete=False)  # noqa: SIM115 (outlives this block)
    # empty endpoints/credentials: the project's files need the running stack's environment variables
    blank = Path(tempfile.mkdtemp(prefix="bench-rasa-"))
    (blank / "endpoints.yml").write_text("{}\n")
    (blank / "credentials.yml").write_text("{}\n")
    # the API behind a throwaway token (scripts/rasa_server.py keeps it off the command line)
    token = secrets.token_urlsafe(24)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scripts.rasa_server",
            "run",
            "--enable-api",
            "-m",
            model_path,
            "-i",
            "127.0.0.1",
            "-p",
            str(port),
            "--endpoints",
            str(blank / "endpoints.yml"),
            "--credentials",
            str(blank / "credentials.yml"),
        ],
        cwd=ROOT,
        env={**os.environ, "RASA_API_TOKEN": token},
        stdout=logf,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    ok = False
    try:
        deadline = time.time() + 240
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"rasa run exited ({proc.returncode}); log in {logf.name}")
            try:
                with urllib.request.urlopen(f"{url}/status?token={token}", timeout=2) as resp:  # noqa: S310 (loopback http)
                    if json.loads(resp.read()).get("model_file"):
                        break
            except OSError:
                pass
            if time.time() > deadline:
                raise RuntimeError(f"rasa run not ready after 240 s; log in {logf.name}")
            time.sleep(1)

        # one kept-alive connection, as the gateway's aiohttp session talks to rasa: a new TCP connection per
        # request would add the handshake and Sanic's connection set-up to every figure
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

        def one(text: str) -> float:
            body = json.dumps({"text": text}).encode()
            t0 = time.perf_counter()
            conn.request("POST", f"/model/parse?token={token}", body=body, headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                raise RuntimeError(f"/model/parse answered {resp.status}")
            return (time.perf_counter() - t0) * 1000

        for i in range(warmup):
            one(texts[i % len(texts)])
        # distinct texts after warm-up where possible, so a featurizer cache does not flatter the figure
        samples = sorted(
            one(texts[(warmup + i) % len(texts)] + ("" if warmup + i < len(texts) else f" {i}")) for i in range(n)
        )
        conn.close()
        ok = True
        return {
            "n": n,
            "p50_ms": samples[int(0.50 * (n - 1))],
            "p95_ms": samples[int(0.95 * (n - 1))],
            "mean_ms": sum(samples) / n,
        }
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(blank, ignore_errors=True)
        if ok:
            os.unlink(logf.name)


# ----------------------------------------------------------------------------------------- reporting


def confusion_png(records: Sequence[Dict[str, Any]], path: Path, title: str) -> None:
    """Confusion matrix (gold rows, routed prediction columns) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    labels = sorted({r["gold"] for r in records} | {routed(r["pred"]) for r in records})
    index = {label: i for i, label in enumerate(labels)}
    cm = np.zeros((len(labels), len(labels)), dtype=int)
    for r in records:
        cm[index[r["gold"]], index[routed(r["pred"])]] += 1
    fig, ax = plt.subplots(figsize=(13, 11))
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if cm[i, j]:
                ax.text(
                    j,
                    i,
                    str(cm[i, j]),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if cm[i, j] > cm.max() / 2 else "black",
                )
    ax.set_xlabel("predicted (nlu_fallback shown as out_of_scope)")
    ax.set_ylabel("gold")
    ax.set_title(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table (also valid Markdown)."""

    def fmt(v: Any) -> str:
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    cells = [list(header)] + [[fmt(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = [f"\n### {title}\n"]
    for k, row in enumerate(cells):
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if k == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def split_key(i: int) -> str:
    """Results key of the i-th held-out file: ``heldout``, ``heldout_2``, ..."""
    return "heldout" if i == 0 else f"heldout_{i + 1}"


def summary(results: Dict[str, Any], names: Sequence[str]) -> str:
    """One row per split: support macro-F1, route-out precision/recall and entity micro-F1 of each pipeline."""
    files = results["meta"].get("heldout_files") or {}
    rows = []
    for split in ("cv", *files):
        present = [n for n in names if split in results[n]]
        if not present:
            continue
        label = f"{results['meta']['folds']}-fold CV" if split == "cv" else files[split]
        row: List[Any] = [label, results[present[0]][split]["intents"]["n"]]
        for n in names:
            if split not in results[n]:
                row.append("-")
                continue
            i, e = results[n][split]["intents"], results[n][split]["entities"]
            ent = e.get("_micro", {}).get("f1")
            row.append(
                f"{i['support_macro_f1']:.3f} / {i['oos_precision']:.3f} / {i['oos_recall']:.3f} / "
                + (f"{ent:.3f}" if ent is not None and e.get("_micro", {}).get("support") else "-")
            )
        rows.append(row)
    return table(
        "Summary: support macro-F1 / route-out precision / route-out recall / entity micro-F1",
        ["split", "n", *names],
        rows,
    )


def report(results: Dict[str, Any], names: Sequence[str]) -> str:
    """Side-by-side tables of every figure."""
    out = [summary(results, names)]
    files = results["meta"].get("heldout_files") or {"heldout": "tests/nlu/test_messages.yml"}
    for split in ("cv", *files):
        present = [n for n in names if split in results[n]]
        if not present:
            continue
        label = (
            f"{results['meta']['folds']}-fold CV on nlu_data/nlu"
            if split == "cv"
            else f"train on nlu_data/nlu, test on {files[split]}"
        )
        rows = []
        for key in (
            "n",
            "accuracy",
            "macro_f1",
            "support_macro_f1",
            "oos_precision",
            "oos_recall",
            "support_to_fallback_or_oos",
        ):
            rows.append([key] + [results[n][split]["intents"][key] for n in present])
        rows.append(
            ["entity micro-F1"] + [results[n][split]["entities"].get("_micro", {}).get("f1", 0.0) for n in present]
        )
        rows.append(
            ["training time s (per model)"]
            + [
                " / ".join(f"{t:.0f}" for t in results[n][split]["train_seconds"]) or "not measured (given model)"
                for n in present
            ]
        )
        rows.append(["epochs (DIET/ResponseSelector)"] + [results[n][split].get("epochs") or "n/a" for n in present])
        out.append(table(f"Intents, {label}", ["metric"] + present, rows))

        intents = sorted(results[present[0]][split]["intents"]["per_intent"])
        out.append(
            table(
                f"Per-intent F1, {label}",
                ["intent"] + present,
                [
                    [i + (" *" if i in SUPPORT_INTENTS else "")]
                    + [results[n][split]["intents"]["per_intent"].get(i, {}).get("f1", 0.0) for n in present]
                    for i in intents
                ],
            )
        )

        ents = sorted({e for n in present for e in results[n][split]["entities"]})
        rows = []
        for e in ents:
            row: List[Any] = [e, max(results[n][split]["entities"].get(e, {}).get("support", 0) for n in present)]
            for n in present:
                m = results[n][split]["entities"].get(e, {"precision": 0.0, "recall": 0.0, "f1": 0.0})
                row += [m["precision"], m["recall"], m["f1"]]
            rules = results["ours"][split].get("entities_rules_only", {}) if "ours" in present else {}
            row.append(rules.get(e, {}).get("f1", 0.0) if rules else "-")
            rows.append(row)
        header = (
            ["entity", "gold"] + [f"{n} {k}" for n in present for k in ("P", "R", "F1")] + ["ours, rules alone F1"]
        )
        out.append(table(f"Entities (exact span), {label}", header, rows))

    lat = [n for n in names if "latency" in results[n]]
    if lat:
        out.append(
            table(
                "Parse latency, POST /model/parse, one message at a time",
                ["metric"] + lat,
                [[k] + [results[n]["latency"][k] for n in lat] for k in ("n", "p50_ms", "p95_ms", "mean_ms")],
            )
        )
    for n in names:
        for split in ("cv", "heldout"):
            if "fallback_sweep" in results[n].get(split, {}):
                out.append(
                    table(
                        f"FallbackClassifier threshold sweep, {n}, {split} (from stored rankings, no retraining)",
                        [
                            "threshold",
                            "accuracy",
                            "support macro-F1",
                            "OOS precision",
                            "OOS recall",
                            "support->fallback",
                        ],
                        [
                            [
                                r["threshold"],
                                r["accuracy"],
                                r["support_macro_f1"],
                                r["oos_precision"],
                                r["oos_recall"],
                                r["support_to_fallback"],
                            ]
                            for r in results[n][split]["fallback_sweep"]
                        ],
                    )
                )
    out.append(
        "\n* = support intent. Routing: nlu_fallback counts as out_of_scope (route-out precision/recall). Entity"
        " micro-F1 counts the types each file annotates; 'rules alone' drops the learned extractor's entities."
    )
    return "\n".join(out)


# ----------------------------------------------------------------------------------------- main


def _normal(text: str) -> str:
    return " ".join("".join(c if c.isalnum() or c.isspace() else " " for c in text.lower()).split())


def leaked(train: Sequence[Any], tests: Sequence[Tuple[Path, Sequence[Any]]]) -> List[Tuple[Path, str]]:
    """(file, text) of held-out messages of 3+ words whose text (case and punctuation aside) is a training example."""
    seen = {_normal(str(m.get("text"))) for m in train}
    return [
        (path, str(m.get("text")))
        for path, examples in tests
        for m in examples
        if len(_normal(str(m.get("text"))).split()) >= 3 and _normal(str(m.get("text"))) in seen
    ]


def fallback_ambiguity(config: Path) -> float | None:
    """The FallbackClassifier ambiguity threshold of `config` (for the offline sweep); None without one."""
    import yaml

    for comp in yaml.safe_load(config.read_text()).get("pipeline", []):
        if comp.get("name") == "FallbackClassifier":
            return float(comp.get("ambiguity_threshold", 0.1))
    return None


def catalogue_rows() -> int:
    """Products the catalogue extractor will see (SHOP_DATABASE_URL, else var/shop.db); 0 when unreadable.

    Without a readable shop database the catalogue extractor finds no product or category at all (it logs one
    warning and carries on, as it must in production), which would silently score both as missed.
    """
    from bot.catalogue_entities import DEFAULT_DATABASE_URL, read_catalogue

    try:
        return len(read_catalogue(os.environ.get("SHOP_DATABASE_URL") or DEFAULT_DATABASE_URL))
    except Exception as exc:  # missing file or table, driver error: reported by the caller
        log(f"cannot read the shop catalogue: {exc}")
        return 0


def given_models(pairs: Sequence[str] | None) -> Dict[str, Path]:
    """--models NAME=MODEL pairs as a dict; raises ValueError on a malformed pair or a missing file."""
    out: Dict[str, Path] = {}
    for pair in pairs or []:
        name, sep, model = pair.partition("=")
        if not sep or name not in PIPELINES or not Path(model).is_file():
            raise ValueError(f"--models wants NAME=MODEL with NAME in {PIPELINES} and an existing file, got {pair!r}")
        out[name] = Path(model)
    return out


def latency_only(pairs: Sequence[str], tests: Sequence[Path], n: int) -> int:
    """Parse latency of already trained models, one after the other on the same box (no training)."""
    texts = [str(m.get("text")) for t in tests for m in load_examples(t)[1]]
    rows = []
    for pair in pairs:
        name, sep, model = pair.partition("=")
        if not sep or not Path(model).is_file():
            log(f"--latency-only wants NAME=MODEL with an existing model file, got {pair!r}")
            return 2
        log(f"{name}: parse latency of {model}, {n} requests after warm-up")
        lat = parse_latency(model, texts, n)
        rows.append([name, lat["p50_ms"], lat["p95_ms"], lat["mean_ms"], os.getloadavg()[0]])
    print(
        table(
            "Parse latency, POST /model/parse, one message at a time",
            ["model", "p50 ms", "p95 ms", "mean ms", "load"],
            rows,
        )
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bench; see the module docstring."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ours", default=str(ROOT / "config.yml"))
    ap.add_argument("--frozen", default=str(ROOT / "bench" / "nlu_frozen_config.yml"))
    ap.add_argument("--default", default=str(ROOT / "bench" / "nlu_default_config.yml"))
    ap.add_argument(
        "--pipelines", default=",".join(PIPELINES), help=f"comma-separated subset of {','.join(PIPELINES)}"
    )
    ap.add_argument("--data", default=str(ROOT / "nlu_data" / "nlu"))
    ap.add_argument(
        "--test",
        nargs="+",
        default=[str(p) for p in sorted((ROOT / "tests" / "nlu").glob("test_*.yml"))],
        help="held-out files, each scored by the model trained on all of --data (never trained on)",
    )
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument(
        "--default-cv-epochs",
        type=int,
        default=None,
        help="DIET/ResponseSelector epochs for the default pipeline in CV only (reported in the table)",
    )
    ap.add_argument(
        "--default-epochs",
        type=int,
        default=None,
        help="DIET/ResponseSelector epochs for the default pipeline everywhere (rasa init: 100)",
    )
    ap.add_argument(
        "--merge",
        action="store_true",
        help="keep the other pipelines' figures from an earlier var/bench/nlu_bench.json",
    )
    ap.add_argument("--skip-cv", action="store_true")
    ap.add_argument("--skip-latency", action="store_true")
    ap.add_argument("--latency-n", type=int, default=300)
    ap.add_argument(
        "--latency-only",
        nargs="+",
        metavar="NAME=MODEL",
        help="no training: only parse latency of trained models, e.g. ours=models/current.tar.gz default=x.tar.gz",
    )
    ap.add_argument(
        "--models",
        nargs="+",
        metavar="NAME=MODEL",
        help="score these already trained models (e.g. from --keep-models) on the held-out files instead of "
        "training on all of --data; CV still trains. Training time is then reported as not measured",
    )
    ap.add_argument("--out", default=str(ROOT / "var" / "bench"))
    ap.add_argument(
        "--keep-models",
        default=None,
        help="copy each pipeline's model trained on all of --data here (NAME.tar.gz), e.g. for --latency-only",
    )
    args = ap.parse_args(argv)

    from sklearn.model_selection import StratifiedKFold

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    configs = {"ours": Path(args.ours), "frozen": Path(args.frozen), "default": Path(args.default)}
    names = [n.strip() for n in args.pipelines.split(",") if n.strip()]

    if args.latency_only:
        return latency_only(args.latency_only, [Path(t) for t in args.test], args.latency_n)
    try:
        given = given_models(args.models)
    except ValueError as exc:
        log(str(exc))
        return 2
    n_products = catalogue_rows()
    if not n_products:
        log(
            "the catalogue extractor would see no products, so product and category entities would all count as "
            "missed: run `make db` (seeds var/shop.db) or set SHOP_DATABASE_URL to a shop database, then rerun"
        )
        return 2

    work = Path(tempfile.mkdtemp(prefix="nlu-bench-", dir=out))  # after the early exits: none leaves it behind
    base, examples = load_examples(Path(args.data))
    test_sets = [(Path(t), load_examples(Path(t))[1]) for t in args.test]
    # Common phrasings collide ("how long does delivery take" is in the training data and in blind files
    # written without seeing it): the bench trains without those examples, so every held-out message is unseen.
    leaks = leaked(examples, test_sets)
    if leaks:
        texts = {_normal(t) for _, t in leaks}
        before = len(examples)
        examples = [m for m in examples if _normal(str(m.get("text"))) not in texts]
        log(
            f"{before - len(examples)} training examples equal a held-out message of 3+ words "
            f"({len(leaks)} held-out lines): the bench trains without them"
        )
    test_examples = test_sets[0][1]
    log(
        f"{len(examples)} training examples, held-out "
        + ", ".join(f"{p.name} ({len(ex)})" for p, ex in test_sets)
        + f", pipelines {names}"
    )
    all_file = work / "all.yml"
    write_training_file(base, examples, all_file)

    folds: List[Tuple[Path, List[Any]]] = []
    if not args.skip_cv:
        skf = StratifiedKFold(n_splits=args.folds, shuffle=True, random_state=args.seed)
        labels = [m.get("intent") for m in examples]
        for k, (tr, te) in enumerate(skf.split(examples, labels)):
            f = work / f"fold{k}.yml"
            write_training_file(base, [examples[i] for i in tr], f)
            folds.append((f, [examples[i] for i in te]))

    results: Dict[str, Any] = {
        "meta": {
            "folds": args.folds,
            "seed": args.seed,
            "n_train": len(examples),
            "n_train_dropped_as_heldout": len({_normal(t) for _, t in leaks}),
            "n_test": len(test_examples),
            "heldout_files": {
                split_key(i): str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p)
                for i, (p, _) in enumerate(test_sets)
            },
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "configs": {n: str(configs[n]) for n in names},
            "catalogue_products": n_products,
            **({"given_models": {n: str(m) for n, m in given.items()}} if given else {}),
        }
    }
    previous = out / "nlu_bench.json"
    if args.merge and previous.exists():
        earlier = json.loads(previous.read_text())
        for other in PIPELINES:
            if other not in names and other in earlier:
                results[other] = earlier[other]
                results["meta"].setdefault("merged_from_earlier_run", []).append(other)
    for name in names:
        cfg = configs[name]
        if name == "default" and args.default_epochs:
            cfg = config_with_epochs(cfg, args.default_epochs, work / "default-config.yml")
        held_epochs = str(args.default_epochs or 100) if name == "default" else None
        amb = fallback_ambiguity(cfg)
        results[name] = {}
        if folds:
            cv_cfg = config_with_epochs(
                cfg, args.default_cv_epochs if name == "default" else None, work / f"{name}-cv-config.yml"
            )
            recs, times = [], []
            for k, (f, test) in enumerate(folds):
                log(f"{name}: CV fold {k + 1}/{len(folds)}: training on {f.name}")
                model, secs = train(cv_cfg, f, work, f"{name}-fold{k}")
                times.append(secs)
                log(f"{name}: fold {k + 1} trained in {secs:.0f} s; parsing {len(test)} messages")
                recs += [record(m, p) for m, p in zip(test, predict(model, test), strict=True)]
                os.unlink(model)
            results[name]["cv"] = {
                "intents": intent_metrics(recs),
                "entities": entity_metrics(recs),
                "entities_rules_only": entity_metrics(recs, "rule_entities"),
                "train_seconds": times,
                "epochs": str(args.default_cv_epochs) if name == "default" and args.default_cv_epochs else held_epochs,
                **({"fallback_sweep": fallback_sweep(recs, amb)} if amb is not None else {}),
            }
        if name in given:
            model, secs = str(given[name]), None
            log(f"{name}: scoring the given model {model} (not trained here)")
        else:
            log(f"{name}: training on all of {args.data}")
            model, secs = train(cfg, all_file, work, f"{name}-all")
        for i, (test_path, test_set) in enumerate(test_sets):
            split = split_key(i)
            log(f"{name}: parsing {len(test_set)} held-out messages of {test_path.name}")
            recs = [record(m, p) for m, p in zip(test_set, predict(model, test_set), strict=True)]
            results[name][split] = {
                "intents": intent_metrics(recs),
                "entities": entity_metrics(recs),
                "entities_rules_only": entity_metrics(recs, "rule_entities"),
                "train_seconds": [] if secs is None else [secs],
                "epochs": held_epochs,
                **({"fallback_sweep": fallback_sweep(recs, amb)} if amb is not None else {}),
                "errors": [
                    {"text": r["text"], "gold": r["gold"], "pred": r["pred"]}
                    for r in recs
                    if routed(r["pred"]) != r["gold"]
                ],
            }
            if name == "ours":
                png = out / ("nlu_confusion_ours.png" if i == 0 else f"nlu_confusion_ours_{split}.png")
                confusion_png(recs, png, f"Our pipeline (config.yml), {test_path.name}")
                log(f"confusion matrix written to {png}")
        if not args.skip_latency:
            log(f"{name}: parse latency, {args.latency_n} requests after warm-up, via rasa run --enable-api")
            results[name]["latency"] = parse_latency(model, [m.get("text") for m in test_examples], args.latency_n)
        if name not in given:  # a given model is the caller's file: neither copied nor deleted
            if args.keep_models:
                Path(args.keep_models).mkdir(parents=True, exist_ok=True)
                shutil.copy2(model, Path(args.keep_models) / f"{name}.tar.gz")
            os.unlink(model)
        (out / "nlu_bench.json").write_text(json.dumps(results, indent=1))

    shutil.rmtree(work, ignore_errors=True)
    results["meta"]["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    (out / "nlu_bench.json").write_text(json.dumps(results, indent=1))
    text = report(results, [n for n in PIPELINES if n in results])
    print(text, flush=True)
    (out / "nlu_bench.md").write_text(text)
    log(f"figures in {out / 'nlu_bench.json'}, tables in {out / 'nlu_bench.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
