"""The classes of failure the twelfth blind batch (tests/conversations/blind_l.yml) showed in conv15b's share of
it, one test per class over wordings of the class rather than the batch's sentence, each with near misses the
reader must not take: policy questions with no order in focus, delivery follow-ups in the order or quote
context, product follow-ups, praise."""

from __future__ import annotations

from typing import Any

import pytest

from actions.context import Said
from actions.follow_up import ActionFollowUp
from actions.identity import STOPPED, ValidateVerifyOrderForm
from actions.returns import policy_question
from tests.actions.helpers import grant, make_tracker, run

SENDER = "web:test-conversation"


def bot(response: str, text: str = "...") -> dict[str, Any]:
    """An earlier bot message as rasa records it (the response it used)."""
    return {"event": "bot", "text": text, "metadata": {"utter_action": response}}


def user(text: str = "earlier") -> dict[str, Any]:
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": "inform"}, "entities": []}}


def said(out: Any) -> str:
    return " ".join(str(v) for m in out.messages for v in m.values() if v).lower()


def said_words(out: Any, domain: dict[str, Any]) -> str:
    """What the action said, responses resolved to their text (before their slots are filled in)."""
    parts = []
    for m in out.messages:
        if m.get("text"):
            parts.append(m["text"])
        if m.get("response"):
            parts.append(" ".join(v["text"] for v in domain["responses"][m["response"]]))
        parts.extend(str(v) for k, v in m.items() if k not in {"text", "response"} and isinstance(v, str))
    return " ".join(parts).lower()


# --------------------------------------------------------------------------------- policy with no order

_POLICY = [
    ("refund_status", "roughly how many days do refunds take to land?", "business days"),
    ("request_refund", "once you get the parcel, how fast is the money back normally", "business days"),
    ("refund_status", "are refunds typically quick?", "business days"),
    ("return_item", "is posting it back on me or free?", "label"),
    ("return_policy", "do I have to cover the postage for a return?", "label"),
    ("return_item", "how much does a return cost me", "label"),
    ("return_item", "which post office can take the parcel?", "post office"),
    ("track_order", "where should i take the box once it's packed", "post office"),
]


@pytest.mark.parametrize(("intent", "text", "expected"), _POLICY)
async def test_a_policy_question_with_no_order_is_answered_from_the_policy(store, domain, intent, text, expected):
    """How long refunds usually take, who pays to send things back, where the parcel goes: the policy answers
    them, whatever order request NLU filed them under; no order number is asked for."""
    tracker = make_tracker(intent=intent, text=text, slots={"requested_slot": None})
    out = await run(ValidateVerifyOrderForm(), tracker, domain)
    assert out.responses == ["utter_return_policy_part"], out.responses
    assert out.slots().get(STOPPED) is True
    assert expected in said(out), said(out)


@pytest.mark.parametrize(
    "text",
    [
        "when will my refund come through?",  # their own refund: which order
        "has the money for it gone back yet?",
        "i'd like to send it back and get a refund",  # a request, not a question
        "whats the usual delivery time",  # not a return or refund at all
    ],
)
def test_a_question_about_the_customers_own_refund_is_no_policy_question(text):
    assert not policy_question(Said(text=text, intent="refund_status", confidence=0.9))


@pytest.mark.parametrize(
    "text",
    [
        "and what'll the courier charge me to post it back?",
        "who covers the fees for sending back",
        "is it free to ship it back to you",
    ],
)
async def test_who_pays_for_sending_back_after_the_policy_is_the_postage(store, domain, text):
    """A follow-up of the return policy about the cost of sending back, in any words, is the postage part."""
    tracker = make_tracker(intent="nlu_fallback", text=text, slots={"topic": "return_policy"})
    out = await run(ActionFollowUp(), tracker, domain)
    assert out.responses == ["utter_return_policy_part"], out.responses
    assert "label" in said(out)


@pytest.mark.parametrize(
    "text", ["ok so where can i hand it in", "which post office do i use", "where do i take the parcel to?"]
)
async def test_where_to_take_a_return_that_was_set_up_is_its_label(store, cases, domain, text):
    """After a return is set up, where the parcel goes is that return's label and drop-off, not the order's
    delivery scan."""
    number = grant(store, cases["returnable"])
    store.create_return(SENDER, number)
    tracker = make_tracker(intent="nlu_fallback", text=text, slots={"topic": "return_status", "order_number": number})
    out = await run(ActionFollowUp(), tracker, domain)
    assert out.responses == ["utter_return_label"], out.responses
