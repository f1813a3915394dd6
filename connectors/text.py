"""Cleaning what customers type before it reaches rasa; pure helpers shared by every channel."""

from __future__ import annotations

import re
import unicodedata

# Bidi embeddings/overrides/isolates can make a transcript read differently from what was sent.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_KEEP_CONTROLS = frozenset("\n\t")
_NEWLINES = re.compile(r"\r\n?")


def strip_control_characters(raw: str) -> str:
    """Remove control characters, lone surrogates and bidi overrides; normalize newlines and NFC.

    Newlines and tabs are kept. Zero-width joiners (emoji sequences) are kept.

    Args:
        raw: text as received from a channel.

    Returns:
        The cleaned text (not stripped of surrounding whitespace).
    """
    text = _NEWLINES.sub("\n", raw)
    kept = [
        ch
        for ch in text
        if ch in _KEEP_CONTROLS
        or (unicodedata.category(ch) not in ("Cc", "Cs") and ch not in _BIDI_CONTROLS)
    ]
    return unicodedata.normalize("NFC", "".join(kept))


#: Whitespace and slashes at the start of typed text, in any mix ("/ /affirm{...}" included).
_LEADING_SLASHES = re.compile(r"^[\s/]+")


def clean_typed_text(raw: str) -> str:
    """Clean text a customer typed, so it can only ever be read as natural language.

    Rasa reads a message starting with ``/`` as an intent with entities
    (``/inform{"order_number": ...}``), which would let typed text set slots directly.
    Typed text therefore loses every leading slash, also behind spaces (``"/ /affirm{...}"``);
    buttons send payloads separately (and the dispatcher checks those were offered).

    Args:
        raw: text as received from a channel.

    Returns:
        The cleaned, stripped text; may be empty.
    """
    return _LEADING_SLASHES.sub("", strip_control_characters(raw)).strip()


def clean_payload(raw: str) -> str:
    """Clean a button payload: control characters removed, surrounding whitespace stripped.

    Args:
        raw: payload as received from a channel.

    Returns:
        The cleaned payload; may be empty.
    """
    return strip_control_characters(raw).strip()
