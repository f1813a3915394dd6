"""Pure Telegram translation: Update JSON -> what the bot must do, and bot messages -> Bot API calls."""

from __future__ import annotations

from typing import Any

import pytest
from telegram import Update

from connectors.models import Button, InboundMessage, OutboundMessage
from connectors.rich import CARD_BUTTON_TITLE, parse_card
from connectors.telegram.translate import (
    BUTTONS_ONLY_TEXT,
    BotCall,
    button_inbound,
    callback_data_for,
    card_caption,
    classify_update,
    is_short_id,
    keyboard,
    render,
    split_text,
    truncate,
    utf16_len,
)
from tests.fakes.telegram_api import (
    callback_update,
    channel_post_update,
    edited_update,
    member_update,
    photo_update,
    sticker_update,
    text_update,
)

CHAT = 4242


def classify(data: dict[str, Any], limit: int = 2000):  # type: ignore[no-untyped-def]
    return classify_update(Update.de_json({"update_id": 1, **data}, None), limit)


# ------------------------------------------------------------------ updates -> inbound


def test_text_message_becomes_an_inbound_message_keyed_by_chat() -> None:
    incoming = classify(text_update("  where is my order?\u202e "))
    assert (incoming.kind, incoming.chat_id, incoming.update_id) == ("message", CHAT, 1)
    assert incoming.inbound == InboundMessage("telegram", "4242", text="where is my order?")
    assert incoming.inbound.conversation_id == "telegram:4242"


@pytest.mark.parametrize(
    ("text", "payload", "rasa_text"),
    [
        ("/start", "/greet", "/greet"),
        ("/start promo-42", "/greet", "/greet"),
        ("/start@shop_support_bot", "/greet", "/greet"),
        ('/inform{"order_number":"ORD-1"}', None, 'inform{"order_number":"ORD-1"}'),
        ("/help", None, "help"),
    ],
)
def test_commands_and_typed_intent_syntax(text: str, payload: str | None, rasa_text: str) -> None:
    incoming = classify(text_update(text))
    assert incoming.inbound is not None
    assert (incoming.inbound.payload, incoming.inbound.rasa_text) == (payload, rasa_text)


def test_callback_query_is_a_button_press_with_its_title() -> None:
    keyboard_json = [[{"text": "Yes please", "callback_data": "/affirm"}]]
    incoming = classify(callback_update("/affirm", query_id="q1", keyboard=keyboard_json))
    assert (incoming.kind, incoming.chat_id, incoming.callback_query_id) == ("button", CHAT, "q1")
    assert (incoming.callback_data, incoming.button_title) == ("/affirm", "Yes please")
    assert button_inbound(CHAT, "/affirm", "Yes please") == InboundMessage(
        "telegram", "4242", text="Yes please", payload="/affirm"
    )


def test_a_button_payload_that_is_not_an_intent_is_treated_as_typed_text() -> None:
    assert button_inbound(CHAT, "/", None).rasa_text == "?"
    assert button_inbound(CHAT, "yes", "Yes").rasa_text == "yes"


def test_callback_query_in_a_group_is_only_acknowledged() -> None:
    data = callback_update("/affirm", query_id="q3")
    data["callback_query"]["message"]["chat"] = {"id": -100, "type": "supergroup", "title": "Fans"}
    incoming = classify(data)
    assert (incoming.kind, incoming.callback_query_id, incoming.reason) == ("ignored", "q3", "group_chat")


def test_callback_query_without_a_chat_is_only_acknowledged() -> None:
    data = callback_update("/affirm", query_id="q2")
    del data["callback_query"]["message"]
    data["callback_query"]["inline_message_id"] = "inline-1"
    incoming = classify(data)
    assert (incoming.kind, incoming.callback_query_id, incoming.reason) == ("ignored", "q2", "callback_without_chat")


def test_edits_stickers_photos_and_other_updates() -> None:
    assert classify(edited_update("changed")).kind == "edited"
    assert classify(sticker_update()).kind == "unsupported"
    assert classify(photo_update(None)).kind == "unsupported"
    captioned = classify(photo_update("it arrived broken"))
    assert captioned.inbound is not None and captioned.inbound.text == "it arrived broken"
    assert classify(text_update("   ")).kind == "unsupported"
    assert (classify(channel_post_update()).kind, classify(channel_post_update()).reason) == (
        "ignored",
        "channel_post",
    )
    assert classify(member_update()).reason == "my_chat_member"
    group = classify(text_update("hi all", chat_id=-100, chat_type="group"))
    assert (group.kind, group.reason, group.inbound) == ("ignored", "group_chat", None)
    service = text_update("x")
    del service["message"]["text"]
    service["message"]["new_chat_title"] = "renamed"
    assert classify(service).reason == "service_message"


def test_a_message_over_the_limit_is_refused_without_rasa() -> None:
    incoming = classify(text_update("x" * 51), limit=50)
    assert (incoming.kind, incoming.length, incoming.inbound) == ("too_long", 51, None)
    assert classify(text_update("x" * 50), limit=50).kind == "message"


# ------------------------------------------------------------------ outbound -> Bot API calls


def test_plain_text() -> None:
    assert render(CHAT, [OutboundMessage(text="Hello!")]).calls == [
        BotCall("sendMessage", {"chat_id": CHAT, "text": "Hello!"})
    ]


def test_buttons_become_an_inline_keyboard() -> None:
    message = OutboundMessage(
        text="Return it?",
        buttons=(
            Button("Yes", "/affirm"),
            Button("No", "/deny"),
            Button("Talk to a person, please", "/human_handoff"),
        ),
    )
    assert render(CHAT, [message]).calls == [
        BotCall(
            "sendMessage",
            {
                "chat_id": CHAT,
                "text": "Return it?",
                "reply_markup": {
                    "inline_keyboard": [
                        [{"text": "Yes", "callback_data": "/affirm"}, {"text": "No", "callback_data": "/deny"}],
                        [{"text": "Talk to a person, please", "callback_data": "/human_handoff"}],
                    ]
                },
            },
        )
    ]


def test_keyboard_rows_hold_three_short_buttons() -> None:
    buttons = [Button(str(i), f"/p{i}") for i in range(5)]
    rows = keyboard(buttons)["inline_keyboard"]
    assert [len(r) for r in rows] == [3, 2]


def test_payloads_over_64_bytes_travel_as_short_ids() -> None:
    long_payload = '/rec{"p": "' + "é" * 40 + '"}'
    assert len(long_payload) < 64 < len(long_payload.encode())
    rendering = render(CHAT, [OutboundMessage(text="More?", buttons=(Button("More", long_payload),))])
    data = rendering.calls[0].params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    assert is_short_id(data) and len(data.encode()) <= 64
    assert rendering.long_payloads == {data: long_payload}
    assert callback_data_for(long_payload) == data  # stable: the same payload, the same id
    assert callback_data_for("~looks like an id") != "~looks like an id"  # never passed through as-is
    assert callback_data_for("/affirm") == "/affirm"


def test_buttons_without_text_get_a_prompt() -> None:
    for text in (None, "  \n "):
        [call] = render(CHAT, [OutboundMessage(text=text, buttons=(Button("Yes", "/affirm"),))]).calls
        assert call.params["text"] == BUTTONS_ONLY_TEXT
        assert call.params["reply_markup"] == {"inline_keyboard": [[{"text": "Yes", "callback_data": "/affirm"}]]}


def test_image_with_text_is_a_photo_with_caption_and_its_buttons() -> None:
    message = OutboundMessage(text="Your parcel", image="https://img.example/p.jpg", buttons=(Button("OK", "/ok"),))
    assert render(CHAT, [message]).calls == [
        BotCall(
            "sendPhoto",
            {
                "chat_id": CHAT,
                "photo": "https://img.example/p.jpg",
                "caption": "Your parcel",
                "reply_markup": {"inline_keyboard": [[{"text": "OK", "callback_data": "/ok"}]]},
            },
        )
    ]


def test_image_alone_and_image_with_text_too_long_for_a_caption() -> None:
    assert render(CHAT, [OutboundMessage(image="https://img.example/p.jpg")]).calls == [
        BotCall("sendPhoto", {"chat_id": CHAT, "photo": "https://img.example/p.jpg"})
    ]
    long_text = "a" * 1500
    calls = render(CHAT, [OutboundMessage(text=long_text, image="https://img.example/p.jpg")]).calls
    assert [c.method for c in calls] == ["sendPhoto", "sendMessage"]
    assert "caption" not in calls[0].params and calls[1].params["text"] == long_text


def test_gateway_path_images_are_skipped_but_their_text_is_sent() -> None:
    rendering = render(CHAT, [OutboundMessage(text="Look", image="/static/p.png")])
    assert rendering.calls == [BotCall("sendMessage", {"chat_id": CHAT, "text": "Look"})]
    assert rendering.skipped == ["image_not_public"]


def test_attachment_is_sent_as_text() -> None:
    assert render(CHAT, [OutboundMessage(attachment="https://shop.example/label.pdf")]).calls == [
        BotCall("sendMessage", {"chat_id": CHAT, "text": "https://shop.example/label.pdf"})
    ]


def card(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "sku": "SKU-1",
        "title": "Rose Toner",
        "brand": "Bloom",
        "price": "12.50",
        "price_text": "£12.50",
        "currency": "GBP",
        "image": "https://img.example/rose.jpg",
        "final_sale": False,
        "text": "Rose Toner by Bloom: £12.50",
        "buttons": [{"title": "More like this", "payload": "/more"}],
    }
    base.update(overrides)
    return base


def test_product_cards_are_photos_and_their_fallback_messages_are_skipped() -> None:
    second = card(sku="SKU-2", title="Clay Mask", image=None, text="Clay Mask by Bloom: £8.00", price_text="£8.00")
    messages = [
        OutboundMessage(text="Popular picks:"),
        OutboundMessage(custom={"type": "product_cards", "products": [card(), second]}),
        OutboundMessage(text="Rose Toner by Bloom: £12.50", buttons=(Button("More like this", "/more"),)),
        OutboundMessage(image="https://img.example/rose.jpg"),
        OutboundMessage(text="Clay Mask by Bloom: £8.00", buttons=(Button("More like this", "/more"),)),
        OutboundMessage(text="Anything else?"),
    ]
    markup = {"inline_keyboard": [[{"text": "More like this", "callback_data": "/more"}]]}
    assert render(CHAT, messages).calls == [
        BotCall("sendMessage", {"chat_id": CHAT, "text": "Popular picks:"}),
        BotCall(
            "sendPhoto",
            {
                "chat_id": CHAT,
                "photo": "https://img.example/rose.jpg",
                "caption": "Rose Toner by Bloom\n£12.50",
                "reply_markup": markup,
            },
        ),
        BotCall("sendMessage", {"chat_id": CHAT, "text": "Clay Mask by Bloom\n£8.00", "reply_markup": markup}),
        BotCall("sendMessage", {"chat_id": CHAT, "text": "Anything else?"}),
    ]


def test_card_captions_and_buttons_from_the_contract_fields() -> None:
    contract_card = {"title": "Rose Toner", "price": "12.50", "currency": "GBP", "payload": "/pick{\"sku\":\"S1\"}"}
    rose, final_sale = parse_card(contract_card), parse_card(card(final_sale=True))
    assert rose is not None and final_sale is not None
    assert card_caption(rose) == "Rose Toner\n£12.50"  # no price_text: the amount, with its currency's symbol
    assert card_caption(final_sale) == "Rose Toner by Bloom\n£12.50 (final sale)"
    assert parse_card({"price": "1"}) is None
    [call] = render(CHAT, [OutboundMessage(custom={"type": "product_cards", "products": [contract_card]})]).calls
    assert call == BotCall(
        "sendMessage",
        {
            "chat_id": CHAT,
            "text": "Rose Toner\n£12.50",
            "reply_markup": {"inline_keyboard": [[{"text": CARD_BUTTON_TITLE, "callback_data": '/pick{"sku":"S1"}'}]]},
        },
    )


def test_unknown_custom_payloads_and_broken_cards_are_skipped_and_listed() -> None:
    rendering = render(
        CHAT,
        [
            OutboundMessage(custom={"type": "staff_call", "store_id": "S1"}),
            OutboundMessage(custom={"whatever": 1}),
            OutboundMessage(custom={"type": "product_cards", "products": [{"price": "1"}, "junk"]}),
            OutboundMessage(text="Done.", custom={"type": "handoff", "ticket": "HO-000001"}),
        ],
    )
    assert rendering.calls == [BotCall("sendMessage", {"chat_id": CHAT, "text": "Done."})]
    skipped = ["custom:staff_call", "custom:untyped", "card_invalid", "card_invalid", "custom:handoff"]
    assert rendering.skipped == skipped


def test_long_text_is_split_at_paragraphs_under_4096() -> None:
    paragraph = "x" * 3000
    text = f"{paragraph}\n\n{paragraph}\n\n{paragraph}"
    calls = render(CHAT, [OutboundMessage(text=text, buttons=(Button("OK", "/ok"),))]).calls
    assert [len(c.params["text"]) for c in calls] == [3000, 3000, 3000]
    assert ["reply_markup" in c.params for c in calls] == [False, False, True]


def test_split_text_without_separators_and_with_emoji_never_exceeds_the_limit() -> None:
    assert split_text("a" * 10, limit=4) == ["aaaa", "aaaa", "aa"]
    emoji = "😀" * 3000  # 2 UTF-16 units each, as Telegram counts them
    pieces = split_text(emoji)
    assert "".join(pieces) == emoji
    assert all(utf16_len(p) <= 4096 for p in pieces) and len(pieces) == 2
    words = " ".join(["word"] * 2000)
    pieces = split_text(words)
    assert all(not p.startswith(" ") and not p.endswith(" ") for p in pieces)
    assert " ".join(pieces) == words
    assert split_text("   ") == []


def test_truncate() -> None:
    assert truncate("short", 10) == "short"
    assert truncate("a" * 20, 10) == "a" * 9 + "…"
