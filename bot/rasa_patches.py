"""Small fixes to rasa 3.6 that matter for speed, applied when the rasa process imports `bot`.

Rasa checks every action-server reply with ``jsonschema.validate(result, schema)``. That call first checks the
(large, constant) events schema against the JSON-Schema meta-schema and builds a new validator, every time:
60-68 ms per custom action on these machines, against under 1 ms with a validator built once
(`bench/turn_bench.py` found it; a form step pays it twice). The patched method validates against the same
schema with the same error (jsonschema's ``best_match``, rasa's message suffix), only without the rebuild.

Even built once, the full validator is 3-6 % of rasa's CPU in the turn bench: every event of a reply is tried
against all 23 ``oneOf`` event schemas. A reply is first checked the short way (:func:`_valid_quickly`), which
says "valid" exactly when the full schema does; anything it does not accept goes through the full validator,
so a bad reply fails with the same error as before.

Rasa 3.6 builds the arguments of its structlog debug entries whether or not debug is logged: in the processor, the
forms and the memoization policy every ``copy.deepcopy`` is such an argument (the events of each action, each
prediction's states, the latest message), about 1.5 % of rasa's CPU in the turn bench, thrown away at ``INFO``.
There those modules get a ``copy`` whose ``deepcopy`` copies only while structlog logs debug entries
(:func:`_debug_logged`); a module where ``copy`` is used for anything else is left as it is
(:func:`_copies_only_for_debug`). And ``Domain.is_empty``, asked of the model's domain for every message, built an
empty domain each time to compare with (0.8 %): its answer is kept with the domain's (never changed) data.
"""

from __future__ import annotations

import ast
import copy
import functools
import inspect
from types import ModuleType
from typing import Any, Dict


@functools.lru_cache(maxsize=1)
def _action_result_validator() -> Any:
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)  # once, instead of on every reply
    return cls(schema)


@functools.lru_cache(maxsize=1)
def _event_validators() -> Dict[str, Any]:
    """One validator per event name: the event schema without its ``oneOf``, and the one option for that name.

    Every ``oneOf`` option of rasa's event schema fixes ``event`` with a ``const``, and the schema requires
    ``event``: an event whose ``event`` is the string ``name`` fails every option but ``name``'s. So it matches
    exactly one option (what ``oneOf`` asks) if and only if it matches ``name``'s option, and it is valid under
    the full schema if and only if it is valid under ``{"allOf": [rest of the schema, name's option]}``. Empty
    (no short way) if the schema ever stops being shaped like that.
    """
    from rasa.core.actions.action import RemoteAction

    full = _action_result_validator()
    schema = RemoteAction.action_response_format_spec()
    events = schema.get("properties", {}).get("events", {})
    event = events.get("items", {})
    if (
        schema.keys() != {"type", "properties"}
        or schema["type"] != "object"
        or schema["properties"].keys() != {"events", "responses"}
        or schema["properties"]["responses"] != {"type": "array", "items": {"type": "object"}}
        or events.keys() != {"type", "items"}
        or events["type"] != "array"
        or "event" not in event.get("required", ())
        or event.get("type") != "object"
        or not isinstance(event.get("oneOf"), list)
    ):
        return {}
    rest = {key: value for key, value in event.items() if key != "oneOf"}
    validators: Dict[str, Any] = {}
    for option in event["oneOf"]:
        const = option.get("properties", {}).get("event", {}).get("const") if isinstance(option, dict) else None
        if not isinstance(const, str) or const in validators:
            return {}
        validators[const] = type(full)({"allOf": [rest, option]})
    return validators


def _valid_quickly(result: Any) -> bool:
    """True only if rasa's action-reply schema accepts ``result`` (False: ask the full validator)."""
    validators = _event_validators()
    if not validators or not isinstance(result, dict):
        return False
    responses = result.get("responses", [])
    if not isinstance(responses, list) or not all(isinstance(response, dict) for response in responses):
        return False
    events = result.get("events", [])
    if not isinstance(events, list):
        return False
    for event in events:
        name = event.get("event") if isinstance(event, dict) else None
        validator = validators.get(name) if isinstance(name, str) else None
        if validator is None or not validator.is_valid(event):
            return False
    return True


def _validate_action_result(self: Any, result: Dict[str, Any]) -> bool:
    """Rasa's RemoteAction._validate_action_result with the validator built once."""
    from jsonschema.exceptions import best_match
    from rasa.shared.constants import DOCS_BASE_URL

    if _valid_quickly(result):
        return True
    error = best_match(_action_result_validator().iter_errors(result))
    if error is not None:
        error.message += (
            ". Failed to validate Action server response from API, "
            "make sure your response from the Action endpoint is valid. "
            f"For more information about the format visit {DOCS_BASE_URL}/custom-actions"
        )
        raise error
    return True


#: rasa modules whose ``copy.deepcopy`` calls only build structlog debug arguments (checked when applied).
DEBUG_COPY_MODULES = ("rasa.core.processor", "rasa.core.actions.forms", "rasa.core.policies.memoization")


def _debug_logged() -> bool:
    """Whether structlog's configured loggers log debug entries.

    rasa (``configure_structlog``) makes its loggers with ``make_filtering_bound_logger(level)``, whose ``debug`` is
    structlog's no-op ``_nop`` above ``DEBUG``. Any other logger class counts as logging debug (copies are made).
    """
    import structlog

    debug = getattr(structlog.get_config().get("wrapper_class"), "debug", None)
    return getattr(debug, "__name__", None) != "_nop"


class _DebugCopies:
    """The ``copy`` module for a rasa module whose deep copies are only ever debug log arguments."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        """``copy.deepcopy(value)`` while debug entries are logged, else ``value`` (the no-op logger drops it)."""
        return copy.deepcopy(value, memo) if _debug_logged() else value


def _copies_only_for_debug(module: ModuleType) -> bool:
    """Whether every use of the name ``copy`` in ``module``'s source is a ``copy.deepcopy(...)`` argument of a
    ``structlogger.debug(...)`` call (and the module's ``copy`` is the ``copy`` module)."""
    if getattr(module, "copy", None) is not copy:
        return False
    tree = ast.parse(inspect.getsource(module))
    in_debug = set()
    for node in ast.walk(tree):
        func = node.func if isinstance(node, ast.Call) else None
        if (
            isinstance(func, ast.Attribute)
            and func.attr == "debug"
            and isinstance(func.value, ast.Name)
            and func.value.id == "structlogger"
        ):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Attribute) and inner.attr == "deepcopy":
                    in_debug.add(id(inner.value))
    uses = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and node.id == "copy" and isinstance(node.ctx, ast.Load)
    ]
    return all(id(node) in in_debug for node in uses)


def _is_empty(self: Any) -> bool:
    """Rasa's ``Domain.is_empty`` (its data equals an empty domain's), answered once per domain data."""
    data = self.as_dict()
    kept = self.__dict__.get("_shop_is_empty")
    if kept is None or kept[0] is not data:
        from rasa.shared.core.domain import Domain

        kept = (data, data == Domain.empty().as_dict())
        self.__dict__["_shop_is_empty"] = kept
    return bool(kept[1])


def apply() -> None:
    """Install the patches (idempotent)."""
    import importlib

    from rasa.core.actions.action import RemoteAction
    from rasa.shared.core.domain import Domain

    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
    Domain.is_empty = _is_empty  # type: ignore[method-assign]
    for name in DEBUG_COPY_MODULES:
        module = importlib.import_module(name)
        if isinstance(getattr(module, "copy", None), _DebugCopies):
            continue
        if _copies_only_for_debug(module):
            module.copy = _DebugCopies()  # type: ignore[attr-defined]
