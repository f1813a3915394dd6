"""Runs in the rasa environment for tests/bot/test_catalogue_entities.py: a long-lived CatalogueEntityExtractor.

Reads JSON lines {"url": ..., "text": ...} on stdin and answers one JSON line per request with the
entities the extractor added ({"entities": [...]}) or the error ({"error": ...}). One extractor per URL
(and setting of `capitalised_names`), kept for the whole run, so the tests can change the database between
messages like a live shop does.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
logging.basicConfig(stream=sys.stderr, level=logging.WARNING)

from rasa.shared.nlu.constants import ENTITIES, TEXT  # noqa: E402
from rasa.shared.nlu.training_data.message import Message  # noqa: E402

from bot.catalogue_entities import CatalogueEntityExtractor  # noqa: E402

extractors: dict[str, CatalogueEntityExtractor] = {}
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    request = json.loads(line)
    try:
        url = request["url"]
        key = f"{url}|{request.get('capitalised_names', False)}"
        if key not in extractors:
            extractors[key] = CatalogueEntityExtractor(
                {
                    "database_url": url,
                    "refresh_seconds": request.get("refresh", 0),
                    "capitalised_names": request.get("capitalised_names", False),
                }
            )
        message = Message(data={TEXT: request["text"]})
        if "intent" in request:  # as the intent classifier before this component would have set it
            message.set("intent", {"name": request["intent"], "confidence": 0.9})
        for existing in request.get("existing", []):
            message.set(ENTITIES, message.get(ENTITIES, []) + [existing])
        extractors[key].process([message])
        answer = {
            "entities": [e for e in message.get(ENTITIES, []) if e.get("extractor") == "CatalogueEntityExtractor"]
        }
    except Exception as exc:  # reported to the test, which fails on it
        answer = {"error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(answer), flush=True)
