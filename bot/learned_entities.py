"""A Rasa NLU entity extractor trained on our annotated messages: a small spaCy NER on a blank English pipeline.

Runs inside `rasa run` (config.yml, after the regexes, lookup tables and the catalogue). Rules are exact where
a thing can be listed or has a shape (order numbers, postcodes, "£45", the shop's own products); this learns
what cannot: products and brands the catalogue does not have ("my Olaplex No.3"), amounts in words or slang
("fifty quid", "a tenner"), dates ("last tuesday", "a fortnight ago"), street addresses and person names.
It adds only spans no rule claimed, so a rule always wins where both fire.

No pretrained spaCy package is installable here (STACK-FACTS), so the pipeline is `spacy.blank("en")` plus
`ner` with a small hash-embedding CNN, trained by `rasa train` on the training data's annotations of
`labels`: every example with one of them, plus a sample of the others (what is not an entity).
Persisted with the rasa model (spaCy's own `to_disk`); nothing is downloaded.
"""

from __future__ import annotations

import logging
import random
import time
from typing import Any, Dict, List

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)

_UNITS = {
    "zero": 0, "one": 1, "a": 1, "an": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40,
    "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
_SLANG = {"fiver": (5, "£"), "tenner": (10, "£"), "score": (20, "£"), "pony": (25, "£"), "ton": (100, "£"),
          "grand": (1000, "£")}  # fmt: skip
_CURRENCY = {"£": "£", "quid": "£", "pound": "£", "pounds": "£", "gbp": "£", "p": "£", "€": "€", "euro": "€",
             "euros": "€", "eur": "€", "$": "$", "dollar": "$", "dollars": "$", "bucks": "$", "usd": "$"}  # fmt: skip


def amount_value(text: str) -> str | None:
    """ "fifty quid" -> "£50", "a tenner" -> "£10", "twenty five euros" -> "€25"; None when it is not words.

    The actions read amounts with store.normalize.parse_amount, which understands figures, not words.
    """
    words = text.lower().replace("-", " ").replace(",", " ").split()
    if any(ch.isdigit() for ch in text):
        return None
    total, current, currency, seen = 0, 0, "£", False
    for word in words:
        if word in _SLANG:
            value, currency = _SLANG[word]
            current = max(current, 1) * value
            seen = True
        elif word in _UNITS:
            current += _UNITS[word]
            seen = seen or word not in ("a", "an")
        elif word == "hundred":
            current = max(current, 1) * 100
            seen = True
        elif word in ("thousand", "k"):
            total += max(current, 1) * 1000
            current, seen = 0, True
        elif word in _CURRENCY:
            currency = _CURRENCY[word]
        elif word not in ("and", "about", "around", "roughly", "over", "under"):
            return None
    total += current
    return f"{currency}{total}" if seen and total > 0 else None


def covers(spans: List[tuple[int, int]], length: int) -> bool:
    """Whether the (start, end) `spans` together cover every position 0..length-1."""
    reached = 0
    for start, end in sorted(spans):
        if start > reached:
            return False
        reached = max(reached, end)
    return reached >= length


def ner_config(width: int, depth: int, embed_size: int) -> Dict[str, Any]:
    """spaCy's default NER model with a smaller tok2vec (short messages, a few thousand examples)."""
    return {
        "model": {
            "@architectures": "spacy.TransitionBasedParser.v2",
            "state_type": "ner",
            "extra_state_tokens": False,
            "hidden_width": 64,
            "maxout_pieces": 2,
            "use_upper": True,
            "nO": None,
            "tok2vec": {
                "@architectures": "spacy.HashEmbedCNN.v2",
                "pretrained_vectors": None,
                "width": width,
                "depth": depth,
                "embed_size": embed_size,
                "window_size": 1,
                "maxout_pieces": 3,
                "subword_features": True,
            },
        }
    }


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class LearnedEntityExtractor(GraphComponent, EntityExtractorMixin):
    """spaCy NER for `labels`, trained on the training data, adding spans the rules left free."""

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        """Defaults: the labels rules cannot list, a small model, a fixed seed."""
        return {
            "labels": ["product", "amount", "date", "person", "address"],
            "epochs": 8,
            "dropout": 0.2,
            "batch_size": 16,
            # every example with one of `labels`, plus at most this many without (what is not an entity);
            # all ~3,000 of them would double training time for no measured gain
            "max_negatives": 1000,
            "width": 64,
            "depth": 2,
            "embed_size": 2000,
            "seed": 7,
        }

    @staticmethod
    def required_packages() -> List[str]:
        """Python packages this component needs in the rasa environment."""
        return ["spacy"]

    def __init__(
        self, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource, nlp: Any = None
    ) -> None:
        """Keep the settings and, once trained or loaded, the spaCy pipeline."""
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._nlp = nlp

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LearnedEntityExtractor:
        """An untrained extractor."""
        return cls(config, model_storage, resource)

    def _examples(self, nlp: Any, training_data: TrainingData) -> List[Any]:
        from spacy.training import Example

        labels = set(self._config["labels"])
        examples = []
        skipped = 0
        for message in training_data.intent_examples:
            text = str(message.get(TEXT) or "")
            if not text:
                continue
            doc = nlp.make_doc(text)
            spans = []
            for e in message.get(ENTITIES) or []:
                if e.get("entity") not in labels:
                    continue
                span = doc.char_span(e["start"], e["end"], label=e["entity"], alignment_mode="expand")
                if span is None:
                    skipped += 1
                    continue
                spans.append((span.start_char, span.end_char, e["entity"]))
            spans = sorted(set(spans))
            if any(a[1] > b[0] for a, b in zip(spans, spans[1:], strict=False)):
                skipped += 1
                continue
            examples.append(Example.from_dict(doc, {"entities": spans}))
        positives = [e for e in examples if e.reference.ents]
        negatives = [e for e in examples if not e.reference.ents]
        random.Random(int(self._config["seed"])).shuffle(negatives)
        examples = positives + negatives[: int(self._config["max_negatives"])]
        if skipped:
            logger.debug("LearnedEntityExtractor: %d annotations did not align with spaCy's tokens", skipped)
        return examples

    def train(self, training_data: TrainingData) -> Resource:
        """Train the NER on the annotations of `labels` and store it in the model."""
        import spacy
        from spacy.util import fix_random_seed, minibatch

        c = self._config
        fix_random_seed(int(c["seed"]))
        nlp = spacy.blank("en")
        ner = nlp.add_pipe("ner", config=ner_config(int(c["width"]), int(c["depth"]), int(c["embed_size"])))
        for label in c["labels"]:
            ner.add_label(label)
        examples = self._examples(nlp, training_data)
        optimizer = nlp.initialize(lambda: examples)
        rng = random.Random(int(c["seed"]))
        started = time.perf_counter()
        for epoch in range(int(c["epochs"])):
            rng.shuffle(examples)
            losses: Dict[str, float] = {}
            for batch in minibatch(examples, size=int(c["batch_size"])):
                nlp.update(batch, drop=float(c["dropout"]), sgd=optimizer, losses=losses)
            logger.info(
                "LearnedEntityExtractor: epoch %d/%d, loss %.1f, %.0f s",
                epoch + 1,
                c["epochs"],
                losses.get("ner", 0.0),
                time.perf_counter() - started,
            )
        self._nlp = nlp
        with self._model_storage.write_to(self._resource) as model_dir:
            nlp.to_disk(model_dir / "ner")
        return self._resource

    @classmethod
    def load(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> LearnedEntityExtractor:
        """The trained pipeline from the model archive."""
        import spacy

        with model_storage.read_from(resource) as model_dir:
            nlp = spacy.load(model_dir / "ner")
        return cls(config, model_storage, resource, nlp)

    def entities(self, text: str, taken: List[tuple[int, int]] | None = None) -> List[Dict[str, Any]]:
        """Predicted entities of `text` that do not overlap `taken` (start, end) spans.

        When `taken` covers every character of `text` ("#100123", an email address alone), any entity the model
        could find overlaps a taken span and would be dropped: the model is not run (a third of spaCy's cost in
        the turn bench went to such messages).
        """
        if self._nlp is None or not text:
            return []
        taken = list(taken or [])
        if covers(taken, len(text)):
            return []
        found = []
        for ent in self._nlp(text).ents:
            start, end = ent.start_char, ent.end_char
            if all(end <= s or start >= e for s, e in taken):
                value = (amount_value(ent.text) if ent.label_ == "amount" else None) or ent.text
                found.append({"entity": ent.label_, "value": value, "start": start, "end": end})
                taken.append((start, end))
        return found

    def process(self, messages: List[Message]) -> List[Message]:
        """Add learned entities to each message where no other extractor found one."""
        for message in messages:
            text = message.get(TEXT)
            if not text:
                continue
            existing = message.get(ENTITIES, []) or []
            new = self.entities(str(text), [(e["start"], e["end"]) for e in existing if "start" in e and "end" in e])
            if new:
                message.set(ENTITIES, existing + self.add_extractor_name(new), add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Training data keeps its annotations."""
        return training_data
