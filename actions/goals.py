"""After verification: `action_continue_goal` answers whatever the customer asked about their order.

The last order intent sets the `goal` slot (see domain.yml); each goal has one handler, living in the
module of its business area and registered here. Before the handler, the message is read against the
conversation's context (a yes to an offer, a follow-up of the order just discussed); after it, a second
question of the same message is answered, and on the conversation's first verification what is open on
the customer's other chats is summed up.
"""

from __future__ import annotations

import difflib
import logging
from typing import Any, Callable, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import account, orders, payments, returns
from actions.common import conversation_id, current_order, get_store
from actions.context import (
    LAST_QUESTION,
    OFFER_HANDOFF,
    TICKET,
    OrderContext,
    Said,
    about,
    goal_message,
    has,
    is_question,
    said,
    settles,
    words,
)
from actions.follow_up import DAMAGED_WORDS, also_asked, asks_to_add_items, goal_for, goal_in_words, in_context

logger = logging.getLogger(__name__)

Handler = Callable[[OrderContext], List[EventType]]


def handoff_note(ctx: OrderContext) -> List[EventType]:
    """An order given while a ticket is open (the colleague will see it with the ticket), or while the offer
    of a person is open (the offer stands, now with the order)."""
    ticket = ctx.tracker.get_slot(TICKET)
    info = ctx.store.tracking(ctx.conversation_id, ctx.order_number)
    if ticket:
        ctx.dispatcher.utter_message(response="utter_handoff_order_noted", order_number=ctx.order_number, ticket=ticket)
        if info.is_lost or info.is_delayed:
            # an order given for the ticket that is late or lost: what we see, and sorry (the colleague chases it)
            ctx.dispatcher.utter_message(
                response="utter_handoff_order_problem", order_number=ctx.order_number, carrier=info.carrier,
                problem="appears to be lost" if info.is_lost else "is delayed",
            )  # fmt: skip
        return about("handoff")
    if info.is_lost or info.is_delayed:
        # "it hasn't come": what happened to it (lost, late), the apology and the offer of a person
        return orders.say_tracking(ctx, info)
    ctx.dispatcher.utter_message(response="utter_offer_handoff_with_order", order_number=ctx.order_number)
    return about("handoff", last_question=OFFER_HANDOFF)


#: Goals about the customer's chats and news, not about the order in focus: never read as a follow-up.
ACCOUNT_GOALS = frozenset({"channels", "unlink", "notify_on", "notify_off"})
#: Words without which a message does not ask to cancel: NLU's guess alone never offers a cancellation.
CANCEL_WORDS = ("cancel*", "call off", "call it off", "scrap", "don't want", "dont want", "stop the order", "storn*",
                "annul*", "get rid", "no longer want", "changed my mind", "reorder")  # fmt: skip


def says_cancel(text: str) -> bool:
    """The words ask to cancel, typed in a hurry too ("pls cancle ORD-…", "cancell it"): a word one letter off
    "cancel" (a swap, a slip or a letter too many) counts; "cancer", "candle" do not."""
    if has(text, *CANCEL_WORDS):
        return True
    return any(_near_cancel(w) for w in words(text))


def _near_cancel(word: str) -> bool:
    stem = word.rstrip("sd")  # "cancles", "cancled"
    if not 5 <= len(stem) <= 8 or not stem.startswith("ca") or stem in {"cancer", "candle", "canal", "canny"}:
        return False
    return any(
        difflib.SequenceMatcher(None, stem, target).ratio() >= 0.83 for target in ("cancel", "cancell", "cancele")
    )


#: Words asking for news of an order rather than where it is now.
NEWS_WORDS = ("send me updates", "send me update", "send updates", "updates about", "updates on", "keep me updated",
              "keep me posted", "keep me in the loop", "notify me", "notifications", "let me know when", "text me when",
              "message me when", "email me when", "tell me when it")  # fmt: skip


#: Words without which a message does not ask to change where an order goes.
ADDRESS_WORDS = ("address", "redirect", "deliver it to", "send it to", "deliver to", "ship it to", "ship to",
                 "moved", "moving", "new house", "wrong house", "different house", "my work", "new postcode",
                 "different postcode", "postcode to", "flat",
                 "street", "road", "change where", "deliver it somewhere", "reroute")  # fmt: skip


#: Adding to a placed order ("can I add something to my order?"), which no handler can do.
ADD_ITEM_WORDS = ("add something", "add an item", "add another", "add a product", "add more", "add one more",
                  "add to my order", "add it to my order", "add to the order", "add it to the order", "forgot to add",
                  "add items", "add an extra", "add on", "add to it")  # fmt: skip


#: Goals read from the words of a message naming an order when only tracking was asked before: questions
#: whose answers change nothing (a cancel or an address change is asked for by name, not guessed).
ASKED_IN_WORDS = frozenset({"return", "return_status", "invoice", "refund_status", "payment"})


def checked_goal(tracker: Tracker) -> str:
    """The goal, unless NLU guessed "cancel" for a message that never says so (then what its words ask)."""
    goal = str(tracker.get_slot("goal") or "track")
    latest = said(tracker)
    if goal == "track" and not latest.button and (latest.entity("order_number") or latest.entity("rma_number")):
        # "ok forget that one. is ORD-… still returnable?" inside a check started to track another order: what
        # this message asks of the order it names (tracking is only the goal when nothing else was asked)
        named = goal_in_words(latest.text)
        if named in ASKED_IN_WORDS:
            return str(named)
    if goal == "track":
        asked = goal_message(tracker)
        if asked and has(asked, *NEWS_WORDS) and not has(asked, "where", "track*", "status", "when", "arriv*"):
            # "can you send me updates about it?": order news (the e-mail proves the customer), not its status
            return "notify_on"
    if goal in {"change_address", "cancel"}:
        asked = goal_message(tracker)
        if (
            asked
            and (has(asked, *ADD_ITEM_WORDS) or asks_to_add_items(asked))
            and not (says_cancel(asked) or has(asked, *ADDRESS_WORDS))
        ):
            # "can I add something to my order?" guessed as an address change: items can't be added
            return "add_items"
    if goal == "change_address":
        asked = goal_message(tracker)
        if asked == latest.text and explains_a_proof(latest):
            # "oh sorry that's the old flat, we moved. it's L16 4FB" after a failed check (NLU: an address change):
            # the proof again, so the goal the check was started for
            before = goal_before(tracker, asked)
            if before and before != "change_address":
                return before
        if asked and not has(asked, *ADDRESS_WORDS):
            # "can i still send back ORD-…?" guessed as an address change: what its words ask
            guessed = _order_question(tracker, asked)
            if guessed != "change_address":
                return guessed
            # "sorry that's my old postcode, try harry@…": the goal the conversation had before that message
            return goal_before(tracker, asked) or goal
    if goal != "cancel":
        return goal
    asked = goal_message(tracker)
    if not asked or says_cancel(asked):
        return goal
    guessed = _order_question(tracker, asked)
    return "track" if guessed == "cancel" else guessed


def _order_question(tracker: Tracker, asked: str) -> str:
    """What the message that named the order asks of it. An offer of a person made before it, about something
    else ("a colleague can change your account details"), and no ticket: the order's own question ("I do have an
    order coming though, ORD-…, will it still go to the old place?"), tracking when its words name no other."""
    guessed = goal_for(tracker, said_text(asked))
    if guessed == "handoff" and not tracker.get_slot(TICKET) and is_question(asked):
        return goal_in_words(asked) or "track"
    return guessed


#: Said before the return offer when the order was asked about because something in it arrived damaged.
DAMAGED_LEAD = (
    "I'm sorry it arrived damaged. You can send it back for a full refund, or a colleague can arrange a "
    "replacement instead."
)


def arrived_damaged(ctx: OrderContext) -> bool:
    """The customer asked about a delivered order because something in it arrived broken ("my serum arrived
    smashed, order ORD-…"): they want it put right, not where the parcel is."""
    asked = goal_message(ctx.tracker)
    if not asked or not has(asked, *DAMAGED_WORDS):
        return False
    return ctx.store.tracking(ctx.conversation_id, ctx.order_number).delivered_at is not None


#: Why an earlier proof did not match ("that's the old flat", "we moved", "typo, sorry", "wrong one").
_PROOF_EXPLAINED = ("old", "previous", "used to", "wrong one", "wrong email", "wrong postcode", "typo", "mistake",
                    "misspelt", "misspelled", "we moved", "i moved", "moved house", "have moved", "not that one",
                    "my bad", "try this", "try that", "try again")  # fmt: skip
#: Asking for the address to change ("can you send it to", "update it to", "redirect it").
_ASKS_A_CHANGE = ("change", "update", "redirect", "reroute", "deliver it to", "send it to", "ship it to",
                  "new address", "instead", "can you", "could you", "please send", "forward it")  # fmt: skip


def explains_a_proof(latest: Said) -> bool:
    """A postcode or email given with why the earlier one failed ("oh sorry that's the old flat, we moved. it's
    L16 4FB"): a proof, not a request to change where the order goes."""
    if not (latest.entity("postcode") or latest.entity("email")):
        return False
    return has(latest.text, *_PROOF_EXPLAINED) and not has(latest.text, *_ASKS_A_CHANGE)


def goal_before(tracker: Tracker, text: str) -> str | None:
    """The `goal` slot's value before the latest customer message with these words (None when it had none)."""
    seen = False
    for event in reversed(tracker.events):
        if event.get("event") == "user" and str(event.get("text") or "") == text:
            seen = True
        elif seen and event.get("event") == "slot" and event.get("name") == "goal":
            return str(event["value"]) if event.get("value") else None
    return None


def said_text(text: str) -> Any:
    """A message with only words (to read another message than the latest)."""
    return Said(text=text, intent="", confidence=0.0)


def track_with_returns(ctx: OrderContext) -> List[EventType]:
    """Where the order is; for a delivered order with a return under way, where that return stands too (a
    customer asking after an order they are sending back wants to hear about the return); for a shipped order
    that was refunded (its return, or a lost parcel), the refund: "delivered" alone would hide the money."""
    events = orders.track(ctx)
    info = ctx.store.tracking(ctx.conversation_id, ctx.order_number)
    if not info.shipped:
        return events
    if info.delivered_at is not None:
        open_returns = [
            r for r in ctx.store.returns_for(ctx.conversation_id, ctx.order_number) if r.status in returns.OPEN_RETURNS
        ]
        if open_returns:
            returns.say_returns(ctx, open_returns)
            return list(events) + about("return_status")
    refunds = ctx.store.refunds_for(ctx.conversation_id, ctx.order_number)
    if not refunds:
        return events
    for refund in refunds:
        payments.say_refund(ctx, refund)
    # an offer the tracking answer made (a person for a lost parcel) stays open
    offer = next((e.get("value") for e in events if e.get("event") == "slot" and e.get("name") == LAST_QUESTION), None)
    return list(events) + about("refund", last_question=offer)


HANDLERS: Dict[str, Handler] = {
    "track": track_with_returns,
    "cancel": orders.start_cancel,
    "change_address": orders.start_address_change,
    "add_items": orders.cannot_add_items,
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
    "handoff": handoff_note,
}


class ActionContinueGoal(Action):
    """Runs when `verify_order_form` completes: answers the goal, or explains why it can't."""

    def name(self) -> str:
        """Action name."""
        return "action_continue_goal"

    @settles
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        """Dispatch on the `goal` slot for the verified order."""
        store = get_store()
        conv = conversation_id(tracker)
        number = current_order(tracker)
        if tracker.get_slot("verification_locked"):
            # Checks of this order are paused (or the customer put the check off): the form said so and asked
            # nothing more; the next try starts afresh.
            return [SlotSet("verification_locked", None)]
        if number is None or not store.is_verified(conv, number):
            if store.attempts_left(conv) <= 0:
                dispatcher.utter_message(response="utter_verification_locked")
            else:
                logger.warning("verify_order_form ended without a verified order")
                dispatcher.utter_message(response="utter_ask_order_number")
            return []
        ctx = OrderContext(dispatcher, tracker, store, conv, number)
        goal = checked_goal(tracker)
        if goal != tracker.get_slot("goal"):
            # the goal its words ask for stays the goal (an e-mail given next answers it)
            goal_events: List[EventType] = [SlotSet("goal", goal)]
        else:
            goal_events = []
        events = None if goal in ACCOUNT_GOALS else in_context(dispatcher, tracker, caller=self.name())
        if events is None:
            verified = store.verified_orders(conv)
            if goal == "track" and len(verified) > 1 and has(said(tracker).text, "which one", "first", "both"):
                events = orders.compare_arrivals(ctx, verified)
            elif goal == "track" and arrived_damaged(ctx):
                # "my serum arrived smashed, order ORD-…" (filed as tracking): sorry, and what can be done
                events = returns.offer_return(ctx, lead=DAMAGED_LEAD)
            elif goal == "return" and arrived_damaged(ctx):
                # the same message filed as a return: the same apology before the offer (a request to send it
                # back still opens the return form)
                events = returns.start_return(ctx, lead=DAMAGED_LEAD)
            elif goal == "return" and returns.changes_mind(said(tracker).text):
                # "yeah don't start the return": NLU files it as return_item; nothing is set up
                dispatcher.utter_message(response="utter_no_return", order_number=number)
                events = about("return")
            else:
                events = HANDLERS.get(goal, orders.track)(ctx)
            events = list(events) + also_asked(dispatcher, tracker, answered_topic=goal)
        account.news_after_answer(dispatcher, tracker)
        return goal_events + list(events)
