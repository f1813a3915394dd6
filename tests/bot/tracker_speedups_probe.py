"""Runs in the rasa environment for tests/bot/test_tracker_speedups.py; prints one JSON object.

Builds one long conversation from the project's test stories (tests/stories/test_stories.yml, forms included, played
one after another), plus a rewind, a restart and a new session, and grows a tracker through it event by event. At
every point where rasa predicts (before each action) it compares bot/tracker_speedups.py with rasa's own code:

* ``applied_events`` and ``past_states`` (every argument combination the policies use): the same lists;
* ``copy``: the same state (events, slots, loop, latest action, follow-up, paused) as rasa's replaying copy;
* the trained model's policies (``MessageProcessor._predict_next_with_tracker``): the same action, policy and
  confidence, with the speedups' windows on;
* ``recent_events``: the last N customer messages, from the ``action_listen`` before them;
* bot/turn_speedups.py's graph runner: the same parse of every customer message as rasa's dask runner (the
  predictions above run through it too, and rasa's side runs with both modules taken out).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import logging  # noqa: E402

from rasa.utils.log_utils import configure_structlog  # noqa: E402

logging.disable(logging.WARNING)
configure_structlog(logging.WARNING)

from rasa.shared.core.events import (  # noqa: E402
    ActionExecuted,
    Restarted,
    SessionStarted,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity  # noqa: E402

import bot  # noqa: E402,F401  (applies the speedups)
from bot import tracker_speedups as speedups  # noqa: E402
from bot import turn_speedups  # noqa: E402


class rasas_own:  # noqa: N801 (used as a context manager, reads like a phrase)
    """Within the block rasa runs its own code: both speedup modules are taken out."""

    def __enter__(self) -> None:
        speedups.install_originals()
        turn_speedups.install_originals()

    def __exit__(self, *exc: object) -> None:
        speedups.apply()
        turn_speedups.apply()


def story_events(domain: Any) -> list[Any]:
    """Every test story's events in file order, as one conversation."""
    from rasa.shared.core.generator import TrainingDataGenerator
    from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
    from rasa.shared.core.training_data.structures import StoryGraph

    steps = YAMLStoryReader(domain).read_from_file(str(ROOT / "tests" / "stories" / "test_stories.yml"))
    trackers = TrainingDataGenerator(
        StoryGraph(steps), domain, augmentation_factor=0, remove_duplicates=False, use_story_concatenation=False
    ).generate_story_trackers()
    trackers.sort(key=lambda t: t.sender_id)
    events: list[Any] = []
    for tracker in trackers:
        events += list(tracker.events)
    return events


def with_surprises(events: list[Any]) -> list[Any]:
    """The conversation with a rewind a third in, a restart half-way and a new session at two thirds."""
    third, half = len(events) // 3, len(events) // 2
    rewind = [UserUttered("never mind", {"name": "greet", "confidence": 1.0}), UserUtteranceReverted()]
    session = [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]
    return (
        events[:third]
        + rewind
        + events[third:half]
        + [Restarted(), ActionExecuted("action_listen")]
        + events[half : 2 * third]
        + session
        + events[2 * third :]
    )


def original_copy_state(tracker: Any) -> Any:
    return speedups.original("copy")(tracker)


def state_of(tracker: Any) -> dict[str, Any]:
    return {
        "current": tracker.current_state(EventVerbosity.ALL),
        "slots": {name: slot.value for name, slot in tracker.slots.items()},
        "followup": tracker.followup_action,
        "paused": tracker.is_paused(),
        "latest_bot": str(tracker.latest_bot_utterance),
    }


#: RulePolicy's lookups of rules (``RULES``, ``RULES_FOR_LOOP_UNHAPPY_PATH``)
RULE_LOOKUPS = ("rules", "rules_for_loop_unhappy_path")


def rule_policy(agent: Any) -> Any:
    from rasa.core.policies.rule_policy import RulePolicy

    nodes = agent.processor.graph_runner._instantiated_nodes.values()
    (policy,) = [node._component for node in nodes if isinstance(node._component, RulePolicy)]
    return policy


def rule_keys(policy: Any, tracker: Any, domain: Any, counts: dict[str, int]) -> list[str]:
    """bot/turn_speedups.py's ``_get_possible_keys`` against rasa's, on the rule policy's full states (both lookups,
    with the text of the last message and with its intent)."""
    mismatches = []
    for use_text in (False, True):
        with rasas_own():
            states = policy._prediction_states(tracker, domain, use_text, rule_only_data=policy._get_rule_only_data())
            theirs = {name: policy._get_possible_keys(policy.lookup[name], states) for name in RULE_LOOKUPS}
        ours = {name: policy._get_possible_keys(policy.lookup[name], states) for name in RULE_LOOKUPS}
        counts["rule_lookups"] = counts.get("rule_lookups", 0) + len(ours)
        counts["rules_found"] = counts.get("rules_found", 0) + sum(len(keys) for keys in ours.values())
        mismatches.extend(
            f"possible rule keys ({name}, text {use_text})" for name in ours if ours[name] != theirs[name]
        )
    return mismatches


def compare(domain: Any, events: list[Any], agent: Any) -> dict[str, Any]:
    tracker = DialogueStateTracker("probe-conversation", domain.slots)
    rule_only = {"slots": ["requested_slot"], "active_loops": ["verify_order_form"]}
    arguments = [(False, False, None), (True, False, None), (False, True, rule_only), (False, True, None)]
    counts = {"points": 0, "predictions": 0, "copies": 0}
    mismatches: list[str] = []
    for index, event in enumerate(events):
        if isinstance(event, ActionExecuted) and tracker.events:
            counts["points"] += 1
            ours, theirs = tracker.applied_events(), speedups.original("applied_events")(tracker)
            if ours != theirs:
                mismatches.append(f"applied_events differ before event {index}")
            for omit, ignore, data in arguments:
                ours = tracker.past_states(domain, omit, ignore, data)
                theirs = speedups.original("past_states")(tracker, domain, omit, ignore, data)
                if ours != theirs:
                    mismatches.append(f"past_states{(omit, ignore, bool(data))} differ before event {index}")
            if index % 5 == 0:
                counts["copies"] += 1
                if state_of(tracker.copy()) != state_of(original_copy_state(tracker)):
                    mismatches.append(f"copy differs before event {index}")
            if agent is not None:
                # each on its own copy: a prediction consumes the tracker's follow-up action
                counts["predictions"] += 1
                ours_p = agent.processor._predict_next_with_tracker(original_copy_state(tracker))
                with rasas_own():
                    theirs_p = agent.processor._predict_next_with_tracker(original_copy_state(tracker))
                ours_key = (
                    domain.action_names_or_texts[ours_p.max_confidence_index],
                    ours_p.policy_name,
                    round(ours_p.max_confidence, 6),
                )
                theirs_key = (
                    domain.action_names_or_texts[theirs_p.max_confidence_index],
                    theirs_p.policy_name,
                    round(theirs_p.max_confidence, 6),
                )
                if ours_key != theirs_key:
                    mismatches.append(f"prediction before event {index}: ours {ours_key}, rasa's {theirs_key}")
                mismatches.extend(
                    f"{m} before event {index}" for m in rule_keys(rule_policy(agent), tracker, domain, counts)
                )
        tracker.update(event)
    return {"counts": counts, "mismatches": mismatches[:20], "events": len(events)}


async def parses(agent: Any) -> dict[str, Any]:
    """The same parse (intent, ranking, entities) through the plain graph runner as through dask."""
    import re

    from rasa.core.channels.channel import UserMessage

    held_out = (ROOT / "tests" / "nlu" / "test_messages.yml").read_text(encoding="utf-8")
    # every fifth example of the held-out file, annotations removed: "[ORD-1](order_number)" -> "ORD-1"
    lines = [
        line.strip()[2:] for line in held_out.splitlines() if line.strip().startswith("- ") and "intent:" not in line
    ]
    texts = [re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", line) for line in lines[::5]]
    differ = []
    for text in texts:
        ours = await agent.processor.parse_message(UserMessage(text))
        with rasas_own():
            theirs = await agent.processor.parse_message(UserMessage(text))
        if json.dumps(ours, sort_keys=True, default=str) != json.dumps(theirs, sort_keys=True, default=str):
            differ.append(text)
    return {"texts": len(texts), "differ": differ}


def windows(events: list[Any]) -> dict[str, Any]:
    users = [e for e in events if isinstance(e, UserUttered)]
    window = speedups.recent_events(events, 3)
    return {
        "users_in_window": sum(isinstance(e, UserUttered) for e in window),
        "starts_with_listen": isinstance(window[0], ActionExecuted) and window[0].action_name == "action_listen",
        "ends_like_events": window[-1] is events[-1],
        "all_when_zero": len(speedups.recent_events(events, 0)) == len(events),
        "users": len(users),
    }


async def main() -> None:
    from rasa.core.agent import load_agent

    agent = await load_agent(model_path=str(ROOT / "models" / "current.tar.gz"))
    domain = agent.domain
    stories = story_events(domain)
    events = with_surprises(stories + stories)  # twice: long enough for every policy window to cut
    speedups.forget_states()
    result = compare(domain, events, agent)
    result["stats"] = speedups.stats
    result["windows"] = windows(events)
    result["parses"] = await parses(agent)
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
