"""Runs in the rasa environment for tests/bot/test_debug_copies.py; prints one JSON object.

Checks what bot/rasa_patches.py does to rasa's debug-argument copies and ``Domain.is_empty``: which modules get the
``copy`` that copies only while debug entries are logged, that it copies exactly then, that the structlog debug
entries rasa writes at ``DEBUG`` are the ones it wrote before, and that ``is_empty`` answers as rasa's own.
"""

from __future__ import annotations

import copy
import importlib
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import structlog  # noqa: E402
from rasa.shared.core.domain import Domain  # noqa: E402
from rasa.utils.log_utils import configure_structlog  # noqa: E402

MODULES = ("rasa.core.processor", "rasa.core.actions.forms", "rasa.core.policies.memoization")
modules = {name: importlib.import_module(name) for name in MODULES}
before = {name: module.copy is copy for name, module in modules.items()}
original_is_empty = Domain.is_empty

import bot  # noqa: E402,F401 (applies the patches)
from bot import rasa_patches  # noqa: E402

after = {name: type(module.copy).__name__ for name, module in modules.items()}

# the source check: the three modules pass it (with their own copy module back), a module using copy otherwise not
checks = {}
for name, module in modules.items():
    patched, module.copy = module.copy, copy
    checks[name] = rasa_patches._copies_only_for_debug(module)
    module.copy = patched
action_module = importlib.import_module("rasa.core.actions.action")
checks["rasa.core.actions.action"] = rasa_patches._copies_only_for_debug(action_module)


def copies(level: int) -> dict[str, Any]:
    """At ``level``: whether the patched deepcopy returned the value itself or an equal copy."""
    configure_structlog(level)
    value = {"events": [{"event": "slot", "name": "x", "value": [1, {"a": 2}]}]}
    got = modules["rasa.core.processor"].copy.deepcopy(value)
    return {"same_object": got is value, "equal": got == value, "debug_logged": rasa_patches._debug_logged()}


at_info = copies(logging.INFO)
at_debug = copies(logging.DEBUG)


class Capture:
    """A structlog processor chain end that keeps each entry's event dict."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def __call__(self, _logger: Any, _method: str, event_dict: dict[str, Any]) -> str:
        self.entries.append(copy.deepcopy(event_dict))
        return ""


def debug_entries(copy_module: Any) -> list[dict[str, Any]]:
    """The debug entry memoization writes for a prediction's states (as its line 258 does), at ``DEBUG``, with
    ``copy_module`` as its ``copy``; the states are changed afterwards, as the policy's next steps may."""
    capture = Capture()
    structlog.configure(
        processors=[capture],
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
        cache_logger_on_first_use=False,
    )
    memo = modules["rasa.core.policies.memoization"]
    kept, memo.copy = memo.copy, copy_module
    try:
        states = [{"user": {"intent": "greet"}, "prev_action": {"action_name": "action_listen"}}]
        memo.structlogger.debug("memoization.predict.actions", tracker_states=memo.copy.deepcopy(states))
        states[0]["user"]["intent"] = "changed"
    finally:
        memo.copy = kept
    return capture.entries


entries_patched = debug_entries(rasa_patches._DebugCopies())
entries_rasa = debug_entries(copy)

domains = {
    "empty": Domain.empty(),
    "from_empty_dict": Domain.from_dict({}),
    "one_intent": Domain.from_dict({"intents": ["greet"]}),
    "project": Domain.load(str(ROOT / "domain.yml")),
}
is_empty = {name: [bool(original_is_empty(d)), bool(d.is_empty()), bool(d.is_empty())] for name, d in domains.items()}

print(
    json.dumps(
        {
            "before": before,
            "after": after,
            "checks": checks,
            "at_info": at_info,
            "at_debug": at_debug,
            "entries_patched": entries_patched,
            "entries_rasa": entries_rasa,
            "is_empty": is_empty,
            "is_empty_patched": Domain.is_empty is not original_is_empty,
        },
        default=str,
    )
)
