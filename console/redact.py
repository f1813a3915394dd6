"""Redaction of personal data for viewers without raw access: used by the console's transcripts, index and exports.

What counts as personal data here: emails (any script, also "name at domain dot com"), phone numbers of any
country (Google's libphonenumber, through ``phonenumbers``), card numbers (spaces, dashes or dots between the
digits), street addresses (English, French/Spanish/Italian and German/Dutch word orders, flats and PO boxes),
postcodes (UK, Irish Eircodes, Canadian, Dutch, US ZIP and ZIP+4, 5-digit European), parcel tracking numbers
(UPU ``AB123456789GB``, UPS ``1Z...``) and people's names: the shop's customers (the store knows them:
:func:`use_customer_names`) wherever they appear, and any capitalised name after a cue such as "my name is",
"Thanks," or "billed to". Order and RMA numbers, amounts, dates and product names are kept: a lead needs them.

Each pass replaces what it finds by a marker no later pattern can match, so nothing is redacted twice.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import phonenumbers

from store.proofs import postcode_spans

LABELS = {
    "card": "[card number]",
    "email": "[email]",
    "phone": "[phone]",
    "street": "[address]",
    "postcode": "[postcode]",
    "tracking": "[tracking number]",
    "name": "[name]",
    "bank": "[bank account]",
}
# Exports replace personal data with harmless values of the same kind, so examples stay valid training data.
SURROGATES = {
    "card": "4000 0000 0000 0002",
    "email": "customer@example.com",
    "phone": "07700 900000",
    "street": "1 High Street",
    "postcode": "SW1A 1AA",
    "tracking": "AA000000000GB",
    "name": "Alex Smith",
    "bank": "GB00 BANK 0000 0000 0000 00",
}
_DIGIT = re.compile(r"\d")
_AT_WORD = re.compile(r"\bat\b|\(at\)|\[at\]|\{at\}", re.IGNORECASE)
_MARKER = re.compile("\x00(card|email|phone|street|postcode|tracking|name|bank)\x00")
_KEEP = re.compile("\x01(\\d+)\x01")
# One replacement function per kind, built once (not a new lambda per pass of every message).
def _mark(kind: str) -> Callable[[re.Match[str]], str]:
    marker = f"\x00{kind}\x00"
    return lambda _match: marker


_MARKS: dict[str, Callable[[re.Match[str]], str]] = {kind: _mark(kind) for kind in LABELS}

# Identifiers a lead needs, set aside before any pattern runs (a 6-digit order number is no postcode).
ORDER_OR_RMA = re.compile(r"\b(?:ORD|RMA)[-\s#.]*\d{6,7}\b|#\s?\d{6,7}\b|(?<![\d+])01\d{5}(?!\d)", re.IGNORECASE)

# Bounded repeats everywhere: a 100 kB run of letters must not make any pattern quadratic.
EMAIL = re.compile(r"[\w.%+'’-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){0,8}\.\w{2,24}")
SPELLED_EMAIL = re.compile(
    r"\b\w{1,40}(?:\s*(?:\(dot\)|\[dot\]|\sdot\s|\.|_)\s*\w{1,40}){0,3}\s*(?:\(at\)|\[at\]|\{at\}|\sat\s)\s*[\w-]{1,63}"
    r"(?:\s*(?:\(dot\)|\[dot\]|\{dot\}|\sdot\s|\.)\s*[\w-]{1,63}){1,4}",
    re.IGNORECASE,
)
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?\b")
SORT_CODE_ACCOUNT = re.compile(r"\b\d{2}-\d{2}-\d{2}\b(?:[ ,/]+(?:account[: ]*)?\d{8}\b)?", re.IGNORECASE)
TRACKING = re.compile(r"\b(?:[A-Z]{2}\d{9}[A-Z]{2}|1Z[0-9A-Z]{16})\b", re.IGNORECASE)
# A bare run of 10-22 digits is a parcel (DHL 10, DPD 14 digits), a phone or an account number: all redacted.
LONG_NUMBER = re.compile(r"(?<![\w.,])\d{10,22}(?![\w.,]?\d)")
CARD = re.compile(r"(?<![\w-])\d(?:[ .-]{0,2}\d){12,18}(?![\w-])")
GROUPED_CARD = re.compile(
    r"(?<![\w.-])\d{4}([ .-])\d{4}\1\d{4}\1\d{1,7}(?![\w])|(?<![\w.-])\d{4}([ .-])\d{6}\2\d{5}(?![\w])"
)
# A number with a country code or a trunk 0 that libphonenumber did not accept for the regions tried.
PHONE_FALLBACK = re.compile(r"(?<![\w+])(?:\+|00)\d[\d ()./-]{6,18}\d(?!\w)|(?<![\w])\(?0\d[\d ()./-]{7,14}\d(?!\w)")
_PHONE_SHAPED = re.compile(r"(?:\d[\s().\/-]{0,3}){8}")
PHONE_REGIONS = ("GB", "US", "DE", "FR", "NL", "IE", "ES", "IT")
_WORD = r"[A-Za-zÀ-ÖØ-öø-ÿ'’.-]+"
_SUFFIXES = (
    "street|st|road|rd|avenue|ave|lane|ln|drive|dr|close|way|place|pl|court|ct|crescent|cres|terrace|gardens|"
    "square|sq|hill|row|mews|parade|boulevard|blvd|walk|grove|park|green|rise|view|wharf|quay|yard|circus|"
    "highway|hwy|parkway|pkwy|broadway|trail|strasse|straße|str|straat|weg|gasse|allee|platz|laan|gracht|kade"
)
STREET = re.compile(
    rf"\b\d{{1,5}}[A-Za-z]?,?\s+(?:{_WORD}\s+){{0,4}}(?:{_SUFFIXES})\b\.?"
    r"(?!\s+(?:de|des|du|la|le|les|del|della|di|d'|l')\b)(?:\s+(?:NW|NE|SW|SE|N|S|E|W)\b)?",
    re.IGNORECASE,
)
STREET_TYPE_FIRST = re.compile(
    rf"\b(?:\d{{1,5}}[A-Za-z]?(?:\s*(?:bis|ter))?,?\s+)?(?:rue|avenue|av\.|boulevard|bd|place|chemin|allée|allee|impasse|quai|"
    rf"calle|avenida|av|paseo|plaza|carrer|via|viale|piazza|corso|largo|rua)\s+(?:(?:de|du|des|la|le|les|del|della|di|da|do|dos)\s+|d'|l')?"
    rf"{_WORD}(?:\s+{_WORD}){{0,3}}?(?:,?\s+\d{{1,5}}[A-Za-z]?)?(?=[\s,.;!?)]|$)",
    re.IGNORECASE,
)
GERMANIC_STREET = re.compile(
    r"\b[A-ZÄÖÜ][a-zäöüß]{2,30}(?:straße|strasse|str\.|weg|gasse|allee|platz|ring|damm|ufer|straat|laan|gracht|plein|kade|"
    r"dijk|singel|steeg|markt)\s+\d{1,5}[a-z]?\b",
)
FLAT_OR_BOX = re.compile(
    r"\b(?:flat|apartment|apt|unit|suite|ste)\.?\s*#?\s*\d{1,5}[A-Za-z]?\b|\bP\.?\s?O\.?\s?Box\s+\d{1,7}\b",
    re.IGNORECASE,
)
# Any separator the bot's proof reader forgives (dash, dot, slash, underscore) as well as spaces: W1F-9XX.
UK_POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?[\s.\-‐-―_/]{0,3}\d[A-Z]{2}\b", re.IGNORECASE)
_LETTER_RUN = re.compile(r"[^\W\d_]{4,}")
_NOT_EIRCODE = re.compile(r"[^0-9AC-FHKNPRTV-Y]", re.IGNORECASE)
_POSTCODE_CUE = re.compile(r"(?i:post\s?code|zip|postal|plz|code postal|cp|postleitzahl)\b[^\n]{0,20}$")
EIRCODE = re.compile(r"\b(?:[AC-FHKNPRTV-Y]\d{2}|D6W)\s?[0-9AC-FHKNPRTV-Y]{4}\b", re.IGNORECASE)
CANADIAN_POSTCODE = re.compile(r"\b[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z]\s?\d[ABCEGHJ-NPRSTV-Z]\d\b", re.IGNORECASE)
DUTCH_POSTCODE = re.compile(r"\b[1-9]\d{3}\s?(?!SS|SA|SD)[A-Z]{2}\b")
ZIP_PLUS4 = re.compile(r"\b\d{5}-\d{4}\b")
# Five digits alone: a French/German/Spanish/Italian/US postcode, unless it is money, part of a longer number,
# or follows "#"/"no."/"x" (then it is more likely a quantity or a reference).
FIVE_DIGITS = re.compile(r"(?<![\w£$€#.,/:-])(?<!no\. )(?<!No\. )\d{5}(?![\w,.]?\d)(?![\w%])")

# Who a name follows: a cue, then one to three capitalised words. Sentence-initial capitals need no cue only
# when the word is a known customer name.
NAME_CUE = re.compile(
    r"(?i:\b(?:my name is|my name's|name is|name's|call me|this is|i am|i'm|im|it's|its|signed|regards|"
    r"kind regards|best wishes|thanks|thank you|thx|cheers|hi|hello|hey|dear|billed to|bill to|invoice to|"
    r"addressed to|in the name of|name on the card is|cardholder|card holder|recipient|attn|c/o)\b[,:]?\s+)"
)
_CAP = r"[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿ][a-zà-öø-ÿ'’-]{0,30}"
_TITLE = r"(?:(?i:mr|mrs|ms|miss|mx|dr)\.?\s+)?"
_PARTICLE = r"(?:(?:van|von|de|der|da|di|le|la|el|al|bin|ibn|o')[ -]?)?"
CUED_NAME = re.compile(rf"({NAME_CUE.pattern}{_TITLE})({_CAP}(?:[ -]{_PARTICLE}{_CAP}){{0,2}})")
# Capitalised words that follow a cue yet are no names ("This is Urgent", "Hi There", "from Amazon").
NOT_NAMES = frozenset(
    [
        "sir",
        "madam",
        "there",
        "team",
        "all",
        "everyone",
        "guys",
        "folks",
        "again",
        "so",
        "sorry",
        "please",
        "thanks",
        "thank",
        "yes",
        "no",
        "not",
        "just",
        "still",
        "very",
        "really",
        "the",
        "a",
        "an",
        "my",
        "your",
        "our",
        "this",
        "that",
        "it",
        "its",
        "and",
        "or",
        "but",
        "again",
        "here",
        "hello",
        "hi",
        "hey",
        "dear",
        "ok",
        "okay",
        "sure",
        "great",
        "good",
        "amazon",
        "ebay",
        "paypal",
        "klarna",
        "visa",
        "mastercard",
        "amex",
        "apple",
        "google",
        "royal",
        "mail",
        "dhl",
        "ups",
        "dpd",
        "evri",
        "hermes",
        "fedex",
        "usps",
        "london",
        "manchester",
        "edinburgh",
        "glasgow",
        "bristol",
        "birmingham",
        "paris",
        "berlin",
        "dublin",
        "madrid",
        "rome",
        "new",
        "york",
        "uk",
        "us",
        "usa",
        "eu",
        "england",
        "scotland",
        "wales",
        "ireland",
        "france",
        "germany",
        "spain",
        "italy",
        "netherlands",
        "canada",
        "america",
        "europe",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "january",
        "february",
        "march",
        "april",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "christmas",
        "easter",
        "black",
        "customer",
        "support",
        "service",
        "services",
        "order",
        "orders",
        "return",
        "returns",
        "refund",
        "refunds",
        "delivery",
        "shipping",
        "tracking",
        "parcel",
        "package",
        "invoice",
        "payment",
        "card",
        "urgent",
        "important",
        "interested",
        "looking",
        "wondering",
        "waiting",
        "confused",
        "annoyed",
        "happy",
        "unhappy",
        "disappointed",
        "writing",
        "asking",
        "calling",
        "contacting",
        "trying",
        "having",
        "getting",
        "going",
        "sending",
    ]
)

# Words that are also first or last names; such a name is redacted alone only after a cue.
COMMON_WORDS = frozenset(
    [
        "brown",
        "black",
        "white",
        "green",
        "grey",
        "gray",
        "rose",
        "ruby",
        "amber",
        "jade",
        "pearl",
        "olive",
        "ivy",
        "lily",
        "daisy",
        "hazel",
        "violet",
        "scarlet",
        "hall",
        "king",
        "young",
        "long",
        "page",
        "price",
        "bell",
        "wood",
        "hill",
        "marsh",
        "rich",
        "will",
        "may",
        "june",
        "april",
        "august",
        "mark",
        "bill",
        "hope",
        "joy",
        "faith",
        "grace",
        "summer",
        "autumn",
        "sky",
        "river",
        "stone",
        "love",
        "golden",
        "silver",
        "coral",
        "honey",
        "ginger",
        "berry",
        "sage",
        "rosemary",
        "jasmine",
        "poppy",
        "clay",
        "brook",
        "dawn",
        "star",
        "lake",
        "field",
        "ford",
        "bath",
        "parker",
        "walker",
        "baker",
        "taylor",
        "turner",
        "cook",
        "mason",
    ]  # noqa: SIM905 (a word list reads better as text)
)
_NAME_WORD = re.compile(r"[^\W\d_][\w'’]*")
_CUE_BEFORE = re.compile(NAME_CUE.pattern + r"$")
_names_lock = threading.Lock()


class Redactor:
    """Finds and replaces personal data; knows the shop's customer names when given them."""

    def __init__(self, names: Iterable[str] = (), words_too: Iterable[str] = ()) -> None:
        """Build the name patterns from customer names (``"Noah Schmidt"``); empty: cue-based names only.

        Args:
            names: the customers' full names.
            words_too: words of the shop's own texts (product titles): a name part among them ("Ruby") is
                redacted alone only after a cue or next to the rest of the name.
        """
        # Sets, not one big regex: a shop with 100,000 customers costs a lookup per word, not per name.
        self._pairs: set[tuple[str, str]] = set()
        parts: set[str] = set()
        for name in names:
            words = [w.casefold() for w in _NAME_WORD.findall(name)]
            self._pairs |= set(zip(words, words[1:], strict=False))
            parts |= {w for w in words if len(w) >= 3 and w not in NOT_NAMES}
        shop_words = {w.casefold() for w in words_too}
        # A name that is also a word ("Brown" leather, the shade "Ruby") counts alone only after a cue.
        self._cue_only = {w for w in parts if w in COMMON_WORDS or w in shop_words}
        self._parts = parts - self._cue_only

    def redact(self, text: str, *, surrogate: bool = False, proof_answer: bool = False) -> str:
        """Replace personal data in ``text``.

        Args:
            text: what a customer or the bot said.
            surrogate: put realistic placeholder values (for training data) instead of ``[email]``-style labels.
            proof_answer: the message answered the proof question: every postcode reading counts, bare
                4-digit numbers too (``redact_proof_answer``).

        Returns:
            The text with every email, phone, card and tracking number, address, postcode and name replaced.
        """
        names = SURROGATES if surrogate else LABELS
        text = text.replace("\x00", "").replace("\x01", "")
        kept: list[str] = []

        def keep(match: re.Match[str]) -> str:
            kept.append(match.group(0))
            return f"\x01{len(kept) - 1}\x01"

        def mark(kind: str) -> Callable[[re.Match[str]], str]:
            return _MARKS[kind]

        text = ORDER_OR_RMA.sub(keep, text)
        if "@" in text:
            text = EMAIL.sub(mark("email"), text)
        if _AT_WORD.search(text):
            text = SPELLED_EMAIL.sub(_spelled_email, text)
        # Every other kind but a street named before its number holds a digit: most chat lines have none.
        if _DIGIT.search(_KEEP.sub("", text)):
            text = TRACKING.sub(mark("tracking"), text)
            text = IBAN.sub(mark("bank"), text)
            text = SORT_CODE_ACCOUNT.sub(mark("bank"), text)
            text = GROUPED_CARD.sub(mark("card"), text)
            text = CARD.sub(_card, text)
            text = ZIP_PLUS4.sub(mark("postcode"), text)  # before phones: 94103-1234 is a "valid" phone number too
            text = _phones(text)
            text = PHONE_FALLBACK.sub(_phone_fallback, text)
            text = LONG_NUMBER.sub(mark("tracking"), text)
            text = FLAT_OR_BOX.sub(mark("street"), text)
            text = STREET.sub(mark("street"), text)
            text = STREET_TYPE_FIRST.sub(_street_type_first, text)
            text = GERMANIC_STREET.sub(mark("street"), text)
            for pattern in (UK_POSTCODE, EIRCODE, CANADIAN_POSTCODE, DUTCH_POSTCODE, FIVE_DIGITS):
                text = pattern.sub(mark("postcode"), text)
            text = _proof_postcodes(text, every=proof_answer)
        else:
            text = STREET_TYPE_FIRST.sub(_street_type_first, text)
        text = self._names(text)
        text = _MARKER.sub(lambda m: names[m.group(1)], text)
        return _KEEP.sub(lambda m: kept[int(m.group(1))], text)

    def _names(self, text: str) -> str:
        text = CUED_NAME.sub(_cued_name, text)
        if not (self._pairs or self._parts or self._cue_only):
            return text
        words = list(_NAME_WORD.finditer(text))
        hide = [False] * len(words)
        for i, word in enumerate(words):
            key = word.group(0).casefold()
            joined = i + 1 < len(words) and text[word.end() : words[i + 1].start()] in (" ", "-")
            if joined and (key, words[i + 1].group(0).casefold()) in self._pairs:
                hide[i] = hide[i + 1] = True  # "Noah Schmidt", "noah schmidt"
            elif hide[i]:
                continue  # the second word of a full name already found
            elif key in self._parts and word.group(0)[0].isupper():
                hide[i] = True  # "Thanks Noah", "Mr Schmidt"
            elif key in self._parts or key in self._cue_only:
                hide[i] = bool(_CUE_BEFORE.search(text, max(0, word.start() - 40), word.start()))  # "this is noah"
        for i in reversed(range(len(words))):
            if hide[i]:
                text = f"{text[: words[i].start()]}\x00name\x00{text[words[i].end() :]}"
        # "[name] [name]" (first and last found separately) is one name
        return re.sub("\x00name\x00(?:[ -]\x00name\x00)+", "\x00name\x00", text)


def _proof_postcodes(text: str, *, every: bool = False) -> str:
    """Hide whatever the bot would still accept as a postcode proof (``store.proofs.postcode_spans``).

    The patterns above cover postcodes as people usually write them; the bot is more lenient (``W1F-9XX``,
    a lone ``1012``), and anything it accepts as a proof must not reach staff: an agent could verify as the
    customer with it. Bare 4-digit readings are hidden only after a postcode cue, or as the whole message.
    """
    spans = [
        (start, end)
        for start, end, weak in postcode_spans(text)
        if (every or not weak or _POSTCODE_CUE.search(text, max(0, start - 30), start))
        # "3 items" is a lone token too; a run of four letters is a postcode only as an Irish Eircode's,
        # whose letters never include B G I J L M O Q S U Z
        and not any(_NOT_EIRCODE.search(run.group(0)) for run in _LETTER_RUN.finditer(text, start, end))
    ]
    if not spans:
        return text
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    for start, end in reversed(merged):
        text = f"{text[:start]}\x00postcode\x00{text[end:]}"
    return text


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    return "\x00card\x00" if _luhn(re.sub(r"\D", "", match.group(0))) else match.group(0)


def _spelled_email(match: re.Match[str]) -> str:
    found = match.group(0)
    # "look at it dot com" has no at-sign spelled as a separator between two address parts: require "dot"/"."
    return "\x00email\x00" if re.search(r"dot|\.", found, re.IGNORECASE) else found


def _phones(text: str) -> str:
    if not _PHONE_SHAPED.search(text):
        return (
            text  # 8+ digits in a row (spaces and brackets allowed) or no phone: libphonenumber costs ~0.4 ms a region
        )
    spans: set[tuple[int, int]] = set()
    for region in PHONE_REGIONS:
        for found in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
            spans.add((found.start, found.end))
    for start, end in sorted(spans, reverse=True):
        number = text[start:end]
        if "\x00" in number or "\x01" in number or sum(ch.isdigit() for ch in number) < 8:
            continue
        text = f"{text[:start]}\x00phone\x00{text[end:]}"
    return text


def _phone_fallback(match: re.Match[str]) -> str:
    found = match.group(0)
    digits = sum(ch.isdigit() for ch in found)
    if digits < 9 or digits > 15 or re.search(r"\d{4}-\d\d-\d\d|\d\d?/\d\d?/\d{2,4}", found):
        return found  # too short or long for a phone number, or a date
    return "\x00phone\x00"


def _street_type_first(match: re.Match[str]) -> str:
    found = match.group(0)
    # "avenue" or "place" alone in a sentence ("a place to stay") is no address: want a number or a capital
    if re.search(r"\d", found) or re.search(r"\s[A-ZÀ-Þ]", found):
        return "\x00street\x00"
    return found


def _cued_name(match: re.Match[str]) -> str:
    cue, name = match.group(1), match.group(2)
    words = re.split(r"[ -]", name)
    if words[0].lower() in NOT_NAMES:
        return match.group(0)
    kept = [w for w in words if w.lower() not in NOT_NAMES]
    if len(kept) != len(words):  # "Thanks Noah Support": redact the name, keep what follows
        first_bad = next(i for i, w in enumerate(words) if w.lower() in NOT_NAMES)
        return f"{cue}\x00name\x00 {' '.join(words[first_bad:])}"
    return f"{cue}\x00name\x00"


_default = Redactor()
_names_source: Callable[[], tuple[Iterable[str], Iterable[str]]] | None = None
_names_loaded_at = 0.0
NAMES_TTL_SECONDS = 300.0


def use_customer_names(source: Callable[[], tuple[Iterable[str], Iterable[str]]] | None) -> None:
    """Make :func:`redact` also remove the shop's customer names, re-read every ``NAMES_TTL_SECONDS``.

    Args:
        source: returns the customers' full names and the words of the shop's product titles (see
            :class:`Redactor`); called by ``console.setup`` with a reader of the order store. It must not
            raise (an unreadable store returns what it can). None forgets the names (tests).
    """
    global _names_source, _names_loaded_at, _default
    with _names_lock:
        _names_source = source
        _names_loaded_at = 0.0
        if source is None:
            _default = Redactor()


def _current() -> Redactor:
    global _names_loaded_at, _default
    if _names_source is not None and time.monotonic() - _names_loaded_at > NAMES_TTL_SECONDS:
        with _names_lock:
            if _names_source is not None and time.monotonic() - _names_loaded_at > NAMES_TTL_SECONDS:
                names, words = _names_source()
                _default = Redactor(names, words)
                _names_loaded_at = time.monotonic()
    return _default


def redact(text: str, *, surrogate: bool = False) -> str:
    """Replace personal data in ``text`` (customer names included once :func:`use_customer_names` was called).

    Args:
        text: what a customer or the bot said.
        surrogate: put realistic placeholder values (for training data) instead of ``[email]``-style labels.

    Returns:
        The redacted text.
    """
    return _current().redact(text, surrogate=surrogate)


def redact_proof_answer(text: str) -> str:
    """Redact a message that answered the proof question ("email or postcode?"): there the bot reads any bare
    4-digit number as a postcode (Australia, Belgium, Denmark...), so those are hidden too; elsewhere such a
    number is more likely a year or a quantity and stays readable."""
    return _current().redact(text, proof_answer=True)


def redact_value(value: Any) -> Any:
    """Redact every string inside a slot or entity value (lists and dicts included)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [redact_value(v) for v in value]
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    return value
