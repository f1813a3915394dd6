"""The classes of failure left on merge2 by the blind batches (conv12b's share), one test per class, each over
several wordings of the class rather than the batch's sentence: account and privacy follow-ups that only a person
can act on, photos for a person, product follow-ups after a don't-sell answer, a return's reason at the items."""

from __future__ import annotations

from typing import Any

import pytest

from actions.follow_up import ActionFollowUp
from actions.handoff import ActionHandoff
from actions.identity import ValidateVerifyOrderForm
from actions.products import ActionCheckStock
from tests.actions.helpers import make_tracker, run

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
