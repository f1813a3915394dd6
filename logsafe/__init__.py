"""Logs without personal data, for all three processes: installed by the gateway, the action server and rasa.

Every record any handler emits (our loggers, rasa's, Sanic's, aiohttp's) passes :func:`sanitize` first:

- emails, phone and card numbers, postcodes and street addresses in the message are replaced by labels;
- web conversation ids (bearer secrets) become a short keyed hash, so lines about one conversation still
  match each other but the id cannot be used;
- exception messages are withheld (they carry SQL parameters, request bodies, rasa's echo of a tracker):
  the traceback keeps the exception types and the code lines, which is what a bug report needs;
- a message longer than ``MAX_MESSAGE_CHARS`` is cut (a dumped tracker or body is never a log line).

``LOG_PERSONAL_DATA=true`` turns all of this off, for debugging on a machine with no customer data.
This package imports only the standard library: it runs in rasa's Python 3.10 environment too.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
import traceback
from collections.abc import Mapping
from types import TracebackType
from typing import cast

DEBUG_ENV = "LOG_PERSONAL_DATA"
MAX_MESSAGE_CHARS = 2000
_INSTALLED_ATTR = "_logsafe_original_handle"
_DONE_ATTR = "_logsafe_done"
# A per-process key: log lines of one run correlate, but the hash cannot be looked up against ids.
_KEY = secrets.token_bytes(16)

_EMAIL = re.compile(r"[\w.%+'-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){0,8}\.\w{2,24}")
_CARD = re.compile(r"(?<![\w-])\d(?:[ .-]?\d){12,18}(?![\w-])")
_PHONE = re.compile(r"(?<![\w])(?:\+|00)?\(?\d[\d ().-]{7,}\d(?![\w])")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_UK_POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b", re.IGNORECASE)
_STREET = re.compile(
    r"\b\d{1,4}[A-Za-z]?,?\s+(?:[A-Za-zÀ-ÿ'’-]+\s+){0,3}"
    r"(?:street|st|road|rd|avenue|ave|lane|ln|drive|dr|close|way|place|court|crescent|terrace|gardens|square|"
    r"hill|row|mews|parade|boulevard|blvd|walk|grove|park|strasse|straße|straat|weg|rue|calle|via)\b\.?",
    re.IGNORECASE,
)
# "web:<id>" as rasa and the gateway write sender ids, also URL-encoded in paths (web%3A...).
_WEB_ID = re.compile(r"\b(web(?::|%3A))([A-Za-z0-9_-]{8,64})\b", re.IGNORECASE)
_QUERY_ID = re.compile(r"(conversation_id=)([A-Za-z0-9_-]{8,64})")
# Exception types whose message is about the network or the file system, never about a customer.
_SAFE_EXCEPTIONS: tuple[type[BaseException], ...] = (OSError, TimeoutError)
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def personal_data_allowed(env: dict[str, str] | None = None) -> bool:
    """Whether ``LOG_PERSONAL_DATA`` asks for raw logs (``1``, ``true`` or ``yes``)."""
    value = (os.environ if env is None else env).get(DEBUG_ENV, "")
    return value.strip().lower() in ("1", "true", "yes")


def pseudonym(conversation_id: str) -> str:
    """A short keyed hash of a conversation id, the same for the life of the process."""
    return "#" + hashlib.blake2b(conversation_id.encode(), key=_KEY, digest_size=5).hexdigest()


def scrub(text: str) -> str:
    """Replace personal data and bearer conversation ids in one piece of text.

    Args:
        text: a log message (or any text bound for a log).

    Returns:
        The text with ``[email]``, ``[card]``, ``[phone]``, ``[postcode]``, ``[address]`` and hashed web ids.
    """
    cut = ""
    if len(text) > MAX_MESSAGE_CHARS:  # cut first: the patterns below must never see a 100 kB dump
        text, cut = text[:MAX_MESSAGE_CHARS], f" [... {len(text) - MAX_MESSAGE_CHARS} more characters not logged]"
    text = _WEB_ID.sub(lambda m: m.group(1) + pseudonym(m.group(2)), text)
    text = _QUERY_ID.sub(lambda m: m.group(1) + pseudonym(m.group(2)), text)
    text = _EMAIL.sub("[email]", text)
    text = _CARD.sub(lambda m: "[card]" if _luhn(re.sub(r"\D", "", m.group(0))) else m.group(0), text)
    text = _PHONE.sub(_phone, text)
    text = _STREET.sub("[address]", text)
    text = _UK_POSTCODE.sub("[postcode]", text)
    return text + cut


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _phone(match: re.Match[str]) -> str:
    found = match.group(0)
    if sum(c.isdigit() for c in found) < 9 or _DATE.search(found):
        return found  # a short number, or a date and time ("2026-12-07 01"), not a phone number
    return "[phone]"


def describe_exception(exc: BaseException) -> str:
    """``Type: message`` for network and OS errors (scrubbed), ``Type: (message withheld)`` for the rest."""
    name = f"{type(exc).__module__}.{type(exc).__qualname__}".removeprefix("builtins.")
    if isinstance(exc, _SAFE_EXCEPTIONS):
        return f"{name}: {scrub(str(exc))}"
    shown = str(exc)
    if not shown:
        return name
    return f"{name}: (message withheld, {len(shown)} characters; {DEBUG_ENV}=true logs it)"


def format_exception(exc: BaseException) -> str:
    """A traceback with each chained exception's frames and type, and messages only per describe_exception."""
    chain: list[tuple[BaseException, str]] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    link = ""
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append((current, link))
        if current.__cause__ is not None:
            current, link = current.__cause__, "The above exception was the direct cause of the following exception:"
        elif current.__context__ is not None and not current.__suppress_context__:
            current, link = current.__context__, "During handling of the above exception, another exception occurred:"
        else:
            current = None
    parts: list[str] = []
    for index, (item, _link) in enumerate(reversed(chain)):
        if index:
            parts.append(f"\n{chain[len(chain) - index][1]}\n\n")
        tb: TracebackType | None = item.__traceback__
        if tb is not None:
            parts.append("Traceback (most recent call last):\n")
            parts.extend(traceback.format_tb(tb))
        parts.append(describe_exception(item) + "\n")
    return "".join(parts).rstrip("\n")


def sanitize(record: logging.LogRecord) -> logging.LogRecord:
    """Make ``record`` safe to write (in place, once): message, arguments, extras and exception.

    Args:
        record: a record about to be emitted.

    Returns:
        The same record.
    """
    if getattr(record, _DONE_ATTR, False):
        return record
    try:
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            shown = tuple(describe_exception(a) if isinstance(a, BaseException) else a for a in args)
            # a lone mapping argument is never an exception: it is passed on as it came
            record.args = shown if isinstance(record.args, tuple) else cast("Mapping[str, object]", shown[0])
        message = record.getMessage()
    except Exception:  # a broken format string: log what we can rather than nothing
        message = f"{record.msg!s} (arguments not shown)"
    record.msg, record.args = scrub(message), ()
    if record.exc_info and record.exc_info[1] is not None:
        record.exc_text = format_exception(record.exc_info[1])
        record.exc_info = None
    elif record.exc_text:
        record.exc_text = scrub(record.exc_text)
    for key, value in list(vars(record).items()):
        if key not in _STANDARD_ATTRS and isinstance(value, str):
            setattr(record, key, scrub(value))
        elif key not in _STANDARD_ATTRS and not isinstance(value, (int, float, bool, type(None))):
            setattr(record, key, scrub(str(value)))  # Sanic's access log passes the request object itself
    setattr(record, _DONE_ATTR, True)
    return record


def install(*, allow_personal_data: bool | None = None) -> bool:
    """Sanitize every record every handler of this process emits, from now on.

    ``logging.Handler.handle`` is wrapped once, so handlers configured later (rasa's, Sanic's, a file
    handler from ``--log-file``) are covered too, as are loggers that do not propagate to the root.

    Args:
        allow_personal_data: override ``LOG_PERSONAL_DATA`` (tests).

    Returns:
        Whether sanitizing is on (False when personal data is allowed).
    """
    allowed = personal_data_allowed() if allow_personal_data is None else allow_personal_data
    original = getattr(logging.Handler, _INSTALLED_ATTR, None)
    if allowed:
        if original is not None:
            logging.Handler.handle = original  # type: ignore[method-assign]
            delattr(logging.Handler, _INSTALLED_ATTR)
        return False
    if original is not None:
        return True
    original = logging.Handler.handle

    def handle(self: logging.Handler, record: logging.LogRecord) -> bool:  # the record itself from Python 3.12
        return original(self, sanitize(record))

    setattr(logging.Handler, _INSTALLED_ATTR, original)
    logging.Handler.handle = handle  # type: ignore[method-assign]
    return True


__all__ = ["DEBUG_ENV", "describe_exception", "format_exception", "install", "pseudonym", "sanitize", "scrub"]
