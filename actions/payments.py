"""Payments and refunds: accepted methods, a failed payment's state, refund status and requests.

The goal handlers (`payment_info`, `refund_status`, `request_refund`) answer for a verified order; the
`follow_up_*` functions answer what customers ask next about the same payment or refund ("how long do I
have?", "can I use PayPal instead?", "it's not in my bank"), called by `actions.follow_up`.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction
from rasa_sdk.executor import CollectingDispatcher

from actions.common import day, get_store, humanize, join_words, money, verified_order
from actions.context import (
    OFFER_HANDOFF,
    TICKET,
    OrderContext,
    Said,
    about,
    has,
    said,
    settles,
    wants_a_person,
    words,
)
from actions.product_lookup import catalogue
from actions.reader import also_asked, in_context
from actions.returns import offer_return, refund_after_return
from store.records import PaymentInfo, RefundInfo

REFUND_STATUS_TEXT = {
    "pending": "it's been approved and will be sent shortly",
    "processing": "it's on its way to you",
    "completed": "it's been paid out",
}
PAYMENT_STATUS_TEXT = {
    "failed": "failed",
    "authorised": "is authorised (we take the money when the order ships)",
    "paid": "was received in full",
    "refunded": "was refunded",
    "partially_refunded": "was partly refunded",
    "voided": "was released without taking any money",
}
#: Words for the methods customers name, to answer "do you take X?" with a yes or no.
METHOD_WORDS = {
    "card": ("card", "visa", "mastercard", "debit", "credit", "amex", "american express", "maestro"),
    "paypal": ("paypal", "pay pal"),
    "apple_pay": ("apple pay", "applepay"),
    "google_pay": ("google pay", "gpay"),
    "klarna": ("klarna", "instalment*", "installment*", "pay later", "in 3", "split"),
    "gift_card": ("gift card*", "giftcard*", "voucher*"),
}


def _methods_text() -> str:
    return join_words([m.name for m in get_store().payment_methods()])


def named_methods(text: str) -> list[str]:
    """Names of the accepted methods the customer asks about ("do you take amex or apple pay?")."""
    methods = {m.code: m for m in get_store().payment_methods()}
    named: list[str] = []
    for code, phrases in METHOD_WORDS.items():
        method = methods.get(code) or next((m for c, m in methods.items() if c.startswith(code)), None)
        if method is not None and has(text, *phrases):
            extra = " (American Express included)" if code == "card" and has(text, "amex", "american express") else ""
            named.append(method.name + extra)
    return named


class ActionPaymentMethods(Action):
    """The payment methods the shop accepts; a yes for the ones asked about by name."""

    def name(self) -> str:
        """Action name."""
        return "action_payment_methods"

    @settles
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        """List the accepted methods from the store (after a follow-up of a failed payment, if it is one)."""
        answered = in_context(dispatcher, tracker, caller=self.name())
        if answered is not None:
            return answered
        latest = said(tracker)
        asked = named_methods(latest.text)
        if asked:
            dispatcher.utter_message(
                response="utter_payment_methods_named", named=join_words(asked), methods=_methods_text()
            )
        else:
            dispatcher.utter_message(response="utter_payment_methods", methods=_methods_text())
        context = gift_cards(dispatcher, latest.text)
        return about("payment_methods", **context) + also_asked(dispatcher, tracker, answered_topic="payment_methods")


def gift_cards(dispatcher: CollectingDispatcher, text: str) -> Dict[str, Any]:
    """ "do you do gift cards?" is about the product too: the cards and their amounts are listed, and kept as the
    products shown ("what amounts do they come in", "the £50 one" may follow). Returns the slots to set."""
    if not has(
        text, "gift card*", "giftcard*", "voucher*", "carte cadeau", "cartes cadeaux", "geschenkkarte*", "gutschein*"
    ):
        return {}
    cards = [p for p in catalogue().products if p.category.lower().startswith("gift")]
    if cards:
        dispatcher.utter_message(
            response="utter_gift_cards", cards=join_words([f"{p.title} ({money(p.price)})" for p in cards[:6]])
        )
    return {"shown_products": [p.sku for p in cards[:6]], "product": None}


class ActionPaymentAdvice(Action):
    """General advice on a payment problem, before the order is looked at; not when the context shows the
    message is about something else (a refused return being disputed) or the order's payment is fine."""

    def name(self) -> str:
        """Action name."""
        return "action_payment_advice"

    @settles
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        """Say the general advice, or nothing (the order's own answer follows)."""
        topic = tracker.get_slot("topic")
        if topic in {"return_refused", "cancel_refused", "address_refused"}:
            return []
        text = said(tracker).text
        if wants_a_person(text) and not tracker.get_slot(TICKET):
            # "can a human check this please, two payments are on my statement": the person, not the advice again
            return [FollowupAction("action_handoff")]
        if (
            topic == "payment"
            and has(text, "thank*", "thx", "ty", "cheers", "ta")
            and "?" not in text
            and not has(text, "declined", "failed", "charged", "twice", "not working", "doesn't work", "won't go")
        ):
            # "ok thanks, trying again now" after the order's payment was explained: thanks, not a new problem
            dispatcher.utter_message(response="utter_thank")
            return [FollowupAction("action_listen")]
        number = verified_order(tracker)
        if number is not None and number == (tracker.get_slot("order_number") or ""):
            info = get_store().payment_info(tracker.sender_id, number)
            if info.status != "failed" and not has(said(tracker).text, "twice", "double", "charged"):
                return []
        dispatcher.utter_message(response="utter_payment_problem_general")
        if sounds_upset(text) and not tracker.get_slot(TICKET):
            # "you've charged me TWICE!!! unbelievable": the advice, and a person if they would rather
            dispatcher.utter_message(response="utter_payment_upset_offer")
        return []


#: Words of an upset customer (shouting is read from the letters: `sounds_upset`).
_UPSET = ("unbelievable", "ridiculous", "disgrace*", "joke", "furious", "angry", "fuming", "livid", "unacceptable",
          "outrageous", "scam*", "rip off", "ripped off", "robbery", "daylight robbery", "worst", "appalling",
          "shocking", "disgusted", "sick of", "fed up", "wtf", "seriously")  # fmt: skip
_SHOUTED = re.compile(r"\b[A-Z]{4,}\b")


def sounds_upset(text: str) -> bool:
    """Anger in the words, "!!", or a shouted word ("you've charged me TWICE!!! unbelievable")."""
    return has(text, *_UPSET) or "!!" in text or bool(_SHOUTED.search(text or ""))


def _say_payment(ctx: OrderContext, info: PaymentInfo) -> None:
    detail = info.action
    if info.failure_reason and info.failure_reason not in detail:
        detail = f"Reason given by the bank: {info.failure_reason}. {detail}"
    method = info.method_name.lower() if info.method_name == "Card" else info.method_name
    ctx.dispatcher.utter_message(
        response="utter_payment_info",
        order_number=info.order_number,
        method=method,
        amount=money(info.amount, info.currency),
        status_text=PAYMENT_STATUS_TEXT.get(info.status, humanize(info.status)),
        detail=detail,
    )


def payment_info(ctx: OrderContext) -> List[EventType]:
    """The order's payment state and what to do about it."""
    info = ctx.store.payment_info(ctx.conversation_id, ctx.order_number)
    _say_payment(ctx, info)
    return about("payment")


#: Asking how long an unpaid order is kept ("until when you keep the order?", "how long is it held?").
_HOLD_WORDS = ("until when", "till when", "how long", "how much time", "deadline", "hold", "held", "keep the order",
               "keep my order", "keep it", "you keep", "reserv*", "bis wann", "wie lange", "jusqu'à quand",
               "hasta cuándo")  # fmt: skip


def follow_up_payment(ctx: OrderContext, latest: Said) -> List[EventType] | None:
    """What customers ask next about a failed payment: until when, another method, charged twice, why."""
    info = ctx.store.payment_info(ctx.conversation_id, ctx.order_number)
    if info.status != "failed":
        return None
    say = ctx.dispatcher.utter_message
    held = f"{day(info.held_until)} {info.held_until:%H:%M} UTC" if info.held_until else None
    if has(latest.text, "twice", "double", "two charges", "charged again", "go through after all"):
        say(response="utter_payment_charged_twice")
        return about("payment")
    if has(latest.text, "cancel*", "go through", "don't pay", "dont pay", "not pay", "what happens", "expire*"):
        say(response="utter_payment_hold_expiry", order_number=info.order_number, held=held or "the hold ends")
        return about("payment")
    if named_methods(latest.text) or has(
        latest.text, "another way", "other way*", "another card", "different card", "other card", "instead",
        "pay again", "retry", "try again", "ways to pay", "ways can i pay", "pay now", "how do i pay", "how can i pay",
        "link", "where do i pay", "payment page",  # "where's the link?": the one in the order email
    ):  # fmt: skip
        say(response="utter_payment_retry", methods=_methods_text(), held=held or "as soon as you can")
        if has(latest.text, *_HOLD_WORDS):
            # "I try again with other card, is ok? And until when you keep the order?": both, the hold in words
            if held:
                say(response="utter_payment_held_until", order_number=info.order_number, held=held)
            else:
                say(response="utter_payment_hold_expired", order_number=info.order_number)
        return about("payment")
    if has(latest.text, "how long", "until when", "till when", "deadline", "hold", "held", "how much time", "when",
           "wie lange", "bis wann", "reserviert", "combien de temps", "jusqu'à quand", "réservée", "cuánto tiempo",
           "hasta cuándo", "reservado", "quanto tempo",
           "lose", "losing", "keep my order", "still get", "still have my order", "reserved", "sold out"):  # fmt: skip
        if held:
            say(response="utter_payment_held_until", order_number=info.order_number, held=held)
        else:
            say(response="utter_payment_hold_expired", order_number=info.order_number)
        return about("payment")
    if has(latest.text, "why", "reason", "what went wrong", "what happened"):
        _say_payment(ctx, info)
        return about("payment")
    return None


def say_refund(ctx: OrderContext, refund: RefundInfo) -> None:
    """One refund of the order in a sentence: its amount, where it goes and where it stands."""
    if refund.status == "completed":
        detail = f"It was completed on {day(refund.completed_at)}; banks can take a few days to show it."
    else:
        detail = f"Started on {day(refund.created_at)}; expect it by {day(refund.expected_by)}."
    if refund.rma_number:
        detail = f"(for return {refund.rma_number}) {detail}"
    ctx.dispatcher.utter_message(
        response="utter_refund_status",
        amount=money(refund.amount, refund.currency),
        method=refund.method,
        order_number=refund.order_number,
        status_text=REFUND_STATUS_TEXT.get(refund.status, humanize(refund.status)),
        detail=detail,
    )


def refund_status(ctx: OrderContext) -> List[EventType]:
    """Every refund on the order, or why there is none yet (and what would lead to one)."""
    refunds = ctx.store.refunds_for(ctx.conversation_id, ctx.order_number)
    for refund in refunds:
        say_refund(ctx, refund)
    if refunds:
        return about("refund")
    return _no_refund(ctx, asked_for_one=False)


def request_refund(ctx: OrderContext) -> List[EventType]:
    """A refund request: existing refunds, else the way to one (cancel before shipping, return after, a
    person for a parcel that is late or lost). Nothing changes here: the customer is told what would."""
    refunds = ctx.store.refunds_for(ctx.conversation_id, ctx.order_number)
    for refund in refunds:
        say_refund(ctx, refund)
    if refunds:
        return about("refund")
    return _no_refund(ctx, asked_for_one=True)


def _no_refund(ctx: OrderContext, *, asked_for_one: bool) -> List[EventType]:
    """No refund on the order yet: say why, and what leads to one."""
    summary = ctx.store.order_summary(ctx.conversation_id, ctx.order_number)
    returns = ctx.store.returns_for(ctx.conversation_id, ctx.order_number)
    say = ctx.dispatcher.utter_message
    if returns:
        latest = returns[-1]
        say(
            response="utter_no_refund",
            order_number=ctx.order_number,
            detail=(
                f"Your return {latest.rma_number} is {humanize(latest.status)}; the refund is issued once we've "
                f"received and checked the parcel, {refund_after_return()}."
            ),
        )
        return about("refund")
    if summary.status == "cancelled":
        charged = summary.payment_status in {"paid", "refunded", "partially_refunded"}
        detail = (
            "The refund of the cancelled order goes back to your original payment method."
            if charged
            else "You weren't charged for it, so there's nothing to refund."
        )
        say(response="utter_no_refund_cancelled", order_number=ctx.order_number, detail=detail)
        return about("refund")
    if summary.status in {"placed", "paid", "payment_failed"}:
        say(
            response="utter_no_refund",
            order_number=ctx.order_number,
            detail='It hasn\'t shipped yet, so you can cancel it for a full refund: just say "cancel my order".',
        )
        return about("refund")
    tracking = ctx.store.tracking(ctx.conversation_id, ctx.order_number)
    if tracking.is_lost or (asked_for_one and tracking.is_delayed):
        problem = "appears to be lost" if tracking.is_lost else "is delayed"
        ticket = ctx.store.current_handoff(ctx.conversation_id) if ctx.tracker.get_slot(TICKET) else None
        if ticket is not None:
            # "will I get a refund or a new one?" after "yes get someone": the colleague on it decides, no new offer
            say(response="utter_parcel_problem_ticket", order_number=ctx.order_number, problem=problem,
                ticket=ticket.ticket_number)  # fmt: skip
            return about("handoff")
        say(response="utter_refund_parcel_problem", order_number=ctx.order_number, problem=problem)
        return about("refund", last_question=OFFER_HANDOFF)
    if summary.delivered_at is not None:
        return offer_return(ctx, lead="Refunds for delivered orders are made through a return.")
    say(
        response="utter_no_refund",
        order_number=ctx.order_number,
        detail=f"The order is {humanize(summary.status)}; once it's delivered you can return it within 30 days "
        "for a refund.",
    )
    return about("refund")


#: A no in a customer's words ("never", "didn't", "no sign").
_NEGATIONS = frozenset({"never", "not", "no", "nothing", "didn't", "didnt", "haven't", "havent", "hasn't", "hasnt",
                        "can't", "cant", "don't", "dont", "doesn't", "doesnt", "isn't", "isnt", "nowhere"})  # fmt: skip
#: Seeing or getting money ("saw it", "on my statement", "came through").
_SEEN = ("saw", "see", "seen", "got", "get", "received", "show*", "appear*", "statement", "came through",
         "come through", "gone in", "went in", "landed", "bank account", "in my account")  # fmt: skip


def not_seen(text: str) -> bool:
    """The customer says the money has not reached them ("i never saw it on my statement though", "nothing
    came through"), not asking how or where it goes."""
    how = has(text, "how do", "how does", "how will", "how would", "where does", "where do", "where will", "which")
    return bool(set(words(text)) & _NEGATIONS) and has(text, *_SEEN) and not how


#: A refund the customer cannot see ("it's not showing on my card", "not in my bank").
_REFUND_NOT_SEEN = ("not in my bank", "not in my account", "haven't got", "havent got", "not received",
                    "not arrived", "hasn't arrived", "hasnt arrived", "can't see", "cant see", "not showing",
                    "no sign", "haven't received", "havent received", "not there", "isn't there",
                    "isnt there")  # fmt: skip


def refund_not_seen(text: str) -> bool:
    """The words say a refund has not shown up ("it's not showing on my card though", "nothing came through")."""
    return has(text, *_REFUND_NOT_SEEN) or not_seen(text)


#: How long something takes, in days ("how many days", "how long until", "when will I see it").
_HOW_MANY_DAYS = ("how many days", "how many working days", "how many business days", "how long", "how soon",
                  "how quick*", "how many weeks", "until i see", "till i see", "before i see", "when will i see",
                  "when do i see", "when does it show", "when will it show", "when will it be in", "when will it land",
                  "when will it reach")  # fmt: skip
#: Where refunded money is seen ("in the bank", "on my card", "in my account", "on my statement").
_WHERE_MONEY_SHOWS = ("bank", "account", "statement", "card", "see it", "see the money", "show*", "appear*",
                      "land*", "reach", "get it", "have it", "receive it", "money")  # fmt: skip


def say_bank_time(dispatcher: CollectingDispatcher, refund: RefundInfo) -> None:
    """When the refund was (or will be) sent, then the bank's own days to show it."""
    sent = (
        f"was sent on {day(refund.completed_at)}"
        if refund.status == "completed"
        else f"should be sent by {day(refund.expected_by)}"
    )
    dispatcher.utter_message(
        response="utter_refund_bank_time", amount=money(refund.amount, refund.currency), method=refund.method, sent=sent
    )


def asks_bank_time(text: str) -> bool:
    """The words ask how long until a refund is seen where the money goes ("how many days until I see it in the
    bank?", "how long before it shows on my card?"), not how much it is or whether it has come."""
    return has(text, *_HOW_MANY_DAYS) and has(text, *_WHERE_MONEY_SHOWS) and not has(text, "how much")


def follow_up_refund(ctx: OrderContext, latest: Said) -> List[EventType] | None:
    """What customers ask next about a refund: how much, when, it's not in the bank, to another card."""
    refunds = ctx.store.refunds_for(ctx.conversation_id, ctx.order_number)
    if not refunds:
        return None
    refund = refunds[-1]
    say = ctx.dispatcher.utter_message
    amount = money(refund.amount, refund.currency)
    if refund_not_seen(latest.text):
        say(
            response="utter_refund_not_arrived",
            amount=amount,
            method=refund.method,
            when=day(refund.completed_at or refund.expected_by),
        )
        return about("refund", last_question=OFFER_HANDOFF)
    if has(latest.text, "different card", "another card", "other card", "different account", "bank transfer",
           "cash", "store credit", "gift card",
           # "and it goes back to the card I paid with?": the same method, said as a question
           "goes back to", "go back to", "back to my", "back on my", "back onto", "same card", "card i paid",
           "card i used", "original card", "original payment"):  # fmt: skip
        say(response="utter_refund_same_method", method=refund.method, amount=amount)
        return about("refund")
    if asks_bank_time(latest.text):
        # "and after, how many days until I see it in the bank?": when it is sent, then the bank's own days
        say_bank_time(ctx.dispatcher, refund)
        return about("refund")
    if has(latest.text, "how much", "amount", "how many", "what will i get", "getting back", "get back"):
        say(response="utter_refund_amount", amount=amount, method=refund.method, order_number=refund.order_number)
        return about("refund")
    if has(latest.text, "when", "how long", "taking so long", "why is it", "exactly", "date", "still waiting"):
        say_refund(ctx, refund)
        return about("refund")
    return None
