"""The classes of failure the sixth blind batch (tests/conversations/blind_f.yml) showed in tracking, returns,
orders and privacy, one test per class: a vague "it hasnt come" not understood, turning a person down read as
asking for one (and the question after the no left unanswered), a question about the order in focus filed as a
complaint, an order number and postcode given with "when will it be delivered" quoted every zone, "any other
orders?" answered with the order in focus, an aside about the proof that changed the goal, a side question that
closed the return offer, "what does 'final sale' mean" unread (quote marks stuck to the words), a damaged item
asked about as tracking, "what's the latest I can cancel it?" answered with the cancel summary, adding to a named
order answered before the order was checked, what a message naming a new order asks of it ignored inside the
check, and "refund or replacement?" answered with the refund time only."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.events import FollowupAction, SlotSet

from actions.follow_up import ActionFollowUp
from actions.goals import ActionContinueGoal
from actions.handoff import ActionHandoff
from actions.returns import ActionReturnPolicy
from actions.shipping import ActionShippingInfo
from tests.actions.helpers import grant, make_tracker, run

SENDER = "web:test-conversation"


def entity(name: str, value: str) -> dict[str, Any]:
    return {"entity": name, "value": value}


def user(text: str, intent: str, entities: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """An earlier customer message as rasa records it."""
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}, "entities": entities or []}}


def slot(name: str, value: Any) -> dict[str, Any]:
    return {"event": "slot", "name": name, "value": value}


# --------------------------------------------------------------------------------- vague openers


@pytest.mark.parametrize("text", ["it hasnt come", "my parcel still isnt here", "it never arrived?!"])
async def test_an_order_that_has_not_come_is_asked_for(store, domain, text: str) -> None:
    """ "it hasnt come" as the first message fell back ("didn't quite understand"): which order, then where."""
    out = await run(ActionFollowUp(), make_tracker(intent="nlu_fallback", text=text), domain)
    assert SlotSet("goal", "track") in out.events and FollowupAction("verify_order_form") in out.events, out.events


async def test_a_refund_that_has_not_come_is_not_a_parcel(store, domain) -> None:
    out = await run(ActionFollowUp(), make_tracker(intent="nlu_fallback", text="my refund hasnt come"), domain)
    assert SlotSet("goal", "track") not in out.events, out.events


# --------------------------------------------------------------------------------- turning a person down


@pytest.mark.parametrize(
    ("text", "refuses"),
    [
        ("no I don't want a person, just tell me the new date", True),
        ("I do not need to speak to anyone", True),
        ("dont want one thanks", True),
        ("no one's come yet", False),
        ("I want a person", False),
        ("can I speak to a manager", False),
    ],
)
def test_turning_a_person_down_is_not_asking_for_one(text: str, refuses: bool) -> None:
    from actions.context import refuses_a_person, wants_a_person

    assert refuses_a_person(text) is refuses
    if refuses:
        assert not wants_a_person(text)


async def test_a_no_to_the_person_that_asks_something_is_answered(store, cases, domain) -> None:
    """ "no I don't want a person, just tell me the new date" after a late parcel opened a ticket."""
    number = grant(store, cases["delayed"])
    slots = {"order_number": number, "topic": "track", "last_question": "offer_handoff", "goal": "track"}
    text = "no I don't want a person, just tell me the new date"
    out = await run(ActionFollowUp(), make_tracker(intent="nlu_fallback", text=text, slots=slots), domain)
    assert out.responses == ["utter_tracking_eta"], out.responses
    assert "new estimated delivery" in out.message("utter_tracking_eta")["eta"].lower()
    assert out.followup() != "action_handoff" and store.current_handoff(SENDER) is None
    assert out.slots().get("last_question") is None


async def test_a_no_to_the_person_then_a_return_question_filed_as_a_return(store, cases, domain) -> None:
    """ "no forget that, can I return it when it comes?" after a refused cancel's offer of a person: "No problem.
    Is there anything else?" left the question unanswered."""
    number = grant(store, cases["shipped"])
    slots = {
        "order_number": number, "topic": "cancel_refused", "last_question": "offer_handoff", "goal": "return",
        "refusal": f"Order {number} has already shipped.",
    }  # fmt: skip
    text = "no forget that, can I return it when it comes?"
    out = await run(ActionContinueGoal(), make_tracker(intent="return_item", text=text, slots=slots), domain)
    assert out.responses == ["utter_return_once_delivered"], out.responses


async def test_a_plain_no_to_the_person_is_still_acknowledged(store, cases, domain) -> None:
    number = grant(store, cases["delayed"])
    slots = {"order_number": number, "topic": "track", "last_question": "offer_handoff"}
    out = await run(ActionFollowUp(), make_tracker(intent="deny", text="no thanks, I'm fine", slots=slots), domain)
    assert out.responses == ["utter_no_person"], out.responses


# --------------------------------------------------------------------------------- a question filed as a complaint


async def test_why_is_it_late_filed_as_a_complaint_is_answered_from_the_order(store, cases, domain) -> None:
    """ "why is it late anyway" after tracking a late parcel got the complaint's apology (or a ticket note)."""
    number = grant(store, cases["delayed"])
    slots = {"order_number": number, "topic": "track", "goal": "track"}
    tracker = make_tracker(intent="complaint", text="why is it late anyway", slots=slots)
    out = await run(ActionHandoff(), tracker, domain)
    assert "utter_complaint_offer" not in out.responses and "utter_complaint" not in out.responses, out.responses
    assert store.current_handoff(SENDER) is None
    said = " ".join(str(v) for m in out.messages for v in m.values())
    assert "Delay" in said, out.messages


async def test_a_grievance_that_is_no_question_still_offers_a_person(store, cases, domain) -> None:
    number = grant(store, cases["delayed"])
    slots = {"order_number": number, "topic": "track"}
    out = await run(ActionHandoff(), make_tracker(intent="complaint", text="this is so annoying", slots=slots), domain)
    assert out.responses == ["utter_complaint_offer"], out.responses


# --------------------------------------------------------------------------------- everything in one breath


async def test_an_order_number_and_postcode_with_when_is_that_orders_tracking(store, cases, domain) -> None:
    """The postcode given as the proof was read as a destination, so every UK delivery option was quoted."""
    case = cases["shipped"]
    text = (
        f"Good afternoon. I placed an order, number {case['order_number']}, and my postcode is {case['postcode']}. "
        "I should be grateful if you could tell me when it will be delivered."
    )
    tracker = make_tracker(
        intent="delivery_time", text=text,
        entities=[entity("order_number", case["order_number"]), entity("postcode", case["postcode"])],
    )  # fmt: skip
    out = await run(ActionShippingInfo(), tracker, domain)
    assert out.responses == [], out.responses
    assert SlotSet("goal", "track") in out.events and FollowupAction("verify_order_form") in out.events, out.events
    to_a_postcode = make_tracker(
        intent="delivery_time", text=f"how long to deliver order {case['order_number']} to SW1A 1AA?",
        entities=[entity("order_number", case["order_number"]), entity("postcode", "SW1A 1AA")],
    )  # fmt: skip
    assert (await run(ActionShippingInfo(), to_a_postcode, domain)).responses, "a destination is still a quote"


# --------------------------------------------------------------------------------- other orders


async def test_other_orders_asked_with_an_order_in_focus(store, cases, domain) -> None:
    """ "do I have any other orders on the way?" (filed as tracking) tracked the order in focus again."""
    case = cases["shipped"]
    store.verify(SENDER, case["order_number"], case["postcode"])
    slots = {"order_number": case["order_number"], "topic": "track", "goal": "track"}
    text = "do I have any other orders on the way?"
    out = await run(ActionContinueGoal(), make_tracker(intent="track_order", text=text, slots=slots), domain)
    assert out.responses == ["utter_other_orders"], out.responses


# --------------------------------------------------------------------------------- why the proof


async def test_why_the_proof_filed_under_a_goal_keeps_the_goal(store, domain) -> None:
    """ "why do you need my email for that?" read as an invoice request: the e-mail then got the invoice."""
    earlier = [user("status", "track_order"), slot("goal", "track"), user("ORD-100174", "inform")]
    # (the intent's mapping set `goal` to invoice after the message: the slot below says so)
    tracker = make_tracker(
        intent="get_invoice", text="why do you need my email for that?", events=earlier,
        slots={"goal": "invoice", "order_number": "ORD-100174"}, active_loop="verify_order_form",
    )  # fmt: skip
    out = await run(ActionFollowUp(), tracker, domain)
    assert out.responses == ["utter_why_proof"], out.responses
    assert out.slots().get("goal") == "track", out.events


# --------------------------------------------------------------------------------- the return offer stands


async def test_a_question_about_the_offered_return_keeps_the_offer_open(store, cases, domain) -> None:
    """ "and how long do refunds take?" after "Would you like me to start a return?": the next "ok yes start it"
    got "What can I help you with?" because the answer closed the offer."""
    number = grant(store, cases["returnable"])
    slots = {"order_number": number, "topic": "return", "last_question": "offer_return", "goal": "return"}
    text = "and how long do refunds take once you get it back?"
    out = await run(ActionReturnPolicy(), make_tracker(intent="return_policy", text=text, slots=slots), domain)
    assert out.responses == ["utter_return_refund_time"], out.responses
    assert "last_question" not in out.slots(), out.events  # unchanged: still the offer


# --------------------------------------------------------------------------------- what a word means


def test_quote_marks_are_not_part_of_words() -> None:
    from actions.context import has, words

    assert words("What does 'final sale' mean, don't?") == ["what", "does", "final", "sale", "mean", "don't"]
    assert has("What does ‘final sale’ mean", "final sale")


async def test_what_final_sale_means_after_a_refused_return(store, cases, domain) -> None:
    """ "What does 'final sale' mean, exactly?" was answered with the delivery date."""
    number = grant(store, cases["final_sale"])
    refusal = f"Everything in {number} is final sale (gift cards or clearance), so it cannot be returned."
    slots = {"order_number": number, "topic": "return_refused", "refusal": refusal}
    text = "What does 'final sale' mean, exactly?"
    out = await run(ActionFollowUp(), make_tracker(intent="out_of_scope", text=text, slots=slots), domain)
    assert out.responses == ["utter_refusal_explained"], out.responses
    assert "can't be returned" in out.message("utter_refusal_explained")["more"]


# --------------------------------------------------------------------------------- arrived damaged


async def test_an_order_asked_about_because_it_arrived_damaged(store, cases, domain) -> None:
    """ "my serum arrived smashed, order ORD-…" (filed as tracking) got where the parcel was, no apology."""
    case = cases["returnable"]
    number = grant(store, case)
    opener = f"my serum arrived smashed, order {number}"
    events = [user(opener, "track_order", [entity("order_number", number)]), slot("goal", "track")]
    tracker = make_tracker(intent="inform", text=case["email"], slots={"order_number": number, "goal": "track"},
                           events=events)  # fmt: skip
    out = await run(ActionContinueGoal(), tracker, domain)
    assert out.responses[0] == "utter_offer_return", out.responses
    assert "sorry" in out.message("utter_offer_return")["lead"].lower()


async def test_refund_or_replacement_names_both(store, cases, domain) -> None:
    number = grant(store, cases["returnable"])
    slots = {"order_number": number, "topic": "return", "last_question": "offer_return", "goal": "refund"}
    text = "ok. what are my options, refund or replacement?"
    out = await run(ActionContinueGoal(), make_tracker(intent="request_refund", text=text, slots=slots), domain)
    assert out.responses == ["utter_return_policy_part"], out.responses
    part = out.message("utter_return_policy_part")["part"]
    assert "refund" in part and "replaced" in part, part


# --------------------------------------------------------------------------------- until when


@pytest.mark.parametrize("text", ["what's the latest I can cancel it?", "until when can I cancel?"])
async def test_until_when_it_can_be_cancelled_is_when_it_ships(store, cases, domain, text: str) -> None:
    """Filed as a cancel request, the question showed the cancel summary again."""
    number = grant(store, cases["placed"])
    slots = {"order_number": number, "topic": "track", "goal": "cancel"}
    out = await run(ActionContinueGoal(), make_tracker(intent="cancel_order", text=text, slots=slots), domain)
    assert out.followup() != "cancel_form", out.events
    said = " ".join(str(m.get("text") or "") for m in out.messages)
    assert "until it ships" in said, out.messages
    assert store.order_summary(SENDER, number).status == "placed"


async def test_asking_to_cancel_still_shows_the_summary(store, cases, domain) -> None:
    number = grant(store, cases["placed"])
    slots = {"order_number": number, "goal": "cancel"}
    out = await run(ActionContinueGoal(), make_tracker(intent="cancel_order", text="cancel it", slots=slots), domain)
    assert out.followup() == "cancel_form", out.events


# --------------------------------------------------------------------------------- adding to a named order


async def test_adding_to_a_named_order_checks_that_order_first(store, cases, domain) -> None:
    """ "can I add something to my order ORD-…?" got the general answer, and the proof next only tracked it."""
    number = cases["placed"]["order_number"]
    tracker = make_tracker(
        intent="out_of_scope", text=f"can I add something to my order {number}?",
        entities=[entity("order_number", number)],
    )  # fmt: skip
    out = await run(ActionFollowUp(), tracker, domain)
    assert out.responses == [], out.responses
    assert SlotSet("goal", "add_items") in out.events and FollowupAction("verify_order_form") in out.events


# --------------------------------------------------------------------------------- a new order, asked about


async def test_what_a_message_naming_an_order_asks_of_it_is_the_goal(store, cases, domain) -> None:
    """ "ok forget that one. is ORD-… still returnable?" inside a check started by "and what about ORD-…?" (a
    tracking goal) tracked it."""
    number = grant(store, cases["returnable"])
    text = f"ok forget that one. is {number} still returnable?"
    tracker = make_tracker(
        intent="nlu_fallback", text=text, entities=[entity("order_number", number)],
        slots={"order_number": number, "goal": "track", "topic": "track"},
    )  # fmt: skip
    out = await run(ActionContinueGoal(), tracker, domain)
    assert out.responses == ["utter_offer_return"], out.responses
    assert SlotSet("goal", "return") in out.events


async def test_words_naming_a_change_do_not_make_a_goal(store, cases, domain) -> None:
    number = grant(store, cases["placed"])
    tracker = make_tracker(
        intent="nlu_fallback", text=f"what address is {number} going to? can I cancel it",
        entities=[entity("order_number", number)], slots={"order_number": number, "goal": "track"},
    )  # fmt: skip
    out = await run(ActionContinueGoal(), tracker, domain)
    assert out.followup() not in {"cancel_form", "address_form"}, out.events
