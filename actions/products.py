"""Products: stock online and in our shops, and recommendations from the recommender (recommender/).

Recommendations read the latest message: a category, a price ceiling ("under 30", "gift ... under
£30") or floor ("over £20"), and a product ("something like <product>" -> similar products,
"what goes with <product>" -> what customers buy with it). A conversation that verified an order
gets picks for that customer (never what they already bought); everyone else gets popular picks.
Nothing out of stock is suggested: online stock counts, or on an in-store tablet that shop's shelves.

Each answer is an intro line, a ``custom``-only message ``{"type": "product_cards", "products":
[...]}`` for channels that draw cards (text-only channels skip it), and one message per product
(text, image, buttons) that every channel can show as it is; a channel that draws the cards may
skip those (each card carries the ``text`` of its message).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import logging
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import ChannelContext, channel_context, conversation_id, get_store, money
from actions.context import (
    FOCUS_PRODUCT,
    REC_REQUEST,
    SHOWN_PRODUCTS,
    TOPIC,
    Said,
    about,
    has,
    last_bot_response,
    last_bot_text,
    said,
    settles,
)
from actions.product_lookup import (
    STOP as STOP_WORDS,
)
from actions.product_lookup import (
    SYNONYMS,
    Meant,
    brand_in,
    catalogue,
    describe,
    fragment_phrase,
    in_focus,
    kind_of,
    match,
    meant,
    named_before,
    names_a_product,
    ordinal,
    product_fragment,
    shown,
    tokens,
)
from actions.questions import asks_best_value
from actions.reader import in_context
from recommender import ArtifactsNotFound, Filters, Recommendation, Recommender, UnknownProduct, get_recommender
from store.errors import NotAuthorized, ProductNotFound, StoreNotFound
from store.records import ProductInfo
from store.service import OrderStore

log = logging.getLogger(__name__)

#: How many products one answer shows.
CARDS = 3

_TOGETHER = re.compile(
    r"\b(goes?|go(?:es)? well|going) with\b|\bpairs?(?: well)? with\b|\bto go with\b|\bmatch(?:es)? with\b"
    r"|\b(?:use|wear|combine) (?:it )?with\b|\bcomplements?\b|\bbought together\b",
    re.IGNORECASE,
)
_SIMILAR = re.compile(
    r"\b(?:something|anything|products?|ones?|items?|stuff|more|others?)\s+(?:just\s+)?like\b"
    r"|\bsimilar to\b|\balternatives? (?:to|for)\b|\binstead of\b|\bcomparable to\b",
    re.IGNORECASE,
)
_NUMBER = r"£?\s*(\d+(?:[.,]\d{1,2})?)\s*(?:£|gbp|pounds?|quid)?"
_MAX_PRICE = re.compile(
    r"\b(?:under|below|less than|up to|max(?:imum)?|no more than|cheaper than|within|budget(?: of| is)?)\s*" + _NUMBER,
    re.IGNORECASE,
)
#: A ceiling said after the number ("30 quid max", "£40 tops", "25 or less").
_MAX_AFTER = re.compile(
    _NUMBER + r"\s*(?:max(?:imum)?|tops|or less|or under|or below|at most|at the most|or cheaper)\b", re.IGNORECASE
)
_MIN_PRICE = re.compile(r"\b(?:over|above|more than|at least|from)\s*" + _NUMBER, re.IGNORECASE)
_RANGE = re.compile(r"\bbetween\s*" + _NUMBER + r"\s*(?:and|-|to)\s*" + _NUMBER, re.IGNORECASE)
_AMOUNT_VALUE = re.compile(r"(\d+(?:[.,]\d{1,2})?)")


def _card_buttons(product: ProductInfo) -> list[dict[str, str]]:
    return [
        {"title": "More like this", "payload": "/recommend_product" + json.dumps({"product": product.title})},
        {"title": "Is it in stock?", "payload": "/check_stock" + json.dumps({"product": product.title})},
    ]


def _card_text(product: ProductInfo) -> str:
    note = " (final sale)" if product.final_sale else ""
    return f"{product.title} by {product.brand}: {money(product.price)}{note}"


def _card(dispatcher: CollectingDispatcher, product: ProductInfo) -> None:
    dispatcher.utter_message(text=_card_text(product), image=product.image_url, buttons=_card_buttons(product))


def _card_json(product: ProductInfo, reason: str) -> dict[str, Any]:
    return {
        "sku": product.sku,
        "title": product.title,
        "brand": product.brand,
        "category": product.category,
        "price": str(product.price),
        "price_text": money(product.price),
        "currency": "GBP",
        "image": product.image_url,
        "final_sale": product.final_sale,
        "reason": reason,
        "text": _card_text(product),
        "buttons": _card_buttons(product),
    }


class ActionCheckStock(Action):
    """Whether a product is in stock: in this shop on a tablet, everywhere for staff, else online and shops.

    Which answer a conversation gets depends only on what the gateway vouches for
    (``channel_context``): a ``rest`` caller claiming to be a tablet or staff gets the customer answer.
    The product named in the message wins over the one in focus; one the shop does not sell is said to be
    so, with the closest products it does sell.
    """

    def name(self) -> str:
        """Action name."""
        return "action_check_stock"

    @settles
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        """Find the product named (or pointed back to) and report its stock for this channel."""
        answered = in_context(dispatcher, tracker, caller=self.name())
        if answered is not None:
            return answered
        latest = said(tracker)
        if latest.text and (_SIMILAR.search(latest.text) or has(latest.text, "cheaper", "less expensive")):
            # "have you got something like X but cheaper?" asks for suggestions, not for X's stock
            return recommend(dispatcher, tracker, read_request(tracker, get_store()))
        return stock_answer(dispatcher, tracker, meant(tracker, latest))


def stock_answer(dispatcher: CollectingDispatcher, tracker: Tracker, found: Meant) -> List[EventType]:
    """The stock of what a message meant: one product, several of a kind, or one we do not sell."""
    store = get_store()
    context = channel_context(tracker)
    here = tablet_store(context)
    if found.product is not None:
        product = found.product
        if here is not None:
            _stock_here(dispatcher, store, product, here)
        elif context.is_staff:
            _stock_everywhere(dispatcher, store, product)
        else:
            _stock_for_customers(dispatcher, store, product)
        return about("products", **{FOCUS_PRODUCT: product.sku, SHOWN_PRODUCTS: [product.sku]})
    if found.products:
        return _stock_of_several(dispatcher, store, found.products, here)
    if found.unsold:
        return not_sold(dispatcher, found)
    dispatcher.utter_message(response="utter_ask_product")
    return about("products")


def not_sold(dispatcher: CollectingDispatcher, found: Meant) -> List[EventType]:
    """We don't sell what was named; the closest products we do sell, if any."""
    near = [p for p in found.near if p.online_stock > 0] or found.near
    if near:
        dispatcher.utter_message(response="utter_product_not_sold_near", query=found.unsold, near=describe(near[:3]))
        return about("products", **{FOCUS_PRODUCT: None, SHOWN_PRODUCTS: [p.sku for p in near[:3]]})
    dispatcher.utter_message(response="utter_product_not_sold", query=found.unsold)
    return about("products", **{FOCUS_PRODUCT: None, SHOWN_PRODUCTS: []})


#: Asking for the nearest thing to one we do not sell ("whats the closest thing you have", "any dupe?").
_CLOSEST = ("closest", "nearest", "next best", "similar", "equivalent", "comparable", "substitute", "dupe*",
            "alternative*", "instead", "close to", "like it", "like that", "along those lines", "same sort",
            "same kind", "same type")  # fmt: skip
#: "closest" about a place, not a product.
_A_PLACE = ("shop", "shops", "store", "stores", "branch*", "near me", "to me", "location", "post office")
_NOT_SOLD_RESPONSES = frozenset({"utter_product_not_sold", "utter_product_not_sold_near"})
_NOT_SOLD_RE = re.compile(r"we don't sell (.+?)\. ")


def unsold_just_named(tracker: Tracker) -> str | None:
    """What the bot just said the shop does not sell ("Sorry, we don't sell moroccanoil treatment. ..."), or None."""
    if last_bot_response(tracker) not in _NOT_SOLD_RESPONSES:
        return None
    found = _NOT_SOLD_RE.search(last_bot_text(tracker))
    return found.group(1) if found else None


def asks_closest(latest: Said) -> bool:
    """The words ask for the nearest thing we sell to something, naming no product or kind of their own."""
    text = latest.text
    if not has(text, *_CLOSEST) or has(text, *_A_PLACE) or concern_in(text) != (None, None):
        return False  # "what would you suggest instead for damaged hair" names its need: picks for it
    return not (latest.entity("product") or latest.entity("category") or kind_in(text))


def closest_to(phrase: str) -> list[ProductInfo]:
    """The products nearest to a product we do not sell, from the words of its name: the words we know, and the
    kind word a run-together brand name ends in ("moroccanoil" -> oil); in stock first."""
    cat = catalogue()
    pieces = []
    for word in tokens(phrase):
        if word.isdigit() or len(word) < 3:
            continue
        if word in cat.vocabulary:
            pieces.append(word)
            continue
        heads = [v for v in cat.vocabulary if len(v) >= 3 and len(word) - len(v) >= 3 and word.endswith(v)]
        if heads:
            pieces.append(max(heads, key=len))
    if not pieces:
        return []
    scored = []
    for product in cat.products:
        shared = [w for w in pieces if w in cat.words[product.sku]]
        if shared:
            kind_word = tokens(kind_of(product))[-1:]
            score = len(shared) + sum(0.5 for w in shared if w in kind_word)
            scored.append((-score, product.online_stock <= 0, product.title, product))
    return [p for *_, p in sorted(scored, key=lambda row: row[:3])]


def say_closest(dispatcher: CollectingDispatcher, query: str) -> List[EventType] | None:
    """The closest products to ``query`` (one we do not sell); None when its name says nothing we know (a brand
    alone): the request is then read as picks like any other."""
    near = closest_to(query)[:3]
    if not near:
        return None
    dispatcher.utter_message(response="utter_product_closest", query=query, near=describe(near))
    return about("products", **{FOCUS_PRODUCT: None, SHOWN_PRODUCTS: [p.sku for p in near]})


def _stock_of_several(
    dispatcher: CollectingDispatcher, store: OrderStore, products: List[ProductInfo], here: str | None
) -> List[EventType]:
    """Several products fit ("vitamin c serum", "the Maison Coco one"): the ones in stock, with prices."""
    if here is not None:
        try:
            shelf = store.store_quantities(here)
        except StoreNotFound:
            shelf = None
        if shelf is not None:
            on_shelf = [p for p in products if shelf.get(p.sku, 0) > 0]
            if on_shelf:
                lines = "\n".join(f"- {p.title} ({money(p.price)}): {shelf[p.sku]} on the shelf" for p in on_shelf[:5])
                dispatcher.utter_message(response="utter_stock_several_here", lines=lines)
                return about("products", **{FOCUS_PRODUCT: None, SHOWN_PRODUCTS: [p.sku for p in on_shelf[:5]]})
    available = [p for p in products if p.online_stock > 0]
    listed = available[:5] or products[:5]
    lines = "\n".join(f"- {p.title} ({money(p.price)}): {online_words(p.online_stock)}" for p in listed)
    response = "utter_stock_several" if available else "utter_stock_several_none"
    dispatcher.utter_message(response=response, count=len(available), lines=lines)
    return about("products", **{FOCUS_PRODUCT: None, SHOWN_PRODUCTS: [p.sku for p in listed]})


def tablet_store(context: ChannelContext) -> str | None:
    """The shop an in-store tablet stands in, only when the gateway vouches for it."""
    if context.trusted and context.channel == "tablet" and context.store_id:
        return context.store_id
    return None


#: The product the picks were for, rather than a pick ("the lipstick itself").
_ITSELF = ("itself", "the original one", "the one i asked about", "the one i mentioned", "the one i named")


def online_words(quantity: int) -> str:
    # In the customer's words ("is it in stock?"): a bare count never says whether it is in stock.
    return f"in stock online, {quantity} available" if quantity > 0 else "out of stock online"


def _stock_for_customers(dispatcher: CollectingDispatcher, store: OrderStore, product: ProductInfo) -> None:
    stock = store.stock(product.sku)
    in_stores = [f"{s.store_name} ({s.quantity})" for s in stock.stores if s.quantity > 0]
    dispatcher.utter_message(
        response="utter_stock",
        title=product.title,
        price=money(product.price),
        online=online_words(stock.online),
        stores=", ".join(in_stores) if in_stores else "none at the moment",
    )


#: Having the product brought to the customer ("could i just get it delivered instead", "can you post one to me").
_DELIVERED = ("get it delivered", "get one delivered", "get them delivered", "have it delivered",
              "have one delivered", "deliver it", "deliver one", "deliver them", "delivered instead",
              "delivered to me", "delivered to my", "delivered home", "be delivered", "sent to me", "send it to me",
              "send one to me", "send me one", "send it home", "sent home", "posted to me", "post it to me",
              "post one to me", "post me one", "ship it to me", "shipped to me", "ship one to me", "to my house",
              "to my home", "to my door", "home delivery", "mailed to me", "mail it to me", "sent to my",
              "send it to my")  # fmt: skip


def asks_for_delivery(text: str) -> bool:
    """The words ask to have the product in focus delivered rather than bought here ("could i just get it
    delivered instead"), not about an order's delivery ("when will my order be delivered")."""
    return (
        has(text, *_DELIVERED)
        and has(text, "it", "one", "that", "this", "them", "those", "these")
        and not has(
            text,
            "order*",
            "parcel",
            "package",
            "address",
            "ord-",
            "when",
            "how long",
            "track*",
            "how much",
            "cost*",
            "price",
            "quid",
            "pounds",
            "euros",
            "charge*",
            "fee",
        )
        and "£" not in text
    )


def how_to_get_it_delivered(dispatcher: CollectingDispatcher, product: ProductInfo) -> List[EventType]:
    """ "could i just get it delivered?" about a product: ordered on the website and delivered (this chat places
    no orders), with its online stock."""
    dispatcher.utter_message(
        response="utter_how_to_order",
        title=product.title,
        price=money(product.price),
        online=online_words(product.online_stock),
    )
    return about("products", **{FOCUS_PRODUCT: product.sku, SHOWN_PRODUCTS: [product.sku]})


def online_stock_answer(dispatcher: CollectingDispatcher, product: ProductInfo) -> List[EventType]:
    """ "can I just order it online?" (on a tablet too): the online stock, with the shops that have it."""
    _stock_for_customers(dispatcher, get_store(), product)
    return about("products", **{FOCUS_PRODUCT: product.sku, SHOWN_PRODUCTS: [product.sku]})


def _stock_everywhere(dispatcher: CollectingDispatcher, store: OrderStore, product: ProductInfo) -> None:
    """Staff see every shop, empty shelves included, with where the product sits."""
    stock = store.stock(product.sku)
    shops = [
        f"{s.store_id} {s.store_name} {s.quantity}" + (f" ({s.location})" if s.location and s.quantity > 0 else "")
        for s in stock.stores
    ]
    dispatcher.utter_message(
        response="utter_stock_all_stores",
        title=product.title,
        sku=product.sku,
        price=money(product.price),
        online=stock.online,
        stores="; ".join(shops) if shops else "no shops",
    )


def _stock_here(dispatcher: CollectingDispatcher, store: OrderStore, product: ProductInfo, store_id: str) -> None:
    """This shop's shelf first; when it is empty, the nearest shop that has it, and online."""
    try:
        stock = store.stock(product.sku, near=store_id)
    except StoreNotFound:
        # A tablet registered for a shop that was since removed: answer like any customer channel.
        log.warning("tablet store %s is not in the order store; answering with all shops", store_id)
        _stock_for_customers(dispatcher, store, product)
        return
    here, others = stock.stores[0], stock.stores[1:]
    common = {"title": product.title, "price": money(product.price), "store": here.store_name}
    if here.quantity > 0:
        dispatcher.utter_message(
            response="utter_stock_here",
            quantity=here.quantity,
            location=here.location or "ask a colleague where to find it",
            **common,
        )
        return
    nearest = next((s for s in others if s.quantity > 0), None)
    parts = []
    if nearest is not None:
        distance = f", about {nearest.distance_km:.0f} km away" if nearest.distance_km is not None else ""
        parts.append(
            f"The nearest shop that has it is {nearest.store_name} in {nearest.city} ({nearest.quantity}{distance})."
        )
    if stock.online > 0:
        parts.append(f"You can also order it online ({stock.online} available) and have it delivered.")
    if not parts:
        parts.append("It is out of stock online and in our other shops too at the moment.")
    dispatcher.utter_message(response="utter_stock_not_here", elsewhere=" ".join(parts), **common)


# ------------------------------------------------------------------------------------ recommendations


@dataclass(frozen=True)
class Request:
    """What the customer asked for, read from the latest message.

    Attributes:
        mode: ``"recommend"``, ``"similar"`` or ``"together"``.
        category: A catalogue category name (as the store spells it), or None.
        min_price: Price floor, or None.
        max_price: Price ceiling, or None.
        product_query: The product named, as written, or None.
        kind: A kind of product that is not a catalogue category ("moisturiser", "night cream"): only
            products whose title names it, or None.
        exclude: A catalogue category the picks must not come from ("he's bald, so no hair stuff"), or None.
    """

    mode: str
    category: str | None
    min_price: float | None
    max_price: float | None
    product_query: str | None
    kind: str | None = None
    exclude: str | None = None


def _price(text: str) -> float:
    return float(text.replace(",", "."))


def read_price_range(text: str, amount: str | None) -> tuple[float | None, float | None]:
    """(min, max) price from the message text, else from the ``amount`` entity (a budget: a ceiling)."""
    if m := _RANGE.search(text):
        low, high = sorted((_price(m.group(1)), _price(m.group(2))))
        return low, high
    low = _price(m.group(1)) if (m := _MIN_PRICE.search(text)) else None
    high = _price(m.group(1)) if (m := _MAX_PRICE.search(text) or _MAX_AFTER.search(text)) else None
    if low is None and high is None and amount and (m := _AMOUNT_VALUE.search(amount)):
        high = _price(m.group(1))
    return low, high


def _category_key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower().replace("&", "and")).removesuffix("s")


def _singular(word: str) -> str:
    if word.endswith(("shes", "ches", "sses", "xes")):
        return word[:-2]
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


def _kind_key(text: str) -> str:
    return " ".join(_singular(w) for w in re.sub(r"[^a-z0-9 ]", " ", text.lower()).split())


def is_kind(product: ProductInfo | None, kind: str | None) -> bool:
    """True when no kind was asked for, or the product's title names it ("moisturisers" ~ "... Moisturiser").

    ``kind`` may list alternatives separated by ``|`` ("niacinamide|clay|cleanser"); words of a kind
    may stand apart in the title ("matte lipstick" ~ "Matte Liquid Lipstick").
    """
    if not kind:
        return True
    if product is None:
        return False
    title = set(_kind_key(product.title).split())
    return any(set(_kind_key(alt).split()) <= title for alt in kind.split("|") if alt.strip())


#: Leaving a kind of product out of the picks ("so no hair stuff", "nothing for the skin", "not makeup").
_EXCLUDE_RE = re.compile(
    r"\b(?:no|not|nothing|without|except|minus|apart from|other than|don'?t want|dont want|isn'?t into|not into|"
    r"(?:doesn'?t|don'?t|won'?t|never) (?:uses?|do|does|needs?|wants?|wears?|likes?|have|has)|"
    # "skip the hair products", "ditch the skincare", "leave out the makeup", "steer clear of bath stuff"
    r"skip|ditch|drop|avoid|exclude|excluding|forget(?: about)?|leave out|leave off|cut out|steer clear of|"
    r"no need for|rather not have|has no|have no|got no)\s+"
    r"(?:any\s+|more\s+|the\s+|all\s+(?:the\s+)?|for\s+(?:the\s+|his\s+|her\s+)?)?([a-z][\w&-]*)",
    re.I,
)
#: "leave the hair stuff out", "keep makeup off the list": the kind named between the verb and "out"/"off".
_LEAVE_OUT_RE = re.compile(
    r"\b(?:leave|keep)\s+(?:the\s+|any\s+|all\s+)?([a-z][\w&-]*)(?:\s+[\w&-]+)?\s+(?:out|off)\b", re.I
)


def excluded_category(store: OrderStore, text: str | None) -> str | None:
    """The catalogue category the words leave out of the picks ("he's bald so no hair stuff": Haircare), or
    None. "hair" names Haircare and "bath" Bath & Body: a category whose name starts with the word."""
    found_words = [m.group(1) for m in _EXCLUDE_RE.finditer(text or "")]
    found_words += [m.group(1) for m in _LEAVE_OUT_RE.finditer(text or "")]
    for named in found_words:
        word = named.lower()
        category = _resolve_category(store, word)
        if category is None and len(word) > 2:
            key = _category_key(SYNONYMS.get(word, word))
            category = next((c for c in store.categories() if _category_key(c).startswith(key)), None)
        if category is not None:
            return category
    return None


def _resolve_category(store: OrderStore, text: str | None) -> str | None:
    if not text:
        return None
    key = _category_key(SYNONYMS.get(text.lower().strip(), text))
    return next((c for c in store.categories() if _category_key(c) == key), None)


def _product_after_cue(text: str) -> str | None:
    """The words after "like ..." / "goes with ..." when NLU tagged no product."""
    for pattern in (_TOGETHER, _SIMILAR):
        if m := pattern.search(text):
            rest = re.split(r"\b(?:under|below|over|above|for|but)\b|[?.!,]", text[m.end() :], maxsplit=1)[0]
            rest = rest.strip()
            if rest:
                return rest
    return None


#: What customers want something for -> (category, kinds of product that help), when no product is named.
CONCERNS: tuple[tuple[tuple[str, ...], str | None, str | None], ...] = (
    (("oily skin", "oily", "spots", "acne", "blemish*", "breakout*", "greasy"), "Skincare",
     "niacinamide|clay|cleanser|toner|micellar|aha"),
    (("dry skin", "dehydrated", "flaky"), "Skincare", "moisturiser|hyaluronic|cream|oil|balm"),
    (("puffy", "dark circles", "eye bags", "under eye*", "under-eye"), "Skincare", "eye cream"),
    (("wrinkle*", "anti-ageing", "anti ageing", "anti-aging", "fine lines"), "Skincare", "retinol|night cream|serum"),
    (("damaged hair", "frizz*", "split ends", "dry hair", "breakage", "bleached"), "Haircare",
     "repair|mask|conditioner|oil"),
    (("curly", "curls", "curl"), "Haircare", "curl|leave-in|conditioner|mousse"),
    (("shav*", "beard", "stubble", "razor"), "Skincare", "moisturiser|balm|cleanser|serum|cream"),
    (("woody", "woodsy", "musky", "musk", "floral", "fresh scent", "citrusy", "smell*", "scent*", "perfume*",
      "cologne", "aftershave", "fragrance*"), "Fragrance", None),
    (("bath", "soak", "bubble*", "relax*", "pamper*", "spa"), "Bath & Body", None),
    (("sun", "spf", "sunscreen", "sun cream", "suncream", "sunblock"), None, "spf"),
    (("skincare", "skin care", "his skin", "her skin", "my skin", "face"), "Skincare", None),
    (("haircare", "hair care", "her hair", "his hair", "my hair"), "Haircare", None),
    (("set it", "set my make*", "set my foundation", "setting", "to set", "sets make*", "lock it in",
      "make it last", "makeup last", "make-up last", "make up last", "last all day", "stay put", "stay on all day"),
     "Makeup", "setting powder|setting|powder"),
    (("makeup", "make-up", "make up", "cosmetics"), "Makeup", None),
)  # fmt: skip
#: Words that name a kind of product only as part of a longer name, or not at all.
_NOT_KINDS = frozenset({"gift", "present", "card", "skin", "hair", "care", "one", "colour", "daily", "set"})


def _plain(word: str) -> str:
    """A word of a product title, singular, as titles spell it (no synonyms)."""
    return _singular(word.lower().strip("'.-"))


_CATEGORY_WORDS = frozenset({"fragrance", "skincare", "haircare", "makeup", "bath", "body", "tool", "accessory"})


def kind_in(text: str) -> str | None:
    """A kind of product named in the words ("mascra" -> "mascara", "eye cream", "matte lipstick"), spelt
    as product titles spell it; words that name a whole category are left to the category."""
    cat = catalogue()
    if "kinds" not in cat.memo:
        titles_: list[set[str]] = []
        brand_words_: set[str] = set()
        for product in cat.products:
            titles_.append({_plain(w) for w in re.findall(r"[\w'-]+", kind_of(product))})
            brand_words_ |= {_plain(w) for w in re.findall(r"[\w'-]+", product.brand)}
        cat.memo["kinds"] = (titles_, set().union(*titles_) if titles_ else set(), brand_words_)
    titles, kinds, brand_words = cat.memo["kinds"]
    found: list[str] = []
    for raw in re.findall(r"[\w'-]+", (text or "").lower()):
        word = _plain(raw)
        synonym = SYNONYMS.get(raw) or SYNONYMS.get(word)
        if synonym in _CATEGORY_WORDS:
            word = ""
        elif synonym and synonym in kinds:
            word = synonym
        fixed = difflib_correct(word, kinds) if word else ""
        usable = (
            fixed in kinds
            and fixed not in _NOT_KINDS
            and not fixed.isdigit()
            and len(fixed) > 1
            and fixed not in brand_words
            and fixed not in STOP_WORDS
        )
        if usable:
            found.append(fixed)
        elif found:
            break  # one run of kind words: "matte lipstick", not every word of the message
    if not found:
        return None
    if any(set(found) <= words for words in titles):
        return " ".join(found)
    return found[-1]


def difflib_correct(word: str, vocabulary: set[str]) -> str:
    """``word``, or the kind word it misspells."""
    if word in vocabulary or len(word) < 5 or word in STOP_WORDS:
        return word
    return _closest(word, frozenset(vocabulary))


@functools.lru_cache(maxsize=4096)
def _closest(word: str, vocabulary: frozenset[str]) -> str:
    close = [c for c in difflib.get_close_matches(word, vocabulary, n=3, cutoff=0.85) if c[0] == word[0]]
    return close[0] if close else word


def concern_in(text: str) -> tuple[str | None, str | None]:
    """(category, kinds) for what something is wanted for ("for oily skin", "woody smells", "a long bath")."""
    for phrases, category, kinds in CONCERNS:
        if has(text, *phrases):
            return category, kinds
    return None, None


def _kind_not_need(text: str) -> str | None:
    """The kind of product ``text`` names (`kind_in`), unless that word is part of the need it names: "really
    dry skin" asks for what helps dry skin (a moisturiser), not for "Dry Shampoo"."""
    kind = kind_in(text)
    if kind is None:
        return None
    need = " ".join(
        phrase.rstrip("*")
        for phrases, _, kinds in CONCERNS
        if kinds and has(text, *phrases)
        for phrase in phrases
        if has(text, phrase)
    )
    return None if need and has(need, kind) else kind


def _request_from(value: Any) -> Request | None:
    if not isinstance(value, dict):
        return None
    try:
        return Request(**{k: value.get(k) for k in Request.__dataclass_fields__})
    except TypeError:
        return None


_FRESH = ("gift", "present", "for my", "for a ", "for her", "for him", "recommend", "suggest", "what do you have",
          "what have you got", "looking for")  # fmt: skip


def read_request(tracker: Tracker, store: OrderStore) -> Request:
    """Read mode, category, kind, price range and product from the latest message (entities first, then
    the words). A follow-up of a recommendation ("anything cheaper?", "sorry i meant 90 quid", "she's into
    skincare") keeps what it does not change from the last request (slot `rec_request`); an earlier "like X"
    does not turn a new "recommend something" into a similar-products request."""
    latest = said(tracker)
    words = latest.text
    amount = latest.entity("amount")
    low, high = read_price_range(words, amount)
    product = latest.entity("product")
    reference = bool(words) and bool(re.search(r"\b(it|that|this|them|those|these|one)\b", words, re.IGNORECASE))
    if product is None and words and (_TOGETHER.search(words) or _SIMILAR.search(words)):
        # NLU tagged no product: the words after the cue if they name one we sell, else the one in focus.
        named = _product_after_cue(words)
        if named and match(named).exact is not None:
            product = match(named).exact.title  # type: ignore[union-attr]
        elif reference or named is None or not tokens(named):
            focus = in_focus(tracker)
            product = focus.title if focus is not None else None
    if product is None and words and has(words, "alternative*", "instead", "similar", "same but", "something else"):
        focus = in_focus(tracker)
        product = focus.title if focus is not None else None
    if product and words and _TOGETHER.search(words):
        mode = "together"
    elif product:
        mode = "similar"  # "something like X", or a product alone ("More like this")
    else:
        mode = "recommend"
    named_category = latest.entity("category")
    category = _resolve_category(store, named_category)
    kind = None
    if named_category and category is None:  # "a moisturiser", "sunscreen": a kind of product
        concern_category, concern_kinds = concern_in(named_category)
        kind = kind_in(named_category) or concern_kinds
        category = concern_category if kind is None else None
        if kind is None and category is None:
            kind = named_category
    # the words of a named product ("like the X Eau de Parfum") say which product, not which kind
    free = words if mode == "recommend" else (_TOGETHER.split(words)[0] if _TOGETHER.search(words) else "")
    if free and category is not None and kind is None:
        # "something to set my makeup with" (category makeup): what the use needs, within that category
        concern_category, concern_kinds = concern_in(free)
        if concern_kinds and concern_category in {None, category}:
            kind = concern_kinds
    if free and category is None and kind is None:
        concern_category, concern_kinds = concern_in(free)
        kind = _kind_not_need(free) or concern_kinds
        category = concern_category if kind is None or concern_kinds == kind else None
    if mode == "similar" and product and words and has(words, "cheaper", "less expensive", "lower price"):
        anchor = catalogue().by_title(str(product))
        if anchor is not None and high is None:
            high = float(anchor.price) - 0.01
    base = _request_from(tracker.get_slot(REC_REQUEST)) if tracker.get_slot(TOPIC) == "products" else None
    fresh = not words or has(words, *_FRESH) or mode != "recommend"
    if base is not None and not fresh:
        if category is None and kind is None:
            category, kind = base.category, base.kind
        if low is None and high is None:
            low, high = base.min_price, base.max_price
        elif low is None and high is not None and base.min_price is not None and base.min_price < high:
            low = base.min_price
    exclude = excluded_category(store, words)
    if exclude is None and base is not None and not fresh:
        exclude = base.exclude
    if exclude is not None and category == exclude:
        category = None  # "no hair stuff" names hair only to leave it out
    return Request(mode, category, low, high, str(product) if product else None, kind, exclude)


class _Missing:
    """Warns once per process when there are no trained artifacts (then the store's popularity is used)."""

    warned = False

    @classmethod
    def warn(cls, error: Exception) -> None:
        if not cls.warned:
            cls.warned = True
            log.warning("recommender artifacts unavailable (%s); using the store's best sellers instead", error)


def load_recommender() -> Recommender | None:
    """The process-wide recommender, or None when it has not been trained (``make run`` trains it)."""
    try:
        return get_recommender()
    except ArtifactsNotFound as error:
        _Missing.warn(error)
        return None


def _customer_and_history(store: OrderStore, conversation: str) -> tuple[str | None, list[str]]:
    """The verified customer's id and the SKUs of the orders verified in this conversation (they
    may be newer than the trained artifacts)."""
    customer = store.verified_customer(conversation)
    if customer is None:
        return None, []
    skus: list[str] = []
    for number in store.verified_orders(conversation):
        try:
            summary = store.order_summary(conversation, number)
        except NotAuthorized:  # pragma: no cover - the grant was just listed
            continue
        if summary.status != "cancelled":
            skus += [line.sku for line in summary.lines]
    return str(customer), skus


class _Shelf:
    """Product facts from the catalogue (re-read every minute) with live stock read once per request (the
    recommender may check dozens of candidates best-first; a query each cost ~2 ms apiece); doubles as the
    lazy stock check the recommender calls: online stock, or on an in-store tablet the shelf of that shop
    (``here``: units by SKU)."""

    def __init__(self, store: OrderStore, here: dict[str, int] | None = None) -> None:
        self.store = store
        self.here = here
        self.products: dict[str, ProductInfo | None] = {}
        self._stock: dict[str, int] | None = None

    def get(self, sku: str) -> ProductInfo | None:
        if sku not in self.products:
            if self._stock is None:
                self._stock = self.store.online_stock()
            known = catalogue().by_sku(sku)
            if known is None and sku in self._stock:  # newer than the cached catalogue
                try:
                    known = self.store.product(sku)
                except ProductNotFound:
                    known = None
            self.products[sku] = (
                dataclasses.replace(known, online_stock=self._stock.get(sku, 0)) if known is not None else None
            )
        return self.products[sku]

    def in_stock(self, sku: str) -> bool:
        if self.here is not None:
            return self.here.get(sku, 0) > 0 and self.get(sku) is not None
        product = self.get(sku)
        return product is not None and product.online_stock > 0


def _fits(product: ProductInfo, request: Request, exclude: set[str], shelf: _Shelf) -> bool:
    price = float(product.price)
    return (
        shelf.in_stock(product.sku)
        and product.sku not in exclude
        and (request.category is None or product.category == request.category)
        and product.category != request.exclude
        and is_kind(product, request.kind)
        and (request.min_price is None or price >= request.min_price)
        and (request.max_price is None or price <= request.max_price)
    )


def _store_picks(store: OrderStore, request: Request, exclude: set[str], k: int, shelf: _Shelf) -> list[ProductInfo]:
    """Best sellers from the store that pass the request's filters (no recommender needed)."""
    ranked = store.popular_products(category=request.category, limit=1000)
    return [p for p in ranked if _fits(p, request, exclude, shelf)][:k]


def _range_words(request: Request) -> str:
    if request.min_price is not None and request.max_price is not None:
        return f" between {money(request.min_price)} and {money(request.max_price)}"
    if request.max_price is not None:
        return f" under {money(request.max_price)}"
    if request.min_price is not None:
        return f" over {money(request.min_price)}"
    return ""


#: Asking whether a product is stocked, in the languages shoppers write in ("Haben Sie das X hier?").
_STOCKED = ("do you have", "do u have", "have you got", "have u got", "do you sell", "do you stock", "in stock",
            "is it here", "here", "in this shop", "in store", "haben sie", "habt ihr", "hast du", "gibt es",
            "hier", "vorrätig", "auf lager", "avez-vous", "avez vous", "vous avez", "en stock", "ici", "tienen",
            "tenéis", "aquí")  # fmt: skip
#: What makes a message naming a product a request for picks after all.
_PICKS = ("recommend*", "suggest*", "similar", "alternative*", "instead", "else", "other", "like it", "like this",
          "like that", "ähnlich*", "empfehl*", "semblable*", "similaire*", "parecido*")  # fmt: skip


def asks_if_stocked(latest: Said) -> bool:
    """A product named and asked for ("do you have the X here?", "Haben Sie das X hier?"), not picks like it."""
    text = latest.text
    return (
        bool(text and latest.entity("product"))
        and has(text, *_STOCKED)
        and not (_SIMILAR.search(text) or _TOGETHER.search(text) or has(text, *_PICKS))
    )


class ActionRecommendProducts(Action):
    """Product picks as cards: personal, popular, similar to a product, or what goes with it."""

    def name(self) -> str:
        """Action name."""
        return "action_recommend_products"

    @settles
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        """Read the request (continuing the last one when it is a follow-up) and reply with cards."""
        answered = in_context(dispatcher, tracker, caller=self.name())
        if answered is not None:
            return answered
        latest = said(tracker)
        if tablet_store(channel_context(tracker)) is not None and has(
            latest.text, "someone", "somebody", "staff", "assistant", "colleague", "member of staff"
        ):
            return [FollowupAction("action_handoff")]  # "can someone help me find a lip gloss" in a shop
        if asks_if_stocked(latest):
            # "Haben Sie das X hier?" filed as a recommendation: whether X is here, not what is like it
            found = meant(tracker, latest, refer_back=False)
            if found.product is not None:
                return stock_answer(dispatcher, tracker, found)
        request = read_request(tracker, get_store())
        if request.mode == "recommend" and request.category is None and latest.entity("category"):
            # "what about candles or room spray" (NLU: the kind "spray"): the words name what we do not sell,
            # which sharing "spray" with a heat protect spray does not make a pick
            found = meant(tracker, latest, refer_back=False)
            if found.how == "unsold" and re.search(r"\bor\b", found.unsold or ""):
                # only alternatives: "fine, a lipstick then, under £20" is the request for lipsticks it tags
                return not_sold(dispatcher, found)
        return recommend(dispatcher, tracker, request)

    @staticmethod
    def _choose(
        dispatcher: CollectingDispatcher, store: OrderStore, tracker: Tracker, request: Request, shelf: _Shelf
    ) -> tuple[list[Recommendation], str, dict[str, str]] | None:
        """The picks, the intro response and its words; None when the named product is unknown (said so)."""
        in_stock: Callable[[str], bool] = shelf.in_stock
        if request.kind:
            kind = request.kind
            in_stock = lambda sku: shelf.in_stock(sku) and is_kind(shelf.get(sku), kind)  # noqa: E731
        if request.exclude:
            excluded, kept = request.exclude, in_stock
            in_stock = lambda sku: kept(sku) and getattr(shelf.get(sku), "category", None) != excluded  # noqa: E731
        filters = Filters(
            category=request.category,
            min_price=request.min_price,
            max_price=request.max_price,
            in_stock=in_stock,
        )
        words = {
            "for_category": f" in {request.category.lower()}"
            if request.category
            else (f' matching "{request.kind.lower()}"' if request.kind and "|" not in request.kind else ""),
            "price_range": _range_words(request),
        }
        if request.mode == "recommend":
            customer, history = _customer_and_history(store, conversation_id(tracker))
            recommender = load_recommender()
            if recommender is not None:
                # A chat answer never offers what the customer already has (not even a rebuy).
                picks = recommender.recommend(customer, CARDS, filters, history=history, rebuy=False)
                personal = any(p.reason == "personal" for p in picks)
            else:
                owned = set(history)
                picks = [_as_rec(p, "popular") for p in _store_picks(store, request, owned, CARDS, shelf)]
                personal = False
            intro = "utter_recommendations_personal" if personal else "utter_recommendations"
            return picks, intro, words

        query = request.product_query or ""
        found = match(query)
        anchor = catalogue().by_title(query) or found.exact or (found.products[0] if found.products else None)
        if anchor is None:
            not_sold(dispatcher, Meant(unsold=query, near=found.near, how="unsold"))
            return None
        if request.mode == "together" and request.category is None and not request.kind:
            # what goes with a product: things used with it (same department, another kind of product)
            own_kind = (tokens(kind_of(anchor)) or [""])[-1]
            filters = Filters(
                category=anchor.category,
                min_price=request.min_price,
                max_price=request.max_price,
                in_stock=lambda sku: shelf.in_stock(sku) and own_kind not in tokens(kind_of(shelf.get(sku))),  # type: ignore[arg-type]
            )
        shelf.products[anchor.sku] = anchor
        recommender = load_recommender()
        picks = []
        if recommender is not None:
            ask: Callable[..., list[Recommendation]] = (
                recommender.bought_together if request.mode == "together" else recommender.similar
            )
            try:
                picks = ask(anchor.sku, CARDS, filters)
            except UnknownProduct:  # newer than the trained artifacts: fall through to the store
                picks = []
        if not picks:
            same_kind = Request(
                request.mode,
                request.category or anchor.category,
                request.min_price,
                request.max_price,
                None,
                request.kind,
            )
            fallback = _store_picks(store, same_kind, {anchor.sku}, CARDS * 4, shelf)
            if request.mode == "together":
                own = (tokens(kind_of(anchor)) or [""])[-1]
                fallback = [p for p in fallback if own not in tokens(kind_of(p))] or fallback
            picks = [_as_rec(p, "popular") for p in fallback[:CARDS]]
        intro = "utter_recommendations_together" if request.mode == "together" else "utter_recommendations_similar"
        return picks, intro, {**words, "title": anchor.title}

    @staticmethod
    def _reply(
        dispatcher: CollectingDispatcher,
        shelf: _Shelf,
        picks: list[Recommendation],
        intro: str,
        words: dict[str, str],
    ) -> List[EventType]:
        products = [(p, shelf.get(p.product_id)) for p in picks]
        cards = [(rec, info) for rec, info in products if info is not None and shelf.in_stock(info.sku)]
        if not cards:
            # nothing new to show: the products shown before stay the ones "the second one" points to ("nah
            # cheaper" found nothing, then "wot about the second 1")
            dispatcher.utter_message(response="utter_no_recommendations", **words)
            return []
        dispatcher.utter_message(response=intro, **words)
        payload = {"type": "product_cards", "products": [_card_json(info, rec.reason) for rec, info in cards]}
        if shelf.here is not None:
            for card, (_, info) in zip(payload["products"], cards, strict=True):
                card["in_store"] = shelf.here.get(info.sku, 0)
        dispatcher.utter_message(json_message=payload)
        for _, info in cards:
            _card(dispatcher, info)
        return [SlotSet(SHOWN_PRODUCTS, [info.sku for _, info in cards]), SlotSet(FOCUS_PRODUCT, None)]


def recommend(dispatcher: CollectingDispatcher, tracker: Tracker, request: Request) -> List[EventType]:
    """Ask the recommender (or the store's best sellers) for ``request`` and reply with cards.

    On an in-store tablet the picks come from that shop's shelves first; only when the shop has
    nothing that fits are online picks offered instead.
    """
    store = get_store()
    here = _shelf_here(store, channel_context(tracker))
    kind = request.kind
    department = _resolve_category(store, kind) if kind and "|" not in kind else None
    if department is not None:
        # "fragrance" read as a kind of product (the last word of the "Eau de Parfum" in focus) is a department we
        # sell: its picks, never "we don't sell fragrance" beside the list of what we sell
        request = dataclasses.replace(request, category=request.category or department, kind=None)
        kind = None
    remembered = {REC_REQUEST: asdict(request)}
    sold = kind is None or "|" in kind or any(is_kind(p, kind) for p in catalogue().products)
    if request.mode == "recommend" and kind and not sold:
        # "what about nail polish?": a kind of product the shop does not sell at all is said to be unsold, not
        # "nothing in stock right now"
        return not_sold(dispatcher, Meant(unsold=kind, how="unsold"))
    if here is not None:
        shelf = _Shelf(store, here)
        chosen = ActionRecommendProducts._choose(dispatcher, store, tracker, request, shelf)
        if chosen is None:
            return about("products", **remembered)
        picks, intro, words = chosen
        if any(shelf.in_stock(p.product_id) for p in picks):
            if request.mode == "recommend":
                intro = "utter_recommendations_here"
            return ActionRecommendProducts._reply(dispatcher, shelf, picks, intro, words) + about(
                "products", **remembered
            )
    shelf = _Shelf(store)
    chosen = ActionRecommendProducts._choose(dispatcher, store, tracker, request, shelf)
    if chosen is None:
        return about("products", **remembered)
    picks, intro, words = chosen
    return ActionRecommendProducts._reply(dispatcher, shelf, picks, intro, words) + about("products", **remembered)


def _shelf_here(store: OrderStore, context: ChannelContext) -> dict[str, int] | None:
    """Units by SKU on the shelves of the tablet's shop; None off a (trusted) tablet."""
    store_id = tablet_store(context)
    if store_id is None:
        return None
    try:
        return store.store_quantities(store_id)
    except StoreNotFound:
        log.warning("tablet store %s is not in the order store; recommending from online stock", store_id)
        return None


def _as_rec(product: ProductInfo, reason: str) -> Recommendation:
    return Recommendation(product.sku, 0.0, reason, product.title, float(product.price), product.category)


# ------------------------------------------------------------------------------------------ follow-ups

_SHIPPING_WORDS = ("deliver*", "shipping", "postage", "post", "send", "courier")
_WHERE = ("where abouts", "whereabouts", "where is it", "which aisle", "which shelf", "where can i find it",
          "where exactly", "where do i find", "where's it", "where is that", "where's that", "where are they",
          "where are those", "show me where", "where can i find that",
          # the same in the languages shoppers write in ("und wo genau?", "et où ?"); answered in English
          "wo genau", "und wo", "wo ist", "wo finde", "wo steht", "où", "où exactement", "dónde", "donde está",
          "dove si trova")  # fmt: skip
_ELSEWHERE = ("nearest", "other shop*", "another shop", "other store*", "another store", "if not", "elsewhere",
              "any other", "closest", "near me", "which shop*", "what shop*", "which store*", "what store*",
              "which branch*", "other branch*", "another branch", "where else")  # fmt: skip
#: Ordering the product in focus online rather than taking it from a shelf ("can I order it online instead?").
_ONLINE = ("online", "on the website", "on your website", "on the web", "website", "web shop", "webshop", "on the app")
_BUY = ("order", "buy", "get it", "get one", "purchase")
#: Asking whether it is in stock in the languages shoppers write in ("und ist das auf Lager?", "c'est en stock ?").
_STOCK_ABROAD = ("auf lager", "vorrätig", "vorratig", "lieferbar", "verfügbar", "verfugbar", "en stock", "disponible*",
                 "en existencia", "hay stock", "in magazzino", "disponibil*", "op voorraad", "beschikbaar",
                 "em estoque", "em stock")  # fmt: skip
#: The other words of such a question, which name no product (stemmed as `tokens` stems them).
_ASKED_STOCK_ABROAD = frozenset(
    tokens(
        "und ist das es der die sie haben habt ihr noch auf lager vorrätig vorratig lieferbar verfügbar verfugbar "
        "est-ce que c'est il elle vous avez en stock disponible et le la ça ca está esta hay tienen lo y "
        "è e ce l'avete in magazzino disponibile is het nog op voorraad beschikbaar tem em estoque"
    )
)
_STOCK = ("in stock", "available", "have it", "on the shelf", "here", "in the shop", "in store", "get it",
          "got it", "have any", "sold out", "left", "how many", "have you got", "in shop", "in this shop",
          *_STOCK_ABROAD)  # fmt: skip


def follow_up_products(
    dispatcher: CollectingDispatcher, tracker: Tracker, latest: Said, *, caller: str
) -> List[EventType] | None:
    """What customers ask next about the products just shown: where it is, how much, the cheapest one,
    something cheaper or similar, what goes with it, a narrower or corrected request."""
    text = latest.text
    store = get_store()
    context = channel_context(tracker)
    here = tablet_store(context)
    unsold = unsold_just_named(tracker)
    closest = say_closest(dispatcher, unsold) if unsold is not None and asks_closest(latest) else None
    if closest is not None:
        # "whats the closest thing you have then" right after "we don't sell moroccanoil treatment": the nearest
        # products to that, not popular picks
        return closest
    if has(text, *_WHERE):
        product = meant(tracker, latest).product or in_focus(tracker)
        if product is not None:
            return _where_is(dispatcher, store, product, here)
    if has(text, *_ELSEWHERE):
        product = meant(tracker, latest).product or in_focus(tracker)
        if product is not None:
            return _elsewhere(dispatcher, store, product, here)
    if asks_for_delivery(text) and not latest.entity("product"):
        product = in_focus(tracker)
        if product is not None:
            return how_to_get_it_delivered(dispatcher, product)
    shop = _shop_named(store, text)
    if shop is not None and not latest.entity("product"):
        product = in_focus(tracker)
        if product is not None:
            return _in_shop(dispatcher, store, product, shop)
    if (
        has(text, *_ONLINE)
        and has(text, *_BUY)
        and has(text, "it", "that", "this", "one", "them")
        and not (_SIMILAR.search(text) or has(text, "similar", "alternative*", "something else", "what else"))
    ):
        # "can I order it online instead?" after a product's shelf: its online stock, not picks "instead" of it
        product = meant(tracker, latest).product or in_focus(tracker)
        if product is not None:
            return online_stock_answer(dispatcher, product)
    if tracker.get_slot(REC_REQUEST) and excluded_category(store, text) is not None and caller != "action_check_stock":
        # "he's bald lol so no hair stuff" after picks for him: the same request without that kind of product
        return recommend(dispatcher, tracker, read_request(tracker, store))
    listed = shown(tracker)
    brand = brand_in(text) if has(text, "one", "ones") else None
    if brand is not None and any(p.brand.lower() == brand.lower() for p in listed):
        # "is the Maison Coco one any good? it's way cheaper": that brand's product of the list, before any
        # "cheaper" or price word of the same message asks for more picks
        found = meant(tracker, latest)
        if found.product is not None or found.products:
            return stock_answer(dispatcher, tracker, found)
    if len(listed) > 1 and _compares_shown(latest):
        # "which one is cheaper?", "the cheapest one, is it here?": among the products just shown
        return _cheapest_shown(dispatcher, store, listed, here, asks_stock=has(text, *_STOCK))
    discussed = _discussed(tracker) if len(listed) <= 1 and _compares_shown(latest) else []
    if len(discussed) > 1:
        # "which is cheaper" after one product's stock and then another's: the two just talked about
        return _cheapest_shown(dispatcher, store, discussed, here, asks_stock=has(text, *_STOCK))
    if has(text, "how much", "price*", "cost", "how expensive", "what does it cost", "amounts", "values",
           "denomination*", "what sizes", *_PRICE_ABROAD) and not has(text, *_SHIPPING_WORDS):  # fmt: skip
        found = meant(tracker, latest)
        if found.how in {"unsold", "none"} and not [w for w in tokens(text) if w not in _ASKED_ABROAD]:
            # "und was kostet es?" after a product: its words name no product, so it is the one in focus
            focus = in_focus(tracker)
            found = Meant(product=focus, how="focus") if focus is not None else found
        original = named_before(tracker) if has(text, *_ITSELF) else None
        if original is not None:
            found = Meant(product=original, how="named")  # "and the price of the lipstick itself?" after its picks
        listed = shown(tracker)
        if found.how in {"focus", "none"} and len(listed) > 1 and has(text, "they", "them", "those", "ones", "all"):
            found = Meant(products=listed, how="shown")
        if found.product is not None or found.products:
            return _prices(dispatcher, found)
    if has(text, "cheapest", "lowest price", "least expensive", "most affordable") or (
        asks_best_value(text) and has(text, "which", "one", "ones", "what", "anything", "something")
    ):
        # "which of the ones you do have is the best value" with no list shown (after "we don't sell that"): the
        # cheapest that fits what was asked for
        return _cheapest(dispatcher, tracker, here)
    if caller == "action_check_stock":
        return None  # the stock of what the message names: the action reads it itself
    if has(text, "cheaper", "less expensive", "lower price", "not so expensive", "too expensive", "too pricey"):
        request = read_request(tracker, store)
        prices = [p.price for p in shown(tracker)] or [p.price for p in [in_focus(tracker)] if p is not None]
        if prices:
            # "cheaper, under 60": the budget this message names, else below the cheapest shown
            named_ceiling = read_price_range(text, latest.entity("amount"))[1]
            ceiling = named_ceiling if named_ceiling is not None else float(min(prices)) - 0.01
            category, kind = request.category, request.kind or _focus_kind(tracker)
            if category is None and kind is None:
                # "something cheaper pls" after picks of one department and nothing in focus: that department
                # (a kind that is a department, "fragrance", is made one by `recommend`)
                category = _shown_department(tracker)
            request = Request("recommend", category, request.min_price, ceiling, None, kind, request.exclude)
        return recommend(dispatcher, tracker, request)
    if caller == "action_recommend_products":
        return None  # a new or continued request: the action reads it itself
    if has(text, *_STOCK) and (latest.intent in {"check_stock"} or caller != "action_shipping_info"):
        found = meant(tracker, latest)
        if has(text, *_STOCK_ABROAD) and not [w for w in tokens(text) if w not in _ASKED_STOCK_ABROAD]:
            # "und ist das auf Lager?" after a product: its words name no product, so it is the one in focus
            focus = in_focus(tracker)
            found = Meant(product=focus, how="focus") if focus is not None else found
        if found.product is not None or found.products or found.unsold:
            return stock_answer(dispatcher, tracker, found)
    if (
        _TOGETHER.search(text)
        or _SIMILAR.search(text)
        or has(
            text,
            "alternative*",
            "instead",
            "similar",
            "what else",
            "something else",
            "other ones",
            "another",
            "any other",
            "a different one",
            "different brand",
        )
    ):
        return recommend(dispatcher, tracker, read_request(tracker, store))
    if caller == "action_follow_up":
        price = _price_named(text)
        listed = shown(tracker)
        at_price = [p for p in listed if price is not None and p.price == price]
        if at_price and has(text, "one", "ones", "card", "that", "the"):
            # "the £50 one" among the products just shown (gift cards, picks): picked by its price
            if len(at_price) == 1:
                return stock_answer(dispatcher, tracker, Meant(product=at_price[0], how="shown"))
            return _prices(dispatcher, Meant(products=at_price, how="shown"))
        if brand_in(text) or ordinal(text) is not None:
            found = meant(tracker, latest)  # "and the Atlas one?", "the second one?"
            if found.product is not None or found.products:
                return stock_answer(dispatcher, tracker, found)
        adjective = next((w for w in _ADJECTIVES if has(text, w)), None)
        kind = _focus_kind(tracker)
        if adjective and kind:
            # "any matte ones?": the kind in focus, narrowed
            return stock_answer(dispatcher, tracker, meant_kind(f"{adjective} {kind}"))
        request = read_request(tracker, store)
        # what the message itself changes (a kind, a need, a budget); what the last request carries over does not
        # count, so "ok ta" after picks is thanks, not the same picks again
        names_kind = bool(latest.entity("category") or _kind_not_need(text) or concern_in(text) != (None, None))
        changed = bool(latest.entity("amount")) or names_kind or read_price_range(text, None) != (None, None)
        if changed and (tracker.get_slot(REC_REQUEST) or names_kind):
            # "lip stuff then? under 20" after "we don't sell nail polish": a new request of its own
            return recommend(dispatcher, tracker, request)
        if product_fragment(text):
            # "trainers?" after "we don't sell jeans": the same question about another product or kind
            found = meant(tracker, latest, refer_back=False)
            if found.product is not None or found.products or found.unsold:
                return stock_answer(dispatcher, tracker, found)
            # "what about teeth whitening strips" names nothing we know at all: a kind we do not sell
            phrase = fragment_phrase(text)
            named = match(phrase)
            if phrase and not named.products and named.unknown and names_a_product(phrase):
                return not_sold(dispatcher, Meant(unsold=phrase, near=named.near, how="unsold"))
    return None


#: Asking a price in the languages shoppers write in ("und was kostet es?", "combien ça coûte ?").
_PRICE_ABROAD = ("kostet", "kosten", "preis", "combien", "coûte", "coute", "prix", "cuánto", "cuanto", "cuesta",
                 "precio", "quanto costa", "prezzo", "wat kost", "prijs")  # fmt: skip
#: The other words of such a question, which name no product (stemmed as `tokens` stems them).
_ASKED_ABROAD = frozenset(
    tokens(
        "und was wie viel kostet kosten preis es das der die ist denn ça ca combien coûte coute le la les prix est "
        "c'est et cuánto cuanto cuesta precio el y eso quanto costa prezzo e questo wat kost het en prijs dit"
    )
)


def _compares_shown(latest: Said) -> bool:
    """ "which one is cheaper?", "the cheapest one": a price comparison of the products shown, not a new request
    (it names no product or kind of its own, and points at one of them)."""
    text = latest.text
    if not (has(text, "cheaper", "less expensive") or asks_best_value(text)):
        return False
    if not has(text, "which", "one", "ones", "of them", "of those", "of these", "out of") and not asks_best_value(text):
        return False  # "anything cheaper?" asks for more picks; "what'd get me the most for my cash" is of the list
    if read_price_range(text, None) != (None, None):
        return False  # "cheaper ones? budget is 50" asks for more picks within a budget
    return not (latest.entity("product") or latest.entity("category") or kind_in(text))


def _cheapest_shown(
    dispatcher: CollectingDispatcher,
    store: OrderStore,
    listed: list[ProductInfo],
    here: str | None,
    *,
    asks_stock: bool,
) -> List[EventType]:
    """The cheapest of the products shown; on a tablet, whether it is on this shop's shelf when that is asked too.
    The products shown stay as they were, so "is the first one in stock" still points at the list."""
    best = min(listed, key=lambda p: (p.price, p.title))
    dispatcher.utter_message(
        response="utter_cheapest_shown",
        title=best.title,
        price=money(best.price),
        online=online_words(best.online_stock),
    )
    if here is not None and asks_stock:
        _stock_here(dispatcher, store, best, here)
    return about("products", **{FOCUS_PRODUCT: best.sku})


#: How a product reaches the customer ("can it be sent by email?", "is it a physical card?").
_HOW_IT_COMES = ("by email", "by e-mail", "emailed", "email it", "e-mail it", "via email", "by post", "posted",
                 "physical", "digital", "printed", "print it", "electronic", "e-gift")  # fmt: skip

#: Sent by e-mail (a question's words, a product description's).
_SENT_BY_EMAIL = ("email*", "e-mail*", "digital", "digitally", "electronic*", "e-gift*", "ecard", "e-card")


def shown_at_price(tracker: Tracker, text: str) -> List[ProductInfo]:
    """The products just shown at the one price ``text`` names ("the 50 quid card" after the gift cards)."""
    price = _price_named(text)
    return [p for p in shown(tracker) if price is not None and p.price == price]


def how_it_comes(dispatcher: CollectingDispatcher, tracker: Tracker, latest: Said) -> List[EventType] | None:
    """ "the £50 one - can it be sent by email?" after the gift cards: how the product(s) meant come, from their
    descriptions (an e-gift card is emailed, a gift card posted), not a delivery quote. None when the message is
    not about how a product shown is sent."""
    text = latest.text
    listed = shown(tracker)
    if not text or not listed or not has(text, *_HOW_IT_COMES):
        return None
    price = _price_named(text)
    picked = [p for p in listed if p.price == price] if price is not None else []
    if not picked:
        focus = in_focus(tracker)
        picked = [focus] if focus is not None else listed
    if has(text, *_SENT_BY_EMAIL) and not any(has(p.description, *_SENT_BY_EMAIL) for p in picked):
        # "can it be emailed to her?" about the (posted) gift card in focus: the ones of its kind that are emailed,
        # the same value first
        emailed = [
            p for p in catalogue().products
            if p.category == picked[0].category and p not in picked and has(p.description, *_SENT_BY_EMAIL)
        ]  # fmt: skip
        emailed.sort(key=lambda p: (p.price not in {q.price for q in picked}, p.price))
        picked = picked + emailed[:2]
    lines = "\n".join(f"- {p.title} ({money(p.price)}): {p.description}" for p in picked[:6])
    dispatcher.utter_message(response="utter_how_it_comes", lines=lines)
    focus_sku = picked[0].sku if len(picked) == 1 else None
    return about("products", **{FOCUS_PRODUCT: focus_sku, SHOWN_PRODUCTS: [p.sku for p in picked[:6]]})


_PRICE = re.compile(r"[£$€]\s?(\d+(?:\.\d{1,2})?)|\b(\d+(?:\.\d{1,2})?)\s?(?:pounds?|quid|gbp|euros?)\b", re.I)


def _price_named(text: str) -> Decimal | None:
    """The one amount of money ``text`` names ("the £50 one", "the 25 quid one"), or None."""
    found = _PRICE.findall(text or "")
    if len(found) != 1:
        return None
    return Decimal(found[0][0] or found[0][1])


_ADJECTIVES = ("matte", "satin", "liquid", "waterproof", "volumising", "long-wear", "cream", "gel", "mini")


def meant_kind(kind: str) -> Meant:
    """Every product of a kind ("matte lipstick"), as a Meant to answer with its stock."""
    fitting = [p for p in catalogue().products if is_kind(p, kind)]
    if len(fitting) == 1:
        return Meant(product=fitting[0], how="kind")
    if fitting:
        return Meant(products=fitting, how="kind")
    return Meant(unsold=kind, how="unsold")


def _discussed(tracker: Tracker, limit: int = 2) -> list[ProductInfo]:
    """The last ``limit`` different products put in focus one after the other (newest first): "the mascara, and
    the Glow Theory one?" talks about two, though each answer showed one."""
    cat = catalogue()
    found: list[ProductInfo] = []
    for event in reversed(tracker.events):
        if event.get("event") == "slot" and event.get("name") in {FOCUS_PRODUCT, SHOWN_PRODUCTS}:
            value = event.get("value")
            skus = [value] if isinstance(value, str) else list(value or []) if len(value or []) == 1 else []
            for sku in skus:
                product = cat.skus.get(str(sku))
                if product is not None and product not in found:
                    found.append(product)
        if len(found) >= limit:
            break
    return found


def _shown_department(tracker: Tracker) -> str | None:
    """The catalogue category every product just shown (or the one in focus) belongs to, or None."""
    products = shown(tracker) or [p for p in [in_focus(tracker)] if p is not None]
    departments = {p.category for p in products if p.category}
    return departments.pop() if len(departments) == 1 else None


def _focus_kind(tracker: Tracker) -> str | None:
    product = in_focus(tracker)
    if product is None:
        return None
    words = tokens(kind_of(product))
    return words[-1] if words else None


def _prices(dispatcher: CollectingDispatcher, found: Meant) -> List[EventType]:
    products = [found.product] if found.product is not None else found.products[:5]
    lines = "\n".join(
        f"- {p.title}: {money(p.price)} ({online_words(p.online_stock)})" for p in products if p is not None
    )
    if found.product is not None:
        p = found.product
        dispatcher.utter_message(
            response="utter_product_price", title=p.title, price=money(p.price), online=online_words(p.online_stock)
        )
        return about("products", **{FOCUS_PRODUCT: p.sku, SHOWN_PRODUCTS: [p.sku]})
    dispatcher.utter_message(response="utter_product_prices", lines=lines)
    return about("products", **{FOCUS_PRODUCT: None, SHOWN_PRODUCTS: [p.sku for p in products]})


def _cheapest(dispatcher: CollectingDispatcher, tracker: Tracker, here: str | None) -> List[EventType]:
    """The cheapest product in stock that fits the current request (or the kind in focus)."""
    store = get_store()
    request = read_request(tracker, store)
    kind = request.kind or (None if request.category else _focus_kind(tracker))
    shelf = None
    if here is not None:
        try:
            shelf = store.store_quantities(here)
        except StoreNotFound:
            shelf = None
    fitting = [
        p
        for p in catalogue().products
        if (shelf.get(p.sku, 0) > 0 if shelf is not None else p.online_stock > 0)
        and (request.category is None or p.category == request.category)
        and is_kind(p, kind)
        and (request.max_price is None or float(p.price) <= request.max_price)
        and (request.min_price is None or float(p.price) >= request.min_price)
        and p.category != request.exclude
        # nothing asked for ("which is the best value?"): a product, not a final-sale gift card
        and (request.category is not None or kind is not None or not p.final_sale)
    ]
    if not fitting:
        dispatcher.utter_message(response="utter_no_recommendations", for_category="", price_range="")
        return about("products")
    best = min(fitting, key=lambda p: (p.price, p.title))
    dispatcher.utter_message(response="utter_cheapest", title=best.title, price=money(best.price))
    dispatcher.utter_message(text=_card_text(best), image=best.image_url, buttons=_card_buttons(best))
    return about("products", **{FOCUS_PRODUCT: best.sku, SHOWN_PRODUCTS: [best.sku]})


def _where_is(
    dispatcher: CollectingDispatcher, store: OrderStore, product: ProductInfo, here: str | None
) -> List[EventType]:
    if here is None:
        _stock_for_customers(dispatcher, store, product)
    else:
        _stock_here(dispatcher, store, product, here)
    return about("products", **{FOCUS_PRODUCT: product.sku, SHOWN_PRODUCTS: [product.sku]})


def _elsewhere(
    dispatcher: CollectingDispatcher, store: OrderStore, product: ProductInfo, here: str | None
) -> List[EventType]:
    """The shops that have it, nearest first when on a tablet."""
    try:
        stock = store.stock(product.sku, near=here) if here else store.stock(product.sku)
    except StoreNotFound:
        stock = store.stock(product.sku)
    shops = [s for s in stock.stores if s.quantity > 0 and s.store_id != here]
    if shops:
        listed = "; ".join(
            f"{s.store_name} in {s.city} ({s.quantity}"
            + (f", about {s.distance_km:.0f} km away" if s.distance_km else "")
            + ")"
            for s in shops[:3]
        )
        dispatcher.utter_message(response="utter_stock_elsewhere", title=product.title, shops=listed,
                                 online=online_words(stock.online))  # fmt: skip
    else:
        dispatcher.utter_message(response="utter_stock_nowhere_else", title=product.title,
                                 online=online_words(stock.online))  # fmt: skip
    return about("products", **{FOCUS_PRODUCT: product.sku, SHOWN_PRODUCTS: [product.sku]})


#: A city in these words is where a parcel goes ("will it get there in time? it's going to Manchester"), not a shop.
_DELIVERY_ASKED = ("deliver*", "ship*", "send", "post", "postage", "express", "next day", "get there", "get to",
                   "get it to", "get them to", "reach*", "arrive*", "going to", "in time", "courier",
                   "dispatch*")  # fmt: skip


def _shop_named(store: OrderStore, text: str) -> Any:
    for shop in store.stores():
        # a city alone is a shop in a product conversation ("what about in manchester?"), not a destination
        if has(text, shop.name) or (has(text, shop.city) and not has(text, *_DELIVERY_ASKED)):
            return shop
    return None


def _in_shop(dispatcher: CollectingDispatcher, store: OrderStore, product: ProductInfo, shop: Any) -> List[EventType]:
    stock = store.stock(product.sku)
    there = next((s for s in stock.stores if s.store_id == shop.store_id), None)
    quantity = there.quantity if there is not None else 0
    others = [f"{s.store_name} ({s.quantity})" for s in stock.stores if s.quantity > 0 and s.store_id != shop.store_id]
    dispatcher.utter_message(
        response="utter_stock_in_shop" if quantity > 0 else "utter_stock_not_in_shop",
        title=product.title,
        shop=shop.name,
        quantity=quantity,
        others=", ".join(others) if others else "none of our other shops",
    )
    return about("products", **{FOCUS_PRODUCT: product.sku, SHOWN_PRODUCTS: [product.sku]})
