"""One customer across channels: linking after verification, carry-over, linked chats, news opt-in, resuming a return.

`after_verification` is called by the verification form (actions/identity.py) once the store accepted a
proof; the goal handlers (`list_channels`, `unlink_channel`, `notifications_on`, `notifications_off`) run
through `action_continue_goal` after the form, so every one of them needs a verified conversation;
`action_resume_return` reopens a return draft (actions/drafts.py), so a return started on the web can be
finished on Telegram.
The rules (who may be linked, what is open, rate limits) live in `store.accounts`.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import accounts, channel_context, conversation_id, get_store, humanize, join_words
from actions.context import OrderContext, about
from actions.drafts import resume_draft
from store.accounts import CustomerAccounts, LinkedChannel
from store.errors import NotAuthorized

logger = logging.getLogger(__name__)

#: How each channel is named to the customer.
CHANNEL_NAMES = {"web": "the web chat", "telegram": "Telegram", "tablet": "an in-store tablet", "slack": "Slack"}
#: Words people use for a channel -> the channel.
CHANNEL_WORDS = {
    "telegram": "telegram",
    "tg": "telegram",
    "web": "web",
    "website": "web",
    "web chat": "web",
    "webchat": "web",
    "site": "web",
    "chat widget": "web",
    "browser": "web",
}
#: At most this many open returns / orders are carried over in one greeting.
CARRY_OVER_LIMIT = 3


def channel_name(channel: str) -> str:
    """``telegram`` -> ``Telegram``."""
    return CHANNEL_NAMES.get(channel, channel)


def channel_from_text(text: str | None) -> str | None:
    """The channel a customer means (``"my telegram"`` -> ``telegram``), or None."""
    value = " ".join(str(text or "").lower().split())
    if not value:
        return None
    if value in CHANNEL_WORDS.values():
        return value
    for word in sorted(CHANNEL_WORDS, key=len, reverse=True):
        if f" {word} " in f" {value} ":
            return CHANNEL_WORDS[word]
    return None


def _channels_text(links: List[LinkedChannel]) -> str:
    return join_words(sorted({channel_name(link.channel) for link in links}))


# ------------------------------------------------------------------------------------- after verifying


def after_verification(dispatcher: CollectingDispatcher, tracker: Tracker, customer_id: int) -> None:
    """Link this channel account to the customer who just proved an order (called by the verification form).

    Only a trusted gateway message links (Rasa's own REST channel can be called with any metadata), never
    a staff member's, and only the account of this very conversation (``"{channel}:{id}"``). What carries
    over from their other chats is said after the answer to their question (`news_after_answer`), not before.
    """
    ctx = channel_context(tracker)
    conv = conversation_id(tracker)
    if not ctx.trusted or ctx.is_staff or not conv.startswith(f"{ctx.channel}:"):
        return
    try:
        accounts().link_verified(conv, customer_id)
    except NotAuthorized:
        logger.warning("verified conversation %s holds no grant for customer %s; not linked", conv, customer_id)


def _verified_earlier(tracker: Tracker) -> bool:
    """Whether this conversation had verified an order before the latest message."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            break
    else:
        return False
    seen_latest = False
    for event in reversed(tracker.events):
        if event.get("event") == "user" and not seen_latest:
            seen_latest = True
            continue
        if not seen_latest:
            continue
        if event.get("event") == "bot" and (event.get("metadata") or {}).get("utter_action") == "utter_verified":
            return True
        if event.get("event") == "slot" and event.get("name") == "proof" and event.get("value") == "verified":
            return True
    return False


def news_after_answer(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """After the answer to a conversation's first verified question: a short summary of what is open on
    the customer's other chats, and the offer to finish a return left unfinished there.

    Said once per conversation (the first verification), only on a trusted, linked customer channel.
    """
    ctx = channel_context(tracker)
    conv = conversation_id(tracker)
    if not ctx.trusted or ctx.is_staff or not conv.startswith(f"{ctx.channel}:") or _verified_earlier(tracker):
        return
    customer_id = get_store().verified_customer(conv)
    if customer_id is None:
        return
    acc = accounts()
    known = acc.linked_channels(customer_id)
    if not any(link.conversation_id == conv for link in known):
        return
    before = [link for link in known if link.conversation_id != conv]
    others = [link for link in before if link.channel != ctx.channel] or before
    if others:
        _carry_over(dispatcher, acc, conv, customer_id, others, tracker)
    draft = acc.return_draft(customer_id)
    # Already on the way to a return form ("finish my return" asked before verifying): the goal handler
    # picks the draft up itself, so offering it here too would ask the same question twice.
    if draft is not None and tracker.get_slot("goal") != "return":
        dispatcher.utter_message(
            response="utter_offer_finish_return",
            order_number=draft.order_number,
            channel_name=channel_name(draft.channel),
        )


def _carry_over(
    dispatcher: CollectingDispatcher,
    acc: CustomerAccounts,
    conv: str,
    customer_id: int,
    others: List[LinkedChannel],
    tracker: Tracker,
) -> None:
    carried = acc.carry_over(customer_id)
    answered = tracker.get_slot("order_number")
    returns = [r for r in carried.open_returns if r.order_number != answered][:CARRY_OVER_LIMIT]
    orders = [o for o in carried.orders_in_progress if o.order_number != answered][:CARRY_OVER_LIMIT]
    if not returns and not orders:
        return
    # The conversation proved it is this customer; their other open matters are theirs to follow up on.
    acc.grant_customer_orders(conv, customer_id, [r.order_number for r in returns] + [o.order_number for o in orders])
    items = [f"return {r.rma_number} ({r.order_number}) is {humanize(r.status)}" for r in returns]
    items += [f"order {o.order_number} is {o.status}" for o in orders]
    dispatcher.utter_message(response="utter_carry_over", channels=_channels_text(others), items="; ".join(items))


# -------------------------------------------------------------------------------------- goal handlers


def _customer(ctx: OrderContext) -> int | None:
    return ctx.store.verified_customer(ctx.conversation_id)


def ask_for_email(ctx: OrderContext) -> List[EventType]:
    """The order was proved with its postcode, which opens that order only: ask for the e-mail instead.

    The verification form asks again (``utter_ask_proof`` words it for the account goals) and the goal
    is answered once the e-mail matched; staff have no customer account here, so they are told there is none.
    """
    if channel_context(ctx.tracker).is_staff:
        ctx.dispatcher.utter_message(response="utter_no_linked_channels")
        return []
    return [SlotSet("proof", None), FollowupAction("verify_order_form")]


def list_channels(ctx: OrderContext) -> List[EventType]:
    """Goal ``channels``: the customer's linked chats, each with a button to remove it."""
    customer = _customer(ctx)
    if customer is None:
        return ask_for_email(ctx)
    links = accounts().linked_channels(customer)
    if not links:
        ctx.dispatcher.utter_message(response="utter_no_linked_channels")
        return about("account")
    here = ctx.conversation_id
    described = []
    channels: List[str] = []
    for link in links:
        if link.channel not in channels:
            channels.append(link.channel)
        described.append(channel_name(link.channel) + (" (this chat)" if link.conversation_id == here else ""))
    buttons = [
        {"title": f"Remove {channel_name(ch)}", "payload": f'/unlink_channel{{"linked_channel": "{ch}"}}'}
        for ch in channels
    ]
    ctx.dispatcher.utter_message(
        response="utter_linked_channels",
        channels=join_words(described),
        news="on" if accounts().notifications_on(customer or 0) else "off",
        buttons=buttons,
    )
    return about("account")


def unlink_channel(ctx: OrderContext) -> List[EventType]:
    """Goal ``unlink``: remove the customer's links on the channel they named (or list them to choose)."""
    channel = channel_from_text(ctx.tracker.get_slot("linked_channel")) or channel_from_text(
        ctx.tracker.latest_message.get("text")
    )
    customer = _customer(ctx)
    if customer is None:
        return ask_for_email(ctx)
    if channel is None:
        return list_channels(ctx) + [SlotSet("linked_channel", None)]
    removed = accounts().unlink(customer, channel)
    if not removed:
        ctx.dispatcher.utter_message(response="utter_channel_not_linked", channel_name=channel_name(channel))
    else:
        ctx.dispatcher.utter_message(response="utter_channel_unlinked", channel_name=channel_name(channel))
    return [SlotSet("linked_channel", None), *about("account")]


def notifications_on(ctx: OrderContext) -> List[EventType]:
    """Goal ``notify_on``: opt in to order news on the linked chats."""
    customer = _customer(ctx)
    if customer is None:
        return ask_for_email(ctx)
    acc = accounts()
    acc.set_notifications(customer, True)
    links = acc.linked_channels(customer)
    if links:
        ctx.dispatcher.utter_message(response="utter_notifications_on", channels=_channels_text(links))
    else:
        ctx.dispatcher.utter_message(response="utter_notifications_on_no_channel")
    return []


def notifications_where(ctx: OrderContext) -> List[EventType]:
    """ "will that come here or by email?" right after order news were turned on: on the linked chats, not email."""
    customer = _customer(ctx)
    links = accounts().linked_channels(customer) if customer is not None else []
    if not links:
        ctx.dispatcher.utter_message(response="utter_notifications_on_no_channel")
        return []
    ctx.dispatcher.utter_message(response="utter_notifications_where", channels=_channels_text(links))
    return []


def notifications_off(ctx: OrderContext) -> List[EventType]:
    """Goal ``notify_off``: no more order news."""
    customer = _customer(ctx)
    if customer is None:
        return ask_for_email(ctx)
    accounts().set_notifications(customer, False)
    ctx.dispatcher.utter_message(response="utter_notifications_off")
    return []


class ActionResumeReturn(Action):
    """Picks up a return left unfinished on any linked channel: same order, items and reason so far."""

    def name(self) -> str:
        """Action name."""
        return "action_resume_return"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        """Grant the draft's order to this verified conversation and reopen the return form where it stopped.

        Not verified here yet (the customer's first words on this channel): verify first, with the goal
        ``return``, whose handler (``actions.returns.start_return``) resumes the draft of the verified order.
        """
        store = get_store()
        conv = conversation_id(tracker)
        customer = store.verified_customer(conv)
        if customer is None:
            # Only asking for the order number (without the form) left the answer unread by any form.
            return [SlotSet("goal", "return"), FollowupAction("verify_order_form")]
        draft = accounts().return_draft(customer)
        if draft is None:
            dispatcher.utter_message(response="utter_no_return_draft")
            return []
        return resume_draft(dispatcher, conv, customer, draft)
