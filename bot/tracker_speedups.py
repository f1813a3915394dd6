"""Rasa 3.6 fixes that keep a turn's cost flat as a conversation grows; applied when the rasa process imports `bot`.

Profiled on a 200-turn conversation (bench/long_conversation.py), these things in rasa grow with the length of the
conversation on every turn, on top of the tracker store (bot/tracker_store.py):

* ``Event.resolve_by_type`` walks every subclass of ``Event`` (with ``inspect.isabstract`` on each) for every event
  it deserialises: ~0.2 ms an event, for every row the tracker store loads and every event an action returns.
  Found classes are now remembered (unknown names still take rasa's path and its error).
* ``DialogueStateTracker.copy`` replays every event into a new tracker; rasa copies the tracker before each action.
  The copy now takes the tracker's state directly: the same events, slots, loop and latest action.
* ``applied_events`` (the events that still count after rewinds and form loops) walks the whole conversation, seven
  times a turn. It is now extended with the new events; the walk starts over when the history changed otherwise or
  a form not seen before appears (rasa's rule looks at every form name in the conversation).
* ``past_states`` (what the policies predict from) replays the whole conversation to rebuild every past state, five
  times a turn. States are now computed once per conversation and extended with the new events; a conversation
  whose history changed in any other way (a rewind, a restart, another tracker) is computed from scratch. While a
  policy predicts, it gets the trailing states it can look at (``policy_window``), not all of them: the rule
  policy then compares its rules with those instead of formatting and scanning the whole conversation.

* the action server gets the whole tracker, every event of the session, with every action call (~1.5 kB an event
  to encode, send and decode). It now gets the events of the last ``ACTION_TRACKER_TURNS`` customer messages
  (default 10; 0 sends all, as rasa does); slots, the latest message, the active form and the latest action are
  complete as before (docs/CONTRACTS.md).
* those events were encoded to JSON again on every call (``as_dict`` and ``json.dumps``, ~9 % of rasa's CPU in the
  turn bench), though most of them are already in the tracker store. An event the tracker store saved now goes to
  the action server as the JSON the store wrote for it (:func:`remember_stored`): what rasa's own SQL store, which
  reads every turn's events back from the database, and another replica would send. Events not saved yet are
  encoded as before. The same for the domain, sent whole with every call (40 kB): encoded once per domain. The
  request body is byte for byte rasa's (:func:`encode_action_call`).

Each of the other replacements gives rasa's own result; tests/bot/test_tracker_speedups.py compares them on real
conversations.
"""

from __future__ import annotations

import contextvars
import copy
import functools
import json
import os
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, Deque, Dict, List, Tuple, Type

#: How many conversations' computed states a rasa process keeps (least recently used are dropped first).
STATES_CACHE_SIZE = 2000
#: Checkpoints kept per conversation: a form's next step goes back one or two of them.
CHECKPOINTS = 8
#: Events the running tracker of the states computation keeps (its state is what matters, not its history).
RUNNING_EVENTS = 64
#: Customer messages whose events go to the action server with each call (``ACTION_TRACKER_TURNS``).
DEFAULT_ACTION_TRACKER_TURNS = 10

_original: Dict[str, Any] = {}
#: How often the applied events and the states were continued from the previous call, or rebuilt from scratch.
stats: Dict[str, int] = {"walks_continued": 0, "walks_rebuilt": 0, "states_continued": 0, "states_rebuilt": 0}


# ----------------------------------------------------------------------------------------- event classes


@functools.cache
def _event_class(type_name: str) -> Type[Any] | None:
    from rasa.shared.core.events import Event
    from rasa.shared.utils.common import all_subclasses

    for cls in all_subclasses(Event):
        if cls.type_name == type_name:
            return cls
    return None


def _resolve_by_type(type_name: str, default: Type[Any] | None = None) -> Type[Any] | None:
    """Rasa's ``Event.resolve_by_type`` with found classes remembered."""
    found = _event_class(type_name)
    if found is not None:
        return found
    _event_class.cache_clear()  # a class defined since (a plugin's event) is found next time
    return _original["resolve_by_type"](type_name, default)


# ----------------------------------------------------------------------------------------- tracker copies


def _slot_copy(slot: Any) -> Any:
    """``copy.copy(slot)`` without its generic machinery (slots are plain objects; a turn copies ~30 of them often)."""
    new = object.__new__(type(slot))
    new.__dict__.update(slot.__dict__)
    return new


def state_copy(tracker: Any, *, keep_ids: bool = False) -> Any:
    """A new tracker in the same state as ``tracker``, without replaying its events.

    The events are the same (immutable) objects in a new deque; slots, the active loop and the latest action are
    copied, so changing the copy leaves the original as it was. ``model_id`` and ``assistant_id`` are not part of
    the state (rasa's ``copy`` drops them too) unless ``keep_ids``.

    Args:
        tracker: a ``DialogueStateTracker``.
        keep_ids: keep ``model_id`` and ``assistant_id``.

    Returns:
        The copy.
    """
    from rasa.shared.core.trackers import AnySlotDict

    new = object.__new__(type(tracker))
    new.__dict__.update(tracker.__dict__)
    new.events = tracker._create_events(tracker.events)
    slots = AnySlotDict() if isinstance(tracker.slots, AnySlotDict) else {}
    for name, slot in tracker.slots.items():
        slots[name] = _slot_copy(slot)
    new.slots = slots
    if tracker.active_loop is not None:
        new.active_loop = copy.copy(tracker.active_loop)
    if tracker.latest_action is not None:
        new.latest_action = dict(tracker.latest_action)
    if not keep_ids:
        new.model_id = None
        new.assistant_id = None
    return new


def _copy(self: Any) -> Any:
    """Rasa's ``DialogueStateTracker.copy`` (replay every event) without the replay, for plain trackers."""
    from rasa.shared.core.trackers import DialogueStateTracker

    if type(self) is not DialogueStateTracker:
        return _original["copy"](self)
    return state_copy(self)


# ----------------------------------------------------------------------------------------- applied events


def _extends(sequence: Any, count: int, first: Any, last: Any) -> bool:
    """Whether ``sequence`` still starts with the ``count`` items a walk saw (its first and last, by identity).

    Rasa only appends to a tracker's events, and copies share the event objects, so a history that kept its first
    and its ``count``-th event is the one walked so far plus new events. Deques index fast near either end.
    """
    return 0 < count <= len(sequence) and sequence[0] is first and sequence[count - 1] is last


@dataclass
class _Walk:
    """Rasa's ``applied_events`` loop over a conversation's events so far, paused."""

    count: int = 0
    first: Any = None
    last: Any = None
    applied: List[Any] = field(default_factory=list)
    loop_names: frozenset = frozenset()


_walks: OrderedDict[Any, _Walk] = OrderedDict()


def _applied_events(self: Any) -> List[Any]:
    """Rasa's ``DialogueStateTracker.applied_events`` (3.6.21), continuing from the previous call's walk."""
    from rasa.shared.core.events import (
        ActionExecuted,
        ActionReverted,
        ActiveLoop,
        Restarted,
        SessionStarted,
        UserUtteranceReverted,
        UserUttered,
    )
    from rasa.shared.core.trackers import DialogueStateTracker

    events = self.events
    if type(self) is not DialogueStateTracker or not events:
        return _original["applied_events"](self)
    walk = _walks.pop(self.sender_id, None)
    kept: _Walk | None = None
    if walk is not None and not _extends(events, walk.count, walk.first, walk.last):
        # a shorter tracker of the same conversation (rasa replays a copy after a rewind): leave the walk for the
        # conversation's own tracker
        kept = walk if walk.count > len(events) else None
        walk = None
    start = walk.count if walk is not None else 0
    new = [events[i] for i in range(start, len(events))]
    new_loops = {event.name for event in new if isinstance(event, ActiveLoop) and event.name}
    if walk is None or not new_loops <= walk.loop_names:
        # rasa's rule for a form's steps depends on every form name in the conversation, later ones included
        walk = _Walk(loop_names=frozenset(walk.loop_names if walk else ()) | new_loops)
        new = list(events)
        stats["walks_rebuilt"] += 1
    else:
        stats["walks_continued"] += 1
    applied = walk.applied
    for event in new:
        if isinstance(event, (Restarted, SessionStarted)):
            applied.clear()
        elif isinstance(event, ActionReverted):
            self._undo_till_previous(ActionExecuted, applied)
        elif isinstance(event, UserUtteranceReverted):
            self._undo_till_previous(UserUttered, applied)
            self._undo_till_previous(ActionExecuted, applied)
        elif (
            isinstance(event, ActionExecuted)
            and event.action_name in walk.loop_names
            and not self._first_loop_execution_or_unhappy_path(event.action_name, applied)
        ):
            self._undo_till_previous_loop_execution(event.action_name, applied)
        else:
            applied.append(event)
    walk.count, walk.first, walk.last = len(events), events[0], events[-1]
    _walks[self.sender_id] = kept or walk
    while len(_walks) > STATES_CACHE_SIZE:
        _walks.popitem(last=False)
    return list(applied)


# ----------------------------------------------------------------------------------------- past states


@dataclass
class _Cursor:
    """How far the states of one conversation are computed: rasa's ``states_for_tracker_history`` loop, paused.

    Attributes:
        domain: the domain the states were computed with.
        running: a tracker with the applied events so far (rasa's ``generate_all_prior_trackers`` tracker).
        count: how many applied events ``running`` has seen; ``first`` and ``last`` of them, compared by identity.
        states: the states of every ``ActionExecuted`` seen so far (the loop's non-final states).
        last_ml: the loop's ``last_ml_action_sub_state``.
        hidden: the loop's ``turn_was_hidden``.
    """

    domain: Any
    running: Any
    count: int = 0
    first: Any = None
    last: Any = None
    states: List[Dict[str, Any]] = field(default_factory=list)
    last_ml: Dict[str, Any] | None = None
    hidden: bool = False
    checkpoints: Deque[_Checkpoint] = field(default_factory=lambda: deque(maxlen=CHECKPOINTS))

    def save(self) -> None:
        """Remember where the loop is, to come back here when the applied events shrink (a form's next step)."""
        if self.count and (not self.checkpoints or self.checkpoints[-1].count != self.count):
            self.checkpoints.append(
                _Checkpoint(
                    self.count,
                    self.last,
                    state_copy(self.running, keep_ids=True),
                    len(self.states),
                    self.last_ml,
                    self.hidden,
                )
            )

    def rewind(self, applied: List[Any]) -> bool:
        """Go back to the newest checkpoint ``applied`` still starts with; False when there is none."""
        while self.checkpoints:
            point = self.checkpoints[-1]
            if _extends(applied, point.count, self.first, point.last):
                self.count, self.last = point.count, point.last
                self.running = state_copy(point.running, keep_ids=True)
                del self.states[point.states :]
                self.last_ml, self.hidden = point.last_ml, point.hidden
                return True
            self.checkpoints.pop()
        return False


@dataclass
class _Checkpoint:
    """A paused ``_Cursor``: its position, a copy of its running tracker and how many states it had."""

    count: int
    last: Any
    running: Any
    states: int
    last_ml: Dict[str, Any] | None
    hidden: bool


_cursors: OrderedDict[Tuple[Any, ...], _Cursor] = OrderedDict()
#: How many trailing states the policy predicting right now can look at (None: all); set around each prediction.
_window: contextvars.ContextVar[int | None] = contextvars.ContextVar("shop_states_window", default=None)


def _state_at(
    cursor: _Cursor,
    tracker: Any,
    hide_rule_turn: bool,
    omit_unset_slots: bool,
    ignore_rule_only_turns: bool,
    rule_only_data: Dict[str, Any] | None,
    commit: bool,
) -> Dict[str, Any] | None:
    """One pass of rasa's loop in ``Domain.states_for_tracker_history`` (rasa 3.6.21), same order, same helpers."""
    from rasa.shared.core.constants import PREVIOUS_ACTION

    domain = cursor.domain
    last_ml, hidden = cursor.last_ml, cursor.hidden
    if ignore_rule_only_turns:
        if not hidden:
            last_ml = domain._get_prev_action_sub_state(tracker)
        if not tracker.followup_action and tracker.latest_action_name != tracker.active_loop_name:
            hidden = hide_rule_turn
    if commit:
        cursor.last_ml, cursor.hidden = last_ml, hidden
    if ignore_rule_only_turns and hidden:
        return None
    state = domain.get_active_state(tracker, omit_unset_slots=omit_unset_slots)
    if ignore_rule_only_turns:
        domain._remove_rule_only_features(state, rule_only_data)
        if cursor.states:
            domain._substitute_rule_only_user_input(state, cursor.states[-1])
        if last_ml:
            state[PREVIOUS_ACTION] = last_ml
    return domain._clean_state(state)


def _private(state: Dict[str, Any]) -> Dict[str, Any]:
    """A state whose dicts callers may change in place (featurizers delete user text or intent) without harm."""
    return {key: dict(sub) if isinstance(sub, dict) else sub for key, sub in state.items()}


def _tail_start(states: List[Dict[str, Any]], window: int) -> int:
    """Where the last ``window`` states start, not counting ``action_unlikely_intent`` ones (featurizers drop them)."""
    from rasa.shared.core.constants import ACTION_UNLIKELY_INTENT_NAME, PREVIOUS_ACTION
    from rasa.shared.nlu.constants import ACTION_NAME

    index, needed = len(states), window
    while index > 0 and needed > 0:
        index -= 1
        if (states[index].get(PREVIOUS_ACTION) or {}).get(ACTION_NAME) != ACTION_UNLIKELY_INTENT_NAME:
            needed -= 1
    return index


def _past_states(
    self: Any,
    domain: Any,
    omit_unset_slots: bool = False,
    ignore_rule_only_turns: bool = False,
    rule_only_data: Dict[str, Any] | None = None,
) -> List[Dict[str, Any]]:
    """Rasa's ``DialogueStateTracker.past_states``, continuing from the states computed on the previous call.

    While a policy predicts (:func:`_prediction_states`), only the trailing states it can look at are returned.
    """
    from rasa.shared.core.events import ActionExecuted
    from rasa.shared.core.trackers import DialogueStateTracker

    if type(self) is not DialogueStateTracker:  # training trackers cache their states their own way
        return _original["past_states"](self, domain, omit_unset_slots, ignore_rule_only_turns, rule_only_data)
    applied = self.applied_events()
    key = (
        self.sender_id,
        id(domain),
        omit_unset_slots,
        ignore_rule_only_turns,
        None if rule_only_data is None else repr(sorted(rule_only_data.items())),
    )
    cursor = _cursors.pop(key, None)
    if cursor is not None and (
        cursor.domain is not domain
        or (
            cursor.count
            and not _extends(applied, cursor.count, cursor.first, cursor.last)
            # a form's next step takes its previous step's turns out of the applied events
            and not cursor.rewind(applied)
        )
    ):
        cursor = None
    if cursor is None:
        running = self.init_copy()
        # the running tracker only needs its state: rasa never reads its events while making states
        running.events = deque(maxlen=RUNNING_EVENTS)
        running._max_event_history = RUNNING_EVENTS
        cursor = _Cursor(domain=domain, running=running)
        stats["states_rebuilt"] += 1
    else:
        stats["states_continued"] += 1
    if len(applied) > cursor.count:
        cursor.save()
    for index in range(cursor.count, len(applied)):
        event = applied[index]
        if isinstance(event, ActionExecuted):
            state = _state_at(
                cursor,
                cursor.running,
                event.hide_rule_turn,
                omit_unset_slots,
                ignore_rule_only_turns,
                rule_only_data,
                commit=True,
            )
            if state is not None:
                cursor.states.append(state)
        cursor.running.update(event)
    if applied:
        cursor.count, cursor.first, cursor.last = len(applied), applied[0], applied[-1]
    final = _state_at(
        cursor, cursor.running, False, omit_unset_slots, ignore_rule_only_turns, rule_only_data, commit=False
    )
    _cursors[key] = cursor
    while len(_cursors) > STATES_CACHE_SIZE:
        _cursors.popitem(last=False)
    window = _window.get()
    start = 0 if window is None else _tail_start(cursor.states, window)
    states = [_private(state) for state in cursor.states[start:]]
    if final is not None:
        states.append(final)
    return states


def policy_window(policy: Any) -> int | None:
    """How many trailing states ``policy`` can look at when it predicts, or None when it may look at all of them.

    * ``RulePolicy`` compares each rule with the end of the conversation, state by state, and a rule that matched as
      far back as it is long matches (``_is_rule_applicable``): states older than its longest rule change nothing.
    * ``MemoizationPolicy`` and any policy with a ``MaxHistoryTrackerFeaturizer`` cut the states to ``max_history``.

    Two states more than that are kept. Any other policy sees every state.
    """
    from rasa.core.featurizers.tracker_featurizers import MaxHistoryTrackerFeaturizer
    from rasa.core.policies.memoization import AugmentedMemoizationPolicy
    from rasa.core.policies.rule_policy import RULES, RULES_FOR_LOOP_UNHAPPY_PATH, RulePolicy

    if "_shop_states_window" in policy.__dict__:
        return policy.__dict__["_shop_states_window"]
    window: int | None = None
    if isinstance(policy, RulePolicy):
        lookup = getattr(policy, "lookup", None) or {}
        lengths = [
            len(policy._rule_key_to_state(key))
            for table in (RULES, RULES_FOR_LOOP_UNHAPPY_PATH)
            for key in lookup.get(table, {})
        ]
        window = max(lengths, default=0) + 2
    elif not isinstance(policy, AugmentedMemoizationPolicy):  # it predicts from cut-down copies of the tracker
        featurizer = getattr(policy, "featurizer", None)
        if isinstance(featurizer, MaxHistoryTrackerFeaturizer) and featurizer.max_history:
            window = featurizer.max_history + 2
    policy.__dict__["_shop_states_window"] = window
    return window


def _prediction_states(self: Any, *args: Any, **kwargs: Any) -> List[Dict[str, Any]]:
    """Rasa's ``Policy._prediction_states`` with :func:`_past_states` limited to what this policy looks at."""
    token = _window.set(policy_window(self))
    try:
        return _original["_prediction_states"](self, *args, **kwargs)
    finally:
        _window.reset(token)


def forget_states() -> None:
    """Drop every computed state (tests; a new model's domain also starts afresh on its own)."""
    _cursors.clear()
    _walks.clear()


# ----------------------------------------------------------------------------------------- action calls


def recent_events(events: Any, turns: int) -> List[Any]:
    """The events of the last ``turns`` customer messages, from the ``action_listen`` before the first of them.

    Args:
        events: a tracker's events, oldest first.
        turns: how many customer messages to cover (0 or less: all events).

    Returns:
        The events, oldest first; all of them when the conversation has fewer messages.
    """
    from rasa.shared.core.constants import ACTION_LISTEN_NAME
    from rasa.shared.core.events import ActionExecuted, UserUttered

    if turns <= 0:
        return list(events)
    window: List[Any] = []
    users = 0
    backwards = reversed(events)
    for event in backwards:
        window.append(event)
        if isinstance(event, UserUttered):
            users += 1
            if users >= turns:
                before = next(backwards, None)
                if isinstance(before, ActionExecuted) and before.action_name == ACTION_LISTEN_NAME:
                    window.append(before)
                break
    window.reverse()
    return window


#: Attribute the tracker store sets on an event it saved: ``(id(event), the JSON text it stored)``.
_STORED = "_shop_stored_json"


def remember_stored(event: Any, text: str) -> None:
    """Note that ``text`` (``json.dumps(event.as_dict())``) is what the tracker store wrote for ``event``.

    The note is on the event and names the event's id: a copy of the event (``copy.copy`` copies attributes) is
    not taken for the saved one.
    """
    event.__dict__[_STORED] = (id(event), text)


def event_json(event: Any) -> str:
    """``json.dumps(event.as_dict())``: the text the tracker store saved for it, or encoded now if it has none."""
    stored = event.__dict__.get(_STORED)
    if stored is not None and stored[0] == id(event):
        return stored[1]
    return json.dumps(event.as_dict())


class Encoded:
    """A part of an action call already encoded to JSON; only :func:`encode_action_call` can put it in a body.

    Not a list or a dict, so that any other encoder fails loudly (``TypeError``) instead of sending something else.
    """

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    @classmethod
    def events(cls, events: List[Any]) -> Encoded:
        """``events`` as a JSON array, each event as :func:`event_json` has it."""
        return cls("[" + ", ".join(event_json(event) for event in events) + "]")

    @classmethod
    def domain(cls, domain: Any) -> Encoded:
        """``json.dumps(domain.as_dict())``, encoded once per domain (40 kB, ~1.8 ms, on every action call).

        Rasa builds a domain's ``as_dict()`` (``_data``) once, when the domain is made, and never changes it; a new
        model brings a new domain. The text is kept on the domain with the id of that dict.
        """
        data = domain.as_dict()
        kept = domain.__dict__.get("_shop_json")
        if kept is None or kept[0] is not data:
            kept = (data, json.dumps(data))
            domain.__dict__["_shop_json"] = kept
        return cls(kept[1])


def encode_action_call(body: Any) -> str:
    """``json.dumps(body)`` (what aiohttp sends for ``json=body``), with :class:`Encoded` parts put in as they are.

    ``json.dumps`` encodes an item of a dict or a list the same wherever it is (default separators, no indent), so
    the result is byte for byte ``json.dumps`` of the body with each part decoded. Parts are looked for where
    :func:`_action_call_format` puts them: ``body["domain"]`` and ``body["tracker"]["events"]``.
    """
    if not isinstance(body, dict):
        return json.dumps(body)
    parts: Dict[str, str] = {}

    def marked(value: Any) -> Any:
        if not isinstance(value, Encoded):
            return value
        marker = f"shop-encoded-{uuid.uuid4().hex}"
        parts[json.dumps(marker)] = value.text
        return marker

    tracker = body.get("tracker")
    plain = {key: marked(value) for key, value in body.items()}
    if isinstance(tracker, dict):
        plain["tracker"] = {key: marked(value) for key, value in tracker.items()}
    text = json.dumps(plain)
    for marker, part in parts.items():
        if text.count(marker) != 1:  # a fresh random id: never, but then the slow way
            return json.dumps(_decoded(body))
        text = text.replace(marker, part)
    return text


def _decoded(value: Any) -> Any:
    if isinstance(value, Encoded):
        return json.loads(value.text)
    if isinstance(value, dict):
        return {key: _decoded(item) for key, item in value.items()}
    return value


def _encoded_calls_sent() -> bool:
    """Whether action calls go out through a session that encodes with :func:`encode_action_call`, and no rasa
    plugin rewrites the call's JSON first (it would see the texts)."""
    from rasa.plugin import plugin_manager
    from rasa.utils.endpoints import EndpointConfig

    # bot.turn_speedups marks the session property it installs (it imports this module, so no import back)
    session = EndpointConfig.__dict__.get("session")
    return bool(getattr(session, "encodes_action_calls", False)) and not (
        plugin_manager().hook.prefix_stripping_for_custom_actions.get_hookimpls()
    )


def _action_call_format(self: Any, tracker: Any, domain: Any) -> Dict[str, Any]:
    """Rasa's ``RemoteAction._action_call_format`` (3.6.21) with the events of the last few turns only, saved events
    and the domain encoded once (:class:`Encoded`)."""
    import rasa
    from rasa.shared.core.trackers import EventVerbosity

    turns = _settings["action_tracker_turns"]
    if turns <= 0:
        return _original["_action_call_format"](self, tracker, domain)
    tracker_state = tracker.current_state(EventVerbosity.NONE)
    events = recent_events(tracker.events, turns)
    encoded = _encoded_calls_sent()
    if encoded:
        tracker_state["events"] = Encoded.events(events)
    else:
        tracker_state["events"] = [event.as_dict() for event in events]
    result = {
        "next_action": self._name,
        "sender_id": tracker.sender_id,
        "tracker": tracker_state,
        "version": rasa.__version__,
    }
    if not self._is_selective_domain_enabled() or domain.does_custom_action_explicitly_need_domain(self.name()):
        result["domain"] = Encoded.domain(domain) if encoded else domain.as_dict()
    return result


def _turns_setting() -> int:
    raw = os.environ.get("ACTION_TRACKER_TURNS", "").strip()
    if not raw:
        return DEFAULT_ACTION_TRACKER_TURNS
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"ACTION_TRACKER_TURNS must be a whole number (0 sends every event), got {raw!r}") from None


_settings: Dict[str, Any] = {"action_tracker_turns": DEFAULT_ACTION_TRACKER_TURNS}


# ----------------------------------------------------------------------------------------- install


_REPLACED = {
    ("Event", "resolve_by_type"): "resolve_by_type",
    ("DialogueStateTracker", "copy"): "copy",
    ("DialogueStateTracker", "past_states"): "past_states",
    ("DialogueStateTracker", "applied_events"): "applied_events",
    ("RemoteAction", "_action_call_format"): "_action_call_format",
    ("Policy", "_prediction_states"): "_prediction_states",
}


def _classes() -> Dict[str, Any]:
    from rasa.core.actions.action import RemoteAction
    from rasa.core.policies.policy import Policy
    from rasa.shared.core.events import Event
    from rasa.shared.core.trackers import DialogueStateTracker

    return {
        "Event": Event,
        "DialogueStateTracker": DialogueStateTracker,
        "RemoteAction": RemoteAction,
        "Policy": Policy,
    }


def apply() -> None:
    """Install the replacements (idempotent); reads ``ACTION_TRACKER_TURNS``."""
    _settings["action_tracker_turns"] = _turns_setting()
    classes = _classes()
    ours = {
        "resolve_by_type": staticmethod(_resolve_by_type),
        "copy": _copy,
        "past_states": _past_states,
        "applied_events": _applied_events,
        "_action_call_format": _action_call_format,
        "_prediction_states": _prediction_states,
    }
    for (owner, attribute), name in _REPLACED.items():
        cls = classes[owner]
        if name not in _original:
            _original[name] = cls.__dict__[attribute].__func__ if name == "resolve_by_type" else getattr(cls, attribute)
        setattr(cls, attribute, ours[name])


def install_originals() -> None:
    """Put rasa's own methods back (tests compare both; :func:`apply` installs the replacements again)."""
    classes = _classes()
    for (owner, attribute), name in _REPLACED.items():
        if name in _original:
            method = _original[name]
            setattr(classes[owner], attribute, staticmethod(method) if name == "resolve_by_type" else method)


def original(name: str) -> Any:
    """Rasa's own implementation replaced by :func:`apply` (``resolve_by_type``, ``copy``, ``past_states``,
    ``applied_events``, ``_action_call_format``)."""
    return _original[name]
