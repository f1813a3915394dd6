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

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.common import ChannelContext, channel_context, conversation_id, get_store, latest_entity, money
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
_MIN_PRICE = re.compile(r"\b(?:over|above|more than|at least|from)\s*" + _NUMBER, re.IGNORECASE)
_RANGE = re.compile(r"\bbetween\s*" + _NUMBER + r"\s*(?:and|-|to)\s*" + _NUMBER, re.IGNORECASE)
_AMOUNT_VALUE = re.compile(r"(\d+(?:[.,]\d{1,2})?)")


def _product_query(tracker: Tracker) -> str:
    return latest_entity(tracker, "product") or latest_entity(tracker, "category") or ""


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
    """

    def name(self) -> str:
        """Action name."""
        return "action_check_stock"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        """Find the product named in the message and report its stock for this channel."""
        query = _product_query(tracker)
        if not query:
            dispatcher.utter_message(response="utter_ask_product")
            return []
        store = get_store()
        found = store.find_products(query, limit=1)
        if not found:
            dispatcher.utter_message(response="utter_product_not_found", query=query)
            return []
        product = found[0]
        context = channel_context(tracker)
        here = tablet_store(context)
        if here is not None:
            _stock_here(dispatcher, store, product, here)
        elif context.is_staff:
            _stock_everywhere(dispatcher, store, product)
        else:
            _stock_for_customers(dispatcher, store, product)
        return []


def tablet_store(context: ChannelContext) -> str | None:
    """The shop an in-store tablet stands in, only when the gateway vouches for it."""
    if context.trusted and context.channel == "tablet" and context.store_id:
        return context.store_id
    return None


def _online_words(quantity: int) -> str:
    return f"{quantity} available online" if quantity > 0 else "out of stock online"


def _stock_for_customers(dispatcher: CollectingDispatcher, store: OrderStore, product: ProductInfo) -> None:
    stock = store.stock(product.sku)
    in_stores = [f"{s.store_name} ({s.quantity})" for s in stock.stores if s.quantity > 0]
    dispatcher.utter_message(
        response="utter_stock",
        title=product.title,
        price=money(product.price),
        online=_online_words(stock.online),
        stores=", ".join(in_stores) if in_stores else "none at the moment",
    )


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
    """

    mode: str
    category: str | None
    min_price: float | None
    max_price: float | None
    product_query: str | None
    kind: str | None = None


def _price(text: str) -> float:
    return float(text.replace(",", "."))


def read_price_range(text: str, amount: str | None) -> tuple[float | None, float | None]:
    """(min, max) price from the message text, else from the ``amount`` entity (a budget: a ceiling)."""
    if m := _RANGE.search(text):
        low, high = sorted((_price(m.group(1)), _price(m.group(2))))
        return low, high
    low = _price(m.group(1)) if (m := _MIN_PRICE.search(text)) else None
    high = _price(m.group(1)) if (m := _MAX_PRICE.search(text)) else None
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
    """True when no kind was asked for, or the product's title names it ("moisturisers" ~ "... Moisturiser")."""
    if not kind:
        return True
    if product is None:
        return False
    return f" {_kind_key(kind)} " in f" {_kind_key(product.title)} "


def _resolve_category(store: OrderStore, text: str | None) -> str | None:
    if not text:
        return None
    key = _category_key(text)
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


def read_request(tracker: Tracker, store: OrderStore) -> Request:
    """Read mode, category, price range and product from the latest message (entities first,
    then the words around them). Only the latest message counts: an earlier "like X" does not
    turn a later "recommend something" into a similar-products request."""
    text = str(tracker.latest_message.get("text") or "")
    words = "" if text.startswith("/") else text  # a button payload carries entities, not words
    entities = {e.get("entity"): e.get("value") for e in tracker.latest_message.get("entities") or []}
    amount = entities.get("amount")
    low, high = read_price_range(words, str(amount) if amount not in (None, "") else None)
    product = entities.get("product") or None
    if product is None and words and (_TOGETHER.search(words) or _SIMILAR.search(words)):
        # NLU tagged no product: take the words after the cue, if they name one we sell.
        named = _product_after_cue(words)
        product = named if named and store.find_products(named, limit=1) else None
    if product and _TOGETHER.search(words):
        mode = "together"
    elif product:
        mode = "similar"  # "something like X", or a product alone ("More like this")
    else:
        mode = "recommend"
    named_category = str(entities["category"]) if entities.get("category") else None
    category = _resolve_category(store, named_category)
    kind = named_category if named_category and category is None else None  # "a moisturiser": a kind
    return Request(mode, category, low, high, str(product) if product else None, kind)


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
    """Live product facts from the store, fetched once per product per request; doubles as the
    lazy stock check the recommender calls best-first: online stock, or on an in-store tablet the
    shelf of that shop (``here``: units by SKU)."""

    def __init__(self, store: OrderStore, here: dict[str, int] | None = None) -> None:
        self.store = store
        self.here = here
        self.products: dict[str, ProductInfo | None] = {}

    def get(self, sku: str) -> ProductInfo | None:
        if sku not in self.products:
            try:
                self.products[sku] = self.store.product(sku)
            except ProductNotFound:
                self.products[sku] = None
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


class ActionRecommendProducts(Action):
    """Product picks as cards: personal, popular, similar to a product, or what goes with it."""

    def name(self) -> str:
        """Action name."""
        return "action_recommend_products"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        """Read the request, ask the recommender (or the store's best sellers), reply with cards.

        On an in-store tablet the picks come from that shop's shelves first; only when the shop has
        nothing that fits are online picks offered instead.
        """
        store = get_store()
        request = read_request(tracker, store)
        here = _shelf_here(store, channel_context(tracker))
        if here is not None:
            shelf = _Shelf(store, here)
            chosen = self._choose(dispatcher, store, tracker, request, shelf)
            if chosen is None:
                return []
            picks, intro, words = chosen
            if any(shelf.in_stock(p.product_id) for p in picks):
                if request.mode == "recommend":
                    intro = "utter_recommendations_here"
                return self._reply(dispatcher, shelf, picks, intro, words)
        shelf = _Shelf(store)
        chosen = self._choose(dispatcher, store, tracker, request, shelf)
        if chosen is None:
            return []
        picks, intro, words = chosen
        return self._reply(dispatcher, shelf, picks, intro, words)

    @staticmethod
    def _choose(
        dispatcher: CollectingDispatcher, store: OrderStore, tracker: Tracker, request: Request, shelf: _Shelf
    ) -> tuple[list[Recommendation], str, dict[str, str]] | None:
        """The picks, the intro response and its words; None when the named product is unknown (said so)."""
        in_stock: Callable[[str], bool] = shelf.in_stock
        if request.kind:
            kind = request.kind
            in_stock = lambda sku: shelf.in_stock(sku) and is_kind(shelf.get(sku), kind)  # noqa: E731
        filters = Filters(
            category=request.category,
            min_price=request.min_price,
            max_price=request.max_price,
            in_stock=in_stock,
        )
        words = {
            "for_category": f" in {request.category.lower()}"
            if request.category
            else (f": {request.kind.lower()}" if request.kind else ""),
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

        found = store.find_products(request.product_query or "", limit=1)
        if not found:
            dispatcher.utter_message(response="utter_product_not_found", query=request.product_query)
            return None
        anchor = found[0]
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
            picks = [_as_rec(p, "popular") for p in _store_picks(store, same_kind, {anchor.sku}, CARDS, shelf)]
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
        return []


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
