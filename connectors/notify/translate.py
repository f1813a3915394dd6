"""Carrier webhook quirks in pure functions: the HMAC signature and the event body -> `CarrierEvent`."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from connectors import safejson
from connectors.web.translate import WebInputError

SIGNATURE_HEADER = "X-Carrier-Signature"
#: What carriers call the events we tell customers about -> our kind.
EVENT_ALIASES = {
    "delayed": "delayed",
    "delay": "delayed",
    "exception": "delayed",
    "out_for_delivery": "out_for_delivery",
    "delivered": "delivered",
    "refund_issued": "refund_issued",
    "refunded": "refund_issued",
}


@dataclass(frozen=True)
class CarrierEvent:
    """One status change the carrier (or the shop's payment system) reports."""

    order_number: str
    kind: str
    event_id: str | None = None


def sign(secret: str, body: bytes) -> str:
    """The header value a carrier sends: ``sha256=<hex HMAC-SHA256 of the raw body>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    """Check the signature header against the body in constant time (a missing header is wrong)."""
    if not header:
        return False
    return hmac.compare_digest(sign(secret, body).encode(), header.strip().encode())


def parse_event(body: bytes) -> CarrierEvent:
    """Turn a webhook body into an event.

    The body is JSON ``{"order_number": "ORD-100234", "event": "out_for_delivery", "event_id": "..."}``;
    ``event`` accepts ``out-for-delivery``/``OUT FOR DELIVERY`` spellings and a few carrier aliases.

    Raises:
        WebInputError: 400 for anything else, with a code saying what is wrong.
    """
    try:
        data = safejson.loads(body)
    except safejson.JsonRejected as exc:
        raise WebInputError(400, "malformed_json", f"the body must be a UTF-8 JSON object ({exc})") from None
    if not isinstance(data, dict):
        raise WebInputError(400, "malformed_json", "the body must be a JSON object")
    order = data.get("order_number")
    if not isinstance(order, str) or not order.strip() or len(order) > 40:
        raise WebInputError(400, "invalid_field", "order_number must be a short string", field="order_number")
    raw_kind = data.get("event")
    if not isinstance(raw_kind, str):
        raise WebInputError(400, "invalid_field", "event must be a string", field="event")
    key = "_".join(raw_kind.strip().lower().replace("-", " ").split())
    kind = EVENT_ALIASES.get(key)
    if kind is None:
        known = ", ".join(sorted(set(EVENT_ALIASES.values())))
        raise WebInputError(400, "unknown_event", f"event must be one of {known}", field="event")
    event_id = data.get("event_id")
    if event_id is not None and (not isinstance(event_id, (str, int)) or len(str(event_id)) > 60):
        raise WebInputError(400, "invalid_field", "event_id must be a short string", field="event_id")
    return CarrierEvent(order.strip(), kind, str(event_id) if event_id is not None else None)
