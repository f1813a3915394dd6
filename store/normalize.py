"""Pure functions turning what people type into canonical identifiers; used by the store, actions and NLU."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

__all__ = [
    "COUNTRY_NAMES",
    "ParsedAddress",
    "compact_postcode",
    "detect_postcode_country",
    "normalize_country",
    "normalize_email",
    "normalize_order_number",
    "order_number_value",
    "normalize_postcode",
    "normalize_rma",
    "parse_address",
    "parse_amount",
    "postcodes_match",
]

# ---------------------------------------------------------------------------------------------------------
# Order and RMA numbers
# ---------------------------------------------------------------------------------------------------------

# RMA numbers (and what follows "rma") are removed before looking for an order number.
_RMA_RE = re.compile(r"#?\s*\brma\s*(?:no\.?|number|nr\.?)?\s*[-#:]?\s*(\d{3}\s?\d{3,4})(?!\d)", re.IGNORECASE)
# A prefix that says "this is an order number": ord / order (no. / number / is) and/or '#'.
_ORDER_PREFIXED_RE = re.compile(
    r"(?:\bord(?:er)?(?:\s*(?:no|nr|num|number|id|ref|reference)\b)?\.?\s*(?:(?:is|was|=)\s*)?(?:[#:\-]\s*)*"
    r"|#\s*)"
    r"(\d(?: \d){5}(?![ \-]?\d)|\d{3}[ \-]?\d{3,4}|\d{6,7})(?![\d\w])",
    re.IGNORECASE,
)
# A bare 6-digit number standing on its own (not part of a phone number, price, code or longer number), or dictated
# digit by digit ("3 0 5 6 6 1").
_BARE_SIX_RE = re.compile(r"(?<![\w\-+#/.,£$€])(\d{6}|\d(?: \d){5})(?![\w\-/%]|[.,]\d)")
# Six digits named as a postcode, or right after a country whose postcodes have six digits ("Singapore 520211",
# "pin code 560001"), are a postcode, not an order number (nlu_data/nlu/regex.yml holds the same list).
_SIX_DIGIT_POSTCODE_CUE = re.compile(
    r"\b(?:post\s?code|zip(?:\s?code)?|pin(?:\s?code)?|singapore|india|china|russia|nigeria|vietnam|romania|"
    r"kazakhstan|belarus)(?:\s+(?:is|was))?[\s,:]*$",
    re.IGNORECASE,
)
_DIGIT_NEIGHBOUR_BEFORE = re.compile(r"\d[\s\-]?$")
_DIGIT_NEIGHBOUR_AFTER = re.compile(r"^[\s\-]?\d")


def _canonical_order_digits(digits: str) -> str | None:
    """Collapse separators and leading zeros; accept exactly six digits not starting with 0."""
    compact = re.sub(r"[\s\-]", "", digits).lstrip("0")
    if len(compact) == 6 and compact.isdigit():
        return compact
    return None


def normalize_order_number(text: str | None) -> str | None:
    """Find an order number anywhere in free text.

    Accepts ``100234``, ``#100234``, ``ord100234``, ``ORD-0100234``, ``order no. 100 234``,
    ``Ord #100234`` and ``my order is # 100234 thanks``. RMA numbers (``RMA-500123``), phone
    numbers, postcodes and prices are not taken for order numbers.

    Args:
        text: What the person typed.

    Returns:
        The canonical ``ORD-100234`` form, or None when the text holds no order number.
    """
    if not text:
        return None
    cleaned = _RMA_RE.sub(" ", text)
    for match in _ORDER_PREFIXED_RE.finditer(cleaned):
        digits = _canonical_order_digits(match.group(1))
        if digits:
            return f"ORD-{digits}"
    for match in _BARE_SIX_RE.finditer(cleaned):
        before, after = cleaned[: match.start()], cleaned[match.end() :]
        if _DIGIT_NEIGHBOUR_BEFORE.search(before) or _DIGIT_NEIGHBOUR_AFTER.search(after):
            continue  # part of a phone number or a longer grouped number
        if match.group(1).startswith("0") or _SIX_DIGIT_POSTCODE_CUE.search(before):
            continue
        return f"ORD-{match.group(1).replace(' ', '')}"
    return None


# The shop's order-number shape on its own: "ORD-100234" (any case, "-" or a space optional, leading zeros).
_ORDER_VALUE_RE = re.compile(r"ORD[\s\-]?0*([1-9]\d{5})", re.IGNORECASE)


def order_number_value(value: object) -> str | None:
    """``value`` as a canonical order number when it is exactly one, else None.

    Unlike :func:`normalize_order_number` nothing is searched for: free text that merely contains an order
    number ("it was ORD-100234, my email is ...") is not one. For places that must only ever hold order
    numbers (the support console's orders field and filter), whatever a slot ended up holding.

    Args:
        value: a slot value, a filter, anything.

    Returns:
        ``ORD-100234``, or None (not a string, or not an order number on its own).
    """
    if not isinstance(value, str) or len(value) > 32:
        return None
    match = _ORDER_VALUE_RE.fullmatch(value.strip())
    return f"ORD-{match.group(1)}" if match else None


_RMA_FIND_RE = re.compile(r"\brma\s*(?:no\.?|number|nr\.?)?\s*[-#:]?\s*(\d{3})\s?(\d{3})(?!\d)", re.IGNORECASE)


def normalize_rma(text: str | None) -> str | None:
    """Find an RMA (return) number in free text.

    Accepts ``rma 500123``, ``RMA500123``, ``#RMA-500123``, ``RMA no. 500 123``.

    Args:
        text: What the person typed.

    Returns:
        The canonical ``RMA-500123`` form, or None.
    """
    if not text:
        return None
    match = _RMA_FIND_RE.search(text)
    if not match:
        return None
    return f"RMA-{match.group(1)}{match.group(2)}"


# ---------------------------------------------------------------------------------------------------------
# E-mail
# ---------------------------------------------------------------------------------------------------------

_EMAIL_RE = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+")


def normalize_email(text: str | None) -> str | None:
    """Find an e-mail address in free text and lower-case it.

    Args:
        text: What the person typed (``"it's Jane.Doe@Example.com thanks"``).

    Returns:
        The address in lower case (``jane.doe@example.com``), or None.
    """
    if not text:
        return None
    match = _EMAIL_RE.search(text.replace("mailto:", " "))
    if not match:
        return None
    email = match.group(0).rstrip(".-").lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or ".." in email:
        return None
    return email


# ---------------------------------------------------------------------------------------------------------
# Countries
# ---------------------------------------------------------------------------------------------------------

#: Canonical English names of the countries the store knows (ISO 3166-1 alpha-2 -> name).
COUNTRY_NAMES: dict[str, str] = {
    "GB": "United Kingdom",
    "IE": "Ireland",
    "DE": "Germany",
    "FR": "France",
    "NL": "Netherlands",
    "BE": "Belgium",
    "LU": "Luxembourg",
    "ES": "Spain",
    "PT": "Portugal",
    "IT": "Italy",
    "AT": "Austria",
    "DK": "Denmark",
    "SE": "Sweden",
    "FI": "Finland",
    "PL": "Poland",
    "CZ": "Czechia",
    "SK": "Slovakia",
    "HU": "Hungary",
    "SI": "Slovenia",
    "HR": "Croatia",
    "RO": "Romania",
    "BG": "Bulgaria",
    "GR": "Greece",
    "CY": "Cyprus",
    "MT": "Malta",
    "EE": "Estonia",
    "LV": "Latvia",
    "LT": "Lithuania",
    "US": "United States",
    "CA": "Canada",
    "AU": "Australia",
    "NZ": "New Zealand",
    "JP": "Japan",
    "CN": "China",
    "HK": "Hong Kong",
    "SG": "Singapore",
    "KR": "South Korea",
    "IN": "India",
    "AE": "United Arab Emirates",
    "SA": "Saudi Arabia",
    "IL": "Israel",
    "TR": "Turkey",
    "ZA": "South Africa",
    "NG": "Nigeria",
    "KE": "Kenya",
    "EG": "Egypt",
    "MA": "Morocco",
    "BR": "Brazil",
    "MX": "Mexico",
    "AR": "Argentina",
    "CL": "Chile",
    "CO": "Colombia",
    "NO": "Norway",
    "CH": "Switzerland",
    "IS": "Iceland",
    "UA": "Ukraine",
    "RS": "Serbia",
    "TH": "Thailand",
    "MY": "Malaysia",
    "ID": "Indonesia",
    "PH": "Philippines",
    "VN": "Vietnam",
    "TW": "Taiwan",
    "QA": "Qatar",
    "KW": "Kuwait",
    "PK": "Pakistan",
    "BD": "Bangladesh",
    "JE": "Jersey",
    "GG": "Guernsey",
    "IM": "Isle of Man",
    "GI": "Gibraltar",
}

_COUNTRY_ALIASES: dict[str, str] = {
    # United Kingdom
    "uk": "GB",
    "u.k.": "GB",
    "u.k": "GB",
    "gb": "GB",
    "gbr": "GB",
    "great britain": "GB",
    "britain": "GB",
    "united kingdom": "GB",
    "the uk": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "blighty": "GB",
    # Ireland
    "ireland": "IE",
    "republic of ireland": "IE",
    "eire": "IE",
    "éire": "IE",
    "irish republic": "IE",
    # Europe, local names and common aliases
    "germany": "DE",
    "deutschland": "DE",
    "allemagne": "DE",
    "france": "FR",
    "netherlands": "NL",
    "the netherlands": "NL",
    "holland": "NL",
    "nederland": "NL",
    "belgium": "BE",
    "belgie": "BE",
    "belgique": "BE",
    "luxembourg": "LU",
    "spain": "ES",
    "espana": "ES",
    "españa": "ES",
    "portugal": "PT",
    "italy": "IT",
    "italia": "IT",
    "austria": "AT",
    "österreich": "AT",
    "osterreich": "AT",
    "denmark": "DK",
    "danmark": "DK",
    "sweden": "SE",
    "sverige": "SE",
    "finland": "FI",
    "suomi": "FI",
    "poland": "PL",
    "polska": "PL",
    "czechia": "CZ",
    "czech republic": "CZ",
    "slovakia": "SK",
    "hungary": "HU",
    "slovenia": "SI",
    "croatia": "HR",
    "romania": "RO",
    "bulgaria": "BG",
    "greece": "GR",
    "cyprus": "CY",
    "malta": "MT",
    "estonia": "EE",
    "latvia": "LV",
    "lithuania": "LT",
    "norway": "NO",
    "norge": "NO",
    "switzerland": "CH",
    "schweiz": "CH",
    "suisse": "CH",
    "iceland": "IS",
    "ukraine": "UA",
    "serbia": "RS",
    "turkey": "TR",
    "türkiye": "TR",
    "turkiye": "TR",
    # North America
    "usa": "US",
    "u.s.a.": "US",
    "u.s.a": "US",
    "u.s.": "US",
    "us": "US",
    "united states": "US",
    "united states of america": "US",
    "america": "US",
    "the states": "US",
    "the us": "US",
    "the usa": "US",
    "canada": "CA",
    "mexico": "MX",
    # Rest of the world
    "australia": "AU",
    "oz": "AU",
    "new zealand": "NZ",
    "nz": "NZ",
    "japan": "JP",
    "china": "CN",
    "hong kong": "HK",
    "singapore": "SG",
    "south korea": "KR",
    "korea": "KR",
    "india": "IN",
    "uae": "AE",
    "united arab emirates": "AE",
    "dubai": "AE",
    "saudi arabia": "SA",
    "israel": "IL",
    "south africa": "ZA",
    "nigeria": "NG",
    "kenya": "KE",
    "egypt": "EG",
    "morocco": "MA",
    "brazil": "BR",
    "brasil": "BR",
    "argentina": "AR",
    "chile": "CL",
    "colombia": "CO",
    "thailand": "TH",
    "malaysia": "MY",
    "indonesia": "ID",
    "philippines": "PH",
    "vietnam": "VN",
    "taiwan": "TW",
    "qatar": "QA",
    "kuwait": "KW",
    "pakistan": "PK",
    "bangladesh": "BD",
    "jersey": "JE",
    "guernsey": "GG",
    "isle of man": "IM",
    "gibraltar": "GI",
}
# Two-letter codes that are also common English words are accepted only when they are the whole text.
_AMBIGUOUS_CODES = {"IN", "IT", "IS", "NO", "ME", "AT", "BE", "TO", "AM", "AS", "OR", "US", "ID", "MY", "OZ"}


def _fold(text: str) -> str:
    """Lower-case and strip accents so ``Éire`` and ``eire`` compare equal."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


_FOLDED_ALIASES: dict[str, str] = {_fold(k): v for k, v in _COUNTRY_ALIASES.items()}
_FOLDED_ALIASES.update({_fold(name): code for code, name in COUNTRY_NAMES.items()})
_ALIAS_SEARCH = sorted(
    (alias for alias in _FOLDED_ALIASES if len(alias) > 3 or alias in {"usa", "uae", "uk"}),
    key=len,
    reverse=True,
)
_ALIAS_RES = [(re.compile(rf"(?<![\w.]){re.escape(alias)}(?![\w])"), alias) for alias in _ALIAS_SEARCH]


def normalize_country(text: str | None) -> str | None:
    """Map a country name, alias or code to its ISO 3166-1 alpha-2 code.

    Accepts names (``Germany``), local names (``Deutschland``), aliases (``UK``, ``England``,
    ``Britain``, ``USA``, ``America``, ``Holland``) and codes (``de``), alone or inside a short phrase
    (``"shipping to the Netherlands?"``).

    Args:
        text: What the person typed.

    Returns:
        The alpha-2 code (``GB`` for the United Kingdom), or None when no country is recognised.
    """
    if not text:
        return None
    folded = _fold(text).strip().strip("?!.,;:").strip()
    if not folded:
        return None
    if folded in _FOLDED_ALIASES:
        return _FOLDED_ALIASES[folded]
    upper = folded.upper()
    if len(upper) == 2 and upper.isalpha() and upper in COUNTRY_NAMES:
        # "in", "it", "no" typed in lower case are words, not India/Italy/Norway.
        if upper in _AMBIGUOUS_CODES and text.strip().strip("?!.,;:").strip() != upper:
            return None
        return upper
    if upper == "UK":
        return "GB"
    for regex, alias in _ALIAS_RES:
        if regex.search(folded):
            return _FOLDED_ALIASES[alias]
    # A standalone upper-case code inside a phrase ("ship to DE?"), except codes that are English words.
    for match in re.finditer(r"\b[A-Z]{2}\b", text):
        code = match.group(0)
        if code == "UK":
            return "GB"
        if code in COUNTRY_NAMES and code not in _AMBIGUOUS_CODES:
            return code
    return None


# ---------------------------------------------------------------------------------------------------------
# Postcodes
# ---------------------------------------------------------------------------------------------------------

_POSTCODE_PATTERNS: dict[str, re.Pattern[str]] = {
    "GB": re.compile(r"(?<![A-Za-z0-9])([A-Za-z]{1,2}\d[A-Za-z\d]?)\s*(\d[A-Za-z]{2})(?![A-Za-z0-9])"),
    "IE": re.compile(
        r"(?<![A-Za-z0-9])([AC-FHKNPRTV-Yac-fhknprtv-y]\d{2}|[Dd]6[Ww])\s?([0-9AC-FHKNPRTV-Yac-fhknprtv-y]{4})"
        r"(?![A-Za-z0-9])"
    ),
    "NL": re.compile(r"(?<![A-Za-z0-9])([1-9]\d{3})\s?([A-Za-z]{2})(?![A-Za-z0-9])"),
    "CA": re.compile(r"(?<![A-Za-z0-9])([A-Za-z]\d[A-Za-z])\s?(\d[A-Za-z]\d)(?![A-Za-z0-9])"),
    "US": re.compile(r"(?<![\w\-])(\d{5})(?:-\d{4})?(?![\w\-])"),
    "DE": re.compile(r"(?<![\w\-])(\d{5})(?![\w\-])"),
    "FR": re.compile(r"(?<![\w\-])(\d{5})(?![\w\-])"),
    "ES": re.compile(r"(?<![\w\-])(\d{5})(?![\w\-])"),
    "IT": re.compile(r"(?<![\w\-])(\d{5})(?![\w\-])"),
    "AU": re.compile(r"(?<![\w\-])(\d{4})(?![\w\-])"),
    "NZ": re.compile(r"(?<![\w\-])(\d{4})(?![\w\-])"),
    "BE": re.compile(r"(?<![\w\-])(\d{4})(?![\w\-])"),
    "AT": re.compile(r"(?<![\w\-])(\d{4})(?![\w\-])"),
    "DK": re.compile(r"(?<![\w\-])(\d{4})(?![\w\-])"),
}
# Which patterns to try, in order, when the country is not known (letter-bearing formats first).
_POSTCODE_GUESS_ORDER = ("GB", "CA", "IE", "NL", "DE", "AU")
_SPACED_FORMATS = {"GB", "IE", "NL", "CA"}


def compact_postcode(text: str) -> str:
    """Upper-case a postcode and drop spaces and dashes, the form postcodes are compared in.

    Args:
        text: A postcode.

    Returns:
        e.g. ``SW1A1AA`` for ``sw1a 1aa``.
    """
    return re.sub(r"[\s\-]", "", text).upper()


def _postcode_in(text: str, country: str) -> str | None:
    pattern = _POSTCODE_PATTERNS.get(country)
    if pattern is None:
        return None
    match = pattern.search(text)
    if not match:
        return None
    groups = [g for g in match.groups() if g]
    if country in _SPACED_FORMATS and len(groups) == 2:
        return f"{groups[0]} {groups[1]}".upper()
    return groups[0].upper()


def normalize_postcode(text: str | None, country: str | None = None) -> str | None:
    """Find a postcode in free text and format it the way the country writes it.

    Args:
        text: What the person typed (``"it's sw1a1aa"``).
        country: ISO alpha-2 code (or any text `normalize_country` understands) when known; without it
            the letter-bearing formats (UK, Canada, Ireland, Netherlands) are tried before bare digits.

    Returns:
        ``SW1A 1AA`` / ``10115`` / ``1012 AB`` / ``M5V 2T6`` / ``D02 X285``, or None when none is found.
    """
    if not text:
        return None
    code = normalize_country(country) if country else None
    if code:
        if code in _POSTCODE_PATTERNS:
            return _postcode_in(text, code)
        # Countries without a known pattern: accept a short alphanumeric token with at least one digit.
        match = re.search(r"(?<![\w])([A-Za-z0-9]{2,5}[ \-]?[A-Za-z0-9]{0,5})(?![\w])", text.strip())
        if match and any(ch.isdigit() for ch in match.group(1)):
            return match.group(1).upper()
        return None
    for guess in _POSTCODE_GUESS_ORDER:
        found = _postcode_in(text, guess)
        if found:
            return found
    return None


def detect_postcode_country(text: str | None) -> str | None:
    """Say which country a postcode unambiguously belongs to (UK, Canada, Ireland, Netherlands).

    Args:
        text: A postcode or a phrase holding one.

    Returns:
        ``GB``, ``CA``, ``IE`` or ``NL`` when the format is distinctive, otherwise None (``10115`` could be
        German, French or American).
    """
    if not text:
        return None
    for country in ("GB", "CA", "IE", "NL"):
        if _postcode_in(text, country):
            return country
    return None


def postcodes_match(a: str | None, b: str | None) -> bool:
    """Compare two postcodes ignoring spaces, dashes and case.

    Args:
        a: First postcode.
        b: Second postcode.

    Returns:
        True when both are present and equal once compacted.
    """
    if not a or not b:
        return False
    return compact_postcode(a) == compact_postcode(b)


# ---------------------------------------------------------------------------------------------------------
# Amounts
# ---------------------------------------------------------------------------------------------------------

_AMOUNT_NUMBER = r"(\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d+(?:[.,]\d{1,2})?)"
_AMOUNT_CURRENCY_BEFORE = re.compile(r"(?:£|gbp|€|eur|\$|usd)\s*" + _AMOUNT_NUMBER + r"(?![\d])", re.IGNORECASE)
_AMOUNT_CURRENCY_AFTER = re.compile(
    r"(?<![\w.,])" + _AMOUNT_NUMBER + r"\s*(?:pounds?|quid|gbp|£|euros?|eur|dollars?|usd|bucks)\b", re.IGNORECASE
)
_AMOUNT_BARE = re.compile(r"(?<![\w.,\-#])" + _AMOUNT_NUMBER + r"(?![\w%]|[.,]\d)")


def _to_decimal(raw: str) -> Decimal | None:
    thousands = re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?", raw) is not None
    raw = raw.replace(",", "") if thousands else raw.replace(",", ".")
    try:
        return Decimal(raw).quantize(Decimal("0.01"))
    except InvalidOperation:
        return None


def parse_amount(text: str | None) -> Decimal | None:
    """Find an amount of money in free text.

    Accepts ``£45``, ``45 pounds``, ``45.50``, ``under 30``, ``GBP 1,299.99``, ``£12,50``. A number
    next to a currency wins over a bare number.

    Args:
        text: What the person typed.

    Returns:
        The amount as a Decimal with two places (``Decimal("45.00")``), or None.
    """
    if not text:
        return None
    for pattern in (_AMOUNT_CURRENCY_BEFORE, _AMOUNT_CURRENCY_AFTER, _AMOUNT_BARE):
        match = pattern.search(text)
        if match:
            return _to_decimal(match.group(1))
    return None


# ---------------------------------------------------------------------------------------------------------
# Addresses
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedAddress:
    """An address split out of free text.

    Attributes:
        line: Street line(s), e.g. ``"Flat 2, 5 Baker Street"``.
        city: City or town ("" when it could not be told apart).
        postcode: Postcode in the country's format.
        country: ISO alpha-2 code.
    """

    line: str
    city: str
    postcode: str
    country: str


def parse_address(text: str | None, default_country: str | None = None) -> ParsedAddress | None:
    """Split a free-text address into street line, city, postcode and country.

    The postcode is required; the country comes from the text or ``default_country``; the city is the
    last comma-separated part left once postcode and country are removed (or the last word of a long
    single line).

    Args:
        text: e.g. ``"Flat 2, 5 Baker Street, London NW1 6XE, UK"``.
        default_country: ISO code to assume when the text names no country.

    Returns:
        The parsed address, or None when no postcode (or no country) can be found.
    """
    if not text or not text.strip():
        return None
    working = " ".join(text.replace("\n", ", ").split())
    country: str | None = None
    parts = [p.strip() for p in working.split(",") if p.strip()]
    if parts and normalize_country(parts[-1]) and not any(ch.isdigit() for ch in parts[-1]):
        country = normalize_country(parts[-1])
        parts = parts[:-1]
    else:
        tail = re.search(r"[A-Za-z .]+$", working)
        if tail:
            words = tail.group(0).split()
            for size in (3, 2, 1):
                if len(words) >= size:
                    candidate = " ".join(words[-size:])
                    found = normalize_country(candidate)
                    if found and _fold(candidate).strip(". ") in _FOLDED_ALIASES:
                        country = found
                        joined = ", ".join(parts)
                        idx = joined.rfind(candidate)
                        parts = [p.strip() for p in joined[:idx].split(",") if p.strip()]
                        break
    country = country or (normalize_country(default_country) if default_country else None)
    if country is None:
        country = detect_postcode_country(working)
    if country is None:
        return None
    joined = ", ".join(parts)
    postcode = normalize_postcode(joined, country)
    if postcode is None:
        return None
    # Remove the postcode as typed (any spacing/case) from the text.
    pc_pattern = r"\s*".join(re.escape(ch) for ch in compact_postcode(postcode))
    joined = re.sub(
        rf"(?<![A-Za-z0-9]){pc_pattern}(?:-\d{{4}})?(?![A-Za-z0-9])", " ", joined, count=1, flags=re.IGNORECASE
    )
    parts = [" ".join(p.split()) for p in joined.split(",")]
    parts = [p for p in parts if p]
    city = ""
    state = ""
    if country in {"US", "CA", "AU"} and len(parts) >= 3 and re.fullmatch(r"[A-Z]{2,3}", parts[-1]):
        state, parts = parts[-1], parts[:-1]
    if len(parts) >= 2:
        city = parts[-1]
        line = ", ".join(parts[:-1])
    elif parts:
        words = parts[0].split()
        if len(words) >= 4:
            city, line = words[-1], " ".join(words[:-1])
        else:
            line = parts[0]
    else:
        line = ""
    if state:
        city = f"{city}, {state}" if city else state
    return ParsedAddress(line=line, city=city, postcode=postcode, country=country)
