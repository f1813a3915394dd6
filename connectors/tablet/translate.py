"""Pure translation for the in-store tablet: API JSON <-> the normalized model, staff calls, wording."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from connectors.alerts import StaffAlert
from connectors.models import InboundMessage, OutboundMessage
from connectors.rich import custom_type, page_json
from connectors.text import clean_typed_text
from connectors.web.translate import WebInputError, WebLimits
from connectors.web.translate import inbound_from_json as web_inbound_from_json

CHANNEL = "tablet"
# Placeholder conversation id for the web validator; the tablet's real id is the server-made session.
_VALIDATION_ID = "tablet-session"

CALLED = (
    "I've called a colleague: someone is on their way to you now. Please stay here by the tablet. (Ticket {ticket})"
)
QUEUED = (
    "I've asked for a member of staff to come to you: your call is at the top of the team's queue (ticket {ticket}). "
    "Please stay here by the tablet; if it's urgent, the till can help straight away."
)
ALREADY_CALLED = (
    "A colleague has already been called to this tablet (ticket {ticket}) and will come to you as soon as they "
    "can. Please stay here by the tablet; if it's urgent, the till can help straight away."
)
TOO_MANY_CALLS = (
    "This tablet has called our team several times in the last hour, so I haven't called again. Please ask at "
    "the till and they'll help you straight away."
)
NOT_CALLED = (
    "I'm sorry, I couldn't reach a colleague from here just now. Please ask at the till and they'll "
    "help you straight away. (Ticket {ticket})"
)


def bearer_token(header: str | None) -> str | None:
    """The device token in an ``Authorization: Bearer <token>`` header, or None when absent/blank."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def conversation_id(session_id: str) -> str:
    """The rasa conversation (and grant holder) of a tablet session: ``tablet:<session id>``, as
    ``InboundMessage.conversation_id`` makes it."""
    return f"{CHANNEL}:{session_id}"


def parse_session_id(value: object) -> str:
    """Validate the ``session_id`` a page sends back (it was made by the server).

    Raises:
        WebInputError: 400 naming ``session_id``.
    """
    if value is None or value == "":
        raise WebInputError(400, "missing_field", "session_id is required", field="session_id")
    if not isinstance(value, str) or len(value) > 64:
        raise WebInputError(400, "invalid_field", "session_id must be the id the server gave", field="session_id")
    return value


#: The kiosk page's fixed buttons ("Recommend something", "Call a staff member"): always pressable.
QUICK_PAYLOADS = frozenset({"/recommend_product", "/human_handoff"})


def stock_question_payload(product: str) -> str:
    """The payload the gateway builds for "Is <product> in stock here?" (the product is JSON-escaped)."""
    return "/check_stock" + json.dumps({"product": product}, ensure_ascii=False, separators=(",", ":"))


def inbound_from_json(body: object, limits: WebLimits, *, session_id: str, store_id: str) -> InboundMessage:
    """Build the tablet's InboundMessage from ``{"session_id", "text"}``, ``{"session_id", "payload", "title"?}``
    or ``{"session_id", "stock_question": "<product>"}``.

    Text and payloads follow the web channel's rules (cleaned text, payloads start with ``/``; the dispatcher
    forwards a payload only if the assistant offered it, else reads the button's ``title``). A stock question
    ("is this in stock here?" with the product typed) becomes a ``check_stock`` payload built here, so the
    page never composes a payload with entities itself. The shop comes from the device token (``store_id``),
    never from the body: any ``store_id``, ``metadata`` or ``channel`` a page sends is ignored.

    Args:
        body: the decoded JSON body.
        limits: message limits.
        session_id: the validated, live session id.
        store_id: the device's shop.

    Returns:
        The message for channel ``tablet`` with metadata ``{"store_id": store_id}``.

    Raises:
        WebInputError: 400/413 as for the web channel.
    """
    if not isinstance(body, dict):
        raise WebInputError(400, "invalid_json", "the body must be a JSON object")
    if "stock_question" in body:
        if "text" in body or "payload" in body:
            raise WebInputError(400, "invalid_field", "send stock_question alone", field="stock_question")
        asked = web_inbound_from_json({"text": body["stock_question"]}, limits, conversation_id=_VALIDATION_ID)
        product = asked.text or ""
        return InboundMessage(
            CHANNEL,
            session_id,
            text=product,
            payload=stock_question_payload(product),
            metadata={"store_id": store_id},
            payload_from_gateway=True,
        )
    content = {key: body[key] for key in ("text", "payload") if key in body}
    checked = web_inbound_from_json(content, limits, conversation_id=_VALIDATION_ID)
    title = body.get("title")
    if title is not None and (checked.payload is None or not isinstance(title, str)):
        raise WebInputError(400, "invalid_field", "title goes with a payload only, as a string", field="title")
    shown = clean_typed_text(title)[: limits.max_message_chars] if isinstance(title, str) else None
    return InboundMessage(
        CHANNEL,
        session_id,
        text=(shown or None) if checked.payload is not None else checked.text,
        payload=checked.payload,
        metadata={"store_id": store_id},
    )


@dataclass(frozen=True, slots=True)
class StaffCall:
    """A ``staff_call`` payload from the actions (docs/CONTRACTS.md, "Custom payloads")."""

    store_id: str
    ticket: str
    summary: str


def staff_call_of(message: OutboundMessage) -> StaffCall | None:
    """The staff call a bot message carries, or None when it is anything else."""
    custom = message.custom
    if custom is None or custom_type(message) != "staff_call":
        return None
    return StaffCall(
        store_id=str(custom.get("store_id") or ""),
        ticket=str(custom.get("ticket") or "without a number"),
        summary=str(custom.get("summary") or ""),
    )


def staff_alert(
    call: StaffCall, *, store_id: str, store_name: str, device_name: str, conversation_id: str
) -> StaffAlert:
    """The alert staff get: which shop and tablet, the ticket and what the shopper asked so far.

    ``store_id`` is the device's own shop: the tablet trusts its token, not the payload's field.
    """
    text = f'A shopper at the "{device_name}" tablet in {store_name} ({store_id}) asks for a staff member.'
    if call.summary:
        text += f"\nSo far:\n{call.summary}"
    return StaffAlert(store_id=store_id, text=text, conversation_id=conversation_id, ticket=call.ticket)


def staff_call_reply(call: StaffCall, *, delivered: bool, queued: bool = False) -> OutboundMessage:
    """What the shopper reads: someone is coming (Slack), the team's queue has it (the support console,
    when Slack is off or refused), or (honestly) to ask at the till when neither could take it."""
    template = (QUEUED if queued else CALLED) if delivered else NOT_CALLED
    return OutboundMessage(
        text=template.format(ticket=call.ticket),
        custom={"type": "staff_call_status", "delivered": delivered, "queued": queued, "ticket": call.ticket},
    )


def staff_call_held(ticket: str, *, open_ticket: str | None) -> OutboundMessage:
    """What the shopper reads when a call is not made: this tablet's open call's status (``open_ticket``),
    or, past the tablet's hourly bound, to ask at the till."""
    if open_ticket is not None:
        return OutboundMessage(
            text=ALREADY_CALLED.format(ticket=open_ticket),
            custom={"type": "staff_call_status", "delivered": True, "queued": False, "ticket": open_ticket},
        )
    return OutboundMessage(
        text=TOO_MANY_CALLS,
        custom={"type": "staff_call_status", "delivered": False, "queued": False, "ticket": ticket, "limited": True},
    )


def render_messages(messages: Iterable[OutboundMessage]) -> list[dict[str, Any]]:
    """Bot messages as the kiosk page receives them (the web JSON shape).

    ``product_cards`` payloads stay, checked (``connectors.rich.page_json``): the page draws them as cards, as
    the web widget does, and skips the per-product messages that follow them for channels without cards (their
    text, and the picture rasa sends as a message of its own). ``staff_call`` payloads never reach the page
    (their summary is the conversation, meant for staff); the channel replaces them first.
    """
    out = []
    for data in page_json(messages):
        custom = data.get("custom")
        if isinstance(custom, dict) and custom.get("type") == "staff_call":
            del data["custom"]
        if data:
            out.append(data)
    return out
