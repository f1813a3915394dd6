"""Payments and refunds: accepted methods, a failed payment's state, refund status and requests."""

from __future__ import annotations

from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.common import day, get_store, humanize, join_words, money
from actions.context import OrderContext
from store.records import RefundInfo

REFUND_STATUS_TEXT = {
    "pending": "it's been approved and will be sent shortly",
    "processing": "it's on its way to you",
    "completed": "it's been paid out",
}


class ActionPaymentMethods(Action):
    """The payment methods the shop accepts."""

    def name(self) -> str:
        """Action name."""
        return "action_payment_methods"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        """List the accepted methods from the store."""
        methods = get_store().payment_methods()
        dispatcher.utter_message(response="utter_payment_methods", methods=join_words([m.name for m in methods]))
        return []


def payment_info(ctx: OrderContext) -> List[EventType]:
    """The order's payment state and what to do about it."""
    info = ctx.store.payment_info(ctx.conversation_id, ctx.order_number)
    detail = info.action
    if info.failure_reason:
        detail = f"Reason given by the bank: {info.failure_reason}. {detail}"
    ctx.dispatcher.utter_message(
        response="utter_payment_info",
        order_number=info.order_number,
        method=info.method_name,
        amount=money(info.amount, info.currency),
        status_text=humanize(info.status),
        detail=detail,
    )
    return []


def _say_refund(ctx: OrderContext, refund: RefundInfo) -> None:
    if refund.status == "completed":
        detail = f"It was completed on {day(refund.completed_at)}; banks can take a few days to show it."
    else:
        detail = f"Started on {day(refund.created_at)}; expect it by {day(refund.expected_by)}."
    if refund.rma_number:
        detail = f"(for return {refund.rma_number}) {detail}"
    ctx.dispatcher.utter_message(
        response="utter_refund_status",
        amount=money(refund.amount, refund.currency),
        method=refund.method,
        order_number=refund.order_number,
        status_text=REFUND_STATUS_TEXT.get(refund.status, humanize(refund.status)),
        detail=detail,
    )


def refund_status(ctx: OrderContext) -> List[EventType]:
    """Every refund on the order, or why there is none yet."""
    refunds = ctx.store.refunds_for(ctx.conversation_id, ctx.order_number)
    for refund in refunds:
        _say_refund(ctx, refund)
    if not refunds:
        ctx.dispatcher.utter_message(
            response="utter_no_refund", order_number=ctx.order_number, detail=_no_refund_detail(ctx)
        )
    return []


def request_refund(ctx: OrderContext) -> List[EventType]:
    """A refund request: existing refunds, else the way to one (cancel before shipping, return after)."""
    return refund_status(ctx)


def _no_refund_detail(ctx: OrderContext) -> str:
    summary = ctx.store.order_summary(ctx.conversation_id, ctx.order_number)
    returns = ctx.store.returns_for(ctx.conversation_id, ctx.order_number)
    if returns:
        latest = returns[-1]
        return (
            f"Your return {latest.rma_number} is {humanize(latest.status)}; the refund is issued once we've "
            "received and checked the parcel."
        )
    if summary.status in {"placed", "paid", "payment_failed"}:
        return 'It hasn\'t shipped yet, so you can cancel it for a full refund: just say "cancel my order".'
    if summary.delivered_at is not None:
        return 'Refunds for delivered orders are made through a return: say "return an item" to start one.'
    return f"The order is {humanize(summary.status)}; once it's delivered you can return it for a refund."
