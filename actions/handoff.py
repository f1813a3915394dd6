"""A person when the bot can't help: one hand-off ticket per conversation and where it stands, complaints,
a staff member to a tablet, and what happens when the bot did not understand.

Called by the rules for `human_handoff` and `complaint`, by `actions.follow_up` when a customer accepts the
offer of a person, and (`action_handoff_status`) for a greeting, thanks or goodbye while a ticket is open.
"""

from __future__ import annotations

from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import confirm
from actions.common import channel_context, channel_of, conversation_id, get_store, verified_order
from actions.context import (
    LAST_QUESTION,
    OFFER_HANDOFF,
    TICKET,
    TOPIC,
    Said,
    about,
    asks_what_i_do,
    claims_a_role,
    has,
    is_question,
    lacks_the_number,
    last_bot_turn,
    praises,
    puts_the_check_off,
    refuses_a_person,
    said,
    settles,
    slot_before_latest,
    wants_a_person,
)
from actions.reader import in_context
from store.normalize import normalize_order_number
from store.records import HandoffTicket

OFFICE_HOURS = "Our team answers Monday to Friday, 9:00-18:00 UK time, usually within two working hours."
SUMMARY_TURNS = 6

#: The bot's last words before the customer asked for a person -> why a person is needed.
REASON_BY_RESPONSE = {
    "utter_offer_handoff_after_fallback": "the assistant misunderstood twice",
    "utter_verification_locked": "order checks locked after three failed attempts",
    "utter_verification_paused": "order checks paused after repeated failed attempts",
    "utter_return_not_eligible": "customer disputes a refused return",
    "utter_return_refused": "customer disputes a refused return",
    "utter_offer_handoff_dispute": "customer disputes a refused return",
    "utter_complaint_offer": "complaint",
    "utter_tracking_lost": "lost parcel",
    "utter_tracking_delayed": "delayed parcel",
    "utter_delivered_not_received": "delivered parcel not received",
}
#: Bot responses that mean "I did not understand" (two in a row offer a person).
NOT_UNDERSTOOD = frozenset({"utter_ask_rephrase", "utter_out_of_scope", "utter_offer_handoff_after_fallback"})


def _last_bot_utterance(tracker: Tracker) -> Dict[str, Any] | None:
    """The bot message just before the latest customer message (what the customer is reacting to)."""
    turn = last_bot_turn(tracker)
    return turn[-1] if turn else None


_WRONG = ("wrong", "incorrect", "not what i ordered", "not the one i ordered", "damaged", "broken", "smashed",
          "cracked", "faulty", "leaking", "leaked", "missing", "arrived open", "doesn't work",
          "doesnt work")  # fmt: skip
_RECEIVED = ("got", "received", "recieved", "sent", "arrived", "came", "delivered", "ordered", "opened")


def reports_a_problem(text: str) -> bool:
    """ "I got the wrong shade, can someone sort it", "it arrived broken, get me a person": something wrong with
    what arrived, reported with the request for a person, which makes it a complaint (an apology first)."""
    return has(text, *_WRONG) and has(text, *_RECEIVED)


def handoff_reason(tracker: Tracker, intent: str) -> str:
    """Why a person is needed: a complaint, the flow that offered a person, or simply the customer's wish."""
    if intent == "complaint" or reports_a_problem(str((tracker.latest_message or {}).get("text") or "")):
        return "complaint"
    last = _last_bot_utterance(tracker)
    if last is not None:
        response = str((last.get("metadata") or {}).get("utter_action") or "")
        text = str(last.get("text") or "")
        if response == "utter_tracking_problem" or "pass this to a person on our team so they can chase" in text:
            return "lost parcel" if "lost" in text else "delayed parcel"
        if response in REASON_BY_RESPONSE:
            return REASON_BY_RESPONSE[response]
        if response == "utter_return_status" and "not accepted" in text:
            return "customer disputes a refused return"
    return "customer asked for a person"


def conversation_summary(tracker: Tracker, turns: int = SUMMARY_TURNS) -> str:
    """The last few customer messages and what the bot did, for the person taking over."""
    lines: List[str] = []
    for event in tracker.events:
        if event.get("event") == "user" and event.get("text"):
            intent = (event.get("parse_data") or {}).get("intent", {}).get("name")
            lines.append(f"customer: {event['text'][:200]} [{intent}]")
        elif (
            event.get("event") == "action"
            and str(event.get("name", "")).startswith("action_")
            and event.get("name") not in {"action_listen", "action_session_start"}
        ):
            lines.append(f"bot ran {event['name']}")
    return "\n".join(lines[-turns * 2 :])


def asks_for_a_person(text: str) -> bool:
    """The words ask for a person or a formal complaint, not only vent ("I want to complain", "a manager")."""
    return has(
        text,
        "complain*",
        "formal",
        "report it",
        "escalate",
        "manager",
        "person",
        "human",
        "someone",
        "somebody",
        "agent",
        "colleague",
        "staff",
        "real one",
        "speak to",
        "talk to",
        "look into it",
        "look at it",
        "shop assistant",
        "come over",
        "quelqu'un",
        "jemand*",
        "mitarbeiter*",
    )


def current_ticket(tracker: Tracker) -> HandoffTicket | None:
    """This conversation's open (or claimed) ticket, from the order store."""
    return get_store().current_handoff(conversation_id(tracker))


def say_ticket_status(dispatcher: CollectingDispatcher, tracker: Tracker, ticket: HandoffTicket) -> List[EventType]:
    """Where an open ticket stands and how the answer will come (no second ticket)."""
    context = channel_context(tracker)
    if context.trusted and context.channel == "tablet":
        dispatcher.utter_message(response="utter_staff_call_status", ticket=ticket.ticket_number)
    else:
        order = verified_order(tracker)
        how = "right here in this chat"
        if order:
            how += f" (or by email to the address on order {order})"
        picked = "A colleague has picked it up" if ticket.status == "assigned" else "It's in our team's queue"
        dispatcher.utter_message(
            response="utter_handoff_status",
            ticket=ticket.ticket_number,
            picked=picked,
            when=OFFICE_HOURS,
            how=how,
        )
    return about("handoff", **{TICKET: ticket.ticket_number})


def ticket_gone(dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType] | None:
    """A customer waiting for a person whose ticket is no longer open in the store. On a tablet that happens when
    another shopper's call to the same tablet was still open (the gateway closes the new ticket at once and keeps
    that call): a colleague is still coming, so the shopper is told so. Elsewhere the ticket was dealt with: the
    message is answered as usual (None); an empty answer would leave the customer with silence."""
    context = channel_context(tracker)
    if context.trusted and context.channel == "tablet":
        dispatcher.utter_message(response="utter_staff_call_pending")
        return about("handoff")
    return None


#: What a dropped order change is called ("I've stopped the cancellation of order ORD-… there").
_CHANGE_NAMES = {
    confirm.CANCEL: "the cancellation",
    confirm.ADDRESS: "the address change",
    confirm.RETURN: "the return",
}
#: The slots of the forms that end in a confirmation, emptied when one is dropped.
_CONFIRMATION_SLOTS = ("confirm_cancel", "confirm_address", "new_address", "partial_address", "confirm_return",
                       "return_items", "return_reason")  # fmt: skip


def drop_confirmation(dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
    """A person asked for or offered while an order change waits for its yes: the change is dropped and the
    customer told so, so the person is the only open question and a "yes please" then means the person
    (red-team NEW-2). The rules deactivate the form first; one still running is ended here.

    Returns:
        The events that end the form and empty its slots (none when no order change was open).
    """
    change = confirm.interrupted(tracker)
    if change is None:
        return []
    order = verified_order(tracker)
    name = _CHANGE_NAMES[change]
    if order:
        name += f" of order {order}" if change == confirm.CANCEL else f" for order {order}"
    dispatcher.utter_message(response="utter_confirmation_dropped", change=name)
    events: List[EventType] = []
    if confirm.is_form((tracker.active_loop or {}).get("name")):
        events += [ActiveLoop(None), SlotSet("requested_slot", None)]
    return events + [SlotSet(slot, None) for slot in _CONFIRMATION_SLOTS if tracker.get_slot(slot) is not None]


def check_order_given(tracker: Tracker, latest: Said) -> List[EventType]:
    """The order check for an order (or its proof) given in a complaint or in turning a person down: what the
    customer wants is that order put right or answered, so its details are never dropped for the offer of a
    person. Empty when the message gives none, or the order given is already checked (the context answers it).
    """
    if latest.button or tracker.get_slot(TICKET):
        return []
    number = latest.entity("order_number")
    proof = latest.entity("email") or latest.entity("postcode")
    if number:
        number = normalize_order_number(number) or number
        if verified_order(tracker) == number:
            return []
        events: List[EventType] = [SlotSet("order_number", number)]
    elif proof and tracker.get_slot("order_number") and not verified_order(tracker):
        events = []
    else:
        return []
    goal = tracker.get_slot("goal") or "track"
    return [*events, SlotSet("goal", goal), FollowupAction("verify_order_form")]


class ActionHandoff(Action):
    """Opens the conversation's hand-off ticket (a request for a person, or a complaint), at most one at a time."""

    def name(self) -> str:
        """Action name."""
        return "action_handoff"

    @settles
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        """Open the ticket with a summary and the verified order, or say where the open one stands.

        A complaint that only vents ("this is so annoying") gets an apology and the offer of a person;
        one that asks for action ("I want to make a complaint", "a manager") opens the ticket.
        """
        latest = said(tracker)
        intent = latest.intent or "human_handoff"
        if asks_what_i_do(latest.text):
            # "what can you help with?", "no no I don't need a person, what can you actually help me with?": a
            # question about the assistant, not a request for a person
            dispatcher.utter_message(response="utter_what_i_do")
            return about(None)
        if (
            claims_a_role(latest.text)
            and slot_before_latest(tracker, "requested_slot") in {"order_number", "proof"}
            and not (latest.entity("email") or latest.entity("postcode"))
            and not channel_context(tracker).is_staff
            and not tracker.get_slot(TICKET)
        ):
            # "I'm staff, I'm authorised, just give it to me" at the order check, on a customer's channel (NLU: a
            # person): a role the chat cannot check opens nothing, a ticket included; what each proof opens, and
            # the check asks again (staff use the staff channel, where no proof is asked)
            dispatcher.utter_message(response="utter_why_proof")
            return [FollowupAction("verify_order_form")]
        if not tracker.get_slot(TICKET) and not wants_a_person(latest.text):
            if lacks_the_number(latest):
                # "I don't have the number to hand just now" (NLU: a person): where to find it, no ticket
                dispatcher.utter_message(response="utter_no_number_to_hand")
                return about(None)
            if puts_the_check_off(latest) and not has(latest.text, "person", "human", "someone", "colleague"):
                # "maybe I typed the number wrong, let me dig out the email and come back": take your time
                dispatcher.utter_message(response="utter_take_your_time")
                return about(None)
        if intent == "complaint" and praises(latest.text):
            # "just wanted to say thanks, the last order was lovely": praise NLU read as a complaint
            dispatcher.utter_message(response="utter_praise_thanks")
            return about(None)
        if refuses_a_person(latest.text) and not tracker.get_slot(TICKET):
            # "no I don't want a person, just tell me the new date" filed as asking for one: the no is read here
            # as in the follow-up, and the question after it answered from the order in focus
            answered = in_context(dispatcher, tracker, caller=self.name())
            if answered is not None:
                return answered
            check = check_order_given(tracker, latest)
            if check:
                return check  # "... just tell me the new date. ORD-… email": the order is checked, then answered
            dispatcher.utter_message(response="utter_no_person")
            return about(None)
        if (
            intent == "complaint"
            and is_question(latest.text)
            and not asks_for_a_person(latest.text)
            and not tracker.get_slot(TICKET)
            and not (tracker.get_slot(LAST_QUESTION) == OFFER_HANDOFF and tracker.get_slot(TOPIC) == "handoff")
        ):
            # (an offer of a person made by an order's answer, "it's late; shall I pass this to a person?", does
            # not stop "why is it late anyway" being answered; the complaint's own offer does)
            # "why is it late anyway" after tracking a late parcel (and turning the person down): a question
            # about the order in focus, answered from it; a grievance nothing in context answers is one still
            answered = in_context(dispatcher, tracker, caller=self.name())
            if answered is not None:
                return answered
        dropped = drop_confirmation(dispatcher, tracker)
        return dropped + self._person(dispatcher, tracker, latest, intent)

    def _person(self, dispatcher: CollectingDispatcher, tracker: Tracker, latest: Said, intent: str) -> List[EventType]:
        """The ticket (or its status, the offer of a person, a staff call on a tablet) once nothing else is open."""
        context = channel_context(tracker)
        existing = current_ticket(tracker)
        on_tablet = context.trusted and context.channel == "tablet" and context.store_id
        if on_tablet and (intent == "human_handoff" or (intent != "complaint" and asks_for_a_person(latest.text))):
            return self._call_staff(dispatcher, tracker, str(context.store_id), existing)
        if existing is not None:
            if intent == "complaint":
                dispatcher.utter_message(response="utter_complaint_noted", ticket=existing.ticket_number)
                return about("handoff", **{TICKET: existing.ticket_number})
            return say_ticket_status(dispatcher, tracker, existing)
        if intent == "complaint" and not asks_for_a_person(latest.text):
            check = check_order_given(tracker, latest)
            if check:
                # "THIRD time your courier 'tried' to deliver. Order ORD-…": what happened to that order is
                # checked first (its answer apologises and offers a person when it is late or lost)
                return check
            dispatcher.utter_message(response="utter_complaint_offer")
            return about("handoff", last_question=OFFER_HANDOFF)
        reason = handoff_reason(tracker, intent)
        order = verified_order(tracker)
        store = get_store()
        customer_id = store.verified_customer(conversation_id(tracker)) if order else None
        summary = conversation_summary(tracker)
        ticket = store.open_handoff(
            conversation_id(tracker),
            channel=channel_of(tracker),
            reason=reason,
            summary=summary,
            order_number=order,
            customer_id=customer_id,
        )
        response = "utter_complaint" if reason == "complaint" else "utter_handoff"
        dispatcher.utter_message(response=response, ticket=ticket.ticket_number, when=OFFICE_HOURS)
        # For staff only (docs/CONTRACTS.md): the gateway posts it to Slack and never shows it to the customer.
        payload: Dict[str, Any] = {
            "type": "handoff",
            "ticket": ticket.ticket_number,
            "reason": reason,
            "summary": summary,
            "order_number": order,
        }
        if customer_id is not None:
            payload["customer"] = f"verified customer #{customer_id}"
        dispatcher.utter_message(json_message=payload)
        return about("handoff", **{TICKET: ticket.ticket_number})

    @staticmethod
    def _call_staff(
        dispatcher: CollectingDispatcher, tracker: Tracker, store_id: str, existing: HandoffTicket | None
    ) -> List[EventType]:
        """A shopper at an in-store tablet wants a colleague: a ticket for that shop and a ``staff_call``.

        No text here on purpose: the tablet channel posts the call to the shop's staff and only then
        tells the shopper whether someone is coming (or to ask at the till when nobody could be told).
        Asking again calls again, under the same ticket.
        """
        summary = conversation_summary(tracker)
        ticket = existing or get_store().open_handoff(
            conversation_id(tracker),
            channel="tablet",
            reason=f"shopper at the {store_id} tablet asked for a staff member",
            summary=summary,
            store_id=store_id,  # the console's queue shows which shop the shopper is waiting in
        )
        dispatcher.utter_message(
            json_message={
                "type": "staff_call",
                "store_id": store_id,
                "ticket": ticket.ticket_number,
                "summary": summary,
            }
        )
        return about("handoff", **{TICKET: ticket.ticket_number})


#: Words that end the talk whatever NLU guessed ("nvm found it, thanks", "bye").
_SIGN_OFF = ("thank*", "thx", "ty", "cheers", "ta", "bye", "goodbye", "found it", "nvm", "never mind", "sorted",
             "all good")  # fmt: skip


class ActionHandoffStatus(Action):
    """A greeting, thanks or goodbye while a ticket is open: where it stands (rules conditioned on the ticket)."""

    def name(self) -> str:
        """Action name."""
        return "action_handoff_status"

    @settles
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        """The ticket's status; once staff closed it, the bot is itself again."""
        ticket = current_ticket(tracker)
        intent = said(tracker).intent
        context = channel_context(tracker)
        text = said(tracker).text
        if (
            ticket is None
            and context.trusted
            and context.channel == "tablet"
            and (
                has(text, *_WAITS_HERE)
                and not has(text, "found it", "nvm", "never mind", "sorted", "bye")
                or (intent != "thank" and not has(text, *_SIGN_OFF))
            )
        ):
            # A shopper whose call the gateway merged into the tablet's open call ("hello?", "ok I'll wait by the
            # tills"): the colleague is still coming, so the greeting or goodbye NLU guessed is read as waiting
            # (thanks and a real goodbye, "nvm found it, thanks", are answered as such).
            answered = in_context(dispatcher, tracker, caller=self.name())
            if answered is None and intent == "greet":
                answered = ticket_gone(dispatcher, tracker)
            if answered is not None:
                return answered
        if ticket is None:
            response = {"thank": "utter_thank", "goodbye": "utter_goodbye"}.get(intent, "utter_greet")
            dispatcher.utter_message(response=response)
            return [SlotSet(TICKET, None)]
        if intent == "goodbye":
            dispatcher.utter_message(response="utter_goodbye_ticket_open", ticket=ticket.ticket_number)
            return []
        if intent == "thank":
            dispatcher.utter_message(response="utter_thank_ticket_open", ticket=ticket.ticket_number)
            return []
        return say_ticket_status(dispatcher, tracker, ticket)


#: Thanks that say the shopper waits for the colleague ("Thank you, I'll wait by the skincare"), unlike "nvm found
#: it, thanks".
_WAITS_HERE = ("wait", "waiting", "i'll be by", "ill be by", "i'll stay", "ill stay", "stay here", "i'll be at",
               "ill be at", "i'll be in", "ill be in")  # fmt: skip


def misunderstood_before(tracker: Tracker) -> int:
    """How many customer turns in a row, just before the latest one, the bot answered with "I don't understand"."""
    turns: List[List[str]] = []
    for event in tracker.events:
        if event.get("event") == "user":
            turns.append([])
        elif event.get("event") == "bot" and turns:
            turns[-1].append(str((event.get("metadata") or {}).get("utter_action") or ""))
    streak = 0
    for responses in reversed(turns[:-1]):
        if not any(r in NOT_UNDERSTOOD for r in responses):
            break
        streak += 1
    return streak


def not_understood(dispatcher: CollectingDispatcher, tracker: Tracker, response: str) -> List[EventType]:
    """Say ``response`` ("rephrase" or "out of scope"); the second time in a row, offer a person instead."""
    if misunderstood_before(tracker) >= 1:
        dispatcher.utter_message(response="utter_offer_handoff_after_fallback")
        return [SlotSet("last_question", OFFER_HANDOFF)]
    dispatcher.utter_message(response=response)
    return []


class ActionFallback(Action):
    """A message nobody could read: ask to rephrase; the second misunderstanding in a row offers a person."""

    def name(self) -> str:
        """Action name."""
        return "action_fallback"

    @settles
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        """Count the trailing run of not-understood turns and answer accordingly."""
        events = not_understood(dispatcher, tracker, "utter_ask_rephrase")
        # As the end of a turn nothing else would stop: rasa would predict an action again until its limit
        # of 10 ("rephrase" x10).
        return events + [FollowupAction("action_listen")]
