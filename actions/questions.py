"""Question-keyed readers: what a message asks, read from the form of the question, whatever its words.

Readers keyed on one batch's sentence (or on the exact answer before it) did not carry to the same questions in
other words (issue 13: batch J's fixes moved no conversation of batch K). Each class here is one question a
customer asks in many ways, written as a table of forms (regular expressions over the shape of the question:
"how many days / how long until / when will I see" + money; "why can't you / can't you just / ... or not"), and
one reader per class that answers from the conversation's context when there is one (the order in focus and its
state, the offer or ticket of a colleague) and from general policy when there is none. `actions.follow_up` asks
them early in `in_context`, so they hold whatever intent NLU guessed.

Classes:
    refund timing: how long until refunded money is seen, that it has not come yet, why it takes so long.
    why a colleague: why the assistant can't do it itself, asked after a colleague was offered or promised.
    personal data: what is kept, for how long and what is done with it.
    best value: which product gives the most for the money.
    still returnable: whether the order in focus can still go back (its own window, not the policy).
"""

from __future__ import annotations

import re
from typing import List

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions import payments
from actions.common import conversation_id, day, get_store, money, verified_order
from actions.context import (
    FOR_A_COLLEAGUE,
    LAST_QUESTION,
    OFFER_HANDOFF,
    OFFER_RETURN,
    REFUSAL,
    TICKET,
    TOPIC,
    OrderContext,
    Said,
    about,
    last_bot_response,
    last_bot_text,
)
from actions.returns import offer_return, refund_after_return


def _any(*forms: str) -> re.Pattern[str]:
    """One pattern of the forms of a question (each a regular expression; case-insensitive, on words)."""
    return re.compile("|".join(f"(?:{form})" for form in forms), re.IGNORECASE)


def _text(text: str) -> str:
    """The text as the forms read it: curly apostrophes straight, runs of spaces one."""
    return " ".join((text or "").replace("’", "'").replace("‘", "'").split())


# ------------------------------------------------------------------------------------------- refund timing

#: Money coming back: what a refund-timing question is about ("the money", "my £30", "paid back", "reimbursed").
_MONEY = _any(
    r"\b(?:money|refund(?:ed|s)?|cash|funds|dosh|penny|pennies|reimburs\w*|repaid|credited)\b",
    r"\b(?:paid|pay(?:ing)?|give|giving|get|getting|got|have|see|seeing|receive|receiving)\s+(?:(?:me|it|them|that|"
    r"this|my|the)\s+)?(?:\w+\s+)?back\b(?!\s+(?:to|with)\s+(?:me|us|you|him|her|them)\b)",
    r"£\s?\d",
    r"\b(?:in|into|on|onto|to|hit|hits|hitting|reach(?:es|ing)?|land(?:s|ed)? (?:in|on))\s+my\s+(?:bank|account|card|"
    r"statement|paypal)\b",
)
#: How long until something happens ("how many days before", "how long till", "when will I see", "any idea when").
_HOW_LONG = _any(
    r"\bhow\s+(?:many|much)\s+(?:more\s+)?(?:\w+\s+)?(?:days?|weeks?|time|longer)\b",
    r"\bhow\s+(?:long|soon|quick(?:ly)?|fast)\b",
    r"\b(?:roughly|about|approx\w*|any idea|by)\s+when\b",
    r"\bwhat(?:'s| is)\s+the\s+(?:eta|timescale|time ?frame|wait(?:ing time)?|turnaround)\b",
    r"\beta\b",
    r"\bwhen\s+(?:will|would|should|do|does|can|is|are|am)\b",
    r"\bwhen(?:'ll|'d|'s| is)\b",
)
#: Not seen yet: a negation, then arriving or showing ("nothing's come into my account yet", "still no sign").
_NOT_YET = _any(
    r"\b(?:nothing|zilch|nada|not|no|never|haven'?t|hasn'?t|havent|hasnt|didn'?t|didnt|isn'?t|isnt|aint|ain't|yet to|"
    r"zero)\b(?:\W+\w+){0,5}?\W+(?:come|came|coming|arrived?|landed?|show(?:n|ed|ing|s)?|appear\w*|hit|gone|went|"
    r"turned up|turn up|reached|received|got|seen|credited|cleared|back|sign|trace)\b",
    r"\bstill\s+(?:waiting|no|nothing|not|haven'?t|havent)\b",
    r"\b(?:says|shows|showing|has)\s+(?:nothing|zilch|no\b)",
    r"\bwhere(?:'s| is)\s+(?:my|the)\s+(?:money|refund|cash)\b",
)
#: Why it takes so long ("why is it taking so long", "how come it's still not done", "what's the hold up").
_WHY_SLOW = _any(
    r"\b(?:why|how come)\b(?:\W+\w+){0,6}?\W+(?:so long|taking|take|takes|ages|forever|so slow|slow|still|"
    r"delay\w*|held up)\b",
    r"\bwhat(?:'s| is)\s+(?:taking|the hold ?up|the delay)\b",
)
#: Not a refund's timing: the return window ("how many days do I have to send it back"), a parcel's delivery.
_NOT_REFUND_TIMING = _any(
    r"\b(?:have|got|left|get)\s+(?:\w+\s+)?to\s+(?:return|send|post|take)\b",
    r"\breturn window\b",
    r"\b(?:deliver\w*|parcel|package|courier|shipp\w*|dispatch\w*|tracking|postage)\b",
)
#: Topics in which a bare "why is it taking so long" is about the refund.
_REFUND_TOPICS = frozenset({"refund", "return", "return_status", "payment"})


def refund_timing(text: str) -> str | None:
    """The form of a refund-timing question: ``"how_long"`` ("roughly how many days before the money's back?"),
    ``"not_seen"`` ("nothing's come into my account yet"), ``"why_slow"`` ("why is it taking so long": a refund
    only in a refund's context, see `read_refund_timing`), or None for anything else (the return window, a
    parcel's delivery)."""
    text = _text(text)
    if not text or _NOT_REFUND_TIMING.search(text):
        return None
    money_named = bool(_MONEY.search(text))
    if money_named and _HOW_LONG.search(text) and not re.search(r"\bhow much\b(?!\s+(?:more\s+)?time)", text, re.I):
        return "how_long"
    if _NOT_YET.search(text) and (money_named or re.search(r"\b(?:bank|account|card|statement|paypal)\b", text, re.I)):
        return "not_seen"
    if _WHY_SLOW.search(text):
        return "why_slow"
    return None


def _refund_in_talk(tracker: Tracker, ctx: OrderContext | None) -> bool:
    """A refund is what the conversation is about: its topic, or the bot's last words name one."""
    if tracker.get_slot(TOPIC) in _REFUND_TOPICS and ctx is not None:
        store = ctx.store
        if store.refunds_for(ctx.conversation_id, ctx.order_number) or store.returns_for(
            ctx.conversation_id, ctx.order_number
        ):
            return True
    return bool(re.search(r"\brefund", last_bot_text(tracker), re.I))


def read_refund_timing(
    dispatcher: CollectingDispatcher, tracker: Tracker, latest: Said, *, caller: str = "action_follow_up"
) -> List[EventType] | None:
    """Answer a refund-timing question from the refund of the order in focus, its return, or the policy.

    Args:
        caller: the action asking; with no order in focus a topic action (the returns policy) answers it itself.

    Returns:
        The events of the answer, or None when the message is no refund-timing question.
    """
    form = refund_timing(latest.text)
    if form is None or latest.entity("order_number"):
        return None
    number = verified_order(tracker)
    ctx = (
        OrderContext(dispatcher, tracker, get_store(), conversation_id(tracker), number) if number is not None else None
    )
    if form == "why_slow" and not _refund_in_talk(tracker, ctx):
        return None  # "why is it taking so long" about a parcel or anything else: not ours
    say = dispatcher.utter_message
    if ctx is not None:
        refunds = ctx.store.refunds_for(ctx.conversation_id, ctx.order_number)
        if refunds:
            refund = refunds[-1]
            amount = money(refund.amount, refund.currency)
            if form == "not_seen":
                when = day(refund.completed_at or refund.expected_by)
                say(response="utter_refund_not_arrived", amount=amount, method=refund.method, when=when)
                return about("refund", last_question=OFFER_HANDOFF)
            if form == "why_slow":
                say(response="utter_refund_slow")
                payments.say_refund(ctx, refund)
                return about("refund")
            payments.say_bank_time(dispatcher, refund)
            return about("refund")
        if ctx.store.returns_for(ctx.conversation_id, ctx.order_number):
            if form != "why_slow":
                # a return under way and no refund yet: the return's own follow-up answers when its refund comes
                # and keeps the return in focus for what comes next ("and where do I send it?": its label)
                return None
            say(response="utter_refund_slow")
            return payments.refund_status(ctx)  # the return's state, and the refund's days once it is in
    if ctx is not None:
        if ctx.store.order_summary(ctx.conversation_id, ctx.order_number).delivered_at is None:
            return None  # not delivered: no return yet, so the order's own answer (cancel it, or where it is)
        # no return yet: the policy's days for a return of this order, and an offer of one still open stays open
        # (the "ok yes start it" after the answer starts it)
        say(response="utter_return_refund_time", lead="Refunds come", when=refund_after_return())
        offer = OFFER_RETURN if tracker.get_slot(LAST_QUESTION) == OFFER_RETURN else None
        return about("return", last_question=offer)
    if caller != "action_follow_up":
        return None  # no order in focus: the topic's own action has the policy's words for it
    say(response="utter_refund_timing", after=refund_after_return())  # no order in focus: the policy
    return about("refund")


# ---------------------------------------------------------------------------------------- why a colleague

#: Why the assistant can't (or won't) do it itself: "why can't you just do it", "can't you sort it yourself",
#: "surely you can", "what's stopping you", "so can you refund the extra one or not", "are you even allowed to".
_WHY_NOT_YOU = _any(
    r"\bwhy\s+(?:can'?t|cant|cannot|won'?t|wont|couldn'?t|wouldn'?t|do(?:n'?t| not)|not)\s+(?:you|u|ya|it|the bot|"
    r"the assistant|this (?:thing|bot|chat))\b",
    r"\bwhy\s+(?:do|does|would|should|must)\s+(?:i|it|this|that|a|the)\b(?:\W+\w+){0,4}?\W+(?:person|human|"
    r"colleague|someone|somebody|team|staff|real person|agent)\b",
    r"\b(?:can'?t|cant|cannot|couldn'?t)\s+(?:you|u|ya|the bot|this (?:thing|bot))\s+(?:just|simply|yourself|"
    r"do|sort|fix|change|reset|handle|refund|deal)\b",
    r"\bsurely\s+(?:you|u)\s+(?:can|could)\b",
    r"\bwhat(?:'s| is)\s+stopping\s+(?:you|u)\b",
    r"\bhow come\s+(?:you|u)\s+(?:can'?t|cant|cannot|won'?t|wont|don'?t)\b",
    r"\b(?:can|will|could|would)\s+(?:you|u|ya)\b(?:\W+\w+){0,6}?\W+or not\b",
    r"\b(?:are|r)\s+(?:you|u)\s+(?:even\s+)?(?:not\s+)?(?:able|allowed|capable)\b",
    r"\bis that (?:not )?something (?:you|u) can(?:'?t)?\b",
    r"\b(?:you|u) (?:can'?t|cant|cannot) (?:even|just)\b",
)


def asks_why_not_you(text: str) -> bool:
    """The words ask why the assistant can't do it itself ("why can't you just do it", "surely you can sort that
    yourself?", "so can you refund the extra one or not"), not why the customer can't ("why can't I log in")."""
    return bool(_WHY_NOT_YOU.search(_text(text)))


def _colleague_in_talk(tracker: Tracker) -> bool:
    """A colleague was offered or promised: the open offer, a ticket, or the bot's last words."""
    if tracker.get_slot(LAST_QUESTION) == OFFER_HANDOFF or tracker.get_slot(TICKET):
        return True
    return bool(re.search(r"\b(?:colleague|our team|a person)\b", last_bot_text(tracker), re.I))


def read_why_a_colleague(dispatcher: CollectingDispatcher, tracker: Tracker, latest: Said) -> List[EventType] | None:
    """ "Why can't you just do it?" once a colleague was offered or promised: why a colleague does it (they can
    check it in our systems and act; the assistant can't from a chat), and that colleague: the ticket already
    open, else the offer again. None for anything else (and with no colleague in the conversation)."""
    if not asks_why_not_you(latest.text) or latest.entity("order_number") or not _colleague_in_talk(tracker):
        return None
    ticket = tracker.get_slot(TICKET)
    if ticket:
        dispatcher.utter_message(response="utter_why_colleague_ticket", ticket=ticket)
        return about(None)
    if last_bot_response(tracker) in FOR_A_COLLEAGUE:
        dispatcher.utter_message(response="utter_why_colleague")  # account details and data: who it really is
    else:
        dispatcher.utter_message(response="utter_why_colleague_general")
    return about(None, last_question=OFFER_HANDOFF)


# ------------------------------------------------------------------------------------------------ privacy

#: Keeping, using or passing on something ("keep", "stored", "what do you do with", "sell it on", "for how long").
_KEEPING = _any(
    r"\b(?:keep|keeps|kept|keeping|store|stores|stored|storing|save|saves|saved|saving|hold|holds|held|holding|"
    r"retain\w*|log|logs|logged|logging|record|records|recorded|recording|archiv\w*)\b",
    r"\b(?:do|doing|does|did|done)\s+with\b",
    r"\b(?:use|uses|used|using|share|shares|shared|sharing|sell|sells|sold|selling|pass(?:ed|es|ing)?\s+(?:\w+\s+){0,2}?on|hand(?:ed)?"
    r"\s+over|happens?\s+to|process\w*)\b",
    r"\bhang(?:s|ing)? on to\b",
)
#: What is kept: personal data in any of its names ("my postcode", "these conversations", "people's data").
_PERSONAL = _any(
    r"\b(?:data|chats?|conversations?|messages?|transcripts?|personal|details|information|info|postcode|post code|"
    r"e-?mails?|e-?mail address|phone(?: number)?|mobile(?: number)?|card details|card number|bank details|"
    r"ip address|cookies|history)\b",
    r"\b(?:what|everything|anything|stuff)\s+i\s+(?:type|say|write|send|tell)\b",
    r"\b(?:on|about)\s+(?:me|us|people|customers)\b",
    r"\bgdpr\b|\bprivacy\b|\bdata protection\b",
)
#: The shape of a question to the shop ("do you", "will you", "how long", "what do you lot", "are my").
_ASKS_THE_SHOP = _any(
    r"\b(?:do|does|did|will|would|are|is|can|could|have|has)\s+(?:you|u|ya|y'all|you lot|you guys|the shop|this chat|"
    r"this bot|the bot|it|they|my|these|those|the|people)\b",
    r"\b(?:how long|how much|what|which|where|who|why|whether|if)\b",
)
#: A question word within the first words ("btw do you...", "and will you...", "so what do you lot...").
_OPENS_A_QUESTION = re.compile(
    r"\W*(?:\w+\W+){0,4}?(?:do|does|will|would|are|is|can|how|what|which|who|where|why|whether|if)\b", re.I
)
#: Not about personal data: an order, a product or a stock question ("do you stock retinol", "hold my order").
_NOT_PERSONAL = _any(
    r"\b(?:order|orders|parcel|package|refund|return|cancel\w*|deliver\w*|stock|stocks|in stock|product|brand|"
    r"shade|size|price|new address|gift card)\b",
)


def asks_about_personal_data(text: str) -> bool:
    """A question about the personal data kept and what is done with it, whatever its words ("what do you lot even
    do with people's data", "will you keep my postcode stored somewhere now?", "do you store these conversations?
    for how long?"); not a stock question ("do you stock retinol") nor an order's ("can you hold my order")."""
    text = _text(text)
    if not text or _NOT_PERSONAL.search(text):
        return False
    if re.search(r"\bgdpr\b|\bprivacy (?:policy|notice)\b|\bdata protection\b", text, re.I):
        return True
    asked = "?" in text or bool(_OPENS_A_QUESTION.match(text))
    return asked and bool(_KEEPING.search(text) and _PERSONAL.search(text) and _ASKS_THE_SHOP.search(text))


# --------------------------------------------------------------------------------------------- best value

#: Which product gives the most for the money, in any words ("best value", "most for the money", "bang for my buck",
#: "cheapest decent one", "which is worth it for the price", "what goes furthest").
_BEST_VALUE = _any(
    r"\b(?:best|good|great|better|most)\s+(?:value|deal|price|buy)\b",
    r"\bvalue\s+for\s+(?:the\s+)?money\b",
    r"\bmost\s+(?:\w+\s+){0,2}?for\s+(?:the|my|your|ur|our|his|her)?\s*(?:money|cash|price|pound|quid|buck|dosh)\b",
    r"\bbang\s+for\s+(?:the|my|your|ur|our)?\s*(?:buck|money|pound|quid)\b",
    r"\b(?:money'?s|moneys)\s+worth\b",
    r"\bworth\s+(?:it\s+)?(?:the|for the)\s+(?:money|price)\b",
    r"\bcheapest\s+(?:decent|good|nice|half decent)\b",
    r"\b(?:go|goes|going)\s+(?:the\s+)?furthest\b",
    r"\bmost\s+(?:economical|affordable)\b",
    r"\b(?:least|lowest)\s+(?:expensive|price|cost)\b",
    r"\bcheapest\b",
)


def asks_best_value(text: str) -> bool:
    """The words ask which product is the best value ("which gives the most for the money", "bang for my buck?",
    "cheapest decent one"); the products shown or asked for say which (`actions.products`)."""
    return bool(_BEST_VALUE.search(_text(text)))


# ------------------------------------------------------------------------------------------ still returnable

#: Whether it can still go back ("can I still return that one?", "is it too late to send it back", "am I still in
#: time", "has the return window passed", "is it still returnable").
_STILL_RETURNABLE = _any(
    r"\b(?:still|yet)\b(?:\W+\w+){0,5}?\W+(?:return\w*|send\w*(?:\W+\w+)?\W+back|take\w*(?:\W+\w+)?\W+back|"
    r"post\w*(?:\W+\w+)?\W+back|bring\w*(?:\W+\w+)?\W+back)\b",
    r"\b(?:return\w*|send\w*(?:\W+\w+)?\W+back|refund\w*)\b(?:\W+\w+){0,5}?\W+(?:still|yet|anymore|any more)\b",
    r"\btoo late\b(?:\W+\w+){0,4}?\W+(?:return|send|to get a refund)",
    r"\b(?:in|within)\s+(?:the\s+)?(?:time|window|30 days|return window)\b",
    r"\b(?:return|returns)\s+window\b(?:\W+\w+){0,3}?\W+(?:passed|over|closed|gone|expired|still open|open)\b",
    r"\bstill\s+(?:returnable|eligible|within)\b",
)
#: Pointing at an order of the conversation rather than asking the policy ("that one", "it", "the order").
_POINTS_AT_AN_ORDER = _any(r"\b(?:that|this|it|them|those|these|the order|my order|that order|the one|one)\b")


def asks_if_still_returnable(text: str) -> bool:
    """The words ask whether something already bought can still go back ("and can I still return that one?", "is
    it too late to send them back?"), not how returns work ("how do returns work")."""
    text = _text(text)
    return bool(_STILL_RETURNABLE.search(text) and _POINTS_AT_AN_ORDER.search(text))


def read_still_returnable(dispatcher: CollectingDispatcher, tracker: Tracker, latest: Said) -> List[EventType] | None:
    """ "Can I still return that one?" with an order in focus: its own window (until when and what, or why not),
    not the policy. None without an order in focus (the policy answers) or when another order is named."""
    if not asks_if_still_returnable(latest.text) or latest.entity("order_number") or latest.entity("product"):
        return None
    number = verified_order(tracker)
    if number is None or (tracker.active_loop or {}).get("name") or tracker.get_slot(REFUSAL):
        return None  # a refusal just given reads "but can I still send it back?" as a plea (actions.follow_up)
    ctx = OrderContext(dispatcher, tracker, get_store(), conversation_id(tracker), number)
    return offer_return(ctx)
