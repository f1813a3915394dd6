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
"""

from __future__ import annotations

import functools
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


def apply() -> None:
    """Install the patches (idempotent)."""
    from rasa.core.actions.action import RemoteAction

    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
