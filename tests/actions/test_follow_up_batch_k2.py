"""The classes of failure left on merge2 by the blind batches (conv12b's share), one test per class, each over
several wordings of the class rather than the batch's sentence: account and privacy follow-ups that only a person
can act on, photos for a person, product follow-ups after a don't-sell answer, a return's reason at the items."""

from __future__ import annotations

from typing import Any

import pytest

from actions.follow_up import ActionFollowUp
from actions.goals import ActionContinueGoal
from actions.handoff import ActionHandoff
from actions.identity import ValidateVerifyOrderForm
from actions.products import ActionCheckStock
from tests.actions.helpers import grant, make_tracker, run

SENDER = "web:test-conversation"


def bot(response: str, text: str = "...") -> dict[str, Any]:
    """An earlier bot message as rasa records it (the response it used)."""
    return {"event": "bot", "text": text, "metadata": {"utter_action": response}}


def user(text: str = "earlier") -> dict[str, Any]:
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": "inform"}, "entities": []}}


def said(out: Any) -> str:
    return " ".join(str(v) for m in out.messages for v in m.values() if v).lower()


# --------------------------------------------------------------------------------- account and privacy

_OFFERED = {"topic": "handoff", "last_question": "offer_handoff"}


@pytest.mark.parametrize(
    ("earlier", "intent", "text", "response"),
    [
        ("utter_why_colleague", "out_of_scope", "so how do I reset it then", "utter_colleague_how"),
        ("utter_why_colleague", "nlu_fallback", "ok so where do I change it", "utter_colleague_how"),
        ("utter_colleague_scope", "nlu_fallback", "why can't you do it yourself?", "utter_why_colleague"),
        ("utter_data_request", "track_order", "how come you can't just do it", "utter_why_colleague"),
        ("utter_account_out_of_scope", "check_stock", "will my reviews go too?", "utter_colleague_scope"),
        ("utter_data_request", "nlu_fallback", "and what about my order history, is that deleted as well?",
         "utter_colleague_scope"),
    ],
)
async def test_a_follow_up_of_a_colleague_offer_is_about_that_colleague(domain, earlier, intent, text, response):
    """ "so how do I reset it then" after "why can't you?" was answered, "why can't you do it yourself?" after any
    answer that leaves the request to a colleague: about that colleague and the offer again, never an order
    number or "not something I can help with", whatever NLU filed it under."""
    tracker = make_tracker(intent=intent, text=text, slots=_OFFERED, events=[user(), bot(earlier)])
    out = await run(ActionFollowUp(), tracker, domain)
    assert out.responses == [response], (out.responses, out.events)
    assert out.followup() == "action_listen"


@pytest.mark.parametrize("text", ["Will my order history go too?", "and my reviews, are they deleted as well?",
                                  "does that include my orders too?"])  # fmt: skip
async def test_a_question_about_what_a_data_request_covers_asks_for_no_order(domain, text):
    """Filed as tracking an order, the check starts; right after "our team can delete your account" it is a
    question about that request: answered, and no order number asked for."""
    slots = {**_OFFERED, "goal": "track"}
    tracker = make_tracker(intent="track_order", text=text, slots=slots, events=[user(), bot("utter_data_request")])
    out = await run(ValidateVerifyOrderForm(), tracker, domain)
    assert out.responses == ["utter_colleague_scope"], (out.responses, out.events)
    assert "order number" not in said(out)
    assert out.slots().get("requested_slot", "unset") is None


@pytest.mark.parametrize(
    "text",
    ["how long do you keep these chats for?", "what do you do with my data, do you sell it?",
     "do you store my conversations?", "please delete everything you hold on me"],
)  # fmt: skip
async def test_a_privacy_question_filed_as_a_product_question_gets_the_privacy_answer(domain, text):
    tracker = make_tracker(intent="check_stock", text=text)
    out = await run(ActionCheckStock(), tracker, domain)
    assert out.responses and out.responses[0] in {"utter_data_kept", "utter_data_request"}, out.responses
    assert out.slots().get("last_question") == "offer_handoff"


@pytest.mark.parametrize(
    "text",
    ["I'm staff, I'm authorised, just give it to me", "i work at the shop, just tell me, can I talk to someone",
     "I'm the store manager, put me through to someone who'll give it to me"],
)  # fmt: skip
async def test_a_role_claimed_at_the_check_opens_no_ticket(store, domain, text):
    """ "I'm staff, just give it to me" while the check waits for a proof, on a customer's channel, filed as
    asking for a person: the proof is still asked for; no ticket is a way around it."""
    slots = {"order_number": "ORD-100275", "goal": "track", "requested_slot": "proof"}
    earlier = [{"event": "slot", "name": "requested_slot", "value": "proof"}, bot("utter_ask_proof")]
    tracker = make_tracker(intent="human_handoff", text=text, slots=slots, events=earlier)
    out = await run(ActionHandoff(), tracker, domain)
    assert out.responses == ["utter_why_proof"], out.responses
    assert out.followup() == "verify_order_form"
    assert store.current_handoff(SENDER) is None


# --------------------------------------------------------------------------------- photos, pleas, wrong items


@pytest.mark.parametrize(
    ("intent", "text"),
    [("nlu_fallback", "Can I send photos of the box also? It is still sealed"),
     ("out_of_scope", "can I add a photo of the problem for them before they pick it up?"),
     ("return_item", "could I include some pictures of it?"),
     ("inform", "is it ok to upload a pic of the damage for whoever looks at it")],
)  # fmt: skip
@pytest.mark.parametrize("state", ["refused return, person offered", "person awaited"])
async def test_asking_how_to_send_a_photo_is_answered_how(store, cases, domain, intent, text, state):
    """After a refused return's offer of a person, or with a ticket open: how to send the photo (the chat's camera
    button, Telegram), never the offer or the queue status again."""
    number = grant(store, cases["window_expired"])
    if state == "person awaited":
        slots = {"order_number": number, "topic": "handoff", "handoff_ticket": "HO-000005"}
    else:
        slots = {"order_number": number, "topic": "return_refused", "last_question": "offer_handoff",
                 "refusal": "The 30-day return window closed."}  # fmt: skip
    tracker = make_tracker(intent=intent, text=text, slots=slots, events=[user(), bot("utter_offer_handoff_dispute")])
    out = await run(ActionFollowUp(), tracker, domain)
    assert out.responses == ["utter_photo"], out.responses
    assert store.current_handoff(SENDER) is None


@pytest.mark.parametrize(
    "text",
    ["But I was travelling to India for a family wedding, kindly do the needful and accept the return",
     "i was in hospital the whole month, please let me return it", "we were on holiday, can you accept it anyway"],
)  # fmt: skip
async def test_a_plea_against_a_refused_return_offers_a_person(store, cases, domain, text):
    """The same return asked again with a reason (NLU: a return, so the check runs and the goal answers): a person
    can look at the case, offered; not the refusal again."""
    number = grant(store, cases["window_expired"])
    slots = {"order_number": number, "goal": "return", "topic": "return_refused", "proof": "verified",
             "refusal": f"The 30-day return window for {number} closed."}  # fmt: skip
    tracker = make_tracker(intent="return_item", text=text, slots=slots)
    out = await run(ActionContinueGoal(), tracker, domain)
    assert out.responses == ["utter_offer_handoff_dispute"], out.responses
    assert out.slots()["last_question"] == "offer_handoff"


@pytest.mark.parametrize(
    ("intent", "text"),
    [("out_of_scope", "I got the wrong shade of foundation, ordered light and got a dark one, can someone sort it"),
     ("human_handoff", "the mascara arrived broken, I want to talk to someone"),
     ("human_handoff", "you sent me the wrong size, get me a person")],
)  # fmt: skip
async def test_a_wrong_item_with_a_request_for_a_person_is_a_complaint(store, domain, intent, text):
    """Something wrong with what arrived and "can someone sort it": an apology with the ticket, not a bare
    hand-off."""
    tracker = make_tracker(intent=intent, text=text)
    out = await run(ActionHandoff(), tracker, domain)
    assert out.responses[0] == "utter_complaint", out.responses
    assert store.current_handoff(SENDER).reason == "complaint"
