"""Verification before anything about an order is said: validates `verify_order_form`.

The rules (what proves ownership, how many attempts) live in the order store; this module only asks
for the order number and the proof and relays the store's verdict. Store staff (Slack users on the
gateway's allowlist, known from trusted metadata via `channel_context`) give only the order number: the
store grants and records their access (`OrderStore.grant_staff_access`) instead of asking for a proof.
"""

from __future__ import annotations

from typing import Any, Dict, List

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions.account import after_verification
from actions.common import ChannelContext, channel_context, conversation_id, current_order, get_store
from store.errors import NotAuthorized, OrderNotFound, VerificationFailed, VerificationLocked
from store.normalize import normalize_order_number, normalize_rma

VERIFIED = "verified"


class ValidateVerifyOrderForm(FormValidationAction):
    """Normalises the order number (or an RMA number standing for its order) and checks the proof."""

    def name(self) -> str:
        """Action name."""
        return "validate_verify_order_form"

    async def required_slots(
        self,
        domain_slots: List[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[str]:
        """No questions once locked out; no proof asked for an order this conversation already proved."""
        store = get_store()
        conv = conversation_id(tracker)
        number = current_order(tracker)
        if number and store.is_verified(conv, number):
            return ["order_number"]
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
        """Accept any well-formed order number (existence is only revealed after the proof)."""
        text = str(slot_value or "")
        number = normalize_order_number(text)
        events: Dict[str, Any] = {}
        if number is None:
            rma = normalize_rma(text)
            if rma is not None:
                number = get_store().order_for_rma(rma)
                if number is None:
                    # An unknown return number says nothing about any order, so it is safe to say.
                    dispatcher.utter_message(response="utter_rma_unknown", rma_number=rma)
                    return {"order_number": None, "rma_number": None}
                events["rma_number"] = rma
        if number is None:
            dispatcher.utter_message(response="utter_order_number_invalid")
            return {"order_number": None}
        events["order_number"] = number
        staff = channel_context(tracker)
        if staff.is_staff:
            return {**events, **_staff_access(dispatcher, tracker, staff, number)}
        if not get_store().is_verified(conversation_id(tracker), number):
            events["proof"] = None
        return events

    def validate_proof(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[str, Any]:
        """Ask the store whether the email or postcode matches the order; it counts the attempts."""
        store = get_store()
        conv = conversation_id(tracker)
        number = current_order(tracker)
        if slot_value == VERIFIED and number and store.is_verified(conv, number):
            return {"proof": VERIFIED}
        if number and channel_context(tracker).is_staff and store.is_verified(conv, number):
            # Staff were granted the order with its number; an email in the same message is not a proof
            # attempt and must not count towards the lock-out.
            return {"proof": VERIFIED}
        if number is None:
            # The order number is asked first; a proof given before it is asked for again after it.
            return {"proof": None}
        try:
            verified = store.verify(conv, number, str(slot_value))
        except VerificationLocked:
            return {"proof": None}
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
        # Verified on this channel: link the account, carry over what is open, offer an unfinished return.
        after_verification(dispatcher, tracker, verified.customer_id)
        return {"proof": VERIFIED, "order_number": verified.order_number}


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
