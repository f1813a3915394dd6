"""What the words plainly say when the fine-tuned NLU could not file a message (actions/follow_up.py,
actions/orders.py, actions/returns.py): goodbyes in other languages, a person, a payment method, taking back a
cancel or a return."""

from __future__ import annotations

import pytest

from actions.follow_up import ActionFollowUp, ActionGoodbye
from actions.handoff import ActionHandoff
from actions.orders import takes_it_back
from actions.returns import changes_mind, not_a_reason
from store.service import OrderStore
from tests.actions.helpers import make_tracker, run

SENDER = "web:test-conversation"


@pytest.mark.parametrize(
    ("text", "response"),
    [
        ("Ok, danke. Tschüss", "utter_goodbye_thanks"),
        ("tschüss", "utter_goodbye"),
        ("merci, au revoir", "utter_goodbye_thanks"),
        ("ciao!", "utter_goodbye"),
    ],
)
async def test_a_goodbye_in_another_language_is_a_goodbye(store, domain, text, response) -> None:
    out = await run(ActionFollowUp(), make_tracker(intent="nlu_fallback", text=text), domain)
    assert out.responses == [response]


async def test_a_goodbye_that_thanks_is_told_it_was_welcome(store, domain) -> None:
    thanks = await run(ActionGoodbye(), make_tracker(intent="goodbye", text="ok I'll do that now, thanks"), domain)
    assert thanks.responses == ["utter_goodbye_thanks"]
    bye = await run(ActionGoodbye(), make_tracker(intent="goodbye", text="bye x"), domain)
    assert bye.responses == ["utter_goodbye"]


@pytest.mark.parametrize(
    "text",
    ["I want someone to sort this out", "can a shop assistant come over please", "Je veux parler à quelqu'un"],
)
async def test_asking_for_a_person_in_words_nlu_missed_hands_over(store, domain, text) -> None:
    out = await run(ActionFollowUp(), make_tracker(intent="out_of_scope", text=text), domain)
    assert out.followup() == "action_handoff"
    assert out.responses == []


async def test_a_payment_method_on_its_own_is_answered_whatever_the_topic(store, domain) -> None:
    out = await run(
        ActionFollowUp(), make_tracker(intent="nlu_fallback", text="and klarna?", slots={"topic": "shipping"}), domain
    )
    assert out.responses == ["utter_payment_methods_named"]
    assert "Klarna" in out.message("utter_payment_methods_named")["named"]


async def test_a_review_is_not_a_stock_question(store, domain) -> None:
    out = await run(
        ActionFollowUp(),
        make_tracker(
            intent="out_of_scope",
            text="i want to leave a review for the Kindred Colour Cream Blush, it's amazing",
            entities=[{"entity": "product", "value": "Kindred Colour Cream Blush"}],
        ),
        domain,
    )
    assert out.responses == ["utter_review"]


async def test_what_can_you_help_with_read_as_a_hand_off_opens_no_ticket(store: OrderStore, domain) -> None:
    before = len(store.handoffs())
    out = await run(ActionHandoff(), make_tracker(intent="human_handoff", text="what can you help with?"), domain)
    assert out.responses == ["utter_what_i_do"]
    assert len(store.handoffs()) == before


def test_taking_back_a_cancel_is_not_a_yes() -> None:
    assert takes_it_back("hmm no wait. I don't want to cancel, I just want it sent to my work address instead")
    assert takes_it_back("actually I've changed my mind")
    assert not takes_it_back("yes cancel it please")
    assert not takes_it_back("ok go ahead and cancel it")


def test_the_reason_question_needs_a_reason() -> None:
    assert not_a_reason("ok. all the items") and not_a_reason("yes") and not_a_reason("both of them please")
    assert not not_a_reason("too small") and not not_a_reason("the colour is wrong")
    assert changes_mind("actually I've changed my mind, I'll keep it") and changes_mind("yeah don't start the return")
    # "changed my mind" alone is a reason people give for a return
    assert not changes_mind("changed my mind about the colour")
    assert not changes_mind("I want to return ORD-100188, I changed my mind")
