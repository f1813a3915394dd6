"""Verification before anything about an order is said: validates `verify_order_form`.

The rules (what proves ownership, how many attempts, when checks pause) live in the order store; this
module only asks for the order number and the proof and relays the store's verdict, with the source the
gateway vouched for (``channel_context``), so failed proofs are counted per order and per source across
conversations. One proof, one scope: a postcode opens that order, an e-mail also the customer (their other
orders without a new proof, linking this chat, order news), so the account goals ask for the e-mail.
Store staff (Slack users on the gateway's allowlist, known from the gateway's signed claim) give only the
order number: the store grants and records their access (`OrderStore.grant_staff_access`).
"""

from __future__ import annotations

import contextvars
import logging
import re
from typing import Any, Dict, List, Tuple

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions.account import after_verification
from actions.common import ChannelContext, channel_context, conversation_id, current_order, get_store, verified_order
from actions.context import (
    FOR_A_COLLEAGUE,
    LAST_QUESTION,
    OFFER_HANDOFF,
    TOPIC,
    Said,
    has,
    is_question,
    last_bot_response,
    puts_the_check_off,
    said,
    words,
)
from actions.product_lookup import in_focus
from actions.products import asks_for_delivery, how_to_get_it_delivered
from actions.reader import answer_aside, in_context
from actions.returns import policy_part, policy_question, product_money_back
from actions.shipping import asks_if_tracked
from store.errors import (
    InvalidInput,
    NotAuthorized,
    OrderNotFound,
    VerificationFailed,
    VerificationLocked,
    VerificationPaused,
)
from store.normalize import normalize_order_number, normalize_rma
from store.proofs import proof_candidates

logger = logging.getLogger(__name__)

VERIFIED = "verified"
#: Goals about the customer rather than one order: they need the customer's e-mail, not a postcode.
ACCOUNT_GOALS = frozenset({"channels", "unlink", "notify_on", "notify_off"})
#: The intents that start the check for an account goal (NLU's guess: "who sees my info here?" as linked chats).
#: The answers to a question about the data kept or a request to delete it (`actions.follow_up.privacy_question`).
_PRIVACY_ANSWERS = frozenset({"utter_data_kept", "utter_data_request"})
_ACCOUNT_INTENTS = frozenset({"manage_channels", "unlink_channel", "notifications_opt_in", "notifications_opt_out"})
#: Slot set when checks cannot go on in this form run (paused, or put off by the customer): the form ends
#: instead of asking.
STOPPED = "verification_locked"
#: Intents NLU gives a question about a product not bought yet ("can I get my money back if she never uses it?").
_PRODUCT_QUESTION_INTENTS = frozenset({"request_refund", "refund_status", "return_item"})
#: ``required_slots`` answers of the form validation running in this task, by what they were read from; emptied
#: whenever a ``validate_`` method runs (it may verify, grant or count an attempt). rasa-sdk asks ``required_slots``
#: three times per run (extraction, validation, the next slot): the first two read the same slots from the same
#: store, so the second reuses the first's answer instead of asking the store again (2-3 queries each time).
_REQUIRED: contextvars.ContextVar[Dict[Tuple[Any, ...], List[str]] | None] = contextvars.ContextVar(
    "verify_form_required_slots", default=None
)


def _store_may_change() -> None:
    """A validation step is about to run: later ``required_slots`` calls of this run ask the store again."""
    answers = _REQUIRED.get()
    if answers is not None:
        answers.clear()


def needs_customer(tracker: Tracker) -> bool:
    """Whether the current goal needs the customer proved by e-mail and this conversation has not done so."""
    if tracker.get_slot("goal") not in ACCOUNT_GOALS or channel_context(tracker).is_staff:
        return False
    return get_store().verified_customer(conversation_id(tracker)) is None


class ValidateVerifyOrderForm(FormValidationAction):
    """Normalises the order number (or an RMA number standing for its order) and checks the proof."""

    def name(self) -> str:
        """Action name."""
        return "validate_verify_order_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        """As the form runs, except when it starts on a refund or return question about the product being talked
        about ("and if she never uses it, can I get my money back?" after gift cards): that is answered and no
        order is asked for (the check stops as when put off; `action_continue_goal` then says nothing)."""
        starting = tracker.get_slot("requested_slot") is None
        intent = (tracker.latest_message or {}).get("intent", {}).get("name")
        if starting and intent in _PRODUCT_QUESTION_INTENTS and product_money_back(dispatcher, tracker):
            return [SlotSet(STOPPED, True), SlotSet("requested_slot", None)]
        latest = said(tracker)
        if (
            starting
            and not tracker.get_slot("order_number")
            and not tracker.get_slot("handoff_ticket")  # a ticket open: the check's own turn (below)
            and policy_question(latest)
            and policy_part(dispatcher, latest)
        ):
            # "what's the usual wait for a refund", "who pays the courier to send it back" with no order in focus
            # (NLU: a refund or a return of an order): the policy answers it, no order is asked for
            return [SlotSet(STOPPED, True), SlotSet("requested_slot", None)]
        if (
            starting
            and tracker.get_slot(TOPIC) == "shipping"
            and not tracker.get_slot("order_number")
            and not latest.entity("order_number")
            and is_question(latest.text)
            and asks_if_tracked(latest.text)
            and not has(latest.text, "order*", "parcel", "package", "my delivery")
        ):
            # "can I track it then?" after a delivery quote (NLU: tracking an order): the options are tracked
            dispatcher.utter_message(response="utter_shipping_tracked")
            return [SlotSet(STOPPED, True), SlotSet("requested_slot", None)]
        if (
            starting
            and tracker.get_slot(TOPIC) == "products"
            and not tracker.get_slot("order_number")
            and not latest.entity("order_number")
            and asks_for_delivery(latest.text)
        ):
            # "could i just get it delivered instead" about the product in focus (NLU: an address change): it is
            # ordered on the website and delivered; no order is asked for
            product = in_focus(tracker)
            if product is not None:
                how_to_get_it_delivered(dispatcher, product)
                return [SlotSet(STOPPED, True), SlotSet("requested_slot", None)]
        if (
            starting
            and tracker.get_slot(LAST_QUESTION) == OFFER_HANDOFF
            and last_bot_response(tracker) in FOR_A_COLLEAGUE
            and not latest.entity("order_number")
        ):
            # "will my order history go too?" right after "a colleague can delete your account" (NLU: tracking an
            # order): a question about that request, answered with the colleague's offer; no order is asked for
            answered = in_context(dispatcher, tracker, caller=self.name())
            if answered is not None:
                kept = [event for event in answered if event.get("event") == "slot"]
                return [*kept, SlotSet(STOPPED, True), SlotSet("requested_slot", None)]
        if (
            (starting and latest.intent in _ACCOUNT_INTENTS)
            or (tracker.get_slot("requested_slot") == "order_number" and not verified_order(tracker))
        ) and not tracker.get_slot("handoff_ticket"):
            # with a ticket open the check's own turn answers a question about its matter ("will I get a new one or
            # my money back" after a damage report: the colleague on the ticket settles it; blind M m-hnd-03)
            answered = self._not_an_order(dispatcher, tracker, latest)
            if answered is not None:
                return answered
        token = _REQUIRED.set({})
        try:
            return await super().run(dispatcher, tracker, domain)
        finally:
            _REQUIRED.reset(token)

    def _not_an_order(self, dispatcher: CollectingDispatcher, tracker: Tracker, latest: Said) -> List[EventType] | None:
        """A question or request that is no order number, asked where the check starts on a guess ("who gets to see
        my personal info?" filed as linked chats) or while it waits for the number ("do you keep these chats?",
        "wipe everything you have on me"), when no order is in focus: answered from the conversation (the privacy
        policy, a colleague's offer, a product, a policy), and the check ends instead of "that doesn't look like an
        order number" to everything. None when it may be the order (digits, an order, e-mail or postcode) or
        nothing answers it."""
        text = latest.text
        starting = tracker.get_slot("requested_slot") is None
        if latest.button or not text or any(ch.isdigit() for ch in text):
            return None
        if any(latest.entity(name) for name in ("order_number", "rma_number", "email", "postcode")):
            return None
        if len(words(text)) < 4 and not is_question(text):
            return None  # "the pink one", "dunno": not read as a question here
        trial = CollectingDispatcher()  # said only if it answers here
        answered = in_context(trial, tracker, caller=self.name())
        if answered is None and is_question(text) and answer_aside(trial, tracker, latest):
            answered = []
        if answered is None or any(event.get("event") == "followup" for event in answered) or not trial.messages:
            return None  # sent on elsewhere ("will you tell me when it's done?": order news, this very check)
        if starting and not {m.get("response") for m in trial.messages} & _PRIVACY_ANSWERS:
            return None  # where the check starts for an account goal, only a privacy question is taken out of it
        dispatcher.messages.extend(trial.messages)
        kept = [event for event in answered if event.get("event") == "slot"]
        return [*kept, SlotSet(STOPPED, True), SlotSet("requested_slot", None)]

    async def required_slots(
        self,
        domain_slots: List[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[str]:
        """No questions once locked out or paused; no proof asked for an order this conversation proved
        (unless the goal needs the customer's e-mail and only a postcode was given).

        Within one run of the form's validation the answer is asked of the store once per validation step (see
        `_REQUIRED`)."""
        number = current_order(tracker)
        if tracker.get_slot(STOPPED):
            return []
        answers = _REQUIRED.get()
        key = (tuple(domain_slots), number, tracker.get_slot("goal"))
        if answers is not None and key in answers:
            return list(answers[key])
        required = self._required_slots(domain_slots, tracker, number)
        if answers is not None:
            answers[key] = list(required)
        return required

    @staticmethod
    def _required_slots(domain_slots: List[str], tracker: Tracker, number: str | None) -> List[str]:
        store = get_store()
        conv = conversation_id(tracker)
        if number and store.is_verified(conv, number):
            return domain_slots if needs_customer(tracker) else ["order_number"]
        if store.attempts_left(conv) <= 0:
            return []
        return domain_slots

    def validate_order_number(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[str, Any]:
        """Accept any well-formed order number (existence is only revealed after the proof).

        A new order number starts a new check (the proof is asked again, no attempt is spent on it); an
        order of the customer this conversation proved by e-mail needs no new proof.
        """
        _store_may_change()
        if tracker.get_slot("requested_slot") == "order_number" and puts_the_check_off(said(tracker)):
            # "ah I don't have it right now, I'll come back later" at "which order?": no answer, the check ends
            return _put_off(dispatcher, "order_number")
        text = str(slot_value or "")
        number = normalize_order_number(text)
        events: Dict[str, Any] = {}
        first = first_of_several(tracker)
        if first is not None and first != number:
            # "I've got two orders, ORD-A and ORD-B": one check at a time, the first named first ("and the
            # other one?" then starts the next); each order needs its own proof unless an e-mail opens both
            dispatcher.utter_message(response="utter_one_order_at_a_time", order_number=first)
            text, number = first, first
        if number is None:
            rma = normalize_rma(text)
            if rma is not None:
                # Its order's number, or the RMA itself when no such return exists: that is asked for a proof
                # and checked (and failed) like an order number that does not exist, in the same words, so the
                # answer never tells whether a return exists (red-team finding F7).
                number = get_store().case_key(rma)
                events["rma_number"] = rma
        if number is None:
            dispatcher.utter_message(response="utter_order_number_invalid")
            return {"order_number": None}
        events["order_number"] = number
        context = channel_context(tracker)
        if context.is_staff:
            return {**events, **_staff_access(dispatcher, tracker, context, number)}
        store = get_store()
        conv = conversation_id(tracker)
        if store.is_verified(conv, number):
            return events
        if store.grant_customer_order(conv, number) is not None:
            # Their e-mail already proved who they are: their other orders need no new proof.
            return {**events, "proof": VERIFIED}
        events["proof"] = None
        if store.attempts_left(conv) > 0 and store.check_paused(number, context.source) is not None:
            dispatcher.utter_message(response="utter_verification_paused")
            events[STOPPED] = True
            return events
        earlier = email_given_before(tracker)
        if earlier is None:
            # "ORD-100119 31300 where is it??": a postcode NLU did not tag, typed with the number
            earlier = proof_typed_with(tracker, number)
        if earlier is not None:
            # "ORD-100133, same email": the e-mail they typed earlier in this chat is the proof (and counted as
            # an attempt like any other); it was theirs to give, so nothing is disclosed by using it
            checked = tracker.copy()
            checked.slots["order_number"] = number
            events.update(self.validate_proof(earlier, dispatcher, checked, domain))
        return events

    def validate_proof(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[str, Any]:
        """Ask the store whether the email or postcode matches the order; it counts the attempts."""
        _store_may_change()
        store = get_store()
        conv = conversation_id(tracker)
        number = current_order(tracker)
        context = channel_context(tracker)
        if slot_value == VERIFIED:
            # The form's own marker, never a proof: it stands only for an order this conversation holds.
            ok = number is not None and store.is_verified(conv, number) and not needs_customer(tracker)
            return {"proof": VERIFIED if ok else None}
        if number and context.is_staff and store.is_verified(conv, number):
            # Staff were granted the order with its number; an email in the same message is not a proof
            # attempt and must not count towards the lock-out.
            return {"proof": VERIFIED}
        if number is None:
            # The order number is asked first; a proof given before it is asked for again after it.
            return {"proof": None}
        if tracker.get_slot("requested_slot") == "proof" and puts_the_check_off(said(tracker)):
            # "ok I'll ask her for the right one and come back", read as the proof's free text: never an attempt
            return _put_off(dispatcher, "proof")
        if any(m.get("response") == "utter_verification_paused" for m in dispatcher.messages):
            # The order number typed in the same message was found paused: said once, nothing checked.
            return {"proof": None, STOPPED: True}
        text = str(slot_value or "")
        if tracker.get_slot("goal") in ACCOUNT_GOALS and not any(c.kind == "email" for c in proof_candidates(text)):
            # Linked chats and news belong to the customer: only their e-mail proves that (asked again).
            return {"proof": None}
        try:
            verified = store.verify(conv, number, text, source=context.source if context.trusted else None)
        except InvalidInput:
            # No e-mail or postcode in it (e.g. "also I want to return ORD-100114"): not an attempt.
            return {"proof": None}
        except VerificationLocked:
            return {"proof": None}
        except VerificationPaused as paused:
            logger.info("order checks paused by %s count for %s s", paused.scope, paused.retry_after_seconds)
            dispatcher.utter_message(response="utter_verification_paused")
            return {"proof": None, STOPPED: True}
        except VerificationFailed as failure:
            if failure.attempts_left > 0:
                dispatcher.utter_message(response="utter_verification_failed", attempts_left=failure.attempts_left)
            return {"proof": None}
        first = verified.customer_first_name
        dispatcher.utter_message(
            response="utter_verified",
            order_number=verified.order_number,
            first_name_part=f", {first}" if first else "",
        )
        if verified.scope == "customer":
            # Their e-mail proved the customer on this channel: link the account, carry over what is open,
            # offer an unfinished return. A postcode proves this order only, so none of that.
            after_verification(dispatcher, tracker, verified.customer_id)
        return {"proof": VERIFIED, "order_number": verified.order_number}


def _put_off(dispatcher: CollectingDispatcher, slot: str) -> Dict[str, Any]:
    """The customer goes off to find the proof or comes back later: take your time, and the form ends without
    asking again (`STOPPED`; `action_continue_goal` then says nothing more and clears it)."""
    dispatcher.utter_message(response="utter_take_your_time")
    return {slot: None, STOPPED: True}


#: A second order number that corrects the first ("ORD-100231, sorry I meant ORD-100232"): the last one counts.
_CORRECTION = re.compile(r"\b(?:not|meant|mean|sorry|actually|instead|wrong|oops|typo)\b", re.IGNORECASE)


def first_of_several(tracker: Tracker) -> str | None:
    """The first of several different order numbers listed in the latest message, or None (one order number,
    or a second one that corrects the first)."""
    latest = tracker.latest_message or {}
    named: List[str] = []
    for entity in latest.get("entities") or []:
        if entity.get("entity") == "order_number":
            number = normalize_order_number(str(entity.get("value") or ""))
            if number and number not in named:
                named.append(number)
    if len(named) < 2 or _CORRECTION.search(str(latest.get("text") or "")):
        return None
    return named[0]


#: Words that point back to an e-mail given earlier ("same email", "the email I gave you").
_SAME_EMAIL = ("same email", "same e-mail", "same mail", "that email", "that e-mail", "the email i gave",
               "the email above", "email above", "email from before", "same as before")  # fmt: skip


def email_given_before(tracker: Tracker) -> str | None:
    """The e-mail the customer typed in an earlier message, when the latest message points back to it and gives
    no e-mail or postcode of its own; else None."""
    latest = tracker.latest_message or {}
    text = " ".join(str(latest.get("text") or "").lower().replace("’", "'").split())
    if not any(phrase in text for phrase in _SAME_EMAIL):
        return None
    if any(e.get("entity") in {"email", "postcode"} for e in latest.get("entities") or []):
        return None
    seen_latest = False
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        if not seen_latest:
            seen_latest = True  # the latest message itself
            continue
        for entity in (event.get("parse_data") or {}).get("entities") or []:
            if entity.get("entity") == "email" and entity.get("value"):
                return str(entity["value"])
    return None


def proof_typed_with(tracker: Tracker, number: str) -> str | None:
    """The proof typed in the same message as order ``number`` when NLU did not tag it (a postcode in a format its
    extractor does not know: "ORD-100119 31300 where is it??"), else None.

    The message must name that order, tag no e-mail or postcode itself (the form checks a tagged one) and hold
    exactly one e-mail or postcode besides it (several are never checked, as `OrderStore.verify` says); a bare
    four-digit number (a year or a quantity as much as an Australian postcode) is not taken, so nothing typed
    in passing costs an attempt.
    """
    latest = tracker.latest_message or {}
    if any(e.get("entity") in {"email", "postcode"} for e in latest.get("entities") or []):
        return None
    text = str(latest.get("text") or "")
    if normalize_order_number(text) != number:
        return None  # the order number came from earlier in the conversation, not this message
    found = proof_candidates(text)
    if len(found) != 1 or (found[0].kind == "postcode" and re.fullmatch(r"\d{4}", found[0].value)):
        return None
    if found[0].kind == "postcode" and found[0].value in number:
        return None  # the order number's own digits, never a proof
    return found[0].value


def _staff_access(
    dispatcher: CollectingDispatcher, tracker: Tracker, staff: ChannelContext, number: str
) -> Dict[str, Any]:
    """Let the store grant (and record) a staff member's lookup; the proof slot is then satisfied."""
    try:
        granted = get_store().grant_staff_access(
            conversation_id(tracker), number, staff.staff_id or "", staff.staff_role or ""
        )
    except OrderNotFound:
        dispatcher.utter_message(response="utter_staff_order_not_found", order_number=number)
        return {"order_number": None, "proof": None}
    except NotAuthorized:
        # A role the store does not accept: treat them like a customer, who must prove ownership.
        return {"proof": None}
    dispatcher.utter_message(
        response="utter_staff_order_access",
        order_number=granted.order_number,
        customer_first_name=granted.customer_first_name,
    )
    return {"order_number": granted.order_number, "proof": VERIFIED}
