"""The classes of message a retrained NLU (the round of nlu_data/nlu/other_companies.yml, short_requests.yml, ...)
moved in whole conversations that passed before it, one test per class, each checked with the intents NLU now
guesses near its threshold: a person turned down though filed as asking for one, "it's not here" / "not showing
on my card" after a delivered order or a paid-out refund filed as tracking, "when does it arrive" after tracking
filed as a return's status, and "I'll think about it" at the offer of a return filed as a yes."""

from __future__ import annotations

import pytest

from actions.follow_up import ActionFollowUp
from actions.goals import ActionContinueGoal
from actions.handoff import ActionHandoff
from store.service import OrderStore
from tests.actions.helpers import grant, make_tracker, run

SENDER = "web:test-conversation"


# --------------------------------------------------------------------------------- people


@pytest.mark.parametrize("intent", ["human_handoff", "complaint"])
@pytest.mark.parametrize(
    "text", ["no I don't want a person, just tell me the new date", "I don't need anyone, when will it arrive?"]
)
async def test_a_person_turned_down_where_nlu_asked_for_one(store: OrderStore, cases, domain, intent, text) -> None:
    """ "no I don't want a person, just tell me the new date" after the offer of a person on a late parcel, filed
    as a request for one, opened a ticket; the refusal is read in action_handoff too and the question answered."""
    number = grant(store, cases["delayed"])
    slots = {"order_number": number, "topic": "track", "goal": "track", "proof": "verified",
             "last_question": "offer_handoff"}  # fmt: skip
    out = await run(ActionHandoff(), make_tracker(intent=intent, text=text, slots=slots), domain)
    assert "utter_handoff" not in out.responses and "utter_complaint" not in out.responses, out.responses
    assert "handoff_ticket" not in out.slots(), out.events
    assert out.responses == ["utter_tracking_eta"], out.responses


async def test_a_bare_no_to_the_person_filed_as_asking_for_one(store: OrderStore, cases, domain) -> None:
    """ "no I don't want a person" with nothing more, filed as a hand-off: no ticket, the plain "no person"."""
    number = grant(store, cases["delayed"])
    slots = {"order_number": number, "topic": "track", "proof": "verified", "last_question": "offer_handoff"}
    text = "no I don't want a person"
    out = await run(ActionHandoff(), make_tracker(intent="human_handoff", text=text, slots=slots), domain)
    assert out.responses == ["utter_no_person"], out.responses
    assert "handoff_ticket" not in out.slots(), out.events


# --------------------------------------------------------------------------------- something that has not come


@pytest.mark.parametrize("intent", ["track_order", "return_status", "refund_status"])
@pytest.mark.parametrize(
    "text", ["I'm telling you it's not here. checked with the neighbours and everything", "it never arrived"]
)
async def test_not_here_after_a_delivered_order_filed_as_an_order_request(store, cases, domain, intent, text):
    """ "I'm telling you it's not here" after "delivered on ...", filed as tracking it, got the status again: a
    statement that a delivered parcel has not come is the dispute whatever order request NLU filed it under."""
    number = grant(store, cases["returnable"])
    slots = {"order_number": number, "topic": "track", "goal": "track", "proof": "verified"}
    out = await run(ActionContinueGoal(), make_tracker(intent=intent, text=text, slots=slots), domain)
    assert out.responses == ["utter_delivered_not_received"], out.responses
    assert out.slots().get("last_question") == "offer_handoff"


@pytest.mark.parametrize("intent", ["track_order", "refund_status", "payment_problem"])
@pytest.mark.parametrize("text", ["it's not showing on my card though", "still not in my bank account"])
async def test_not_showing_after_a_paid_refund_filed_as_an_order_request(store, cases, domain, intent, text):
    """ "it's not showing on my card though" after "it's been paid out", filed as tracking the order, got its
    delivery: a refund not seen is a refund question (the bank's time, then a person)."""
    number = grant(store, cases["refunded"])
    slots = {"order_number": number, "topic": "refund", "goal": "refund_status", "proof": "verified"}
    out = await run(ActionContinueGoal(), make_tracker(intent=intent, text=text, slots=slots), domain)
    assert out.responses == ["utter_refund_not_arrived"], out.responses


async def test_where_is_it_after_tracking_an_order_on_its_way_is_still_tracking(store, cases, domain) -> None:
    """The dispute needs a delivered order: "it's not here yet" about one on its way gets its status."""
    number = grant(store, cases["in_transit"])
    slots = {"order_number": number, "topic": "track", "goal": "track", "proof": "verified"}
    text = "it's not here yet"
    out = await run(ActionContinueGoal(), make_tracker(intent="track_order", text=text, slots=slots), domain)
    assert "utter_delivered_not_received" not in out.responses, out.responses


# --------------------------------------------------------------------------------- when it arrives


@pytest.mark.parametrize("intent", ["return_status", "refund_status", "return_item"])
@pytest.mark.parametrize("text", ["back. when does it arrive", "so when will it get here?"])
async def test_when_it_arrives_after_tracking_filed_as_another_goal(store, cases, domain, intent, text) -> None:
    """ "back. when does it arrive" after the status of a shipped order, filed as a return's status, got "there's
    no return on order ...": a delivery question naming nothing of another goal is about the order tracked."""
    number = grant(store, cases["shipped"])
    slots = {"order_number": number, "topic": "track", "goal": "track", "proof": "verified"}
    out = await run(ActionContinueGoal(), make_tracker(intent=intent, text=text, slots=slots), domain)
    assert out.responses == ["utter_tracking_eta"], out.responses


@pytest.mark.parametrize(
    ("intent", "text"),
    [("return_item", "could she send it back when it arrives?"), ("cancel_order", "can I cancel it?")],
)
async def test_another_goals_question_after_tracking_is_still_that_goal(store, cases, domain, intent, text) -> None:
    """A question that names another goal ("send it back", "cancel") after tracking is left to that goal."""
    number = grant(store, cases["shipped"])
    slots = {"order_number": number, "topic": "track", "goal": "track", "proof": "verified"}
    out = await run(ActionContinueGoal(), make_tracker(intent=intent, text=text, slots=slots), domain)
    assert "utter_tracking_eta" not in out.responses, out.responses


# --------------------------------------------------------------------------------- not yet


@pytest.mark.parametrize("text", ["ok good to know, I'll think about it", "ok maybe later", "I'll have a think"])
async def test_thinking_about_it_at_the_offer_of_a_return_is_no_yes(store, cases, domain, text: str) -> None:
    """ "ok good to know, I'll think about it" after "Would you like me to start a return?", filed as a yes,
    started the return (and "bye" then landed in its item question): putting it off is a no for now."""
    number = grant(store, cases["returnable"])
    slots = {"order_number": number, "topic": "return", "proof": "verified", "last_question": "offer_return"}
    out = await run(ActionFollowUp(), make_tracker(intent="affirm", text=text, slots=slots), domain)
    assert out.followup() != "return_form", out.events
    assert out.responses == ["utter_no_return"], out.responses
