"""A Rasa NLU entity extractor for `product` and `category`, read from the live shop catalogue.

Runs inside `rasa run` (config.yml, after RegexEntityExtractor). It reads product titles, brands and
categories from the order store's `products` table (SHOP_DATABASE_URL) and re-reads them every
`refresh_seconds`, so products added to the shop are recognised without retraining. Exact matching is a
spaCy PhraseMatcher (case-insensitive, on spaCy's tokens, longest span first through `filter_spans`) whose
patterns are rebuilt from the catalogue at each refresh; a one-letter typo in a long term (8+ characters)
is tolerated through a precomputed single-deletion index (spaCy 3.4 has no fuzzy matching; dictionary
look-ups only). Category values are the catalogue's own category names ("gift cards" -> "Gift Cards");
product values are the catalogue's spelling of what was matched (a full title, a title without its brand,
or a brand). Nothing is extracted inside an email address or over a span another extractor already claimed.
Products the catalogue does not have are the learned extractor's job (bot/learned_entities.py); the old
heuristic for them (capitalised names ending in a product noun) stays available as `capitalised_names`.
A missing database or table is logged once and yields no entities: a parse never fails because of it.

This module must not import the `store` package (it runs in the rasa environment, SQLAlchemy 1.4).
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Sequence, Tuple

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

logger = logging.getLogger(__name__)

DEFAULT_DATABASE_URL = "sqlite:///var/shop.db"
EMAIL = re.compile(r"[^\s@]+@[^\s@]+")
QUERY = "SELECT title, brand, category FROM products"


@dataclass
class Terms:
    """Normalised surface form -> (entity, canonical value), plus the matchers built from them."""

    exact: Dict[str, Tuple[str, str]] = field(default_factory=dict)
    matcher: Any = None  # spaCy PhraseMatcher over the surface forms (LOWER)
    nlp: Any = None  # the blank English tokenizer the matcher's patterns were made with
    deletions: Dict[str, Tuple[str, str]] = field(default_factory=dict)
    max_words: int = 0
    heads: frozenset[str] = frozenset()
    kinds: re.Pattern[str] | None = None


# Nouns that end product names in this kind of shop, on top of the catalogue's own last words: a
# capitalised name ending in one ("the Peptide Eye Cream", "my Ceramic Straightener") is a product
# mention even when the shop does not sell it (yet), so the assistant can say so instead of guessing.
GENERIC_HEADS = frozenset(
    """balm blush bronzer brush butter cleanser cologne concealer conditioner cream curler dryer eyeliner
    fragrance foundation gel gels gloss hairspray highlighter kit lipstick liner lotion mascara mask mirror
    mist moisturiser moisturizer mousse oil palette parfum pencil perfume pillowcase polish powder primer
    supplement vitamin roller scrub serum shampoo soak spray straightener sunscreen tint toilette toner trio
    tweezers wash wand""".split()  # noqa: SIM905 (a word list reads better than a list of strings)
)
_NAME_RUN = re.compile(r"(?<![\w@])[A-Z][\w'-]*(?:[ \t]+(?:[A-Z][\w'-]*|de|of|&|and)){1,5}(?![\w@])")
_NOT_NAME_START = frozenset(
    (  # noqa: SIM905
        "i i'm i've my the a an your this that these those do does did have has is are was can could would will "
        "please hi hello hey ok yes no and or my where when what which why how"
    ).split()
)


def normalise(text: str) -> str:
    """Lower case, '&' as 'and', hyphens and runs of whitespace as one space."""
    text = text.lower().replace("&", " and ").replace("-", " ")
    return " ".join(text.split())


def strip_accents(text: str) -> str:
    """'lumière' -> 'lumiere'."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def category_variants(name: str) -> List[str]:
    """Ways customers write a category: singular/plural, 'skin care' for 'Skincare', 'make up'."""
    base = normalise(name)
    out = {base}
    for form in list(out):
        out.add(form[:-1] if form.endswith("s") else form + "s")
    for form in list(out):
        m = re.fullmatch(r"(\w+?)(care)", form)
        if m:
            out.add(f"{m.group(1)} care")
        if form.startswith("makeup"):
            out.add("make up" + form[len("makeup") :])
    return sorted(out)


def build_terms(rows: Iterable[Tuple[str, str, str]], aliases: Dict[str, str], fuzzy_min_length: int) -> Terms:
    """Index titles, titles without their brand, brands and categories (plus category aliases)."""
    terms = Terms()
    categories = set()
    for title, brand, category in rows:
        if title:
            terms.exact.setdefault(normalise(title), ("product", title))
            if brand and title.lower().startswith(brand.lower() + " "):
                short = title[len(brand) + 1 :].strip()
                if re.search(r"[^\W\d_]{3}", short):  # a name, not "£25" left over from "Gift Card £25"
                    terms.exact.setdefault(normalise(short), ("product", short))
        if brand:
            terms.exact.setdefault(normalise(brand), ("product", brand))
        if category:
            categories.add(category)
    for category in categories:
        for form in category_variants(category):
            terms.exact[form] = ("category", category)  # a category name wins over a same-named brand
    by_lower = {c.lower(): c for c in categories}
    for alias, target in aliases.items():
        canonical = by_lower.get(target.lower())
        if canonical:
            for form in category_variants(alias):
                terms.exact.setdefault(form, ("category", canonical))
    for term, target in list(terms.exact.items()):  # "lumiere" for "Lumière": people rarely type accents
        plain = strip_accents(term)
        if plain != term:
            terms.exact.setdefault(plain, target)
    if not terms.exact:
        return terms
    terms.nlp = blank_english()
    terms.matcher = phrase_matcher(terms.nlp, surface_forms(rows, aliases, terms.exact))
    terms.max_words = max(len(t.split()) for t in terms.exact)
    ambiguous = set()
    for term, target in terms.exact.items():
        if len(term) < fuzzy_min_length:
            continue
        for i in range(len(term)):
            d = term[:i] + term[i + 1 :]
            if d in terms.exact:
                continue
            if d in terms.deletions and terms.deletions[d] != target:
                ambiguous.add(d)
            terms.deletions[d] = target
    for d in ambiguous:
        del terms.deletions[d]
    heads = set(GENERIC_HEADS)
    for title, _brand, _category in rows:
        last = normalise(title or "").split()[-1:] if title else []
        if last and re.fullmatch(r"[^\W\d_]{4,}", last[0]):
            heads.add(last[0])
    terms.heads = frozenset(heads)
    # Kinds of product ("a moisturiser", "night cream", "supplements"): a `category` entity with the noun as
    # written, so "recommend a moisturiser" narrows to moisturisers. Two-word kinds come from the
    # catalogue's titles ("eye cream", "hair oil") when at least two products end in them.
    endings: Dict[str, int] = {}
    for title, _brand, _category in rows:
        words = normalise(title or "").split()
        if len(words) >= 3 and re.fullmatch(r"[^\W\d_]{3,} [^\W\d_]{3,}", " ".join(words[-2:])):
            endings[" ".join(words[-2:])] = endings.get(" ".join(words[-2:]), 0) + 1
    kinds = {k for k, n in endings.items() if n >= 2 and k.split()[-1] in heads} | {h for h in heads if len(h) >= 4}
    forms = sorted({f for k in kinds for f in (k, k + "s", k + "es")}, key=len, reverse=True)
    terms.kinds = re.compile(
        r"(?<![\w@])(?:" + "|".join(r"[\s-]+".join(map(re.escape, f.split())) for f in forms) + r")(?![\w@])",
        re.IGNORECASE,
    )
    return terms


_BLANK: Any = None


def blank_english() -> Any:
    """spaCy's blank English pipeline (a tokenizer only), made once per process."""
    global _BLANK
    if _BLANK is None:
        import spacy

        _BLANK = spacy.blank("en")
    return _BLANK


def surface_forms(
    rows: Iterable[Tuple[str, str, str]], aliases: Dict[str, str], exact: Dict[str, Tuple[str, str]]
) -> List[str]:
    """Every way a term is written: the normalised forms, and titles, brands and categories as the shop
    writes them (spaCy keeps "-" and "&" as tokens: "Anti-Ageing" does not match the pattern "anti ageing")."""
    forms = set(exact)
    for title, brand, category in rows:
        for raw in (title, brand, category):
            if raw:
                forms.add(raw.lower())
                forms.add(strip_accents(raw.lower()))
        if title and brand and title.lower().startswith(brand.lower() + " "):
            forms.add(title[len(brand) + 1 :].strip().lower())
    forms.update(a.lower() for a in aliases)
    for form in list(forms):
        if "and" in form.split():
            forms.add(" ".join("&" if w == "and" else w for w in form.split()))
    # only forms that lead back to a term: a longer match that maps to nothing must not hide a shorter one
    return sorted(f for f in forms if normalise(f) in exact or strip_accents(normalise(f)) in exact)


def phrase_matcher(nlp: Any, forms: Sequence[str]) -> Any:
    """A PhraseMatcher on lower-cased tokens with one pattern per surface form."""
    from spacy.matcher import PhraseMatcher

    matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
    matcher.add("TERM", [nlp.make_doc(form) for form in forms])
    return matcher


def term_for(surface: str, terms: Terms) -> Tuple[str, str] | None:
    """(entity, canonical value) for a matched surface text."""
    key = normalise(surface)
    return terms.exact.get(key) or terms.exact.get(strip_accents(key))


def unknown_product_names(text: str, heads: frozenset[str]) -> List[Tuple[int, int]]:
    """Spans of capitalised names of 2+ words that end in a product noun ("the Peptide Eye Cream").

    Leading words that cannot start a name ("I", "My", "The"...) are dropped; a run that ends in
    anything but a product noun is not a product.
    """
    spans = []
    for m in _NAME_RUN.finditer(text):
        words = [(w.start() + m.start(), w.end() + m.start()) for w in re.finditer(r"\S+", m.group(0))]
        while words and text[words[0][0] : words[0][1]].lower() in _NOT_NAME_START:
            words.pop(0)
        if len(words) >= 2 and text[words[-1][0] : words[-1][1]].lower() in heads:
            spans.append((words[0][0], words[-1][1]))
    return spans


def read_catalogue(url: str) -> List[Tuple[str, str, str]]:
    """(title, brand, category) rows from the `products` table at a SQLAlchemy-style URL.

    Raises:
        Exception: whatever the driver raises when the database or table is missing.
    """
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if not path or path == ":memory:":
            raise FileNotFoundError(f"no sqlite file in {url!r}")
        if not os.path.exists(path):  # sqlite3.connect would create an empty file
            raise FileNotFoundError(path)
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2)
        try:
            return [tuple(r) for r in conn.execute(QUERY).fetchall()]  # type: ignore[misc]
        finally:
            conn.close()
    import sqlalchemy

    # The order store uses psycopg 3 URLs (SQLAlchemy 2); the rasa environment has SQLAlchemy 1.4 + psycopg2.
    url = re.sub(r"^postgresql\+psycopg(?=://)", "postgresql+psycopg2", url)
    connect_args = {"connect_timeout": 3} if url.startswith("postgresql") else {}
    engine = sqlalchemy.create_engine(url, connect_args=connect_args, poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sqlalchemy.text(QUERY)).fetchall()]  # type: ignore[misc]
    finally:
        engine.dispose()


def _word_spans(text: str) -> List[Tuple[int, int]]:
    return [(m.start(), m.end()) for m in re.finditer(r"[\w'&]+", text)]


def find_entities(
    text: str, terms: Terms, fuzzy: bool = True, kinds: bool = True, capitalised_names: bool = False
) -> List[Dict[str, Any]]:
    """`product`/`category` entities in `text` (exact first, then one-typo matches on the remaining words)."""
    if terms.matcher is None:
        return []
    from spacy.util import filter_spans

    blocked = [(m.start(), m.end()) for m in EMAIL.finditer(text)]
    found: List[Dict[str, Any]] = []

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in blocked)

    doc = terms.nlp.make_doc(text)
    # filter_spans keeps the longest of overlapping matches (the earliest on a tie): a title over its brand
    for span in filter_spans([doc[s:e] for _, s, e in terms.matcher(doc)]):
        start, end = span.start_char, span.end_char
        # a match must not be glued to letters or an "@" (spaCy may split "skincareroutine" differently)
        if (start > 0 and (text[start - 1].isalnum() or text[start - 1] == "@")) or (
            end < len(text) and (text[end].isalnum() or text[end] == "@")
        ):
            continue
        target = term_for(span.text, terms)
        if target and free(start, end):
            found.append({"entity": target[0], "value": target[1], "start": start, "end": end})
            blocked.append((start, end))
    if fuzzy and terms.deletions:
        words = _word_spans(text)
        for n in range(min(terms.max_words, len(words)), 0, -1):
            for i in range(len(words) - n + 1):
                start, end = words[i][0], words[i + n - 1][1]
                if not free(start, end):
                    continue
                candidate = normalise(text[start:end])
                target = terms.deletions.get(candidate)  # a letter missing
                if target is None:  # a letter too many
                    target = next(
                        (
                            terms.exact[candidate[:k] + candidate[k + 1 :]]
                            for k in range(len(candidate))
                            if candidate[:k] + candidate[k + 1 :] in terms.exact
                        ),
                        None,
                    )
                if target is None:  # one letter wrong: compare deletion sets
                    target = next(
                        (
                            terms.deletions[candidate[:k] + candidate[k + 1 :]]
                            for k in range(len(candidate))
                            if candidate[:k] + candidate[k + 1 :] in terms.deletions
                        ),
                        None,
                    )
                if target is not None and len(candidate) >= 7:
                    found.append({"entity": target[0], "value": target[1], "start": start, "end": end})
                    blocked.append((start, end))
    for start, end in unknown_product_names(text, terms.heads) if capitalised_names else []:
        if free(start, end):
            found.append({"entity": "product", "value": text[start:end], "start": start, "end": end})
            blocked.append((start, end))
    if kinds and terms.kinds is not None:
        for m in terms.kinds.finditer(text):
            if free(m.start(), m.end()):
                found.append({"entity": "category", "value": m.group(0).lower(), "start": m.start(), "end": m.end()})
                blocked.append((m.start(), m.end()))
    return sorted(found, key=lambda e: e["start"])


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class CatalogueEntityExtractor(GraphComponent, EntityExtractorMixin):
    """Extracts `product` and `category` from the live catalogue, refreshed every `refresh_seconds`."""

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        """Defaults: SHOP_DATABASE_URL (else sqlite:///var/shop.db), refresh each minute, typo tolerance on."""
        return {
            "database_url": None,
            "refresh_seconds": 60,
            "fuzzy": True,
            "fuzzy_min_length": 8,
            "category_aliases": {"gift voucher": "Gift Cards", "voucher": "Gift Cards"},
            # Kinds of product ("a moisturiser") only where they narrow an answer; elsewhere ("my serum
            # arrived broken") they would only be noise. Needs this component after the intent classifier.
            "kind_intents": ["recommend_product", "check_stock"],
            # capitalised names ending in a product noun ("the Peptide Eye Cream") as products; off where the
            # learned extractor finds products the shop does not sell
            "capitalised_names": False,
        }

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> CatalogueEntityExtractor:
        """Nothing is read here: the catalogue is loaded on the first parse."""
        return cls(config)

    def __init__(self, config: Dict[str, Any], clock: Any = time.monotonic) -> None:
        """Keep the settings; the catalogue is read lazily."""
        self._config = {**self.get_default_config(), **config}
        self._clock = clock
        self._terms = Terms()
        self._loaded_at: float | None = None
        self._failing = False
        self._lock = threading.Lock()

    @property
    def database_url(self) -> str:
        """The configured URL, else SHOP_DATABASE_URL, else the demo shop's SQLite file."""
        return self._config.get("database_url") or os.environ.get("SHOP_DATABASE_URL") or DEFAULT_DATABASE_URL

    def refresh(self, force: bool = False) -> None:
        """Re-read the catalogue if `refresh_seconds` have passed; on failure keep the last good terms."""
        now = self._clock()
        if not force and self._loaded_at is not None and now - self._loaded_at < float(self._config["refresh_seconds"]):
            return
        with self._lock:
            self._loaded_at = now
            try:
                rows = read_catalogue(self.database_url)
                self._terms = build_terms(
                    rows, dict(self._config["category_aliases"] or {}), int(self._config["fuzzy_min_length"])
                )
                if self._failing:
                    logger.info("Catalogue entities: the products table is readable again (%d rows).", len(rows))
                self._failing = False
            except Exception as exc:  # any driver error: entities are optional, a parse must not fail
                if not self._failing:
                    logger.warning(
                        "Catalogue entities: cannot read products from %s (%s); extracting no products or "
                        "categories until it can be read (retry every %ss).",
                        re.sub(r"//[^@/]*@", "//***@", self.database_url),
                        exc,
                        self._config["refresh_seconds"],
                    )
                self._failing = True

    def process(self, messages: List[Message]) -> List[Message]:
        """Add catalogue entities to each message (spans other extractors found are left alone)."""
        self.refresh()
        for message in messages:
            text = message.get(TEXT)
            if not text:
                continue
            existing = message.get(ENTITIES, []) or []
            taken = [(e["start"], e["end"]) for e in existing if "start" in e and "end" in e]
            new = [
                e
                for e in find_entities(
                    text,
                    self._terms,
                    bool(self._config["fuzzy"]),
                    self._wants_kinds(message),
                    bool(self._config["capitalised_names"]),
                )
                if all(e["end"] <= s or e["start"] >= t for s, t in taken)
            ]
            if new:
                message.set(ENTITIES, existing + self.add_extractor_name(new), add_to_output=True)
        return messages

    def _wants_kinds(self, message: Message) -> bool:
        allowed = self._config.get("kind_intents")
        if allowed is None:  # configured off the list: kinds everywhere
            return True
        intent = (message.get("intent") or {}).get("name")
        return intent is None or intent in allowed  # no classifier before this component: keep them

    def process_training_data(self, training_data: Any) -> Any:
        """Training data keeps its annotations: nothing to do."""
        return training_data

    @classmethod
    def load(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> CatalogueEntityExtractor:
        """Nothing is persisted: the catalogue is always read live."""
        return cls(config)


def extract(text: str, rows: Sequence[Tuple[str, str, str]]) -> List[Dict[str, Any]]:
    """Convenience for scripts and tests: entities in `text` for the given catalogue rows."""
    return find_entities(text, build_terms(rows, {"gift voucher": "Gift Cards"}, 8), capitalised_names=True)
