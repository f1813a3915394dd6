"""Shipping questions: methods, prices and delivery times to a country or postcode for an order value.

A quote is remembered (slot `shipping_quote`: country, postcode, order value), so the follow-ups of a
shipping conversation keep what was not said again: "and to canada?" keeps the basket, "sorry i meant
90 quid" keeps the country, "which is fastest" and "how long" keep both.
"""

from __future__ import annotations

import functools
import re
from decimal import Decimal, InvalidOperation
from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import get_store, money
from actions.context import QUOTE, TOPIC, Said, about, has, said, settles
from actions.product_lookup import meant
from actions.products import online_stock_answer, stock_answer
from actions.reader import also_asked, in_context
from store.errors import UnknownDestination
from store.normalize import normalize_country, parse_amount
from store.records import ShippingMethodInfo

#: Cities the NLU recognises (nlu_data/nlu/lookups.yml) -> their country, so "to new york" is a quote.
CITY_COUNTRIES = {
    "san francisco": "US", "los angeles": "US", "las vegas": "US", "new york": "US", "chicago": "US",
    "houston": "US", "seattle": "US", "boston": "US", "miami": "US",
    "johannesburg": "ZA", "cape town": "ZA",
    "southampton": "GB", "birmingham": "GB", "manchester": "GB", "nottingham": "GB", "cambridge": "GB",
    "edinburgh": "GB", "leicester": "GB", "liverpool": "GB", "newcastle": "GB", "sheffield": "GB",
    "aberdeen": "GB", "brighton": "GB", "coventry": "GB", "belfast": "GB", "bristol": "GB", "cardiff": "GB",
    "glasgow": "GB", "oxford": "GB", "london": "GB", "leeds": "GB", "york": "GB",
    "copenhagen": "DK", "amsterdam": "NL", "rotterdam": "NL", "the hague": "NL", "utrecht": "NL",
    "barcelona": "ES", "valencia": "ES", "madrid": "ES", "frankfurt": "DE", "hamburg": "DE", "münchen": "DE",
    "munich": "DE", "berlin": "DE", "koln": "DE", "köln": "DE", "cologne": "DE",
    "marseille": "FR", "paris": "FR", "lyon": "FR", "melbourne": "AU", "sydney": "AU",
    "stockholm": "SE", "vancouver": "CA", "montreal": "CA", "calgary": "CA", "toronto": "CA", "ottawa": "CA",
    "auckland": "NZ", "brussels": "BE", "antwerp": "BE", "budapest": "HU", "helsinki": "FI",
    "dublin": "IE", "galway": "IE", "cork": "IE", "athens": "GR", "geneva": "CH", "zurich": "CH",
    "krakow": "PL", "warsaw": "PL", "lisbon": "PT", "porto": "PT", "mumbai": "IN", "naples": "IT",
    "milan": "IT", "rome": "IT", "prague": "CZ", "vienna": "AT", "dubai": "AE", "seoul": "KR", "tokyo": "JP",
    "oslo": "NO",
}  # fmt: skip
_MONEY = re.compile(
    r"(?:[£$€]\s?(\d+(?:[.,]\d{1,2})?))|(?:\b(\d+(?:[.,]\d{1,2})?)\s?(?:quid|pounds?|gbp|£|euros?|eur|dollars?|usd)\b)"
    r"|(?:\b(?:spend|spending|order of|worth|basket of|value of|value|for|about|around|is)\s+(?:about\s+)?"
    r"(\d{1,4}(?:[.,]\d{1,2})?)\b(?!\s*(?:days?|items?|x\b)))",
    re.IGNORECASE,
)
DEFAULT_COUNTRY = "GB"  # a UK shop: a basket value alone is quoted for the UK


#: The kinds of delivery by the method's code in the shop's data, in the words customers use.
_KINDS = {"standard": "Standard", "express": "Express", "next_day": "Next day", "same_day": "Same day",
          "economy": "Economy"}  # fmt: skip


def method_title(method: ShippingMethodInfo) -> str:
    """The method with its kind in words when its carrier's name does not say it ("Standard (Royal Mail Tracked
    48)", "EU Express (DHL Express)"), so "standard or express?" can be told from the answer."""
    kind = _KINDS.get(method.code)
    if kind is None or kind.lower() in method.name.lower():
        return method.name
    return f"{kind} ({method.name})"


def _method_line(method: ShippingMethodInfo) -> str:
    price = "free" if method.price == 0 else money(method.price)
    days = f"{method.min_days}-{method.max_days}" if method.min_days != method.max_days else f"{method.min_days}"
    free = f" (free over {money(method.free_over)})" if method.free_over is not None and method.price != 0 else ""
    unit = "working day" if method.max_days == 1 else "working days"
    return f"- {method_title(method)}: {price}{free}, {days} {unit}"


def money_in(text: str) -> Decimal | None:
    """An amount of money written in ``text`` ("90 quid", "£45", "if i spend 45"), or None."""
    match = _MONEY.search(text or "")
    if match is None:
        return None
    raw = next(g for g in match.groups() if g)
    try:
        return Decimal(raw.replace(",", ".")).quantize(Decimal("0.01"))
    except InvalidOperation:
        return None


@functools.lru_cache(maxsize=1024)
def _country_in_words(text: str) -> str | None:
    """A country named in the words (asked several times a turn: cached)."""
    return normalize_country(text) or None


def city_country(city: str | None) -> str | None:
    """The country of a city the NLU recognised, or None."""
    return CITY_COUNTRIES.get(" ".join(str(city or "").lower().split()))


#: "Canada not the US", "not the US but Canada", "Canada instead of the US": the country after these is rejected.
_REJECTED = re.compile(
    r"\b(?:not|instead of|rather than)\s+(?:to\s+)?(?:the\s+)?([^,.;:!?]+?)(?=\s+(?:but|and|,)\b|[,.;:!?]|$)", re.I
)


def _wanted_country(latest: Said) -> str | None:
    """The country entity the message means: with two named, the one not rejected ("I meant Canada not the US")."""
    countries = latest.entities.get("country") or []
    if len(countries) < 2:
        return countries[0] if countries else None
    rejected = {_country_in_words(m.group(1)) for m in _REJECTED.finditer(latest.text or "")} - {None}
    kept = [c for c in countries if (_country_in_words(c) or c) not in rejected]
    return kept[0] if kept else countries[0]


def destination_in(latest: Said) -> tuple[str | None, str | None]:
    """(country, postcode) named in the message: entities, a known city, or a country name in the words."""
    country = _wanted_country(latest)
    if country is None and latest.entity("city"):
        country = city_country(latest.entity("city"))
    if country is None and latest.text:
        country = _country_in_words(latest.text)
    return country, latest.entity("postcode")


def value_in(latest: Said) -> Decimal | None:
    """The order value named in the message (the amount entity, else money in the words)."""
    amount = latest.entity("amount")
    if amount:
        try:
            return parse_amount(amount)
        except (ValueError, InvalidOperation):
            pass
    return money_in(latest.text)


def remembered(tracker: Tracker) -> Dict[str, Any]:
    """The last quote's country, postcode and order value (empty outside a shipping conversation)."""
    quote = tracker.get_slot(QUOTE)
    return dict(quote) if isinstance(quote, dict) else {}


def quote(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    latest: Said,
    *,
    keep: bool,
    mode: str = "all",
) -> List[EventType]:
    """Answer a shipping question: a quote to the destination, or the overview of every zone.

    Args:
        dispatcher: where to answer.
        tracker: the conversation.
        latest: the message.
        keep: a follow-up of a shipping conversation: what the message does not say comes from the last quote.
        mode: ``all`` methods, the ``fastest`` or the ``cheapest`` one.

    Returns:
        Events remembering the quote.
    """
    store = get_store()
    country, postcode = destination_in(latest)
    value = value_in(latest)
    last = remembered(tracker) if keep else {}
    if country is None and postcode is None:
        country, postcode = last.get("country"), last.get("postcode")
        if value is not None and country is None and postcode is None:
            country = DEFAULT_COUNTRY
    if value is None and last.get("value") is not None:
        value = Decimal(str(last["value"]))
    if country is None and postcode is None:
        zones = "\n".join(
            f"{zone.name}: " + "; ".join(_method_line(m)[2:] for m in _pick(zone.methods, mode))
            for zone in store.shipping_zones()
        )
        response = "utter_shipping_fastest_overview" if mode == "fastest" else "utter_shipping_overview"
        dispatcher.utter_message(response=response, zones=zones)
        return about("shipping", **{QUOTE: {"value": str(value) if value is not None else None, "mode": mode}})
    try:
        found = store.shipping_quote(country=country, postcode=postcode, order_value=value)
    except UnknownDestination:
        dispatcher.utter_message(response="utter_shipping_unknown_destination", destination=country or postcode)
        return about("shipping")
    dispatcher.utter_message(
        response={"fastest": "utter_shipping_quote_fastest", "cheapest": "utter_shipping_quote_cheapest"}.get(
            mode, "utter_shipping_quote"
        ),
        destination=found.country_name,
        for_value=f" for an order of {money(value)}" if value is not None else "",
        methods="\n".join(_method_line(m) for m in _pick(found.methods, mode)),
    )
    remembered_quote = {
        "country": found.country,
        "postcode": None if country else postcode,
        "value": str(value) if value is not None else None,
        "mode": mode,
    }
    return about("shipping", **{QUOTE: remembered_quote})


def _pick(methods: Any, mode: str) -> list[ShippingMethodInfo]:
    methods = list(methods)
    if mode == "fastest" and methods:
        best = min(m.max_days for m in methods)
        return [m for m in methods if m.max_days == best]
    if mode == "cheapest" and methods:
        best = min(m.price for m in methods)
        return [m for m in methods if m.price == best]
    return methods


def speed_mode(text: str) -> str:
    """``fastest`` for "which is fastest / express / next day", ``cheapest`` for "cheapest", else ``all`` (also
    when both are named: "which one is cheaper, standard or express?" compares them)."""
    fast = ("fastest", "quickest", "express", "next day", "quicker", "faster", "soonest", "by friday", "urgent")
    slow = ("cheapest", "cheaper", "least expensive", "standard", "regular", "normal", "economy")
    if has(text, *fast) and has(text, *slow):
        return "all"
    if has(text, "fastest", "quickest", "express", "next day", "quicker", "faster", "soonest", "by friday", "urgent"):
        return "fastest"
    if has(text, "cheapest", "cheaper", "least expensive", "standard", "regular", "normal", "economy"):
        return "cheapest"
    return "all"


def is_shipping_follow_up(tracker: Tracker, latest: Said) -> bool:
    """A message that continues a shipping conversation: a destination, a value, or "how long / fastest"."""
    if tracker.get_slot(TOPIC) != "shipping":
        return False
    country, postcode = destination_in(latest)
    if country or postcode or value_in(latest) is not None:
        return True
    return has(latest.text, *_SHIPPING_FOLLOW_UP_WORDS)


#: Words that carry a shipping conversation on without naming a place or an amount ("how fast is that",
#: "when would it get here", "and the cheapest?").
_SHIPPING_FOLLOW_UP_WORDS = (
    "how long", "how quick*", "how fast", "how soon", "fastest", "quickest", "express", "next day", "cheapest",
    "when", "days", "day", "how many", "free", "what about", "and to", "how much", "cost", "price", "by friday",
    "standard", "regular", "economy", "cheaper", "slower", "get here", "get there", "arrive*", "turnaround",
)  # fmt: skip
#: A follow-up pointing back at the method just quoted ("how fast is that", "is it tracked", "that one").
_POINTS_BACK = ("that", "it", "this one", "that one", "this")


#: Asking whether a delivery can be followed ("is it tracked?", "can I follow it online", "will I get a link to see
#: where it is").
_TRACKED = ("tracked", "trackable", "tracking", "track it", "track the", "track my", "track them", "signed for",
            "follow it", "follow the", "follow my", "follow its", "follow them", "trace*", "see where it is",
            "see where it's", "see where my", "see where the", "keep tabs", "keep an eye on", "where it is on the way",
            "where it's at", "updates on where")  # fmt: skip


def asks_if_tracked(text: str) -> bool:
    """The words ask whether the delivery being talked about can be followed on its way."""
    return has(text, *_TRACKED)


def follow_up_mode(tracker: Tracker, latest: Said) -> str:
    """The methods a follow-up of a quote asks about: the ones its words name (`speed_mode`), else, when it
    points back at the quote and names no new place or amount ("how fast is that" after the express one), the
    ones that quote showed."""
    text = latest.text
    mode = speed_mode(text)
    if mode != "all" or not has(text, *_POINTS_BACK):
        return mode
    if destination_in(latest) != (None, None) or value_in(latest) is not None:
        return mode
    last = remembered(tracker).get("mode")
    return str(last) if last in {"fastest", "cheapest"} else mode


#: Words without which "how much is …" is not about delivery.
_DELIVERY_WORDS = ("ship*", "deliver*", "post", "postage", "send", "sent", "courier", "p&p", "dispatch*", "arriv*",
                   "express", "next day", "tracked", "to the", "abroad", "overseas")  # fmt: skip


def _product_question(dispatcher: CollectingDispatcher, tracker: Tracker, latest: Said) -> List[EventType] | None:
    """ "how much is the ProGlow Eyelash Curler and do you have it here", "how much is the skin tint btw": NLU
    read a price as a delivery cost. With no destination, no basket and no delivery word, a product the message
    names is what it asks about: its price and stock."""
    text = latest.text
    if not text or has(text, *_DELIVERY_WORDS):
        return None
    if destination_in(latest) != (None, None) or value_in(latest) is not None:
        return None
    # "and can I just order it online?" right after a product: the product in focus
    found = meant(tracker, latest, refer_back=tracker.get_slot(TOPIC) == "products")
    if found.product is not None and has(text, "online", "website", "on the web", "order it"):
        return online_stock_answer(dispatcher, found.product)
    if found.product is None and not found.products:
        return None
    return stock_answer(dispatcher, tracker, found)


def _about_that_order(latest: Said) -> bool:
    """A delivery-time question naming an order asks when that order comes, unless it names somewhere to send
    to; a postcode given with the order number ("number ORD-…, and my postcode is G49 1SS") proves the order."""
    country, postcode = destination_in(latest)
    if country is not None:
        return False
    if postcode is None:
        return True
    return not re.search(rf"\b(?:to|for)\s+{re.escape(postcode.lower())}", latest.text.lower())


#: Words asking where an order is or how it stands.
_WHERE_IS_IT = ("where is", "where's", "wheres", "status", "track*", "has it shipped", "has it gone", "shipped yet",
                "sent yet", "arrived", "any news", "update on", "happened to")  # fmt: skip


def _asks_after_the_order(latest: Said) -> bool:
    """ "where is ORD-… (email …)? and do you deliver to Ireland?": the message asks where an order is, gives
    its proof (an e-mail, or a postcode that is not where to send to) and asks a second question, which
    `also_asked` answers after the order (a place to deliver to)."""
    text = latest.text or ""
    if not has(text, *_WHERE_IS_IT) or not (has(text, "and", "also", "plus", "btw", "as well") or text.count("?") > 1):
        return False
    if destination_in(latest)[0] is None and not latest.entity("city"):
        return False  # no place asked about: the delivery question would go unanswered after the order
    if latest.entity("email"):
        return True
    postcode = latest.entity("postcode")
    return bool(postcode) and not re.search(rf"\b(?:to|for)\s+{re.escape(postcode.lower())}", text.lower())


class ActionShippingInfo(Action):
    """Answers shipping_options, shipping_cost and delivery_time from the store's zones."""

    def name(self) -> str:
        """Action name."""
        return "action_shipping_info"

    @settles
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        """A quote for the named destination, or an overview of every zone; a follow-up of something else first."""
        answered = in_context(dispatcher, tracker, caller=self.name())
        if answered is not None:
            return answered
        latest = said(tracker)
        answered = _product_question(dispatcher, tracker, latest)
        if answered is not None:
            return answered
        if latest.intent == "delivery_time" and latest.entity("order_number") and _about_that_order(latest):
            # "...order ORD-100147, email ..., will it still arrive in time?": when THAT order arrives, so it is
            # checked and tracked, not the delivery times of every zone
            return [SlotSet("goal", "track"), FollowupAction("verify_order_form")]
        if latest.intent != "delivery_time" and latest.entity("order_number") and _asks_after_the_order(latest):
            # "where is ORD-… (email …)? and do you deliver to Ireland?": the order asked about with its proof is
            # checked and answered first; the delivery question after it (also_asked, after the goal)
            return [SlotSet("goal", "track"), FollowupAction("verify_order_form")]
        events = quote(
            dispatcher, tracker, latest, keep=tracker.get_slot(TOPIC) == "shipping", mode=speed_mode(latest.text)
        )
        if latest.intent == "delivery_time" and not latest.entity("country") and not latest.entity("postcode"):
            dispatcher.utter_message(response="utter_delivery_time_offer_tracking")
        return events + also_asked(dispatcher, tracker, answered_topic="shipping")
