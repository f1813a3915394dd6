"""Follow-ups read against the conversation's context (actions/context.py).

`in_context()` is what every answering action asks first: is this message a yes or no to the question the
bot just asked, a customer waiting for a person, or a follow-up of the current topic that NLU filed under
another intent ("how long do I have?" after a failed payment is not a delivery-time question)? If so it
answers, else the action answers as usual. `action_follow_up` handles the messages that only make sense in
context (yes, no, details on their own, corrections, what NLU did not understand) and is the core fallback
of the dialogue policy. `also_asked()` answers a second question in the same message, and `answer_aside()`
a question asked in the middle of a form (the form then asks its own question again).
"""

from __future__ import annotations

import re
from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import account, confirm, orders, payments, questions, reader, returns, shipping
from actions.common import channel_context, conversation_id, get_store, join_words, money, verified_order
from actions.context import (
    FILLERS,
    FOCUS_PRODUCT,
    FOR_A_COLLEAGUE,
    LAST_QUESTION,
    OFFER_HANDOFF,
    OFFER_RETURN,
    QUOTE,
    REFUSAL,
    THINK_IT_OVER,
    TICKET,
    TOPIC,
    OrderContext,
    Said,
    about,
    asks_what_i_do,
    bare_yes,
    claims_a_role,
    has,
    is_question,
    last_bot_response,
    last_bot_text,
    praises,
    puts_the_check_off,
    refuses_a_person,
    said,
    settles,
    slot_before_latest,
    standing_offer,
    starts_no,
    starts_yes,
    wants_a_person,
    words,
)
from actions.form_turns import wants_an_exchange
from actions.handoff import OFFICE_HOURS, current_ticket, not_understood, say_ticket_status, ticket_gone
from actions.identity import ValidateVerifyOrderForm
from actions.product_lookup import brand_in, catalogue, in_focus, meant, shown, tokens
from actions.products import (
    follow_up_products,
    how_it_comes,
    online_words,
    read_request,
    recommend,
    shown_at_price,
    stock_answer,
    tablet_store,
)
from store.normalize import normalize_order_number, normalize_rma

#: Topics that are about one verified order (their follow-ups need that order).
ORDER_TOPICS = frozenset(
    {"track", "cancel", "cancel_refused", "cancelled", "change_address", "address_refused", "address_changed",
     "invoice", "return", "return_refused", "return_status", "refund", "payment"}
)  # fmt: skip
_WAITING = (
    "anyone there", "anybody there", "any one there", "still there", "hello?", "helloo*", "is anyone", "someone there",
    "how long", "when will", "how will they", "contact me", "get back to me", "reply", "respond*", "waiting",
    "wait", "still no one", "no one's come", "nobody", "is someone coming", "coming", "status of my ticket",
    "my ticket", "ticket", "are they", "will they", "still no", "how soon", "call me", "ring me", "email me",
)  # fmt: skip
_WANTS_A_PERSON = ("someone", "somebody", "a person", "look into it", "look at it", "sort it", "sort this",
                   "replacement", "refund", "call me")  # fmt: skip
_WANTS_THE_RETURN = ("all", "everything", "evrything", "everyting", "every thing", "everythin", "both", "the lot",
                     "whole", "start", "go ahead", "do it", "let's", "lets", "all of them", "all of it")  # fmt: skip
#: Words about the person coming, whatever was talked about since ("how long" alone may be about delivery).
_ABOUT_THE_PERSON = ("anyone there", "anybody there", "still there", "is anyone", "someone there", "contact me",
                     "get back to me", "my ticket", "is someone coming", "no one's come", "nobody's come",
                     "still no one", "nobody has", "no one has", "when will someone", "when will they",
                     "how will they", "hear back")  # fmt: skip
#: Asking whether the person is coming, in any word order ("is someone still coming?", "is anybody actually there").
_PERSON_COMING = re.compile(
    r"\b(?:some|any|no)(?:one|body)\b(?:\s+\w+){0,3}?\s+(?:coming|come|there|here|replying|answering|"
    r"getting back|looking at|on (?:it|their way)|repl(?:y|ies|ied)|answers?|responds?|gets? back|gets? in touch|"
    r"contacts? me|calls? me|emails? me|messages? me|picks? (?:it|this) up)\b",
    re.I,
)
#: Someone of the team, in the words customers use ("your lot", "the team", "a human").
_STAFF = ("someone", "somebody", "anyone", "anybody", "they", "them", "your team", "the team", "colleague*",
          "a person", "a human", "staff", "agent*", "your lot", "support", "customer service*")  # fmt: skip
#: What the team does next ("reply", "get back to me", "pick it up").
_STAFF_DOES = ("repl*", "respond*", "answer*", "get back", "gets back", "getting back", "hear*", "in touch",
               "contact*", "pick it up", "picks it up", "look at it", "looks at it", "come back", "call*",
               "email me", "message me", "write back", "writes back", "deal with it")  # fmt: skip
#: A shopper at a tablet saying where in the shop they are ("I'm by the perfumes", "near the tills").
_WHERE_I_AM = ("i'm by", "im by", "i am by", "i'm near", "im near", "i am near", "i'm next to", "im next to",
               "i'm at the", "im at the", "i'm in the", "im in the", "i'm standing", "by the", "near the",
               "next to the", "ich bin bei", "ich stehe", "je suis près", "je suis à côté")  # fmt: skip
_DISPUTE = (
    "unfair", "not fair", "exception", "only just", "only opened", "only a bit", "only a few", "just opened",
    "but i", "but it", "but the", "broken", "faulty", "damaged", "ridiculous", "joke", "please", "come on",
    "moving", "never used", "unopened", "sealed", "not my fault", "can't you", "cant you", "surely",
    "seriously", "only ordered", "just ordered", "only bought", "just bought", "only placed",
    # disbelief at the refusal ("are you kidding, I placed it like 2 days ago")
    "kidding", "joking", "having a laugh", "you're having me on", "i placed it", "i ordered it", "days ago",
    "hours ago", "a day ago", "yesterday",
)  # fmt: skip
#: A plea against a refusal, with the reason it gives ("I was travelling, kindly accept the return").
_PLEA = ("kindly", "travel*", "was away", "been away", "on holiday", "in hospital", "was ill", "was sick", "accept",
         "allow", "let me", "make an exception", "do the needful")  # fmt: skip
#: Asking for an exception to a no, in any words: the exception itself ("let it slide", "just this once", "be
#: reasonable"), a reason that asks for one ("I was in hospital", "we had a funeral"), or disbelief at the no.
_EXCEPTION = re.compile(
    r"\b(?:let\s+(?:it|this|that|me)\s+(?:slide|go|off|through|pass)|(?:make|do)\s+(?:an?\s+)?(?:exception|one[-\s]off)"
    r"|just\s+(?:this|the)\s+once|(?:this|one)\s+(?:one\s+)?time\s+only|only\s+(?:this|the)\s+once|be\s+(?:reasonable|fair|"
    r"flexible|a\s+(?:sport|star|darling|love))|bend\s+(?:the|your)\s+rules?|turn\s+a\s+blind\s+eye|have\s+a\s+heart"
    r"|cut\s+me\s+(?:some|a\s+bit\s+of)\s+slack|give\s+me\s+a\s+break|(?:good\s?will|goodwill)\s+gesture|as\s+a\s+"
    r"(?:favou?r|goodwill)|do\s+me\s+a\s+favou?r|i'?m\s+begging|begging\s+you|i\s+beg\s+you|pretty\s+please"
    r"|overlook\s+(?:it|this|that)|waive\s+(?:it|the)|(?:only|just)\s+(?:a\s+)?(?:few|couple\s+of|one|two|1|2|3)\s+"
    r"days?\s+(?:late|over|out|past)|(?:only|just)\s+(?:a\s+)?(?:day|week)\s+(?:late|over|out|past)"
    r"|(?:was|been|were|got)\s+(?:in\s+(?:hospital|the\s+hospital|a\s+and\s+e|hosp)|(?:really\s+)?(?:ill|sick|unwell|poorly)"
    r"|away|abroad|travell?ing|on\s+holiday|stuck\s+abroad|bereaved)|had\s+(?:covid|surgery|an\s+operation|a\s+baby|"
    r"a\s+funeral|a\s+bereavement|a\s+family\s+emergency)|family\s+emergency|passed\s+away|funeral|bereavement"
    r"|surely\s+(?:you|u|there)|(?:can'?t|cannot|could\s*n'?t)\s+(?:you|u)\s+(?:just\s+)?(?:let|make|accept|allow|do|"
    r"bend|help|take|sort)|(?:are|r)\s+(?:you|u)\s+(?:kidding|joking|serious|having\s+a\s+laugh))",
    re.I,
)
#: The no a plea is against, by the topic it leaves: the refusal itself, or the return policy said for an order.
_PLEADED_AGAINST = frozenset({"return_refused", "cancel_refused", "address_refused", "return_policy"})


def pleads_for_an_exception(text: str) -> bool:
    """ "I was in hospital most of last month, can't you let it slide", "be reasonable, just this once", "are you
    kidding": an exception asked for, not a question (why, what now) nor a new request."""
    if not text or _asks_why(text):
        return False
    return bool(_EXCEPTION.search(" ".join(words(text)))) or has(text, "make an exception", "do the needful")


def _plea_after_a_no(dispatcher: CollectingDispatcher, tracker: Tracker, latest: Said) -> List[EventType] | None:
    """A plea for an exception after a no (a refused return, cancel or address change, or the return policy's
    window said for an order), whatever NLU filed it under: sympathy, and the offer of a person who can look at
    the case (the chat makes no exceptions). None for anything else, and while a person is already on it."""
    topic = tracker.get_slot(TOPIC)
    refusal = tracker.get_slot(REFUSAL)
    if tracker.get_slot(TICKET) or not (refusal or topic in _PLEADED_AGAINST):
        return None
    if latest.entity("order_number") or not pleads_for_an_exception(latest.text):
        return None
    if topic in {"cancel_refused", "address_refused"}:
        dispatcher.utter_message(response="utter_offer_handoff_refusal")
    else:
        dispatcher.utter_message(response="utter_offer_handoff_dispute")
    return about(topic, refusal=refusal, last_question=OFFER_HANDOFF)


#: Venting about the order in focus (an apology and the offer of a person answer it).
_VENTING = ("annoyed", "angry", "furious", "fuming", "livid", "fed up", "sick of", "unacceptable", "disappointed",
            "gutted", "upset", "ridiculous", "useless", "rubbish", "terrible", "awful", "not happy", "so annoying",
            "frustrat*", "pissed off", "disgrace*", "shocking", "appalling", "not good enough",
            "too slow", "so slow", "way too long", "far too long", "takes forever", "taking forever")  # fmt: skip
_DONT_KNOW = ("don't know", "dont know", "do not know", "don't have", "dont have", "no idea", "not sure",
              "can't remember", "cant remember", "forgot", "forgotten", "don't remember", "not great with")  # fmt: skip
_WHAT_NEXT = ("what happens now", "what happens next", "what now", "what next", "what can you do",
              "what are my options", "what do i do", "what should i do", "what will happen",
              "what can be done")  # fmt: skip
#: The request a refusal turned down, by the topic it leaves.
_REFUSED_GOAL = {"cancel_refused": "cancel_order", "address_refused": "change_shipping_address",
                 "return_refused": "return_item"}  # fmt: skip
#: Asking how long something takes.
_HOW_LONG = ("how long", "how soon", "how quick*", "how many days", "how many hours", "when will", "when would",
             "how fast")  # fmt: skip
_WHY = ("why", "how come", "what do you mean", "what does that mean", "what does final sale", "meaning")


def _asks_why(text: str) -> bool:
    """Why, or what a word of the answer means ("what does 'final sale' mean, exactly?")."""
    return has(text, *_WHY) or (
        has(text, "what does", "what do", "what is", "what's", "whats") and has(text, "mean", "means")
    )


def _order_context(dispatcher: CollectingDispatcher, tracker: Tracker) -> OrderContext | None:
    number = verified_order(tracker)
    if number is None:
        return None
    return OrderContext(dispatcher, tracker, get_store(), conversation_id(tracker), number)


# ---------------------------------------------------------------------------------------- in context


def in_context(dispatcher: CollectingDispatcher, tracker: Tracker, *, caller: str) -> List[EventType] | None:
    """Answer ``tracker``'s latest message from the conversation's context, if that is what it needs.

    Args:
        dispatcher: where to answer.
        tracker: the conversation.
        caller: the action asking (``action_follow_up`` also reads details given on their own).

    Returns:
        The events of the answer, or None when the caller should answer as usual.
    """
    latest = said(tracker)
    if latest.button:
        return None
    if offers_a_photo(latest.text):
        # "can I send photos of the box?" after a refused return, "can I add a photo for them?" while a person is
        # awaited: how to send one (it stays with the conversation, where the colleague or the return sees it),
        # before any offer, refusal or queue status is read into it
        dispatcher.utter_message(response="utter_photo")
        return []
    answered = _pending_question(dispatcher, tracker, latest, caller=caller)
    if answered is None and not (latest.entity("order_number") or latest.entity("email") or latest.entity("postcode")):
        # questions read by their form, whatever NLU filed them under and whatever was talked about: when the
        # refunded money is seen, why a colleague and not the assistant, what is done with personal data
        # (actions/questions.py), each answered from the order, offer or ticket in focus, else from policy
        answered = questions.read_refund_timing(dispatcher, tracker, latest, caller=caller)
        if answered is None:
            answered = questions.read_why_a_colleague(dispatcher, tracker, latest)
        if answered is None:
            answered = questions.read_still_returnable(dispatcher, tracker, latest)
        if answered is None and caller != "action_follow_up":
            # "how long do you keep these chats for?" filed as a stock question: the privacy answer, not a product
            answered = privacy_question(dispatcher, latest.text)
        elif answered is None and asks_what_data_is_kept(latest.text):
            # the follow-up action reads data requests among the plain requests, after the context; a question
            # about the data kept is answered before any waiting ticket or order check is read into it
            answered = privacy_question(dispatcher, latest.text)
    if answered is None:
        answered = _double_charge_with_a_person(dispatcher, tracker, latest)
    if answered is None and (caller != "action_continue_goal" or _only_about_the_person(latest.text)):
        # "how will they get back to me" after a hand-off, guessed as an order request: how the colleague answers
        answered = _waiting_for_a_person(dispatcher, tracker, latest)
    if answered is None and has(latest.text, *_OTHER_ORDERS) and not latest.entity("order_number"):
        # "do I have any other orders on the way?" with an order in focus (filed as tracking it): not that order
        answered = _other_orders(dispatcher, tracker)
    if answered is None and wants_an_exchange(latest.text) and not (tracker.active_loop or {}).get("name"):
        # "could i swap it for a different shade instead?" after stopping a return: how, and who can help
        dispatcher.utter_message(response="utter_exchange")
        answered = about(None)
    if answered is None:
        answered = _news_where(dispatcher, tracker, latest)
    if (
        answered is None
        and caller in _PRODUCT_CALLERS
        and tracker.get_slot(TOPIC) == "shipping"
        and shipping.speed_mode(latest.text) != "all"
        and not (latest.entity("product") or latest.entity("category"))
        and not has(latest.text, "product*", "brand*", "one to buy", "gift*")
    ):
        # "what's the cheapest option then" while delivery is talked about (NLU: picks): the cheapest delivery
        answered = shipping.quote(dispatcher, tracker, latest, keep=True, mode=shipping.speed_mode(latest.text))
    if (
        answered is None
        and caller in _PRODUCT_CALLERS
        and asks_what_we_sell(latest.text)
        and has(latest.text, *_ANYTHING_ELSE_SOLD)
    ):
        # "what other stuff do you stock besides perfume" (filed as picks of perfume): the kinds we sell
        answered = say_what_we_sell(dispatcher)
    if answered is None and not (tracker.active_loop or {}).get("name"):
        # adding a product to a placed order, in any words, before the topic reads "it" as that order's status
        answered = _adds_to_an_order(dispatcher, tracker, latest)
    if answered is None and (tracker.get_slot(REFUSAL) or tracker.get_slot(TOPIC) in _PLEADED_AGAINST):
        # "I was in hospital, can't you let it slide" after a no: a person can look at it, offered
        answered = _plea_after_a_no(dispatcher, tracker, latest)
    if answered is None:
        answered = _topic_follow_up(dispatcher, tracker, latest, caller=caller)
    return answered


#: Words that make "what ... do you have" about the shop's range rather than a kind ("what lipsticks do you have"
#: asks for lipsticks; "what other stuff do you stock besides perfume" for the range).
_ANYTHING_ELSE_SOLD = ("else", "other", "stuff", "things", "kind of", "kinds of", "sort of", "sorts of", "type of",
                       "types of", "products", "range", "categories", "besides", "apart from")  # fmt: skip
#: The actions that answer a question about products (NLU files "what else do you sell" under any of them).
_PRODUCT_CALLERS = frozenset({"action_recommend_products", "action_check_stock"})


def _other_orders(dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
    """No listing of orders in a chat: any order by its number, and whether it needs a new check (an e-mail
    proved the customer, a postcode one order)."""
    by_email = get_store().verified_customer(conversation_id(tracker)) is not None
    dispatcher.utter_message(response="utter_other_orders_by_email" if by_email else "utter_other_orders")
    return about(None)


#: How order news reach the customer ("will that come here or by email?").
_NEWS_HOW = ("email*", "e-mail*", "here", "where", "how will", "how do i get", "how would i get", "text*", "sms",
             "telegram", "whatsapp", "chat", "app", "phone")  # fmt: skip


def _news_where(dispatcher: CollectingDispatcher, tracker: Tracker, latest: Said) -> List[EventType] | None:
    """ "will that come here or by email?" right after order news were turned on: where they arrive (NLU reads it
    as a delivery-time question)."""
    if last_bot_response(tracker) != "utter_notifications_on":
        return None
    if not is_question(latest.text) or not has(latest.text, *_NEWS_HOW) or has(latest.text, *_WHICH_NEWS):
        return None  # "what kind of updates" is answered by the news said again (action_follow_up)
    ctx = _order_context(dispatcher, tracker)
    return account.notifications_where(ctx) if ctx is not None else None


#: Asking to be told when something about the order happens ("will you inform me when it is done?").
_TELL_ME_WHEN = ("inform me", "tell me when", "tell me once", "tell me as soon", "let me know when",
                 "let me know once", "let me know as soon", "notify me", "keep me posted", "keep me updated",
                 "keep me in the loop", "update me", "message me when", "email me when", "text me when",
                 "will i be told", "will i be notified", "will i get notified", "will i be informed", "will i hear",
                 "will i get a message", "will i get an email", "get notified", "be notified", "send me an update",
                 "send me updates", "get an update when", "give me a shout")  # fmt: skip


#: "tell me when it ships", "let me know when it will arrive": the date asked for now, not news later.
_THE_DATE_NOW = re.compile(
    r"\b(?:tell|let)\s+me\s+(?:know\s+)?when\s+(?:it|they|that|this|the\s+\w+|my\s+\w+)\s*"
    r"(?:will|'ll|ll|ships|arrives|comes|goes|leaves|is\s+(?:due|going|coming|shipping|arriving)|does|would|should|"
    r"can|gets)\b",
    re.IGNORECASE,
)


def asks_to_be_told(text: str) -> bool:
    """The words ask to be told when the order's next step happens (its news), not something about it now ("can
    you tell me when it ships?" asks for the date)."""
    return has(text, *_TELL_ME_WHEN) and not _THE_DATE_NOW.search(text)


#: A payment taken twice ("charged twice", "two payments", "the extra one").
_DOUBLE_CHARGE = ("twice", "double", "two payments", "two charges", "charged again", "duplicate", "extra one",
                  "extra payment", "extra charge", "second payment", "second charge", "other payment",
                  "other charge")  # fmt: skip
_REFUND_WORDS = ("refund*", "money back", "get it back", "pay back", "paid back", "pay it back", "give back",
                 "give it back", "give me back", "give it me back", "put back", "put it back", "reimburs*",
                 "repay*", "reverse*", "cancel the second", "cancel the extra", "payment back", "charge back",
                 "chargeback", "amount back", "one back")  # fmt: skip


def _double_charge_with_a_person(
    dispatcher: CollectingDispatcher, tracker: Tracker, latest: Said
) -> List[EventType] | None:
    """ "will they refund the extra one?" about a payment taken twice: with a colleague's ticket open, the colleague
    sorts the second charge out (not a refund of the order, nor a second ticket); with none, a colleague can check
    the two payments and refund the extra one, offered (the assistant can't refund a payment; nor is it the
    order's refund or returns policy)."""
    if not has(latest.text, *_REFUND_WORDS) or latest.entity("order_number"):
        return None
    earlier = [str(e.get("text") or "") for e in tracker.events if e.get("event") == "user"][-8:]
    if not any(has(text, *_DOUBLE_CHARGE) for text in [*earlier, latest.text]) or not any(
        has(text, *_DOUBLE_CHARGE) and has(text, *_CHARGED) for text in [*earlier, latest.text]
    ):
        return None
    if not tracker.get_slot(TICKET):
        dispatcher.utter_message(response="utter_double_charge_colleague")
        return about("payment", last_question=OFFER_HANDOFF)
    ticket = current_ticket(tracker)
    if ticket is None:
        return None
    dispatcher.utter_message(response="utter_ticket_double_charge", ticket=ticket.ticket_number)
    return about("handoff", **{TICKET: ticket.ticket_number})


#: Money taken ("charged", "two payments", "my bank shows"): a double charge is a payment's, not two items.
_CHARGED = ("charg*", "paid", "pay", "payment*", "bank", "card", "taken", "took", "debit*", "statement")


def _only_about_the_person(text: str) -> bool:
    """About the colleague on the ticket and nothing of an order ("how will they get back to me", not "when will
    they refund me")."""
    about_the_team = has(text, *_HOW_LONG) and has(text, *_STAFF) and has(text, *_STAFF_DOES)
    return (has(text, *_ABOUT_THE_PERSON) or bool(_PERSON_COMING.search(text)) or about_the_team) and not has(
        text, "refund*", "deliver*", "arriv*", "return*", "ship*", "track*", "cancel*", "invoice", "pay*", "money"
    )


#: Words of a no to the offer of a person that say nothing more ("no thanks, I'm fine", "nah I don't need anyone").
_JUST_NO = frozenset(
    {"no", "nah", "nope", "not", "now", "thanks", "thank", "you", "ta", "cheers", "thx", "i", "i'm", "im", "don't",
     "dont", "do", "want", "need", "wanna", "a", "an", "any", "person", "human", "one", "anyone", "anybody",
     "someone", "somebody", "fine", "ok", "okay", "it's", "its", "that's", "thats", "all", "right", "good", "cool",
     "just", "please", "pls", "really", "to", "speak", "talk", "with", "the", "me", "pass", "put", "through",
     "transfer", "hand", "sorry", "it", "that", "is", "am", "ll", "i'll", "ill", "for", "there", "at", "moment"}
)  # fmt: skip


#: The customer will deal with it themselves ("I'll sort it with them myself", "I'll ring the courier").
_MYSELF = ("myself", "my self", "i'll sort it", "ill sort it", "i will sort it", "i'll deal with", "ill deal with",
           "i'll call them", "i'll ring them", "i'll contact them", "i'll chase",
           "ill chase", "i'll call the courier", "i'll ring the courier", "i'll contact the courier",
           "i'll call royal mail", "sort it with them", "sort it out with them", "deal with them directly",
           "do it on my own", "handle it on my own")  # fmt: skip


def does_it_themselves(text: str) -> bool:
    """The words say the customer will deal with it themselves: no to the person offered, whatever "sort it"
    or "fine" in them looked like."""
    return has(text, *_MYSELF) and not has(text, "can someone", "can somebody", "get someone", "a person")


def _says_more_than_no(text: str) -> bool:
    """A no to the offer of a person that goes on to ask something ("no I don't want a person, just tell me the
    new date", "no forget that, can I return it when it comes?")."""
    return len([w for w in words(text) if w not in _JUST_NO]) >= 2


#: Putting an offer off ("I'll think about it", "maybe later", "I'll sleep on it"): a no for now.
_PUT_OFF = ("think about it", "have a think", "think it over", "thinking about it", "maybe later", "later maybe",
            "another time", "not yet", "sleep on it", "get back to you", "decide later", "let you know",
            "i'll see", "ill see", "i'll wait", "ill wait")  # fmt: skip


def _puts_it_off(text: str) -> bool:
    """The words put the offer off or hedge ("ok good to know, I'll think about it", "not sure yet"), asking
    nothing: no yes to it."""
    return bool(text) and not is_question(text) and (has(text, *_PUT_OFF) or confirm.undecided(text))


def _pending_question(
    dispatcher: CollectingDispatcher, tracker: Tracker, latest: Said, *, caller: str = "action_follow_up"
) -> List[EventType] | None:
    """A yes or no to the offer the bot just made (a person, a return). A no to the person that asks something
    more is that question, read against the topic (the caller answers it when the topic has no answer)."""
    question = tracker.get_slot(LAST_QUESTION)
    if question is None and bare_yes(latest):
        # "fine do it" two turns after "shall I pass you to a person?", a question about it answered in between:
        # the offer still stands (a few turns, unless turned down or replaced by another question)
        question = standing_offer(tracker)
    if question not in {OFFER_HANDOFF, OFFER_RETURN}:
        return None
    yes = latest.intent == "affirm" or starts_yes(latest.text) or bare_yes(latest)
    no = latest.intent == "deny" or starts_no(latest.text)
    if _puts_it_off(latest.text):
        yes, no = False, True  # "ok good to know, I'll think about it": not now, whatever NLU filed it under
    asks_for_one = latest.intent in {"human_handoff", "complaint"} and not refuses_a_person(latest.text)
    if latest.intent == "complaint" and is_question(latest.text) and not has(latest.text, *_WANTS_A_PERSON):
        asks_for_one = False  # "why is it late anyway" (NLU: a complaint) asks about the order, not for a person
    if question == OFFER_HANDOFF and asks_for_one:
        yes = True
    if question == OFFER_HANDOFF and has(latest.text, *_WANTS_A_PERSON):
        yes = yes or not no
    if question == OFFER_HANDOFF and refuses_a_person(latest.text):
        yes, no = False, True  # "keep the humans out of it, when does it come": a no, and what it asks after it
    if question == OFFER_HANDOFF and does_it_themselves(latest.text):
        # "fine, what's the tracking number, I'll sort it with them myself": no person, and what it asks for
        yes, no = False, True
    if question == OFFER_HANDOFF and not yes and not no and has(latest.text, *_WHAT_NEXT):
        # "what happens now?": what the person offered would do, and the offer again
        dispatcher.utter_message(response="utter_handoff_what_next")
        return [FollowupAction("action_listen")]
    if (
        question == OFFER_HANDOFF
        and not yes
        and not no
        and last_bot_response(tracker) in FOR_A_COLLEAGUE
        and is_question(latest.text)
        and has(latest.text, *_HOW_LONG)
        and not has(latest.text, *_ORDER_WORDS)
        and shipping.destination_in(latest) == (None, None)
    ):
        # "how long does that usually take?" after "a colleague can change your name" (NLU: a delivery time): how
        # long the colleague takes, and the offer again
        dispatcher.utter_message(response="utter_colleague_how_long", when=OFFICE_HOURS)
        return about("handoff", last_question=OFFER_HANDOFF) + [FollowupAction("action_listen")]
    if question == OFFER_HANDOFF and not yes and not no and last_bot_response(tracker) in FOR_A_COLLEAGUE:
        # "so how do I reset it then", "why can't you do it yourself?", "will my order history go too?" after "a
        # colleague can do that" (NLU: anything, an order question too): about that colleague, offered again
        answered = colleague_follow_up(dispatcher, latest)
        if answered is not None:
            return answered + [FollowupAction("action_listen")]
    if question == OFFER_RETURN and not no and not is_question(latest.text) and has(latest.text, *_WANTS_THE_RETURN):
        yes = True  # "all of it", "ok start it": the return, with what it names
    if yes == no:
        return None
    if no and has(latest.text, *_GOODBYE) and not is_question(latest.text):
        # "no ta, gtg": the no and the goodbye (not "anything else?" to someone leaving)
        say_goodbye(dispatcher, latest.text)
        return about(None)
    if question == OFFER_HANDOFF:
        if yes:
            return [SlotSet(LAST_QUESTION, None), FollowupAction("action_handoff")]
        if _says_more_than_no(latest.text):
            answered = _topic_follow_up(dispatcher, tracker, latest, caller=caller)
            if answered is None and caller == "action_follow_up":
                # "no thanks lol. what can you actually do": what the words plainly ask, after the no
                answered = ActionFollowUp._plain_request(dispatcher, tracker, latest)
            if answered is not None:
                return [SlotSet(LAST_QUESTION, None), *answered]
            if caller != "action_follow_up":
                return None  # "no thanks, can I return it instead?" filed as a return: the caller answers it
        dispatcher.utter_message(response="utter_no_person")
        return about(None)
    ctx = _order_context(dispatcher, tracker)
    if ctx is None:
        return None
    if yes:
        eligibility = ctx.store.return_eligibility(ctx.conversation_id, ctx.order_number)
        if not eligibility.eligible:
            return returns.refuse(ctx, eligibility)
        return returns.begin_return(ctx, eligibility, latest)
    dispatcher.utter_message(response="utter_no_return", order_number=ctx.order_number)
    return about("return", last_question=OFFER_RETURN)  # the offer stands: "ok, let's do it now" later


def _waiting_for_a_person(dispatcher: CollectingDispatcher, tracker: Tracker, latest: Said) -> List[EventType] | None:
    """A customer with an open ticket asking whether anyone is there, how long, how they will hear."""
    if not tracker.get_slot(TICKET):
        return None
    if latest.intent in {"human_handoff", "complaint"}:
        return None  # action_handoff answers those (without a second ticket)
    if latest.entity("product") or latest.entity("order_number") or shipping.destination_in(latest) != (None, None):
        return None  # a new question about something named: answered as such
    if offers_a_photo(latest.text):
        # "can I send a pic?" while a person is on the way: yes, here, and the colleague will see it
        dispatcher.utter_message(response="utter_photo")
        return about("handoff")
    if (
        has(latest.text, *_WHERE_I_AM)
        and not is_question(latest.text)
        and tablet_store(channel_context(tracker)) is not None
    ):
        # "I'm by the perfumes" while staff are on their way to the tablet: they see this chat, so it helps
        dispatcher.utter_message(response="utter_location_noted")
        return about("handoff")
    on_topic = tracker.get_slot(TOPIC) == "handoff"
    waiting = (
        has(latest.text, *_ABOUT_THE_PERSON)
        or _only_about_the_person(latest.text)
        or (
            on_topic
            and (
                has(latest.text, *_WAITING)
                or latest.intent in {"greet", "affirm", "thank", "nlu_fallback", "out_of_scope", "deny", "goodbye"}
            )
        )
    )
    if not waiting:
        return None
    ticket = current_ticket(tracker)
    if ticket is None:
        return ticket_gone(dispatcher, tracker)
    return say_ticket_status(dispatcher, tracker, ticket)


def _topic_follow_up(
    dispatcher: CollectingDispatcher, tracker: Tracker, latest: Said, *, caller: str
) -> List[EventType] | None:
    """A follow-up of the current topic that NLU read as something else."""
    topic = tracker.get_slot(TOPIC)
    text = latest.text
    if not text or not topic:
        return None
    if topic not in ORDER_TOPICS and caller != "action_continue_goal" and _back_to_the_order(tracker, latest):
        # "anyway back to my order, when's it coming now" after a product or delivery detour: the order checked
        # before it, not the product in focus (its status, its payment's hold, its refund)
        ctx = _order_context(dispatcher, tracker)
        order_topic = _GOAL_TOPIC.get(str(tracker.get_slot("goal")), "track")  # what was asked about it
        answered = _order_follow_up(ctx, latest, order_topic, caller="action_follow_up") if ctx else None
        if answered is not None:
            return answered
    if topic in ORDER_TOPICS:
        # cheap reasons first: the store is asked only when the message may be about the order in focus
        if not tracker.get_slot("order_number") or _names_another_order(tracker, latest):
            return None
        if latest.intent in {"shipping_cost", "shipping_options", "delivery_time"} and shipping.destination_in(
            latest
        ) != (None, None):
            return None  # "and how long does ireland take": a shipping question, not about this order
        if wants_a_replacement(text) and not tracker.get_slot(TICKET):
            # "i want a replacement not a refund" (NLU: a refund): a colleague sends a new one, offered
            ctx = _order_context(dispatcher, tracker)
            if ctx is not None:
                dispatcher.utter_message(response="utter_replacement_offer", order_number=ctx.order_number)
                return about(topic, last_question=OFFER_HANDOFF)
        if asks_to_be_told(text) and not has(text, *_WANTS_A_PERSON):
            # "will you inform me when it is done?" after a refund or a return's answer: order news (turned on once
            # the e-mail proves the customer), not a reading of the words against the topic
            return [SlotSet("goal", "notify_on"), FollowupAction("verify_order_form")]
        if topic == "track" and is_question(text) and has(text, *_HOLD):
            # "how long do you hold the order?" after the status of an order waiting for its payment, whatever
            # order request NLU filed it under: until when it is held (None when its payment did not fail)
            ctx = _order_context(dispatcher, tracker)
            answered = payments.follow_up_payment(ctx, latest) if ctx is not None else None
            if answered is not None:
                return answered
        pleads = (
            topic == "return_refused"
            and tracker.get_slot(REFUSAL)
            and latest.intent == _REFUSED_GOAL[topic]
            and has(text, *_DISPUTE, *_PLEA)
        )
        if (
            caller == "action_continue_goal"
            and (not is_question(text) or (topic == "track" and latest.intent not in {"track_order", "delivery_time"}))
            and not _about_the_order_in_focus(text, topic)
            and not pleads  # "but I was away, kindly accept the return": the refused return disputed, not asked again
        ):
            # an order request, or a question for another goal after tracking ("could she send it back?"): the
            # goal's own handler answers
            return None
        if (
            latest.intent == "return_policy"
            and topic not in {"return", "return_refused", "return_status"}
            and has(text, "return*", "send it back", "send back", "sending back")
        ):
            return None  # "how long have I got to return it once it arrives?" after tracking: the policy
        ctx = _order_context(dispatcher, tracker)
        if ctx is None:
            return None
        return _order_follow_up(ctx, latest, topic, caller=caller)
    if (
        topic == "shipping"
        and caller == "action_continue_goal"
        and (
            latest.intent in GOAL_INTENTS
            or latest.entity("email")
            or latest.entity("order_number")
            or _checked_order(tracker)
        )
    ):
        return None  # an order question (or the proof that opened it) after a quote: the goal answers
    if (
        topic == "shipping"
        and tracker.get_slot("order_number")
        and has(text, "hold", "held", "keep it", "keep my order", "reserve*", "pay by", "to pay")
        and shipping.destination_in(latest) == (None, None)
    ):
        # "and how long do you hold it for?" after a delivery detour: the order waiting for its payment
        ctx = _order_context(dispatcher, tracker)
        answered = payments.follow_up_payment(ctx, latest) if ctx is not None else None
        if answered is not None:
            return answered
    if (
        topic == "shipping"
        and shipping.asks_if_tracked(text)
        and not latest.entity("order_number")
        and not has(text, "order*", "my parcel", "my package", "my delivery")
    ):
        # "can i follow it online", "do i get a tracking link with that" after a quote: the options are tracked
        dispatcher.utter_message(response="utter_shipping_tracked")
        return about("shipping")
    if topic == "shipping" and shipping.is_shipping_follow_up(tracker, latest):
        other_question = latest.intent in {"payment_methods", "return_policy", "check_stock", "recommend_product"}
        # "and for 20 quid?" is the quote again for another basket, whatever NLU filed it under
        basket = shipping.value_in(latest) is not None and not payments.named_methods(text)
        if other_question and shipping.destination_in(latest) == (None, None) and not basket:
            return None
        return shipping.quote(dispatcher, tracker, latest, keep=True, mode=shipping.follow_up_mode(tracker, latest))
    if topic == "return_policy" and caller in {"action_follow_up", "action_shipping_info", "action_payment_methods"}:
        if _asks_postage_out(latest):
            # "say i spend 45 euros, whats postage" after the policy (and a quote given with it): delivery to the
            # customer, quoted for the place and basket remembered, not the postage of a return
            return shipping.quote(dispatcher, tracker, latest, keep=True, mode=shipping.follow_up_mode(tracker, latest))
        if returns.policy_part(dispatcher, latest):
            return about("return_policy")
        if not (caller == "action_follow_up" and tracker.get_slot("shown_products")):
            return None  # else "what amounts do they come in" about the gift cards shown before: below
    if topic in {"payment_methods", "products"} and tracker.get_slot("shown_products"):
        answered = how_it_comes(dispatcher, tracker, latest)  # "the £50 one - can it be sent by email?"
        if answered is not None:
            return answered
    if topic == "payment_methods" and (
        caller == "action_follow_up"
        or (caller in {"action_recommend_products", "action_check_stock"} and not has(text, *_SHOP_FOR))
    ):
        # "and gift cards?" / "and klarna?" after the ways to pay: a way to pay, whatever NLU filed it under
        named = payments.named_methods(text)
        if named and not shown_at_price(tracker, text):
            # "the 50 quid card" after the gift cards is the £50 card shown, not a question about paying by card
            dispatcher.utter_message(
                response="utter_payment_methods_named", named=" and ".join(named), methods=payments._methods_text()
            )
            return about("payment_methods")
        if not (caller == "action_follow_up" and tracker.get_slot("shown_products")):
            return None  # else "the £50 one" after the gift cards: the products shown, below
    if topic == "products":
        return follow_up_products(dispatcher, tracker, latest, caller=caller)
    if (
        caller == "action_follow_up"
        and tracker.get_slot("shown_products")
        and (has(text, "they", "them", "those", "it", "one", "ones") or shown_at_price(tracker, text))
    ):
        # "what amounts do they come in": the products shown a little earlier
        return follow_up_products(dispatcher, tracker, latest, caller=caller)
    return None


def _asks_postage_out(latest: Said) -> bool:
    """A basket value or a place with delivery words and nothing of sending back ("if my basket's 30 quid what's
    delivery"): the cost of delivery to the customer, not of a return."""
    text = latest.text
    if has(text, "return*", "back", "label", "refund*"):
        return False
    named = shipping.value_in(latest) is not None or shipping.destination_in(latest) != (None, None)
    return named and (latest.intent in {"shipping_cost", "shipping_options", "delivery_time"} or has(text, *_SHIPPING))


#: Words of a goal other than tracking: a question with them after tracking is that goal's ("could she send it
#: back?", "can I still cancel?", "when do I get my refund?").
_OTHER_GOAL_WORDS = ("return*", "send it back", "send back", "sending back", "refund*", "money back", "cancel*",
                     "invoice*", "receipt*", "address", "pay", "paid", "payment*", "charge*", "exchange*",
                     "rma")  # fmt: skip


#: Words pointing back at the customer's own order after a detour ("back to my order", "how long do you hold my
#: order again?").
_MY_ORDER_AGAIN = ("my order", "my parcel", "my package", "my delivery", "the order", "that order", "my stuff",
                   "mine")  # fmt: skip


#: The topic of an order's answer by the goal it answered.
_GOAL_TOPIC = {"payment": "payment", "refund": "refund", "refund_status": "refund", "return": "return",
               "return_status": "return_status", "invoice": "invoice"}  # fmt: skip


def _back_to_the_order(tracker: Tracker, latest: Said) -> bool:
    """The message goes back to the order checked earlier (an order is in focus, the words point at it and name
    no other order, product or place)."""
    if not tracker.get_slot("order_number") or _names_another_order(tracker, latest):
        return False
    if latest.entity("product") or latest.entity("category") or shipping.destination_in(latest) != (None, None):
        return False
    return has(latest.text, *_MY_ORDER_AGAIN)


#: A parcel later than it should be ("late", "delayed", "taking so long").
_LATE = ("late", "delay*", "taking so long", "taking ages", "taking forever", "so long", "still not here",
         "not here yet", "held up", "stuck")  # fmt: skip


def asks_why_late(text: str) -> bool:
    """The words ask why the parcel is late ("why is late? I pay for it already", "how come it's delayed when I
    paid weeks ago"), whatever else they say about paying for it: the delay is the question."""
    return _asks_why(text) and has(text, *_LATE) and not has(text, "refund*", "cancel*", "return*")


def _about_the_order_in_focus(text: str, topic: str) -> bool:
    """What the words say is about the tracked order or the refund in focus, whatever order request NLU filed it
    under: "it's not here" after tracking (a delivered one: the dispute), "not showing on my card" after a refund,
    "when does it arrive" after tracking when it names nothing of another goal."""
    if topic == "track":
        return (
            orders.not_received(text)
            or asks_why_late(text)
            or (is_question(text) and orders.asks_when(text) and not has(text, *_OTHER_GOAL_WORDS))
        )
    if topic == "refund":
        return payments.refund_not_seen(text)
    return False


#: Holding an order for its payment ("how long do you hold it?", "wie lange haltet ihr die Bestellung?").
_HOLD = ("hold", "held", "haltet", "halten", "wie lange", "reserv*", "keep my order", "keep the order", "keep it for")


def _checked_order(tracker: Tracker) -> bool:
    """Whether the order check ran on the latest message (it took the message as an order number or proof)."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "action" and event.get("name") == "verify_order_form":
            return True
    return False


def _names_another_order(tracker: Tracker, latest: Said) -> bool:
    named = latest.entity("order_number") or latest.entity("rma_number")
    if not named:
        return False
    number = normalize_order_number(named)
    return number is None or number != normalize_order_number(tracker.get_slot("order_number") or "")


def _order_follow_up(ctx: OrderContext, latest: Said, topic: str, *, caller: str) -> List[EventType] | None:
    """Follow-ups about the verified order in focus: why not, a dispute, then the topic's own questions."""
    text = latest.text
    refusal = ctx.tracker.get_slot(REFUSAL)
    # "the tracking number please?" after a refused cancel asks for something else: its "please" is no dispute
    other_request = (
        latest.intent in GOAL_INTENTS
        and latest.intent != _REFUSED_GOAL.get(topic)
        and not has(text, *_RETURN_CUES)
        and not has(text, *(cue for cue in _DISPUTE if cue != "please"))
    )
    if refusal and topic in {"cancel_refused", "address_refused", "return_refused"} and not other_request:
        if topic == "return_refused" and has(text, *_DISPUTE, *_PLEA) and not _asks_why(text):
            ctx.dispatcher.utter_message(response="utter_offer_handoff_dispute")
            return about(topic, refusal=refusal, last_question=OFFER_HANDOFF)
        if _asks_why(text) or latest.intent == "deny" and "?" in text:
            return _explain_refusal(ctx, topic, refusal)
        if topic != "return_refused" and has(text, *_DISPUTE):
            ctx.dispatcher.utter_message(response="utter_offer_handoff_refusal")
            return about(topic, refusal=refusal, last_question=OFFER_HANDOFF)
        if has(text, "what can i do", "options", "what now", "what are my options", "redirect", "what should i do"):
            return _explain_refusal(ctx, topic, refusal)
        if topic in {"cancel_refused", "address_refused"} and has(text, *_RETURN_CUES):
            # "can I return it instead when it comes?": yes, once it has arrived, within the window
            policy = ctx.store.return_policy()
            ctx.dispatcher.utter_message(
                response="utter_return_once_delivered", order_number=ctx.order_number, days=policy.window_days
            )
            return about("track")
    if has(text, *_VENTING) and not is_question(text) and ctx.tracker.get_slot(LAST_QUESTION) != OFFER_HANDOFF:
        # "it was for my mum's birthday, really annoyed": an apology and a person, not a fallback
        ctx.dispatcher.utter_message(response="utter_complaint_offer")
        return about(topic, last_question=OFFER_HANDOFF)
    handlers = {
        "track": orders.follow_up_track,
        "payment": payments.follow_up_payment,
        "refund": payments.follow_up_refund,
        "return": returns.follow_up_return,
        "return_refused": returns.follow_up_return,
        "return_status": returns.follow_up_return,
        "invoice": orders.follow_up_invoice,
        "cancelled": orders.follow_up_cancelled,
        "address_changed": orders.follow_up_address_changed,
    }
    first = handlers.get(topic)
    if caller == "action_continue_goal":
        # An order intent: its own handler answers, unless this is a question about the topic in hand
        # ("if it doesn't go through will the order be cancelled?" after a failed payment).
        if first is None or not (is_question(text) or _about_the_order_in_focus(text, topic)):
            return None
        return first(ctx, latest)
    if first is not None:
        answered = first(ctx, latest)
        if answered is not None:
            return answered
    # any order topic: "when will it arrive?", "how long do I have to pay?"
    summary = ctx.store.order_summary(ctx.conversation_id, ctx.order_number)
    generic = [orders.follow_up_total, orders.follow_up_track, payments.follow_up_refund]
    if summary.status == "payment_failed":
        generic.insert(0, payments.follow_up_payment)
    for handler in generic:
        if handler is first:
            continue
        answered = handler(ctx, latest)
        if answered is not None:
            return answered
    return None


def _explain_refusal(ctx: OrderContext, topic: str, refusal: str) -> List[EventType]:
    """ "Why not?" after a refusal: the reason again, with what can be done instead."""
    policy = ctx.store.return_policy()
    if topic == "cancel_refused":
        more = (
            "Once an order has shipped it's with the carrier and we can't call it back. When it arrives you can "
            f"return it within {policy.window_days} days for a refund."
        )
    elif topic == "address_refused":
        more = (
            "The parcel is already with the carrier, so we can't change where it goes from our side. If it can't be "
            "delivered it comes back to us and we'll refund you; a colleague can also help."
        )
    else:
        more = (
            f"Returns are accepted within {policy.window_days} days of delivery, and final-sale items (gift cards and "
            "clearance) can't be returned. If you think something's wrong, a colleague can look at it."
        )
    ctx.dispatcher.utter_message(response="utter_refusal_explained", reason=refusal, more=more)
    if topic == "return_refused":
        return about(topic, refusal=refusal, last_question=OFFER_HANDOFF)
    return about(topic, refusal=refusal)


# ----------------------------------------------------------------------------------------- asides


def answer_aside(dispatcher: CollectingDispatcher, tracker: Tracker, latest: Said) -> bool:
    """Answer a question asked while a form waits for something else; the form then asks again.

    Returns:
        True when something was answered.
    """
    ctx = _order_context(dispatcher, tracker)
    form = (tracker.active_loop or {}).get("name")
    intent = latest.intent
    if offers_a_photo(latest.text):
        # "can I send you a photo of it?" during a return: yes, here; it stays with the conversation
        dispatcher.utter_message(response="utter_photo")
        return True
    if intent in {"shipping_cost", "shipping_options"} and (latest.entity("country") or latest.entity("city")):
        # "would it cost more to send it to Scotland?" while the form waits: the price there, not this order's
        # dispatch date
        shipping.quote(dispatcher, tracker, latest, keep=True, mode=shipping.speed_mode(latest.text))
        return True
    if ctx is not None:
        refund_words = ("money", "refund*", "charged", "money back", "get paid back", "amount back", "full amount",
                        "in full", "get it back")  # fmt: skip
        # "and how long does that take?" straight after the refund was explained: how long the refund takes
        refund_timing = has(latest.text, "how long", "how many days", "when will") and has(
            last_bot_text(tracker), "refund*", "charged"
        )
        if form == "cancel_form" and (has(latest.text, *refund_words) or refund_timing):
            summary = ctx.store.order_summary(ctx.conversation_id, ctx.order_number)
            if summary.payment_status == "paid":
                note = (
                    f"Yes: if I cancel it, the {money(summary.total, summary.currency)} you paid goes back to your "
                    "original payment method; it usually shows within 5-10 business days."
                )
            elif refund_timing and not has(latest.text, *refund_words):
                # "and how long does that take?": how long, in its own words
                note = (
                    "No time at all: it's cancelled the same day, the moment you say yes. You haven't been charged "
                    "for it, so there are no days to wait for a refund."
                )
            else:
                note = (
                    "You haven't been charged for it, so cancelling costs you nothing, there's nothing to refund "
                    "and nothing to wait for: it's cancelled the moment you say yes."
                )
            dispatcher.utter_message(text=note)
            return True
        if form == "return_form":
            handlers = [returns.follow_up_return, payments.follow_up_refund]
        else:  # changing or cancelling an order: when it ships, its payment, its refund
            handlers = [orders.follow_up_track, payments.follow_up_payment, payments.follow_up_refund]
        for handler in handlers:
            if handler(ctx, latest) is not None:
                return True
    if intent == "return_policy" or has(latest.text, "return policy", "returns policy"):
        if not returns.policy_part(dispatcher, latest):
            returns.say_policy(dispatcher)
        return True
    if intent in {"shipping_cost", "shipping_options", "delivery_time"}:
        shipping.quote(dispatcher, tracker, latest, keep=True, mode=shipping.speed_mode(latest.text))
        return True
    if intent == "payment_methods":
        dispatcher.utter_message(response="utter_payment_methods", methods=payments._methods_text())
        return True
    if intent in {"check_stock", "recommend_product"} or has(latest.text, "how much is", "in stock"):
        found = meant(tracker, latest)
        if found.product is not None or found.products or found.unsold:
            stock_answer(dispatcher, tracker, found)
            return True
    return bool(returns.policy_part(dispatcher, latest))


# ------------------------------------------------------------------------------------- two questions


def also_asked(dispatcher: CollectingDispatcher, tracker: Tracker, *, answered_topic: str) -> List[EventType]:
    """Answer a second question of the same message ("returns policy and do you ship to spain?")."""
    latest = said(tracker)
    text = latest.text
    if not text or not (has(text, "and", "also", "plus", "btw", "as well") or text.count("?") > 1):
        return []
    events: List[EventType] = []
    country, postcode = shipping.destination_in(latest)
    if (
        answered_topic != "shipping"
        and (country or latest.entity("city"))
        and has(text, "ship*", "deliver*", "post*", "send", "delivery")
    ):
        # the quote is remembered ("and the german one would cost how much for 70 euros" later) but the topic
        # stays the first question's
        quoted = shipping.quote(dispatcher, tracker, latest, keep=False)
        events += [e for e in quoted if e.get("event") == "slot" and e.get("name") == QUOTE]
    if (
        answered_topic != "payment_methods"
        and has(text, "pay", "take", "accept", "use")
        and payments.named_methods(text)
    ):
        dispatcher.utter_message(
            response="utter_payment_methods_named",
            named=" and ".join(payments.named_methods(text)),
            methods=payments._methods_text(),
        )
    if answered_topic not in {"return_policy"} and has(
        text, "return policy", "returns policy", "return window", "refunds take", "refund take", "how long do refunds",
        "how long for a refund", "how long does a refund",
    ) and not returns.policy_part(dispatcher, latest):  # fmt: skip
        returns.say_policy(dispatcher)
    return events


# The topic actions call these three through actions.reader (they sit below this module).
reader.install(in_context=in_context, also_asked=also_asked, answer_aside=answer_aside)


# --------------------------------------------------------------------------------- action_follow_up


#: Intents that ask about one order (they set the goal the verification then answers).
GOAL_INTENTS = frozenset(
    {"track_order", "cancel_order", "change_shipping_address", "get_invoice", "return_item", "return_status",
     "request_refund", "refund_status", "payment_problem", "manage_channels", "unlink_channel",
     "notifications_opt_in", "notifications_opt_out"}
)  # fmt: skip
_HOW_TO_VERIFY = ("what would she need", "what would he need", "what do i need", "what does she need",
                  "what does he need", "what do you need", "how can i check", "how do i check", "what info",
                  "what details", "how does she check", "how does he check")  # fmt: skip
_RECOMMEND = ("recommend", "suggest", "gift idea*", "present idea*", "what's good", "whats good", "what should i buy",
              "something nice", "any ideas")  # fmt: skip
_SHIPPING = ("ship*", "deliver*", "post", "postage", "send", "courier", "how much to", "how long to")
_CHECK_MY_ORDER = ("my order", "my online order", "online order", "existing order", "check mine", "can u check",
                   "can you check", "my parcel",
                   "my package", "my delivery", "an order", "about a delivery", "about my delivery")  # fmt: skip


#: An order that has not come ("it hasnt come", "still not here"), said before saying which.
_NOT_ARRIVED = ("hasn't come", "hasnt come", "has not come", "hasn't arrived", "hasnt arrived", "has not arrived",
                "not arrived", "never arrived", "never came", "never come", "didn't come", "didnt come",
                "didn't arrive", "didnt arrive", "not come yet", "still not here", "still isn't here",
                "still isnt here", "not here yet", "hasn't turned up", "hasnt turned up", "not turned up",
                "never turned up", "haven't received", "havent received", "not received", "never received",
                "haven't got it", "havent got it", "still waiting for it", "ist nicht angekommen",
                "nicht angekommen", "pas reçu", "pas arrivé", "no ha llegado", "no llegó")  # fmt: skip
#: What else "has not come" or "check" may be about than a parcel (the goal's own words answer those).
_NOT_A_PARCEL = ("cancel", "return", "refund", "invoice", "money", "label", "email", "code", "link", "reply",
                 "colleague", "someone", "anyone", "person", "staff")  # fmt: skip


#: Words that name a parcel or order with nothing else ("parcel", "delivery??", "my package").
_PARCEL_WORDS = frozenset({"parcel", "parcels", "package", "packages", "delivery", "deliveries", "order", "orders",
                           "shipment", "tracking", "track", "paket", "lieferung", "bestellung", "colis", "commande",
                           "pedido", "paquete"})  # fmt: skip
_BARE_FILLERS = frozenset({"my", "the", "a", "an", "our", "mein", "meine", "mon", "ma", "mi", "re", "about", "query"})


def bare_order_word(text: str) -> bool:
    """The message only names a parcel or an order ("parcel", "my delivery??", "order?"): a fragment asking
    about one, with nothing that says which or what else."""
    tokens = [w for w in words(text) if w not in FILLERS and w not in _BARE_FILLERS]
    return 0 < len(tokens) <= 2 and all(w in _PARCEL_WORDS for w in tokens)


#: Pointing at the order not in focus, after two were named ("and the other one?", "what about the second order").
_THE_OTHER_ORDER = ("the other one", "the other order", "other one", "the other parcel", "the second one",
                    "the second order", "other order")  # fmt: skip


def other_named_order(tracker: Tracker) -> str | None:
    """The latest order number the customer named in this conversation other than the one in focus (two orders
    named in one message are checked one at a time), or None."""
    current = normalize_order_number(str(tracker.get_slot("order_number") or ""))
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        for entity in reversed((event.get("parse_data") or {}).get("entities") or []):
            if entity.get("entity") != "order_number":
                continue
            number = normalize_order_number(str(entity.get("value") or ""))
            if number and number != current:
                return number
    return None


#: A payment named, in the languages the shop hears ("Meine Zahlung wurde abgelehnt").
_PAYMENT_CUES = ("payment", "declined", "charged", "paid", "zahlung", "abgelehnt", "bezahlt", "paiement", "refusé",
                 "refusée", "pago", "rechazado", "rechazada")  # fmt: skip


def goal_in_words(text: str) -> str | None:
    """The order goal the words ask for ("is ORD-… still returnable?" is a return), or None."""
    for goal, cues in (
        ("cancel", ("cancel",)),
        ("change_address", ("address", "redirect", "deliver it to", "send it to")),
        ("invoice", ("invoice", "receipt", "vat", "bill")),
        ("return_status", ("rma", "my return", "return status")),
        ("return", _RETURN_CUES),
        ("refund_status", ("refund", "money back")),
        ("payment", _PAYMENT_CUES),
        ("track", ("where", "track", "status", "arriv*", "deliver*", "shipped", "parcel", "package")),
    ):
        if has(text, *cues):
            return goal
    return None


def _check_pending(tracker: Tracker, latest: Said) -> bool:
    """The proof given now answers an order question asked before the offer of a person ("give me the details
    for ORD-…" ... "this is ridiculous" ... "ok fine, postcode G49 1SS"): that question is answered, not the
    offer."""
    return bool(
        tracker.get_slot("goal")
        and tracker.get_slot("order_number")
        and tracker.get_slot("proof") != "verified"
        and not latest.entity("order_number")
        and (latest.entity("email") or latest.entity("postcode"))
    )


def goal_for(tracker: Tracker, latest: Said) -> str:
    """What to do once an order given on its own is verified: from the words, else the conversation's goal."""
    text = latest.text
    topic = tracker.get_slot(TOPIC)
    offered = tracker.get_slot(LAST_QUESTION) == OFFER_HANDOFF
    if topic == "handoff" and (tracker.get_slot(TICKET) or (offered and not _check_pending(tracker, latest))):
        return "handoff"
    goal_named = goal_in_words(text)
    if goal_named is not None:
        return goal_named
    if latest.entity("rma_number"):
        return "return_status"
    if topic in {"return_policy", "return", "return_refused"}:
        return "return"
    goal = tracker.get_slot("goal")
    return str(goal) if goal else "track"


class ActionFollowUp(Action):
    """Messages that only make sense in context: yes, no, details on their own, corrections, and the
    fallback when nothing fits (rule for affirm, deny, inform, out_of_scope, nlu_fallback; core fallback)."""

    def name(self) -> str:
        """Action name."""
        return "action_follow_up"

    @settles
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        """Read the message against the context; say so when it cannot be read."""
        if answered_this_turn(tracker):
            # Run again as the core fallback after the turn's answer (e.g. after a follow-up action):
            # the customer has their answer; predicting on would loop.
            return [FollowupAction("action_listen")]
        in_verification = (tracker.active_loop or {}).get("name") == "verify_order_form"
        latest = said(tracker)
        if latest.button and latest.entity(confirm.ENTITY):
            # an old "Yes, cancel it" pressed when no confirmation is open (its form ended): nothing is done
            dispatcher.utter_message(response="utter_confirm_stale_closed")
            return about(None) + [FollowupAction("action_listen")]
        if wants_a_person(latest.text) and not tracker.get_slot(TICKET):
            # "can a shop assistant come over please": a person, whatever was being talked about
            stop: List[EventType] = [ActiveLoop(None), SlotSet("requested_slot", None)] if in_verification else []
            return [*stop, FollowupAction("action_handoff")]
        if (
            last_bot_response(tracker) == "utter_bot_challenge"
            and not starts_no(latest.text)
            and (latest.intent == "affirm" or has(latest.text, "get me one", "want one", "one then", "get me a"))
        ):
            # "then get me one" / "yes" right after "I'm not a person; just say talk to a person": the person
            stop = [ActiveLoop(None), SlotSet("requested_slot", None)] if in_verification else []
            return [*stop, FollowupAction("action_handoff")]
        if in_verification and puts_the_check_off(latest):
            # "I'll find the confirmation email and come back": take your time (or the thanks or goodbye it also
            # says); the check ends, nothing is done
            if has(latest.text, *_GOODBYE):
                say_goodbye(dispatcher, latest.text)
            elif has(latest.text, "thank*", "thx", "cheers", "ta", "danke*", "merci"):
                dispatcher.utter_message(response="utter_thank")
            else:
                dispatcher.utter_message(response="utter_take_your_time")
            return [ActiveLoop(None), SlotSet("requested_slot", None), *about(None), FollowupAction("action_listen")]
        proof_given = latest.entity("email") or latest.entity("postcode")
        claimed = in_verification and not proof_given and claims_a_role(latest.text)
        if asks_why_the_proof(latest.text) or claimed:
            # "why do you need my email, you already know who I am", "I'm a manager, I'm authorised": what each
            # proof opens (the same for everyone), then the question stands
            dispatcher.utter_message(response="utter_why_proof")
            kept: List[EventType] = []
            if latest.intent in GOAL_INTENTS:
                # an aside about the proof that NLU filed under a goal ("...for that?" as an invoice): the goal
                # the check was started for stays, so the proof given next answers it
                kept = [SlotSet("goal", slot_before_latest(tracker, "goal"))]
            return [*kept, FollowupAction("verify_order_form" if in_verification else "action_listen")]
        answered = in_context(dispatcher, tracker, caller=self.name())
        if answered is not None:
            if in_verification and not _has_followup(answered):
                # a follow-up of what we were talking about: the order question that was open is dropped
                answered += [ActiveLoop(None), SlotSet("requested_slot", None)]
            return answered if _has_followup(answered) else [*answered, FollowupAction("action_listen")]
        if in_verification:
            return self._during_verification(dispatcher, tracker, latest)
        events = self._plain_request(dispatcher, tracker, latest)
        if events is None:
            events = self._details(dispatcher, tracker, latest)
        if events is None:
            events = self._shopping(dispatcher, tracker, latest)
        if events is None:
            events = self._brand_one(dispatcher, tracker, latest)
        if events is not None:
            return events
        chosen = in_focus(tracker) if has(latest.text, *_CHOSEN) and not has(latest.text, *_ORDER_WORDS) else None
        if chosen is not None:
            # "great, I'll get that one" after a product: it is ordered on the website, not here
            dispatcher.utter_message(
                response="utter_product_chosen", title=chosen.title, price=money(chosen.price),
                online=online_words(chosen.online_stock),
            )  # fmt: skip
            return about("products") + [FollowupAction("action_listen")]
        if asks_how_to_buy(latest.text):
            # "ok go on then, how do I order it?" after a product: on the website, never here (nor an order check);
            # the product is named only when one is in focus, not the first of a list
            listed = shown(tracker)
            wanted = in_focus(tracker) if tracker.get_slot(FOCUS_PRODUCT) or len(listed) == 1 else None
            if wanted is None:
                dispatcher.utter_message(response="utter_how_to_order_any")
            else:
                dispatcher.utter_message(
                    response="utter_how_to_order", title=wanted.title, price=money(wanted.price),
                    online=online_words(wanted.online_stock),
                )  # fmt: skip
            return about("products") + [FollowupAction("action_listen")]
        if has(latest.text, *_HOW_TO_VERIFY) and (tracker.get_slot("order_number") or tracker.get_slot("proof")):
            dispatcher.utter_message(response="utter_how_to_verify")
            return about(None) + [FollowupAction("action_listen")]
        if tracker.get_slot(TOPIC) == "account" and has(latest.text, "which", "left", "linked", "still", "list"):
            return [SlotSet("goal", "channels"), FollowupAction("verify_order_form")]
        if praises(latest.text) and not is_question(latest.text) and latest.intent not in GOAL_INTENTS:
            # "just wanted to say your chat thing is really helpful, sorted my return in 2 mins": thanked, never
            # misunderstood
            dispatcher.utter_message(response="utter_praise_help")
            return about(None) + [FollowupAction("action_listen")]
        if latest.intent not in {"affirm", "deny"} and has(latest.text, "thank*", "thx", "cheers", "ta", "danke",
                                                              "merci"):  # fmt: skip
            dispatcher.utter_message(response="utter_thank")
            return about(None) + [FollowupAction("action_listen")]
        if latest.intent == "affirm":
            dispatcher.utter_message(response="utter_how_can_help")
            return about(None) + [FollowupAction("action_listen")]
        if (
            latest.intent == "deny"
            and tracker.get_slot("order_number")
            and tracker.get_slot("proof") != "verified"
            and has(latest.text, "email", "e-mail", "mail", "address")
            and has(latest.text, *_DONT_KNOW)
        ):
            # "I don't know her email": the postcode proves the order too (the check asks again)
            dispatcher.utter_message(response="utter_no_email")
            return [FollowupAction("verify_order_form")]
        if last_bot_response(tracker) == "utter_notifications_on" and has(latest.text, *_WHICH_NEWS):
            # "what kind of updates will I get?" right after turning order news on: which news, said again
            return [SlotSet("goal", "notify_on"), FollowupAction("verify_order_form")]
        venting = has(latest.text, *_VENTING) and not is_question(latest.text)
        if venting and tracker.get_slot(LAST_QUESTION) != OFFER_HANDOFF:
            # "figures. useless" with no order in focus, not understood by NLU: venting gets an apology and the
            # offer of a person wherever it lands, as a complaint would
            dispatcher.utter_message(response="utter_complaint_offer")
            return about(None, last_question=OFFER_HANDOFF) + [FollowupAction("action_listen")]
        if latest.intent == "deny" and has(latest.text, *_GOODBYE) and not is_question(latest.text):
            say_goodbye(dispatcher, latest.text)  # "nah I'm good, cya": leaving, not asked "anything else?"
            return about(None) + [FollowupAction("action_listen")]
        if latest.intent == "deny" or (has(latest.text, *_RESIGNED) and not is_question(latest.text)):
            # "fine whatever" after a refusal or an answer: nothing more to do, nothing misunderstood
            dispatcher.utter_message(response="utter_anything_else")
            return about(None) + [FollowupAction("action_listen")]
        if has(latest.text, "send it back", "sending it back", "send them back", "return*") and returns.policy_part(
            dispatcher, latest
        ):
            # "and how much does sending it back cost": the part of the returns policy it asks about
            return about("return_policy") + [FollowupAction("action_listen")]
        if (
            tracker.get_slot(TOPIC) == "products"
            and is_question(latest.text)
            and has(latest.text, *_POINTING)
            and not has(latest.text, *_ORDER_WORDS)
            and not has(latest.text, *_ASKS_US)
            and in_focus(tracker) is not None
        ):
            # "and can she use it in the shops?" about the gift cards just shown: a question about the products in
            # focus that nothing above answered and their data does not say; said so honestly, with a person who
            # can find out, never "I didn't understand"
            dispatcher.utter_message(response="utter_product_detail_unknown")
            return about("products", last_question=OFFER_HANDOFF) + [FollowupAction("action_listen")]
        if latest.intent == "out_of_scope":
            return not_understood(dispatcher, tracker, "utter_out_of_scope") + [FollowupAction("action_listen")]
        return [FollowupAction("action_fallback")]

    @staticmethod
    def _during_verification(dispatcher: CollectingDispatcher, tracker: Tracker, latest: Said) -> List[EventType]:
        """A message the verification form did not take as an answer ("which order?" / "email or postcode?").

        Another order question starts the check over with its goal; thanks or goodbye end it; a greeting,
        a product question or something out of scope is answered and the form's question asked again (the
        form does not read the same message twice). Rules would do the same, but each rule is checked on
        every turn of every conversation, so these rare turns cost one action call instead.
        """
        drop: List[EventType] = [ActiveLoop(None), SlotSet("requested_slot", None)]
        again: List[EventType] = [FollowupAction("verify_order_form")]
        intent = latest.intent
        if intent in GOAL_INTENTS:
            if intent == "payment_problem":
                dispatcher.utter_message(response="utter_payment_problem_general")
            return drop + again  # the goal slot was set from the intent
        if intent in {"thank", "goodbye"}:
            dispatcher.utter_message(response="utter_thank" if intent == "thank" else "utter_goodbye")
            return drop + [FollowupAction("action_listen")]
        if intent == "greet":
            dispatcher.utter_message(response="utter_greet")
            return again
        if intent in {"check_stock", "recommend_product"}:
            if intent == "check_stock":
                events = stock_answer(dispatcher, tracker, meant(tracker, latest))
            else:
                events = recommend(dispatcher, tracker, read_request(tracker, get_store()))
            return events + again
        if has(latest.text, *_HOW_TO_VERIFY):
            dispatcher.utter_message(response="utter_how_to_verify")
            return again
        for words_of, response in (
            (_ADD_TO_ORDER, "utter_cannot_add_to_order"),
            (_ACCOUNT_DETAILS, "utter_account_out_of_scope"),
            (_DELETE_DATA, "utter_data_request"),
        ):
            if (
                has(latest.text, *words_of)
                or (response == "utter_data_request" and asks_to_delete_data(latest.text))
                or (response == "utter_cannot_add_to_order" and asks_to_add_items(latest.text))
            ):
                # "can I remove one item instead?" while the check waits for a proof: no check answers that (a
                # colleague's change is offered to that colleague)
                dispatcher.utter_message(response=response)
                offer = about("handoff", last_question=OFFER_HANDOFF) if response != "utter_cannot_add_to_order" else []
                return drop + offer + [FollowupAction("action_listen")]
        quoted = None if latest.entity("order_number") else quote_with_value(dispatcher, tracker, latest)
        if quoted is not None:
            # "how much for spain on a 40 pound order" while the check waits for a proof: the quote, then the question
            return quoted + again
        if intent == "out_of_scope":
            dispatcher.utter_message(response="utter_out_of_scope")
            return again
        dispatcher.utter_message(response="utter_ask_rephrase")
        return again

    @staticmethod
    def _plain_request(dispatcher: CollectingDispatcher, tracker: Tracker, latest: Said) -> List[EventType] | None:
        """What the words say plainly whatever NLU made of them (a goodbye in any language, a person, a payment
        method, a review, a photo, what the assistant can do). Reached only for messages NLU could not file
        under a support intent (or filed as yes, no or details), after the context had its say."""
        text = latest.text
        if not text:
            return None
        if last_bot_response(tracker) in FOR_A_COLLEAGUE:
            answered = colleague_follow_up(dispatcher, latest)
            if answered is not None:
                return answered + [FollowupAction("action_listen")]
        if has(text, *_GOODBYE) and not is_question(text) and not has(text, *_ORDER_WORDS):
            say_goodbye(dispatcher, text)
            return about(None) + [FollowupAction("action_listen")]
        if wants_a_person(text):
            return [FollowupAction("action_handoff")]
        if has(text, *THINK_IT_OVER) and not is_question(text):
            dispatcher.utter_message(response="utter_take_your_time")
            return about(None) + [FollowupAction("action_listen")]
        which_one = has(text, "which one", "which arrives", "which will arrive", "both")
        if orders.asks_which_first(text) or (which_one and has(text, "first", "arriv*", "come")):
            # "which one arrives first?" with two orders open
            ctx = _order_context(dispatcher, tracker)
            verified = ctx.store.verified_orders(ctx.conversation_id) if ctx is not None else []
            if ctx is not None and len(verified) > 1:
                return orders.compare_arrivals(ctx, verified) + [FollowupAction("action_listen")]
        if has(text, *DAMAGED_WORDS) and not latest.entity("order_number"):
            # "the bath oil arrived smashed, what do I do?": what the policy offers; an order given next is a return
            if not returns.policy_part(dispatcher, latest):
                returns.say_policy(dispatcher)  # never an empty answer
            return about("return_policy") + [FollowupAction("action_listen")]
        if latest.intent != "deny":
            named = payments.named_methods(text)
            if named and not has(text, *_ORDER_WORDS):
                dispatcher.utter_message(
                    response="utter_payment_methods_named", named=" and ".join(named), methods=payments._methods_text()
                )
                shown_cards = payments.gift_cards(dispatcher, text)
                return about("payment_methods", **shown_cards) + [FollowupAction("action_listen")]
        if has(text, *_REVIEW) and not has(text, *_ORDER_WORDS):
            dispatcher.utter_message(response="utter_review")
            return about(None) + [FollowupAction("action_listen")]
        if offers_a_photo(text):
            dispatcher.utter_message(response="utter_photo")
            return [FollowupAction("action_listen")]
        if has(text, *_ACCOUNT_DETAILS) and not has(text, *_ORDER_WORDS):
            # "and my surname, I got married", "how do I unsubscribe from the newsletter": a colleague can, offered
            dispatcher.utter_message(response="utter_account_out_of_scope")
            return about("handoff", last_question=OFFER_HANDOFF) + [FollowupAction("action_listen")]
        if has(text, "rma", "return number", "returns number", "return label again", "the label again"):
            # "whats the rma again": the returns of the order in focus, with their numbers
            ctx = _order_context(dispatcher, tracker)
            if ctx is not None:
                return returns.return_status(ctx) + [FollowupAction("action_listen")]
        privacy = privacy_question(dispatcher, text)
        if privacy is not None:
            return privacy + [FollowupAction("action_listen")]
        if asks_to_add_items(text) or (
            tracker.get_slot(TOPIC) in ORDER_TOPICS
            and has(text, "add a", "add an", "add another", "add some", "add the")
        ):
            # "can I add a mascara to my order?": an order can't grow once placed; what can be done instead
            number = latest.entity("order_number")
            if number:
                # "...to my order ORD-…?": that order is checked first and the answer is about it
                return [
                    SlotSet("goal", "add_items"),
                    SlotSet("order_number", normalize_order_number(number) or number),
                    FollowupAction("verify_order_form"),
                ]
            dispatcher.utter_message(response="utter_cannot_add_to_order")
            return about(None) + [FollowupAction("action_listen")]
        if asks_what_i_do(text):
            # "what can you actually do", "what else can u help with"
            dispatcher.utter_message(response="utter_what_i_do")
            return about(None) + [FollowupAction("action_listen")]
        if asks_what_we_sell(text):
            # "wow ok so what do you actually sell" after "we don't sell jeans": the kinds of product the shop sells
            return say_what_we_sell(dispatcher) + [FollowupAction("action_listen")]
        return None

    @staticmethod
    def _shopping(dispatcher: CollectingDispatcher, tracker: Tracker, latest: Said) -> List[EventType] | None:
        """A shopping request NLU did not read ("looking for a mascara", "do u have dyson airwrap", "need smth
        for spots"): the product or kind it names (said to be unsold if we do not sell it), else picks for the
        need it describes."""
        text = latest.text
        if not text or not has(text, *_SHOPPING_WORDS) or has(text, *_ORDER_WORDS, *_TRADE):
            return None
        request = read_request(tracker, get_store())
        if (request.category or request.kind) and has(text, *_NEED_WORDS):
            return recommend(dispatcher, tracker, request)
        found = meant(tracker, latest, refer_back=False)
        if found.product is not None or found.products or found.unsold:
            return stock_answer(dispatcher, tracker, found)
        if request.category or request.kind:
            return recommend(dispatcher, tracker, request)
        return None

    @staticmethod
    def _brand_one(dispatcher: CollectingDispatcher, tracker: Tracker, latest: Said) -> List[EventType] | None:
        """ "and the Oakhaven one?" with a product in focus, whatever was talked about since (a return question):
        that brand's product of the kind in focus."""
        text = latest.text
        if not text or not has(text, "one", "ones") or brand_in(text) is None or in_focus(tracker) is None:
            return None
        found = meant(tracker, latest)
        if found.product is not None or found.products:
            return stock_answer(dispatcher, tracker, found)
        return None

    @staticmethod
    def _details(dispatcher: CollectingDispatcher, tracker: Tracker, latest: Said) -> List[EventType] | None:
        """Details given on their own: an order to check, a destination or budget, a product."""
        text = latest.text
        number = latest.entity("order_number")
        rma = normalize_rma(latest.entity("rma_number") or "")
        if number is None and latest.intent in {"inform", "nlu_fallback", "out_of_scope"} and text:
            found = normalize_order_number(text)
            number = found if found and any(ch.isdigit() for ch in text) else None
        if number is None and has(text, *_THE_OTHER_ORDER):
            # "and the other one?" after two orders were named: the one not in focus is checked next
            number = other_named_order(tracker)
        proof = latest.entity("email") or latest.entity("postcode")
        topic = tracker.get_slot(TOPIC)
        if number or rma:
            events: List[EventType] = [SlotSet("goal", goal_for(tracker, latest))]
            if number:
                events.append(SlotSet("order_number", normalize_order_number(number) or number))
            return events + [FollowupAction("verify_order_form")]
        if proof and topic != "shipping" and (tracker.get_slot("order_number") or latest.entity("email")):
            return [SlotSet("goal", goal_for(tracker, latest)), FollowupAction("verify_order_form")]
        country, postcode = shipping.destination_in(latest)
        value = shipping.value_in(latest)
        destination = country or postcode or latest.entity("city")
        if destination and (
            topic == "shipping"
            or (topic is None and latest.intent == "inform")
            or has(text, *_SHIPPING)
            or (value is not None and _an_order_value(latest))
        ):
            # a place with an order value ("how much for spain on a 40 pound order") is a delivery quote,
            # whatever NLU filed it under (out of scope, details)
            return shipping.quote(dispatcher, tracker, latest, keep=topic == "shipping", mode=shipping.speed_mode(text))
        if value is not None and (
            topic == "shipping"
            or (
                shipping.remembered(tracker).get("country")
                and has(text, "cost*", "how much", "price", "postage", "shipping", "delivery", "charge*")
                and _an_order_value(latest)
            )
        ):
            # "and the german one would cost how much for about 70 euros" after a quote, with an order talked about
            # since: the quote again for that basket
            return shipping.quote(dispatcher, tracker, latest, keep=True)
        if latest.entity("product") or latest.entity("category"):
            if topic == "products" and tracker.get_slot("rec_request") and not latest.entity("product"):
                return recommend(dispatcher, tracker, read_request(tracker, get_store()))
            return stock_answer(dispatcher, tracker, meant(tracker, latest))
        if has(text, *_RECOMMEND):
            return recommend(dispatcher, tracker, read_request(tracker, get_store()))
        if has(text, *_CHECK_MY_ORDER, *_MY_ORDER_ABROAD) and not has(text, "cancel", "return", "refund", "invoice"):
            return [SlotSet("goal", "track"), FollowupAction("verify_order_form")]
        if bare_order_word(text):
            # "parcel", "delivery??", "my package": a parcel named with nothing else, so which order (then where)
            return [SlotSet("goal", "track"), FollowupAction("verify_order_form")]
        if has(text, *_NOT_ARRIVED) and not has(text, *_NOT_A_PARCEL):
            # "it hasnt come": an order of theirs that has not arrived, so which one (then where it is)
            return [SlotSet("goal", "track"), FollowupAction("verify_order_form")]
        return None


def _an_order_value(latest: Said) -> bool:
    """The money in a message naming a place is what an order is worth ("how much for spain on a 40 pound
    order"), not a budget for products ("something for dry skin under £30 in France")."""
    return not (latest.entity("product") or latest.entity("category")) and not has(
        latest.text, *_SHOPPING_WORDS, *_RECOMMEND, *_NEED_WORDS, "under", "budget", "below", "less than"
    )


def quote_with_value(dispatcher: CollectingDispatcher, tracker: Tracker, latest: Said) -> List[EventType] | None:
    """A country (or city) with an order value, whatever NLU made of it: the delivery quote (None otherwise)."""
    country, _ = shipping.destination_in(latest)
    if not (country or latest.entity("city")) or shipping.value_in(latest) is None or not _an_order_value(latest):
        return None
    return shipping.quote(dispatcher, tracker, latest, keep=False, mode=shipping.speed_mode(latest.text))


def say_goodbye(dispatcher: CollectingDispatcher, text: str) -> None:
    """The goodbye; one that also thanks ("ok I'll do that now, thanks") is told it was welcome first."""
    thanks = has(text, "thank*", "thx", "cheers", "ta", "danke*", "merci", "gracias", "grazie")
    dispatcher.utter_message(response="utter_goodbye_thanks" if thanks else "utter_goodbye")


class ActionGoodbye(Action):
    """A goodbye (rule for intent goodbye without an open ticket): with a "you're welcome" when it thanks too."""

    def name(self) -> str:
        """Action name."""
        return "action_goodbye"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        """Say goodbye; the topic ends. A message NLU filed as a goodbye without a word of farewell ("then get me
        one", "ok what's similar then") is read in context instead, when the context has an answer."""
        latest = said(tracker)
        in_verification = (tracker.active_loop or {}).get("name") == "verify_order_form"
        if in_verification and puts_the_check_off(latest) and not has(latest.text, *_GOODBYE):
            # "ah I don't have it right now, I'll come back later" at "which order?": take your time, and the
            # check ends (the form would ask its question again after a goodbye)
            dispatcher.utter_message(response="utter_take_your_time")
            return [*about(None), *_END_CHECK]
        if latest.text and not latest.button and not has(latest.text, *_GOODBYE, *_FAREWELL):
            answered = misread_goodbye(dispatcher, tracker, latest)
            if answered is not None:
                return answered
        say_goodbye(dispatcher, latest.text)
        return about(None) + (_END_CHECK if in_verification else [])


#: A goodbye ends the verification form's question (the rule would have the form ask it again).
_END_CHECK: List[EventType] = [ActiveLoop(None), SlotSet("requested_slot", None), FollowupAction("action_listen")]


#: Farewell words besides the goodbyes (a goodbye that only thanks or signs off).
_FAREWELL = ("thank*", "thx", "ty", "cheers", "ta", "later", "laters", "night", "nite", "have a good", "have a nice",
             "take care", "that's it", "thats it", "all good", "done", "i'm off", "im off", "all sorted",
             "that'll be all", "no more")  # fmt: skip
#: After "I'm a virtual assistant, not a person": these ask for the person offered.
_TAKE_THE_PERSON = ("get me one", "get me", "one then", "then get", "i want one", "want one", "yes", "yeah", "ok",
                    "please", "pls", "do it", "go on", "transfer", "put me through", "connect me")  # fmt: skip


def misread_goodbye(dispatcher: CollectingDispatcher, tracker: Tracker, latest: Said) -> List[EventType] | None:
    """A message NLU filed as a goodbye that says no farewell: a person asked for, a follow-up of the topic
    (products just shown: "what's similar then"), or the person just offered. None: it is a goodbye after all."""
    if wants_a_person(latest.text) or (
        last_bot_response(tracker) == "utter_bot_challenge" and has(latest.text, *_TAKE_THE_PERSON)
    ):
        return [FollowupAction("action_handoff")]
    answered = in_context(dispatcher, tracker, caller="action_follow_up")
    if answered is not None:
        return answered if _has_followup(answered) else [*answered, FollowupAction("action_listen")]
    return None


def answered_this_turn(tracker: Tracker) -> bool:
    """Whether the bot already said something (or ran an action other than this one) since the latest message."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "bot":
            return True
        if event.get("event") == "action" and event.get("name") not in {
            "action_listen",
            "action_follow_up",
            "action_extract_slots",
            "action_session_start",
            "action_deactivate_loop",  # a rule ending the form before this action says nothing
            None,
        }:
            return True
    return False


def _has_followup(events: List[EventType]) -> bool:
    return any(e.get("event") == "followup" for e in events)


# ------------------------------------------------------------------------------ the order number question

_OTHER_SHOPS = ("amazon", "ebay", "asos", "argos", "etsy", "shein", "temu", "john lewis", "zara", "sephora",
                "lookfantastic", "superdrug", "another shop", "other shop", "different shop", "another website",
                "another store")  # fmt: skip
_ACCOUNT = ("my account", "account", "password", "log in", "login", "sign in", "signin", "profile", "newsletter",
            "unsubscribe", "phone number", "username", "user name")  # fmt: skip
_REVIEW = ("review", "rate it", "rating", "feedback", "testimonial")
#: Not a particular order's items ("can I return something I bought online?"): a policy question.
_ANY_ITEM = ("something", "anything", "stuff", "things", "an item", "items", "a product", "products")
#: Goodbyes in the languages (and slang) customers write in (the assistant answers in English).
_GOODBYE = ("bye", "bye bye", "byee*", "goodbye", "good bye", "tschüss", "tschüs", "tschuss", "tschau", "ciao",
            "auf wiedersehen", "au revoir", "à bientôt", "a bientot", "adios", "adiós", "arrivederci",
            "see you", "see ya", "see u", "cya", "ttyl", "ttfn", "gotta go", "got to go", "gtg", "g2g", "gotta run",
            "gotta dash", "got to run", "that's all", "thats all", "peace out", "peace", "laters", "later then",
            "catch you later", "catch ya later", "catch u later", "catch ya", "i'm out", "im out", "i'm off",
            "im off", "toodles", "take it easy", "have a good one", "bye for now")  # fmt: skip
#: Giving up on the point, without a new request ("fine whatever").
_RESIGNED = ("whatever", "forget it", "never mind", "nevermind", "oh well", "fair enough", "if you say so")
#: Asking what order news brings.
_WHICH_NEWS = ("what kind", "which updates", "what updates", "what news", "what will you send", "what messages",
               "what notifications", "what sort", "what do you send", "what will i get", "messaging me about",
               "message me about", "messaging about", "what would you message", "what will you message",
               "what would you send", "what would you be sending", "what will you be sending", "what would i get",
               "what would i be getting", "what are the updates", "what sort of updates", "notify me about",
               "notifying me about", "what kinds")  # fmt: skip
#: The customer settling on the product in focus.
_CHOSEN = ("i'll get", "ill get", "i'll take", "ill take", "i'll buy", "ill buy", "i'll order", "ill order",
           "i'll go for", "ill go for", "i'll go with", "ill go with", "i'll have", "get that one", "take that one",
           "buy that one", "going to get", "gonna get", "going to buy", "gonna buy")  # fmt: skip
_ORDER_WORDS = ("order", "parcel", "package", "delivery", "refund", "return", "track*", "cancel")
#: Pointing at the product(s) in focus ("can she use it in the shops?", "do they expire?").
_POINTING = ("it", "its", "it's", "they", "them", "their", "that", "this", "those", "these", "one", "ones")
#: A request to the shop ("can you put one aside for me?"), not a question about the product's details.
_ASKS_US = ("can you", "could you", "will you", "would you", "can u", "could u", "can someone", "can somebody",
            "for me", "reserve*", "put aside", "hold one", "keep one")  # fmt: skip
#: Asking how to buy ("how do I order it?", "where can I buy one", "can I order it here?"), not about an order placed.
_HOW_TO_BUY_RE = re.compile(
    r"\b(?:how|where)\s+(?:do|can|could|would|should)\s+(?:i|we|u|you)\s+(?:go\s+about\s+)?(?:order|buy|get|purchase)"
    r"(?:ing)?\b|\bhow\s+to\s+(?:order|buy|purchase)\b|\bcan\s+(?:i|u|you)\s+(?:order|buy)\s+(?:it|this|that|one|them)\s+"
    r"(?:here|from you|through you|in (?:the|this) chat|off you)\b",
    re.I,
)


def asks_how_to_buy(text: str) -> bool:
    """ "ok go on then, how do I order it?", "where can I buy one?": how to buy a product, not about an order
    already placed ("how do I order a return label", "my order")."""
    return bool(_HOW_TO_BUY_RE.search(text or "")) and not has(
        text, "my order", "the order", "an order", "my parcel", "return*", "refund*", "cancel*", "track*", "label"
    )


#: Asking how to get done what a colleague was just said to do ("so how do I reset it", "where do I change it").
_HOW_DO_I = ("how do i", "how can i", "how would i", "how should i", "how to", "what do i do", "what should i do",
             "where do i", "where can i", "who do i", "who can", "reset it", "change it", "do it myself",
             "do that myself", "how does that work", "what's the way", "whats the way", "what is the way", "the way to",
             "what's the process", "whats the process", "what is the process", "what are the steps", "get it reset",
             "get it changed", "get it sorted", "get it done", "get that done", "get that changed", "how does one",
             "how would one", "any other way", "is there a way", "what's my option*", "whats my option*",
             "how is it done", "how does it get", "sort it then")  # fmt: skip
_WHY_NOT = ("why", "how come", "what's stopping", "whats stopping", "surely you can", "can't you just",
            "cant you just", "why not")  # fmt: skip
#: "where is my order" in the languages customers write in (answered in English).
_MY_ORDER_ABROAD = ("mi pedido", "mi paquete", "meine bestellung", "mein paket", "meine lieferung", "ma commande",
                    "mon colis", "mon paquet", "il mio ordine", "il mio pacco", "mijn bestelling", "mijn pakket",
                    "meu pedido", "minha encomenda")  # fmt: skip
_DELETE_DATA_RE = re.compile(
    r"\b(?:delete|erase|remove|wipe|purge|forget)\b(?:\s+[\w']+){0,4}?\s+(?:data|details|information|info|"
    r"account|everything you (?:have|hold|know|keep))\b"
    # the other way round: "i want all my data deleted", "get my account and details removed"
    r"|\b(?:data|details|information|info|account)\b(?:\s+[\w']+){0,3}?\s+(?:deleted|erased|removed|wiped|"
    r"purged|gone)\b",
    re.I,
)
#: What a data or account request is about: "and all my data with it please" after the colleague was offered
#: for the account adds to that request.
_REQUEST_ABOUT = ("data", "details", "information", "info", "account", "everything", "all of it", "history",
                  "chats", "messages", "address*", "email*", "surname", "name")  # fmt: skip
_ADDS_TO = ("with it", "as well", "too", "also", "and all", "and my", "and the", "plus", "including", "everything")
#: What is kept about the customer, for how long, and what is done with it.
_KEPT = ("keep", "kept", "store", "stored", "hold", "held", "retain*", "save", "saved", "have on me", "know about me",
         "do with", "use", "used", "using", "share", "shared", "sell", "sold", "happens to", "happen to",
         "process*", "see", "sees", "seen", "access*", "read", "reads", "look at", "looks at")  # fmt: skip
_KEPT_WHAT = ("data", "chat", "chats", "conversation*", "messages", "details", "information", "info", "history",
              "on me", "about me", "transcript*")  # fmt: skip


#: What a request left to a colleague covers, asked about ("will my order history go too?", "and my reviews?").
_COVERS = ("too", "as well", "also", "go", "gone", "goes", "included", "include", "includes", "what about", "and my",
           "deleted", "removed", "kept", "stay", "stays", "lose", "lost")  # fmt: skip
_COVERED = (*_REQUEST_ABOUT, "order history", "orders", "review*", "wishlist", "points", "loyalty", "subscription*",
            "gift card*", "photos")  # fmt: skip


def colleague_follow_up(dispatcher: CollectingDispatcher, latest: Said) -> List[EventType] | None:
    """A follow-up of an answer that leaves the request to a colleague (account details, data requests): why
    the assistant can't, how it gets done, what it covers, or more of the same request; each answered with the
    offer of that person again (never an order check). None when the message is something else."""
    text = latest.text
    if not text or starts_no(text) or latest.entity("order_number"):
        return None
    if has(text, *_WHY_NOT):
        # "why can't you just do it": why, and the offer of that person
        response = "utter_why_colleague"
    elif has(text, *_HOW_DO_I) and not has(text, *_ORDER_WORDS):
        # "so how do I reset it then": the colleague is the way, offered
        response = "utter_colleague_how"
    elif is_question(text) and has(text, *_COVERS) and has(text, *_COVERED):
        # "will my order history go too?": the colleague says exactly what the request covers
        response = "utter_colleague_scope"
    elif has(text, *_REQUEST_ABOUT) and has(text, *_ADDS_TO) and not is_question(text):
        # "and all my data with it please": more of the same request, which is the colleague's too
        data = has(text, "data", "details", "information", "info", "everything", "all of it", "history", "chats")
        response = "utter_data_request" if data else "utter_colleague_how"
    else:
        return None
    dispatcher.utter_message(response=response)
    return about("handoff", last_question=OFFER_HANDOFF)


def privacy_question(dispatcher: CollectingDispatcher, text: str) -> List[EventType] | None:
    """A data request or a question about the data kept, whatever NLU filed it under: what the privacy policy
    covers, who can act on it, and the offer of that person. None for anything else."""
    if asks_to_delete_data(text):
        # "please delete all my data": what we can't do here, who can, and the offer of that person
        dispatcher.utter_message(response="utter_data_request")
    elif asks_what_data_is_kept(text):
        # "how long do you keep my chats for?": the privacy policy says, and the team answers for this customer
        dispatcher.utter_message(response="utter_data_kept")
    else:
        return None
    return about("handoff", last_question=OFFER_HANDOFF)


def asks_to_delete_data(text: str) -> bool:
    """ "please delete all the data you have on me", "erase my details": a data deletion request."""
    return has(text, *_DELETE_DATA) or bool(_DELETE_DATA_RE.search(text or ""))


def asks_what_data_is_kept(text: str) -> bool:
    """ "how long do you keep my chats for?", "what data do you hold on me?", "will you keep my postcode stored?", "who
    gets to see my personal info?": a question about the data kept and its use (the table of forms of
    `actions.questions.asks_about_personal_data`, or a question word with a keeping verb and what is kept)."""
    if questions.asks_about_personal_data(text):
        return True
    return (
        is_question(text)
        and has(
            text,
            "how long",
            "what",
            "which",
            "who",
            "whom",
            "do you",
            "are you",
            "does it",
            "is it",
            "do these",
            "does this",
            "are these",
            "are my",
            "is my",
            "can anyone",
            "can someone",
            "can staff",
        )
        and has(text, *_KEPT)
        and has(text, *_KEPT_WHAT)
        and not has(text, *_ORDER_WORDS)
    )


def asks_why_the_proof(text: str) -> bool:
    """ "why do you need my email?", "why do you want my postcode": why the assistant asks for a proof; "what
    does the email do that the postcode doesnt": what each proof opens."""
    if not text:
        return False
    why = has(text, "why") and has(text, "email*", "e-mail*", "postcode", "post code", "zip", "my details")
    compared = has(text, "email*", "e-mail*") and has(text, "postcode", "post code", "zip")
    return (why and has(text, "need", "want", "ask*", "give", "require")) or (compared and has(text, *_COMPARE))


#: Comparing the two proofs ("what does the email do that the postcode doesn't", "what's the difference").
_COMPARE = ("difference", "differ*", "doesn't", "doesnt", "does not", "than", "what does the", "what do the",
            "whats the point", "what's the point", "better", "why")  # fmt: skip
#: Asking for a new item instead of the money ("i want a replacement not a refund", "can you send a new one").
_REPLACEMENT = ("replacement", "replace it", "replace them", "replace the", "a new one", "send another",
                "send me another", "new one instead", "another one instead")  # fmt: skip


def wants_a_replacement(text: str) -> bool:
    """A replacement asked for, not the options asked about ("refund or replacement?" is the policy's)."""
    return has(text, *_REPLACEMENT) and not (is_question(text) and has(text, " or ", "option*", "which"))


_RETURN_CUES = ("return", "returnable", "send back", "send it back", "send bk", "sent back", "take back", "smashed",
                "broken", "damaged", "faulty", "cracked", "shattered", "leak*")  # fmt: skip
#: Something in an order arrived broken.
DAMAGED_WORDS = ("smashed", "broken", "damaged", "cracked", "shattered", "leaked", "leaking", "arrived broken")
#: Account details a colleague changes (the assistant does not).
_ACCOUNT_DETAILS = ("surname", "last name", "change my name", "update my name", "name change", "married name",
                    "maiden name", "name on my account", "newsletter", "unsubscribe", "marketing email*",
                    "promo email*", "password", "phone number", "mobile number", "change my email", "update my email",
                    "change the email", "update the email", "email on my account", "email address on my account",
                    "account email", "login email", "email i log in with",
                    "date of birth")  # fmt: skip
_OTHER_ORDERS = ("other orders", "any other order", "all my orders", "list my orders", "list of my orders",
                 "orders with you", "how many orders", "which orders", "what orders", "my previous orders",
                 "my past orders", "older orders", "order history")  # fmt: skip
#: Goals about the customer's linked chats and order news, which the check itself is asked for.
_CHAT_GOALS = frozenset({"channels", "unlink", "notify_on", "notify_off"})
#: Words that make a message naming a way to pay ("gift card") a shopping request after all.
_SHOP_FOR = ("buy", "recommend", "suggest", "for my", "for him", "for her", "gift for", "present", "how much",
             "price", "in stock", "which", "amounts", "£")  # fmt: skip
_DELETE_DATA = ("delete my data", "delete all my data", "delete my account", "delete my details", "erase my data",
                "remove my data", "remove my details", "delete my personal", "my personal data", "gdpr",
                "right to be forgotten", "close my account", "delete everything you have")  # fmt: skip
_ADD_TO_ORDER = ("add something to my order", "add to my order", "add to the order", "add it to my order",
                 "add an item", "add another item", "add items", "add something to it", "add more to my order",
                 "add to an order", "add something to the order", "add to order", "add one more", "remove one item",
                 "remove an item", "remove something", "remove one", "take one item off", "take something off",
                 "take an item off", "remove it from my order", "remove from my order", "remove from the order",
                 "swap an item", "swap one item", "change an item", "change the size", "change the shade")  # fmt: skip
#: "can i add a mascara to my order", "could you add the blush to order ORD-…", "could I stick a lip liner on the
#: order too?": adding a product to a placed order.
_ADD_TO_ORDER_RE = re.compile(
    r"\b(?:add|put|include|throw|stick|pop|chuck|bung|slip|tack|sneak|squeeze)\b(?:\s+[\w'&-]+){0,5}?\s+"
    r"(?:to|in|into|onto|on|with)\s+(?:my|the|this|that|an|our|"
    r"your|her|his)?\s*(?:existing\s+|current\s+|placed\s+)?(?:order|parcel|package|delivery)\b",
    re.I,
)


#: Verbs that put a product into something ("add", "throw in", "pop", "include", "bundle", ...).
_PUTTING = (r"(?:add|adding|added|put|putting|include|including|included|throw|thrown|chuck|stick|pop|popped|bung|"
            r"slip|tack|sneak|squeeze|toss|pack|packed|bundle|combine|tag)")  # fmt: skip
#: The order a product is put into: by its number, "the same parcel", "my order" (any wording).
_THE_ORDER = (r"(?:ord\s*-?\s*\d{4,}|(?:the\s+)?same\s+(?:parcel|box|package|order|delivery|shipment|bag)|"
              r"(?:my|the|this|that|our|her|his|your)\s+(?:existing\s+|current\s+|placed\s+|last\s+|other\s+)?"
              r"(?:order|parcel|package|delivery|shipment))")  # fmt: skip
_ADD_TARGET = re.compile(
    r"\b" + _PUTTING + r"\b(?:\s+[\w'&-]+){0,6}?\s+(?:in\s+with|in|into|onto|on|to|with|along\s+with|together\s+with|"
    r"as\s+part\s+of)\s+" + _THE_ORDER + r"\b"
    # "can that lipstick go in the same parcel", "could it ship together with ORD-…"
    r"|\b(?:go|goes|come|comes|ship|ships|travel|fit|be\s+sent|be\s+added)\b(?:\s+[\w'&-]+){0,3}?\s+(?:in\s+with|"
    r"along\s+with|together\s+with|in\s+the\s+same)\s+(?:ord\s*-?\s*\d{4,}|(?:parcel|box|package|delivery|"
    r"shipment|order)|(?:my|the|that|this)\s+(?:existing\s+|current\s+|last\s+|other\s+)?(?:order|parcel|package|"
    r"delivery|other))\b"
    r"|\bsame\s+(?:parcel|box|package|delivery|shipment)\s+as\s+(?:my|the|that|this)\s+(?:order|other)",
    re.I,
)
#: Not a product put in the order: an invoice, a note or the address sent with it.
_NOT_A_PRODUCT = ("invoice", "receipt", "note", "message", "address", "flat number", "house number", "label",
                  "photo*", "picture*", "basket", "cart", "wishlist", "discount", "code", "voucher", "name",
                  "company", "vat", "number", "details", "reference", "instructions", "signature", "date",
                  "tracking", "insurance")  # fmt: skip
#: With the order in focus, "add a hand cream to it", "can you pop a mascara in too": the order is "it".
_ADD_TO_IT = re.compile(
    r"\b(?:add|put|throw|chuck|stick|pop|bung|slip|tack|sneak|squeeze|include|toss)\b(?:\s+[\w'&-]+){1,5}?\s+"
    r"(?:(?:in|into|onto|on|to|with)\s+(?:it|that|this|them)\b|in\s+(?:too|as\s+well|also)\b|in\s+with\b)",
    re.I,
)


def asks_to_add_items(text: str, *, order_in_focus: bool = False) -> bool:
    """Adding something to (or taking it off) a placed order, in any words: no handler can. With an order in
    focus "it" is that order ("could you add a hand cream to it", "pop a lip liner in too")."""
    if not text:
        return False
    if has(text, *_ADD_TO_ORDER) or bool(_ADD_TO_ORDER_RE.search(text)):
        return True
    if has(text, *_NOT_A_PRODUCT):
        return False
    lower = " ".join(words(text))
    return bool(_ADD_TARGET.search(lower)) or (order_in_focus and bool(_ADD_TO_IT.search(lower)))


def _adds_to_an_order(dispatcher: CollectingDispatcher, tracker: Tracker, latest: Said) -> List[EventType] | None:
    """ "throw an eyeliner in with ORD-…", "could you add a hand cream to it", "can that lipstick go in the same
    parcel as my order": a placed order can't grow. The order named and not yet checked is checked first (goal
    `add_items`); the verified one in focus gets its answer; with none, the general answer."""
    focus = bool(tracker.get_slot("order_number"))
    if not asks_to_add_items(latest.text, order_in_focus=focus) or has(latest.text, *_DELETE_DATA):
        return None
    named = latest.entity("order_number")
    number = normalize_order_number(named) if named else None
    ctx = _order_context(dispatcher, tracker)
    if ctx is not None and (number is None or number == ctx.order_number):
        return orders.cannot_add_items(ctx)
    if number is not None:
        # the order named is checked first, then the answer is about it
        return [SlotSet("goal", "add_items"), SlotSet("order_number", number), FollowupAction("verify_order_form")]
    dispatcher.utter_message(response="utter_cannot_add_to_order")
    return about(None)


_PHOTO = ("photo*", "picture*", "pic", "pics", "image", "images", "screenshot*")
#: Words of sending or having one: "nothing like the photos on your site" only mentions photos.
_PHOTO_OFFER = ("send*", "sent", "attach*", "upload*", "add", "adding", "include", "share", "show you", "show them",
                "i've got", "ive got", "i have",
                "i got", "i took", "took some", "take a", "if they want", "if you want", "do you want",
                "want them", "want one", "want to see", "need one", "need them", "need a")  # fmt: skip


def offers_a_photo(text: str) -> bool:
    """A photo offered or asked about, in any number ("I've got photos of it if they want them", "can I send a
    pic?"), not one mentioned ("it's nothing like the photos on your site")."""
    return has(text, *_PHOTO) and has(text, *_PHOTO_OFFER)


#: Asking what the shop sells ("what do you actually sell", "what kind of stuff do you stock").
_WHAT_WE_SELL_RE = re.compile(
    r"\bwhat\b(?:\s+[\w']+){0,3}?\s+(?:do|does|can)\s+(?:you|u|ya|you guys|this shop|this store|the shop)\s+"
    r"(?:(?:actually|even|really|exactly|guys|all|then)\s+)*(?:sell|stock|carry|offer|have)\b(.*)$",
    re.I,
)


#: "... besides perfume", "... apart from fragrance": what else, past the kind named.
_BESIDES = re.compile(r"^\s*(?:besides|apart from|other than|aside from|except|as well as|on top of)\b", re.I)


def asks_what_we_sell(text: str) -> bool:
    """ "what do you actually sell", "so what kind of stuff do you stock", "what other stuff do you stock besides
    perfume": what the shop sells, naming no product or need ("what do you have for dry skin" is a request for
    picks)."""
    found = _WHAT_WE_SELL_RE.search(text or "")
    if found is None or has(text, *_ORDER_WORDS):
        return False
    return not tokens(found.group(1)) or bool(_BESIDES.match(found.group(1)))


def say_what_we_sell(dispatcher: CollectingDispatcher) -> List[EventType]:
    """The kinds of product the shop sells (its catalogue's categories)."""
    categories = sorted({p.category.lower() for p in catalogue().products if p.category})
    dispatcher.utter_message(response="utter_what_we_sell", categories=join_words(categories))
    return about("products")


_SHOPPING_WORDS = (
    "looking for", "look for", "search", "searching", "do you have", "do u have", "do you sell", "do u sell",
    "have you got", "you've got", "you got", "got any", "do you stock", "do you carry", "need something",
    "need smth", "need sth", "need a", "need an", "want a", "want an", "after a", "after some", "i need",
    "have u got", "hav u got", "hav you got", "have ya got", "u got any", "do u do", "do you do", "u sell",
    "can't find", "cant find", "cannot find", "can not find", "couldn't find", "couldnt find", "where are the",
    "where do you keep", "where can i find",  # "I can't find the foundations anywhere": where they are
)  # fmt: skip
#: The shop as a business rather than what it sells ("do you do wholesale? I run a little salon", "are you
#: hiring?"): out of scope, never a product search ("little" is no Little Harbour).
_TRADE = ("wholesale", "in bulk", "bulk order*", "bulk buy*", "trade account*", "trade price*", "trade discount*",
          "stockist*", "supplier*", "distributor*", "b2b", "franchise*", "affiliate*", "partnership*",
          "collaborat*", "sponsor*", "hiring", "vacanc*", "job", "jobs", "career*", "work experience",
          "apprentice*")  # fmt: skip
#: A need rather than a product ("something for spots"): picks, not a stock answer.
_NEED_WORDS = ("something for", "smth for", "sth for", "anything for", "for my", "for spots", "for dry")
_MINE = ("my order", "my parcel", "my package", "my delivery", "i ordered", "i bought", "mine", "it back", "my return",
         "my refund", "i sent", "i got", "i received", "my stuff", "my things", "the order i", "order i placed",
         "existing order", "check my", "order number", "the one i", "placed")  # fmt: skip


class ActionAskOrderNumber(Action):
    """The verification form's question for the order number, unless the message was not about one of our
    orders after all (another shop's parcel, a shipping or product follow-up, a general returns question,
    account details, thanks): then that is answered and the form is dropped. An order number the entity
    extractor missed ("ORD-999999") is read from the words and checked by the form."""

    #: The form this action asks for: a hand-over back to it would read the same message again.
    FORM = "verify_order_form"

    def name(self) -> str:
        """Action name."""
        return "action_ask_order_number"

    @settles
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        """Ask for the order number, or answer what the message was really about."""
        latest = said(tracker)
        text = latest.text
        if text and not latest.button:
            number = normalize_order_number(text) if re.search(r"\d{6}", text) else None
            if number and number != normalize_order_number(tracker.get_slot("order_number") or ""):
                return await self._missed_number(dispatcher, tracker, domain, number, latest)
            if asks_why_the_proof(text):
                # "why do you need my email just to look at an order" (NLU: an order request): why, and the order
                # question stands for what the words ask (else the goal before it, else where the order is)
                dispatcher.utter_message(response="utter_why_proof")
                goal = goal_in_words(text) or slot_before_latest(tracker, "goal") or "track"
                return [SlotSet("goal", goal)]
            if wants_a_person(text):
                # "can someone show me where it is?": a person, not an order to look up
                return [ActiveLoop(None), SlotSet("requested_slot", None), FollowupAction("action_handoff")]
            answered = self._not_an_order_question(dispatcher, tracker, latest)
            if answered is not None:
                then = next((str(e["name"]) for e in answered if e.get("event") == "followup"), "action_listen")
                answered = [e for e in answered if e.get("event") != "followup"]
                handed = then not in {self.FORM, "action_listen"}
                if handed or dispatcher.messages:
                    # answered here, or handed to the action that answers it ("I want a replacement" at the offer
                    # of a person: that person); the order question is dropped
                    drop: List[EventType] = [ActiveLoop(None), SlotSet("requested_slot", None)]
                    return answered + drop + [FollowupAction(then if handed else "action_listen")]
                # nothing said and nothing to hand over to (the form again would read the same message): the
                # order question, never an empty turn
                dispatcher.utter_message(response="utter_ask_order_number")
                return [e for e in answered if e.get("event") == "slot"]
        dispatcher.utter_message(response="utter_ask_order_number")
        return []

    @staticmethod
    async def _missed_number(
        dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any], number: str, latest: Said
    ) -> List[EventType]:
        """An order number NLU did not tag ("ORD-999999"): checked by the verification form's own validator,
        with the email or postcode of the same message, exactly as if it had been tagged."""
        validator = ValidateVerifyOrderForm()
        slots = dict(validator.validate_order_number(number, dispatcher, tracker, domain))
        if not slots.get("order_number"):
            return [SlotSet(k, v) for k, v in slots.items()]  # it said why; the form asks again
        checked = tracker.copy()  # the validator reads the order from the slot; this tracker stays as it is
        checked.slots["order_number"] = slots["order_number"]
        proof = latest.entity("email") or latest.entity("postcode")
        if proof:
            slots.update(validator.validate_proof(proof, dispatcher, checked, domain))
        events: List[EventType] = [SlotSet(k, v) for k, v in slots.items()]
        if slots.get("proof") == "verified":
            return events + [ActiveLoop(None), SlotSet("requested_slot", None), FollowupAction("action_continue_goal")]
        if get_store().attempts_left(conversation_id(tracker)) <= 0:
            dispatcher.utter_message(response="utter_verification_locked")
            return events + [ActiveLoop(None), SlotSet("requested_slot", None), FollowupAction("action_listen")]
        dispatcher.utter_message(response="utter_ask_proof")
        return events + [SlotSet("requested_slot", "proof")]

    @staticmethod
    def _not_an_order_question(
        dispatcher: CollectingDispatcher, tracker: Tracker, latest: Said
    ) -> List[EventType] | None:
        text = latest.text
        if has(text, *_OTHER_SHOPS):
            dispatcher.utter_message(response="utter_other_shop")
            return about(None)
        ticket = tracker.get_slot(TICKET)
        remedy = has(text, "replace*", "new one", "swap", "exchange"), has(text, "refund*", "money back")
        if ticket and is_question(text) and any(remedy) and (all(remedy) or has(text, *DAMAGED_WORDS, "broken one")):
            # "will I get a refund or a new one?", "will I get my money back for the broken one?" with a colleague
            # already on it: theirs to sort out, no order asked
            dispatcher.utter_message(response="utter_ticket_decides", ticket=ticket)
            return about("handoff")
        if (
            tracker.get_slot("goal") in {"return", "return_status"}
            and is_question(text)
            and has(text, *_ANY_ITEM)
            and not has(text, "my order", "order number", "my parcel")
        ):
            # "can I return something here that I bought online?": the policy, not a return to set up
            if not returns.policy_part(dispatcher, latest):
                returns.say_policy(dispatcher)
            return about("return_policy")
        if has(text, *_MINE):
            return None  # about one of their orders: the question stands
        if has(text, *_REVIEW) and not has(text, "order", "parcel"):
            dispatcher.utter_message(response="utter_review")
            return about(None)
        if (
            has(text, *_ACCOUNT)
            and not has(text, "order", "parcel", "delivery address for", "track")
            and not has(text, *_PAYMENT_CUES, "money", "bank", "card")
            and tracker.get_slot("goal") not in _CHAT_GOALS
        ):
            # "how do I change my password" (not "I have money in my account": a bank's, about a payment; not
            # "which chats are linked to my account?": the check is asked for that, the e-mail answers it)
            dispatcher.utter_message(response="utter_account_out_of_scope")
            return about("handoff", last_question=OFFER_HANDOFF)
        if (
            tracker.get_slot("goal") in {"return", "return_status"}
            and is_question(text)
            and latest.entity("product")
            and not has(text, "my order", "order number", "my parcel", "i ordered", "i bought")
        ):
            # "can I return the X if I don't like it?" about a product in the shop: whether that one can be returned
            found = meant(tracker, latest)
            if found.product is not None:
                returns.say_product_returnable(dispatcher, found.product)
                return about("return_policy")
        topic = tracker.get_slot(TOPIC)
        if topic == "shipping" and shipping.asks_if_tracked(text):
            # "is it tracked?" after a delivery quote: about the delivery options, not an order of theirs
            dispatcher.utter_message(response="utter_shipping_tracked")
            return about("shipping")
        if topic and topic not in ORDER_TOPICS:
            answered = in_context(dispatcher, tracker, caller="action_follow_up")
            if answered is not None:
                return answered  # with the action it hands over to, if any (`run` keeps it)
        goal = tracker.get_slot("goal")
        if goal in {"return", "return_status"} and is_question(text) and not has(text, *_MINE):
            # "whats your return window", "can i return one if she doesn't like it": the policy
            if not returns.policy_part(dispatcher, latest):
                returns.say_policy(dispatcher)
            return about("return_policy")
        if has(text, "thank*", "thx", "cheers", "bye", "goodbye", "that's all", "thats all") and not has(
            text, "order", "track", "where", "return", "refund", "cancel", "invoice"
        ):
            dispatcher.utter_message(response="utter_goodbye" if has(text, "bye", "that's all") else "utter_thank")
            return about(None)
        return None
