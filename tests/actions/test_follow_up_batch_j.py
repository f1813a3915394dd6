"""The classes of failure the tenth blind batch (tests/conversations/blind_j.yml) showed in conv11a's share of
it, one test per class: a sentence or a pointer back ("which of the ones you do have", "I'll just buy it") read
as the name of a product we do not sell, follow-ups on the product in focus or the last list, and chit-chat
(praise, what the assistant can do after declining a person)."""

from __future__ import annotations

import pytest

from actions.context import FOCUS_PRODUCT, SHOWN_PRODUCTS
from actions.follow_up import ActionFollowUp
from actions.product_lookup import catalogue
from actions.products import ActionCheckStock
from tests.actions.helpers import make_tracker, run

TABLET = {"channel": "tablet", "store_id": "LDN-01"}


def _sku(title: str) -> str:
    product = catalogue().by_title(title)
    assert product is not None, title
    return product.sku


def _shown_after_unsold() -> dict[str, object]:
    """The slots after "do you sell the Dyson Airwrap?": no focus, the closest products shown."""
    near = [p.sku for p in catalogue().products if "brush" in p.title.lower()][:3]
    assert len(near) == 3
    return {FOCUS_PRODUCT: None, SHOWN_PRODUCTS: near, "topic": "products"}


# --------------------------------------------------------------------------------- a sentence is no product


_SENTENCES = [
    "ok which of the ones you do have is the best value",
    "so which of your ones is the best value",
    "ok which of them would you go for",
    "right, what's the best one you've got then",
    "hmm which one of those would you recommend for me",
    "fine I'll just get one of the ones you do have",
    "ok I'll just buy it online, is it in stock there?",
    "is that one any good",
    "do you have the ones you showed me in stock",
]


@pytest.mark.parametrize("intent", ["nlu_fallback", "check_stock", "recommend_product"])
@pytest.mark.parametrize("text", _SENTENCES)
async def test_a_sentence_or_a_pointer_is_no_product_we_do_not_sell(store, domain, intent: str, text: str) -> None:
    """ "Sorry, we don't sell ok which of the ones you do have is the best value": the whole sentence echoed."""
    for action in (ActionFollowUp(), ActionCheckStock()):
        tracker = make_tracker(intent=intent, text=text, slots=_shown_after_unsold())
        out = await run(action, tracker, domain)
        unsold = [r for r in out.responses if str(r).startswith("utter_product_not_sold")]
        assert not unsold, (action.name(), out.responses, [m.get("query") for m in out.messages])


async def test_the_best_value_of_the_ones_shown_is_the_cheapest(store, domain) -> None:
    slots = _shown_after_unsold()
    text = "ok which of the ones you do have is the best value"
    out = await run(ActionFollowUp(), make_tracker(intent="nlu_fallback", text=text, slots=slots), domain)
    assert out.responses == ["utter_cheapest_shown"], out.responses
    cheapest = min((catalogue().by_sku(s) for s in slots[SHOWN_PRODUCTS]), key=lambda p: (p.price, p.title))
    assert out.message("utter_cheapest_shown")["title"] == cheapest.title


async def test_buying_the_product_in_focus_online_on_a_tablet(store, domain) -> None:
    """ "ok I'll just buy it online, is it in stock there?" after a parfum's shelf: its online stock."""
    sku = _sku("Juniper & Ash Oud Noir Parfum")
    slots = {FOCUS_PRODUCT: sku, SHOWN_PRODUCTS: [sku], "topic": "products"}
    tracker = make_tracker(
        "tablet:k1", intent="check_stock", text="ok I'll just buy it online, is it in stock there?", slots=slots,
        metadata=dict(TABLET),
    )  # fmt: skip
    out = await run(ActionCheckStock(), tracker, domain)
    assert out.responses and not str(out.responses[0]).startswith("utter_product_not_sold"), out.responses
    assert out.slots().get(FOCUS_PRODUCT, sku) == sku, out.events  # the parfum stays in focus for "how much is it?"
    assert "online" in str(out.messages[0]).lower(), out.messages


@pytest.mark.parametrize(
    ("text", "query"),
    [
        ("do you sell the Dyson Airwrap?", "Dyson Airwrap"),
        ("do you have hair dye", "hair dye"),
        ("do u sell candles", "candles"),
    ],
)
async def test_a_product_we_do_not_sell_is_still_said_to_be_unsold(store, domain, text: str, query: str) -> None:
    out = await run(ActionCheckStock(), make_tracker(intent="check_stock", text=text), domain)
    unsold = [m for m in out.messages if str(m.get("response", "")).startswith("utter_product_not_sold")]
    assert unsold and unsold[0]["query"] == query, out.responses
