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
# A flat number alone identifies no one ("typo in my address, its flat 3 not flat 8"); it is part of an
# address when the rest follows ("Flat 3, 18 Queen Street"), after an address cue, or as the whole message.
_ADDRESS_CUE = re.compile(
    r"(?i:\b(?:live at|living at|lives at|deliver(?:ed)? to|delivery to|send (?:it )?to|sent to|ship (?:it )?to|"
    r"shipped to|address is|address:|go to|redirect (?:it |my parcel )?to|moved to)\s*)$"
)
_ADDRESS_AFTER = re.compile(r",?\s+(?:\d|\x00street\x00|[A-ZÀ-Þ][a-zà-ÿ]+)")
# Any separator the bot's proof reader forgives (dash, dot, slash, underscore) as well as spaces: W1F-9XX.
UK_POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?[\s.\-‐-―_/]{0,3}\d[A-Z]{2}\b", re.IGNORECASE)
_LETTER_RUN = re.compile(r"[^\W\d_]{4,}")
_NOT_EIRCODE = re.compile(r"[^0-9AC-FHKNPRTV-Y]", re.IGNORECASE)
_POSTCODE_CUE = re.compile(r"(?i:post\s?code|zip|postal|plz|code postal|cp|postleitzahl)\b[^\n]{0,20}$")
# Words that may stand around a value in a message that is only that value ("it's 31300 thanks"): such a
# message is the answer to a question, so an ambiguous value in it (a bare number) is a proof.
# "my zip code is wrong on the order, it should be 94103": a postcode word earlier in the same message.
_CUE_IN_SENTENCE = re.compile(r"(?i:\b(?:post\s?code|zip|postal code|plz|postleitzahl|code postal)\b)[^?!\n]{0,80}$")
_FILLER = frozenset(
    [
        "it",
        "it's",
        "its",
        "it’s",
        "is",
        "my",
        "the",
        "postcode",
        "post",
        "code",
        "zip",
        "postal",
        "plz",
        "thanks",
        "thank",
        "you",
        "ta",
        "ok",
        "okay",
        "here",
        "yes",
        "yeah",
        "sure",
        "please",
        "that",
        "this",
        "er",
        "um",
        "uh",
        "and",
        "i",
        "think",
        "so",
        "oh",
        "sorry",
        "hi",
        "hello",
        "hey",
    ]
)
_FILLER_WORD = re.compile(r"[^\W\d_][\w'’]*|\d+")
# A bare number next to a town is an address's postcode ("75008 Paris", "Toulouse 31300"); next to an
# identifier word it is a reference ("Order 55821", "Invoice 30214").
_TOWN_AFTER = re.compile(r"\s*,?\s*(?:in\s+)?[A-ZÀ-Þ][a-zà-ÿ]{2,}")
_TOWN_BEFORE = re.compile(r"(?:[A-ZÀ-Þ][a-zà-ÿ]{2,}|\b[A-Z]{2}|\x00street\x00),?\s*$")  # "Paris", "CA", "[address],"
# "how much is shipping to 90210": a number a parcel is sent to.
_SENT_TO = re.compile(r"(?i:\b(?:ship\w*|deliver\w*|send|sent|post(?:age)?|courier)\b[^.!?\n]{0,30}\b(?:to|in)\s+)$")
_REFERENCE_WORDS = frozenset(
    [
        "order",
        "invoice",
        "bill",
        "receipt",
        "ref",
        "reference",
        "number",
        "no",
        "item",
        "items",
        "code",
        "ticket",
        "account",
        "page",
        "room",
        "table",
        "version",
        "model",
        "sku",
    ]
)
EIRCODE = re.compile(r"\b(?:[AC-FHKNPRTV-Y]\d{2}|D6W)\s?[0-9AC-FHKNPRTV-Y]{4}\b", re.IGNORECASE)
CANADIAN_POSTCODE = re.compile(r"\b[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z]\s?\d[ABCEGHJ-NPRSTV-Z]\d\b", re.IGNORECASE)
DUTCH_POSTCODE = re.compile(r"\b[1-9]\d{3}\s?(?!SS|SA|SD)[A-Z]{2}\b")
ZIP_PLUS4 = re.compile(r"\b\d{5}-\d{4}\b")
# Five digits alone: a French/German/Spanish/Italian/US postcode, unless it is money, part of a longer number,
# or follows "#"/"no."/"x" (then it is more likely a quantity or a reference).
FIVE_DIGITS = re.compile(r"(?<![\w£$€#.,/:-])(?<!no\. )(?<!No\. )\d{5}(?![\w,.]?\d)(?![\w%])")
# An order number next to a value makes the message a proof attempt ("ORD-100119 31300").
_ORDER_NUMBER = re.compile(r"^(?:ORD|#|\d)", re.IGNORECASE)
# A one-token message in a postcode format the patterns know (else it is a postcode only as a proof).
_KNOWN_POSTCODE = re.compile(
    "|".join(p.pattern for p in (UK_POSTCODE, EIRCODE, CANADIAN_POSTCODE, DUTCH_POSTCODE, ZIP_PLUS4)) + r"|\d{4,5}",
    re.IGNORECASE,
)

# Who a name follows: a cue, then one to three capitalised words. Sentence-initial capitals need no cue only
# when the word is a known customer name.
NAME_CUE = re.compile(
    r"(?i:\b(?:my name is|my name's|name is|name's|call me|this is|i am|i'm|im|it's|its|signed|regards|"
    r"kind regards|best wishes|yours faithfully|yours sincerely|yours truly|best|many thanks|thanks|thank you|thx|"
    r"cheers|hi|hello|hey|dear|billed to|bill to|invoice to|made out to|under the name|name on the order is|"
    r"addressed to|in the name of|name on the card is|cardholder|card holder|recipient|attn|c/o)\b[,:]?\s+)"
)
_CAP = r"[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿ][a-zà-öø-ÿ'’-]{0,30}"
_TITLE = r"(?:(?i:mr|mrs|ms|miss|mx|dr)\.?\s+)?"
_PARTICLE = r"(?:(?:van|von|de|der|da|di|le|la|el|al|bin|ibn|o')[ -]?)?"
CUED_NAME = re.compile(rf"({NAME_CUE.pattern}{_TITLE})({_CAP}(?:[ -]{_PARTICLE}{_CAP}){{0,2}})")
# A title says the next capitalised word is a name ("Mrs. Khan", "Dr Hughes"), with or without a cue.
TITLED_NAME = re.compile(rf"(\b(?i:mr|mrs|ms|miss|mx|dr)\.?\s+)({_CAP}(?:[ -]{_PARTICLE}{_CAP}){{0,1}})")
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
        # words that start a sentence after a greeting ("Hello, Where do I ...", "Hi, Can you ...")
        "where",
        "what",
        "whats",
        "what's",
        "which",
        "when",
        "who",
        "why",
        "how",
        "can",
        "could",
        "would",
        "will",
        "should",
        "shall",
        "may",
        "might",
        "do",
        "does",
        "did",
        "is",
        "are",
        "was",
        "were",
        "has",
        "have",
        "had",
        "i",
        "i'm",
        "we",
        "you",
        "they",
        "he",
        "she",
        "is",
        "nothing",
        "something",
        "anything",
        "cheers",
        "disconnect",
        "remove",
        "turn",
        "suggest",
        "need",
        "want",
        "help",
        "any",
        "morning",
        "afternoon",
        "evening",
        "bye",
        "goodbye",
        "welcome",
        "in",
        "for",
        "to",
        "of",
        "on",
        "at",
        "with",
        "from",
        "about",
        "if",
        "when",
        "as",
        "one",
        "some",
        "quick",
        "question",
        "free",
        "return",
        "cancel",
        "change",
        "send",
        "tell",
        "show",
        "let",
        "give",
        "get",
        "see",
        "check",
        "resume",
        "stop",
        "start",
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
_STREET_WORDS = frozenset(_SUFFIXES.split("|"))
_NAME_WORD = re.compile(r"[^\W\d_][\w'’]*")
_CUE_BEFORE = re.compile(NAME_CUE.pattern + r"$")
_TITLE_BEFORE = re.compile(r"(?i:\b(?:mr|mrs|ms|miss|mx|dr)\.?\s+)$")
# "Noah here, where is my parcel": a customer's name that opens the message introduces the writer.
_GREETING_ONLY = re.compile(r"\s*(?:(?i:hi|hello|hey)[,!]?\s*)?")
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
            text = FLAT_OR_BOX.sub(_flat_or_box, text)
            text = STREET.sub(mark("street"), text)
            text = STREET_TYPE_FIRST.sub(_street_type_first, text)
            text = GERMANIC_STREET.sub(mark("street"), text)
            for pattern in (UK_POSTCODE, EIRCODE, CANADIAN_POSTCODE, DUTCH_POSTCODE):
                text = pattern.sub(mark("postcode"), text)
            # Values that read as a proof only in context (a bare number, an unknown one-token format): the
            # answer to the proof question, or a message that names an order as well, is a proof attempt.
            proof = proof_answer or any(_ORDER_NUMBER.match(k) for k in kept)
            text = FIVE_DIGITS.sub(
                lambda m: "\x00postcode\x00" if _in_proof_context(m.string, m.start(), m.end(), proof) else m.group(0),
                text,
            )
            text = _proof_postcodes(text, proof=proof, every=proof_answer)
        else:
            text = STREET_TYPE_FIRST.sub(_street_type_first, text)
        text = self._names(text)
        text = _MARKER.sub(lambda m: names[m.group(1)], text)
        return _KEEP.sub(lambda m: kept[int(m.group(1))], text)

    def _names(self, text: str) -> str:
        text = CUED_NAME.sub(_cued_name, text)
        text = TITLED_NAME.sub(_titled_name, text)
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
            elif key in self._parts or key in self._cue_only:
                # One name alone is a name only where the context says so ("Thanks Noah", "Mr Schmidt", "this
                # is noah", "[name] Brown"): "my Charlotte Tilbury order" and "John Lewis" are no one's name.
                before = text[max(0, word.start() - 40) : word.start()]
                hide[i] = bool(
                    _CUE_BEFORE.search(before)
                    or _TITLE_BEFORE.search(before)
                    or (before.endswith("\x00name\x00 ") and word.group(0)[0].isupper())
                    or (_GREETING_ONLY.fullmatch(text[: word.start()]) and text.startswith(" here", word.end()))
                    or (
                        i > 0
                        and hide[i - 1]
                        and text[words[i - 1].end() : word.start()] == " "
                        and word.group(0)[0].isupper()
                    )
                )
        for i in reversed(range(len(words))):
            if hide[i]:
                text = f"{text[: words[i].start()]}\x00name\x00{text[words[i].end() :]}"
        # "[name] [name]" (first and last found separately) is one name
        return re.sub("\x00name\x00(?:[ -]\x00name\x00)+", "\x00name\x00", text)


def _in_proof_context(text: str, start: int, end: int, proof: bool) -> bool:
    """Whether a value that is a postcode only in context (a bare number) is one here.

    It is in a proof (``proof``: the answer to the proof question, or a message naming an order too), after a
    postcode cue, in a message that is only that value ("it's 31300 thanks"), or next to a town ("75008
    Paris"); not in an ordinary sentence ("download invoice number 55821").
    """
    if proof or _POSTCODE_CUE.search(text, max(0, start - 30), start) or _CUE_IN_SENTENCE.search(text[:start]):
        return True
    around = _MARKER.sub(" ", _KEEP.sub(" ", text[:start] + " " + text[end:]))
    if all(w.casefold() in _FILLER for w in _FILLER_WORD.findall(around)):
        return True
    if not text[start:end].strip().isdigit() or len(text[start:end].strip()) < 5:
        return False
    before = text[max(0, start - 40) : start]
    previous = re.findall(r"[^\W\d_]+", before)
    if previous and previous[-1].casefold() in _REFERENCE_WORDS:
        return False
    return bool(_TOWN_AFTER.match(text, end) or _TOWN_BEFORE.search(before) or _SENT_TO.search(before))


def _proof_postcodes(text: str, *, proof: bool = False, every: bool = False) -> str:
    """Hide whatever the bot would still accept as a postcode proof (``store.proofs.postcode_spans``).

    The patterns above cover postcodes as people usually write them; the bot is more lenient (``W1F-9XX``,
    a lone ``1012``), and anything it accepts as a proof must not reach staff: an agent could verify as the
    customer with it. Readings that are proofs only in context are hidden only there (``_in_proof_context``):
    bare numbers, and a message that is one token of no known format ("xyz123"), which the bot reads as a
    postcode only when it asked for one (``every``) or the message names an order (``proof``).
    """
    lone = text.strip()
    spans = [
        (start, end)
        for start, end, weak in postcode_spans(text)
        if (
            (
                proof
                if text[start:end] == lone and not _KNOWN_POSTCODE.fullmatch(re.sub(r"[\s._/-]", "", lone))
                else True
            )
            and (
                every
                or _POSTCODE_CUE.search(text, max(0, start - 30), start)
                or (not weak and not text[start:end].strip().isdigit())
                or _in_proof_context(text, start, end, proof)
            )
        )
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


def _flat_or_box(match: re.Match[str]) -> str:
    text, found = match.string, match.group(0)
    if (
        "box" in found.lower()
        or not text[: match.start()].strip()
        and not text[match.end() :].strip(" .,!")
        or _ADDRESS_CUE.search(text, max(0, match.start() - 40), match.start())
        or _ADDRESS_AFTER.match(text, match.end())
    ):
        return "\x00street\x00"
    return found


def _titled_name(match: re.Match[str]) -> str:
    return match.group(0) if match.group(2).split()[0].lower() in NOT_NAMES else f"{match.group(1)}\x00name\x00"


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
    # "do you allow at checkout. Thanks": a full stop and a space end a sentence, they separate no address parts
    if not re.search(r"dot|\.", found, re.IGNORECASE) or re.search(r"\.\s|\s\.", found):
        return found
    return "\x00email\x00"


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
    if words[0].lower() in NOT_NAMES or any(w.lower() in _STREET_WORDS for w in words):
        return match.group(0)  # "it's Marlborough Road": a street, not a name
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


def redact_value(value: Any, *, proof: bool = False) -> Any:
    """Redact every string inside a slot or entity value (lists and dicts included).

    With ``proof`` (a postcode entity or slot), the value is read as a proof: a bare number or a one-token
    value of no known format ("xyz123") is hidden too, as the bot would accept it there.
    """
    if isinstance(value, str):
        return redact_proof_answer(value) if proof else redact(value)
    if isinstance(value, list):
        return [redact_value(v, proof=proof) for v in value]
    if isinstance(value, dict):
        return {k: redact_value(v, proof=proof) for k, v in value.items()}
    return value
