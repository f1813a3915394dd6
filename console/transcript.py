"""Builds a readable transcript (turns with intents, entities, actions, slots) from a conversation's tracker events."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from connectors.rich import parse_card
from console.redact import redact, redact_proof_answer, redact_value
from console.tracker import FALLBACK_ACTIONS, channel_of
from store.normalize import order_number_value

HIDDEN_ACTIONS = frozenset({"action_listen", "action_session_start"})
HIDDEN_SLOTS = frozenset({"session_started_metadata", "requested_slot"})
#: Slots holding what a customer typed as a proof (or the postcode it proves): never shown redacted-in-part.
PROOF_SLOTS = frozenset({"proof", "ship_postcode"})
HIDDEN_PROOF = "[proof]"
#: Entities and slots whose value is a proof wherever it appears: read as one by the redaction (a bare number).
PROOF_ENTITIES = frozenset({"postcode", "email"})
FALLBACK_INTENT = "nlu_fallback"


def _iso(ts: Any) -> str | None:
    return datetime.fromtimestamp(float(ts), UTC).isoformat(timespec="seconds") if ts else None


def build_transcript(
    sender_id: str,
    events: list[dict[str, Any]],
    *,
    raw_text: bool,
    low_confidence: float,
    corrections: dict[int, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Group tracker events into turns: a user message and what the bot did until the next one.

    Args:
        sender_id: the conversation.
        events: its events in order (rasa's JSON plus ``_id``), from ``tracker.sender_events``.
        raw_text: show text, entity and slot values verbatim (admin) instead of redacted.
        low_confidence: turns whose intent confidence is below this (0..1) are flagged ``low``.
        corrections: console corrections by tracker event id, shown next to the prediction.

    Returns:
        ``{"sender_id", "channel", "turns": [...], "orders": [...]}`` (``orders``: the order numbers the
        ``order_number`` slot held, canonical, nothing else); each turn has ``user``
        (or None before the first message), ``actions``, ``slots``, ``bot``, ``low`` and ``fallback``.
    """
    text_of = (lambda t: t) if raw_text else redact
    # The answer to "your email or postcode?" is read by the bot as a proof in every format it forgives:
    # redacted as such, and the proof slot is never shown (red-team finding F3).
    answer_of = (lambda t: t) if raw_text else redact_proof_answer
    asking: Any = None
    corrections = corrections or {}
    turns: list[dict[str, Any]] = []
    current: dict[str, Any] = {"user": None, "actions": [], "slots": [], "bot": [], "low": False, "fallback": False}
    orders: list[str] = []
    card_images: set[str] = set()
    channel = None
    for event in events:
        kind = event.get("event")
        if kind == "user":
            if current["user"] is not None or current["bot"] or current["slots"] or current["actions"]:
                turns.append(current)
            parse = event.get("parse_data") or {}
            intent = parse.get("intent") or {}
            confidence = intent.get("confidence")
            metadata = event.get("metadata") or {}
            channel = channel or metadata.get("channel")
            text = str(event.get("text") or "")
            proof_answer = asking == "proof"
            entities = [
                {
                    "entity": e.get("entity"),
                    "value": HIDDEN_PROOF
                    if proof_answer and not raw_text
                    else (
                        e.get("value")
                        if raw_text
                        else redact_value(e.get("value"), proof=e.get("entity") in PROOF_ENTITIES)
                    ),
                    "start": e.get("start") if raw_text else None,
                    "end": e.get("end") if raw_text else None,
                    "extractor": e.get("extractor"),
                }
                for e in parse.get("entities") or []
                if isinstance(e, dict)
            ]
            # NLU fell back = a low-confidence prediction; the turn is a fallback only if the bot fell back too.
            low = (isinstance(confidence, int | float) and confidence < low_confidence) or (
                intent.get("name") == FALLBACK_INTENT and not text.startswith("/")
            )
            current = {
                "user": {
                    "event_id": event["_id"],
                    "time": _iso(event.get("timestamp")),
                    "channel": metadata.get("channel") or channel_of(sender_id, None),
                    "text": answer_of(text) if proof_answer else text_of(text),
                    "is_button": text.startswith("/"),
                    "intent": intent.get("name"),
                    "confidence": confidence,
                    "entities": entities,
                    "correction": corrections.get(event["_id"]),
                },
                "actions": [],
                "slots": [],
                "bot": [],
                "low": low,
                "fallback": False,  # set when a fallback action runs, as the list's filter counts it
            }
        elif kind == "action":
            name = event.get("name")
            if name and name not in HIDDEN_ACTIONS:
                current["actions"].append(
                    {"name": name, "policy": event.get("policy"), "confidence": event.get("confidence")}
                )
                if name in FALLBACK_ACTIONS:
                    current["fallback"] = True
        elif kind == "slot":
            name = event.get("name")
            if name == "requested_slot":
                asking = event.get("value")
            if name and name not in HIDDEN_SLOTS:
                value = event.get("value")
                # A form sets the same slot again and again: one line per slot, with the value it ended on.
                current["slots"] = [s for s in current["slots"] if s["name"] != name]
                if name in PROOF_SLOTS and value not in (None, "verified") and not raw_text:
                    shown_value: Any = HIDDEN_PROOF
                else:
                    shown_value = value if raw_text else redact_value(value, proof=name in PROOF_ENTITIES)
                current["slots"].append({"name": name, "value": shown_value})
                # Until the form checks it, the slot holds what was typed at "Which order?" (an email, an
                # address, an id): "orders" lists order numbers in the shop's shape only (the index's rule).
                number = order_number_value(value) if name == "order_number" else None
                if number is not None and number not in orders:
                    orders.append(number)
        elif kind == "bot":
            data = event.get("data") or {}
            custom = data.get("custom")
            text = text_of(str(event.get("text") or ""))
            buttons = [text_of(str(b.get("title", ""))) for b in data.get("buttons") or [] if isinstance(b, dict)]
            note = _what_else(data)
            if not text and not buttons and not note:
                continue  # nothing a person would see: no empty "bot:" line
            if isinstance(custom, dict) and custom.get("type") == "product_cards":
                cards = [parse_card(p) for p in custom.get("products") or []]  # connectors.rich: read once
                card_images.update(card.image for card in cards if card is not None and card.image)
            elif not text and not buttons and data.get("image") in card_images:
                continue  # the picture of a card already listed
            current["bot"].append(
                {
                    "time": _iso(event.get("timestamp")),
                    "text": text,
                    "buttons": buttons,
                    "note": note,
                    "custom_type": custom.get("type") if isinstance(custom, dict) else None,
                    "response": (event.get("metadata") or {}).get("utter_action"),
                }
            )
    if current["user"] is not None or current["bot"] or current["slots"] or current["actions"]:
        turns.append(current)
    return {
        "sender_id": sender_id,
        "channel": channel or channel_of(sender_id, None),
        "turns": turns,
        "orders": orders,
    }


def _what_else(data: dict[str, Any]) -> str:
    """What a bot message showed besides text and buttons, in words (``product cards: A, B``, ``an image``)."""
    custom = data.get("custom")
    if isinstance(custom, dict):
        kind = custom.get("type")
        if kind == "product_cards" and isinstance(custom.get("products"), list):
            titles = [str(p.get("title")) for p in custom["products"] if isinstance(p, dict) and p.get("title")]
            return "product cards: " + ", ".join(titles) if titles else "product cards"
        if kind == "handoff":
            return f"hand-off ticket {custom.get('ticket') or ''}".strip() + " (for staff, not shown to the customer)"
        if kind == "staff_call":
            return f"staff call {custom.get('ticket') or ''}".strip() + " (for staff, not shown to the customer)"
        if kind == "rating_request":
            return "asked the customer to rate the conversation"
        return f"{kind or 'custom'} payload"
    if data.get("image"):
        return "an image"
    if data.get("attachment"):
        return "an attachment"
    return ""


def user_event(events: list[dict[str, Any]], event_id: int) -> dict[str, Any] | None:
    """The ``user`` event with this row id, if it belongs to these events."""
    for event in events:
        if event.get("_id") == event_id and event.get("event") == "user":
            return event
    return None


def entities_json(entities: list[dict[str, Any]]) -> str:
    """Entities as stored on a correction: ``[{"entity", "start", "end"}]`` sorted by position."""
    cleaned = sorted(
        ({"entity": str(e["entity"]), "start": int(e["start"]), "end": int(e["end"])} for e in entities),
        key=lambda e: (e["start"], e["end"]),
    )
    return json.dumps(cleaned)
