"""Every hand-off sends the staff-only ``handoff`` payload with ticket, reason and summary (docs/CONTRACTS.md)."""

from __future__ import annotations

from typing import Any

import pytest

from actions.handoff import ActionHandoff
from tests.actions.helpers import grant, make_tracker, run


def payload_of(messages: list[dict[str, Any]]) -> dict[str, Any]:
    [payload] = [m["custom"] for m in messages if (m.get("custom") or {}).get("type") == "handoff"]
    return payload


def offered(response: str, text: str) -> list[dict[str, Any]]:
    """The customer said something, then the bot answered with ``response``."""
    return [
        {"event": "user", "text": "earlier", "parse_data": {"intent": {"name": "track_order"}}},
        {"event": "bot", "text": text, "metadata": {"utter_action": response}},
    ]


@pytest.mark.parametrize(
    ("intent", "events", "reason"),
    [
        ("human_handoff", [], "customer asked for a person"),
        ("complaint", [], "complaint"),
        (
            "human_handoff",
            offered("utter_offer_handoff_after_fallback", "I'm still not sure I understand, sorry."),
            "the assistant misunderstood twice",
        ),
        (
            "human_handoff",
            offered("utter_tracking_problem", "I'm really sorry: your parcel is lost in transit. Would you like"),
            "lost parcel",
        ),
        (
            "human_handoff",
            offered("utter_tracking_problem", "I'm really sorry: your parcel is delayed. Would you like"),
            "delayed parcel",
        ),
        (
            "human_handoff",
            offered("utter_return_not_eligible", "I can't start a return for order ORD-100007: the window closed"),
            "customer disputes a refused return",
        ),
    ],
)
async def test_each_kind_of_handoff_carries_its_reason(store, domain, intent, events, reason) -> None:
    tracker = make_tracker(intent=intent, text="a person please", events=events)
    out = await run(ActionHandoff(), tracker, domain)
    payload = payload_of(out.messages)
    assert payload["reason"] == reason
    [ticket] = [t for t in store.handoffs() if t.ticket_number == payload["ticket"]]
    assert ticket.reason == reason and ticket.summary == payload["summary"]
    assert payload["order_number"] is None and "customer" not in payload


async def test_a_verified_customer_and_order_are_in_the_payload(store, cases, domain) -> None:
    number = grant(store, cases["lost_parcel"])
    earlier = [{"event": "user", "text": "where is my parcel", "parse_data": {"intent": {"name": "track_order"}}}]
    tracker = make_tracker(intent="human_handoff", text="a person", slots={"order_number": number}, events=earlier)
    out = await run(ActionHandoff(), tracker, domain)
    payload = payload_of(out.messages)
    assert out.responses[0] == "utter_handoff"  # the customer's sentence comes first
    assert payload["order_number"] == number
    assert payload["customer"].startswith("verified customer #")
    assert "where is my parcel" in payload["summary"]
    [ticket] = [t for t in store.handoffs() if t.ticket_number == payload["ticket"]]
    assert ticket.customer_id is not None and f"#{ticket.customer_id}" in payload["customer"]
