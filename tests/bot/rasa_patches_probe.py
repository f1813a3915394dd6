"""Runs in the rasa environment for tests/bot/test_rasa_patches.py; prints one JSON object.

Compares rasa's own RemoteAction._validate_action_result with the patched one installed by `import bot`, on
replies the action server really sends (valid) and on malformed ones: the same verdict and the same message.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from rasa.core.actions.action import RemoteAction  # noqa: E402

REPLIES: list[dict[str, Any]] = [
    {"events": [], "responses": []},
    {
        "events": [
            {"event": "slot", "name": "order_number", "value": "100123", "timestamp": None},
            {"event": "active_loop", "name": "verify_order_form"},
            {"event": "followup", "name": "action_listen"},
        ],
        "responses": [{"text": "Your order is on its way", "buttons": [{"title": "Thanks", "payload": "/thank"}]}],
    },
    {"events": [{"event": "slot", "name": 5}], "responses": []},
    {"events": [{"event": "no_such_event"}], "responses": []},
    {"events": "not a list", "responses": []},
    {"responses": [{"text": "no events key"}]},
    # the short check (_valid_quickly) must say no where the full schema does, and the errors stay rasa's
    {"events": [{"event": "slot", "name": "x", "value": 1, "timestamp": True}], "responses": []},
    {"events": [{"event": "slot", "name": "x", "value": 1, "metadata": []}]},
    {"events": [{"name": "x", "value": 1}]},
    {"events": [{"event": 5}]},
    {"events": ["slot"]},
    {"events": [], "responses": "text"},
    {"events": [], "responses": ["text"]},
    {"events": [{"event": "user", "text": "hi", "parse_data": {"entities": [{"entity": "e"}]}}]},
    {"events": [{"event": "user", "text": "hi", "parse_data": {"response_selector": {"all_retrieval_intents": 3}}}]},
    {"events": [{"event": "action", "name": "utter_greet", "hide_rule_turn": "no"}]},
    {"events": [{"event": "entities", "entities": [{"entity": "e", "value": 1, "start": 1.5}]}]},
    [],
    # and yes where it does
    {
        "events": [
            {
                "event": "user",
                "text": "hi",
                "timestamp": 1700000000,
                "parse_data": {
                    "intent": {"name": "greet"},
                    "entities": [{"entity": "e", "value": [1], "start": 0, "end": 2, "extractor": None}],
                },
            },
            {"event": "action", "name": "utter_greet", "policy": None, "confidence": 1.0, "hide_rule_turn": False},
            {"event": "bot", "text": "hello", "data": {}, "metadata": {"utter_action": "utter_greet"}},
            {"event": "reset_slots"},
            {"event": "slot", "name": "x", "value": {"nested": [1, None]}, "extra": "ignored"},
        ],
        "extra": 1,
    },
]


def verdicts(method: Any) -> list[str]:
    action = RemoteAction.__new__(RemoteAction)
    out = []
    for reply in REPLIES:
        try:
            out.append("ok" if method(action, reply) else "false")
        except Exception as error:  # noqa: BLE001 (the verdict is the exception's message)
            out.append(f"{type(error).__name__}: {getattr(error, 'message', error)}")
    return out


original = RemoteAction._validate_action_result
rasas = verdicts(original)
import bot  # noqa: E402,F401 (applies the patches)
from bot.rasa_patches import _action_result_validator, _valid_quickly  # noqa: E402


def variants() -> list[Any]:
    """Each reply above with each event's fields replaced, one at a time, by values of every JSON type."""
    values: list[Any] = [None, True, 0, 1.5, "s", "slot", "user", [], [{}], {}, {"name": "a"}]
    out: list[Any] = []
    for reply in REPLIES:
        if not isinstance(reply, dict) or not isinstance(reply.get("events"), list):
            continue
        for index, event in enumerate(reply["events"]):
            if not isinstance(event, dict):
                continue
            for key in list(event) + ["timestamp", "metadata", "value", "parse_data", "entities"]:
                for value in values:
                    changed = [dict(e) if isinstance(e, dict) else e for e in reply["events"]]
                    changed[index] = {**event, key: value}
                    out.append({**reply, "events": changed})
    return out


full = _action_result_validator()
quick_vs_full = [[_valid_quickly(reply), full.is_valid(reply)] for reply in REPLIES + variants()]

print(
    json.dumps(
        {
            "quick_vs_full": quick_vs_full,
            "patched": RemoteAction._validate_action_result is not original,
            "rasa": rasas,
            "ours": verdicts(RemoteAction._validate_action_result),
        }
    )
)
