"""The yes to a summary before an order changes (cancel, address change, return): only a clear yes to THAT
summary acts (red-team round 3, NEW-1/NEW-2/NEW-6).

The hedge list was written before reading what the code accepts; every phrasing is tried with each intent NLU
might give it (the ``affirm`` slot mapping hands the validator ``True``; ``inform``/``cancel_order`` hand it the
text), so the result does not depend on the model.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions import confirm
from actions.context import OrderContext
from actions.follow_up import ActionFollowUp
from actions.handoff import ActionHandoff
from actions.orders import (
    ActionAskConfirmAddress,
    ActionAskConfirmCancel,
    ValidateAddressForm,
    ValidateCancelForm,
    address_token,
    start_cancel,
)
from actions.returns import ActionAskConfirmReturn, ValidateReturnForm, return_token
from tests.actions.helpers import grant, make_tracker, run

SENDER = "web:test-conversation"
NEW_ADDRESS = "12 Baker Street, London NW1 6XE"

#: Replies that are not a clear yes: hedges, questions, mixed yes/no, stalling, no. None may act.
HEDGES = [
    'maybe', 'perhaps', 'possibly', 'probably', 'I guess', 'let me think', 'could be', 'yes no', 'yes?', 'y?',
    'maybe yes', 'yes maybe', 'yeah I suppose', 'i suppose so', 'I think so', 'I think so?', 'probably yes',
    'yes probably', 'sure?', 'ok?', 'hmm', 'hmm yes', 'um ok I guess', 'not sure', "I don't know", 'idk', 'wait',
    'hold on', 'give me a minute', 'let me check first', 'let me ask my wife', 'yes but actually no',
    'yes... no wait', 'no yes', 'yes, wait', 'maybe later', 'might be', 'sort of', 'kind of', 'kinda', 'yes or no?',
    'what?', 'is that the right one?', 'should I?', 'do I have to?', 'can I think about it?', "I'm not sure yet",
    "yes if it's free", 'yes if I get a refund', 'possibly, not sure', 'depends', 'whatever', 'fine I guess',
    'guess so', 'yeah no', 'nah', 'nope', 'no', "don't", 'not yet',
    # sarcasm and brush-offs made of yes-words alone (red-team round 4)
    'yeah right', 'yeah, right', 'yea right', 'sure sure', 'sure sure sure', 'yeah yeah', 'ok ok', 'yes yes right',
]  # fmt: skip
#: Plain yeses: each must still confirm (at the cancel question the ones naming another action are excluded
#: by `yeses_for`).
YESES = [
    'yes', 'yes please', 'yep go ahead', 'sure, do it', 'ok cancel it', 'yes, cancel it', 'yeah', 'yep', 'y', 'ok',
    'okay', 'sure', 'go ahead', 'do it', 'please do', 'yes do it', 'absolutely', 'correct', "that's right",
    'confirm', 'yes change it', 'yes, set it up', 'yes please go ahead', 'Yes!',
]  # fmt: skip
#: A yes naming another action is not a yes to this summary ("yes change it" at "cancel order ...?").
_OTHER_ACTION = {"cancel": ("change", "set it up"), "address": ("cancel", "set it up"), "return": ("cancel", "change")}


def yeses_for(action: str) -> list[str]:
    return [y for y in YESES if not any(w in y.lower() for w in _OTHER_ACTION[action])]


#: The intents NLU may give a reply at the confirmation, and the value the form's slot mapping then hands the
#: validator (``affirm`` -> True via from_intent; the others via from_text).
INTENTS = ["affirm", "inform", "nlu_fallback"]


def _slot_value(intent: str, text: str) -> Any:
    """What the form's slot mappings hand the validator: True for affirm, False for deny, else the text."""
    return {"affirm": True, "deny": False}.get(intent, text)


def _cancel(store: Any, number: str, text: str, intent: str) -> Any:
    tracker = make_tracker(slots={"order_number": number}, text=text, intent=intent, active_loop="cancel_form")
    value = _slot_value(intent, text)
    return ValidateCancelForm().validate_confirm_cancel(value, CollectingDispatcher(), tracker, {})["confirm_cancel"]


def _address(store: Any, number: str, text: str, intent: str) -> Any:
    slots = {"order_number": number, "new_address": NEW_ADDRESS}
    tracker = make_tracker(slots=slots, text=text, intent=intent, active_loop="address_form")
    value = _slot_value(intent, text)
    out = ValidateAddressForm().validate_confirm_address(value, CollectingDispatcher(), tracker, {})
    return out.get("confirm_address")


def _return(store: Any, number: str, line_id: int, text: str, intent: str) -> Any:
    slots = {"order_number": number, "return_items": str(line_id), "return_reason": "too small"}
    tracker = make_tracker(slots=slots, text=text, intent=intent, active_loop="return_form")
    value = _slot_value(intent, text)
    return ValidateReturnForm().validate_confirm_return(value, CollectingDispatcher(), tracker, {})["confirm_return"]


def test_the_lists_are_broad() -> None:
    assert len(set(HEDGES)) >= 30 and len(set(YESES)) >= 5
    assert not set(HEDGES) & set(YESES)


@pytest.mark.parametrize("intent", INTENTS + ["cancel_order"])
def test_no_hedge_confirms_a_cancellation(store, cases, intent: str) -> None:
    number = grant(store, cases["placed"])
    confirmed = [h for h in HEDGES if _cancel(store, number, h, intent) is True]
    assert confirmed == [], f"hedges taken as a yes to the cancel ({intent})"


@pytest.mark.parametrize("intent", INTENTS + ["change_shipping_address"])
def test_no_hedge_confirms_an_address_change(store, cases, intent: str) -> None:
    number = grant(store, cases["placed"])
    confirmed = [h for h in HEDGES if _address(store, number, h, intent) is True]
    assert confirmed == [], f"hedges taken as a yes to the address change ({intent})"


@pytest.mark.parametrize("intent", INTENTS + ["return_item"])
def test_no_hedge_confirms_a_return(store, cases, intent: str) -> None:
    number = grant(store, cases["returnable"])
    line = store.return_eligibility(SENDER, number).returnable_lines[0]
    confirmed = [h for h in HEDGES if _return(store, number, line.line_id, h, intent) is True]
    assert confirmed == [], f"hedges taken as a yes to the return ({intent})"


@pytest.mark.parametrize("intent", ["affirm", "inform"])
def test_plain_yeses_still_confirm(store, cases, intent: str) -> None:
    placed = grant(store, cases["placed"])
    returnable = grant(store, cases["returnable"])
    line = store.return_eligibility(SENDER, returnable).returnable_lines[0]
    refused = [("cancel", y) for y in yeses_for("cancel") if _cancel(store, placed, y, intent) is not True]
    refused += [("address", y) for y in yeses_for("address") if _address(store, placed, y, intent) is not True]
    refused += [
        ("return", y) for y in yeses_for("return") if _return(store, returnable, line.line_id, y, intent) is not True
    ]
    assert refused == []


# ------------------------------------------------------------------------------ the yes, by design


@pytest.mark.parametrize(
    "text",
    # phrasings nobody listed anywhere: any word outside the vocabulary of consent makes the answer unclear
    ["yes I reckon", "ok I suppose", "yes, in theory", "sure, ish", "yeah, would that be bad", "okay fingers crossed",
     "yes 🤔", "yes (I think)", "ok.. hmm", "yes lol", "go ahead I guess", "yes tomorrow", "sure, why not"],
)  # fmt: skip
def test_unknown_words_make_any_yes_unclear(text: str) -> None:
    for action in (confirm.CANCEL, confirm.ADDRESS, confirm.RETURN):
        assert not confirm.is_clear_yes(text, action), (text, action)


def test_a_yes_naming_another_action_is_not_a_yes_to_this_one() -> None:
    assert confirm.is_clear_yes("yes cancel it", confirm.CANCEL)
    assert not confirm.is_clear_yes("yes cancel it", confirm.ADDRESS)  # cancel the change, or the order?
    assert confirm.is_clear_yes("yes change it", confirm.ADDRESS)
    assert not confirm.is_clear_yes("yes change it", confirm.CANCEL)
    assert confirm.is_clear_yes("yes, set it up", confirm.RETURN)
    assert not confirm.is_clear_yes("ok is that right", confirm.CANCEL)  # a question without its mark


def test_tokens_name_the_action_the_order_and_what_would_change() -> None:
    assert confirm.token(confirm.CANCEL, "ORD-100123") == "cancel:ORD-100123"
    a = confirm.token(confirm.ADDRESS, "ORD-100123", "5 Mill Lane, Bath BA1 1AA")
    assert a.startswith("address:ORD-100123:")
    assert a != confirm.token(confirm.ADDRESS, "ORD-100123", "5 Mill Lane, Bath BA1 1AB")
    assert a == confirm.token(confirm.ADDRESS, "ORD-100123", "5  mill lane, Bath  BA1 1AA")  # the same summary
    with pytest.raises(ValueError, match="unknown confirmation action"):
        confirm.token("refund", "ORD-100123")


def _press(payload_token: str | None) -> tuple[str, list[dict[str, Any]]]:
    """A yes button press as rasa parses it: ``/affirm`` with the token as the ``confirm`` entity (if any)."""
    if payload_token is None:
        return "/affirm", []
    return "/affirm" + json.dumps({"confirm": payload_token}), [{"entity": "confirm", "value": payload_token}]


async def test_each_question_carries_a_yes_bound_to_its_summary(store, cases, domain) -> None:
    placed = grant(store, cases["placed"])
    out = await run(ActionAskConfirmCancel(), make_tracker(slots={"order_number": placed}), domain)
    yes, no = out.message("utter_ask_confirm_cancel")["buttons"]
    assert yes == {"title": "Yes, cancel it", "payload": f'/affirm{{"confirm": "cancel:{placed}"}}'}
    assert no == {"title": "No, keep it", "payload": "/deny"}
    slots = {"order_number": placed, "new_address": NEW_ADDRESS}
    out = await run(ActionAskConfirmAddress(), make_tracker(slots=slots), domain)
    yes, _ = out.message("utter_ask_confirm_address")["buttons"]
    assert yes["title"] == "Yes, change it" and address_token(make_tracker(slots=slots)) in yes["payload"]
    returnable = grant(store, cases["returnable"])
    line = store.return_eligibility(SENDER, returnable).returnable_lines[0]
    slots = {"order_number": returnable, "return_items": str(line.line_id), "return_reason": "too small"}
    out = await run(ActionAskConfirmReturn(), make_tracker(slots=slots), domain)
    yes, _ = out.message("utter_ask_confirm_return")["buttons"]
    assert yes["title"] == "Yes, set it up" and return_token(make_tracker(slots=slots)) in yes["payload"]
    # the domain's responses carry no generic /affirm any more (the bound buttons would come second)
    for response in ("utter_ask_confirm_cancel", "utter_ask_confirm_address", "utter_ask_confirm_return"):
        assert "buttons" not in domain["responses"][response][0], response


def test_only_the_yes_button_of_this_summary_confirms(store, cases) -> None:
    placed = grant(store, cases["placed"])
    other = grant(store, cases["payment_failed"]) if "payment_failed" in cases else "ORD-999999"
    address_slots = {"order_number": placed, "new_address": NEW_ADDRESS}
    old_address_yes = address_token(make_tracker(slots=address_slots))
    presses = {
        # an old "Yes, change it" at the cancel question (NEW-6), an old generic /affirm, another order's yes
        "cancel": [(confirm.token(confirm.CANCEL, placed), True), (old_address_yes, None), (None, None),
                   (confirm.token(confirm.CANCEL, other), None)],
        # the yes to the address before a correction, and a cancel's yes, at the address question
        "address": [(address_token(make_tracker(slots=address_slots)), True),
                    (confirm.token(confirm.ADDRESS, placed, "5 Mill Lane, Bath BA1 1AA"), None),
                    (confirm.token(confirm.CANCEL, placed), None), (None, None)],
    }  # fmt: skip
    for bound, expected in presses["cancel"]:
        text, entities = _press(bound)
        dispatcher = CollectingDispatcher()
        tracker = make_tracker(
            slots={"order_number": placed}, text=text, intent="affirm", entities=entities, active_loop="cancel_form"
        )
        assert ValidateCancelForm().validate_confirm_cancel(True, dispatcher, tracker, {}) == {
            "confirm_cancel": expected
        }, bound
        if expected is None:
            assert [m["response"] for m in dispatcher.messages] == ["utter_confirm_stale"], bound
    for bound, expected in presses["address"]:
        text, entities = _press(bound)
        dispatcher = CollectingDispatcher()
        tracker = make_tracker(
            slots=address_slots, text=text, intent="affirm", entities=entities, active_loop="address_form"
        )
        assert ValidateAddressForm().validate_confirm_address(True, dispatcher, tracker, {}) == {
            "confirm_address": expected
        }, bound
        if expected is None:
            assert [m["response"] for m in dispatcher.messages] == ["utter_confirm_stale"], bound


def test_a_hedge_says_nothing_was_done(store, cases) -> None:
    number = grant(store, cases["placed"])
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        slots={"order_number": number}, text="let me think", intent="affirm", active_loop="cancel_form"
    )
    assert ValidateCancelForm().validate_confirm_cancel(True, dispatcher, tracker, {}) == {"confirm_cancel": None}
    assert [m["response"] for m in dispatcher.messages] == ["utter_confirm_unclear"]


async def test_a_hedged_cancel_request_right_after_the_question_is_asked_again(store, cases, domain) -> None:
    """ "maybe cancel it" (filed as cancel_order) after "Shall I cancel ...?" is not its yes."""
    number = grant(store, cases["placed"])
    for text, confirmed in [("maybe cancel it", None), ("probably cancel it", None), ("ok cancel it", True)]:
        tracker = make_tracker(
            slots={"order_number": number, "last_question": "confirm_cancel", "proof": "verified"},
            text=text,
            intent="cancel_order",
        )
        events = start_cancel(OrderContext(CollectingDispatcher(), tracker, store, SENDER, number))
        slots = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
        assert slots["confirm_cancel"] is confirmed, text
    assert store.order_summary(SENDER, number).status == "placed"


def _asked(response: str) -> list[dict[str, Any]]:
    """The bot's question just before the latest message."""
    return [{"event": "bot", "text": "…?", "metadata": {"utter_action": response}}]


@pytest.mark.parametrize(
    ("question", "slots", "change"),
    [
        ("utter_ask_confirm_cancel", {"confirm_cancel": None}, "the cancellation of order"),
        ("utter_ask_confirm_address", {"new_address": NEW_ADDRESS}, "the address change for order"),
        ("utter_ask_confirm_return", {"return_items": "1", "return_reason": "too small"}, "the return for order"),
    ],
)
async def test_venting_at_a_confirmation_drops_it_and_leaves_one_question(
    store, cases, domain, question: str, slots: dict[str, Any], change: str
) -> None:
    """NEW-2: the rule deactivated the form; action_handoff says the change is dropped and offers a person,
    so the offer is the only open question (a following "yes please" is read against it)."""
    number = grant(store, cases["placed"])
    tracker = make_tracker(
        slots={"order_number": number, "proof": "verified", "last_question": "confirm_cancel", **slots},
        intent="complaint",
        text="this is ridiculous, you people are useless",
        events=_asked(question),
    )
    out = await run(ActionHandoff(), tracker, domain)
    assert out.responses == ["utter_confirmation_dropped", "utter_complaint_offer"]
    assert out.message("utter_confirmation_dropped")["change"] == f"{change} {number}"
    assert out.slots()["last_question"] == "offer_handoff"
    assert all(out.slots().get(name) is None for name in slots), out.slots()
    # the form still running (no rule ended it) is ended here
    running = make_tracker(
        slots={"order_number": number, "proof": "verified"},
        intent="complaint",
        text="this is ridiculous",
        active_loop="cancel_form",
    )
    ended = await run(ActionHandoff(), running, domain)
    assert {"event": "active_loop", "name": None} in [
        {"event": e.get("event"), "name": e.get("name")} for e in ended.events if e.get("event") == "active_loop"
    ]
    assert store.order_summary(SENDER, number).status == "placed"


async def test_a_complaint_elsewhere_drops_nothing(store, domain) -> None:
    out = await run(ActionHandoff(), make_tracker(intent="complaint", text="this is so annoying"), domain)
    assert out.responses == ["utter_complaint_offer"]


async def test_a_confirmation_button_with_no_confirmation_open_does_nothing(store, cases, domain) -> None:
    number = grant(store, cases["placed"])
    text, entities = _press(confirm.token(confirm.CANCEL, number))
    tracker = make_tracker(slots={"order_number": number, "proof": "verified"}, text=text, intent="affirm",
                           entities=entities)  # fmt: skip
    out = await run(ActionFollowUp(), tracker, domain)
    assert out.responses == ["utter_confirm_stale_closed"]
    assert store.order_summary(SENDER, number).status == "placed"
