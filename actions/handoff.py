"""A person when the bot can't help: hand-off tickets, complaints, a staff member to a tablet, the fallback."""

from __future__ import annotations

from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction
from rasa_sdk.executor import CollectingDispatcher

from actions.common import channel_context, channel_of, conversation_id, get_store, verified_order

OFFICE_HOURS = "Our team answers Monday to Friday, 9:00-18:00 UK time, usually within two working hours."
SUMMARY_TURNS = 6

#: The bot's last words before the customer asked for a person -> why a person is needed.
REASON_BY_RESPONSE = {
    "utter_offer_handoff_after_fallback": "the assistant misunderstood twice",
    "utter_verification_locked": "order checks locked after three failed attempts",
    "utter_verification_paused": "order checks paused after repeated failed attempts",
    "utter_return_not_eligible": "customer disputes a refused return",
    "utter_return_refused": "customer disputes a refused return",
}


def _last_bot_utterance(tracker: Tracker) -> Dict[str, Any] | None:
    """The bot message just before the latest customer message (what the customer is reacting to)."""
    seen_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            if seen_user:
                return None
            seen_user = True
        elif event.get("event") == "bot" and seen_user:
            return event
    return None


def handoff_reason(tracker: Tracker, intent: str) -> str:
    """Why a person is needed: a complaint, the flow that offered a person, or simply the customer's wish."""
    if intent == "complaint":
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


class ActionHandoff(Action):
    """Opens a hand-off ticket (a request for a person, or a complaint) in the store."""

    def name(self) -> str:
        """Action name."""
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        """Open the ticket with a summary, the verified order if any, and say what happens next."""
        intent = (tracker.latest_message.get("intent") or {}).get("name") or "human_handoff"
        context = channel_context(tracker)
        if intent == "human_handoff" and context.trusted and context.channel == "tablet" and context.store_id:
            return self._call_staff(dispatcher, tracker, context.store_id)
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
        response = "utter_complaint" if intent == "complaint" else "utter_handoff"
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
        return []

    @staticmethod
    def _call_staff(dispatcher: CollectingDispatcher, tracker: Tracker, store_id: str) -> List[EventType]:
        """A shopper at an in-store tablet wants a colleague: a ticket for that shop and a ``staff_call``.

        No text here on purpose: the tablet channel posts the call to the shop's staff and only then
        tells the shopper whether someone is coming (or to ask at the till when nobody could be told).
        """
        summary = conversation_summary(tracker)
        ticket = get_store().open_handoff(
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
        return []


class ActionFallback(Action):
    """First misunderstanding: ask to rephrase. Second in a row: offer a person."""

    def name(self) -> str:
        """Action name."""
        return "action_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        """Count the trailing run of not-understood messages and answer accordingly."""
        misunderstood = 0
        for event in reversed(tracker.events):
            if event.get("event") != "user":
                continue
            if (event.get("parse_data") or {}).get("intent", {}).get("name") == "nlu_fallback":
                misunderstood += 1
            else:
                break
        if misunderstood >= 2:
            dispatcher.utter_message(response="utter_offer_handoff_after_fallback")
        else:
            dispatcher.utter_message(response="utter_ask_rephrase")
        # As the core fallback (a message no rule expects, e.g. `inform` out of context) nothing else would
        # end the turn: rasa would predict this action again until its limit of 10 ("rephrase" x10).
        return [FollowupAction("action_listen")]
