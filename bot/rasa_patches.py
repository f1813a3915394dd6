"""Small fixes to rasa 3.6 that matter for speed, applied when the rasa process imports `bot`.

Rasa checks every action-server reply with ``jsonschema.validate(result, schema)``. That call first checks the
(large, constant) events schema against the JSON-Schema meta-schema and builds a new validator, every time:
60-68 ms per custom action on these machines, against under 1 ms with a validator built once
(`bench/turn_bench.py` found it; a form step pays it twice). The patched method validates against the same
schema with the same error (jsonschema's ``best_match``, rasa's message suffix), only without the rebuild.
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


def _validate_action_result(self: Any, result: Dict[str, Any]) -> bool:
    """Rasa's RemoteAction._validate_action_result with the validator built once."""
    from jsonschema.exceptions import best_match
    from rasa.shared.constants import DOCS_BASE_URL

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
