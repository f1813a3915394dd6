"""Returns: the policy, eligibility, the return form (items and reason), RMA creation and status.

A return is created only when the customer asked for one (not for a question such as "can I still send it
back?", which gets the eligibility and an offer), gave a reason, and said yes to the summary of what will
happen (items, reason, refund, label). A question asked inside the form is answered and the form's question
asked again; it is never stored as an answer. Nor is a button press or a message with another purpose
stored as the reason; "stop", "cancel", "never mind" or "I changed my mind" at any question of the form end
it with nothing created.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any, Dict, List, Sequence

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions import confirm
from actions.common import accounts, conversation_id, day, get_store, humanize, join_words, money, verified_order
from actions.context import (
    LAST_QUESTION,
    OFFER_RETURN,
    TOPIC,
    OrderContext,
    Said,
    about,
    goal_message,
    has,
    is_question,
    said,
    settles,
    starts_no,
    words,
)
from actions.drafts import clear_return_draft, resume_draft, save_return_draft
from actions.form_turns import answer_in_form, say_invalid
from actions.product_lookup import in_focus, shown
from actions.reader import also_asked, answer_aside, in_context
from store.errors import NotAllowed
from store.normalize import normalize_rma
from store.records import ProductInfo, RefundInfo, ReturnableLine, ReturnEligibility, ReturnInfo

ALL = "all"
#: Return statuses still under way (the parcel is coming back, or is being checked).
OPEN_RETURNS = frozenset({"requested", "approved", "received"})
RETURN_SLOTS = [SlotSet("return_items", None), SlotSet("return_reason", None), SlotSet("confirm_return", None)]
RETURN_STATUS_DETAIL = {
    "requested": "we've registered it and are waiting for your parcel; the refund follows once it reaches us.",
    "approved": "it's approved, so please send the parcel using the label instructions you were given.",
    "received": "we've received the parcel and are checking it; the refund follows within a few days.",
    "refunded": "it's complete and the refund has been issued.",
    "rejected": "it was not accepted. A person from our team can explain why.",
}
_ALL_WORDS = re.compile(
    r"\b(all|eve?ry ?th?ing?|both|the lot|whole lot|whole order|whole thing|entire order|all of (?:it|them)|"
    r"every item|each one|tout|alles)\b",
    re.IGNORECASE,
)
#: The whole message ends the return ("stop", "cancel it", "ok never mind", "I've changed my mind").
_STOP_WHOLE = re.compile(
    r"^(?:(?:ok|okay|oh|um|hmm|sorry|actually|no|nah|nope|wait|erm|right|then)\W+)*"
    r"(?:stop|cancel|quit|abort|exit|halt|end|never\s*mind|nvm|forget\s+(?:it|that|about\s+it)|leave\s+it|"
    r"(?:i\s*(?:'ve|have)?\s+)?chang(?:e|ed)\s+my\s+mind|don'?t\s+bother|no\s+return|not\s+now|no\s+thanks?)"
    r"(?:\W+(?:it|that|this|the\s+return|everything|all|please|pls|thanks|thank\s+you|then|now))*$",
    re.IGNORECASE,
)
#: Phrases that end the return wherever they stand ("actually I'll keep it", "please cancel the return").
_STOP_PHRASES = (
    "never mind", "nevermind", "forget it", "forget about it", "cancel the return", "cancel this return",
    "cancel that return", "cancel my return", "stop the return", "stop this return", "don't want to return",
    "dont want to return", "do not want to return", "don't want a return", "dont want a return", "no longer want",
    "not returning", "i'll keep", "ill keep", "i will keep", "keep it", "keep them", "don't return", "dont return",
    "don't set it up", "dont set it up", "don't go ahead", "dont go ahead",
    # keeping it in other words ("actually scrap that, I'm going to hang on to it")
    "scrap that", "scrap it", "scrap the return", "hang on to it", "hang onto it", "hang on to them",
    "hang onto them", "hold on to it", "hold onto it", "hold on to them", "hold onto them", "keep hold of it",
    "going to keep", "gonna keep", "rather keep", "keep hold of them",
    # the same in the languages the shop hears ("stop, finalement je la garde")
    "je la garde", "je le garde", "je les garde", "je vais la garder", "je vais le garder", "je préfère la garder",
    "je préfère le garder", "ich behalte", "ich behalt", "me lo quedo", "me la quedo", "me los quedo",
    "me las quedo",
)  # fmt: skip
#: Intents a reason is read as ("too small", "it arrived damaged", "it brought me out in a rash"); any other
#: intent (a greeting, "track my order", a button) has another purpose and is not stored as the reason.
REASON_INTENTS = frozenset({"inform", "out_of_scope", "nlu_fallback", "complaint", "return_item", "request_refund"})
#: "the reason is ...", "reason: ..." at the start of an answer: the words after it are the reason.
_REASON_PREFIX = re.compile(
    r"^.*?\b(?:the\s+)?reason(?:\s+is|\s+being|:)\s*[:,-]?\s*|^(?:because|cos|coz|as)\s+", re.IGNORECASE
)


def refund_after_return() -> str:
    """How long a refund takes after a return reaches the shop, from the store's policy."""
    policy = get_store().return_policy()
    return (
        f"within {policy.refund_min_business_days}-{policy.refund_max_business_days} business days once it reaches "
        "us, to your original payment method"
    )


class ActionReturnPolicy(Action):
    """The return policy, read from the store's rules; the part asked about when it is one part."""

    def name(self) -> str:
        """Action name."""
        return "action_return_policy"

    @settles
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        """Window, condition, who pays shipping, final-sale items and refund time (or one of them)."""
        answered = in_context(dispatcher, tracker, caller=self.name())
        if answered is not None:
            return answered
        latest = said(tracker)
        if (
            has(latest.text, "it", "them", "this one", "that one", "he", "she")
            and not has(latest.text, "policy", "policies", "window", "how long", "how many days")
            and product_money_back(dispatcher, tracker)
        ):
            # "what if he never spends it, do I get a refund?" about the gift card being talked about: final sale
            return about("products")
        if not policy_part(dispatcher, latest):
            say_policy(dispatcher)
        return about("return_policy") + also_asked(dispatcher, tracker, answered_topic="return_policy")


def say_policy(dispatcher: CollectingDispatcher) -> None:
    """The whole return policy."""
    policy = get_store().return_policy()
    items = policy.final_sale_items.rstrip(".")
    final_sale = join_words([c.lower() for c in policy.final_sale_categories] + [items[:1].lower() + items[1:]])
    dispatcher.utter_message(
        response="utter_return_policy",
        window_days=policy.window_days,
        condition=policy.condition,
        shipping=f"{policy.uk_label} {policy.international_label}",
        final_sale=final_sale,
        refund_time=(
            f"Refunds go back to your original payment method within {policy.refund_min_business_days}-"
            f"{policy.refund_max_business_days} business days of the parcel reaching us."
        ),
    )


def say_product_returnable(dispatcher: CollectingDispatcher, product: ProductInfo) -> None:
    """Whether one product of the shop can be returned once bought: final sale or the usual window."""
    policy = get_store().return_policy()
    if product.final_sale:
        part = (
            f"{product.title} is final sale, so it can't be returned once bought (final-sale items: gift cards "
            f"and clearance items marked 'Final sale'). Everything else can be returned within {policy.window_days} "
            "days of delivery."
        )
    else:
        part = (
            f"Yes: {product.title} can be returned within {policy.window_days} days of delivery if you change your "
            f"mind. {policy.condition}"
        )
    dispatcher.utter_message(response="utter_return_policy_part", part=part)


#: Words of a customer who has the item already: about an order of theirs, not a product of the shop.
_HAS_IT = ("my order", "order number", "my parcel", "i ordered", "i bought", "i got", "i received", "i've got",
           "arrived", "delivered", "came", "broken", "damaged", "faulty", "last week", "yesterday",
           "sent it")  # fmt: skip


def product_money_back(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """ "And if she never uses it, can I get my money back?" about the product being talked about (a gift card not
    bought yet), which NLU files as a refund of an order: whether it can be returned once bought (final sale or
    the usual window), not which order it is. Said, and True, only in a product conversation with no order."""
    latest = said(tracker)
    text = latest.text
    if tracker.get_slot(TOPIC) != "products" or not text or tracker.get_slot("order_number"):
        return False
    if any(latest.entity(name) for name in ("order_number", "rma_number", "email", "postcode")):
        return False
    if not is_question(text) or has(text, *_HAS_IT):
        return False
    focus = in_focus(tracker)
    products = [focus] if focus is not None else shown(tracker)
    if not products:
        return False
    if len(products) == 1:
        say_product_returnable(dispatcher, products[0])
        return True
    policy = get_store().return_policy()
    final = [p.title for p in products if p.final_sale]
    other = [p.title for p in products if not p.final_sale]
    parts = []
    if final:
        are, they = ("is", "it") if len(final) == 1 else ("are", "they")
        parts.append(f"{join_words(final)} {are} final sale, so {they} can't be returned or refunded once bought.")
    if other:
        parts.append(f"{join_words(other)} can be returned within {policy.window_days} days of delivery.")
    dispatcher.utter_message(response="utter_return_policy_part", part=" ".join(parts))
    return True


def _damaged_part(window_days: int) -> str:
    """What can be done about an item that arrived damaged: a refund through a return, or a replacement."""
    return (
        "Sorry if something arrived damaged or faulty: you can return it within the "
        f'{window_days} days with the reason "damaged" for a full refund (UK returns are free); if '
        "you'd rather have it replaced, a colleague can arrange that."
    )


#: Sending a parcel back, in any words ("sending back", "posting it back to you", "the return courier").
_SENDING_BACK = ("send it back", "sending it back", "send back", "sending back", "send them back", "sending them back",
                 "post it back", "posting it back", "post back", "posting back", "ship it back", "shipping it back",
                 "back to you", "return*", "courier")  # fmt: skip
#: Who bears the cost ("who will bear the courier charges", "is it on me", "do I cover the postage").
_WHO_PAYS = ("cost*", "how much", "pay", "pays", "paid", "charge*", "fee*", "bear", "cover*", "free", "on me",
             "on you", "foot the bill", "price")  # fmt: skip
#: Where the parcel goes ("where do i drop it off", "which post office takes it", "can I hand it in anywhere").
_DROP_OFF = ("drop it off", "drop off", "drop them off", "drop it at", "drop them at", "dropoff", "drop-off",
             "hand it in", "hand them in", "hand in", "post office", "where do i take", "where can i take",
             "where should i take", "where do i send", "where should i send", "where to send", "where do i post",
             "where can i post", "where to post", "take it to", "take them to")  # fmt: skip
#: Returning in one of the shops ("can I take it back in store?").
_IN_SHOP = ("in store", "in a shop", "in the shop", "in shop", "to a shop", "instore", "to the shop", "to a store",
            "to the store", "your shop*", "your store*")  # fmt: skip
#: Asking how soon ("what's the usual wait", "how quick are refunds", "turnaround").
_HOW_SOON = ("usual wait", "the wait", "wait for", "long wait", "waiting time", "how quick*", "how fast", "how soon",
             "turnaround", "turn around", "take to come", "take to arrive", "take to go through")  # fmt: skip
#: Words that make a refund question about refunds in general, not the customer's own one.
_IN_GENERAL = ("usual*", "normal*", "typical*", "generally", "in general", "on average", "average", "roughly",
               "tend to", "as a rule", "standard", "refunds", "a refund", "any refund", "do you refund",
               "once you get", "once you receive", "after you get", "after you receive")  # fmt: skip
#: Words about the customer's own case (their refund, their late money): an order is what it needs.
_OWN_CASE = ("my refund", "my money", "my return", "my order", "my parcel", "still waiting", "still not",
             "still haven't", "not received", "not had", "haven't had", "haven't got", "havent", "hasn't", "hasnt",
             "where is", "where's", "wheres", "status", "yet", "ord-", "rma-")  # fmt: skip
_REFUND = ("refund*", "money back", "paid back", "reimburs*")


def policy_question(latest: Said) -> bool:
    """The words ask what the return policy says, not about the customer's own order: how long refunds usually
    take, who pays to send things back, where a parcel is dropped off. Needs no order to answer, so no order
    check is started for it (`ValidateVerifyOrderForm.run`); "when will I get my refund?" is the customer's own
    case and is not one."""
    text = latest.text
    if latest.button or not text or any(latest.entity(n) for n in ("order_number", "rma_number", "email", "postcode")):
        return False
    if not is_question(text) or wants_to_return(text) or has(text, *_OWN_CASE):
        return False
    if has(text, *_DROP_OFF) or (has(text, *_SENDING_BACK) and has(text, *_WHO_PAYS)):
        return True
    return has(text, *_REFUND) and has(text, *_IN_GENERAL)


def policy_part(dispatcher: CollectingDispatcher, latest: Said) -> bool:
    """Answer the one part of the policy a question is about ("do sale items count", "who pays postage");
    False when it is about the policy as a whole."""
    policy = get_store().return_policy()
    text = latest.text
    if has(text, "policy", "policies", "how do returns work", "how does returning work"):
        return False  # "whats ur returns policy? and do i pay the postage back": the whole policy says both
    window = f"You can return items within {policy.window_days} days of delivery."
    if has(text, "start one", "start a return", "how do i start", "how would i start", "how can i start",
           "how do i return", "how would i return", "how do i send it back", "how to return"):  # fmt: skip
        part = (
            "To start a return, tell me the order number (it's in your confirmation email) and the email address "
            "you ordered with or the delivery postcode: I'll check what can be returned and set it up with you. "
            f"{window}"
        )
    elif has(text, "sale", "clearance", "gift card*", "discount*", "reduced", "offer*", "carte cadeau",
             "cartes cadeaux", "geschenkkarte*", "gutschein*", "tarjeta regalo", "tarjetas regalo", "soldes",
             "buono regalo"):  # fmt: skip
        categories = join_words([c.lower() for c in policy.final_sale_categories])
        part = (
            f"Final-sale items can't be returned: {categories} and {policy.final_sale_items[:1].lower()}"
            f"{policy.final_sale_items[1:]} Everything else can be returned within {policy.window_days} days."
        )
    elif has(text, "faulty", "damaged", "broken", "defective", "doesn't work", "doesnt work", "leak*", "smashed",
             "shattered", "cracked"):  # fmt: skip
        part = _damaged_part(policy.window_days)
    elif has(text, "postage", "post it", "pay to send", "pay for the return", "pay to return", "shipping back",
             "send it back for free", "free return*", "who pays", "cost to return", "return shipping", "label",
             "print") or (has(text, *_DROP_OFF) and not has(text, *_IN_SHOP)) or (
        has(text, *_SENDING_BACK) and has(text, *_WHO_PAYS)
    ):  # fmt: skip
        part = (
            f"{policy.uk_label} {policy.international_label} Print the label, pack the items and drop the "
            "parcel at any Post Office."
        )
    elif has(text, *_IN_SHOP, "here"):
        part = (
            f"Online orders are returned by post rather than in our shops: {policy.uk_label[:1].lower()}"
            f"{policy.uk_label[1:]} {window}"
        )
    elif has(text, "how long", "how many days", "time limit", "window", "days", "deadline", "when", *_HOW_SOON):
        if has(text, "refund*", "money", "paid back"):  # "how long do refunds take": the refund, not the window
            part = (
                f"Refunds go back to your original payment method within {policy.refund_min_business_days}-"
                f"{policy.refund_max_business_days} business days of the parcel reaching us."
            )
            if has(text, "return*", "send back", "send it back", "sending back"):
                part += f" {window}"  # "can I return ORD-… and how long do refunds take?": both halves
        else:
            part = f"{window} {policy.condition}"
    elif has(text, "refund*", "money back"):
        part = (
            f"Refunds go back to your original payment method within {policy.refund_min_business_days}-"
            f"{policy.refund_max_business_days} business days of the parcel reaching us. {window}"
        )
    elif has(text, "opened", "used", "tried", "worn", "unsealed", "swatched", "condition"):
        part = f"{policy.condition} {window}"
    else:
        return False
    dispatcher.utter_message(response="utter_return_policy_part", part=part)
    return True


# ------------------------------------------------------------------------------------------- starting


_RETURN_WORDS = ("return*", "send back", "send it back", "sending back", "send them back", "retour*", "zurück*",
                 "rücksend*", "devol*", "refund*",
                 # "need to send something back": the thing sent back named in between
                 "send something back", "send some things back", "send stuff back", "send this back",
                 "send these back", "send that back", "send those back", "send everything back", "send an item back",
                 "send my order back", "send the order back", "send the lot back", "sending something back",
                 "sending stuff back", "send smth back", "send sth back")  # fmt: skip


def wants_to_return(text: str) -> bool:
    """The words ask for a return now ("I want to return it", "start a return") rather than ask about one."""
    if has(text, "want to", "wanna", "would like", "i'd like", "id like", "need to", "please", "pls", "start",
           "let's", "lets", "do it", "go ahead", "set up", "i'll do", "ill do", "begin", "return it now",
           "send back all", "je voudrais", "ich möchte", "möchte"):  # fmt: skip
        return True
    return not is_question(text)


def start_return(ctx: OrderContext, *, lead: str = "") -> List[EventType]:
    """Check eligibility with the store; for a request, ask which items and why (return_form); for a
    question, answer it with the eligibility and offer to start one (after ``lead``, said before the offer).

    A return of this order the customer left unfinished (here or on another linked chat) is picked up
    where it stopped instead of being started again.
    """
    customer = ctx.store.verified_customer(ctx.conversation_id)
    draft = accounts().return_draft(customer) if customer is not None else None
    if customer is not None and draft is not None and draft.order_number == ctx.order_number:
        return resume_draft(ctx.dispatcher, ctx.conversation_id, customer, draft)
    eligibility = ctx.store.return_eligibility(ctx.conversation_id, ctx.order_number)
    existing = ctx.store.returns_for(ctx.conversation_id, ctx.order_number)
    if existing and (not eligibility.eligible or ctx.tracker.get_slot("rma_number")):
        # "I started a return but lost the label": the return that exists, not a refusal to start another
        say_returns(ctx, existing)
        latest = said(ctx.tracker)
        if has(latest.text, "label", "lost", "print", "where do i send"):
            ret = existing[-1]
            ctx.dispatcher.utter_message(
                response="utter_return_label", rma_number=ret.rma_number, instructions=ret.label_instructions
            )
        return about("return_status")
    if not eligibility.eligible:
        return refuse(ctx, eligibility)
    asked = goal_message(ctx.tracker)
    requested = bool(asked) and has(asked, *_RETURN_WORDS) and wants_to_return(asked)
    if ctx.tracker.get_slot("last_question") != OFFER_RETURN and not requested:
        return offer_return(ctx, eligibility=eligibility, lead=lead)
    return begin_return(ctx, eligibility, said(ctx.tracker))


def refuse(ctx: OrderContext, eligibility: ReturnEligibility) -> List[EventType]:
    """Why this order cannot be returned; a parcel that never arrived is not a return but a person's job."""
    if eligibility.reason_code in {"not_delivered", "not_shipped"}:
        tracking = ctx.store.tracking(ctx.conversation_id, ctx.order_number)
        if tracking.is_lost:
            ctx.dispatcher.utter_message(response="utter_return_parcel_lost", order_number=ctx.order_number)
            return about("track", last_question="offer_handoff")
    ctx.dispatcher.utter_message(
        response="utter_return_not_eligible", order_number=ctx.order_number, reason=eligibility.message
    )
    return about("return_refused", refusal=eligibility.message)


def offer_return(ctx: OrderContext, *, eligibility: ReturnEligibility | None = None, lead: str = "") -> List[EventType]:
    """Say until when the order can be returned and offer to start a return (nothing is created)."""
    eligibility = eligibility or ctx.store.return_eligibility(ctx.conversation_id, ctx.order_number)
    if not eligibility.eligible:
        if lead:
            ctx.dispatcher.utter_message(text=lead)
        return refuse(ctx, eligibility)
    items = join_words([f"{line.title} ({money(line.unit_price)})" for line in eligibility.returnable_lines])
    ctx.dispatcher.utter_message(
        response="utter_offer_return",
        lead=f"{lead} " if lead else "",
        eligibility=eligibility.message,
        items=items,
    )
    return about("return", last_question=OFFER_RETURN)


def begin_return(ctx: OrderContext, eligibility: ReturnEligibility, latest: Said) -> List[EventType]:
    """Open the return form; items named in this very message ("all of it") are taken as chosen."""
    items = None
    if len(eligibility.returnable_lines) == 1:
        # Nothing to choose: the one returnable item is the one.
        items = str(eligibility.returnable_lines[0].line_id)
    elif latest.text:
        picked = _pick_lines(latest.text, eligibility.returnable_lines, strict=True)
        items = ",".join(str(i) for i in picked) if picked else None
    save_return_draft(ctx.tracker, ctx.order_number, items, None)  # finished on any channel if left here
    return [
        *about("return"),
        SlotSet("return_items", items),
        SlotSet("return_reason", None),
        SlotSet("confirm_return", None),
        FollowupAction("return_form"),
    ]


# --------------------------------------------------------------------------------------------- status


def return_status(ctx: OrderContext) -> List[EventType]:
    """Status of the return named by RMA, or of every return on the order; with none, whether one can be made."""
    rma = normalize_rma(ctx.tracker.get_slot("rma_number") or "")
    if rma:
        found = [ctx.store.return_by_rma(ctx.conversation_id, rma)]
    else:
        found = list(ctx.store.returns_for(ctx.conversation_id, ctx.order_number))
    if not found:
        latest = said(ctx.tracker)
        if has(latest.text, "how long", "how many days", "until when", "can i", "could i", "time limit", "window"):
            # "how long have I got to return it?" is about returning, not about a return that exists.
            return offer_return(ctx)
        ctx.dispatcher.utter_message(response="utter_no_returns", order_number=ctx.order_number)
        return about("return_status")
    say_returns(ctx, found)
    return about("return_status")


def say_returns(ctx: OrderContext, found: Sequence[ReturnInfo]) -> None:
    """Each return's status, with the refund it led to when there is one."""
    refunds = ctx.store.refunds_for(ctx.conversation_id, ctx.order_number)
    for ret in found:
        refund = next((r for r in refunds if r.rma_number == ret.rma_number), None)
        say_return_status(ctx.dispatcher, ret, refund)


def say_return_status(dispatcher: CollectingDispatcher, ret: ReturnInfo, refund: RefundInfo | None = None) -> None:
    """One return's status in a sentence, with its refund (issued, or what comes next)."""
    detail = RETURN_STATUS_DETAIL.get(ret.status, humanize(ret.status) + ".")
    if refund is not None:
        if refund.status == "completed":
            detail += (
                f" The refund of {money(refund.amount)} to your {refund.method} was paid on {day(refund.completed_at)}."
            )
        else:
            detail += (
                f" The refund of {money(refund.amount)} to your {refund.method} is {humanize(refund.status)}; "
                f"expect it by {day(refund.expected_by)}."
            )
    elif ret.status in {"requested", "approved", "received"}:
        detail += f" The refund of {money(ret.refund_estimate)} comes {refund_after_return()}."
    dispatcher.utter_message(
        response="utter_return_status",
        rma_number=ret.rma_number,
        order_number=ret.order_number,
        detail=detail,
    )


def follow_up_return(ctx: OrderContext, latest: Said) -> List[EventType] | None:
    """What customers ask next about returning this order: the refund, the label, days left, postage."""
    returns = ctx.store.returns_for(ctx.conversation_id, ctx.order_number)
    text = latest.text
    # a question about the return just offered ("and how long do refunds take?") leaves the offer open, so the
    # "ok yes start it" after the answer starts it
    offer = OFFER_RETURN if ctx.tracker.get_slot(LAST_QUESTION) == OFFER_RETURN and not returns else None
    replacement = has(text, "replace*", "new one", "exchange", "swap")
    if not returns and replacement and has(text, "refund*", "money", "option*"):
        # "what are my options, refund or replacement?": both, and the return offer stands
        policy = ctx.store.return_policy()
        ctx.dispatcher.utter_message(response="utter_return_policy_part", part=_damaged_part(policy.window_days))
        return about("return", last_question=offer)
    if has(text, "refund*", "money", "paid back", "get back", "reimburs*"):
        if returns:
            ret = returns[-1]
            lead = f"The refund of {money(ret.refund_estimate)} for return {ret.rma_number} comes"
        else:
            lead = "Refunds come"
        ctx.dispatcher.utter_message(response="utter_return_refund_time", lead=lead, when=refund_after_return())
        return about("return_status" if returns else "return", last_question=offer)
    if returns and has(text, "label", "print", "where do i send", "send it", "post it", "address", "lost the",
                       *_DROP_OFF):  # fmt: skip
        ret = returns[-1]
        ctx.dispatcher.utter_message(
            response="utter_return_label", rma_number=ret.rma_number, instructions=ret.label_instructions
        )
        return about("return_status")
    if returns and has(text, "that one", "happening", "status", "where is", "update", "received", "arrived", "got it"):
        say_returns(ctx, returns)
        return about("return_status")
    if has(text, "how many days", "how long", "until when", "days left", "time left", "deadline", "when do i",
           "by when", "still return", "still send", "days do i", "days have i", "time limit"):  # fmt: skip
        eligibility = ctx.store.return_eligibility(ctx.conversation_id, ctx.order_number)
        if eligibility.eligible:
            ctx.dispatcher.utter_message(response="utter_return_window_left", eligibility=eligibility.message)
            return about("return", last_question=OFFER_RETURN)
        ctx.dispatcher.utter_message(
            response="utter_return_not_eligible", order_number=ctx.order_number, reason=eligibility.message
        )
        return about("return_refused", refusal=eligibility.message)
    if policy_part(ctx.dispatcher, latest):
        return about("return", last_question=offer)
    return None


# ------------------------------------------------------------------------------------------- the form


def _returnable(tracker: Tracker) -> Sequence[ReturnableLine]:
    number = verified_order(tracker)
    if number is None:
        return ()
    return get_store().return_eligibility(conversation_id(tracker), number).returnable_lines


def _pick_lines(text: str, lines: Sequence[ReturnableLine], *, strict: bool = False) -> List[int] | None:
    """Line ids the customer means: ids from buttons, "all", or words of a product title.

    ``strict`` (a message that was not an answer to "which item?") takes only "all" or a title's words.
    """
    text = text.strip().lower()
    if not text:
        return None
    if text == ALL or _ALL_WORDS.search(text):
        return [line.line_id for line in lines]
    ids = {int(tok) for tok in re.findall(r"\d+", text)}
    by_id = [line.line_id for line in lines if line.line_id in ids]
    if by_id and re.fullmatch(r"[\d,\s]+", text) and not strict:
        return by_id
    place = None if strict else _place_in_list(text, len(lines))
    if place is not None:
        return [lines[place].line_id]
    words = set(re.findall(r"[a-z]{3,}", text)) - {"the", "and", "return", "item", "items", "one", "want", "please"}
    scored = []
    for line in lines:
        overlap = len(words & set(re.findall(r"[a-z]{3,}", line.title.lower())))
        if overlap:
            scored.append((overlap, line.line_id))
    if not scored:
        return None if strict else (by_id or None)
    best = max(score for score, _ in scored)
    return [line_id for score, line_id in scored if score == best]


#: A place in the list of buttons ("only the top one on that list", "the 2nd item", "the last one").
_PLACES = {"first": 0, "1st": 0, "top": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "fourth": 3, "4th": 3,
           "fifth": 4, "5th": 4, "last": -1, "bottom": -1, "final": -1}  # fmt: skip
_PLACE_RE = re.compile(
    r"^(?:(?:only|just|it's|its|it is|the|that|this|um|erm|ok|okay)\s+)*(first|1st|top|second|2nd|third|3rd|fourth|"
    r"4th|fifth|5th|last|bottom|final)(?:\s+(?:one|item|thing|product|option|button)s?)?\b(?P<rest>.*)$"
)


def _place_in_list(text: str, count: int) -> int | None:
    """The index of the item named by its place in the list of buttons, or None: the message opens with the
    place ("the second one", "only the top one on that list") and says nothing else but where it is."""
    found = _PLACE_RE.match(" ".join(words(text)))
    if found is None:
        return None
    rest = set(words(found.group("rest")))
    if rest - {"on", "in", "of", "the", "that", "this", "list", "please", "pls", "thanks", "one", "there", "above"}:
        return None  # "the first one was fine but the blush..." names more than a place
    index = _PLACES[found.group(1)]
    return index if -count <= index < count else None


#: Words of a reason for sending something back ("not the right colour", "didn't like the smell").
_REASON_CUES = ("not the right", "not right", "wrong", "don't like", "dont like", "didn't like", "didnt like",
                "hate", "too small", "too big", "too dark", "too light", "doesn't suit", "doesnt suit", "not for me",
                "changed my mind", "broken", "damaged", "faulty", "smell*", "allergic", "reaction", "not as described",
                "doesn't fit", "doesnt fit", "not what i")  # fmt: skip


#: Words that say why in a clause given with the pick ("all of it, it irritated my skin", "all of the items.
#: Unfortunately the sizes were not as described"): the reason question is then not asked again.
_REASON_WITH_PICK_CUES = _REASON_CUES + (
    "unfortunately", "because", "irritat*", "rash", "itch*", "sting*", "burn*", "size*", "fit", "fits",
    "described", "expected", "quality", "leak*", "stopped working", "doesn't work", "doesnt work", "didn't work",
    "didnt work", "arrived", "defect*", "cheap", "ripped", "torn", "stain*", "scratch*", "dent*", "spoil*",
)  # fmt: skip
_CLAUSE_SPLIT = re.compile(r"[.;!?]+\s*|\s+-+\s+|,\s*|\s+(?=because\b|as it\b|since\b)", re.IGNORECASE)


def reason_with_pick(text: str, picked: Sequence[ReturnableLine]) -> str | None:
    """The reason a customer gave in the same message as the items ("all of it, it irritated my skin"): the
    clauses that read as a reason and name no picked product; None when the message only picks."""
    if not text:
        return None
    kept = []
    for clause in _CLAUSE_SPLIT.split(text):
        clause = clause.strip(" .:-")
        if not clause or not has(clause, *_REASON_WITH_PICK_CUES) or not_a_reason(clause):
            continue
        clause_words = set(re.findall(r"[a-z]{3,}", clause.lower()))
        if any(len(clause_words & set(re.findall(r"[a-z]{3,}", ln.title.lower()))) > 1 for ln in picked):
            continue  # "the SPF 50 moisturiser because ..." keeps only the clause after it
        kept.append(clause)
    reason = " ".join(" ".join(kept).split())[:300]
    return reason or None


#: Words of a pick, or of no reason at all, that a clause given with the pick may hold ("all of them", "the first
#: one", "for me", "really").
_PICK_WORDS = frozenset(
    """all of it them the a an both everything lot whole order items item first second third last one ones please
    pls thanks ta just and so ok okay yes yeah i'd i'll id ill like to return send back want would those these
    that this my for me really too also as well cheers mate thx ty cheers love hun x xx lol haha""".split()  # noqa: SIM905
)


_EXCLUDING = re.compile(r"\s*(?:not|except|but not|apart from|without|minus|bar|only|just)\b", re.IGNORECASE)


def described_reason(text: str, lines: Sequence[ReturnableLine]) -> str | None:
    """The reason given with the pick in words no cue list holds ("all of it, the colour looked nothing like the
    photos", "both - they were a totally different tone in daylight"): a clause after the first that says something
    (two words or more besides pick words), is no question, and names no product of the order. None when the
    message only picks."""
    if not text:
        return None
    clauses = [c.strip(" .:-") for c in _CLAUSE_SPLIT.split(text)]
    kept = []
    for clause in clauses[1:]:
        if not clause or not_a_reason(clause):
            continue
        found = set(re.findall(r"[a-z']+", clause.lower()))
        said_words = found - _PICK_WORDS
        if len(said_words) < 2 or _EXCLUDING.match(clause) or is_question(clause):
            continue
        shared = max((len(found & set(re.findall(r"[a-z]{3,}", ln.title.lower()))) for ln in lines), default=0)
        if shared > 1 or (shared and len(said_words) < 4):
            continue  # "the concealer and the blush", "not the highlighter": another pick, not why
        kept.append(clause)
    reason = " ".join(" ".join(kept).split())[:300]
    return reason or None


def reason_not_item(text: str, picked: Sequence[ReturnableLine]) -> bool:
    """Whether a message that shares a word or so with a product title is a reason rather than the item: it
    reads as a reason and names no picked product by more than one word of its title."""
    if not text or not has(text, *_REASON_CUES):
        return False
    said_words = set(re.findall(r"[a-z]{3,}", text.lower()))
    return all(len(said_words & set(re.findall(r"[a-z]{3,}", line.title.lower()))) <= 1 for line in picked)


def _aside(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """A question inside the form: answer it (in the context of this return) and keep the form's question.

    Returns:
        True when the message was a question and has been answered.
    """
    latest = said(tracker)
    if latest.button or not latest.text or not is_question(latest.text):
        return False
    answer_aside(dispatcher, tracker, latest)
    return True


def stops_return(latest: Said) -> bool:
    """The message ends the return form: "stop", "cancel", "never mind", "I changed my mind, I'll keep it"."""
    if latest.button or not latest.text:
        return False
    text = " ".join(words(latest.text))
    return bool(_STOP_WHOLE.match(text)) or has(latest.text, *_STOP_PHRASES)


def _end_return(tracker: Tracker, slot: str) -> Dict[str, Any]:
    """Slots that end the form now without a return: its submit says so (see `ActionCreateReturn`)."""
    _forget_draft(tracker)
    return {slot: None, "confirm_return": False, "requested_slot": None}


#: What NLU makes of a pick ("the concealer", "all of it", "can I send back the blush?"); a question with
#: another intent at the item step is a question asked in passing.
_ITEM_INTENTS = frozenset({"inform", "return_item", "affirm", "deny", "nlu_fallback"})


class ActionAskReturnItems(Action):
    """Asks which item to return, with one button per returnable item."""

    def name(self) -> str:
        """Action name."""
        return "action_ask_return_items"

    @settles
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        """Offer the returnable lines as buttons, plus "all of them"."""
        buttons = [
            {
                "title": f"{line.title} ({money(line.unit_price)})",
                "payload": "/inform" + json.dumps({"return_items": str(line.line_id)}),
            }
            for line in _returnable(tracker)
        ]
        buttons.append({"title": "All of them", "payload": "/inform" + json.dumps({"return_items": ALL})})
        dispatcher.utter_message(response="utter_ask_return_items", buttons=buttons)
        return []


def _chosen(tracker: Tracker) -> tuple[str, List[ReturnableLine], Decimal]:
    """The order, the chosen returnable lines and what they would refund."""
    number = verified_order(tracker) or ""
    ids = {int(i) for i in str(tracker.get_slot("return_items") or "").split(",") if i.strip().isdigit()}
    lines = [line for line in _returnable(tracker) if line.line_id in ids]
    refund = sum((line.unit_price * line.qty for line in lines), Decimal("0"))
    return number, lines, refund


class ActionAskReturnReason(Action):
    """Asks why, after saying what the return will be: giving the reason sets it up."""

    def name(self) -> str:
        """Action name."""
        return "action_ask_return_reason"

    @settles
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        """The summary (order, items, refund, label) and the reason question."""
        number, lines, refund = _chosen(tracker)
        if not lines:
            dispatcher.utter_message(response="utter_ask_return_reason")
            return []
        free_label = get_store().order_summary(conversation_id(tracker), number).shipping_address.country == "GB"
        dispatcher.utter_message(
            response="utter_ask_return_reason_summary",
            order_number=number,
            items=join_words([f"{line.qty} x {line.title}" for line in lines]),
            refund=money(refund),
            label="a free prepaid Royal Mail label" if free_label else "instructions for sending it back",
        )
        return []


class ValidateReturnForm(FormValidationAction):
    """Turns the customer's choice into line ids and checks a reason was given; questions are answered."""

    def name(self) -> str:
        """Action name."""
        return "validate_return_form"

    def validate_return_items(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """Map buttons, "all" or product words to returnable line ids; "stop" ends the form."""
        if stops_return(said(tracker)):
            return _end_return(tracker, "return_items")
        latest = said(tracker)
        if answer_in_form(dispatcher, latest):
            # "hang on, not sure" / "could I swap it for another shade?": answered, the question stands
            return {"return_items": None}
        if latest.intent not in _ITEM_INTENTS and _aside(dispatcher, tracker):
            # "btw do you have the Kindred Colour Cream Blush in stock?": a question about another product that
            # shares a brand with an item here is answered, not taken as the pick; the form asks again
            return {"return_items": None}
        lines = _returnable(tracker)
        picked = _pick_lines(str(slot_value or ""), lines)
        reason = said(tracker).text
        if (
            picked
            and len(picked) < len(lines)
            and reason_not_item(reason, [ln for ln in lines if ln.line_id in picked])
        ):
            # "it's just not the right colour for me" is why, not which ("Kindred Colour ... Concealer" shares a
            # word): the reason is kept and the item asked for again
            dispatcher.utter_message(response="utter_return_reason_noted_which_item")
            return {"return_items": None, "return_reason": " ".join(reason.split())[:300]}
        if not picked:
            if said(tracker).intent == "thank" and not said(tracker).button:
                dispatcher.utter_message(response="utter_welcome_form")  # "cheers": welcome; the question stands
            elif not latest.button and not is_question(latest.text) and has(latest.text, *_REASON_CUES) and lines:
                # "wrong shade for me" is why, not which: kept, and the only item is the one; otherwise asked
                reason = " ".join(latest.text.split())[:300]
                if len(lines) == 1:
                    return {"return_items": str(lines[0].line_id), "return_reason": reason}
                dispatcher.utter_message(response="utter_return_reason_noted_which_item")
                return {"return_items": None, "return_reason": reason}
            elif not _aside(dispatcher, tracker):
                say_invalid(dispatcher, tracker, "utter_return_items_invalid")
            return {"return_items": None}
        items = ",".join(str(i) for i in picked)
        # "all of it, it irritated my skin": the reason given with the pick is kept, and the next question is
        # the yes to the whole return (asking why again made "yes, go ahead" read as a missing reason)
        given = None if latest.button else reason_with_pick(latest.text, [ln for ln in lines if ln.line_id in picked])
        if given is None and not latest.button:
            # "all of it, the colour looked nothing like the photos": why, in words no cue list holds
            given = described_reason(latest.text, lines)
        number = verified_order(tracker)
        if number is not None:
            # Kept per customer until the return is created, so it can be finished on another channel.
            save_return_draft(tracker, number, items, given)
        if given and not tracker.get_slot("return_reason"):
            return {"return_items": items, "return_reason": given}
        return {"return_items": items}

    def validate_return_reason(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """A short, non-empty reason in the customer's words.

        "stop" and the like end the form; a question is answered; a button press or a message with another
        purpose (another intent) is not a reason, and the question is asked again.
        """
        latest = said(tracker)
        if stops_return(latest):
            return _end_return(tracker, "return_reason")
        if answer_in_form(dispatcher, latest):
            return {"return_reason": None}
        if _aside(dispatcher, tracker):
            return {"return_reason": None}
        if latest.intent == "thank" and not latest.button:
            dispatcher.utter_message(response="utter_welcome_form")  # "thanks": welcome; the question stands
            return {"return_reason": None}
        if latest.button or latest.intent not in REASON_INTENTS:
            dispatcher.utter_message(response="utter_return_reason_invalid")
            return {"return_reason": None}
        reason = " ".join(str(slot_value or "").split())
        reason = _REASON_PREFIX.sub("", reason).strip(" .:-") or reason
        reason = reason[:300]
        if changes_mind(reason):
            # "actually I've changed my mind, I'll keep it": the form ends and nothing is created
            return {"return_reason": DROPPED}
        if len(reason) < 2 or not_a_reason(reason):
            dispatcher.utter_message(response="utter_return_reason_invalid")
            return {"return_reason": None}
        return {"return_reason": reason}

    def validate_confirm_return(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """True only for a clear yes to this summary (`actions.confirm`); "no", "stop" and the like are False;
        a question is answered, and anything else (a hedge, "yes?", another button, a stale yes button, another
        request) changes nothing and asks again.

        The slot mapping's True for an ``affirm`` is not trusted: NLU files "maybe" and "let me think" as affirm.
        """
        latest = said(tracker)
        if latest.button:
            reply = confirm.read(latest, action=confirm.RETURN, expected=return_token(tracker))
            if reply is confirm.Reply.NO:
                _forget_draft(tracker)
                return {"confirm_return": False}
            if reply is confirm.Reply.YES:
                return {"confirm_return": True}
            stale = reply is confirm.Reply.STALE
            dispatcher.utter_message(response="utter_confirm_stale" if stale else "utter_confirm_unclear")
            return {"confirm_return": None}
        if confirm.undecided(latest.text) and not is_question(latest.text):
            dispatcher.utter_message(response="utter_confirm_unclear")  # "not sure": nothing changes, asked again
            return {"confirm_return": None}
        if slot_value is False or stops_return(latest) or starts_no(latest.text):
            _forget_draft(tracker)
            return {"confirm_return": False}
        if confirm.read(latest, action=confirm.RETURN, expected="") is confirm.Reply.YES:
            return {"confirm_return": True}
        if _aside(dispatcher, tracker):
            return {"confirm_return": None}
        dispatcher.utter_message(response="utter_confirm_unclear")
        return {"confirm_return": None}


class ActionAskConfirmReturn(Action):
    """Asks for a yes to the whole return (items, reason, refund, label) before it is created."""

    def name(self) -> str:
        """Action name."""
        return "action_ask_confirm_return"

    @settles
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        """The summary with yes/no buttons."""
        number, lines, refund = _chosen(tracker)
        if not lines:
            # returned meanwhile on another chat: the store refuses it at the yes, and says why
            dispatcher.utter_message(response="utter_return_confirm_unclear")
            return []
        free_label = get_store().order_summary(conversation_id(tracker), number).shipping_address.country == "GB"
        dispatcher.utter_message(
            response="utter_ask_confirm_return",
            order_number=number,
            items=join_words([f"{line.qty} x {line.title}" for line in lines]),
            reason=str(tracker.get_slot("return_reason") or ""),
            refund=money(refund),
            label="a free prepaid Royal Mail label" if free_label else "instructions for sending it back",
            buttons=confirm.buttons(return_token(tracker), "Yes, set it up", "No"),
        )
        return []


def return_token(tracker: Tracker) -> str:
    """What the yes button of "To confirm: a return for order ... Shall I set it up?" carries: the order, the
    items and the reason (a yes to another version of the summary confirms nothing)."""
    details = f"{tracker.get_slot('return_items') or ''}|{tracker.get_slot('return_reason') or ''}"
    return confirm.token(confirm.RETURN, verified_order(tracker) or "", details)


#: Words of an answer to some other question ("ok", "yes", "all the items"): giving the reason sets the return
#: up, so a message made only of these is not taken as the reason.
_NO_REASON_WORDS = frozenset(
    """ok okay k alright yes yeah yep yup sure fine cool right go ahead do it please pls thanks all the items item
    everything both of them it lot whole order thing things and so just one ones that those these""".split()  # noqa: SIM905
)


#: The return form's reason when the customer took the return back (action_create_return creates nothing).
DROPPED = "(customer changed their mind)"
#: "changed my mind" alone is a common reason for a return ("changed my mind about the colour"): only keeping
#: the item or not wanting the return takes it back.
_CHANGES_MIND = re.compile(
    r"i'?ll keep it|i'?ll keep them|keep it after all|never ?mind|forget it|\bdon'?t (?:want to |)"
    r"(?:return|start|send)|do not (?:want to )?(?:return|start)|no longer want to return|not returning",
    re.IGNORECASE,
)


def changes_mind(text: str) -> bool:
    """Whether the answer to the reason question takes the return back instead of giving a reason."""
    return bool(_CHANGES_MIND.search(text or ""))


def not_a_reason(text: str) -> bool:
    """Whether ``text`` only acknowledges or picks items ("ok. all the items") instead of saying why."""
    found = re.findall(r"[a-z']+", text.lower())
    return bool(found) and all(word in _NO_REASON_WORDS for word in found)


class ActionCreateReturn(Action):
    """Submit of `return_form`: creates the RMA in the store and gives label instructions."""

    def name(self) -> str:
        """Action name."""
        return "action_create_return"

    @settles
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        """Create the return for the chosen lines and reason."""
        number = verified_order(tracker)
        if number is None:
            dispatcher.utter_message(response="utter_ask_order_number")
            return list(RETURN_SLOTS)
        if tracker.get_slot("return_reason") == DROPPED or tracker.get_slot("confirm_return") is not True:
            # nothing is created without a yes to the summary ("stop", "no", "I'll keep it" end here)
            _forget_draft(tracker)
            if tracker.get_slot("return_reason") == DROPPED or tracker.get_slot("confirm_return") is False:
                # the customer took the return back, in whatever words NLU filed it under: the same answer as
                # the rule for a plain "no" inside the form (nothing has changed, the items are theirs)
                dispatcher.utter_message(response="utter_return_stopped")
            else:
                dispatcher.utter_message(response="utter_no_return", order_number=number)
            return list(RETURN_SLOTS) + about("return", last_question=None)
        line_ids = [int(i) for i in str(tracker.get_slot("return_items") or "").split(",") if i.strip().isdigit()]
        reason = tracker.get_slot("return_reason") or "not given"
        try:
            ret = get_store().create_return(conversation_id(tracker), number, line_ids or None, reason)
        except NotAllowed as refusal:
            dispatcher.utter_message(response="utter_return_refused", reason=refusal.message)
            _forget_draft(tracker)
            return list(RETURN_SLOTS) + about("return_refused", refusal=refusal.message)
        _forget_draft(tracker)
        policy = get_store().return_policy()
        label = ret.label_instructions
        if ret.label_url and ret.label_url not in label:
            label += f" Label: {ret.label_url}"
        dispatcher.utter_message(
            response="utter_return_created",
            rma_number=ret.rma_number,
            items=join_words([f"{line.qty} x {line.title}" for line in ret.lines]),
            label=label,
            refund_amount=money(ret.refund_estimate),
            refund_method="original payment method",
            refund_days=f"{policy.refund_min_business_days}-{policy.refund_max_business_days} business days",
        )
        return list(RETURN_SLOTS) + [SlotSet("rma_number", ret.rma_number)] + about("return_status")


def _forget_draft(tracker: Tracker) -> None:
    clear_return_draft(tracker)
