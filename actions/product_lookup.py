"""Which product a customer means: one they name (typos allowed), one they point back to ("the first one",
"it", "the Maison Coco one"), a kind of product ("vitamin c serum", "matte lipsticks"), or one the shop
does not sell, with the closest things it does sell. Used by `actions.products`.

The product named in the latest message always wins over the one in focus; a product the shop does not
sell is never answered as if it were a similar one.
"""

from __future__ import annotations

import difflib
import re
import time
from dataclasses import dataclass, field
from typing import Any

from rasa_sdk import Tracker

from actions.common import get_store, join_words, money
from actions.context import FOCUS_PRODUCT, QUESTION_WORDS, SHOWN_PRODUCTS, Said, has, is_question
from store.records import ProductInfo

CACHE_SECONDS = 60.0  # as bot/catalogue_entities.py: a new product is known within a minute

#: Words that say nothing about which product ("do you have the ... in stock").
STOP = frozenset(
    """
    a an the any some of for to in on at is are am be do does did you u ya y'all guys have has got get sell
    sells stock stocked carry carries there here this that these those it its it's one ones please pls plz i
    i'm im me my we our us can could would will shop store online available availability left still and or
    with what which whats what's how much price cost where find looking look want need like buy order now
    today right moment currently also too again then ok okay hi hey so thanks thank tell know if not no yes
    yeah nice good great lovely new recommend recomend reccomend recommended suggest suggestion suggestions
    idea ideas something anything best decent quality really very first second third last 1st 2nd 3rd hello
    about from by than just only even actually maybe
    ugh hmm hiya cheers ta actually maybe just only ones
    """.split()  # noqa: SIM905 (words read better as words)
)
#: How people name kinds of product the catalogue words differently: their word -> catalogue words.
SYNONYMS = {
    "perfume": "fragrance", "perfumes": "fragrance", "scent": "fragrance", "cologne": "fragrance",
    "aftershave": "fragrance", "parfum": "fragrance", "smell": "fragrance", "smells": "fragrance",
    "sunscreen": "spf", "suncream": "spf", "sunblock": "spf", "spf": "spf",
    "moisturizer": "moisturiser", "moisturizers": "moisturiser", "lotion": "lotion",
    "lippy": "lipstick", "lipsticks": "lipstick", "gloss": "lip", "lipgloss": "lip",
    "shampoos": "shampoo", "conditioners": "conditioner", "serums": "serum", "brushes": "brush",
    "eyeshadow": "eyeshadow", "shadow": "eyeshadow", "liner": "liner", "eyeliners": "eyeliner",
    "blusher": "blush", "foundations": "foundation", "mascaras": "mascara", "masks": "mask",
    "tweezer": "tweezers", "haircare": "haircare", "skincare": "skincare", "makeup": "makeup",
    "make-up": "makeup", "bath": "bath", "body": "body",
}  # fmt: skip
_ORDINALS = {
    "first": 0, "1st": 0, "top": 0, "second": 1, "2nd": 1, "middle": 1, "third": 2, "3rd": 2, "last": -1,
    "bottom": -1,
}  # fmt: skip
_REFERENCE = re.compile(
    r"\b(it|its|it's|that|this|they|them|those|these|that one|this one|the same|same one|the one)\b", re.IGNORECASE
)
_LEAD = re.compile(
    r"^(?:.*?\b(?:do|have|has|did)\s+(?:you|u|ya|y'all|you guys|u guys)\s+(?:guys\s+)?"
    r"(?:got|have|sell|stock|carry|do|still have)\b|.*?\bhave\s+(?:you|u)\s+got\b|.*?\bis\s+there\b|"
    r".*?\bi'?m\s+looking\s+for\b|.*?\blooking\s+for\b|.*?\bwhere\s+(?:can|do)\s+i\s+find\b|"
    r"^\s*(?:is|are)\s+(?=the\b|any\b|a\b)|^\s*(?:(?:you|u)\s+)?got\s+(?=any\b)|^\s*any\b|.*?\bin\s+stock\s*[:,-]\s*)",
    re.IGNORECASE,
)
_TAIL = re.compile(
    r"\b(?:in\s+stock|in\s+store|in\s+this\s+(?:shop|store)|in\s+the\s+(?:shop|store)|here|available|"
    r"at\s+the\s+moment|right\s+now|anymore|any\s*more|online|today|please|pls|still|by\s+any\s+chance|"
    r"on\s+the\s+shelf|in\s+(?:any\s+of\s+)?your\s+shops?)\b.*$",
    re.IGNORECASE,
)


def _stem(word: str) -> str:
    word = word.lower().strip("'")
    word = SYNONYMS.get(word, word)
    if len(word) > 3 and word.endswith("es") and word[:-2].endswith(("sh", "ch", "ss", "x")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us")):
        return word[:-1]
    return word


def tokens(text: str) -> list[str]:
    """The words of ``text`` that can name a product, singular, synonyms mapped to catalogue words."""
    out = []
    for raw in re.findall(r"[\w'&.%-]+", (text or "").lower()):
        raw = raw.strip(".-'")
        if not raw or raw in STOP or raw == "&":
            continue
        out.append(_stem(raw))
    return out


def _words_of(product: ProductInfo) -> set[str]:
    return set(tokens(f"{product.title} {product.brand} {product.category}"))


def kind_of(product: ProductInfo) -> str:
    """What the product is, without the brand: "Maison Coco Satin Lipstick" -> "Satin Lipstick"."""
    title = product.title
    if product.brand and title.lower().startswith(product.brand.lower()):
        return title[len(product.brand) :].strip() or title
    return title


@dataclass
class Catalogue:
    """The catalogue with the words that name its products."""

    products: list[ProductInfo]
    words: dict[str, set[str]] = field(default_factory=dict)  # sku -> words
    vocabulary: set[str] = field(default_factory=set)
    brands: list[str] = field(default_factory=list)
    skus: dict[str, ProductInfo] = field(default_factory=dict)
    #: memo of derived word sets (kinds of product...), built once per catalogue by their users
    memo: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, products: list[ProductInfo]) -> Catalogue:
        """Index ``products``."""
        words = {p.sku: _words_of(p) for p in products}
        vocabulary = set().union(*words.values()) if words else set()
        brands = sorted({p.brand for p in products if p.brand}, key=len, reverse=True)
        return cls(products, words, vocabulary, brands)

    def by_sku(self, sku: str) -> ProductInfo | None:
        """The product with ``sku``."""
        if not self.skus:
            self.skus.update({p.sku: p for p in self.products})
        return self.skus.get(sku)

    def by_title(self, title: str) -> ProductInfo | None:
        """The product whose title is ``title`` (case-insensitive)."""
        key = title.strip().lower()
        return next((p for p in self.products if p.title.lower() == key), None)


_cache: dict[int, tuple[float, Catalogue]] = {}


def catalogue() -> Catalogue:
    """The store's catalogue, read at most once a minute per store."""
    store = get_store()
    now = time.monotonic()
    cached = _cache.get(id(store))
    if cached is not None and now - cached[0] < CACHE_SECONDS:
        return cached[1]
    built = Catalogue.of(store.catalogue())
    _cache.clear()
    _cache[id(store)] = (now, built)
    return built


def _correct(word: str, vocabulary: set[str]) -> str:
    """A misspelt catalogue word put right ("mascra" -> "mascara"); other words unchanged."""
    if word in vocabulary or len(word) < 4 or any(ch.isdigit() for ch in word):
        return word
    close = [c for c in difflib.get_close_matches(word, vocabulary, n=3, cutoff=0.85) if c[0] == word[0]]
    return close[0] if close else word


@dataclass
class Match:
    """What a product phrase matches in the catalogue.

    Attributes:
        query: the phrase as asked.
        words: its product words (corrected).
        products: products whose words include every word of the phrase (one: that product; several: a
            kind of product, or a brand).
        near: when nothing has every word, the products sharing the most of them (the closest we sell).
        unknown: words of the phrase the catalogue does not know at all.
    """

    query: str
    words: list[str]
    products: list[ProductInfo]
    near: list[ProductInfo]
    unknown: list[str]

    @property
    def exact(self) -> ProductInfo | None:
        """The one product meant, if the phrase names exactly one (or a full title)."""
        if len(self.products) == 1:
            return self.products[0]
        titled = [p for p in self.products if p.title.lower() == self.query.strip().lower()]
        return titled[0] if len(titled) == 1 else None


def _names(query: str, unknown: list[str]) -> list[str]:
    """Unknown words written with a capital (brand or product names we do not carry: "Olaplex", "Fenty")."""
    capitalised = {w.strip(".-'").lower() for w in re.findall(r"[\w'&.%-]+", query) if w[:1].isupper()}
    return [w for w in unknown if w in capitalised or any(ch.isdigit() for ch in w)]


#: Words that end the head of a product phrase ("serum for dry skin", "mascara that's waterproof": the head is
#: the last product word before them).
_HEAD_END = frozenset(
    "for with that thats that's which in to under without from on by like below less around about but or".split()  # noqa: SIM905 (words read better as words)
)
#: Endings of describing words ("sensitive", "oily", "damaged", "natural", "washable"): not a kind of product.
_DESCRIBING = re.compile(r"(?:ive|y|ed|ing|al|ic|ous|ful|less|able|ible|est)$")
#: Head words that describe or stand for the product instead of naming its kind ("shampoo travel size").
_NOT_A_KIND = frozenset(
    """
    size sizes colour color colours colors shade shades version kind type types brand stuff thing things product
    products item items range option options cheap red black brown blue green nude white big small large light
    dark fine thick thin long short vegan natural organic clean bit bits pack packs bottle bottles tube anywhere
    everywhere somewhere nowhere though tho anyway anyways lol x xx xxx mate hun babe soon tonight tomorrow yet ever
    either btw tbh tho pls plz lol haha thx ty rn asap imo ngl fr again then
    """.split()  # noqa: SIM905 (words read better as words)
)


def _unknown_head(query: str, unknown: list[str], vocabulary: set[str]) -> str | None:
    """The head noun of a product phrase when the catalogue does not know it ("hair dye": "dye", "shampoo bar":
    "bar"): the kind of product asked for, so sharing another word ("hair") with products is no match. Only the
    last word of a compound whose word before it we know counts ("skin tint btw", "the blush, how much was it"
    name no unknown kind)."""
    part: list[str] = []
    for raw in re.findall(r"[\w'&.%-]+|[,;:?!]", query.lower()):
        raw = raw.strip(".-'")
        if (raw in _HEAD_END or raw in {",", ";", ":", "?", "!"}) and part:
            break
        if raw:
            part.append(raw)
    if len(part) < 2:
        return None
    head, before = part[-1], part[-2]
    if head in STOP or before in STOP or head in _NOT_A_KIND or _DESCRIBING.search(head):
        return None
    if any(ch.isdigit() for ch in head) or _correct(_stem(before), vocabulary) not in vocabulary:
        return None
    word = _correct(_stem(head), vocabulary)
    return word if word in unknown else None


def _unknown_kind_word(query: str, unknown: list[str], vocabulary: set[str]) -> str | None:
    """A word we do not know standing as a kind of product of its own beside others ("candles or room spray":
    candles), so the phrase is no match for what shares a word with the others (every spray). Describing words
    ("sensitive", "oily") and the words of `_NOT_A_KIND` ("vegan", "size") are no kind. (The first word of a
    compound, "room" of "room spray", is not read: "face" of "face masks" is unknown to the catalogue too.)"""
    segments: list[list[str]] = [[]]
    for raw in re.findall(r"[\w'&.%-]+|[,;:?!/]", query.lower()):
        raw = raw.strip(".-'")
        if raw in {"or", "/"}:
            segments.append([])  # alternatives: "candles or room spray"
        elif raw in _HEAD_END or raw in {",", ";", ":", "?", "!"}:
            if len(segments) > 1:
                break  # the alternatives end where the phrase does
            segments = [[]]
        elif raw and raw not in STOP:
            segments[-1].append(raw)
    segments = [part for part in segments if part]

    def a_kind(word: str) -> bool:
        fixed = _correct(_stem(word), vocabulary)
        return (
            fixed in unknown
            and word not in _NOT_A_KIND
            and not _DESCRIBING.search(word)
            and not any(ch.isdigit() for ch in word)
            and not word.endswith(("'s", "s'"))
            and len(word) > 2
        )

    if len(segments) > 1:
        for part in segments:
            if len(part) == 1 and a_kind(part[0]):
                return _correct(_stem(part[0]), vocabulary)
    return None


def _unknown_modifier(meaningful: list[str], unknown: list[str], cat: Catalogue) -> str | None:
    """The word we do not know in front of a known word that is no kind of product here ("false eyelashes":
    "false", as "eyelash" is only part of "Eyelash Curler"): the phrase names another kind of product, so the
    word it shares is no match. A kind we sell with a word we do not know ("vegan mascara") is that kind."""
    if len(meaningful) < 2:
        return None
    before, head = meaningful[-2], meaningful[-1]
    if before not in unknown or head not in cat.vocabulary or before in STOP or before in _NOT_A_KIND:
        return None
    if _DESCRIBING.search(before) or any(ch.isdigit() for ch in before):
        return None
    kinds = {(tokens(kind_of(p)) or [""])[-1] for p in cat.products}
    return None if head in kinds else before


#: Leads of a fragment asking about another product ("and trainers?", "what about lip balm?").
_FRAGMENT_LEAD = re.compile(r"^\s*(?:and|or|what about|how about|wbu|also)\b\s*", re.IGNORECASE)
#: Short replies that are no product ("seriously?", "why?", "huh?").
_NOT_A_PRODUCT = frozenset(
    """
    why how what huh wow lol lmao omg hmm oh ah sorry pardon meaning hello hey seriously really sure ok okay
    right no nah nope yes yeah yep none nothing thanks ta cool fine great nice
    """.split()  # noqa: SIM905 (words read better as words)
)


def fragment_phrase(text: str) -> str:
    """The product words of a fragment ("what about teeth whitening strips?" -> "teeth whitening strips")."""
    return _FRAGMENT_LEAD.sub("", (text or "").strip().strip("?!. "), count=1).strip(" ?!.,")


def product_fragment(text: str) -> bool:
    """A fragment that names a product or kind and nothing else, asked after products ("trainers?", "and lip
    balm?", "what about perfume"): the next product asked about, in the words of the question before."""
    if not text or not (is_question(text) or _FRAGMENT_LEAD.match(text)):
        return False
    rest = _FRAGMENT_LEAD.sub("", text.strip().strip("?!. ").lower(), count=1)
    content = [w.strip(".-'") for w in re.findall(r"[\w'&.%-]+", rest)]
    content = [w for w in content if w and w not in STOP and w != "&"]
    if not 1 <= len(content) <= 3 or any(w in QUESTION_WORDS or w in _NOT_A_PRODUCT for w in content):
        return False
    return not _DESCRIBING.search(content[-1]) and not content[-1].isdigit()


def match(query: str, cat: Catalogue | None = None) -> Match:
    """Match a product phrase against the catalogue.

    Args:
        query: e.g. "vitamin c serum", "Collagen Night Cream", "mascra", "Maison Coco".
        cat: the catalogue (default: the store's).

    Returns:
        The match; nothing when the phrase has no product words.
    """
    cat = cat or catalogue()
    words = [_correct(w, cat.vocabulary) for w in tokens(query)]
    # single letters and numbers only count next to a real word ("vitamin c", "no.3")
    meaningful = [w for w in words if len(w) > 1 or len(words) > 1]
    if not meaningful:
        return Match(query, [], [], [], [])
    unknown = [w for w in meaningful if w not in cat.vocabulary]
    known = [w for w in meaningful if w in cat.vocabulary]
    names = _names(query, unknown)
    head = _unknown_head(query, unknown, cat.vocabulary)
    if head is not None and head not in names:
        names.append(head)  # "do you sell hair dye": dye, not every hair product
    kind_word = None if head is not None else _unknown_kind_word(query, unknown, cat.vocabulary)
    if kind_word is not None and kind_word not in names:
        names.append(kind_word)  # "candles or room spray": not every spray
    modifier = _unknown_modifier(meaningful, unknown, cat)
    if modifier is not None and modifier not in names:
        names.append(modifier)  # "false eyelashes": not the eyelash curler
    # a number alone names no kind of product ("olaplex no 3" is not the sets of 3)
    known_words = [w for w in known if not w.isdigit()]
    # lower-case words we do not know ("sensitive", "nice") do not stop a match; unknown names and heads do
    wanted = meaningful if (names or not known_words) else known
    full = [p for p in cat.products if all(w in cat.words[p.sku] for w in wanted)]
    near: list[ProductInfo] = []
    if not full:
        scored = []
        for p in cat.products:
            shared = [w for w in meaningful if w in cat.words[p.sku] and (known_words and not w.isdigit())]
            if shared:
                # a shared kind word ("shampoo", "cream") counts more than a shared adjective
                score = len(shared) + sum(0.5 for w in shared if w in tokens(kind_of(p))[-1:])
                scored.append((score, p.online_stock > 0, p.title, p))
        scored.sort(key=lambda s: (-s[0], not s[1], s[2]))
        if scored:
            best = scored[0][0]
            near = [p for score, _, _, p in scored if score >= best - 0.5][:4]
    return Match(query, meaningful, full, near, names if known_words else unknown)


def asked_phrase(text: str) -> str:
    """The product phrase of a stock question: "do you have the linen shirt in stock?" -> "linen shirt"."""
    phrase = text.strip().strip("?!.")
    phrase = _LEAD.sub("", phrase, count=1)
    phrase = _TAIL.sub("", phrase).strip(" ,?!.")
    return phrase


def shown(tracker: Tracker, cat: Catalogue | None = None) -> list[ProductInfo]:
    """The products of the last answer that showed some, in order."""
    cat = cat or catalogue()
    skus = tracker.get_slot(SHOWN_PRODUCTS) or []
    return [p for p in (cat.by_sku(str(s)) for s in skus) if p is not None]


def in_focus(tracker: Tracker, cat: Catalogue | None = None) -> ProductInfo | None:
    """The product the conversation is about (the last one answered about, else the first one shown)."""
    cat = cat or catalogue()
    value = tracker.get_slot(FOCUS_PRODUCT)
    if value:
        product = cat.by_sku(str(value)) or cat.by_title(str(value))
        if product is not None:
            return product
    listed = shown(tracker, cat)
    return listed[0] if listed else None


def named_before(tracker: Tracker, cat: Catalogue | None = None) -> ProductInfo | None:
    """The last catalogue product the customer named before the latest message ("the lipstick itself" after
    picks similar to it: the one they asked about, not a pick)."""
    cat = cat or catalogue()
    seen_latest = False
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        if not seen_latest:
            seen_latest = True
            continue
        for ent in (event.get("parse_data") or {}).get("entities") or []:
            if ent.get("entity") == "product" and ent.get("value"):
                product = cat.by_title(str(ent["value"]))
                if product is not None:
                    return product
    return None


def ordinal(text: str) -> int | None:
    """0 for "the first one", 1 for "the second", -1 for "the last one"; None without one."""
    for word, index in _ORDINALS.items():
        if has(text, f"{word} one", f"the {word}", f"{word} option", f"{word} product", f"{word} suggestion") or (
            has(text, word) and word in {"1st", "2nd", "3rd"}
        ):
            return index
    return None


def brand_in(text: str, cat: Catalogue | None = None) -> str | None:
    """A brand of the catalogue named in ``text`` (the longest), or named by its first word alone when
    that word is no other brand's ("the Atlas one")."""
    cat = cat or catalogue()
    for brand in cat.brands:
        if has(text, brand):
            return brand
    firsts: dict[str, list[str]] = {}
    for brand in cat.brands:
        first = brand.split()[0].lower()
        if len(first) >= 4:
            firsts.setdefault(first, []).append(brand)
    for first, brands in firsts.items():
        if len(brands) == 1 and has(text, first):
            return brands[0]
    return None


def brand_full(brand: str, cat: Catalogue | None = None) -> str:
    """The brand as the catalogue spells it."""
    cat = cat or catalogue()
    return next((b for b in cat.brands if b.lower() == brand.lower()), brand)


@dataclass
class Meant:
    """The outcome of reading a message for a product.

    Attributes:
        product: the one product meant, when there is one.
        products: several products that all fit (a kind, a brand): the answer lists them.
        unsold: the phrase when the shop sells nothing like it as named.
        near: close alternatives for ``unsold``.
        how: ``named``, ``kind``, ``brand``, ``shown``, ``focus``, ``unsold`` or ``none``.
    """

    product: ProductInfo | None = None
    products: list[ProductInfo] = field(default_factory=list)
    unsold: str | None = None
    near: list[ProductInfo] = field(default_factory=list)
    how: str = "none"


def meant(tracker: Tracker, latest: Said, *, refer_back: bool = True) -> Meant:
    """The product(s) the latest message is about.

    The message's own product words win: a button's or NLU's product, a product phrase in the words. Only
    a message that names none and points back ("is it in stock", "the first one", "the Maison Coco one")
    is about the product in focus or one shown.

    Args:
        tracker: the conversation.
        latest: the message.
        refer_back: whether "it" / "the first one" may mean a product of earlier answers.
    """
    cat = catalogue()
    text = latest.text
    if refer_back and text:
        index = ordinal(text)
        listed = shown(tracker, cat)
        if index is not None and listed:
            position = index if index < 0 else min(index, len(listed) - 1)
            return Meant(product=listed[position], how="shown")
    named = latest.entity("product")
    if named:
        by_title = cat.by_title(named)
        if by_title is not None:
            return Meant(product=by_title, how="named")
    brand = brand_in(text or named or "", cat)
    candidates = [named] if named else []
    if text:
        phrase = asked_phrase(text)
        if phrase and phrase.lower() not in {c.lower() for c in candidates}:
            candidates.append(phrase)
    if latest.entity("category") and str(latest.entity("category")).lower() not in {c.lower() for c in candidates}:
        candidates.append(str(latest.entity("category")))
    for phrase in candidates:
        found = match(phrase, cat)
        if not found.words:
            continue
        if brand and refer_back and set(found.words) <= set(tokens(brand_full(brand, cat))) | {"one"}:
            # "the Maison Coco one": that brand's product of the kind in focus
            return _brand_one(tracker, brand, cat)
        if found.exact is not None:
            return Meant(product=found.exact, how="named")
        if found.products:
            return Meant(products=found.products, how="brand" if brand else "kind")
        if found.unknown or found.near:
            if refer_back and _is_reference(text) and not found.near and not _names(phrase, found.unknown):
                break  # "what amounts do they come in": about the products in focus, not a product name
            # "what about candles or room spray": the phrase after a fragment's lead is the name
            phrase = _FRAGMENT_LEAD.sub("", phrase)
            if not names_a_product(phrase):
                continue  # "ok which of the ones you do have is the best value": a sentence, not a product name
            return Meant(unsold=_display(phrase), near=found.near, how="unsold")
    if refer_back and text and _is_reference(text):
        product = in_focus(tracker, cat)
        if product is not None:
            return Meant(product=product, how="focus")
    return Meant()


#: Words no product name holds: people and pointers ("I'll", "you", "it", "the ones", "that one"), question words,
#: and the verbs that make a phrase a sentence ("ok I'll just buy it", "which of the ones you do have is best").
_SENTENCE_WORDS = frozenset(
    """
    i i'll i'm im i've ive i'd id me my mine you u you're youre you've youve you'd your yours we we're we've our us
    he she him her his they they're them their it its it's this that these those ones which what what's whats who
    how when why where whose do does did don't dont doesn't didn't can can't could would should will won't shall
    is isn't are aren't was were been am got get buy order ordered want wanted need let think know just
    """.split()  # noqa: SIM905 (words read better as words)
)
#: The longest phrase read as a product name we do not sell ("Dyson Airwrap", "candles or room spray").
_NAME_WORDS = 6


def names_a_product(phrase: str) -> bool:
    """Whether a phrase read from a message can be a product's name: a short noun phrase, not a sentence, a pronoun
    reference or a question ("the ones you do have", "that one", "I'll just buy it"), which mean the products in
    focus or last shown, never a product we do not sell."""
    words = [w.strip(".-'") for w in re.findall(r"[\w'&.%-]+", phrase.lower())]
    words = [w for w in words if w]
    if not words or len(words) > _NAME_WORDS:
        return False
    if words[-1] == "one" or words[-1] == "ones":
        return False  # "the other one", "the cheap ones": a pointer, not a name
    return not any(w in _SENTENCE_WORDS for w in words)


def _is_reference(text: str) -> bool:
    return bool(_REFERENCE.search(text or "")) or not tokens(asked_phrase(text or ""))


def _display(phrase: str) -> str:
    words = phrase.split()
    while words and words[0].lower() in {"the", "a", "an", "any", "some", "and", "is", "are"}:
        words.pop(0)
    return " ".join(words).strip(" ,.?!")


def _brand_one(tracker: Tracker, brand: str, cat: Catalogue) -> Meant:
    """That brand's product among those shown, else of the kind in focus, else all of that brand."""
    own = [p for p in cat.products if p.brand.lower() == brand.lower()]
    listed = [p for p in shown(tracker, cat) if p.brand.lower() == brand.lower()]
    if len(listed) == 1:
        return Meant(product=listed[0], how="shown")
    focus = in_focus(tracker, cat)
    if focus is not None:
        kind_words = set(tokens(kind_of(focus)))
        same_kind = [p for p in own if kind_words and kind_words <= set(tokens(kind_of(p)))]
        if not same_kind and kind_words:
            last = tokens(kind_of(focus))[-1:]
            same_kind = [p for p in own if last and last[0] in tokens(kind_of(p))]
        if len(same_kind) == 1:
            return Meant(product=same_kind[0], how="brand")
        if same_kind:
            return Meant(products=same_kind, how="brand")
    if len(own) == 1:
        return Meant(product=own[0], how="brand")
    return Meant(products=own, how="brand")


def describe(products: list[Any]) -> str:
    """ "A (£x), B (£y) and C (£z)"."""
    return join_words([f"{p.title} ({money(p.price)})" for p in products])
