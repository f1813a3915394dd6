"""Runs in the rasa environment for tests/bot/test_learned_skip.py; prints one JSON object.

LearnedEntityExtractor.entities skips the model when the taken spans cover the whole text. Compares it with the
model run anyway (``covers`` patched to say no) on random texts and random taken spans, with a spaCy pipeline
whose entity ruler marks every token as an entity (the most a model could find), and counts model calls.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import spacy  # noqa: E402

from bot import learned_entities  # noqa: E402
from bot.learned_entities import LearnedEntityExtractor, covers  # noqa: E402

WORDS = ["#100123", "a@b.co", "fifty", "quid", "SW1A", "1AA", "  ", "x", "tenner", "Lois", "-", "ORD-1"]


class Counting:
    """The spaCy pipeline, counting calls."""

    def __init__(self, nlp: Any) -> None:
        self.nlp, self.calls = nlp, 0

    def __call__(self, text: str) -> Any:
        self.calls += 1
        return self.nlp(text)


def main() -> None:
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "amount", "pattern": [{"TEXT": {"REGEX": ".*"}}]}])  # every token
    counting = Counting(nlp)
    extractor = LearnedEntityExtractor({}, None, None, counting)  # type: ignore[arg-type]
    rng = random.Random(7)
    same = covered = skipped_calls = 0
    cases = 3000
    for _ in range(cases):
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4)))
        n = len(text)
        if rng.random() < 0.5:  # spans covering everything, in pieces, overlapping
            cuts = sorted(rng.sample(range(1, n), min(n - 1, rng.randint(0, 3)))) if n > 1 else []
            bounds = [0, *cuts, n]
            taken = [(max(0, a - rng.randint(0, 1)), b) for a, b in zip(bounds, bounds[1:], strict=False)]
        else:
            taken = [tuple(sorted(rng.sample(range(n + 1), 2))) for _ in range(rng.randint(0, 3))] if n > 1 else []
        before = counting.calls
        fast = extractor.entities(text, list(taken))
        if counting.calls == before:
            skipped_calls += 1
        learned_entities.covers = lambda spans, length: False
        try:
            slow = extractor.entities(text, list(taken))
        finally:
            learned_entities.covers = covers
        covered += covers(list(taken), n)
        same += fast == slow
    print(
        json.dumps(
            {
                "cases": cases,
                "same": same,
                "covered": covered,
                "skipped": skipped_calls,
                "covers_examples": [
                    covers([(0, 7)], 7),
                    covers([(0, 3), (3, 7)], 7),
                    covers([(0, 3), (2, 6)], 7),
                    covers([(1, 7)], 7),
                    covers([], 0),
                    covers([(4, 7), (0, 5)], 7),
                ],
            }
        )
    )


if __name__ == "__main__":
    main()
