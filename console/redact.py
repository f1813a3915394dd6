"""Redaction of personal data (emails, phone numbers, card numbers, street addresses) for viewers without raw access."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# 13-19 digits with optional single spaces or dashes; only Luhn-valid runs count as card numbers.
CARD = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])")
# Phone numbers start with a country code or a trunk 0 (tracking numbers and order numbers do not).
PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[ -]?(?:\(0\)[ -]?)?|\(?0)\d[\d ()-]{6,14}\d(?!\w)")
_SUFFIXES = (
    "street|st|road|rd|avenue|ave|lane|ln|drive|dr|close|way|place|pl|court|ct|crescent|terrace|gardens|"
    "square|sq|hill|row|mews|parade|boulevard|blvd|walk|grove|park|strasse|straße|straat|weg|rue|calle|via"
)
STREET = re.compile(
    rf"\b\d{{1,4}}[A-Za-z]?,?\s+(?:[A-Za-z'’-]+\s+){{0,3}}(?:{_SUFFIXES})\b\.?",
    re.IGNORECASE,
)
UK_POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b", re.IGNORECASE)

LABELS = {
    "card": "[card number]",
    "email": "[email]",
    "phone": "[phone]",
    "street": "[address]",
    "postcode": "[postcode]",
}
# Exports replace personal data with harmless values of the same kind, so examples stay valid training data.
SURROGATES = {
    "card": "4000 0000 0000 0002",
    "email": "customer@example.com",
    "phone": "07700 900000",
    "street": "1 High Street",
    "postcode": "SW1A 1AA",
}


_MARKER = re.compile("\x00(card|email|phone|street|postcode)\x00")


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def redact(text: str, *, surrogate: bool = False) -> str:
    """Replace personal data in ``text``.

    Args:
        text: what a customer or the bot said.
        surrogate: put realistic placeholder values (for training data) instead of ``[email]``-style labels.

    Returns:
        The text with every email, card number, phone number, street address and UK postcode replaced.
    """
    names = SURROGATES if surrogate else LABELS

    # Each pass leaves a marker no later pattern can match, so replacements are never redacted again.
    def card(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group(0))
        return "\x00card\x00" if _luhn(digits) else match.group(0)

    def phone(match: re.Match[str]) -> str:
        return "\x00phone\x00" if len(re.sub(r"\D", "", match.group(0))) >= 9 else match.group(0)

    def fixed(kind: str) -> Callable[[re.Match[str]], str]:
        return lambda _m: f"\x00{kind}\x00"

    text = text.replace("\x00", "")
    text = EMAIL.sub(fixed("email"), text)
    text = CARD.sub(card, text)
    text = PHONE.sub(phone, text)
    text = STREET.sub(fixed("street"), text)
    text = UK_POSTCODE.sub(fixed("postcode"), text)
    return _MARKER.sub(lambda m: names[m.group(1)], text)


def redact_value(value: Any) -> Any:
    """Redact every string inside a slot or entity value (lists and dicts included)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [redact_value(v) for v in value]
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    return value
