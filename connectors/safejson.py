"""Bounded JSON decoding for every body and frame the gateway reads (web, tablet, console, carrier, Telegram, Slack).

``json.loads`` alone turns hostile input into errors nobody maps: JSON nested a few thousand levels deep
raises ``RecursionError``, an integer of 4,300+ digits raises a bare ``ValueError`` (Python's int-size
guard), ``NaN``/``Infinity`` are accepted though JSON has no such values. :func:`loads` turns each of these
into one :class:`JsonRejected` with a sentence the caller puts in its 400 answer.
"""

from __future__ import annotations

import json
import math

#: Deeper than anything a client or platform sends us (Slack's block payloads stay under 12 levels).
MAX_DEPTH = 64
#: Longer integers than any id or amount we accept (Telegram ids have ~13 digits).
MAX_INT_DIGITS = 40


class JsonRejected(ValueError):
    """The text is not JSON we accept; ``str(exc)`` says why, for the client."""


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise JsonRejected(f"a number has more than {MAX_INT_DIGITS} digits")
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonRejected("a number is too large")
    return value


def _parse_constant(name: str) -> float:
    raise JsonRejected(f"{name} is not a JSON value")


def loads(raw: bytes | str, *, max_depth: int = MAX_DEPTH) -> object:
    """Decode UTF-8 JSON with limits on nesting and number size.

    Args:
        raw: a request body (bytes, must be UTF-8) or a WebSocket text frame.
        max_depth: deepest nesting of arrays and objects accepted.

    Returns:
        The decoded value.

    Raises:
        JsonRejected: not UTF-8, not JSON, nested deeper than ``max_depth``, a huge number or NaN/Infinity.
    """
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise JsonRejected("the body must be UTF-8 encoded JSON") from None
    try:
        value = json.loads(
            text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant
        )
    except JsonRejected:
        raise
    except json.JSONDecodeError as exc:
        raise JsonRejected(f"malformed JSON: {exc.msg} at position {exc.pos}") from None
    except RecursionError:
        raise JsonRejected(f"JSON nested more than {max_depth} levels deep") from None
    except ValueError:  # anything else the decoder refuses (a defensive net, never seen with the hooks above)
        raise JsonRejected("malformed JSON") from None
    if _depth_over(value, max_depth):
        raise JsonRejected(f"JSON nested more than {max_depth} levels deep")
    return value


def _depth_over(value: object, limit: int) -> bool:
    """Whether ``value`` nests containers more than ``limit`` levels (iterative: no recursion to exhaust)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: list[object] = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False
