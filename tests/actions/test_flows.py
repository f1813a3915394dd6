"""The follow-up steps of order flows: return form and RMA, cancellation, address change."""

from __future__ import annotations

from rasa_sdk.executor import CollectingDispatcher

from actions.orders import (
    ActionAskConfirmAddress,
    ActionAskConfirmCancel,
    ActionCancelOrder,
    ActionChangeAddress,
    ValidateAddressForm,
    ValidateCancelForm,
)
from actions.returns import (
    ActionAskConfirmReturn,
    ActionAskReturnItems,
    ActionAskReturnReason,
    ActionCreateReturn,
    ValidateReturnForm,
    return_token,
)
from tests.actions.helpers import grant, make_tracker, run

SENDER = "web:test-conversation"


async def test_return_items_are_offered_as_buttons_with_all(store, cases, domain) -> None:
    number = grant(store, cases["returnable"])
    out = await run(ActionAskReturnItems(), make_tracker(slots={"order_number": number}), domain)
    buttons = out.message("utter_ask_return_items")["buttons"]
    lines = store.return_eligibility(SENDER, number).returnable_lines
    assert len(buttons) == len(lines) + 1
    assert buttons[-1]["payload"] == '/inform{"return_items": "all"}'
    assert all(line.title in b["title"] for line, b in zip(lines, buttons, strict=False))


def test_return_item_choice_by_button_words_or_all(store, cases) -> None:
    number = grant(store, cases["returnable"])
    lines = store.return_eligibility(SENDER, number).returnable_lines
    form = ValidateReturnForm()
    tracker = make_tracker(slots={"order_number": number}, active_loop="return_form")
    by_all = form.validate_return_items("all of them", CollectingDispatcher(), tracker, {})
    assert by_all["return_items"] == ",".join(str(line.line_id) for line in lines)
    by_id = form.validate_return_items(str(lines[0].line_id), CollectingDispatcher(), tracker, {})
    assert by_id["return_items"] == str(lines[0].line_id)
    by_words = form.validate_return_items(f"the {lines[0].title.lower()}", CollectingDispatcher(), tracker, {})
    assert str(lines[0].line_id) in by_words["return_items"].split(",")
    dispatcher = CollectingDispatcher()
    assert form.validate_return_items("zzz qqq", dispatcher, tracker, {}) == {"return_items": None}
    assert dispatcher.messages[0]["response"] == "utter_return_items_invalid"


async def test_return_is_created_in_the_store_with_an_rma(store, cases, domain) -> None:
    number = grant(store, cases["returnable"])
    line = store.return_eligibility(SENDER, number).returnable_lines[0]
    tracker = make_tracker(
        slots={
            "order_number": number,
            "return_items": str(line.line_id),
            "return_reason": "too small",
            "confirm_return": True,
        }
    )
    out = await run(ActionCreateReturn(), tracker, domain)
    msg = out.message("utter_return_created")
    assert msg["rma_number"].startswith("RMA-")
    assert out.slots()["rma_number"] == msg["rma_number"]
    assert out.slots()["return_items"] is None
    created = store.return_by_rma(SENDER, msg["rma_number"])
    assert created.reason == "too small"
    assert [rl.line_id for rl in created.lines] == [line.line_id]
    assert store.order_summary(SENDER, number).status == "return_requested"


def asked_to_cancel(number: str) -> list[dict[str, object]]:
    """The events of "Shall I cancel order <number>?": the slot held it when cancel_form started."""
    return [
        {"event": "slot", "name": "order_number", "value": number},
        {"event": "active_loop", "name": "cancel_form"},
    ]


async def test_confirmed_cancellation_cancels_in_the_store(store, cases, domain) -> None:
    number = grant(store, cases["placed"])
    tracker = make_tracker(slots={"order_number": number, "confirm_cancel": True}, events=asked_to_cancel(number))
    out = await run(ActionCancelOrder(), tracker, domain)
    assert out.responses == ["utter_cancelled"]
    assert store.order_summary(SENDER, number).status == "cancelled"


async def test_declined_cancellation_keeps_the_order(store, cases, domain) -> None:
    number = grant(store, cases["placed"])
    out = await run(ActionCancelOrder(), make_tracker(slots={"order_number": number, "confirm_cancel": False}), domain)
    assert out.responses == ["utter_cancel_kept"]
    assert store.order_summary(SENDER, number).status == "placed"


async def test_address_change_is_saved_only_after_a_yes(store, cases, domain) -> None:
    number = grant(store, cases["placed"])
    before = store.order_summary(SENDER, number).shipping_address
    assert before.country == "GB"
    slots = {"order_number": number, "new_address": "12 Baker Street, London NW1 6XE"}
    kept = await run(ActionChangeAddress(), make_tracker(slots={**slots, "confirm_address": False}), domain)
    assert kept.responses == ["utter_address_kept"]
    assert store.order_summary(SENDER, number).shipping_address == before
    out = await run(ActionChangeAddress(), make_tracker(slots={**slots, "confirm_address": True}), domain)
    assert out.responses == ["utter_address_changed"]
    assert store.order_summary(SENDER, number).shipping_address.postcode.replace(" ", "") == "NW16XE"


async def test_the_address_is_confirmed_as_understood_and_a_correction_asks_again(store, cases, domain) -> None:
    number = grant(store, cases["placed"])
    form = ValidateAddressForm()
    said = "i need it changed to 5 Mill Lane, Bath BA1 1AA"
    tracker = make_tracker(slots={"order_number": number}, text=said, active_loop="address_form")
    assert form.validate_new_address(said, CollectingDispatcher(), tracker, {}) == {
        "new_address": "5 Mill Lane, Bath BA1 1AA"
    }
    slots = {"order_number": number, "new_address": "5 Mill Lane, Bath BA1 1AA"}
    asked = await run(ActionAskConfirmAddress(), make_tracker(slots=slots), domain)
    assert asked.message("utter_ask_confirm_address")["address"].endswith("BA1 1AA")
    correction = "wait, it's BA1 1AB not 1AA, sorry!"
    tracker = make_tracker(
        slots=slots, text=correction, entities=[{"entity": "postcode", "value": "BA1 1AB"}], active_loop="address_form"
    )
    assert form.validate_confirm_address(correction, CollectingDispatcher(), tracker, {}) == {
        "new_address": "5 Mill Lane, Bath BA1 1AB",
        "confirm_address": None,
    }
    yes = make_tracker(slots=slots, text="yes that's right", intent="affirm", active_loop="address_form")
    assert form.validate_confirm_address(True, CollectingDispatcher(), yes, {}) == {"confirm_address": True}


def test_a_question_instead_of_the_address_is_answered_not_stored(store, cases) -> None:
    number = grant(store, cases["placed"])
    dispatcher = CollectingDispatcher()
    said = "is it too late? when does it ship"
    tracker = make_tracker(
        slots={"order_number": number}, text=said, intent="delivery_time", active_loop="address_form"
    )
    assert ValidateAddressForm().validate_new_address(said, dispatcher, tracker, {}) == {"new_address": None}
    assert [m["response"] for m in dispatcher.messages] == ["utter_order_not_shipped"]


def test_address_without_postcode_is_asked_again(store) -> None:
    dispatcher = CollectingDispatcher()
    result = ValidateAddressForm().validate_new_address("somewhere nice", dispatcher, make_tracker(), {})
    assert result == {"new_address": None}
    assert dispatcher.messages[0]["response"] == "utter_address_invalid"


def test_more_ways_of_saying_all_items(store, cases) -> None:
    number = grant(store, cases["returnable"])
    every = ",".join(str(line.line_id) for line in store.return_eligibility(SENDER, number).returnable_lines)
    tracker = make_tracker(slots={"order_number": number}, active_loop="return_form")
    for said in ("the whole lot", "just everything", "all of it", "both please"):
        result = ValidateReturnForm().validate_return_items(said, CollectingDispatcher(), tracker, {})
        assert result == {"return_items": every}, said


async def test_the_reason_question_says_what_will_happen(store, cases, domain) -> None:
    number = grant(store, cases["returnable"])
    line = store.return_eligibility(SENDER, number).returnable_lines[0]
    slots = {"order_number": number, "return_items": str(line.line_id)}
    out = await run(ActionAskReturnReason(), make_tracker(slots=slots), domain)
    summary = out.message("utter_ask_return_reason_summary")
    assert line.title in summary["items"] and summary["order_number"] == number
    assert summary["refund"] == f"£{line.unit_price * line.qty:.2f}"


def test_a_question_at_the_reason_is_answered_and_never_becomes_the_reason(store, cases) -> None:
    number = grant(store, cases["returnable"])
    form = ValidateReturnForm()
    said = "how many days have i got left to do it"
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(slots={"order_number": number}, text=said, intent="return_policy", active_loop="return_form")
    assert form.validate_return_reason(said, dispatcher, tracker, {}) == {"return_reason": None}
    assert [m["response"] for m in dispatcher.messages] == ["utter_return_window_left"]
    reason = "ok. the reason is it arrived damaged"
    tracker = make_tracker(slots={"order_number": number}, text=reason, active_loop="return_form")
    assert form.validate_return_reason(reason, CollectingDispatcher(), tracker, {}) == {
        "return_reason": "it arrived damaged"
    }


async def test_nothing_is_created_without_a_yes_to_the_summary(store, cases, domain) -> None:
    number = grant(store, cases["returnable"])
    line = store.return_eligibility(SENDER, number).returnable_lines[0]
    # a "no" to the summary says nothing has changed, as the rule for a deny does
    for confirmed, response in ((None, "utter_no_return"), (False, "utter_return_stopped")):
        slots = {"order_number": number, "return_items": str(line.line_id), "return_reason": "too small"}
        out = await run(ActionCreateReturn(), make_tracker(slots={**slots, "confirm_return": confirmed}), domain)
        assert out.responses == [response], confirmed
        assert out.slots()["return_items"] is None and out.slots().get("confirm_return") is None
    assert store.returns_for(SENDER, number) == []


async def test_the_confirmation_shows_items_reason_refund_and_label(store, cases, domain) -> None:
    number = grant(store, cases["returnable"])
    line = store.return_eligibility(SENDER, number).returnable_lines[0]
    slots = {"order_number": number, "return_items": str(line.line_id), "return_reason": "too small"}
    out = await run(ActionAskConfirmReturn(), make_tracker(slots=slots), domain)
    asked = out.message("utter_ask_confirm_return")
    assert line.title in asked["items"] and asked["reason"] == "too small" and asked["order_number"] == number
    assert asked["refund"] == f"£{line.unit_price * line.qty:.2f}" and "label" in asked["label"]


#: What ends the return at its reason or its yes/no: nothing is stored, the form stops, no return is made.
STOPS = [
    ("stop", "out_of_scope"), ("cancel", "cancel_order"), ("cancel it", "cancel_order"), ("never mind", "deny"),
    ("changed my mind", "inform"), ("I've changed my mind", "inform"), ("forget it", "inform"),
    ("I changed my mind, I'll keep it", "out_of_scope"), ("ok stop", "out_of_scope"),
    ("don't want to return it anymore", "return_item"), ("please cancel the return", "cancel_order"),
    ("actually I'll keep it", "goodbye"), ("STOP.", "out_of_scope"), ("nvm", "nlu_fallback"),
]  # fmt: skip


def test_stop_cancel_never_mind_end_the_return_form_at_every_question(store, cases) -> None:
    number = grant(store, cases["returnable"])
    form = ValidateReturnForm()
    for text, intent in STOPS:
        tracker = make_tracker(slots={"order_number": number}, text=text, intent=intent, active_loop="return_form")
        ended = {"confirm_return": False, "requested_slot": None}
        assert form.validate_return_reason(text, CollectingDispatcher(), tracker, {}) == {
            "return_reason": None, **ended
        }, text
        assert form.validate_return_items(text, CollectingDispatcher(), tracker, {}) == {
            "return_items": None, **ended
        }, text
        assert form.validate_confirm_return(text, CollectingDispatcher(), tracker, {}) == {
            "confirm_return": False
        }, text


def test_a_button_or_another_request_is_never_the_reason(store, cases) -> None:
    number = grant(store, cases["returnable"])
    form = ValidateReturnForm()
    line = store.return_eligibility(SENDER, number).returnable_lines[0]
    payload = f'/inform{{"return_items": "{line.line_id}"}}'
    for text, intent in [(payload, "inform"), ("/affirm", "affirm"), ("hello", "greet"), ("thanks", "thank"),
                         ("track my other order", "track_order"), ("bye", "goodbye")]:  # fmt: skip
        dispatcher = CollectingDispatcher()
        tracker = make_tracker(slots={"order_number": number}, text=text, intent=intent, active_loop="return_form")
        assert form.validate_return_reason(text, dispatcher, tracker, {}) == {"return_reason": None}, text
        # a thanks is welcomed (and the question stands); anything else is told it is not a reason
        expected = "utter_welcome_form" if intent == "thank" else "utter_return_reason_invalid"
        assert [m["response"] for m in dispatcher.messages] == [expected], text
    # a real reason, even one that mentions a change of mind, is kept in the customer's words
    reasons = [("changed my mind about the colour", "inform"), ("too small", "inform"),
               ("it's broken, obviously", "complaint"), ("the wrong item was sent", "nlu_fallback")]  # fmt: skip
    for text, intent in reasons:
        tracker = make_tracker(slots={"order_number": number}, text=text, intent=intent, active_loop="return_form")
        assert form.validate_return_reason(text, CollectingDispatcher(), tracker, {}) == {"return_reason": text}


def test_only_a_typed_yes_or_the_yes_button_confirms(store, cases) -> None:
    number = grant(store, cases["returnable"])
    form = ValidateReturnForm()
    slots = {"order_number": number, "return_reason": "too small"}

    def confirm(value, text: str, intent: str = "inform", entities=None):
        tracker = make_tracker(slots=slots, text=text, intent=intent, active_loop="return_form", entities=entities)
        dispatcher = CollectingDispatcher()
        return form.validate_confirm_return(value, dispatcher, tracker, {}), dispatcher

    bound = return_token(make_tracker(slots=slots))
    yes_button = [{"entity": "confirm", "value": bound}]
    assert confirm(True, f'/affirm{{"confirm": "{bound}"}}', "affirm", yes_button)[0] == {"confirm_return": True}
    # a yes button of another question (an older "Yes, start a return": a bare /affirm) confirms nothing
    result, dispatcher = confirm(True, "/affirm", "affirm")
    assert result == {"confirm_return": None}
    assert [m["response"] for m in dispatcher.messages] == ["utter_confirm_stale"]
    assert confirm("yes please", "yes please")[0] == {"confirm_return": True}
    assert confirm(False, "/deny", "deny")[0] == {"confirm_return": False}
    assert confirm("no", "no")[0] == {"confirm_return": False}
    payload = '/inform{"return_items": "all"}'
    result, dispatcher = confirm(payload, payload)
    assert result == {"confirm_return": None}
    assert [m["response"] for m in dispatcher.messages] == ["utter_confirm_unclear"]
    result, dispatcher = confirm("how long does the refund take?", "how long does the refund take?", "refund_status")
    assert result == {"confirm_return": None} and dispatcher.messages  # answered, then asked again
    assert confirm("track my order", "track my order", "track_order")[0] == {"confirm_return": None}


async def test_the_cancel_question_names_the_items_and_the_money(store, cases, domain) -> None:
    number = grant(store, cases["placed"])
    out = await run(ActionAskConfirmCancel(), make_tracker(slots={"order_number": number}), domain)
    asked = out.message("utter_ask_confirm_cancel")
    summary = store.order_summary(SENDER, number)
    assert summary.lines[0].title in asked["items"]
    assert asked["money_note"].startswith("you won't be charged") or "goes back" in asked["money_note"]
    assert out.slots() == {"last_question": "confirm_cancel"}


def test_answers_to_the_cancel_question(store, cases) -> None:
    number = grant(store, cases["placed"])
    form = ValidateCancelForm()

    def answer(text: str, intent: str = "inform") -> dict:
        tracker = make_tracker(slots={"order_number": number}, text=text, intent=intent, active_loop="cancel_form")
        return form.validate_confirm_cancel(text, CollectingDispatcher(), tracker, {})

    assert answer("ok yes cancel it", "cancel_order") == {"confirm_cancel": True}
    assert answer("hmm no actually, keep it") == {"confirm_cancel": False}
    assert answer("wait, if I cancel do I get my money back straight away?", "refund_status") == {
        "confirm_cancel": None
    }
    assert store.order_summary(SENDER, number).status == "placed"
