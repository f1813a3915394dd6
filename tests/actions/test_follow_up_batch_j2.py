"""The classes of failure the tenth blind batch (tests/conversations/blind_j.yml) showed in conv11b's share of
it, one test per class: the reason for a return given with the items was dropped (so the summary asked why
again and "yes, go ahead" there created nothing)."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import ActionHandoff
from actions.returns import ValidateReturnForm
from tests.actions.helpers import grant, make_tracker, run

SENDER = "web:test-conversation"


def entity(name: str, value: str) -> dict[str, Any]:
    return {"entity": name, "value": value}


# --------------------------------------------------------------------------------- returns


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("All of the items, please. Unfortunately the sizes were not as described.", "sizes were not as described"),
        ("ok back to the return - all of it, it irritated my skin", "it irritated my skin"),
        ("everything, because it arrived damaged", "arrived damaged"),
    ],
)
def test_a_reason_given_with_the_items_is_kept(store, cases, text, reason) -> None:
    """The summary then asks for the yes to the whole return, not the reason again."""
    number = grant(store, cases["returnable"])
    lines = store.return_eligibility(SENDER, number).returnable_lines
    tracker = make_tracker(slots={"order_number": number}, active_loop="return_form", text=text)
    out = ValidateReturnForm().validate_return_items(text, CollectingDispatcher(), tracker, {})
    assert out["return_items"] == ",".join(str(line.line_id) for line in lines)
    assert reason in (out.get("return_reason") or ""), out


@pytest.mark.parametrize("text", ["all of them", "all of them please, thanks", "ok, all the items"])
def test_a_pick_alone_is_no_reason(store, cases, text) -> None:
    number = grant(store, cases["returnable"])
    tracker = make_tracker(slots={"order_number": number}, active_loop="return_form", text=text)
    out = ValidateReturnForm().validate_return_items(text, CollectingDispatcher(), tracker, {})
    assert out["return_items"] and out.get("return_reason") is None, out


# --------------------------------------------------------------------------------- details with a person


@pytest.mark.parametrize(
    ("intent", "text"),
    [
        ("complaint", "THIRD time your courier has 'tried' to deliver and I was IN ALL DAY. Order {n}. Useless."),
        ("human_handoff", "no I don't want a person, just tell me the new date. {n} {e}"),
    ],
)
async def test_an_order_given_with_a_complaint_or_a_no_to_a_person_is_checked(store, cases, domain, intent, text):
    """The order's details are never dropped for the offer of a person (or for "no problem, anything else?")."""
    case = cases["delayed"]
    text = text.format(n=case["order_number"], e=case["email"])
    entities = [entity("order_number", case["order_number"])]
    if case["email"] in text:
        entities.append(entity("email", case["email"]))
    slots = {"topic": "handoff", "last_question": "offer_handoff"} if intent == "human_handoff" else {}
    tracker = make_tracker(intent=intent, text=text, entities=entities, slots=slots)
    out = await run(ActionHandoff(), tracker, domain)
    assert out.responses == [], out.responses
    assert out.followup() == "verify_order_form"
    assert out.slots()["order_number"] == case["order_number"] and out.slots()["goal"] == "track"
    assert store.current_handoff(SENDER) is None


async def test_a_proof_after_a_complaint_about_a_named_order_goes_on_with_the_check(store, cases, domain) -> None:
    case = cases["delayed"]
    slots = {"order_number": case["order_number"], "goal": "track"}
    tracker = make_tracker(
        intent="complaint", text=case["email"], entities=[entity("email", case["email"])], slots=slots
    )
    out = await run(ActionHandoff(), tracker, domain)
    assert out.followup() == "verify_order_form", out.responses


# --------------------------------------------------------------------------------- order follow-ups


async def test_why_late_while_the_order_answer_offers_a_person_is_answered(store, cases, domain) -> None:
    """ "why is it late anyway" right after a late order's answer (which offers a person) got the offer again."""
    number = grant(store, cases["delayed"])
    slots = {"order_number": number, "topic": "track", "goal": "track", "last_question": "offer_handoff"}
    tracker = make_tracker(intent="complaint", text="why is it late anyway", slots=slots)
    out = await run(ActionHandoff(), tracker, domain)
    assert "utter_complaint_offer" not in out.responses, out.responses
    said = " ".join(str(v) for m in out.messages for v in m.values())
    assert "Delay" in said, (out.messages, out.events)
