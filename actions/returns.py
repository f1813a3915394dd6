"""Returns: the policy, eligibility, the return form (items and reason), RMA creation and status."""

from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Sequence

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions.common import conversation_id, get_store, humanize, join_words, money, verified_order
from actions.context import OrderContext
from store.errors import NotAllowed
from store.normalize import normalize_rma
from store.records import ReturnableLine, ReturnInfo

ALL = "all"
RETURN_SLOTS = [SlotSet("return_items", None), SlotSet("return_reason", None)]
RETURN_STATUS_DETAIL = {
    "requested": "we've registered it and are waiting for the parcel.",
    "approved": "it's approved; please send the parcel using the label instructions.",
    "received": "we've received the parcel and are checking it; the refund follows within a few days.",
    "refunded": "it's complete and the refund has been issued.",
    "rejected": "it was not accepted. A person from our team can explain why.",
}


class ActionReturnPolicy(Action):
    """The return policy, read from the store's rules."""

    def name(self) -> str:
        """Action name."""
        return "action_return_policy"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        """Window, condition, who pays shipping, final-sale items and refund time."""
        policy = get_store().return_policy()
        items = policy.final_sale_items.rstrip(".")
        final_sale = join_words([c.lower() for c in policy.final_sale_categories] + [items[:1].lower() + items[1:]])
        dispatcher.utter_message(
            response="utter_return_policy",
            window_days=policy.window_days,
            condition=policy.condition,
            shipping=f"{policy.uk_label} {policy.international_label}",
            final_sale=final_sale,
            refund_time=(
                f"Refunds go back to your original payment method within {policy.refund_min_business_days}-"
                f"{policy.refund_max_business_days} business days of the parcel reaching us."
            ),
        )
        return []


def start_return(ctx: OrderContext) -> List[EventType]:
    """Check eligibility with the store, then ask which items and why (return_form).

    A return of this order the customer left unfinished (here or on another linked chat) is picked up
    where it stopped instead of being started again.
    """
    from actions.account import accounts, resume_draft, save_return_draft  # account imports this module

    customer = ctx.store.verified_customer(ctx.conversation_id)
    draft = accounts().return_draft(customer) if customer is not None else None
    if customer is not None and draft is not None and draft.order_number == ctx.order_number:
        return resume_draft(ctx.dispatcher, ctx.conversation_id, customer, draft)
    eligibility = ctx.store.return_eligibility(ctx.conversation_id, ctx.order_number)
    if not eligibility.eligible:
        ctx.dispatcher.utter_message(
            response="utter_return_not_eligible", order_number=ctx.order_number, reason=eligibility.message
        )
        return []
    events: List[EventType] = list(RETURN_SLOTS)
    items = None
    if len(eligibility.returnable_lines) == 1:
        # Nothing to choose: the one returnable item is the one.
        items = str(eligibility.returnable_lines[0].line_id)
        events = [SlotSet("return_items", items), SlotSet("return_reason", None)]
    save_return_draft(ctx.tracker, ctx.order_number, items, None)  # finished on any channel if left here
    return events + [FollowupAction("return_form")]


def return_status(ctx: OrderContext) -> List[EventType]:
    """Status of the return named by RMA, or of every return on the order."""
    rma = normalize_rma(ctx.tracker.get_slot("rma_number") or "")
    if rma:
        found = [ctx.store.return_by_rma(ctx.conversation_id, rma)]
    else:
        found = list(ctx.store.returns_for(ctx.conversation_id, ctx.order_number))
    if not found:
        ctx.dispatcher.utter_message(response="utter_no_returns", order_number=ctx.order_number)
        return []
    for ret in found:
        say_return_status(ctx.dispatcher, ret)
    return []


def say_return_status(dispatcher: CollectingDispatcher, ret: ReturnInfo) -> None:
    """One return's status in a sentence."""
    dispatcher.utter_message(
        response="utter_return_status",
        rma_number=ret.rma_number,
        order_number=ret.order_number,
        status_text=humanize(ret.status),
        detail=RETURN_STATUS_DETAIL.get(ret.status, ""),
    )


def _returnable(tracker: Tracker) -> Sequence[ReturnableLine]:
    number = verified_order(tracker)
    if number is None:
        return ()
    return get_store().return_eligibility(conversation_id(tracker), number).returnable_lines


def _pick_lines(text: str, lines: Sequence[ReturnableLine]) -> List[int] | None:
    """Line ids the customer means: ids from buttons, "all", or words of a product title."""
    text = text.strip().lower()
    if not text:
        return None
    if text == ALL or re.search(r"\b(all|everything|both|the lot|whole order)\b", text):
        return [line.line_id for line in lines]
    ids = {int(tok) for tok in re.findall(r"\d+", text)}
    by_id = [line.line_id for line in lines if line.line_id in ids]
    if by_id and re.fullmatch(r"[\d,\s]+", text):
        return by_id
    words = set(re.findall(r"[a-z]{3,}", text))
    scored = []
    for line in lines:
        overlap = len(words & set(re.findall(r"[a-z]{3,}", line.title.lower())))
        if overlap:
            scored.append((overlap, line.line_id))
    if not scored:
        return by_id or None
    best = max(score for score, _ in scored)
    return [line_id for score, line_id in scored if score == best]


class ActionAskReturnItems(Action):
    """Asks which item to return, with one button per returnable item."""

    def name(self) -> str:
        """Action name."""
        return "action_ask_return_items"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        """Offer the returnable lines as buttons, plus "all of them"."""
        buttons = [
            {
                "title": f"{line.title} ({money(line.unit_price)})",
                "payload": "/inform" + json.dumps({"return_items": str(line.line_id)}),
            }
            for line in _returnable(tracker)
        ]
        buttons.append({"title": "All of them", "payload": "/inform" + json.dumps({"return_items": ALL})})
        dispatcher.utter_message(response="utter_ask_return_items", buttons=buttons)
        return []


class ValidateReturnForm(FormValidationAction):
    """Turns the customer's choice into line ids and checks a reason was given."""

    def name(self) -> str:
        """Action name."""
        return "validate_return_form"

    def validate_return_items(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """Map buttons, "all" or product words to returnable line ids."""
        picked = _pick_lines(str(slot_value or ""), _returnable(tracker))
        if not picked:
            dispatcher.utter_message(response="utter_return_items_invalid")
            return {"return_items": None}
        items = ",".join(str(i) for i in picked)
        number = verified_order(tracker)
        if number is not None:
            # Kept per customer until the return is created, so it can be finished on another channel.
            from actions.account import save_return_draft  # account imports this module

            save_return_draft(tracker, number, items, None)
        return {"return_items": items}

    def validate_return_reason(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """Any short, non-empty reason."""
        reason = " ".join(str(slot_value or "").split())[:300]
        if len(reason) < 2:
            dispatcher.utter_message(response="utter_return_reason_invalid")
            return {"return_reason": None}
        return {"return_reason": reason}


class ActionCreateReturn(Action):
    """Submit of `return_form`: creates the RMA in the store and gives label instructions."""

    def name(self) -> str:
        """Action name."""
        return "action_create_return"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        """Create the return for the chosen lines and reason."""
        number = verified_order(tracker)
        if number is None:
            dispatcher.utter_message(response="utter_ask_order_number")
            return list(RETURN_SLOTS)
        line_ids = [int(i) for i in str(tracker.get_slot("return_items") or "").split(",") if i.strip().isdigit()]
        reason = tracker.get_slot("return_reason") or "not given"
        try:
            ret = get_store().create_return(conversation_id(tracker), number, line_ids or None, reason)
        except NotAllowed as refusal:
            dispatcher.utter_message(response="utter_return_refused", reason=refusal.message)
            _forget_draft(tracker)
            return list(RETURN_SLOTS)
        _forget_draft(tracker)
        policy = get_store().return_policy()
        label = ret.label_instructions + (f" Label: {ret.label_url}" if ret.label_url else "")
        dispatcher.utter_message(
            response="utter_return_created",
            rma_number=ret.rma_number,
            items=join_words([f"{line.qty} x {line.title}" for line in ret.lines]),
            label=label,
            refund_amount=money(ret.refund_estimate),
            refund_method="original payment method",
            refund_days=f"{policy.refund_min_business_days}-{policy.refund_max_business_days} business days",
        )
        return list(RETURN_SLOTS) + [SlotSet("rma_number", ret.rma_number)]


def _forget_draft(tracker: Tracker) -> None:
    from actions.account import clear_return_draft  # account imports this module

    clear_return_draft(tracker)
