"""The classes of failure blind batch L showed (round conv15, conv15a's share), one test per class, each over
wordings invented for it (never the batch's sentence), with the near misses the reader must leave alone: what the
customer is doing (answering an offer made a few turns back, turning a person down, pleading against a no, asking
something else at the order check, adding to a placed order) read from the conversation."""

from __future__ import annotations

from typing import Any

import pytest

from actions.follow_up import ActionFollowUp
from tests.actions.helpers import make_tracker, run, user

SENDER = "web:test-conversation"


def said(out: Any) -> str:
    return " ".join(str(v) for m in out.messages for v in m.values())



def bot(text: str, response: str | None = None) -> dict[str, Any]:
    return {"event": "bot", "text": text, "metadata": {"utter_action": response} if response else {}}


def slot(name: str, value: Any) -> dict[str, Any]:
    return {"event": "slot", "name": name, "value": value}


def offered(then: list[tuple[str, str]], offer: str = "offer_handoff") -> list[dict[str, Any]]:
    """A conversation where the bot offered a person (or a return), then answered ``then`` (customer message, its
    intent) each with an answer that cleared the offer."""
    events = [
        user("i can't log in to my account, can you sort it", "out_of_scope"),
        bot("A colleague can do that. Shall I pass you to a person?", "utter_account_out_of_scope"),
        slot("last_question", offer),
    ]
    for text, intent in then:
        events += [
            user(text, intent),
            bot("an answer about something", "utter_shipping_info"),
            slot("last_question", None),
        ]
    return events


# ------------------------------------------------------------------------ 1. an open offer outlives turns between


@pytest.mark.parametrize(
    ("intent", "text"),
    [
        ("affirm", "go on then, do it"),
        ("affirm", "meh alright"),
        ("nlu_fallback", "k do that then"),
        ("affirm", "yeah fine, go for it"),
        ("affirm", "alright then, let's do it"),
        ("affirm", "sure thing"),
        ("nlu_fallback", "fine, go ahead"),
    ],
)
async def test_a_yes_two_turns_after_an_offer_of_a_person_takes_it(store, domain, intent, text) -> None:
    events = offered([("and would that be today", "delivery_time"), ("does it cost anything", "shipping_cost")])
    tracker = make_tracker(intent=intent, text=text, events=events)
    out = await run(ActionFollowUp(), tracker, domain)
    assert out.followup() == "action_handoff", (out.messages, out.events)


@pytest.mark.parametrize(
    ("events", "text"),
    [
        # older than a few turns: gone
        (offered([("a", "inform"), ("b", "inform"), ("c", "inform")]), "go on then, do it"),
        # turned down in between
        (offered([("nah, not bothered about a human", "out_of_scope")]), "ok"),
        # replaced by another yes/no question
        (
            offered([("cancel it", "cancel_order")])
            + [slot("last_question", "confirm_cancel"), slot("last_question", None)],
            "fine do it",
        ),
        # a form asked its own question since
        (offered([("track ORD-100001", "track_order")]) + [slot("requested_slot", "proof")], "ok go ahead"),
        # not a bare yes: a new question
        (offered([("and would that be today", "delivery_time")]), "ok when does it arrive"),
    ],
)
async def test_an_old_refused_or_replaced_offer_is_not_taken(store, domain, events, text) -> None:
    tracker = make_tracker(intent="affirm", text=text, events=events)
    out = await run(ActionFollowUp(), tracker, domain)
    assert out.followup() != "action_handoff", (out.messages, out.events)
    assert "ticket" not in said(out)


# ------------------------------------------------------------------------------------ 2. a refusal is respected


@pytest.mark.parametrize(
    "text",
    [
        "no humans thanks, so what's the point of you",
        "not bothered about talking to anyone. what do you even do",
        "keep the people out of it. what are you good for then",
        "nope, not after a person. so what can you actually do",
        "i'd rather not speak to anyone, what are you actually for",
        "don't bother passing me on, what good are you",
    ],
)
async def test_a_person_turned_down_with_what_are_you_for_opens_no_ticket(store, domain, text) -> None:
    from actions.handoff import ActionHandoff

    slots = {"topic": "handoff", "last_question": "offer_handoff"}
    tracker = make_tracker(intent="human_handoff", text=text, slots=slots)
    out = await run(ActionHandoff(), tracker, domain)
    assert out.responses == ["utter_what_i_do"], out.messages
    assert "ticket" not in said(out) and not out.slots().get("handoff_ticket")


@pytest.mark.parametrize(
    "text",
    [
        "no ta, just give me a date",
        "leave the humans out of it, when's it turning up",
        "not interested in talking to someone, i only want an arrival day",
        "nah no agent. when does it land",
        "don't bother passing me on. i need a day it'll get here",
        "rather not deal with a person, just the new date",
    ],
)
async def test_a_person_turned_down_for_a_date_gets_the_estimate(store, cases, domain, text) -> None:
    from tests.actions.helpers import grant

    number = grant(store, cases["delayed"])
    slots = {"order_number": number, "topic": "track", "goal": "track", "last_question": "offer_handoff"}
    tracker = make_tracker(intent="out_of_scope", text=text, slots=slots)
    out = await run(ActionFollowUp(), tracker, domain)
    assert "estimated delivery" in said(out), out.messages
    assert "ticket" not in said(out) and out.followup() != "action_handoff"


@pytest.mark.parametrize(
    "text", ["is there a person i can talk to", "not happy with this, get me someone", "i would rather talk to a human"]
)
def test_asking_for_a_person_is_no_refusal(text) -> None:
    from actions.context import refuses_a_person

    assert not refuses_a_person(text)


# ------------------------------------------------------------------------- 3. a plea for an exception after a no


@pytest.mark.parametrize(
    ("topic", "intent", "text"),
    [
        ("return_policy", "out_of_scope", "come on be reasonable, just this once"),
        ("return_policy", "nlu_fallback", "i got stuck abroad for weeks mate, go easy, let me off"),
        ("return_refused", "return_item", "go on, bend the rules for me"),
        ("return_refused", "out_of_scope", "we had a family emergency, have a heart"),
        ("return_policy", "complaint", "it's only 3 days over, cut me some slack"),
        ("cancel_refused", "cancel_order", "are you kidding, surely you can stop it"),
        ("address_refused", "nlu_fallback", "be a star and turn a blind eye"),
    ],
)
async def test_a_plea_after_a_no_gets_sympathy_and_a_person(store, domain, topic, intent, text) -> None:
    refusal = "It was delivered more than 30 days ago." if topic != "return_policy" else None
    tracker = make_tracker(intent=intent, text=text, slots={"topic": topic, "refusal": refusal})
    out = await run(ActionFollowUp(), tracker, domain)
    assert out.responses and out.responses[0] in {"utter_offer_handoff_dispute", "utter_offer_handoff_refusal"}, (
        out.messages
    )
    assert out.slots().get("last_question") == "offer_handoff"
    assert out.followup() != "action_handoff"  # offered, not opened


@pytest.mark.parametrize(
    ("topic", "text"),
    [
        ("return_policy", "do you accept returns on sale stuff"),
        ("return_policy", "can you let me know how long refunds take"),
        ("products", "be reasonable with the price, anything under 20?"),
    ],
)
async def test_no_plea_without_a_no_or_an_exception(store, domain, topic, text) -> None:
    tracker = make_tracker(intent="nlu_fallback", text=text, slots={"topic": topic})
    out = await run(ActionFollowUp(), tracker, domain)
    assert "utter_offer_handoff_dispute" not in out.responses, out.messages


# --------------------------------------------------------- 4. the order check does not trap a customer asking else


@pytest.mark.parametrize(
    "text",
    [
        "how long are my messages kept on your side?",
        "please erase any details you hold about me",
        "who has access to the data i put in this chat",
        "can i attach a photo of the damage instead",
        "what happens to the info i give you here",
        "honestly just delete my account and everything on it",
    ],
)
async def test_a_question_at_which_order_is_answered_and_ends_the_check(store, domain, text) -> None:
    from actions.identity import ValidateVerifyOrderForm

    slots = {"requested_slot": "order_number", "goal": "track"}
    tracker = make_tracker(intent="nlu_fallback", text=text, slots=slots, active_loop="verify_order_form")
    out = await run(ValidateVerifyOrderForm(), tracker, domain)
    assert out.messages and "utter_order_number_invalid" not in out.responses, out.messages
    assert out.slots().get("verification_locked") is True and out.slots().get("requested_slot", "x") is None


@pytest.mark.parametrize(
    ("intent", "text"),
    [
        ("manage_channels", "who gets to look at my details when i talk to you"),
        ("manage_channels", "do you store what i type in this chat"),
    ],
)
async def test_a_privacy_question_filed_as_linked_chats_starts_no_check(store, domain, intent, text) -> None:
    from actions.identity import ValidateVerifyOrderForm

    tracker = make_tracker(intent=intent, text=text, slots={"goal": "channels"}, active_loop="verify_order_form")
    out = await run(ValidateVerifyOrderForm(), tracker, domain)
    assert out.responses == ["utter_data_kept"], out.messages
    assert out.slots().get("verification_locked") is True


@pytest.mark.parametrize("text", ["it's the one with the lipstick in it", "ORD 100234 i think", "dunno"])
async def test_an_attempt_at_the_order_stays_in_the_check(store, domain, text) -> None:
    from actions.identity import ValidateVerifyOrderForm

    slots = {"requested_slot": "order_number", "goal": "track"}
    tracker = make_tracker(intent="nlu_fallback", text=text, slots=slots, active_loop="verify_order_form")
    out = await run(ValidateVerifyOrderForm(), tracker, domain)
    assert not out.slots().get("verification_locked"), (out.messages, out.events)


# --------------------------------------------------------------------------------- 5. adding to a placed order


@pytest.mark.parametrize(
    ("intent", "text"),
    [
        ("nlu_fallback", "any chance you could slip a mascara into my parcel"),
        ("out_of_scope", "bung a lip balm in too would ya"),
        ("delivery_time", "could the blusher ship together with my last order"),
        ("nlu_fallback", "can i chuck a concealer onto the existing order"),
        ("out_of_scope", "stick a nail polish in with it pls"),
        ("track_order", "would the toner fit in the same box as my order"),
        ("nlu_fallback", "pop a serum in as well, cheers"),
    ],
)
async def test_adding_a_product_to_the_order_in_focus_is_not_possible(store, cases, domain, intent, text) -> None:
    from tests.actions.helpers import grant

    number = grant(store, cases["placed"])
    tracker = make_tracker(intent=intent, text=text, slots={"order_number": number, "topic": "shipping"})
    out = await run(ActionFollowUp(), tracker, domain)
    assert out.responses == ["utter_cannot_add_items"], out.messages


async def test_adding_to_an_order_named_and_not_checked_checks_it_first(store, cases, domain) -> None:
    number = cases["placed"]["order_number"]
    text = f"id like the serum included with {number}"
    entities = [{"entity": "order_number", "value": number}]
    tracker = make_tracker(intent="nlu_fallback", text=text, entities=entities)
    out = await run(ActionFollowUp(), tracker, domain)
    assert out.slots().get("goal") == "add_items" and out.followup() == "verify_order_form", out.events


@pytest.mark.parametrize(
    "text",
    [
        "will both items come in one parcel",
        "does the mascara come in a box",
        "can you send the invoice with my order",
        "can i add it to my basket",
    ],
)
def test_no_adding_without_a_product_put_in_the_order(text) -> None:
    from actions.follow_up import asks_to_add_items

    assert not asks_to_add_items(text, order_in_focus=True)


# ----------------------------------------------- 6. the reason given with the items, in words no cue list holds


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("all of them - the tone was way off compared to the website", "tone was way off"),
        ("everything. gave me spots within a day", "gave me spots"),
        ("both, my sister got me the exact same set for christmas", "sister got me"),
        ("the lot; honestly it just looks cakey on my skin", "looks cakey"),
        ("all of it, packaging was crushed when the courier dropped it off", "packaging was crushed"),
        ("everything please, ordered the wrong formula by accident", "wrong formula"),
    ],
)
def test_a_reason_in_any_words_given_with_the_items_is_kept(store, cases, text, reason) -> None:
    """Then the next question is the yes to the whole return, and "ok go ahead" sets it up (not "why?" again)."""
    from rasa_sdk.executor import CollectingDispatcher

    from actions.returns import ValidateReturnForm
    from tests.actions.helpers import grant

    number = grant(store, cases["returnable"])
    tracker = make_tracker(slots={"order_number": number}, active_loop="return_form", text=text)
    out = ValidateReturnForm().validate_return_items(text, CollectingDispatcher(), tracker, {})
    assert out["return_items"] and reason in (out.get("return_reason") or ""), out


@pytest.mark.parametrize(
    "text",
    ["all of them, cheers mate", "everything, how long does the refund take?", "both please, not sure yet"],
)
def test_a_pick_with_thanks_or_a_question_is_no_reason(store, cases, text) -> None:
    from rasa_sdk.executor import CollectingDispatcher

    from actions.returns import ValidateReturnForm
    from tests.actions.helpers import grant

    number = grant(store, cases["returnable"])
    tracker = make_tracker(slots={"order_number": number}, active_loop="return_form", text=text)
    out = ValidateReturnForm().validate_return_items(text, CollectingDispatcher(), tracker, {})
    assert out.get("return_reason") is None, out


@pytest.mark.parametrize(
    "text",
    [
        "right so what's the process then",
        "ok how does one get that changed",
        "is there a way i can get it sorted",
        "so what are the steps",
        "whats my options then",
        "fine, and what is the way to get that done",
    ],
)
async def test_how_then_after_a_colleague_was_offered_is_that_colleague(store, domain, text) -> None:
    """Between the offer of a colleague and the yes: how it gets done is the colleague, offered again."""
    events = [
        user("change my surname please", "out_of_scope"),
        bot("A colleague can do that. Shall I pass you to a person?", "utter_account_out_of_scope"),
    ]
    tracker = make_tracker(intent="out_of_scope", text=text, events=events, slots={"last_question": "offer_handoff"})
    out = await run(ActionFollowUp(), tracker, domain)
    assert out.responses == ["utter_colleague_how"], out.messages
    assert out.slots().get("last_question", "offer_handoff") == "offer_handoff"  # (unchanged: not set again)


async def test_order_news_asked_in_words_still_starts_its_check(store, domain) -> None:
    """Near miss: "will you let me know once it's through?" sent to the check for order news (its goal set by the
    follow-up, NLU unsure) is that check, not a question that ends it."""
    from actions.identity import ValidateVerifyOrderForm

    text = "Ok. will you let me know once it's through?"
    slots = {"goal": "notify_on", "topic": "refund", "order_number": "ORD-100086"}
    tracker = make_tracker(intent="nlu_fallback", text=text, slots=slots, active_loop="verify_order_form")
    out = await run(ValidateVerifyOrderForm(), tracker, domain)
    assert not out.slots().get("verification_locked"), (out.messages, out.events)


@pytest.mark.parametrize(
    ("intent", "text"),
    [
        ("notifications_opt_in", "can you send me updates when it's out for delivery?"),
        ("notifications_opt_in", "could you ping me when it's shipped"),
        ("manage_channels", "can i get these chats on telegram too?"),
    ],
)
async def test_an_account_request_at_the_start_of_its_check_stays_in_it(store, cases, domain, intent, text) -> None:
    """Near miss: order news or linked chats asked for (with an order in focus) are the check's own goal."""
    from actions.identity import ValidateVerifyOrderForm
    from tests.actions.helpers import grant

    number = grant(store, cases["shipped"])
    slots = {"goal": "notify_on", "topic": "track", "order_number": number}
    tracker = make_tracker(intent=intent, text=text, slots=slots, active_loop="verify_order_form")
    out = await run(ValidateVerifyOrderForm(), tracker, domain)
    assert not out.slots().get("verification_locked"), (out.messages, out.events)


@pytest.mark.parametrize(
    "text", ["can you put my company name on it?", "could you add my VAT number to it", "pop my flat number on it"]
)
def test_details_put_on_the_order_or_invoice_are_no_items(text) -> None:
    from actions.follow_up import asks_to_add_items

    assert not asks_to_add_items(text, order_in_focus=True)
