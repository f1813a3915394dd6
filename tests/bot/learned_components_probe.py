"""Runs in the rasa environment for tests/bot/test_learned_components.py; prints one JSON object of results.

* classifier ENCODER_DIR DATA TEXTS_JSON: trains FineTunedIntentClassifier on DATA with the fine-tuned folder
  ENCODER_DIR (written by nlu_train in .venv), parses the texts, loads it back from the model storage and
  parses them again; also the fp32 ONNX graph's logits for the texts (to compare with torch's), and the
  error when the folder does not belong to the data;
* entities DATA TEXTS_JSON: trains LearnedEntityExtractor on DATA, extracts, loads it back, extracts again.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402


def _context() -> Any:
    from rasa.engine.graph import ExecutionContext, GraphSchema

    return ExecutionContext(GraphSchema({}), node_name="probe")


def _parse(component: Any, texts: List[str], existing: Dict[str, List[Dict[str, Any]]] | None = None) -> List[Dict]:
    from rasa.shared.nlu.constants import ENTITIES, TEXT
    from rasa.shared.nlu.training_data.message import Message

    messages = []
    for text in texts:
        message = Message(data={TEXT: text})
        if existing and text in existing:
            message.set(ENTITIES, existing[text])
        messages.append(message)
    component.process(messages)
    return [
        {
            "intent": m.get("intent"),
            "ranking": m.get("intent_ranking"),
            "entities": [e for e in m.get(ENTITIES) or [] if e.get("extractor") != "probe"],
        }
        for m in messages
    ]


def classifier(encoder_dir: str, data: str, texts: List[str]) -> Dict[str, Any]:
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.shared.nlu.training_data.loading import load_data

    from bot.finetuned_classifier import EncoderMismatch, FineTunedIntentClassifier
    from bot.minilm_onnx import build_files, session

    training = load_data(data)
    config = {**FineTunedIntentClassifier.get_default_config(), "encoder_dir": encoder_dir}
    out: Dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        storage = LocalModelStorage(Path(tmp))
        resource = Resource("classifier")
        component = FineTunedIntentClassifier.create(config, storage, resource, _context())
        component.train(training)
        out["trained"] = _parse(component, texts)
        loaded = FineTunedIntentClassifier.load(config, storage, resource, _context())
        out["loaded"] = _parse(loaded, texts)
        out["no_route_out"] = _parse(
            FineTunedIntentClassifier.load({**config, "route_out": False}, storage, resource, _context()), texts
        )
        out["similarity"] = [loaded.scores(t)["similarity"] for t in texts]
        files = build_files(encoder_dir, Path(tmp) / "graph", with_head=True)
        fp32 = session(files["fp32"])
        tokens = loaded._tokenizer(texts, padding=True, return_tensors="np")
        ids, mask = tokens["input_ids"].astype(np.int64), tokens["attention_mask"].astype(np.int64)
        _, logits = fp32.run(None, {"input_ids": ids, "attention_mask": mask})
        out["fp32_logits"] = logits.tolist()
        out["fingerprint_addon"] = FineTunedIntentClassifier.fingerprint_addon(config)
        # data the encoder was not fine-tuned on (a new example) still trains, the new text embedded by the graph
        new_text = "where on earth has my parcel got to"
        extra = training.training_examples[0].as_dict()
        extra.update({"text": new_text, "intent": "track_order"})
        from rasa.shared.nlu.training_data.message import Message
        from rasa.shared.nlu.training_data.training_data import TrainingData

        grown = TrainingData([*training.training_examples, Message(data=extra)])
        other = FineTunedIntentClassifier.create(config, storage, Resource("other"), _context())
        other.train(grown)
        out["other_data"] = _parse(other, [new_text])[0]
        empty = Path(tmp) / "empty"
        empty.mkdir()
        try:
            FineTunedIntentClassifier.create(
                {**config, "encoder_dir": str(empty)}, storage, Resource("none"), _context()
            ).train(training)
            out["missing_error"] = "no error"
        except EncoderMismatch as error:
            out["missing_error"] = str(error)
    return out


def entities(data: str, texts: List[str], existing: Dict[str, List[Dict[str, Any]]]) -> Dict[str, Any]:
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.shared.nlu.training_data.loading import load_data

    from bot.learned_entities import LearnedEntityExtractor, amount_value

    training = load_data(data)
    config = {**LearnedEntityExtractor.get_default_config(), "epochs": 30, "batch_size": 2}
    with tempfile.TemporaryDirectory() as tmp:
        storage = LocalModelStorage(Path(tmp))
        resource = Resource("ner")
        component = LearnedEntityExtractor.create(config, storage, resource, _context())
        component.train(training)
        trained = _parse(component, texts, existing)
        loaded = LearnedEntityExtractor.load(config, storage, resource, _context())
        again = _parse(loaded, texts, existing)
    words = ["fifty quid", "a tenner", "twenty five euros", "a hundred and twenty dollars", "£45", "the thing"]
    return {"trained": trained, "loaded": again, "amount_values": {w: amount_value(w) for w in words}}


if __name__ == "__main__":
    which = sys.argv[1]
    if which == "classifier":
        result = classifier(sys.argv[2], sys.argv[3], json.loads(Path(sys.argv[4]).read_text()))
    else:
        spec = json.loads(Path(sys.argv[3]).read_text())
        result = entities(sys.argv[2], spec["texts"], spec.get("existing", {}))
    print(json.dumps(result))
