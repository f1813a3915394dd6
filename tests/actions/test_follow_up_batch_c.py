"""The classes of failure the third blind batch (tests/conversations/blind_c.yml) showed, one test per class:
a person asked for in any words, a goodbye NLU guessed, venting and the topic's own follow-ups, corrections at a
summary, an e-mail pointed back to, order news asked after a postcode, a return under way when tracking."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.follow_up import ActionAskOrderNumber, ActionFollowUp, ActionGoodbye, wants_a_person
from actions.goals import ActionContinueGoal
from actions.handoff import ActionHandoff
from actions.identity import VERIFIED, ValidateVerifyOrderForm
from actions.orders import ValidateAddressForm, corrected_part
from actions.payments import ActionPaymentAdvice
from actions.products import ActionRecommendProducts
from actions.returns import ValidateReturnForm, reason_not_item
from actions.shipping import ActionShippingInfo
from store.records import ReturnableLine
from store.service import OrderStore
from tests.actions.helpers import grant, make_tracker, run

SENDER = "web:test-conversation"


def bot_said(response: str) -> list[dict[str, Any]]:
    """Earlier events: a customer message and the bot's answer with ``response``."""
    return [
        {"event": "user", "text": "earlier", "parse_data": {"intent": {"name": "inform"}, "entities": []}},
        {"event": "bot", "text": "...", "metadata": {"utter_action": response}},
    ]


# --------------------------------------------------------------------------------------- a person


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("can someone look into it please", True),
        ("that's too slow, can someone speed it up", True),
        ("can someone gift wrap it for me", True),
        ("ok get me someone to help", True),
        ("could a colleague check it", True),
        ("can someone else collect my parcel?", False),
        ("someone stole my parcel", False),
        ("where is my order", False),
    ],
)
def test_a_person_asked_to_do_something_in_any_words(text: str, asks: bool) -> None:
    assert wants_a_person(text) is asks


async def test_asking_someone_to_look_into_it_hands_over_whatever_nlu_said(store, domain) -> None:
    out = await run(
        ActionFollowUp(), make_tracker(intent="out_of_scope", text="can someone look into it please"), domain
    )
    assert out.followup() == "action_handoff"
    # inside the order check too ("can someone show me where it is?" read as tracking)
    asked = await run(
        ActionAskOrderNumber(),
        make_tracker(intent="track_order", text="can someone show me where it is?", active_loop="verify_order_form"),
        domain,
    )
    assert asked.followup() == "action_handoff" and asked.responses == []


async def test_a_goodbye_nlu_guessed_after_the_offer_of_a_person_is_the_person(store, domain) -> None:
    events = bot_said("utter_bot_challenge")
    out = await run(ActionGoodbye(), make_tracker(intent="goodbye", text="then get me one", events=events), domain)
    assert out.followup() == "action_handoff"
    yes = await run(ActionFollowUp(), make_tracker(intent="affirm", text="yes please", events=events), domain)
    assert yes.followup() == "action_handoff"
    bye = await run(ActionGoodbye(), make_tracker(intent="goodbye", text="ok bye then", events=events), domain)
    assert bye.responses == ["utter_goodbye"]


async def test_praise_read_as_a_complaint_is_thanked_and_a_real_complaint_is_not(store, domain) -> None:
    praise = "nothing really, just wanted to say thanks, the last order was lovely"
    out = await run(ActionHandoff(), make_tracker(intent="complaint", text=praise), domain)
    assert out.responses == ["utter_praise_thanks"]
    mixed = await run(
        ActionHandoff(), make_tracker(intent="complaint", text="lovely box but the bottle was broken"), domain
    )
    assert mixed.responses == ["utter_complaint_offer"]


async def test_deleting_my_data_is_explained_and_a_person_offered(store, domain) -> None:
    out = await run(ActionFollowUp(), make_tracker(intent="out_of_scope", text="please delete all my data"), domain)
    assert out.responses == ["utter_data_request"]
    assert out.slots()["last_question"] == "offer_handoff"


async def test_adding_an_item_to_a_placed_order_says_what_can_be_done(store, cases, domain) -> None:
    number = grant(store, cases["placed"])
    out = await run(
        ActionFollowUp(),
        make_tracker(
            intent="out_of_scope", text="I wanted to add a lip balm", slots={"order_number": number, "topic": "track"}
        ),
        domain,
    )
    assert out.responses == ["utter_cannot_add_to_order"]


async def test_a_photo_while_waiting_for_a_person_is_welcome(store, domain) -> None:
    first = await run(ActionHandoff(), make_tracker(intent="human_handoff", text="i want a human"), domain)
    ticket = first.slots()["handoff_ticket"]
    out = await run(
        ActionFollowUp(),
        make_tracker(
            intent="out_of_scope", text="can i send a pic?", slots={"handoff_ticket": ticket, "topic": "handoff"}
        ),
        domain,
    )
    assert out.responses == ["utter_photo"]


# ---------------------------------------------------------------------------------- the order in focus


async def test_venting_about_the_order_in_focus_offers_a_person(store, cases, domain) -> None:
    number = grant(store, cases["delayed"])
    out = await run(
        ActionFollowUp(),
        make_tracker(
            intent="inform",
            text="it was for my dad's birthday, so fed up",
            slots={"order_number": number, "topic": "track"},
        ),
        domain,
    )
    assert out.responses == ["utter_complaint_offer"]
    assert out.slots()["last_question"] == "offer_handoff"


async def test_not_being_in_is_what_the_carrier_does_then(store, cases, domain) -> None:
    number = grant(store, cases["in_transit"])
    out = await run(
        ActionFollowUp(),
        make_tracker(
            intent="out_of_scope", text="and if nobody's home?", slots={"order_number": number, "topic": "track"}
        ),
        domain,
    )
    assert out.responses == ["utter_tracking_not_home"]


async def test_a_return_instead_of_a_refused_cancel_is_once_it_arrives(store, cases, domain) -> None:
    number = grant(store, cases["shipped"])
    slots = {"order_number": number, "topic": "cancel_refused", "refusal": f"Order {number} has already shipped."}
    out = await run(
        ActionFollowUp(),
        make_tracker(intent="nlu_fallback", text="could i send it back when it comes then?", slots=slots),
        domain,
    )
    assert out.responses == ["utter_return_once_delivered"]


async def test_is_it_tracked_after_a_quote_is_about_the_delivery_options(store, domain) -> None:
    tracker = make_tracker(
        intent="track_order", text="and is that tracked?", slots={"topic": "shipping"}, active_loop="verify_order_form"
    )
    out = await run(ActionAskOrderNumber(), tracker, domain)
    assert out.responses == ["utter_shipping_tracked"]


async def test_the_proof_after_a_quote_answers_the_order_question_not_the_quote(store, cases, domain) -> None:
    case = cases["in_transit"]
    number = grant(store, case)
    events = [{"event": "action", "name": "verify_order_form"}]
    tracker = make_tracker(
        intent="inform",
        text=case["postcode"],
        entities=[{"entity": "postcode", "value": case["postcode"]}],
        slots={"order_number": number, "topic": "shipping", "goal": "track", "proof": VERIFIED},
    )
    tracker.events.extend(events)
    out = await run(ActionContinueGoal(), tracker, domain)
    assert "utter_shipping_quote" not in out.responses
    assert any(r and r.startswith("utter_tracking") for r in out.responses), out.responses


async def test_tracking_an_order_being_returned_says_where_the_return_stands(store, cases, domain) -> None:
    number = grant(store, cases["return_requested"])
    out = await run(ActionContinueGoal(), make_tracker(slots={"order_number": number, "goal": "track"}), domain)
    texts = " ".join(str(m) for m in out.messages)
    assert cases["return_requested"]["rma_number"] in texts
    assert out.slots()["topic"] == "return_status"


async def test_order_news_asked_for_after_a_postcode_asks_for_the_email(store, cases, domain) -> None:
    case = cases["shipped"]
    store.verify(SENDER, case["order_number"], case["postcode"])
    tracker = make_tracker(
        intent="track_order",
        text="can you send me updates about it?",
        slots={"order_number": case["order_number"], "goal": "track"},
    )
    out = await run(ActionContinueGoal(), tracker, domain)
    assert out.slots()["goal"] == "notify_on"
    assert not any(r and r.startswith("utter_tracking") for r in out.responses), out.responses


# ------------------------------------------------------------------------------- corrections, pointing back


def test_a_corrected_part_of_the_address_is_swapped() -> None:
    current = "Flat 3, 12 Mill Road, Leeds LS6 2AB"
    assert corrected_part("no wait, it's Mill Lane not Mill Road", current) == "Flat 3, 12 Mill Lane, Leeds LS6 2AB"
    assert corrected_part("sorry, flat 4 not flat 3", current) == "flat 4, 12 Mill Road, Leeds LS6 2AB"
    assert corrected_part("no, not now", current) is None
    assert corrected_part("Leeds not London", current) is None  # London is not in it: nothing to swap


async def test_a_correction_at_the_address_summary_asks_again_with_it(store, cases) -> None:
    number = grant(store, cases["placed"])
    slots = {"order_number": number, "new_address": "Flat 3, 12 Mill Road, Leeds LS6 2AB"}
    tracker = make_tracker(
        slots=slots, text="no wait, it's Mill Lane not Mill Road", intent="deny", active_loop="address_form"
    )
    out = ValidateAddressForm().validate_confirm_address(False, CollectingDispatcher(), tracker, {})
    assert out == {"new_address": "Flat 3, 12 Mill Lane, Leeds LS6 2AB", "confirm_address": None}


async def test_same_email_points_back_to_the_one_given_earlier(store: OrderStore, cases) -> None:
    case = cases["final_sale"]
    earlier = [
        {
            "event": "user",
            "text": f"what orders are on {case['email']}?",
            "parse_data": {
                "intent": {"name": "track_order"},
                "entities": [{"entity": "email", "value": case["email"]}],
            },
        },
        {"event": "bot", "text": "Which order is it about?"},
    ]
    tracker = make_tracker(
        text=f"ok found it, {case['order_number']}, same email",
        entities=[{"entity": "order_number", "value": case["order_number"]}],
        events=earlier,
        active_loop="verify_order_form",
    )
    dispatcher = CollectingDispatcher()
    out = ValidateVerifyOrderForm().validate_order_number(case["order_number"], dispatcher, tracker, {})
    assert out["proof"] == VERIFIED and out["order_number"] == case["order_number"]
    # without pointing back, the earlier e-mail is not used
    plain = make_tracker(text=case["order_number"], events=earlier, active_loop="verify_order_form", sender="web:other")
    again = ValidateVerifyOrderForm().validate_order_number(case["order_number"], CollectingDispatcher(), plain, {})
    assert again["proof"] is None


# ------------------------------------------------------------------------------ never silent, NLU slips


async def test_waiting_on_a_tablet_whose_call_was_merged_into_another_is_answered(store, domain) -> None:
    # the gateway closed this session's ticket at once because another call to the same tablet was open
    ticket = store.open_handoff("tablet:s2", channel="tablet", reason="staff", summary="", store_id="LDN-01")
    store.close_handoff(ticket.ticket_number)
    tablet = {"channel": "tablet", "store_id": "LDN-01"}
    slots = {"handoff_ticket": ticket.ticket_number, "topic": "handoff"}
    tracker = make_tracker(
        "tablet:s2", intent="delivery_time", text="how long will they be", slots=slots, metadata=tablet
    )
    out = await run(ActionShippingInfo(), tracker, domain)
    assert out.responses == ["utter_staff_call_pending"]


async def test_other_orders_are_asked_for_by_number(store, cases, domain) -> None:
    case = cases["in_transit"]
    store.verify(SENDER, case["order_number"], case["email"])
    out = await run(
        ActionFollowUp(), make_tracker(intent="nlu_fallback", text="do I have any other orders with you?"), domain
    )
    assert out.responses == ["utter_other_orders_by_email"]
    stranger = await run(
        ActionFollowUp(), make_tracker("web:other", intent="nlu_fallback", text="what orders are on my account"), domain
    )
    assert stranger.responses == ["utter_other_orders"]


async def test_what_sending_it_back_costs_is_the_returns_policy_part(store, cases, domain) -> None:
    out = await run(
        ActionFollowUp(), make_tracker(intent="nlu_fallback", text="and how much does sending it back cost"), domain
    )
    assert out.responses == ["utter_return_policy_part"]


async def test_an_address_change_nlu_guessed_for_a_return_question_is_the_return(store, cases, domain) -> None:
    case = cases["returnable"]
    number = grant(store, case)
    tracker = make_tracker(
        intent="change_shipping_address",
        text=f"can i still send back {number}? postcode {case['postcode']}",
        slots={"order_number": number, "goal": "change_address"},
    )
    out = await run(ActionContinueGoal(), tracker, domain)
    assert out.slots()["goal"] == "return"
    assert not any(r and "address" in r for r in out.responses), out.responses


async def test_thanks_after_a_failed_payment_is_thanks(store, cases, domain) -> None:
    number = grant(store, cases["payment_failed"])
    tracker = make_tracker(
        intent="payment_problem", text="ok thanks, trying again now", slots={"order_number": number, "topic": "payment"}
    )
    out = await run(ActionPaymentAdvice(), tracker, domain)
    assert out.responses == ["utter_thank"] and out.followup() == "action_listen"


def test_a_reason_that_shares_a_word_with_a_product_is_not_the_item() -> None:
    concealer = [
        ReturnableLine(line_id=1, sku="X", title="Kindred Colour Full Coverage Concealer", qty=1, unit_price=Decimal(1))
    ]
    assert reason_not_item("it's just not the right colour for me", concealer)
    assert not reason_not_item("the kindred colour concealer", concealer)  # named by its title
    assert not reason_not_item("the concealer", concealer)  # no reason in it


def test_inside_the_return_form_a_reason_is_kept_and_thanks_are_welcome(store, cases) -> None:
    number = grant(store, cases["returnable"])
    lines = store.return_eligibility(SENDER, number).returnable_lines
    assert len(lines) > 1
    # a reason sharing one word with a title ("Colour" in a brand) is not an item pick
    word = next(w for w in lines[0].title.split() if len(w) > 3)
    reason = f"it's just not the right {word.lower()} for me"
    tracker = make_tracker(slots={"order_number": number}, text=reason, active_loop="return_form")
    dispatcher = CollectingDispatcher()
    out = ValidateReturnForm().validate_return_items(reason, dispatcher, tracker, {})
    assert out == {"return_items": None, "return_reason": reason}
    thanks = make_tracker(slots={"order_number": number}, text="cheers", intent="thank", active_loop="return_form")
    said_back = CollectingDispatcher()
    assert ValidateReturnForm().validate_return_items("cheers", said_back, thanks, {}) == {"return_items": None}
    assert [m["response"] for m in said_back.messages] == ["utter_welcome_form"]


async def test_a_damaged_item_without_a_matching_policy_part_still_gets_an_answer(store, domain) -> None:
    out = await run(
        ActionFollowUp(),
        make_tracker(intent="out_of_scope", text="my eyeshadow palette arrived completely shattered"),
        domain,
    )
    assert out.responses and out.responses[0] in {"utter_return_policy_part", "utter_return_policy"}


async def test_i_dont_know_her_email_after_the_form_was_ended_is_answered(store, cases, domain) -> None:
    # rules end the order check on a "no" first; action_deactivate_loop says nothing, so this is not a turn
    # already answered
    events = [{"event": "action", "name": "action_deactivate_loop"}]
    tracker = make_tracker(
        intent="deny",
        text="I don't know her email, I'm not great with that stuff",
        slots={"order_number": cases["in_transit"]["order_number"]},
    )
    tracker.events.extend(events)
    out = await run(ActionFollowUp(), tracker, domain)
    assert out.responses == ["utter_no_email"]


async def test_a_way_to_pay_named_after_the_ways_to_pay_is_a_way_to_pay(store, domain) -> None:
    tracker = make_tracker(
        intent="recommend_product",
        text="what about gift cards",
        entities=[{"entity": "category", "value": "gift cards"}],
        slots={"topic": "payment_methods"},
    )
    out = await run(ActionRecommendProducts(), tracker, domain)
    assert out.responses == ["utter_payment_methods_named"]
    shopping = make_tracker(
        intent="recommend_product", text="can you recommend a gift card for my mum", slots={"topic": "payment_methods"}
    )
    assert (await run(ActionRecommendProducts(), shopping, domain)).responses != ["utter_payment_methods_named"]


async def test_an_address_change_nlu_guessed_for_a_proof_keeps_the_goal_before_it(store, cases, domain) -> None:
    case = cases["payment_failed"]
    number = grant(store, case)
    earlier = [{"event": "slot", "name": "goal", "value": "payment"}, {"event": "user", "text": "my payment failed"}]
    tracker = make_tracker(
        intent="change_shipping_address",
        text=f"sorry that's my old postcode, try {case['email']}",
        slots={"order_number": number, "goal": "change_address"},
        events=earlier,
    )
    tracker.events.append({"event": "slot", "name": "goal", "value": "change_address"})
    out = await run(ActionContinueGoal(), tracker, domain)
    assert out.slots()["goal"] == "payment"
    assert "utter_payment_info" in out.responses, out.responses


@pytest.mark.parametrize(
    "text", ["and my surname, I got married", "how do i unsubscribe from your newsletter then", "need a new password"]
)
async def test_account_details_are_for_a_colleague(store, domain, text: str) -> None:
    out = await run(ActionFollowUp(), make_tracker(intent="inform", text=text), domain)
    assert out.responses == ["utter_account_out_of_scope"]


async def test_removing_an_item_is_answered_like_adding_one(store, domain) -> None:
    out = await run(
        ActionFollowUp(), make_tracker(intent="out_of_scope", text="ok then can i remove one item instead"), domain
    )
    assert out.responses == ["utter_cannot_add_to_order"]


async def test_the_rma_again_is_the_returns_of_the_order_in_focus(store, cases, domain) -> None:
    case = cases["return_requested"]
    number = grant(store, case)
    out = await run(
        ActionFollowUp(),
        make_tracker(
            intent="out_of_scope",
            text="oh did i already do that lol. whats the rma again",
            slots={"order_number": number},
        ),
        domain,
    )
    assert case["rma_number"] in " ".join(str(m) for m in out.messages)


async def test_the_goal_before_a_proof_nlu_read_as_an_address_change_is_kept(store, cases, domain) -> None:
    case = cases["refunded"]
    number = grant(store, case)
    events = [
        {"event": "slot", "name": "goal", "value": "refund_status"},
        {
            "event": "user",
            "text": "sorry typo: x@example.com",
            "parse_data": {"intent": {"name": "change_shipping_address"}},
        },
        {"event": "slot", "name": "goal", "value": "change_address"},
    ]
    tracker = make_tracker(text=case["email"], slots={"order_number": number, "goal": "change_address"}, events=events)
    out = await run(ActionContinueGoal(), tracker, domain)
    assert out.slots()["goal"] == "refund_status"


async def test_removing_an_item_while_the_check_waits_for_a_proof_is_answered(store, domain) -> None:
    tracker = make_tracker(
        intent="out_of_scope",
        text="ok then can i remove one item instead",
        slots={"order_number": "ORD-100275", "requested_slot": "proof"},
        active_loop="verify_order_form",
    )
    out = await run(ActionFollowUp(), tracker, domain)
    assert out.responses == ["utter_cannot_add_to_order"] and out.followup() == "action_listen"


async def test_how_long_delivery_takes_for_an_order_not_shipped_yet(store, cases, domain) -> None:
    number = grant(store, cases["placed"])
    tracker = make_tracker(
        intent="delivery_time",
        text="ok so how long does delivery usually take once it ships",
        slots={"order_number": number, "topic": "track"},
    )
    out = await run(ActionShippingInfo(), tracker, domain)
    texts = " ".join(str(m.get("text") or "") for m in out.messages)
    assert "working day" in texts and "Once it ships" in texts, out.messages
