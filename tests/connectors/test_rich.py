"""connectors.rich: the custom payloads read once, so every channel draws the same cards and skips the same fallback."""

from __future__ import annotations

from connectors.models import Button, OutboundMessage
from connectors.offers import payloads_in
from connectors.rich import CARD_BUTTON_TITLE, Cards, layout, page_json, parse_card
from connectors.slack.translate import render_messages as slack_render
from connectors.telegram.translate import render as telegram_render
from connectors.web.translate import render_messages as web_render

ROSE = {
    "sku": "S1",
    "title": " Rose Toner ",
    "brand": "Bloom",
    "price": "12.5",
    "currency": "EUR",
    "image": "https://img.example/rose.jpg",
    "text": "Rose Toner by Bloom: €12.50",
    "buttons": [{"title": "More like this", "payload": "/more"}, {"title": "", "payload": "/blank"}, "junk"],
}
ANSWER = [
    OutboundMessage(text="Picks:"),
    OutboundMessage(custom={"type": "product_cards", "products": [ROSE, {"sku": "no title"}, 7]}),
    OutboundMessage(text="Rose Toner by Bloom: €12.50"),  # the text-only fallback of the card
    OutboundMessage(image="https://img.example/rose.jpg"),  # and its picture alone
    OutboundMessage(image="https://img.example/rose.jpg", buttons=(Button("Buy", "/buy"),)),  # not a fallback
    OutboundMessage(text="Done.", custom={"type": "handoff", "ticket": "HO-000001", "reason": "complaint"}),
]


def test_cards_are_read_once_with_their_price_and_buttons() -> None:
    card = parse_card(ROSE)
    assert card is not None
    assert (card.headline, card.price_line) == ("Rose Toner by Bloom", "€12.50")
    assert card.buttons == (Button("More like this", "/more"),)
    only_payload = parse_card({"title": "Soap", "price_text": "£3.00", "final_sale": True, "payload": "/soap"})
    assert only_payload is not None and only_payload.buttons == (Button(CARD_BUTTON_TITLE, "/soap"),)
    assert only_payload.price_line == "£3.00 (final sale)"
    assert parse_card({"title": "  "}) is None and parse_card("junk") is None


def test_layout_drops_invalid_cards_and_the_text_fallback_only() -> None:
    parts = layout(ANSWER)
    assert [type(p).__name__ for p in parts] == ["OutboundMessage", "Cards", "OutboundMessage", "OutboundMessage"]
    cards = parts[1]
    assert isinstance(cards, Cards) and [c.title for c in cards.cards] == ["Rose Toner"] and cards.dropped == 2
    assert parts[2] == ANSWER[4] and parts[3] == ANSWER[5]


def test_every_channel_draws_the_same_cards_and_skips_the_same_fallback() -> None:
    telegram = telegram_render(1, ANSWER)
    assert [c.params.get("caption") or c.params.get("text") for c in telegram.calls] == [
        "Picks:",
        "Rose Toner by Bloom\n€12.50",
        None,  # the picture with its own button
        "Done.",
    ]
    slack = slack_render(ANSWER)
    assert [p.text for p in slack] == ["Picks:", "Rose Toner: €12.50", "Options: Buy", "Done."]
    web = web_render(ANSWER)
    [products] = [m["custom"]["products"] for m in web if m.get("custom", {}).get("type") == "product_cards"]
    assert [p["title"] for p in products] == ["Rose Toner"]
    assert products[0]["buttons"] == [{"title": "More like this", "payload": "/more"}]
    assert page_json([OutboundMessage(custom={"type": "product_cards", "products": []})]) == []


def test_offered_payloads_are_the_buttons_drawn() -> None:
    assert payloads_in(ANSWER) == {"/more", "/buy"}
