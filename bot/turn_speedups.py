"""Rasa 3.6 fixes that take CPU out of every turn, whatever its length; applied when the rasa process imports `bot`.

Found by profiling rasa on the turn bench's conversations (bench/turn_bench.py), each doing the same work again:

* Graph runs. Every parse and every prediction runs rasa's model graph through dask, which first recomputes the
  sub-graph the targets need (recursively, without memo), builds a dask graph and schedules it. The runner now
  plans the sub-graph once per target list and calls the nodes in order, with dask's argument rules (a node gets
  ``(name, output)`` of each node it needs, or the name of one nobody provided).
* Rule keys. The rule policy decodes a rule's JSON key for every rule it checks against every state it looks at
  (hundreds of ``json.loads`` a prediction). Decoded keys are now kept (callers get a copy of the list). Finding the
  rules that fit the conversation (``_get_possible_keys``, ~5 % of rasa's CPU in the turn bench) decoded, copied
  and reversed each rule for every state it was checked against, and compared states many rules share once per
  rule: rules are now prepared once, a shared state is compared once per conversation state, and the walk stops
  when no remaining rule reaches further back (the same set of rules).
* Action calls. Rasa opens a new HTTP session, and a new TCP connection, for every call to the action server. Each
  endpoint now keeps one session for the process; idle connections are dropped after 2 s, sooner than the action
  server (Sanic: 5 s) or the load balancer drop theirs, so a request never goes out on a connection being closed.
  The session encodes request bodies with ``bot.tracker_speedups.encode_action_call`` (events already encoded
  are put in as they are; the bytes are ``json.dumps``'s).

And one fix that keeps answers when an action server goes away: rasa made one attempt per action call, so an
action server that died (or restarted) mid-call lost that turn's answer. A call that could not reach a working
action server (connection refused or dropped, 502/503 from a balancer) is now sent again for up to
``ACTION_RETRY_SECONDS`` (default 30: a database restart), and so is one that failed inside the action server
(500: its database restarting left the customer with an empty answer in bench/fault_bench.py). The action server
answers 503 for a failure a resend can get past (actions/guard.py: its database restarting), with the apology the
customer gets if the retries run out in its body. An action call whose retries ran out is answered by that apology,
or, when no action server answered at all, by ``UNREACHED_APOLOGY``: rasa's own handling (log the error, drop the
action's events) left the customer with no answer.

tests/bot/test_turn_speedups.py checks each against rasa's own behaviour.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import time
from typing import Any, Dict, List, Tuple

from bot.tracker_speedups import encode_action_call

logger = logging.getLogger(__name__)

#: Seconds an idle connection to the action server is kept (below Sanic's keep-alive timeout of 5 s).
KEEPALIVE_SECONDS = 2.0
#: How long a call that could not reach a working endpoint is sent again (``ACTION_RETRY_SECONDS``).
RETRY_SECONDS = 30.0
_UNREACHED = frozenset({502, 503})
#: What the customer reads when an action call's retries ran out and no action server gave an apology to send.
UNREACHED_APOLOGY = (
    "Sorry, something went wrong on my side while I was doing that, and I couldn't finish it. "
    "Please try again in a moment."
)

_original: Dict[str, Any] = {}


# ----------------------------------------------------------------------------------------- graph runs


def _plan(runner: Any, targets: Tuple[str, ...]) -> List[Tuple[str, Any, Tuple[str, ...]]]:
    """The nodes ``targets`` need, each after the nodes it needs: ``(name, node, names it needs)``."""
    schema = runner._graph_schema
    order: List[Tuple[str, Any, Tuple[str, ...]]] = []
    seen: set = set()

    def visit(name: str) -> None:
        if name in seen or name not in schema.nodes:  # inputs are not nodes
            return
        seen.add(name)
        needs = tuple(schema.nodes[name].needs.values())
        for dependency in needs:
            visit(dependency)
        order.append((name, runner._instantiated_nodes[name], needs))

    for target in targets:
        visit(target)
    return order


def _run(self: Any, inputs: Dict[str, Any] | None = None, targets: List[str] | None = None) -> Dict[str, Any]:
    """Rasa's ``DaskGraphRunner.run`` (3.6.21) without dask: the same nodes, the same arguments, the same result."""
    from rasa.engine.exceptions import GraphRunError

    run_targets = tuple(targets if targets else self._graph_schema.target_names)
    plans = self.__dict__.setdefault("_shop_plans", {})
    plan = plans.get(run_targets)
    if plan is None:
        plan = plans[run_targets] = _plan(self, run_targets)
    values: Dict[str, Any] = {}
    nodes = {name for name, _, _ in plan}
    for input_name, input_value in (inputs or {}).items():
        if isinstance(input_value, str) and input_value in nodes:
            raise GraphRunError(
                f"Input value '{input_value}' clashes with a node name. Make sure that none of the input names "
                f"passed to the `run` method are the same as node names in the graph schema."
            )
        values[input_name] = (input_name, input_value)
    try:
        for name, node, needs in plan:
            values[name] = node(*(values.get(dependency, dependency) for dependency in needs))
    except RuntimeError as error:
        raise GraphRunError("Error running runner.") from error
    return dict(values[target] for target in run_targets)


# ----------------------------------------------------------------------------------------- rule keys


@functools.lru_cache(maxsize=4096)
def _decoded_rule_key(rule_key: str) -> Any:
    return _original["_rule_key_to_state"](rule_key)


def _rule_key_to_state(rule_key: str) -> Any:
    """Rasa's ``RulePolicy._rule_key_to_state`` (``json.loads``), decoded once per key; a new list for the caller.

    Rasa 3.6.21 reads the states it gets (``_is_rule_applicable`` reverses a copy, the loop check reads the last);
    the list is copied so a caller reordering it cannot change the kept one.
    """
    return list(_decoded_rule_key(rule_key))


#: Rule states as :func:`_possible_keys` compares them, one object per distinct state (see ``_prepared_rule``).
_rule_states: Dict[Any, Any] = {}


@functools.lru_cache(maxsize=8192)
def _prepared_rule(rule_key: str) -> Tuple[Tuple[bool, Any], ...]:
    """A rule's states, latest first, each as ``(has a previous action, ((state type, ((key, value), ...)), ...))``.

    Values are what ``RulePolicy._does_rule_match_state`` compares (a list turned into a tuple). Equal states of
    different rules are one object, so a call of :func:`_possible_keys` compares each distinct state once.
    """
    from rasa.shared.core.constants import PREVIOUS_ACTION

    prepared = []
    for rule_state in reversed(_decoded_rule_key(rule_key)):
        items = tuple(
            (
                state_type,
                tuple((key, tuple(value) if isinstance(value, list) else value) for key, value in sub_state.items()),
            )
            for state_type, sub_state in rule_state.items()
        )
        with contextlib.suppress(TypeError):  # a value with a list inside is not shared: compared on its own
            items = _rule_states.setdefault(items, items)
        prepared.append((bool(rule_state.get(PREVIOUS_ACTION)), items))
    return tuple(prepared)


def _matches(rule_state: Any, conversation_state: Dict[str, Any], should_not_be_set: str) -> bool:
    """``RulePolicy._does_rule_match_state`` on a prepared rule state (the same conditions, in the same order)."""
    for state_type, items in rule_state:
        conversation_sub_state = conversation_state.get(state_type, {})
        for key, value_from_rules in items:
            value_from_conversation = conversation_sub_state.get(key)
            if (
                value_from_rules
                and value_from_rules != should_not_be_set
                and value_from_conversation != value_from_rules
            ) or (
                value_from_rules == should_not_be_set
                and value_from_conversation
                and value_from_conversation != should_not_be_set
            ):
                return False
    return True


def _possible_keys(self: Any, lookup: Dict[str, str], states: List[Dict[str, Any]]) -> set:
    """Rasa's ``RulePolicy._get_possible_keys``: the rules whose states fit the conversation's, the same set.

    Rasa checks every remaining rule against each state, newest first, decoding and reversing the rule for every check
    (``_is_rule_applicable``). Here each rule is prepared once (:func:`_prepared_rule`), a rule state shared by many
    rules is compared once per conversation state, and the walk stops once no remaining rule is that long (rasa's
    loop keeps every rule shorter than the turn index). A subclass that changes either check gets rasa's loop.
    """
    from rasa.core.policies.rule_policy import RulePolicy
    from rasa.shared.core.constants import PREVIOUS_ACTION, SHOULD_NOT_BE_SET

    cls = type(self)
    if (
        cls._is_rule_applicable is not RulePolicy._is_rule_applicable
        or cls._does_rule_match_state is not RulePolicy._does_rule_match_state
    ):
        return _original["_get_possible_keys"](self, lookup, states)
    possible = {key: _prepared_rule(key) for key in lookup}
    longest = max((len(rule) for rule in possible.values()), default=0)
    for turn_index, state in enumerate(reversed(states)):
        if turn_index >= longest:
            break  # every remaining rule is applicable from here on
        has_previous = bool(state.get(PREVIOUS_ACTION))
        verdicts: Dict[int, bool] = {}
        kept = {}
        for key, rule in possible.items():
            if turn_index >= len(rule):
                kept[key] = rule
                continue
            rule_has_previous, rule_state = rule[turn_index]
            if not rule_has_previous and not has_previous:
                kept[key] = rule
            elif not rule_has_previous or not has_previous:
                continue
            else:
                verdict = verdicts.get(id(rule_state))
                if verdict is None:
                    verdict = verdicts[id(rule_state)] = _matches(rule_state, state, SHOULD_NOT_BE_SET)
                if verdict:
                    kept[key] = rule
        possible = kept
        longest = max((len(rule) for rule in possible.values()), default=0)
    return set(possible)


# ----------------------------------------------------------------------------------------- action calls


class _KeptSession:
    """What ``EndpointConfig.session()`` returns: ``async with`` gives the endpoint's kept session, never closes it."""

    def __init__(self, config: Any) -> None:
        self._config = config

    async def __aenter__(self) -> Any:
        return kept_session(self._config)

    async def __aexit__(self, *exc: object) -> None:
        return None


def kept_session(config: Any) -> Any:
    """The ``aiohttp.ClientSession`` this endpoint uses in the running event loop (made by rasa's own ``session``)."""
    import aiohttp
    from rasa.utils.endpoints import DEFAULT_REQUEST_TIMEOUT

    loop = asyncio.get_running_loop()
    kept = config.__dict__.get("_shop_session")
    if kept is None or kept[0] is not loop or kept[1].closed:
        basic = config.basic_auth
        # rasa's own session settings, with a connector that drops idle connections before the server does
        session = aiohttp.ClientSession(
            headers=config.headers,
            auth=aiohttp.BasicAuth(basic["username"], basic["password"]) if basic else None,
            timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
            connector=aiohttp.TCPConnector(keepalive_timeout=KEEPALIVE_SECONDS),
            json_serialize=encode_action_call,
        )
        kept = (loop, session)
        config.__dict__["_shop_session"] = kept
    return kept[1]


def _session(self: Any) -> _KeptSession:
    return _KeptSession(self)


#: Read by bot.tracker_speedups (which this module imports, so it cannot import this one back): the installed session
#: property encodes request bodies with ``encode_action_call``.
_session.encodes_action_calls = True  # type: ignore[attr-defined]


async def _request(self: Any, *args: Any, **kwargs: Any) -> Any:
    """Rasa's ``EndpointConfig.request``, sent again when it did not reach a working endpoint (see above)."""
    import aiohttp
    from rasa.utils.endpoints import ClientResponseError

    deadline = time.monotonic() + _retry_seconds()
    delay = 0.2
    while True:
        try:
            return await _original["request"](self, *args, **dict(kwargs))
        except aiohttp.ClientConnectionError as error:
            reason: Any = error
        except ClientResponseError as error:
            if error.status not in _UNREACHED and error.status != 500:
                raise
            reason = error
        if time.monotonic() + delay > deadline:
            fallback = _fallback_answer(kwargs.get("json"), reason)
            if fallback is None:
                raise reason
            logger.error(
                "%s did not answer in %.0f s (%s); the customer gets an apology", self.url, _retry_seconds(), reason
            )
            return fallback
        logger.warning("%s did not answer (%s); sending again in %.1f s", self.url, reason, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 2.0)


def _fallback_answer(call: Any, reason: Any) -> Dict[str, Any] | None:
    """The answer to give an action call whose retries ran out, or None for a request that is no action call.

    The action server's 503 carries the apology fitted to the customer (actions/guard.py) in an action server's
    answer format; anything else that failed (no connection, a balancer's 502/503 page, a bare 500) gets
    ``UNREACHED_APOLOGY`` (no "talk to a person" button: the hand-off is an action too).
    """
    import json

    if not isinstance(call, dict) or not isinstance(call.get("next_action"), str):
        return None
    text = getattr(reason, "text", None)
    try:
        body = json.loads(text) if isinstance(text, (str, bytes)) and text else None
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("responses"), list) and body["responses"]:
        return {"events": [], "responses": body["responses"]}
    return {"events": [], "responses": [{"text": UNREACHED_APOLOGY}]}


def _retry_seconds() -> float:
    raw = os.environ.get("ACTION_RETRY_SECONDS", "").strip()
    try:
        return float(raw) if raw else RETRY_SECONDS
    except ValueError:
        return RETRY_SECONDS


# ----------------------------------------------------------------------------------------- install


def _targets() -> Dict[str, Tuple[Any, str, Any]]:
    from rasa.core.policies.rule_policy import RulePolicy
    from rasa.engine.runner.dask import DaskGraphRunner
    from rasa.utils.endpoints import EndpointConfig

    return {
        "run": (DaskGraphRunner, "run", _run),
        "_rule_key_to_state": (RulePolicy, "_rule_key_to_state", staticmethod(_rule_key_to_state)),
        "_get_possible_keys": (RulePolicy, "_get_possible_keys", _possible_keys),
        "session": (EndpointConfig, "session", _session),
        "request": (EndpointConfig, "request", _request),
    }


def apply() -> None:
    """Install the replacements (idempotent)."""
    for name, (cls, attribute, replacement) in _targets().items():
        if name not in _original:
            raw = cls.__dict__[attribute]
            _original[name] = raw.__func__ if isinstance(raw, staticmethod) else raw
        setattr(cls, attribute, replacement)


def install_originals() -> None:
    """Put rasa's own methods back (tests compare both; :func:`apply` installs the replacements again)."""
    for name, (cls, attribute, _) in _targets().items():
        if name in _original:
            raw = cls.__dict__.get(attribute)
            setattr(cls, attribute, staticmethod(_original[name]) if isinstance(raw, staticmethod) else _original[name])
