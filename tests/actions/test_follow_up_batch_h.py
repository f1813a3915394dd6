"""The classes of failure the eighth blind batch (tests/conversations/blind_h.yml) showed in conv9a's share of
it, one test per class: the verification form's question dropped with nothing said (a silent turn), "how fast
is that" after a quote not understood, the cancellation summary not asking "Shall I …?" like the other
summaries, "so how do I reset it" after "a colleague can change that" turned away as out of scope, and a
refunded order tracked as merely delivered."""

from __future__ import annotations

import pytest

from actions.follow_up import ActionAskOrderNumber, ActionFollowUp
from actions.goals import ActionContinueGoal
from actions.shipping import ActionShippingInfo
from store.service import OrderStore
from tests.actions.helpers import bot, grant, make_tracker, run

SENDER = "web:test-conversation"



# --------------------------------------------------------------------------------- never silent


@pytest.mark.parametrize(
    ("intent", "text"),
    [
        ("request_refund", "I want a replacement not a refund"),
        ("request_refund", "can I get a new one instead of my money back"),
        ("return_item", "I'd rather swap it"),
    ],
)
async def test_the_order_question_is_never_dropped_in_silence(store: OrderStore, domain, intent, text) -> None:
    """ "I want a replacement not a refund" after a damaged jar (a person offered) and a photo question: the
    verification form's question was dropped and nothing was said (a silent turn)."""
    slots = {"topic": "handoff", "last_question": "offer_handoff", "goal": "refund", "requested_slot": "order_number"}
    events = [bot("utter_complaint_offer"), bot("utter_photo")]
    ask = make_tracker(intent=intent, text=text, slots=slots, events=events, active_loop="verify_order_form")
    out = await run(ActionAskOrderNumber(), ask, domain)
    assert out.messages or out.followup() not in {None, "action_listen"}, (out.responses, out.events)


# --------------------------------------------------------------------------------- shipping


@pytest.mark.parametrize("text", ["how fast is that", "how soon would it get here", "when would that arrive"])
async def test_how_fast_after_an_express_quote(store: OrderStore, domain, text: str) -> None:
    """ "how fast is that" after the express quote fell back ("didn't quite understand"): that method's days."""
    first = make_tracker(intent="shipping_options", text="express?", slots={
        "topic": "shipping", "shipping_quote": {"country": "GB", "postcode": "M14 5TQ", "value": "60.00"}})  # fmt: skip
    quoted = await run(ActionShippingInfo(), first, domain)
    assert quoted.responses == ["utter_shipping_quote_fastest"], quoted.responses
    slots = {"topic": "shipping", "shipping_quote": quoted.slots()["shipping_quote"]}
    out = await run(ActionFollowUp(), make_tracker(intent="nlu_fallback", text=text, slots=slots), domain)
    assert out.responses == ["utter_shipping_quote_fastest"], out.responses
    methods = out.message("utter_shipping_quote_fastest")["methods"]
    assert "1 working day" in methods and "1 working days" not in methods, methods


# --------------------------------------------------------------------------------- cancelling


def test_every_change_summary_asks_shall_i(domain) -> None:
    """The cancellation summary asked "Do you want me to cancel …?" where the address change and the return ask
    "Shall I …?" (README): one way of asking for the yes that changes an order."""
    summaries = {name: r for name, r in domain["responses"].items() if name.startswith("utter_ask_confirm_")}
    assert set(summaries) >= {"utter_ask_confirm_cancel", "utter_ask_confirm_address", "utter_ask_confirm_return"}
    for name, variants in summaries.items():
        for variant in variants:
            assert "Shall I " in variant["text"], (name, variant["text"])


# --------------------------------------------------------------------------------- account


@pytest.mark.parametrize("text", ["so how do I reset it", "where do I change it then", "ok how can I do that"])
async def test_how_do_i_after_a_colleague_was_pointed_to(store, domain, text: str) -> None:
    """ "so how do I reset it" (out_of_scope) right after "a colleague can change your password" was turned away
    with the generic out-of-scope answer: the colleague is the way, and offered."""
    events = [bot("utter_account_out_of_scope")]
    out = await run(ActionFollowUp(), make_tracker(intent="out_of_scope", text=text, events=events), domain)
    assert out.responses == ["utter_colleague_how"], out.responses
    assert out.slots().get("last_question") == "offer_handoff"


async def test_an_order_question_after_a_colleague_is_no_account_question(store, domain) -> None:
    """ "how do I track my order" after the account answer is tracking, not the colleague again."""
    events = [bot("utter_account_out_of_scope")]
    ask = make_tracker(intent="out_of_scope", text="how do I track my order", events=events)
    out = await run(ActionFollowUp(), ask, domain)
    assert "utter_colleague_how" not in out.responses, out.responses


# --------------------------------------------------------------------------------- tracking


async def test_a_refunded_order_tracked_says_the_refund(store: OrderStore, cases, domain) -> None:
    """ "ORD-… pobrien72@…" (tracking) of an order whose return was refunded said only "delivered on …"."""
    number = grant(store, cases["refunded"])
    out = await run(ActionContinueGoal(), make_tracker(slots={"order_number": number, "goal": "track"}), domain)
    assert "utter_refund_status" in out.responses, out.responses
    assert out.slots().get("topic") == "refund"
