"""Return drafts: a return form left unfinished, kept for the verified customer so any linked chat can finish it.

The return form's validator saves the draft as it goes (`save_return_draft`) and clears it once the return is
created or refused (`clear_return_draft`); `actions.returns.start_return` and `action_resume_return`
(actions/account.py) reopen it (`resume_draft`). The rules (one draft per customer, which orders) live in
`store.accounts`.
"""

from __future__ import annotations

import logging
from typing import List

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import accounts, conversation_id, get_store
from store.accounts import ReturnDraftInfo, split_conversation_id
from store.errors import StoreError

logger = logging.getLogger(__name__)


def save_return_draft(tracker: Tracker, order_number: str, items: str | None, reason: str | None) -> None:
    """Remember the return form so far for the verified customer (called by the return form's validator)."""
    store = get_store()
    customer = store.verified_customer(conversation_id(tracker))
    if customer is None:
        return
    try:
        channel, _ = split_conversation_id(conversation_id(tracker))
        accounts().save_return_draft(customer, order_number, items, reason, channel)
    except StoreError as error:
        # A draft is a convenience: the return itself goes on without it.
        logger.warning("return draft not saved for %s: %s", conversation_id(tracker), error)


def clear_return_draft(tracker: Tracker) -> None:
    """Forget the customer's draft once the return was created (or refused)."""
    customer = get_store().verified_customer(conversation_id(tracker))
    if customer is not None:
        accounts().clear_return_draft(customer)


def resume_draft(dispatcher: CollectingDispatcher, conv: str, customer: int, draft: ReturnDraftInfo) -> List[EventType]:
    """Reopen the return form of ``draft`` in conversation ``conv`` (a verified conversation of ``customer``).

    Returns:
        The slots of the draft (items still returnable, the reason if items are kept) and the return form
        as follow-up; or nothing, when the order can no longer be returned (the draft is then dropped).
    """
    store = get_store()
    acc = accounts()
    acc.grant_customer_orders(conv, customer, [draft.order_number])
    eligibility = store.return_eligibility(conv, draft.order_number)
    if not eligibility.eligible:
        acc.clear_return_draft(customer)
        dispatcher.utter_message(
            response="utter_return_not_eligible", order_number=draft.order_number, reason=eligibility.message
        )
        return []
    returnable = {str(line.line_id) for line in eligibility.returnable_lines}
    items = [i for i in draft.items.split(",") if i in returnable]
    dispatcher.utter_message(response="utter_resuming_return", order_number=draft.order_number)
    return [
        SlotSet("goal", "return"),
        SlotSet("order_number", draft.order_number),
        SlotSet("proof", "verified"),
        SlotSet("return_items", ",".join(items) or None),
        SlotSet("return_reason", draft.reason if items else None),
        SlotSet("confirm_return", None),  # a resumed return is confirmed again, here
        FollowupAction("return_form"),
    ]
