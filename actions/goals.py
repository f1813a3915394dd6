"""After verification: `action_continue_goal` answers whatever the customer asked about their order.

The last order intent sets the `goal` slot (see domain.yml); each goal has one handler, living in the
module of its business area and registered here.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import account, orders, payments, returns
from actions.common import conversation_id, current_order, get_store
from actions.context import OrderContext

logger = logging.getLogger(__name__)

Handler = Callable[[OrderContext], List[EventType]]

HANDLERS: Dict[str, Handler] = {
    "track": orders.track,
    "cancel": orders.start_cancel,
    "change_address": orders.start_address_change,
    "invoice": orders.invoice,
    "return": returns.start_return,
    "return_status": returns.return_status,
    "refund": payments.request_refund,
    "refund_status": payments.refund_status,
    "payment": payments.payment_info,
    "channels": account.list_channels,
    "unlink": account.unlink_channel,
    "notify_on": account.notifications_on,
    "notify_off": account.notifications_off,
}


class ActionContinueGoal(Action):
    """Runs when `verify_order_form` completes: answers the goal, or explains why it can't."""

    def name(self) -> str:
        """Action name."""
        return "action_continue_goal"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        """Dispatch on the `goal` slot for the verified order."""
        store = get_store()
        conv = conversation_id(tracker)
        number = current_order(tracker)
        if tracker.get_slot("verification_locked"):
            # Checks of this order are paused: the form said so and asked nothing more; the next try starts afresh.
            return [SlotSet("verification_locked", None)]
        if number is None or not store.is_verified(conv, number):
            if store.attempts_left(conv) <= 0:
                dispatcher.utter_message(response="utter_verification_locked")
            else:
                logger.warning("verify_order_form ended without a verified order in %s", conv)
                dispatcher.utter_message(response="utter_ask_order_number")
            return []
        goal = tracker.get_slot("goal") or "track"
        handler = HANDLERS.get(goal, orders.track)
        return handler(OrderContext(dispatcher, tracker, store, conv, number))
