"""The classes of failure the seventh blind batch (tests/conversations/blind_g.yml) showed in conv7b's share of
it, one test per class: "photos" (a plural) while a person is on the way, a postcode typed with the order number
that NLU did not tag, "put me through" after a colleague was pointed to, a wholesale enquiry read as a product
search, a lost parcel's refund asked with a colleague already on the ticket, "which shop has it" on a tablet,
"can I order it online instead?" after a product, "Haben Sie X hier?" filed as a recommendation, and praise
answered with a bare "you're welcome"."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.context import FOCUS_PRODUCT, SHOWN_PRODUCTS
from actions.follow_up import ActionFollowUp, ActionGoodbye
from actions.goals import ActionContinueGoal
from actions.identity import VERIFIED, ValidateVerifyOrderForm
from actions.product_lookup import catalogue
from actions.products import ActionRecommendProducts
from store.service import OrderStore
from tests.actions.helpers import ROOT, grant, make_tracker, run

SENDER = "web:test-conversation"
TABLET = {"channel": "tablet", "store_id": "LDN-01"}


def entity(name: str, value: str) -> dict[str, Any]:
    return {"entity": name, "value": value}


# --------------------------------------------------------------------------------- people


@pytest.mark.parametrize(
    "text", ["I've got photos of the broken glass if they want them", "shall I send pictures?", "I have images of it"]
)
async def test_photos_while_a_person_is_on_the_way(store: OrderStore, domain, text: str) -> None:
    """ "I've got photos of the broken glass" with a ticket open got the queue status: "photos" is no "photo"."""
    ticket = store.open_handoff(SENDER, channel="web", reason="complaint", summary="")
    slots = {"handoff_ticket": ticket.ticket_number, "topic": "handoff"}
    out = await run(ActionFollowUp(), make_tracker(intent="nlu_fallback", text=text, slots=slots), domain)
    assert out.responses == ["utter_photo"], out.responses


@pytest.mark.parametrize("text", ["ok put me through then", "transfer me please", "can you connect me to them"])
async def test_put_me_through_after_a_colleague_was_pointed_to(store, domain, text: str) -> None:
    """ "ok put me through then" after "a colleague can change that" was filed as a goodbye and said bye."""
    events = [{"event": "bot", "text": "...", "metadata": {"utter_action": "utter_account_out_of_scope"}}]
    out = await run(ActionGoodbye(), make_tracker(intent="goodbye", text=text, events=events), domain)
    assert out.followup() == "action_handoff", (out.responses, out.events)


@pytest.mark.parametrize(("intent", "text"), [("refund_status", "will I get a refund or a new one?"),
                                            ("request_refund", "I want my money back")])  # fmt: skip
async def test_a_lost_parcel_refund_with_a_colleague_on_the_ticket(store: OrderStore, cases, domain, intent, text):
    """ "will I get a refund or a new one?" right after "yes get someone" offered to pass it to a person again."""
    number = grant(store, cases["lost_parcel"])
    slots = {"order_number": number, "goal": "refund_status", "topic": "handoff"}
    ask = make_tracker(intent=intent, text=text, slots=slots)
    out = await run(ActionContinueGoal(), ask, domain)
    assert out.responses == ["utter_refund_parcel_problem"], out.responses  # no ticket yet: the offer of one
    ticket = store.open_handoff(SENDER, channel="web", reason="human_handoff", summary="")
    ask = make_tracker(intent=intent, text=text, slots={**slots, "handoff_ticket": ticket.ticket_number})
    out = await run(ActionContinueGoal(), ask, domain)
    assert out.responses == ["utter_parcel_problem_ticket"], out.responses
    assert out.message("utter_parcel_problem_ticket")["ticket"] == ticket.ticket_number
    assert out.slots().get("last_question") != "offer_handoff"


async def test_photos_only_mentioned_are_no_offer(store, domain) -> None:
    """ "the texture is nothing like the photos on your site" (a return request) is not about sending one."""
    text = "I want to return it, the texture is nothing like the photos on your site"
    out = await run(ActionFollowUp(), make_tracker(intent="nlu_fallback", text=text), domain)
    assert "utter_photo" not in out.responses, out.responses


# --------------------------------------------------------------------------------- verification


async def test_a_postcode_typed_with_the_order_number_proves_it(store: OrderStore, cases) -> None:
    """ "ORD-… 31300 where is it??": NLU tagged the order number but not the postcode, so it was asked again."""
    case = cases["lost_parcel"]
    text = f"{case['order_number']} {case['postcode']} where is it?? been weeks"
    tracker = make_tracker(
        intent="track_order", text=text, entities=[entity("order_number", case["order_number"])],
        active_loop="verify_order_form",
    )  # fmt: skip
    dispatcher = CollectingDispatcher()
    out = ValidateVerifyOrderForm().validate_order_number(case["order_number"], dispatcher, tracker, {})
    assert out["proof"] == VERIFIED and out["order_number"] == case["order_number"], out
    assert store.attempts_left(SENDER) == 3


async def test_only_the_order_number_typed_asks_for_the_proof(store: OrderStore, cases) -> None:
    case = cases["lost_parcel"]
    plain = make_tracker(
        intent="track_order", text=f"where is {case['order_number']}?",
        entities=[entity("order_number", case["order_number"])], active_loop="verify_order_form",
    )  # fmt: skip
    out = ValidateVerifyOrderForm().validate_order_number(case["order_number"], CollectingDispatcher(), plain, {})
    assert out["proof"] is None
    # the proof entity NLU did tag is checked by the form itself (validate_proof): not twice here
    tagged = make_tracker(
        intent="track_order", text=f"{case['order_number']} {case['postcode']}",
        entities=[entity("order_number", case["order_number"]), entity("postcode", case["postcode"])],
        active_loop="verify_order_form",
    )  # fmt: skip
    out = ValidateVerifyOrderForm().validate_order_number(case["order_number"], CollectingDispatcher(), tagged, {})
    assert out["proof"] is None
    assert store.attempts_left(SENDER) == 3


# --------------------------------------------------------------------------------- out of scope


@pytest.mark.parametrize(
    "text", ["ok, do you do wholesale? I run a little salon", "do you sell in bulk to shops?", "are you hiring?"]
)
async def test_a_trade_enquiry_is_not_a_product_search(store, domain, text: str) -> None:
    """ "do you do wholesale? I run a little salon" listed Little Harbour's products in stock."""
    out = await run(ActionFollowUp(), make_tracker(intent="out_of_scope", text=text), domain)
    assert out.responses == ["utter_out_of_scope"], out.responses
    # the second misunderstanding in a row offers a person
    events = [
        {"event": "user", "text": "are you hiring?", "parse_data": {"intent": {"name": "out_of_scope"}}},
        {"event": "action", "name": "action_follow_up"},
        {"event": "bot", "text": "...", "metadata": {"utter_action": "utter_out_of_scope"}},
    ]
    out = await run(ActionFollowUp(), make_tracker(intent="out_of_scope", text=text, events=events), domain)
    assert out.responses == ["utter_offer_handoff_after_fallback"], out.responses


# --------------------------------------------------------------------------------- tablet products


def _perfume() -> Any:
    product = catalogue().by_title("Atlas Perfumery Oud Noir Parfum")
    assert product is not None
    return product


@pytest.mark.parametrize("text", ["which shop has it then", "what other stores have it?", "which branch has one"])
async def test_which_shop_has_it(store, domain, text: str) -> None:
    """ "which shop has it then" after the shelf answer on a tablet fell back."""
    product = _perfume()
    slots = {"topic": "products", FOCUS_PRODUCT: product.sku, SHOWN_PRODUCTS: [product.sku]}
    tracker = make_tracker("tablet:s9", intent="inform", text=text, slots=slots, metadata=dict(TABLET))
    out = await run(ActionFollowUp(), tracker, domain)
    assert out.responses[0] in {"utter_stock_elsewhere", "utter_stock_nowhere_else"}, out.responses


@pytest.mark.parametrize("text", ["can I order it online instead?", "could I just buy it on the website"])
async def test_ordering_the_product_in_focus_online(store, domain, text: str) -> None:
    """ "can I order it online instead?" after a product's shelf got picks similar to it ("instead")."""
    product = _perfume()
    slots = {"topic": "products", FOCUS_PRODUCT: product.sku, SHOWN_PRODUCTS: [product.sku]}
    tracker = make_tracker("tablet:s9", intent="nlu_fallback", text=text, slots=slots, metadata=dict(TABLET))
    out = await run(ActionFollowUp(), tracker, domain)
    assert out.responses == ["utter_stock"], out.responses
    assert out.message("utter_stock")["title"] == product.title


@pytest.mark.parametrize(
    "text",
    [
        "Haben Sie das Pure Ritual Vitamin C Brightening Serum hier?",
        "avez-vous le Pure Ritual Vitamin C Brightening Serum ici ?",
        "do you have the Pure Ritual Vitamin C Brightening Serum here",
    ],
)
async def test_is_a_named_product_here_filed_as_a_recommendation(store, domain, text: str) -> None:
    """ "Haben Sie das X hier?" got "if you like X, you might also like" instead of X's shelf."""
    title = "Pure Ritual Vitamin C Brightening Serum"
    tracker = make_tracker(
        "tablet:s9", intent="recommend_product", text=text, entities=[entity("product", title)],
        metadata=dict(TABLET),
    )  # fmt: skip
    out = await run(ActionRecommendProducts(), tracker, domain)
    assert out.responses[0] in {"utter_stock_here", "utter_stock_not_here"}, out.responses
    assert out.message(out.responses[0])["title"] == title


async def test_similar_to_a_named_product_is_still_picks(store, domain) -> None:
    title = "Pure Ritual Vitamin C Brightening Serum"
    tracker = make_tracker(
        "tablet:s9", intent="recommend_product", text=f"do you have anything similar to the {title} here?",
        entities=[entity("product", title)], metadata=dict(TABLET),
    )  # fmt: skip
    out = await run(ActionRecommendProducts(), tracker, domain)
    assert out.responses[0] == "utter_recommendations_similar", out.responses


# --------------------------------------------------------------------------------- chitchat


def test_the_thanks_answer_also_fits_praise(domain) -> None:
    """The thank intent is trained on praise too ("just popping in to say my last delivery was great"), and the
    rule answers it with utter_thank: "You're welcome!" alone answered "my last order was lovely"."""
    texts = [v["text"] for v in domain["responses"]["utter_thank"]]
    assert all("welcome" in t.lower() for t in texts), texts  # still the answer to "thanks"
    assert all("thank you" in t.lower() for t in texts), texts  # and to praise (after bad news too: no "glad")
    nlu = (ROOT / "nlu_data" / "nlu" / "chitchat.yml").read_text()
    assert "just popping in to say my last delivery was great" in nlu  # the premise: praise is filed as thanks
