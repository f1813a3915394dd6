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

print(
    json.dumps(
        {
            "patched": RemoteAction._validate_action_result is not original,
            "rasa": rasas,
            "ours": verdicts(RemoteAction._validate_action_result),
        }
    )
)
