"""Orders: tracking, invoices, cancellation and address changes for a verified order."""

from __future__ import annotations

import logging
from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions.common import conversation_id, day, get_store, humanize, money, verified_order, when
from actions.context import OrderContext
from store.errors import NotAllowed
from store.normalize import normalize_order_number, parse_address

logger = logging.getLogger(__name__)

CLOSED_STATUSES = {"cancelled", "payment_failed"}
UNPAID_REASONS = {"failed": "its payment failed", "voided": "its payment was cancelled"}


def track(ctx: OrderContext) -> List[EventType]:
    """Status, carrier, tracking number, last event and ETA; an apology and a person for problems."""
    info = ctx.store.tracking(ctx.conversation_id, ctx.order_number)
    say = ctx.dispatcher.utter_message
    status_text = humanize(info.order_status)
    if not info.shipped:
        if info.order_status in CLOSED_STATUSES:
            say(
                response="utter_order_closed",
                order_number=info.order_number,
                status_text=status_text,
                detail=info.message,
            )
        else:
            note = f"It should ship by {day(info.expected_ship_date)}." if info.expected_ship_date else info.message
            say(
                response="utter_order_not_shipped",
                order_number=info.order_number,
                status_text=status_text,
                ship_note=note,
            )
        return []
    last = info.last_event
    if info.delivered_at is not None and not info.is_lost:
        say(
            response="utter_tracking_delivered",
            order_number=info.order_number,
            delivered_on=day(info.delivered_at),
            carrier=info.carrier,
            tracking_number=info.tracking_number,
            last_event=_event_text(last),
        )
        return []
    if info.is_lost:
        eta_text = "The carrier has lost track of it."
    elif info.estimated_delivery:
        prefix = "New estimated delivery" if info.is_delayed else "Estimated delivery"
        eta_text = f"{prefix}: {day(info.estimated_delivery)}."
    else:
        eta_text = ""
    say(
        response="utter_tracking",
        order_number=info.order_number,
        status_text=humanize(info.shipment_status or info.order_status),
        carrier=info.carrier,
        tracking_number=info.tracking_number,
        last_event_time=when(last.occurred_at) if last else "-",
        last_event=_event_text(last),
        eta_text=eta_text,
    )
    if info.is_delayed or info.is_lost:
        problem = "lost in transit" if info.is_lost else "delayed"
        say(response="utter_tracking_problem", problem_text=problem, carrier=info.carrier)
    return []


def _event_text(event: Any) -> str:
    if event is None:
        return "no scans yet"
    return f"{event.description}, {event.location}" if event.location else event.description


def invoice(ctx: OrderContext) -> List[EventType]:
    """The invoice: number, date, billed-to, lines and totals with VAT; for an unpaid order, why there is none."""
    try:
        inv = ctx.store.invoice(ctx.conversation_id, ctx.order_number)
    except NotAllowed as refusal:
        if refusal.reason_code != "not_paid":
            raise
        payment = ctx.store.payment_info(ctx.conversation_id, ctx.order_number)
        ctx.dispatcher.utter_message(
            response="utter_invoice_unpaid",
            order_number=ctx.order_number,
            reason=UNPAID_REASONS.get(payment.status, f"it hasn't been paid ({humanize(payment.status)})"),
            detail=payment.action,
        )
        return []
    lines = "\n".join(f"- {line.qty} x {line.title}: {money(line.line_total, inv.currency)}" for line in inv.lines)
    ctx.dispatcher.utter_message(
        response="utter_invoice",
        invoice_number=inv.invoice_number,
        order_number=inv.order_number,
        issued_on=day(inv.issue_date),
        billed_to=f"{inv.billing_name}, {inv.billing_address.one_line()}",
        lines=lines,
        subtotal=money(inv.subtotal, inv.currency),
        shipping=money(inv.shipping, inv.currency),
        total=money(inv.total, inv.currency),
        vat=money(inv.vat_amount, inv.currency),
    )
    return []


def start_cancel(ctx: OrderContext) -> List[EventType]:
    """Ask for confirmation when the store allows cancelling; otherwise say why not."""
    try:
        ctx.store.check_cancellable(ctx.conversation_id, ctx.order_number)
    except NotAllowed as refusal:
        ctx.dispatcher.utter_message(
            response="utter_cancel_refused", order_number=ctx.order_number, reason=refusal.message
        )
        return []
    return [SlotSet("confirm_cancel", None), FollowupAction("cancel_form")]


def start_address_change(ctx: OrderContext) -> List[EventType]:
    """Ask for the new address when the order hasn't shipped; otherwise say why not."""
    try:
        ctx.store.check_address_changeable(ctx.conversation_id, ctx.order_number)
    except NotAllowed as refusal:
        ctx.dispatcher.utter_message(
            response="utter_address_refused", order_number=ctx.order_number, reason=refusal.message
        )
        return []
    return [SlotSet("new_address", None), FollowupAction("address_form")]


def order_asked_to_cancel(tracker: Tracker) -> str | None:
    """The order the cancel question named: the ``order_number`` slot when `cancel_form` last started.

    The answer to "Do you want me to cancel order ORD-A?" may carry entities (``/affirm{"order_number":
    "ORD-B"}``, or "yes (not ORD-B though)"), and entities set slots: what gets cancelled is the order the
    customer said yes to, never whatever the slot holds by the time the form ends (red-team finding F9).
    """
    number: Any = None
    asked: Any = None
    for event in tracker.events:
        kind = event.get("event")
        if kind == "slot" and event.get("name") == "order_number":
            number = event.get("value")
        elif kind == "restart":
            number = asked = None
        elif kind == "active_loop" and event.get("name") == "cancel_form":
            asked = number
    return normalize_order_number(str(asked)) if asked else None


class ActionCancelOrder(Action):
    """Submit of `cancel_form`: cancels when the customer confirmed."""

    def name(self) -> str:
        """Action name."""
        return "action_cancel_order"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        """Cancel (or keep) the verified order."""
        number = verified_order(tracker)
        if number is None:
            dispatcher.utter_message(response="utter_ask_order_number")
            return [SlotSet("confirm_cancel", None)]
        if not tracker.get_slot("confirm_cancel"):
            dispatcher.utter_message(response="utter_cancel_kept", order_number=number)
            return [SlotSet("confirm_cancel", None)]
        asked = order_asked_to_cancel(tracker)
        if asked != number:
            # The yes was for another order (or for none we know of): cancel nothing, ask about this one.
            logger.info("cancel confirmed for %s but the slot now names %s: asking again", asked, number)
            return start_cancel(OrderContext(dispatcher, tracker, get_store(), conversation_id(tracker), number))
        try:
            result = get_store().cancel_order(conversation_id(tracker), number)
        except NotAllowed as refusal:
            dispatcher.utter_message(response="utter_cancel_refused", order_number=number, reason=refusal.message)
            return [SlotSet("confirm_cancel", None)]
        if result.refund is not None:
            refund_note = (
                f"We're refunding {money(result.refund.amount, result.refund.currency)} to your "
                f"{result.refund.method}; it should arrive by {day(result.refund.expected_by)}."
            )
        else:
            refund_note = "You haven't been charged for it."
        dispatcher.utter_message(response="utter_cancelled", order_number=number, refund_note=refund_note)
        return [SlotSet("confirm_cancel", None)]


class ValidateAddressForm(FormValidationAction):
    """Checks the new address has at least a postcode before the store is asked to change it."""

    def name(self) -> str:
        """Action name."""
        return "validate_address_form"

    def validate_new_address(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """Accept free text the store can parse into an address with a postcode."""
        text = str(slot_value or "").strip()
        if not text or len(text) > 300 or parse_address(text) is None:
            dispatcher.utter_message(response="utter_address_invalid")
            return {"new_address": None}
        return {"new_address": text}


class ActionChangeAddress(Action):
    """Submit of `address_form`: changes the delivery address in the store."""

    def name(self) -> str:
        """Action name."""
        return "action_change_address"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        """Change the address of the verified order."""
        number = verified_order(tracker)
        text = tracker.get_slot("new_address")
        if number is None or not text:
            dispatcher.utter_message(response="utter_ask_order_number")
            return [SlotSet("new_address", None)]
        try:
            change = get_store().change_shipping_address(conversation_id(tracker), number, text)
        except NotAllowed as refusal:
            dispatcher.utter_message(response="utter_address_refused", order_number=number, reason=refusal.message)
            return [SlotSet("new_address", None)]
        dispatcher.utter_message(
            response="utter_address_changed", order_number=number, address=change.new_address.one_line()
        )
        return [SlotSet("new_address", None)]
