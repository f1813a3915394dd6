"""Orders: tracking, invoices, cancellation and address changes for a verified order.

Nothing changes an order without a yes to a summary of what will happen: "Shall I cancel
order ORD-... (...)?" and "Shall I send order ORD-... to <the address as understood>?". A question in the
middle ("do I get my money back?", "is it too late?") is answered and the question asked again. The
`follow_up_*` functions answer what customers ask next about the same order ("when exactly?", "which
courier?", "why not?"), called by `actions.follow_up`.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions import confirm
from actions.common import conversation_id, day, get_store, humanize, join_words, money, verified_order, when
from actions.context import (
    CONFIRM_ADDRESS,
    CONFIRM_CANCEL,
    OFFER_HANDOFF,
    OrderContext,
    Said,
    about,
    goal_message,
    has,
    is_question,
    said,
    settles,
    starts_no,
)
from actions.form_turns import hedges, say_invalid
from actions.reader import answer_aside
from actions.returns import offer_return
from store.errors import NotAllowed, UnknownDestination
from store.normalize import normalize_order_number, normalize_postcode, parse_address
from store.records import TrackingInfo

logger = logging.getLogger(__name__)

CLOSED_STATUSES = {"cancelled", "payment_failed"}
UNPAID_REASONS = {"failed": "its payment failed", "voided": "its payment was cancelled"}
#: Shipment statuses as a sentence reads them ("Order ORD-... is on its way").
SHIPMENT_STATUS_TEXT = {
    "label_created": "shipped: packed and handed to the carrier",
    "in_transit": "on its way",
    "out_for_delivery": "out for delivery today",
    "delayed": "delayed",
    "lost": "lost in transit",
    "delivered": "delivered",
    "returned": "on its way back to us",
}
ORDER_STATUS_TEXT = {
    "placed": "placed",
    "paid": "paid",
    "payment_failed": "waiting for payment (the payment failed)",
    "cancelled": "cancelled",
}


def track(ctx: OrderContext) -> List[EventType]:
    """Status, carrier, tracking number, last event and ETA; an apology and a person for problems."""
    info = ctx.store.tracking(ctx.conversation_id, ctx.order_number)
    return say_tracking(ctx, info)


def say_tracking(ctx: OrderContext, info: TrackingInfo) -> List[EventType]:
    """The tracking answer for ``info``."""
    say = ctx.dispatcher.utter_message
    status_text = ORDER_STATUS_TEXT.get(info.order_status, humanize(info.order_status))
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
        return about("track")
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
        return about("track")
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
        status_text=SHIPMENT_STATUS_TEXT.get(info.shipment_status or "", humanize(info.shipment_status or "")),
        carrier=info.carrier,
        tracking_number=info.tracking_number,
        last_event_time=when(last.occurred_at) if last else "-",
        last_event=_event_text(last),
        eta_text=eta_text,
    )
    if info.is_lost:
        say(response="utter_tracking_lost", carrier=info.carrier)
        return about("track", last_question=OFFER_HANDOFF)
    if info.is_delayed:
        say(response="utter_tracking_delayed", carrier=info.carrier)
        return about("track", last_question=OFFER_HANDOFF)
    return about("track")


def asked_recently(tracker: Tracker, response: str, turns: int = 3) -> bool:
    """Whether the bot said ``response`` in one of its last ``turns`` answers."""
    seen = 0
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            seen += 1
            if seen > turns:
                return False
        elif event.get("event") == "bot" and (event.get("metadata") or {}).get("utter_action") == response:
            return seen >= 1
    return False


def _event_text(event: Any) -> str:
    if event is None:
        return "no scans yet"
    return f"{event.description}, {event.location}" if event.location else event.description


_WHEN = (
    "when", "arrive", "arriving", "arrival", "how long", "eta", "estimated", "exactly", "due", "get here",
    "get to me", "coming", "expect", "wann", "quand", "delivery date", "what day", "which day", "come",
    "be here", "turn up", "going to ship", "ship", "dispatch*", "send it", "new date", "what date", "which date",
    "the date", "the latest", "latest i can", "deadline", "last day", "until when", "till when", "a date", "a day",
    "which date", "arrival day", "turning up", "show up", "showing up", "land", "lands",
)  # fmt: skip
_CARRIER = (
    "carrier", "courier", "royal mail", "dpd", "dhl", "ups", "evri", "hermes", "who is delivering",
    "who's delivering", "which company", "delivery company", "tracking number", "tracking no", "tracking link",
    "tracking code", "track it myself", "tracking",
)  # fmt: skip
_NOT_RECEIVED = (
    "haven't got", "havent got", "not received", "didn't get", "didnt get", "never got", "never arrived",
    "not arrived", "hasn't arrived", "hasnt arrived", "can't find", "cant find", "not here", "neighbour*",
    "neighbor*", "stolen", "missing", "wasn't delivered", "wasnt delivered", "not delivered", "where is it",
    "nothing here", "nothing's here", "nothing is here", "nothing came", "nothing's come", "nothing has come",
    "nothing arrived", "nothing's arrived", "looked everywhere", "searched everywhere", "no sign of it",
    "no sign of the parcel", "no parcel", "isn't here", "isnt here", "it's not here", "not on my doorstep",
)  # fmt: skip


def not_received(text: str) -> bool:
    """The words say a parcel has not come ("it's not here", "never arrived", "checked with the neighbours")."""
    return has(text, *_NOT_RECEIVED)


def asks_when(text: str) -> bool:
    """The words ask when something comes or ships ("when does it arrive", "new date?")."""
    return has(text, *_WHEN)


def follow_up_track(ctx: OrderContext, latest: Said) -> List[EventType] | None:
    """What customers ask next about the order they just tracked: when exactly, which courier, not received."""
    info = ctx.store.tracking(ctx.conversation_id, ctx.order_number)
    say = ctx.dispatcher.utter_message
    text = latest.text
    delivered = info.delivered_at is not None and not info.is_lost
    if asks_which_first(text):
        # "so which of them will i get first" with two orders checked: both orders' dates side by side
        verified = ctx.store.verified_orders(ctx.conversation_id)
        if len(verified) > 1:
            return compare_arrivals(ctx, verified)
    if delivered and has(text, *_NOT_RECEIVED):
        say(
            response="utter_delivered_not_received",
            order_number=info.order_number,
            delivered_on=day(info.delivered_at),
            last_event=_event_text(info.last_event),
        )
        return about("track", last_question=OFFER_HANDOFF)
    if info.shipped and not delivered and not info.is_lost and has(
        text, "not in", "not home", "not at home", "not be in", "won't be in", "wont be in", "won't be home",
        "wont be home", "i'm out", "im out", "at work", "be away", "i'm away", "im away", "miss it", "miss the",
        "missed it", "nobody home", "nobody's home", "no one's home", "no one's in",
        "no one home", "nobody in", "no one in", "nobody's in", "safe place", "leave it", "left outside",
    ):  # fmt: skip
        # "what if I'm not in?": what the carrier does then, and how to rearrange it with them
        say(
            response="utter_tracking_not_home",
            order_number=info.order_number,
            carrier=info.carrier,
            tracking_number=info.tracking_number,
        )
        return about("track")
    # "who's delivering it and roughly when": both, which the estimate's answer (with the carrier) gives
    carrier_and_when = has(text, *_WHEN, "roughly", "what time") and not delivered and bool(info.estimated_delivery)
    if info.shipped and has(text, *_CARRIER) and not carrier_and_when:
        say(
            response="utter_tracking_carrier",
            order_number=info.order_number,
            carrier=info.carrier,
            tracking_number=info.tracking_number,
            link=f" You can follow it here: {info.tracking_url}" if info.tracking_url else "",
        )
        return about("track")
    if info.shipped and has(text, "where", "last scan*", "scanned", "location", "latest", "update", "why", "late",
                            "delay*", "weather", "stuck", "moving"):  # fmt: skip
        return say_tracking(ctx, info)
    if has(text, *_WHEN) or asks_about_a_day(latest) or carrier_and_when or asks_transit(text):
        if delivered:
            say(
                response="utter_tracking_delivered_on",
                order_number=info.order_number,
                delivered_on=day(info.delivered_at),
            )
            return about("track")
        if not info.shipped and not info.is_lost and asks_transit(text):
            # "how long does delivery take once it ships?": when it ships, and how long its delivery takes then
            events = say_tracking(ctx, info)
            transit = _transit_time(ctx)
            if transit:
                say(text=transit)
            return events
        if not info.shipped or info.is_lost:
            return say_tracking(ctx, info)
        if info.estimated_delivery:
            prefix = "The new estimated delivery" if info.is_delayed else "The estimated delivery"
            say(
                response="utter_tracking_eta",
                order_number=info.order_number,
                eta=f"{prefix} is {day(info.estimated_delivery)}",
                carrier=info.carrier,
                tracking_number=info.tracking_number,
                sorry=" Sorry it's taking longer than planned." if info.is_delayed else "",
            )
            return about("track")
        return say_tracking(ctx, info)
    return None


#: Days a customer names when asking whether the parcel comes then ("today though?", "by friday?").
_DAYS = ("today", "tomorrow", "tonight", "this week", "next week", "weekend", "monday", "tuesday", "wednesday",
         "thursday", "friday", "saturday", "sunday", "heute", "morgen", "aujourd'hui", "demain")  # fmt: skip


def asks_about_a_day(latest: Said) -> bool:
    """A question that names a day ("today though?", "by friday?"): whether the parcel comes then, which the
    estimated delivery answers."""
    return is_question(latest.text) and (bool(latest.entity("date")) or has(latest.text, *_DAYS))


#: Asking until when something can still be done ("what's the latest I can cancel it?"), not asking for it.
_DEADLINE = ("the latest", "latest i can", "until when", "till when", "deadline", "last day", "how long do i have",
             "how long have i got", "how long have i", "by when", "how late", "days do i have", "days have i got",
             "days have i")  # fmt: skip

#: Words asking how long delivery takes (rather than when the order ships).
_TRANSIT_WORDS = ("once it ships", "after it ships", "when it ships", "once shipped", "delivery take*",
                  "delivery usually", "how many days", "take to arrive", "take to come", "take to get",
                  "once it's sent", "once its sent", "once it is sent", "when it's sent", "when its sent",
                  "when it is sent", "after it's sent", "after it is sent", "once sent", "once dispatched",
                  "when dispatched", "once it leaves", "how long is delivery", "how long is the delivery",
                  "how long for delivery", "delivery time", "how long is shipping", "shipping take*")  # fmt: skip
#: Words of the time in the post after the ship date ("and then how many days in the post", "what's the transit
#: time after that"), unless they ask until when something can be done ("after that can I still cancel?").
_TRANSIT_AFTER = ("in the post", "in the mail", "in transit", "transit time", "on the road", "days after",
                  "days later", "after that", "once it's out", "once its out", "once it goes", "after it goes",
                  "after dispatch", "once posted", "after posting")  # fmt: skip


#: What else a "how long" may ask about an order that has not shipped (its own answers say those).
_NOT_TRANSIT = ("cancel*", "refund*", "return*", "hold", "held", "pay*", "money", "address", "invoice")


def asks_transit(text: str) -> bool:
    """The words ask how long delivery takes once the order ships ("and when it is sent, how long is delivery?",
    "how many days does it take after that?"), not until when something can be done or how long a refund takes."""
    if has(text, *_TRANSIT_WORDS) and not has(text, *_DEADLINE):
        return True
    asks = has(text, "how long", "how many days", "how many working days", "how quick*", "how fast", *_TRANSIT_AFTER)
    return asks and is_question(text) and not has(text, *_DEADLINE, *_NOT_TRANSIT)


def _transit_time(ctx: OrderContext) -> str | None:
    """How long the order's own delivery method takes once it ships (None when it cannot be told)."""
    summary = ctx.store.order_summary(ctx.conversation_id, ctx.order_number)
    try:
        quote = ctx.store.shipping_quote(country=summary.shipping_address.country)
    except UnknownDestination:
        return None  # a country we no longer quote: the ship date alone answers
    method = next((m for m in quote.methods if summary.shipping_method in {m.code, m.name}), None)
    if method is None:
        return None
    return (
        f"Once it ships, delivery with {method.name} takes {method.min_days}-{method.max_days} working days."
        if method.min_days != method.max_days
        else f"Once it ships, delivery with {method.name} takes {method.min_days} working day(s)."
    )


#: Which of several comes first ("which of them will I get first", "is the other one coming sooner?").
_FIRST = ("first", "sooner", "soonest", "earlier", "earliest", "before the other", "quicker", "quickest", "faster",
          "fastest")  # fmt: skip
_WHICH = ("which", "what one", "both", "the other one", "the other order", "of them", "of the two", "mine or",
          "or mine", "or my")  # fmt: skip


def asks_which_first(text: str) -> bool:
    """The words compare when the orders come ("so which of them will i get first", "will mine land before the
    other one?"), not which to return, cancel or pay first."""
    return (
        has(text, *_FIRST)
        and has(text, *_WHICH)
        and not has(text, "return*", "cancel*", "refund*", "cheap*", "pay*", "price*", "cost*", "invoice*")
    )


#: Asking what the order cost ("what was the total again", "how much did I pay in the end").
_TOTAL = ("total", "how much did i pay", "how much did i spend", "how much was my order", "how much was the order",
          "what did i pay", "what did i spend", "what i paid", "what i spent", "came to", "grand total",
          "order value", "the amount i paid", "the sum", "altogether", "all together", "all in all",
          "in all")  # fmt: skip


def follow_up_total(ctx: OrderContext, latest: Said) -> List[EventType] | None:
    """ "what was the total again?" about the order in focus: what it came to, items and delivery apart (a
    refund's amount and the VAT are their own answers)."""
    text = latest.text
    if (
        not has(text, *_TOTAL)
        or latest.entity("product")
        or has(
            text, "refund*", "back", "vat", "tax", "ship it", "to send", "quote", "would", "will", "express", "upgrad*"
        )
    ):
        return None
    summary = ctx.store.order_summary(ctx.conversation_id, ctx.order_number)
    ctx.dispatcher.utter_message(
        response="utter_order_total",
        order_number=summary.order_number,
        total=money(summary.total, summary.currency),
        subtotal=money(summary.subtotal, summary.currency),
        shipping=money(summary.shipping_cost, summary.currency),
        payment_method=humanize(summary.payment_method),
    )
    return about(None)


def compare_arrivals(ctx: OrderContext, numbers: List[str]) -> List[EventType]:
    """ "Which one arrives first?" over the orders this conversation verified."""
    lines = []
    for number in numbers:
        info = ctx.store.tracking(ctx.conversation_id, number)
        if info.delivered_at is not None:
            lines.append(f"{number}: delivered on {day(info.delivered_at)}")
        elif info.estimated_delivery:
            lines.append(f"{number}: estimated delivery {day(info.estimated_delivery)}")
        elif info.expected_ship_date:
            lines.append(f"{number}: not shipped yet, should ship by {day(info.expected_ship_date)}")
        else:
            lines.append(f"{number}: {humanize(info.order_status)}")
    ctx.dispatcher.utter_message(response="utter_orders_compared", lines="\n".join(lines))
    return about("track")


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
        return about("invoice", refusal=refusal.message)
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
    return about("invoice")


def follow_up_invoice(ctx: OrderContext, latest: Said) -> List[EventType] | None:
    """VAT shown separately, a company name, resending it."""
    try:
        inv = ctx.store.invoice(ctx.conversation_id, ctx.order_number)
    except NotAllowed:
        return None
    if has(latest.text, "vat", "tax"):
        ctx.dispatcher.utter_message(
            response="utter_invoice_vat",
            invoice_number=inv.invoice_number,
            vat=money(inv.vat_amount, inv.currency),
            rate=f"{inv.vat_rate * 100:.0f}%",
            total=money(inv.total, inv.currency),
        )
        return about("invoice")
    if has(latest.text, "company", "business", "name on it", "different name", "change the name", "address on it"):
        ctx.dispatcher.utter_message(response="utter_invoice_changes", invoice_number=inv.invoice_number)
        return about("invoice", last_question=OFFER_HANDOFF)
    return None


# ----------------------------------------------------------------------------------------- cancelling


def start_cancel(ctx: OrderContext) -> List[EventType]:
    """Ask for confirmation when the store allows cancelling (unless this message confirms the question
    just asked); otherwise say why not."""
    try:
        ctx.store.check_cancellable(ctx.conversation_id, ctx.order_number)
    except NotAllowed as refusal:
        ctx.dispatcher.utter_message(
            response="utter_cancel_refused", order_number=ctx.order_number, reason=refusal.message
        )
        summary = ctx.store.order_summary(ctx.conversation_id, ctx.order_number)
        if summary.delivered_at is not None:
            # "you can start a return instead": offer it, so a yes starts one
            eligibility = ctx.store.return_eligibility(ctx.conversation_id, ctx.order_number)
            if eligibility.eligible:
                return offer_return(ctx, eligibility=eligibility)
        return about("cancel_refused", refusal=refusal.message)
    latest = said(ctx.tracker)
    # what was asked: this message, or, when it only gave the proof ("N18 5ES"), the one that asked for the check
    asked = goal_message(ctx.tracker) if _only_proof(latest) else latest.text
    if not latest.button and is_question(asked) and has(asked, *_DEADLINE):
        # "what's the latest I can cancel it?": until it ships, and when that is; nothing is offered
        ctx.dispatcher.utter_message(text=f"You can cancel order {ctx.order_number} any time until it ships.")
        return say_tracking(ctx, ctx.store.tracking(ctx.conversation_id, ctx.order_number))
    asked = ctx.tracker.get_slot("last_question") == CONFIRM_CANCEL or asked_recently(
        ctx.tracker, "utter_ask_confirm_cancel"
    )
    # "ok cancel it" (filed as a cancel request) right after the question is its yes; "maybe cancel it" is not
    confirmed = (
        asked
        and not latest.button
        and (confirm.is_clear_yes(latest.text, confirm.CANCEL) or yes_after_dropping(latest.text, confirm.CANCEL))
    )
    return [
        *about("cancel", last_question=None if confirmed else CONFIRM_CANCEL),
        SlotSet("confirm_cancel", True if confirmed else None),
        FollowupAction("cancel_form"),
    ]


#: A sentence dropping the change asked about in between ("nah forget the address", "never mind that").
_DROPS_THE_OTHER = re.compile(
    r"^(?:(?:ok|okay|oh|um|hmm|sorry|actually|no|nah|nope|wait|erm|right)\W+)*"
    r"(?:forget|never\s*mind|nvm|scrap|skip|ignore|leave|drop)\b(?:\s+(?:about\s+)?(?:it|that|this|the|my|"
    r"changing|change|address|new|delivery|address\s+change|idea))*\W*$",
    re.IGNORECASE,
)


def yes_after_dropping(text: str, action: str) -> bool:
    """ "nah forget the address. yes, cancel it": a sentence dropping what was asked in between, then a clear yes
    to the summary of ``action`` shown before it (`actions.confirm`: the yes sentence alone must be clear)."""
    sentences = [part.strip() for part in re.split(r"[.!;\n]+", text or "") if part.strip()]
    if len(sentences) < 2:
        return False
    return all(_DROPS_THE_OTHER.match(part) for part in sentences[:-1]) and confirm.is_clear_yes(sentences[-1], action)


def _only_proof(latest: Said) -> bool:
    """The message gives the proof the check asked for and asks nothing of its own ("N18 5ES", "its x@y.com")."""
    if latest.button or not (latest.entity("email") or latest.entity("postcode")):
        return False
    return not is_question(latest.text) and not has(latest.text, "cancel*")


class ActionAskConfirmCancel(Action):
    """Asks "Shall I cancel order ...?" with what it holds and what happens to the money."""

    def name(self) -> str:
        """Action name."""
        return "action_ask_confirm_cancel"

    @settles
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        """The summary and the yes/no buttons."""
        number = verified_order(tracker)
        if number is None:
            dispatcher.utter_message(response="utter_ask_order_number")
            return []
        summary = get_store().order_summary(conversation_id(tracker), number)
        items = join_words([f"{line.qty} x {line.title}" for line in summary.lines])
        charged = summary.payment_status in {"paid"}
        money_note = (
            f"the {money(summary.total, summary.currency)} you paid goes back to your original payment method"
            if charged
            else "you won't be charged, so there's no money to refund"
        )
        dispatcher.utter_message(
            response="utter_ask_confirm_cancel",
            order_number=number,
            items=items,
            money_note=money_note,
            buttons=confirm.buttons(cancel_token(number), "Yes, cancel it", "No, keep it"),
        )
        return [SlotSet("last_question", CONFIRM_CANCEL)]


def cancel_token(number: str) -> str:
    """What the yes button of "Shall I cancel order <number>?" carries (`actions.confirm.token`)."""
    return confirm.token(confirm.CANCEL, number)


_NOT_CANCEL = re.compile(
    r"\b(?:don'?t|do not|not|no|never|won'?t|rather not)\b[^.?!]{0,25}\bcancel|\b(?:no|hang on|hold on),? wait\b|"
    r"\bwait,? no\b|changed my mind|change of plan",
    re.IGNORECASE,
)


def takes_it_back(text: str) -> bool:
    """The customer does not want the cancel after all ("hmm no wait, I don't want to cancel, send it to my work
    address instead"): NLU files it under cancel_order, which must not count as the yes."""
    return bool(_NOT_CANCEL.search(text or ""))


def _pressed(dispatcher: CollectingDispatcher, latest: Said, action: str, expected: str) -> bool | None:
    """A button pressed at a confirmation: True for this summary's yes, False for a no; a yes button of another
    (older) question is refused and said so, and any other button is no answer (the form asks again)."""
    reply = confirm.read(latest, action=action, expected=expected)
    if reply is confirm.Reply.YES:
        return True
    if reply is confirm.Reply.NO:
        return False
    stale = reply is confirm.Reply.STALE
    dispatcher.utter_message(response="utter_confirm_stale" if stale else "utter_confirm_unclear")
    return None


def _unclear(dispatcher: CollectingDispatcher, tracker: Tracker, latest: Said) -> None:
    """Not a yes and not a no: a question is answered; otherwise say that nothing was done (the form asks again)."""
    if is_question(latest.text) and answer_aside(dispatcher, tracker, latest):
        return
    dispatcher.utter_message(response="utter_confirm_unclear")


class ValidateCancelForm(FormValidationAction):
    """Reads the answer to "Shall I cancel?"; a question in between is answered and asked again."""

    def name(self) -> str:
        """Action name."""
        return "validate_cancel_form"

    def validate_confirm_cancel(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """True only for a clear yes to this summary (`actions.confirm`), False for no; a question is answered,
        and anything else (a hedge, "yes?", a stale yes button) changes nothing and asks again.

        The slot mapping's True for an ``affirm`` is not trusted: NLU files "maybe" and "let me think" as affirm.
        """
        latest = said(tracker)
        number = verified_order(tracker) or ""
        if latest.button:
            return {"confirm_cancel": _pressed(dispatcher, latest, confirm.CANCEL, cancel_token(number))}
        if confirm.undecided(latest.text) and not is_question(latest.text):
            dispatcher.utter_message(response="utter_confirm_unclear")  # "not sure": nothing changes, asked again
            return {"confirm_cancel": None}
        if yes_after_dropping(latest.text, confirm.CANCEL):
            return {"confirm_cancel": True}  # "nah forget the address. yes, cancel it": the yes after the drop
        if slot_value is False or takes_it_back(latest.text):
            return {"confirm_cancel": False}  # a no, or "no wait, I don't want to cancel" filed as a yes
        if confirm.read(latest, action=confirm.CANCEL, expected="") is confirm.Reply.YES:
            return {"confirm_cancel": True}
        if is_question(latest.text):
            _unclear(dispatcher, tracker, latest)  # answered; the form asks again
            return {"confirm_cancel": None}
        if starts_no(latest.text) or has(latest.text, "keep it", "don't cancel", "dont cancel", "leave it"):
            return {"confirm_cancel": False}
        _unclear(dispatcher, tracker, latest)
        return {"confirm_cancel": None}


class ActionCancelOrder(Action):
    """Submit of `cancel_form`: cancels when the customer confirmed."""

    def name(self) -> str:
        """Action name."""
        return "action_cancel_order"

    @settles
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        """Cancel (or keep) the verified order."""
        number = verified_order(tracker)
        if number is None:
            dispatcher.utter_message(response="utter_ask_order_number")
            return [SlotSet("confirm_cancel", None)]
        if not tracker.get_slot("confirm_cancel"):
            dispatcher.utter_message(response="utter_cancel_kept", order_number=number)
            if has(said(tracker).text, "address", "send it to", "sent to", "deliver it to", "delivered to"):
                # "don't cancel, send it to my work address instead": the address change they asked for
                return [SlotSet("confirm_cancel", None), SlotSet("goal", "change_address"),
                        FollowupAction("action_continue_goal")]  # fmt: skip
            # kept while its payment failed ("no wait, I'll try paying again"): what follows is about paying
            # ("how long do I have again?" is the hold), else about the order as it stands
            summary = get_store().order_summary(conversation_id(tracker), number)
            topic = "payment" if summary.status == "payment_failed" else "track"
            return [SlotSet("confirm_cancel", None), *about(topic)]
        asked = order_asked_to_cancel(tracker)
        if asked != number:
            # The yes was for another order (or for none we know of): cancel nothing, ask about this one.
            logger.info("cancel confirmed for %s but the slot now names %s: asking again", asked, number)
            return start_cancel(OrderContext(dispatcher, tracker, get_store(), conversation_id(tracker), number))
        try:
            result = get_store().cancel_order(conversation_id(tracker), number)
        except NotAllowed as refusal:
            dispatcher.utter_message(response="utter_cancel_refused", order_number=number, reason=refusal.message)
            return [SlotSet("confirm_cancel", None), *about("cancel_refused", refusal=refusal.message)]
        dispatcher.utter_message(response="utter_cancelled", order_number=number, refund_note=_refund_note(result))
        return [SlotSet("confirm_cancel", None), *about("cancelled")]


def _refund_note(result: Any) -> str:
    if result.refund is not None:
        return (
            f"We're refunding {money(result.refund.amount, result.refund.currency)} to your "
            f"{result.refund.method}; it should arrive by {day(result.refund.expected_by)}."
        )
    return "You haven't been charged for it, so there's nothing to refund."


def follow_up_cancelled(ctx: OrderContext, latest: Said) -> List[EventType] | None:
    """After a cancellation: the money, a confirmation."""
    if has(latest.text, "money", "refund*", "charged", "pay", "paid", "card", "confirm*", "email", "sure", "done",
           "definitely", "cancelled", "canceled", "really", "gone through", "went through"):  # fmt: skip
        refunds = ctx.store.refunds_for(ctx.conversation_id, ctx.order_number)
        if refunds:
            refund = refunds[-1]
            note = (
                f"We're refunding {money(refund.amount, refund.currency)} to your {refund.method}; it should "
                f"arrive by {day(refund.expected_by)}."
            )
        else:
            note = "You weren't charged for it, so there's nothing to refund."
        ctx.dispatcher.utter_message(response="utter_cancelled_follow_up", order_number=ctx.order_number, note=note)
        return about("cancelled")
    return None


# ---------------------------------------------------------------------------------------- the address


def cannot_add_items(ctx: OrderContext) -> List[EventType]:
    """Goal ``add_items``: a placed order's items can't be changed here; what was forgot is ordered on its own."""
    ctx.dispatcher.utter_message(response="utter_cannot_add_items", order_number=ctx.order_number)
    return about("track")


def start_address_change(ctx: OrderContext) -> List[EventType]:
    """Ask for the new address when the order hasn't shipped; otherwise say why not."""
    try:
        ctx.store.check_address_changeable(ctx.conversation_id, ctx.order_number)
    except NotAllowed as refusal:
        ctx.dispatcher.utter_message(
            response="utter_address_refused", order_number=ctx.order_number, reason=refusal.message
        )
        return about("address_refused", refusal=refusal.message)
    latest = said(ctx.tracker)
    asked = goal_message(ctx.tracker) if _only_proof(latest) else latest.text
    if not latest.button and is_question(asked) and has(asked, *_DEADLINE):
        # "what's the latest I could change the address?": until it ships, and when that is; no form is opened
        ctx.dispatcher.utter_message(
            text=f"You can change the delivery address of order {ctx.order_number} any time until it ships."
        )
        return say_tracking(ctx, ctx.store.tracking(ctx.conversation_id, ctx.order_number))
    return [
        *about("change_address"),
        SlotSet("new_address", address_given(ctx.tracker)),
        SlotSet(PARTIAL_ADDRESS, None),
        SlotSet("confirm_address", None),
        FollowupAction("address_form"),
    ]


#: The street and town of a new address given without its postcode (only the postcode is asked for then).
PARTIAL_ADDRESS = "partial_address"


def address_given(tracker: Tracker) -> str | None:
    """The new address the customer already gave with the request ("change the delivery address of ORD-… to 5
    Mill Lane, Bristol BS1 4DJ, my email is …"), so the form asks only for the yes; None when there is none.

    Read from the request's street and postcode entities (the last three messages: the proof may have come
    after it), and only when the store can parse them into an address for the order's country.
    """
    seen = 0
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        seen += 1
        if seen > 3:
            break
        parse = event.get("parse_data") or {}
        values: Dict[str, str] = {}
        for entity in parse.get("entities") or []:
            values.setdefault(str(entity.get("entity")), str(entity.get("value") or ""))
        street, postcode = values.get("address"), values.get("postcode")
        if not street or not postcode:
            continue
        candidate = ", ".join(part for part in (street, f"{values.get('city', '')} {postcode}".strip()) if part)
        if parse_address(candidate, _order_country(tracker)) is not None:
            return candidate
        return None
    return None


_LEAD_IN = re.compile(
    r"^.*?(?:(?:new\s+)?address(?:\s+is)?\s*[:\-]|\b(?:changed?|change it|send it|deliver it|move it|it's|its|it is|"
    r"to|is)\s+(?:to\s+)?(?=(?:flat|apartment|apt|unit|house|suite|the\s)?\s*\d))\s*",
    re.IGNORECASE,
)


def order_asked_to_cancel(tracker: Tracker) -> str | None:
    """The order the cancel question named: the ``order_number`` slot when `cancel_form` last started.

    The answer to "Shall I cancel order ORD-A?" may carry entities (``/affirm{"order_number":
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


def clean_address(text: str) -> str:
    """The address in a message ("i need it changed to 5 Mill Lane, Bath BA1 1AA" -> "5 Mill Lane, Bath BA1 1AA")."""
    text = " ".join(str(text or "").split())
    cleaned = _LEAD_IN.sub("", text, count=1).strip(" .!")
    return cleaned or text


def _order_country(tracker: Tracker) -> str | None:
    number = verified_order(tracker)
    if number is None:
        return None
    return get_store().order_summary(conversation_id(tracker), number).shipping_address.country


#: A message that is a whole address ("5 Mill Lane, …", "flat 3, 14 Orchard Road, …", "Unit 7 Riverside …").
_WHOLE_ADDRESS = re.compile(
    r"(?:(?:flat|apartment|apt|unit|house|suite)\s*\w+,?\s+(?:\d+[a-z]?,?\s+)?|\d+[a-z]?,?\s+)[a-z]{3,}", re.IGNORECASE
)


#: The whole message drops the address change ("never mind", "forget it", "stop", "leave it").
_DROP_WHOLE = re.compile(
    r"^(?:(?:ok|okay|oh|um|hmm|sorry|actually|no|nah|nope|wait|erm|right|then)\W+)*"
    r"(?:stop|cancel|never\s*mind|nvm|forget\s+(?:it|that|about\s+it)|leave\s+it|don'?t\s+bother|not\s+now|"
    r"no\s+thanks?|(?:i\s*(?:'ve|have)?\s+)?chang(?:e|ed)\s+my\s+mind)"
    r"(?:\W+(?:it|that|this|please|pls|thanks|thank\s+you|then|now))*\W*$",
    re.IGNORECASE,
)
#: Phrases that keep the address wherever they stand ("nah forget it, keep the address as it is").
_KEEP_ADDRESS = ("keep the address", "keep my address", "keep the old", "keep the current", "keep the same",
                 "keep it as it is", "leave the address", "leave it as it is", "fine as it is", "stay as", "stays as",
                 "don't change", "dont change", "do not change", "no need to change", "not change it",
                 "never mind", "nevermind", "forget it", "forget about it", "changed my mind")  # fmt: skip


def keeps_the_address(latest: Said) -> bool:
    """The answer to "what's the new address?" drops the change instead ("nah forget it, keep the address as it
    is", "never mind"); an address in it (a postcode or a street) is an answer, not a drop."""
    if latest.button or not latest.text or latest.entity("postcode") or latest.entity("address"):
        return False
    return bool(_DROP_WHOLE.match(latest.text.strip())) or has(latest.text, *_KEEP_ADDRESS)


class ValidateAddressForm(FormValidationAction):
    """Reads the new address (a question in between is answered), then the yes to the address as understood;
    a correction at the yes ("it's BA1 1AB not 1AA") changes the address and asks again."""

    def name(self) -> str:
        """Action name."""
        return "validate_address_form"

    def validate_new_address(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """Accept free text the store can parse into an address with a postcode. A street and town without the
        postcode are kept, and only the postcode is asked for (`ActionAskNewAddress`); the postcode given next
        completes them."""
        latest = said(tracker)
        partial = str(tracker.get_slot(PARTIAL_ADDRESS) or "")
        forget = {PARTIAL_ADDRESS: None} if partial else {}  # the street kept for its postcode, once it is used
        if keeps_the_address(latest):
            # "nah forget it, keep the address as it is": the change ends with nothing changed (its submit says so)
            return {"new_address": None, "confirm_address": False, "requested_slot": None, **forget}
        if latest.text and is_question(latest.text) and not latest.entity("postcode"):
            answer_aside(dispatcher, tracker, latest)
            return {"new_address": None}
        if hedges(latest):
            dispatcher.utter_message(response="utter_form_no_rush")  # "hang on, not sure": the question stands
            return {"new_address": None}
        text = clean_address(str(slot_value or ""))
        country = _order_country(tracker)
        if partial and text and parse_address(text, country) is not None and not _WHOLE_ADDRESS.match(text):
            # "LS6 2AB" after "14 Mill Lane, Headingley, Leeds": the address kept, with its postcode
            postcode = normalize_postcode(text, country)
            completed = f"{partial} {postcode}" if postcode else ""
            if completed and parse_address(completed, country) is not None:
                return {"new_address": completed, **forget}
        if text and len(text) <= 300 and parse_address(text, country) is not None:
            return {"new_address": text, **forget}
        if text and len(text) <= 300 and (latest.entity("address") or _WHOLE_ADDRESS.match(text)):
            # "It's 14 Mill Lane, Headingley, Leeds": kept, and only its postcode is asked for
            return {"new_address": None, PARTIAL_ADDRESS: text}
        if partial:
            # "yes please" at the postcode question: nothing is changed without it, and it is asked for again
            dispatcher.utter_message(response="utter_postcode_still_needed")
            return {"new_address": None}
        say_invalid(dispatcher, tracker, "utter_address_invalid")
        return {"new_address": None}

    def validate_confirm_address(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """A clear yes to this address (`actions.confirm`), no, a corrected address or postcode, or a question;
        anything else (a hedge, "yes?", a stale yes button) changes nothing and asks again."""
        latest = said(tracker)
        if latest.button:
            return {"confirm_address": _pressed(dispatcher, latest, confirm.ADDRESS, address_token(tracker))}
        current = str(tracker.get_slot("new_address") or "")
        restated = restated_address(latest.text, _order_country(tracker))
        if restated is not None and restated != current:
            # "sorry it's Flat 3 not Flat 2. Flat 3, 8 Mill Lane, Bristol BS1 4QA": the address said again in full
            return {"new_address": restated, "confirm_address": None}
        swapped = corrected_part(latest.text, current)
        if swapped is not None:
            return {"new_address": swapped, "confirm_address": None}  # "no, it's Mill Lane not Mill Road"
        if confirm.undecided(latest.text) and not is_question(latest.text):
            dispatcher.utter_message(response="utter_confirm_unclear")  # "not sure": nothing changes, asked again
            return {"confirm_address": None}
        if slot_value is False:
            return {"confirm_address": False}
        postcode = latest.entity("postcode")
        corrected = clean_address(latest.text)
        country = _order_country(tracker)
        whole = _WHOLE_ADDRESS.match(corrected)
        if whole and not has(latest.text, "not") and parse_address(corrected, country) is not None:
            return {"new_address": corrected, "confirm_address": None}  # a whole new address
        if postcode and current:
            old = parse_address(current, country)
            if old is not None and old.postcode.replace(" ", "") != postcode.upper().replace(" ", ""):
                replaced = re.sub(re.escape(old.postcode), postcode.upper(), current, flags=re.IGNORECASE)
                if replaced == current:
                    replaced = f"{current.rsplit(old.postcode, 1)[0]}{postcode.upper()}"
                return {"new_address": replaced, "confirm_address": None}
        if confirm.read(latest, action=confirm.ADDRESS, expected="") is confirm.Reply.YES:
            return {"confirm_address": True}
        if is_question(latest.text):
            _unclear(dispatcher, tracker, latest)  # answered; the form asks again
            return {"confirm_address": None}
        if starts_no(latest.text) or has(latest.text, "leave it", "keep it", "forget it", "never mind"):
            return {"confirm_address": False}
        _unclear(dispatcher, tracker, latest)
        return {"confirm_address": None}


class ActionAskNewAddress(Action):
    """Asks for the new address, or only for its postcode when the street and town were given without it."""

    def name(self) -> str:
        """Action name."""
        return "action_ask_new_address"

    @settles
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        """The question for the address (or its postcode) of the verified order."""
        number = verified_order(tracker) or tracker.get_slot("order_number")
        partial = tracker.get_slot(PARTIAL_ADDRESS)
        if partial:
            dispatcher.utter_message(response="utter_ask_postcode", address=partial, order_number=number)
        else:
            dispatcher.utter_message(response="utter_ask_new_address", order_number=number)
        return []


class ActionAskConfirmAddress(Action):
    """Asks "Shall I send order ... to <the address as understood>?"."""

    def name(self) -> str:
        """Action name."""
        return "action_ask_confirm_address"

    @settles
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        """The parsed address and the yes/no buttons."""
        number = verified_order(tracker)
        parsed = parse_address(str(tracker.get_slot("new_address") or ""), _order_country(tracker))
        if number is None or parsed is None:
            dispatcher.utter_message(response="utter_ask_order_number")
            return []
        shown = ", ".join(p for p in (parsed.line, f"{parsed.city} {parsed.postcode}".strip()) if p)
        dispatcher.utter_message(
            response="utter_ask_confirm_address",
            order_number=number,
            address=shown,
            buttons=confirm.buttons(address_token(tracker), "Yes, change it", "No, keep the old one"),
        )
        return [SlotSet("last_question", CONFIRM_ADDRESS)]


_NOT_THAT = re.compile(
    r"^(?P<new>.+?)\s*,?\s+(?:not|instead of|rather than)\s+(?P<old>[^,.!?]+?)[\s.!]*$", re.IGNORECASE
)
_CORRECTION_OPENERS = re.compile(
    r"^(?:(?:no|nope|sorry|oops|wait|hang on|actually|my bad|typo)\b[\s,.!-]*)*"
    r"(?:(?:it'?s|its|it is|it should be|should be|i meant|meant|make it|the street is|the road is)\s+)?",
    re.IGNORECASE,
)


def restated_address(text: str, country: str | None) -> str | None:
    """A whole address said again after a correction in the same message ("it's Flat 3 not Flat 2. Flat 3, 8 Mill
    Lane, Bristol BS1 4QA"): the last sentence when it is a whole address the store can read, else None (one
    sentence alone is read by the caller as before)."""
    sentences = [part for part in re.split(r"(?<=[.!;])\s+", " ".join(str(text or "").split())) if part.strip()]
    if len(sentences) < 2:
        return None
    last = clean_address(_CORRECTION_OPENERS.sub("", sentences[-1]))
    if not _WHOLE_ADDRESS.match(last) or has(last, "not") or parse_address(last, country) is None:
        return None
    return last


def corrected_part(text: str, current: str) -> str | None:
    """The address summarised with the part the customer corrects swapped ("no wait, it's Mill Lane not Mill
    Road"), or None when the message does not correct a part of it."""
    if not current:
        return None
    found = _NOT_THAT.match(" ".join(text.split()))
    if found is None:
        return None
    new = _CORRECTION_OPENERS.sub("", found.group("new").rsplit(",", 1)[-1].strip()).strip(" ,.'\"")
    old = found.group("old").strip(" ,.'\"")
    if not new or not old or old.lower() == new.lower() or old.lower() not in current.lower():
        return None
    return re.sub(re.escape(old), new, current, count=1, flags=re.IGNORECASE)


def address_token(tracker: Tracker) -> str:
    """What the yes button of "Shall I change the delivery address of order ... to ...?" carries: the order and
    the address it would change to (a corrected address gets a new button)."""
    return confirm.token(confirm.ADDRESS, verified_order(tracker) or "", str(tracker.get_slot("new_address") or ""))


class ActionChangeAddress(Action):
    """Submit of `address_form`: changes the delivery address in the store once confirmed."""

    def name(self) -> str:
        """Action name."""
        return "action_change_address"

    @settles
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        """Change the address of the verified order (or leave it)."""
        number = verified_order(tracker)
        text = tracker.get_slot("new_address")
        clear = [SlotSet("new_address", None), SlotSet("confirm_address", None), SlotSet(PARTIAL_ADDRESS, None)]
        if number is not None and tracker.get_slot("confirm_address") is False:
            # a no at the summary, or the change dropped at the address question: nothing changes
            dispatcher.utter_message(response="utter_address_kept", order_number=number)
            return clear + about("track")
        if number is None or not text:
            dispatcher.utter_message(response="utter_ask_order_number")
            return clear
        if not tracker.get_slot("confirm_address"):
            dispatcher.utter_message(response="utter_address_kept", order_number=number)
            return clear + about("track")
        try:
            change = get_store().change_shipping_address(conversation_id(tracker), number, text)
        except NotAllowed as refusal:
            dispatcher.utter_message(response="utter_address_refused", order_number=number, reason=refusal.message)
            return clear + about("address_refused", refusal=refusal.message)
        dispatcher.utter_message(
            response="utter_address_changed", order_number=number, address=change.new_address.one_line()
        )
        return clear + about("address_changed", refusal=None)


def follow_up_address_changed(ctx: OrderContext, latest: Said) -> List[EventType] | None:
    """ "So it will go there now?" after a change: yes, with the address on the order."""
    if has(latest.text, "go there", "right", "sure", "confirm*", "definitely", "updated", "changed", "new address"):
        summary = ctx.store.order_summary(ctx.conversation_id, ctx.order_number)
        ctx.dispatcher.utter_message(
            response="utter_address_is", order_number=ctx.order_number, address=summary.shipping_address.one_line()
        )
        return about("address_changed")
    return None
