"""action_continue_goal: each goal answered from the store for a verified order, nothing without one."""

from __future__ import annotations

from typing import Any

import pytest

from actions.goals import ActionContinueGoal
from store.errors import VerificationFailed
from tests.actions.helpers import Outcome, grant, make_tracker, run

ACTION = ActionContinueGoal()


async def continue_goal(store, case: dict[str, Any], goal: str, domain, **slots: Any) -> Outcome:
    number = grant(store, case)
    tracker = make_tracker(slots={"order_number": number, "proof": "verified", "goal": goal, **slots})
    return await run(ACTION, tracker, domain)


async def test_in_transit_order_gets_status_carrier_tracking_and_eta(store, cases, domain) -> None:
    case = cases["in_transit"]
    out = await continue_goal(store, case, "track", domain)
    assert out.responses == ["utter_tracking"]
    msg = out.message("utter_tracking")
    info = store.tracking("web:test-conversation", case["order_number"])
    assert msg["tracking_number"] == info.tracking_number
    assert msg["carrier"] == info.carrier
    assert "Estimated delivery" in msg["eta_text"]


@pytest.mark.parametrize(
    ("name", "offer"), [("delayed", "utter_tracking_delayed"), ("lost_parcel", "utter_tracking_lost")]
)
async def test_delayed_or_lost_parcel_gets_an_apology_and_a_person(store, cases, domain, name, offer) -> None:
    out = await continue_goal(store, cases[name], "track", domain)
    assert out.responses == ["utter_tracking", offer]
    assert "person" in domain["responses"][offer][0]["buttons"][0]["title"]
    assert out.slots()["last_question"] == "offer_handoff"  # a typed "yes please" then means a person


async def test_delivered_order_says_when(store, cases, domain) -> None:
    out = await continue_goal(store, cases["returnable"], "track", domain)
    assert out.responses == ["utter_tracking_delivered"]


async def test_unshipped_order_says_it_has_not_shipped(store, cases, domain) -> None:
    out = await continue_goal(store, cases["placed"], "track", domain)
    assert out.responses == ["utter_order_not_shipped"]


async def test_cancel_of_unshipped_order_asks_for_confirmation(store, cases, domain) -> None:
    out = await continue_goal(store, cases["placed"], "cancel", domain)
    assert out.messages == []
    assert out.followup() == "cancel_form"


async def test_cancel_of_shipped_order_is_refused_with_the_reason(store, cases, domain) -> None:
    out = await continue_goal(store, cases["shipped"], "cancel", domain)
    assert out.responses == ["utter_cancel_refused"]
    assert "shipped" in out.message("utter_cancel_refused")["reason"]
    assert out.followup() is None


async def test_address_change_before_shipping_asks_for_the_address(store, cases, domain) -> None:
    out = await continue_goal(store, cases["placed"], "change_address", domain)
    assert out.followup() == "address_form"


async def test_address_change_after_shipping_is_refused(store, cases, domain) -> None:
    out = await continue_goal(store, cases["in_transit"], "change_address", domain)
    assert out.responses == ["utter_address_refused"]


async def test_invoice_lists_lines_and_totals(store, cases, domain) -> None:
    case = cases["returnable"]
    out = await continue_goal(store, case, "invoice", domain)
    msg = out.message("utter_invoice")
    invoice = store.invoice("web:test-conversation", case["order_number"])
    assert msg["invoice_number"] == invoice.invoice_number
    assert msg["total"] == f"£{invoice.total:,.2f}"
    assert all(line.title in msg["lines"] for line in invoice.lines)


async def test_return_of_eligible_order_starts_the_return_form_when_asked_for(store, cases, domain) -> None:
    number = grant(store, cases["returnable"])
    tracker = make_tracker(
        slots={"order_number": number, "goal": "return"}, intent="return_item", text="I want to return my order"
    )
    out = await run(ACTION, tracker, domain)
    assert out.followup() == "return_form"
    assert out.messages == []


@pytest.mark.parametrize("asked", ["can i still send back stuff", "can I return it?", "is it too late to return it"])
async def test_a_question_about_returning_gets_the_window_and_an_offer_not_a_return(
    store, cases, domain, asked
) -> None:
    number = grant(store, cases["returnable"])
    tracker = make_tracker(slots={"order_number": number, "goal": "return"}, intent="return_item", text=asked)
    out = await run(ACTION, tracker, domain)
    assert out.followup() is None
    assert out.responses == ["utter_offer_return"]
    assert "days left" in out.message("utter_offer_return")["eligibility"]
    assert out.slots()["last_question"] == "offer_return"
    assert store.returns_for("web:test-conversation", number) == []


@pytest.mark.parametrize("name", ["window_expired", "final_sale", "placed"])
async def test_return_of_ineligible_order_says_why(store, cases, domain, name) -> None:
    out = await continue_goal(store, cases[name], "return", domain)
    assert out.responses == ["utter_return_not_eligible"]
    assert out.followup() is None


async def test_return_status_by_rma(store, cases, domain) -> None:
    case = cases["return_requested"]
    out = await continue_goal(store, case, "return_status", domain, rma_number=case["rma_number"])
    assert out.responses == ["utter_return_status"]
    assert out.message("utter_return_status")["rma_number"] == case["rma_number"]


async def test_refund_status_of_refunded_order(store, cases, domain) -> None:
    out = await continue_goal(store, cases["refunded"], "refund_status", domain)
    assert "utter_refund_status" in out.responses
    assert out.message("utter_refund_status")["status_text"] == "it's been paid out"


async def test_refund_request_without_refund_explains_the_way_to_one(store, cases, domain) -> None:
    out = await continue_goal(store, cases["placed"], "refund", domain)
    assert out.responses == ["utter_no_refund"]
    assert "cancel" in out.message("utter_no_refund")["detail"]


async def test_failed_payment_explains_state_and_next_step(store, cases, domain) -> None:
    out = await continue_goal(store, cases["payment_failed"], "payment", domain)
    msg = out.message("utter_payment_info")
    assert msg["status_text"] == "failed"
    assert msg["detail"]


@pytest.mark.parametrize("goal", ["track", "cancel", "invoice", "return", "refund_status", "payment"])
async def test_nothing_is_said_about_an_unverified_order(store, cases, domain, goal) -> None:
    case = cases["in_transit"]
    tracker = make_tracker(slots={"order_number": case["order_number"], "proof": "verified", "goal": goal})
    out = await run(ACTION, tracker, domain)
    assert out.responses == ["utter_ask_order_number"]
    assert out.events == []
    text = repr(out.messages)
    assert case["postcode"] not in text and "tracking" not in text


async def test_locked_conversation_is_offered_a_person(store, cases, domain) -> None:
    case = cases["in_transit"]
    for _ in range(3):
        with pytest.raises(VerificationFailed):
            store.verify("web:test-conversation", case["order_number"], "wrong@example.com")
    tracker = make_tracker(slots={"order_number": case["order_number"], "goal": "track"})
    out = await run(ACTION, tracker, domain)
    assert out.responses == ["utter_verification_locked"]
