"""Store staff on Slack: any order by number without customer proof, recorded; forged or customer metadata never."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.goals import ActionContinueGoal
from actions.identity import VERIFIED, ValidateVerifyOrderForm
from tests.actions.helpers import make_tracker, run

FORM = ValidateVerifyOrderForm()
SENDER = "slack:T0001-U123-1732770000.000100"
STAFF = {"channel": "slack", "staff": {"id": "U123", "role": "staff"}}
CUSTOMER = {"channel": "slack"}


def form_turn(metadata: dict[str, Any], candidates: dict[str, Any], *, input_channel: str | None = None) -> Tracker:
    """A tracker as rasa sends it to the form's validation: slot candidates after the user's message."""
    tracker = make_tracker(
        SENDER,
        slots=dict(candidates),
        active_loop="verify_order_form",
        metadata=metadata,
        input_channel=input_channel,
    )
    tracker.events.extend({"event": "slot", "name": k, "value": v, "timestamp": None} for k, v in candidates.items())
    return tracker


async def validate(tracker: Tracker, domain: dict[str, Any]) -> tuple[dict[str, Any], list[str | None]]:
    """Run the form's validation action the way the SDK does; return the slots it set and the responses."""
    dispatcher = CollectingDispatcher()
    events = await FORM.run(dispatcher, tracker, domain)
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    return slots, [m.get("response") for m in dispatcher.messages]


@pytest.mark.parametrize("role", ["staff", "manager"])
async def test_staff_get_any_order_by_number_without_proof(store, cases, domain, role: str) -> None:
    case = cases["in_transit"]
    metadata = {"channel": "slack", "staff": {"id": "U123", "role": role}}
    slots, responses = await validate(form_turn(metadata, {"order_number": "#" + case["order_number"][4:]}), domain)
    assert slots["order_number"] == case["order_number"]
    assert slots["proof"] == VERIFIED
    assert responses == ["utter_staff_order_access"]
    assert store.is_verified(SENDER, case["order_number"])
    assert [(who, r) for who, r, _ in store.staff_lookups(case["order_number"])] == [("U123", role)]

    answer = await run(
        ActionContinueGoal(),
        make_tracker(SENDER, slots={**slots, "goal": "track"}, metadata=metadata),
        domain,
    )
    assert answer.responses == ["utter_tracking"]
    assert answer.message("utter_tracking")["order_number"] == case["order_number"]


async def test_staff_lookup_names_the_customer_and_the_order(store, cases, domain) -> None:
    case = cases["placed"]
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(SENDER, metadata=STAFF, active_loop="verify_order_form")
    result = FORM.validate_order_number(case["order_number"], dispatcher, tracker, domain)
    assert result == {"order_number": case["order_number"], "proof": VERIFIED}
    message = dispatcher.messages[0]
    assert message["response"] == "utter_staff_order_access"
    assert message["order_number"] == case["order_number"]
    owner = store.verify("web:the-customer", case["order_number"], case["email"])
    assert message["customer_first_name"] == owner.customer_first_name


async def test_an_email_typed_by_staff_is_not_a_proof_attempt(store, cases, domain) -> None:
    case = cases["in_transit"]
    candidates = {"order_number": case["order_number"], "proof": "someone.else@example.com"}
    slots, responses = await validate(form_turn(STAFF, candidates), domain)
    assert slots["proof"] == VERIFIED
    assert responses == ["utter_staff_order_access"]
    assert store.attempts_left(SENDER) == 3


async def test_unknown_order_is_said_plainly_to_staff(store, domain) -> None:
    slots, responses = await validate(form_turn(STAFF, {"order_number": "ORD-199999"}), domain)
    assert slots["order_number"] is None
    assert responses == ["utter_staff_order_not_found"]
    assert store.verified_orders(SENDER) == []


async def test_slack_users_off_the_allowlist_must_verify(store, cases, domain) -> None:
    case = cases["in_transit"]
    slots, responses = await validate(form_turn(CUSTOMER, {"order_number": case["order_number"]}), domain)
    assert slots == {"order_number": case["order_number"], "proof": None}
    assert responses == []
    assert not store.is_verified(SENDER, case["order_number"])
    assert store.staff_lookups(case["order_number"]) == []


@pytest.mark.parametrize(
    ("metadata", "input_channel"),
    [
        (STAFF, "rest"),  # anyone on the host can post staff metadata to Rasa's own REST channel
        ({"channel": "web", "staff": {"id": "U123", "role": "staff"}}, "slack"),  # channels disagree
        ({"channel": "slack", "staff": {"id": "U123", "role": "owner"}}, None),  # a role the store refuses
        ({"channel": "slack", "staff": {"id": "U123"}}, None),  # no role at all
    ],
)
async def test_forged_or_unknown_staff_metadata_gets_the_customer_flow(
    store, cases, domain, metadata: dict[str, Any], input_channel: str | None
) -> None:
    case = cases["in_transit"]
    tracker = form_turn(metadata, {"order_number": case["order_number"]}, input_channel=input_channel)
    slots, responses = await validate(tracker, domain)
    assert slots["proof"] is None
    assert "utter_staff_order_access" not in responses
    assert not store.is_verified(SENDER, case["order_number"])
    assert store.staff_lookups(case["order_number"]) == []
    answer = await run(ActionContinueGoal(), make_tracker(SENDER, slots={**slots, "goal": "track"}), domain)
    assert "utter_tracking" not in answer.responses
