"""The conversation's context: what the customer just said, and what the conversation is about.

Every action that answers reads the latest message through `said()` and records what it answered about
with `about()` (slots `topic`, `product`, `shown_products`, `last_question`, `refusal`, ...; their meaning
and who sets them are in docs/CONTRACTS.md). Follow-ups ("when will it arrive exactly", "and to canada?",
"is the first one in stock", "why not?") are read against it by `actions.follow_up`. Order-goal handlers
get an `OrderContext`: who is asking, about which verified order, and where to reply.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from store.service import OrderStore

#: Slots that make up the context (docs/CONTRACTS.md, "Conversation context").
TOPIC = "topic"
LAST_QUESTION = "last_question"
REFUSAL = "refusal"
FOCUS_PRODUCT = "product"
SHOWN_PRODUCTS = "shown_products"
REC_REQUEST = "rec_request"
TICKET = "handoff_ticket"
QUOTE = "shipping_quote"

#: Questions the bot asks outside a form that a "yes" or "no" answers (`last_question`).
OFFER_HANDOFF = "offer_handoff"
OFFER_RETURN = "offer_return"
CONFIRM_CANCEL = "confirm_cancel"
CONFIRM_ADDRESS = "confirm_address"

#: Words that open a sentence without saying what it is ("ok", "so", "sure", "please").
FILLERS = {
    "ok", "okay", "k", "so", "and", "but", "wait", "hi", "hey", "hello", "oh", "ah", "great", "actually", "um",
    "umm", "hmm", "btw", "also", "right", "well", "cool", "thanks", "thank", "you", "ta", "sorry", "then",
    "alright", "fine", "nice", "brill", "lovely", "sure", "please", "pls", "plz", "one", "more", "thing", "quick",
}  # fmt: skip
#: Words that open a question ("can", "is", "when", ...), also without a question mark.
QUESTION_WORDS = {
    "can", "could", "do", "does", "did", "is", "are", "was", "were", "how", "what", "whats", "what's", "when",
    "where", "wheres", "where's", "why", "who", "which", "will", "would", "am", "have", "has", "should", "shall",
    "may", "might", "isn't", "isnt", "any", "anything", "wann", "wo", "wie", "quand", "comment",
}  # fmt: skip
_YES = {
    "yes", "yeah", "yep", "yup", "yea", "ya", "yh", "aye", "sure", "definitely", "absolutely", "ja", "oui",
    "si", "y", "please", "pls", "plz", "go", "alright", "certainly", "affirmative", "correct", "ok", "okay",
}  # fmt: skip
_NO = {"no", "nope", "nah", "not", "don't", "dont", "nein", "non", "n", "never", "cancel", "stop"}
_WORD = re.compile(r"[a-zà-ÿ0-9']+")


def words(text: str) -> list[str]:
    """Lower-case words of ``text`` (apostrophes kept inside a word: ``don't``; quote marks around one are not
    part of it: "what does 'final sale' mean" has the words ``final sale``)."""
    found = (w.strip("'") for w in _WORD.findall(text.lower().replace("’", "'").replace("‘", "'")))
    return [w for w in found if w]


def has(text: str, *phrases: str) -> bool:
    """True when any phrase occurs in ``text`` on word boundaries (case-insensitive).

    A phrase ending in ``*`` matches a word prefix (``"deliver*"`` matches "delivery", "delivered").
    """
    lower = _padded(text)
    for phrase in phrases:
        tokens = _padded(phrase.rstrip("*"))
        if tokens == " ":
            continue
        if phrase.endswith("*"):
            if tokens[:-1] in lower:  # " deliver" in " ... delivery ... "
                return True
        elif tokens in lower:
            return True
    return False


@functools.lru_cache(maxsize=2048)
def _padded(text: str) -> str:
    """ " word word " for substring tests on word boundaries (texts and phrases repeat: cached)."""
    return " " + " ".join(words(text)) + " "


def is_question(text: str) -> bool:
    """A question rather than a request or an answer: a "?", or a sentence opening with a question word
    after the fillers ("fair enough. whats your return window")."""
    if "?" in text:
        return True
    for sentence in re.split(r"[.!;,\n]+", text):
        tokens = words(sentence)
        while tokens and tokens[0] in FILLERS:
            tokens.pop(0)
        if tokens and tokens[0] in QUESTION_WORDS:
            return True
    return False


def starts_yes(text: str) -> bool:
    """The message opens with a yes ("yes please", "yeah go on then", "sure, all of it")."""
    tokens = words(text)
    if not tokens:
        return False
    if tokens[0] in {"ok", "okay", "alright", "go", "please", "pls", "plz"}:
        # "ok when will it arrive" is not a yes to anything; "ok do it", "ok yes", "go ahead" are.
        rest = tokens[1:3]
        return not rest or rest[0] in _YES or rest[0] in {"do", "then", "ahead", "on", "start", "thanks", "thank"}
    return tokens[0] in _YES


def starts_no(text: str) -> bool:
    """The message opens with a no ("no thanks", "nah it's fine", "not now")."""
    tokens = words(text)
    return bool(tokens) and (tokens[0] in _NO - {"cancel", "stop"} or tokens[:2] in (["no", "thanks"], ["not", "now"]))


@dataclass(frozen=True)
class Said:
    """The latest customer message as NLU read it.

    Attributes:
        text: what they typed ('' for a button payload without words).
        intent: the intent NLU chose (``nlu_fallback`` when unsure).
        confidence: its confidence.
        entities: every entity value by entity name, in message order.
        button: True when the message was a button press (a ``/intent{...}`` payload).
    """

    text: str
    intent: str
    confidence: float
    entities: dict[str, list[str]] = field(default_factory=dict)
    button: bool = False

    def entity(self, name: str) -> str | None:
        """The first value of entity ``name`` in this message, or None."""
        values = self.entities.get(name)
        return values[0] if values else None

    def has(self, *phrases: str) -> bool:
        """See `has`."""
        return has(self.text, *phrases)

    @property
    def question(self) -> bool:
        """See `is_question`."""
        return is_question(self.text)


def said(tracker: Tracker) -> Said:
    """The latest message of ``tracker``."""
    latest = tracker.latest_message or {}
    text = str(latest.get("text") or "")
    intent = latest.get("intent") or {}
    entities: dict[str, list[str]] = {}
    for entity in latest.get("entities") or []:
        name, value = entity.get("entity"), entity.get("value")
        if name and value not in (None, ""):
            entities.setdefault(str(name), []).append(str(value))
    button = text.startswith("/")
    return Said(
        text="" if button else text,
        intent=str(intent.get("name") or ""),
        confidence=float(intent.get("confidence") or 0.0),
        entities=entities,
        button=button,
    )


def about(topic: str | None, **context: Any) -> list[EventType]:
    """Events that record what the bot just answered about.

    Args:
        topic: the topic now (`topic` slot); None keeps it.
        context: other context slots by name (``product=``, ``shown_products=``, ``last_question=``,
            ``refusal=``, ...). ``last_question`` and ``refusal`` are cleared unless given: they belong to
            the answer that set them.
    """
    events: list[EventType] = []
    if topic is not None:
        events.append(SlotSet(TOPIC, topic))
    context.setdefault(LAST_QUESTION, None)
    context.setdefault(REFUSAL, None)
    events += [SlotSet(name, value) for name, value in context.items()]
    return events


def settled(tracker: Tracker, events: list[EventType]) -> list[EventType]:
    """``events`` without slot events that set a slot to the value it already has.

    Every answer records its context; most turns leave most of it as it was, and each event makes the
    conversation rasa stores, loads and sends to the action server on every call a little longer.
    """
    out: list[EventType] = []
    pending: dict[str, Any] = {}
    for event in events:
        if event.get("event") == "slot":
            pending[event["name"]] = event
            continue
        out.append(event)
    kept = [e for name, e in pending.items() if tracker.get_slot(name) != e.get("value")]
    # slot events first, in the order given, then the rest (follow-ups, loops) as given
    return kept + out


def settles(run: Callable[..., Awaitable[list[EventType]]]) -> Callable[..., Awaitable[list[EventType]]]:
    """Decorate an action's ``run`` so it returns only the context that changed (see `settled`)."""

    @functools.wraps(run)
    async def wrapper(self: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Any) -> list[EventType]:
        return settled(tracker, list(await run(self, dispatcher, tracker, domain) or []))

    return wrapper


#: Asking for a person in words NLU may not file as a hand-off (a shop assistant, "someone to sort it").
_ASKS_FOR_A_PERSON = (
    "get someone", "someone to sort", "someone sort", "speak to someone", "talk to someone", "speak to a",
    "talk to a", "real person", "a real one", "shop assistant", "someone show", "somebody show", "can someone help",
    "someone help me", "somebody help me", "can a person", "a person do", "get a person",
    "need a person", "want a person", "to a person", "a human", "ring somebody", "ring someone", "call someone",
    "phone someone", "member of staff", "staff member",
    "someone who works", "assistant come", "someone come", "somebody come", "come over", "manager",
    # being passed on to the person ("ok put me through then", "transfer me please", "connect me to them")
    "put me through", "transfer me", "connect me to a", "connect me with a", "connect me to them",
    "connect me to some*", "connect me with some*", "pass me on", "pass me over", "hand me over",
    "parler à quelqu'un", "parler a quelqu'un", "quelqu'un", "un conseiller", "mit jemandem", "jemand",
    "einen mitarbeiter", "mitarbeiter",
)  # fmt: skip
#: "can someone look into it", "could somebody gift wrap it": a person asked to do something, in any words.
_SOMEONE_TO = re.compile(
    r"\b(?:can|could|would|will|cn|pls|please|need|want|get)\s+(?:me\s+|i\s+(?:get|have)\s+)?"
    r"(?:some\s?one|somebody|a person|a human|a colleague|a member of staff|staff|an assistant|"
    r"a shop assistant)(?!\s+else)\b"
)


#: Turning a person down ("no I don't want a person", "I don't need anyone, just tell me"): no request for one.
_REFUSES_A_PERSON = re.compile(
    r"\b(?:(?:don't|dont|do not|never|not)\s+(?:really\s+)?(?:want|need|wanna)\s+"
    r"(?:to\s+(?:speak|talk)\s+(?:to|with)\s+)?(?:a|an|any|the)?\s*"
    r"(?:person|human|one|anyone|anybody|someone|somebody|agent|colleague|manager|staff|people)"
    r"|(?:don't|dont|do not)\s+(?:pass|put|transfer|hand)\s+me"
    r"|no\s+(?:person|human|people|agent|need for)|without\s+(?:a\s+)?(?:person|human))\b"
    # "not interested in a human", "not bothered about talking to anyone", "i'd rather not speak to anyone", "no
    # humans thanks", "keep the people out of it", "not after a person", "don't bother passing me on"
    r"|\b(?:not\s+(?:interested\s+in|bothered\s+(?:about|with)|after|looking\s+for|keen\s+on)|rather\s+not|"
    r"no\s+(?:use|point)\s+(?:in|for)|don'?t\s+bother(?:\s+with)?|do\s+not\s+bother(?:\s+with)?|"
    r"no\s+need\s+(?:of|to))\s+(?:(?:talking|speaking|dealing|chatting|being\s+passed|passing\s+me|"
    r"getting|involving|bringing\s+in|(?:to\s+)?(?:talk|speak|deal|chat))\s+(?:to|with|in|on|)\s*)?"
    r"(?:a|an|any|the|some)?\s*(?:person|people|human|humans|anyone|anybody|someone|somebody|agent|agents|"
    r"colleague|colleagues|staff|manager|real\s+person|me\s+on|me\s+over)\b"
    r"|\b(?:don'?t|do\s+not|no\s+need\s+to)\s+bother\s+(?:passing|putting|transferring|handing|sending)\s+me\b"
    r"|\bno\s+(?:humans|persons|agents|colleagues|transfer|hand\s?-?\s?off|handover)\b"
    r"|\b(?:keep|leave)\s+(?:the\s+)?(?:humans?|people|person|staff|agents?)\s+out\b"
)


def refuses_a_person(text: str) -> bool:
    """The words turn a person down ("no I don't want a person, just tell me the new date")."""
    return bool(text) and bool(_REFUSES_A_PERSON.search(" ".join(words(text))))


#: Claiming a role to be shown an order ("I'm a manager", "I work at the shop", "I'm authorised"): a claim the
#: chat cannot check, never a request for a person (nor a reason to skip the proof).
_ROLE_CLAIM = re.compile(
    r"\b(?:i'?m|i am|as)\s+(?:a|an|the)?\s*(?:store\s+|shop\s+|branch\s+|area\s+)?(?:manager|supervisor|"
    r"member of staff|staff member|staff|employee|admin|owner)\b"
    r"|\bi\s+work\s+(?:at|for|in|here)\b[^,.;!?]*"
    r"|\bi'?m\s+(?:authori[sz]ed|allowed|permitted)\b"
    r"|\bi\s+am\s+(?:authori[sz]ed|allowed|permitted)\b",
    re.I,
)


def claims_a_role(text: str) -> bool:
    """ "I'm a manager, I'm authorised", "I work at the shop": a role claimed, which the chat cannot check."""
    return bool(_ROLE_CLAIM.search(text or ""))


_WHAT_I_DO = ("what can you do", "what can you help", "what can u do", "what can u help", "what do you do",
              "how can you help", "what are you for", "what can i ask")  # fmt: skip
#: Asking what the assistant can do, in other words ("what can you actually do", "what else can u help with").
_WHAT_I_DO_RE = re.compile(
    r"\bwhat\b(?:\s+else)?\s+(?:can|could|do)\s+(?:you|u)\s+(?:(?:actually|even|really|exactly|else|then)\s+)?"
    r"(?:do|help)\b(?!\s+(?:about|with)\s+(?:it|this|that|my|the)\b)"
    # "what are you even for then", "what's the point of you", "what good are you", "what are you good for"
    r"|\bwhat\s+(?:are|r)\s+(?:you|u)\s+(?:(?:even|actually|really|exactly|then|good)\s+)*for\b"
    r"|\bwhat'?s\s+the\s+point\s+of\s+(?:you|u|this\s+(?:bot|chat|thing))\b|\bwhat\s+is\s+the\s+point\s+of\s+"
    r"(?:you|u|this\s+(?:bot|chat|thing))\b|\bwhat\s+(?:good|use)\s+(?:are|r)\s+(?:you|u)\b"
    r"|\bwhat\s+(?:do|can)\s+(?:you|u)\s+even\s+do\b",
    re.I,
)


def asks_what_i_do(text: str) -> bool:
    """ "what can you do", "what can you actually help me with?": a question about the assistant, in any action
    NLU sends it to (after "no no I don't need a person" it is filed as asking for one)."""
    return bool(text) and (has(text, *_WHAT_I_DO) or bool(_WHAT_I_DO_RE.search(text)))


#: Praise, and the words without which praise is not a complaint in disguise ("lovely, but it broke").
_PRAISE = ("lovely", "love it", "loved it", "loved", "great", "amazing", "brilliant", "fantastic", "perfect",
           "excellent", "wonderful", "just wanted to say thanks", "say thank", "thank you so much", "well done",
           "happy with", "so pleased", "delighted", "helpful", "so useful", "really useful", "so quick", "so easy",
           "super quick", "super easy", "quick and easy", "impressed", "good job", "great job", "saved me",
           "really good", "so much easier", "much easier than", "easier than phoning", "easier than calling",
           "in no time", "got everything sorted", "sorted me out", "sorted it out so", "so much better than",
           "spot on", "a lifesaver", "life saver", "lifesaver", "10/10", "five stars", "5 stars")  # fmt: skip
_GRIEVANCE = ("but", "not", "never", "no ", "broken", "damaged", "wrong", "late", "missing", "complain*", "refund",
              "disappoint*", "annoy*", "angry", "terrible", "awful", "worst", "rubbish", "isn't", "wasn't", "didn't",
              "hasn't", "haven't", "problem", "issue", "sarcas*", "yeah right")  # fmt: skip


#: Praise that holds a grievance word ("sorted in no time", "no hassle at all").
_NOT_GRIEVANCE = re.compile(
    r"\b(?:in no time(?: at all)?|no (?:hassle|fuss|bother|problems?|issues?|stress|faff)(?: at all)?|not bad)\b",
    re.IGNORECASE,
)


#: Praise in a comparison or an exclamation ("way better than waiting on the phone", "that was quick").
_PRAISE_RE = re.compile(
    r"\b(?:(?:way|much|so much|loads|far|miles|a lot|heaps|tons)\s+(?:better|quicker|faster|easier|nicer)\s+than|"
    r"(?:better|quicker|faster|easier)\s+than\s+(?:waiting|phoning|calling|ringing|emailing|being on hold|the phone|"
    r"a call|on the phone|hold)|"
    r"that\s+(?:was|is|'s)\s+(?:\w+\s+)?(?:quick|fast|easy|painless|simple|speedy|smooth|handy|efficient)|"
    r"(?:quick|fast|speedy|painless|easy|smooth)\s+(?:work|service|stuff|reply|response|one)|"
    r"you(?:'re| are)\s+(?:a\s+)?(?:star|legend|ace|the best|a gem)|nice one|top notch|cracking job|"
    r"(?:beats|better than)\s+(?:waiting|phoning|calling|being on hold))",
    re.IGNORECASE,
)


def praises(text: str) -> bool:
    """Praise with no grievance in it ("your chat thing is really helpful, sorted my return in 2 mins"), which
    is thanked, never apologised to nor misunderstood."""
    if not text or not (has(text, *_PRAISE) or _PRAISE_RE.search(text)):
        return False
    return not has(_NOT_GRIEVANCE.sub(" ", text), *_GRIEVANCE)


def wants_a_person(text: str) -> bool:
    """The words ask for a person to do something ("can someone look into it", "can someone gift wrap it",
    "get me someone to help"), not only mention one ("can someone else collect my parcel?" is a delivery
    question) nor turn one down ("I don't want a person"), nor claim to be one ("I'm a manager")."""
    if not text or refuses_a_person(text):
        return False
    rest = _ROLE_CLAIM.sub(" ", text)
    lower = " ".join(words(rest))
    return has(rest, *_ASKS_FOR_A_PERSON) or bool(_SOMEONE_TO.search(lower))


#: Answers that leave the request to a colleague (account details, data requests), each offering that person:
#: "why can't you?", "so how do I do it?", "will my order history go too?" follow them.
FOR_A_COLLEAGUE = frozenset(
    {"utter_account_out_of_scope", "utter_data_request", "utter_data_kept", "utter_colleague_how",
     "utter_why_colleague", "utter_colleague_scope"}
)  # fmt: skip


def last_bot_turn(tracker: Tracker) -> list[dict[str, Any]]:
    """The bot's messages (``bot`` events, oldest first) between the customer's message before the latest one and
    the latest: what the customer is reacting to."""
    turn: list[dict[str, Any]] = []
    seen_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            if seen_user:
                break
            seen_user = True
        elif event.get("event") == "bot" and seen_user:
            turn.append(event)
    turn.reverse()
    return turn


def response_of(event: dict[str, Any]) -> str | None:
    """The response name (``utter_...``) a bot event was said from."""
    return str((event.get("metadata") or {}).get("utter_action") or "") or None


def last_bot_response(tracker: Tracker) -> str | None:
    """The response name (``utter_...``) of the bot's last message before the latest customer message."""
    turn = last_bot_turn(tracker)
    return response_of(turn[-1]) if turn else None


def last_bot_text(tracker: Tracker) -> str:
    """The words the bot said in its turn before the latest customer message ('' when none)."""
    seen_user = False
    said_then: list[str] = []
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            if seen_user:
                break
            seen_user = True
        elif event.get("event") == "bot" and seen_user:
            said_then.append(str(event.get("text") or ""))
    return " ".join(reversed(said_then))


#: The intents that set each goal (domain.yml, slot `goal`).
GOAL_INTENTS = {
    "track_order": "track", "cancel_order": "cancel", "change_shipping_address": "change_address",
    "get_invoice": "invoice", "return_item": "return", "return_status": "return_status",
    "request_refund": "refund", "refund_status": "refund_status", "payment_problem": "payment",
}  # fmt: skip


def slot_before_latest(tracker: Tracker, name: str) -> Any:
    """The value slot ``name`` had before the latest customer message (None when it had none): what the
    message's own slot mappings (an intent setting the `goal`) replaced."""
    seen_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            seen_user = True
        elif seen_user and event.get("event") == "slot" and event.get("name") == name:
            return event.get("value")
    return None


def goal_message(tracker: Tracker) -> str:
    """The words of the message that set the goal: the last one with an order intent, or the one an action
    read a goal from (its `goal` slot event follows it); '' when none did."""
    goal_set = False
    for event in reversed(tracker.events):
        if event.get("event") == "slot" and event.get("name") == "goal" and event.get("value"):
            goal_set = True
        if event.get("event") != "user":
            continue
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if intent in GOAL_INTENTS or goal_set:
            text = str(event.get("text") or "")
            return "" if text.startswith("/") else text
    return ""


@dataclass(frozen=True)
class OrderContext:
    """A verified order question in one conversation."""

    dispatcher: CollectingDispatcher
    tracker: Tracker
    store: OrderStore
    conversation_id: str
    order_number: str


#: Putting a decision off ("ok good to know, I'll think about it"): nothing to do, nothing misunderstood.
THINK_IT_OVER = ("think about it", "think it over", "have a think", "sleep on it", "i'll decide", "ill decide",
                 "decide later", "maybe later", "i'll come back", "ill come back", "get back to you")  # fmt: skip
#: Going off to find (or ask someone for) what the check asks for ("I'll find the confirmation email and come
#: back", "ok I'll ask her for the right one", "I don't have it on me, I'll come back later").
_BACK_LATER = ("and come back", "will come back", "come back later", "come back to you", "come back to it",
               "come back to this", "i'll be back", "ill be back", "be back", "back later", "i'll find", "ill find",
               "let me find", "need to find", "have to find", "got to find", "gotta find", "go and find",
               "i'll look for", "ill look for", "let me look for", "i'll dig", "ill dig", "let me dig", "look it up",
               "do it later", "try later", "try again later", "later on", "another time", "in a bit",
               "i'll ask", "ill ask", "let me ask", "need to ask", "have to ask", "go and ask", "ask her", "ask him",
               "ask them", "ask my", "check with", "i'll get it", "ill get it", "don't have it on me",
               "dont have it on me", "not on me", "don't have it to hand", "dont have it to hand")  # fmt: skip


#: Not having the order number at hand ("I don't have the number to hand just now", "can't find my order number").
_NO_NUMBER = re.compile(
    r"\b(?:don'?t|do not|haven'?t|have not|can'?t|cannot|couldn'?t|no)\s+(?:have|got|find|see|remember|know)?\s*"
    r"(?:the|my|an|any|her|his|its|it'?s)?\s*(?:order\s+)?(?:number|ref(?:erence)?|it)\b.*?\b(?:to hand|on me|"
    r"with me|handy|just now|right now|at the moment|anywhere)\b|\b(?:can'?t|cannot|couldn'?t)\s+find\s+(?:the|my)\s+"
    r"order\s+(?:number|ref(?:erence)?)\b|\bno idea (?:what|of) (?:the|my) order number\b",
    re.IGNORECASE,
)


def lacks_the_number(latest: Said) -> bool:
    """ "I don't have the number to hand just now": no order number yet, and no request for a person."""
    text = latest.text
    return bool(text) and not latest.entity("order_number") and bool(_NO_NUMBER.search(text.replace("’", "'")))


def puts_the_check_off(latest: Said) -> bool:
    """The customer goes off to find the proof (or to ask for it) or will come back later, giving no proof and
    no order number and asking nothing. Read by the verification form (whatever NLU filed the message under: it
    is never a proof) and by `action_follow_up` and `action_goodbye` while the form waits."""
    text = latest.text
    return (
        bool(text)
        and not is_question(text)
        and not latest.entity("email")
        and not latest.entity("postcode")
        and not latest.entity("order_number")
        and has(text, *_BACK_LATER, *THINK_IT_OVER)
    )


#: How many customer messages an offer of a person or a return stands for when the talk moves on in between
#: ("shall I pass you to a person?" ... "how long would that take?" ... "fine, do it").
OFFER_TURNS = 3
#: The yes/no offers that outlive the turns in between (`standing_offer`).
_STANDING = frozenset({OFFER_HANDOFF, OFFER_RETURN})
#: Words a bare yes to an offer is made of ("fine do it", "ok go ahead", "meh ok", "alright then, please do").
_BARE_YES = frozenset(
    {*_YES, "fine", "do", "it", "that", "then", "ahead", "on", "meh", "alright", "allright", "aight", "okey", "okie",
     "oki", "kk", "k", "go", "for", "lets", "let's", "let", "us", "please", "just",
     "sounds", "good", "great", "perfect", "cool", "why", "not", "sure", "thing", "that'd", "be", "would", "i",
     "guess", "suppose", "so", "well", "oh", "right", "yes", "yeah", "pass", "me", "over", "through", "them",
     "with", "whatever", "lovely", "brill", "nice", "and", "we", "can"}
)  # fmt: skip


def bare_yes(latest: Said) -> bool:
    """A yes and nothing more ("fine do it", "ok go ahead", "meh ok", "yes please"): no question, nothing named,
    a handful of words of assent (NLU's affirm counts when the words say no more than that)."""
    text = latest.text
    if latest.button or not text or "?" in text or latest.entities or starts_no(text):
        return False  # (every word is one of assent, so only a "?" makes it a question: "do it?")
    tokens = words(text)
    if not tokens or len(tokens) > 6 or not all(t in _BARE_YES for t in tokens):
        return False
    return latest.intent == "affirm" or starts_yes(text) or bool({"fine", "meh", "do", "ahead"} & set(tokens))


def standing_offer(tracker: Tracker) -> str | None:
    """The offer of a person or a return the bot made in the last `OFFER_TURNS` customer messages that is still
    open (None when there is none): the customer neither took it, nor turned it down or a person down, nor was
    asked another yes/no question or a form's question since, and no ticket was opened. Answers in between clear
    the `last_question` slot (`about`); this reads the conversation's events instead, so "fine do it" two turns
    after "shall I pass you to a person?" still takes it."""
    messages = 0
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            messages += 1
            if messages > OFFER_TURNS:
                return None
            if messages == 1:
                continue  # the latest message: the one that may answer it
            text = str(event.get("text") or "")
            intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
            if intent in {"affirm", "deny"} or text.startswith("/") or starts_yes(text) or starts_no(text):
                return None  # answered (or another question was)
            if refuses_a_person(text):
                return None  # "not interested in a human": that offer is turned down
        elif kind == "slot":
            name, value = event.get("name"), event.get("value")
            if name == LAST_QUESTION and value is not None:
                return str(value) if value in _STANDING else None  # the latest yes/no asked, unless another one
            if name in {TICKET, "requested_slot"} and value is not None:
                return None  # a ticket opened, or a form asked its own question since
        elif kind == "active_loop" and event.get("name"):
            return None
    return None
