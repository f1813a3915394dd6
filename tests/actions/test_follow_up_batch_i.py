"""The classes of failure the ninth blind batch (tests/conversations/blind_i.yml) showed in conv10a's share of
it, one test per class: going off to find the proof read by the verification form as the proof (or answered
with "bye" and the form's question), a product or kind the shop does not sell answered with products that share
a word with it, a product's price or e-mail delivery asked as a follow-up in words NLU filed elsewhere, what the
shop sells or the assistant does asked after a no, and a slang goodbye."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.follow_up import ActionFollowUp, ActionGoodbye
from actions.identity import STOPPED, ValidateVerifyOrderForm
from tests.actions.helpers import make_tracker, run

# --------------------------------------------------------------------------------- coming back later

_PROOF = {"order_number": "ORD-999999", "goal": "track", "requested_slot": "proof"}


@pytest.mark.parametrize(
    ("slot", "slots", "text"),
    [
        ("proof", _PROOF, "ok ill ask her for the right one and come back"),
        ("proof", _PROOF, "whatever i'll find the confirmation email and come back"),
        ("proof", _PROOF, "hmm i'll have to check with my husband, he has the emails"),
        ("order_number", {"goal": "track", "requested_slot": "order_number"}, "dont have it on me, tomorrow then"),
    ],
)
def test_going_off_to_find_the_proof_ends_the_form(store, slot: str, slots: dict[str, Any], text: str) -> None:
    """NLU unsure (nlu_fallback is no escape intent): the form read the words as the proof and asked again."""
    tracker = make_tracker(intent="nlu_fallback", text=text, slots=slots, active_loop="verify_order_form")
    dispatcher = CollectingDispatcher()
    result = getattr(ValidateVerifyOrderForm(), f"validate_{slot}")(text, dispatcher, tracker, {})
    assert [m.get("response") for m in dispatcher.messages] == ["utter_take_your_time"]
    assert result == {slot: None, STOPPED: True}
    assert store.attempts_left("web:test-conversation") == 3  # no attempt spent on it


def test_a_proof_is_still_checked(store) -> None:
    text = "ill come back to it, its B40 8PT"
    tracker = make_tracker(
        intent="inform", text=text, slots=_PROOF, active_loop="verify_order_form",
        entities=[{"entity": "postcode", "value": "B40 8PT"}],
    )  # fmt: skip
    dispatcher = CollectingDispatcher()
    result = ValidateVerifyOrderForm().validate_proof("B40 8PT", dispatcher, tracker, {})
    assert STOPPED not in result


@pytest.mark.parametrize("text", ["ah i dont have it right now, ill come back later", "ok ill ask her later"])
async def test_coming_back_later_filed_as_goodbye_ends_the_check(store, domain, text: str) -> None:
    """ "Bye for now ... Which order is it about?": the goodbye rule ran, then the form asked again."""
    slots = {"goal": "track", "requested_slot": "order_number"}
    tracker = make_tracker(intent="goodbye", text=text, slots=slots, active_loop="verify_order_form")
    out = await run(ActionGoodbye(), tracker, domain)
    assert out.responses == ["utter_take_your_time"], out.responses
    assert out.followup() == "action_listen"
    assert any(e.get("event") == "active_loop" and e.get("name") is None for e in out.events), out.events


async def test_a_plain_goodbye_during_the_check_ends_it_too(store, domain) -> None:
    slots = {"goal": "track", "requested_slot": "order_number"}
    tracker = make_tracker(intent="goodbye", text="ok bye", slots=slots, active_loop="verify_order_form")
    out = await run(ActionGoodbye(), tracker, domain)
    assert out.responses == ["utter_goodbye"], out.responses
    assert out.followup() == "action_listen"


async def test_a_goodbye_without_a_form_is_unchanged(store, domain) -> None:
    out = await run(ActionGoodbye(), make_tracker(intent="goodbye", text="ill come back later"), domain)
    assert out.responses == ["utter_goodbye"], out.responses
    assert out.followup() is None
