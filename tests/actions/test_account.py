"""One customer across channels in the actions: linking after verification, carry-over, drafts, linked chats, news."""

from __future__ import annotations

from typing import Any

from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.account import ActionResumeReturn, accounts, channel_from_text
from actions.goals import ActionContinueGoal
from actions.identity import VERIFIED, ValidateVerifyOrderForm
from actions.returns import ActionCreateReturn, ValidateReturnForm
from store import models as m
from store.accounts import OPEN_RETURNS
from store.service import OrderStore
from tests.actions.helpers import make_tracker, run

FORM = ValidateVerifyOrderForm()
TELEGRAM = {"channel": "telegram"}


def verify(
    case: dict[str, Any], sender: str, metadata: dict[str, Any] | None = None, input_channel: str | None = None
) -> tuple[dict[str, Any], CollectingDispatcher]:
    """Give the right proof for ``case``'s order in conversation ``sender`` (the form's validator)."""
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        sender,
        slots={"order_number": case["order_number"]},
        active_loop="verify_order_form",
        metadata=metadata or {"channel": sender.split(":")[0]},
        input_channel=input_channel,
    )
    return FORM.validate_proof(case["email"], dispatcher, tracker, {}), dispatcher


def responses(dispatcher: CollectingDispatcher) -> list[str | None]:
    return [m.get("response") for m in dispatcher.messages]


def links(store: OrderStore, case: dict[str, Any]) -> list[str]:
    customer = store.verified_customer(f"probe:{case['order_number']}")
    if customer is None:
        store.verify(f"probe:{case['order_number']}", case["order_number"], case["email"])
        customer = store.verified_customer(f"probe:{case['order_number']}")
    assert customer is not None
    return sorted(link.conversation_id for link in accounts().linked_channels(customer))


# ------------------------------------------------------------------------------------------- linking


def other_order_with_open_return(store: OrderStore) -> tuple[dict[str, Any], str, str]:
    """A customer with an open return on one order and another order: (proof case, that RMA, its order).

    The demo cases come from one-order customers, so the carry-over needs a customer found in the shop.
    """
    with store._session_factory() as session:  # noqa: SLF001 (a fixture query, not the store's API)
        open_returns = session.execute(
            select(m.Return.rma_number, m.Order.number, m.Order.customer_id)
            .join(m.Order, m.Order.id == m.Return.order_id)
            .where(m.Return.status.in_(OPEN_RETURNS))
            .order_by(m.Return.rma_number)
        ).all()
        for rma, returned, customer_id in open_returns:  # noqa: B007 (the match is used after the break)
            number = session.scalar(
                select(m.Order.number)
                .where(m.Order.customer_id == customer_id, m.Order.number != returned)
                .order_by(m.Order.number)
            )
            if number is not None:
                email = session.scalar(select(m.Customer.email).where(m.Customer.id == customer_id))
                break
        else:
            raise AssertionError("the demo shop has no customer with an open return and another order")
    return {"order_number": number, "email": email}, rma, returned


async def test_verifying_on_web_and_telegram_links_both_and_carries_over_after_the_answer(store, domain) -> None:
    case, rma, returned = other_order_with_open_return(store)
    result, first = verify(case, "web:conv-1")
    assert result["proof"] == VERIFIED
    assert responses(first) == ["utter_verified"]  # linking says nothing
    assert links(store, case) == ["web:conv-1"]
    answered = await goal("track", "web:conv-1", case, domain)
    assert "utter_carry_over" not in answered.responses  # nothing to carry over from a first channel

    result, second = verify(case, "telegram:4242", TELEGRAM)
    assert result["proof"] == VERIFIED
    assert responses(second) == ["utter_verified"]  # the answer comes first, the summary after it
    assert links(store, case) == ["telegram:4242", "web:conv-1"]
    answered = await goal("track", "telegram:4242", case, domain)
    assert answered.responses[0].startswith("utter_tracking") or answered.responses[0] == "utter_order_closed"
    assert answered.responses[-1] == "utter_carry_over"
    carried = answered.message("utter_carry_over")
    assert carried["channels"] == "the web chat"
    assert rma in carried["items"] and returned in carried["items"]  # the other order's open return
    assert case["order_number"] not in carried["items"]  # the order just answered is not repeated
    # the carried-over return's order can now be followed up on Telegram (the e-mail proved the customer)
    assert store.is_verified("telegram:4242", returned)


def test_no_link_without_verification_on_that_channel(store, cases) -> None:
    case = cases["in_transit"]
    verify(case, "web:conv-2")
    wrong = dict(case, email="someone.else@example.com")
    result, dispatcher = verify(wrong, "telegram:5151", TELEGRAM)
    assert result == {"proof": None}
    assert responses(dispatcher) == ["utter_verification_failed"]
    assert links(store, case) == ["web:conv-2"]


def test_forged_metadata_through_rasas_rest_channel_never_links(store, cases) -> None:
    case = cases["in_transit"]
    result, dispatcher = verify(case, "telegram:6161", TELEGRAM, input_channel="rest")
    assert result["proof"] == VERIFIED  # the proof is still right ...
    assert responses(dispatcher) == ["utter_verified"]
    assert links(store, case) == []  # ... but nothing vouches for the channel account


def test_a_sender_of_another_channel_than_the_metadata_never_links(store, cases) -> None:
    case = cases["in_transit"]
    verify(case, "web:conv-3", TELEGRAM)
    assert links(store, case) == []


def test_tablets_and_slack_staff_never_link(store, cases) -> None:
    case = cases["in_transit"]
    verify(case, "tablet:kiosk-1", {"channel": "tablet", "store_id": "LDN-01"})
    staff = {"channel": "slack", "staff": {"id": "U0STAFF", "role": "staff"}}
    tracker = make_tracker("slack:T1-U0STAFF", slots={}, active_loop="verify_order_form", metadata=staff)
    granted = FORM.validate_order_number(case["order_number"], CollectingDispatcher(), tracker, {})
    assert granted["proof"] == VERIFIED
    assert links(store, case) == []


# --------------------------------------------------------------------------------------------- drafts


async def test_a_return_started_on_the_web_is_finished_on_telegram(store, cases, domain) -> None:
    case = cases["returnable"]
    verify(case, "web:shop-1")
    number = case["order_number"]
    line = store.return_eligibility("web:shop-1", number).returnable_lines[0]
    form = ValidateReturnForm()
    tracker = make_tracker("web:shop-1", slots={"order_number": number}, active_loop="return_form")
    assert form.validate_return_items(str(line.line_id), CollectingDispatcher(), tracker, {}) == {
        "return_items": str(line.line_id)
    }
    # ... the customer leaves; later, on Telegram, they ask about something else:
    verify(case, "telegram:9090", TELEGRAM)
    answered = await goal("track", "telegram:9090", case, domain)
    offer = answered.message("utter_offer_finish_return")  # after the answer to what they asked
    assert answered.responses.index("utter_offer_finish_return") > 0
    assert (offer["order_number"], offer["channel_name"]) == (number, "the web chat")

    resumed = await run(ActionResumeReturn(), make_tracker("telegram:9090", metadata=TELEGRAM), domain)
    assert resumed.responses == ["utter_resuming_return"]
    assert resumed.slots()["order_number"] == number
    assert resumed.slots()["return_items"] == str(line.line_id)
    assert resumed.slots()["return_reason"] is None
    assert resumed.followup() == "return_form"

    slots = {"order_number": number, "return_items": str(line.line_id), "return_reason": "wrong size"}
    slots["confirm_return"] = True  # the customer said yes to the summary
    created = await run(ActionCreateReturn(), make_tracker("telegram:9090", slots=slots, metadata=TELEGRAM), domain)
    rma = created.message("utter_return_created")["rma_number"]
    assert store.return_by_rma("telegram:9090", rma).reason == "wrong size"
    again = await run(ActionResumeReturn(), make_tracker("telegram:9090", metadata=TELEGRAM), domain)
    assert again.responses == ["utter_no_return_draft"]


async def test_resume_before_verifying_here_starts_the_verification_form(store, cases, domain) -> None:
    # Saying only "which order?" left the answer to no form: the order number then went unread.
    out = await run(ActionResumeReturn(), make_tracker("telegram:1", metadata=TELEGRAM), domain)
    assert out.responses == []  # the form asks for the order number itself
    assert out.slots() == {"goal": "return"}
    assert out.followup() == "verify_order_form"


async def test_finish_my_return_as_first_words_on_telegram_verifies_then_resumes_the_draft(
    store, cases, domain
) -> None:
    case = cases["returnable"]
    number = case["order_number"]
    verify(case, "web:shop-3")
    line = store.return_eligibility("web:shop-3", number).returnable_lines[0]
    tracker = make_tracker("web:shop-3", slots={"order_number": number}, active_loop="return_form")
    ValidateReturnForm().validate_return_items(str(line.line_id), CollectingDispatcher(), tracker, {})

    asked = await run(ActionResumeReturn(), make_tracker("telegram:3030", metadata=TELEGRAM), domain)
    assert asked.followup() == "verify_order_form"
    # The form verifies with the goal "return": no "shall we finish it here?" offer, the goal handler resumes.
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        "telegram:3030",
        slots={"order_number": number, "goal": "return"},
        active_loop="verify_order_form",
        metadata=TELEGRAM,
    )
    assert FORM.validate_proof(case["email"], dispatcher, tracker, {})["proof"] == VERIFIED
    assert "utter_offer_finish_return" not in responses(dispatcher)
    resumed = await goal("return", "telegram:3030", case, domain)
    assert resumed.responses[0] == "utter_resuming_return"
    assert "utter_offer_finish_return" not in resumed.responses
    assert resumed.slots()["return_items"] == str(line.line_id)
    assert resumed.followup() == "return_form"


async def test_asking_again_to_return_the_same_order_picks_the_unfinished_return_up(store, cases, domain) -> None:
    returnable = cases["returnable"]
    verify(returnable, "web:shop-4")
    started = await goal("return", "web:shop-4", returnable, domain)
    assert "utter_resuming_return" not in started.responses
    assert started.followup() == "return_form"
    again = await goal("return", "web:shop-4", returnable, domain)  # same order again: picked up, not restarted
    assert again.responses == ["utter_resuming_return"]


# ---------------------------------------------------------------------------- linked chats, news opt-in


#: What a customer says to ask for each goal (the goal handler reads whether it was asked for or asked about).
ASKED = {"return": ("return_item", "I want to return my order"), "track": ("track_order", "where is my order")}


async def goal(
    goal_name: str, sender: str, case: dict[str, Any], domain: dict[str, Any], *, events: Any = None, **slots: Any
):
    intent, text = ASKED.get(goal_name, ("inform", ""))
    tracker = make_tracker(
        sender,
        slots={"order_number": case["order_number"], "goal": goal_name, **slots},
        metadata={"channel": sender.split(":")[0]},
        intent=intent,
        text=text,
        events=events,
    )
    return await run(ActionContinueGoal(), tracker, domain)


async def test_list_and_remove_linked_channels(store, cases, domain) -> None:
    case = cases["in_transit"]
    verify(case, "web:conv-9")
    verify(case, "telegram:777", TELEGRAM)
    listed = await goal("channels", "telegram:777", case, domain)
    msg = listed.message("utter_linked_channels")
    assert msg["channels"] == "the web chat and Telegram (this chat)"
    assert [b["payload"] for b in msg["buttons"]] == [
        '/unlink_channel{"linked_channel": "web"}',
        '/unlink_channel{"linked_channel": "telegram"}',
    ]
    removed = await goal("unlink", "telegram:777", case, domain, linked_channel="web")
    assert removed.responses == ["utter_channel_unlinked"]
    assert removed.slots()["linked_channel"] is None and removed.slots()["topic"] == "account"
    assert links(store, case) == ["telegram:777"]
    nothing = await goal("unlink", "telegram:777", case, domain, linked_channel="web")
    assert nothing.responses == ["utter_channel_not_linked"]


async def test_account_goals_refuse_an_unverified_conversation(store, cases, domain) -> None:
    case = cases["in_transit"]
    verify(case, "web:conv-10")
    for name in ("channels", "unlink", "notify_on", "notify_off"):
        out = await goal(name, "telegram:8888", case, domain, linked_channel="web")
        assert out.responses == ["utter_ask_order_number"], name
    assert links(store, case) == ["web:conv-10"]


async def test_opt_in_and_out_of_order_news(store, cases, domain) -> None:
    case = cases["in_transit"]
    verify(case, "telegram:31", TELEGRAM)
    customer = store.verified_customer("telegram:31")
    on = await goal("notify_on", "telegram:31", case, domain)
    assert on.message("utter_notifications_on")["channels"] == "Telegram"
    assert accounts().notifications_on(customer) is True
    off = await goal("notify_off", "telegram:31", case, domain)
    assert off.responses == ["utter_notifications_off"]
    assert accounts().notifications_on(customer) is False


def test_channel_words() -> None:
    assert channel_from_text("unlink my Telegram please") == "telegram"
    assert channel_from_text("the web chat") == "web"
    assert channel_from_text("web") == "web"
    assert channel_from_text("my fax machine") is None


async def test_carry_over_is_said_once_per_conversation(store, domain) -> None:
    case, _, _ = other_order_with_open_return(store)  # this customer has more going on than this order
    verify(case, "web:conv-20")
    verify(case, "telegram:2020", TELEGRAM)
    first = await goal("track", "telegram:2020", case, domain)
    assert "utter_carry_over" in first.responses
    earlier = [{"event": "bot", "text": "Thanks, that matches", "metadata": {"utter_action": "utter_verified"}}]
    verify(case, "telegram:2020", TELEGRAM)
    again = await goal("track", "telegram:2020", case, domain, events=earlier)
    assert "utter_carry_over" not in again.responses


async def test_starting_a_return_keeps_a_draft_even_before_items_are_chosen(store, cases, domain) -> None:
    case = cases["returnable"]
    verify(case, "web:shop-2")
    out = await goal("return", "web:shop-2", case, domain)
    assert out.followup() == "return_form"
    draft = accounts().return_draft(store.verified_customer("web:shop-2"))
    assert draft is not None and draft.order_number == case["order_number"]
