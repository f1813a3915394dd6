"""What counts as one proof of owning an order, and when failed proofs pause checks; used by `OrderStore.verify`.

A proof is one e-mail address or one postcode. Whatever a customer types is read into *candidates*
(every e-mail address and every postcode-shaped token, in any format the shop knows); a message with none
is not an attempt at all, and a message with several is never checked against the order (so one message
is at most one guess, however many values it lists).

Failed proofs are counted in the store (``verification_attempts``), so counts survive new conversation ids
and restarts, per order number, per source (the web client's address, a tablet, a Telegram or Slack user, as
the gateway vouches for it) and per proof value: someone who knows only a customer's e-mail and tries it
against every order number fails once per order, from as many sources as they like, but always with the
same e-mail. That value is stored only as a keyed hash (`ProofHasher`, ``SHOP_PROOF_KEY``), never as typed.
Past a number of free failures, checks of that order number (or from that source, or with that proof) pause,
and every further failure doubles the pause (`pause_until`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

from pydantic import BeforeValidator, Field

from envsettings import EnvSettings
from store.normalize import (
    _POSTCODE_PATTERNS,
    compact_postcode,
    normalize_email,
    normalize_order_number,
    normalize_rma,
)

log = logging.getLogger(__name__)

#: The source key used when the caller could not say where a proof came from (an unsigned or missing
#: gateway claim). Everything unattributed shares this one count, so bypassing the gateway buys nothing.
UNATTRIBUTED_SOURCE = "unattributed"
#: Attempt outcomes stored in ``verification_attempts.outcome``.
PENDING, MATCHED, FAILED, PAUSED = "pending", "matched", "failed", "paused"
#: Outcomes that count as failed proofs (a pending attempt counts until it is decided, so a burst of
#: concurrent guesses cannot all slip under the threshold).
COUNTED = (PENDING, FAILED)

_EMAIL_FIND = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+"
)
# Bare four-digit numbers are postcodes in a few countries (AU, BE, AT, DK) but also house numbers; they
# count as a candidate only when the message holds no other postcode.
_WEAK_COUNTRIES = frozenset({"AU", "NZ", "BE", "AT", "DK"})
# A short token with a digit, for postcodes in a format the patterns do not know (the whole reply is it).
_LONE_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9 \-]{1,8}[A-Za-z0-9]")


@dataclass(frozen=True)
class Candidate:
    """One value in a message that could prove ownership.

    Attributes:
        kind: ``email`` or ``postcode``.
        value: The e-mail in lower case, or the postcode compacted (``EH13UJ``).
    """

    kind: str
    value: str


def proof_candidates(text: str | None) -> list[Candidate]:
    """Every distinct e-mail address and postcode in ``text``.

    Overlapping postcode readings of the same characters count once (``1012 AB`` is a Dutch postcode, not
    also the Australian ``1012``), and the same postcode typed twice counts once.

    Args:
        text: What the customer typed.

    Returns:
        The candidates, e-mails first, in the order they appear.
    """
    if not text:
        return []
    found: list[Candidate] = []
    rest = text.replace("mailto:", " ")
    for match in _EMAIL_FIND.finditer(rest):
        email = normalize_email(match.group(0))
        if email is not None and Candidate("email", email) not in found:
            found.append(Candidate("email", email))
    # Postcodes are looked for in what is left once the e-mail addresses are blanked out.
    rest = _EMAIL_FIND.sub(lambda m: " " * len(m.group(0)), rest)
    spans: list[tuple[int, int, str, bool]] = []
    for country, pattern in _POSTCODE_PATTERNS.items():
        for match in pattern.finditer(rest):
            # Outward and inward parts of the spaced formats, else the one group: compared compacted anyway.
            value = "".join(g for g in match.groups() if g)
            spans.append((match.start(), match.end(), compact_postcode(value), country in _WEAK_COUNTRIES))
    # Longest reading first; a shorter reading inside one already taken is the same characters.
    spans.sort(key=lambda s: (-(s[1] - s[0]), s[0]))
    taken: list[tuple[int, int, str, bool]] = []
    for span in spans:
        if any(span[0] < t[1] and t[0] < span[1] for t in taken):
            continue
        taken.append(span)
    strong = [s for s in taken if not s[3]]
    chosen = strong or taken
    for _start, _end, value, _weak in sorted(chosen, key=lambda s: s[0]):
        if Candidate("postcode", value) not in found:
            found.append(Candidate("postcode", value))
    lone = text.strip()
    if (
        not found
        and _LONE_TOKEN.fullmatch(lone)
        and any(ch.isdigit() for ch in lone)
        and normalize_order_number(lone) is None
        and normalize_rma(lone) is None
    ):
        found.append(Candidate("postcode", compact_postcode(lone)))
    return found


def postcode_spans(text: str) -> list[tuple[int, int, bool]]:
    """Where ``text`` holds something the proof reader would take for a postcode: ``(start, end, weak)``.

    For redaction (``console.redact``): what is shown to staff must never include a value that proves an
    order, so the console hides exactly the spans this reader accepts. ``weak`` marks the bare 4-digit
    readings (Australia, Belgium...), which are also years and quantities. A message that is one short token
    with a digit is the proof itself (``"W1F-9XX"``, ``"31300"``) and comes back whole.
    """
    spans = [
        (match.start(), match.end(), country in _WEAK_COUNTRIES)
        for country, pattern in _POSTCODE_PATTERNS.items()
        for match in pattern.finditer(text)
    ]
    lone = text.strip()
    if (
        _LONE_TOKEN.fullmatch(lone)
        and any(ch.isdigit() for ch in lone)
        and normalize_order_number(lone) is None
        and normalize_rma(lone) is None
    ):
        start = text.index(lone)
        spans.append((start, start + len(lone), False))
    return spans


def the_proof(candidates: Sequence[Candidate]) -> Candidate | None:
    """The one value to check, or None when the message lists several (then nothing is checked).

    One e-mail address is the proof even next to postcodes (people add their postcode "to be sure"; only
    the e-mail is compared, so it is still one guess). Several e-mails, or no e-mail and several postcodes,
    are several guesses in one message: none is checked and the attempt fails.
    """
    emails = [c for c in candidates if c.kind == "email"]
    if emails:
        return emails[0] if len(emails) == 1 else None
    return candidates[0] if len(candidates) == 1 else None


def matches(candidate: Candidate, email: str, postcode: str, *also_postcodes: str) -> bool:
    """Whether one candidate proves an order whose customer has ``email`` and which ships to ``postcode``
    (or has one of ``also_postcodes``: the customer's own postcode, which an address change in a chat does
    not move).

    Compared in constant time (``hmac.compare_digest``), so timing says nothing about how close a guess was;
    every postcode is compared, whichever matches.
    """
    if candidate.kind == "email":
        return hmac.compare_digest(candidate.value.encode(), email.strip().lower().encode())
    found = False
    for known in (postcode, *also_postcodes):
        if known:
            found |= hmac.compare_digest(candidate.value.encode(), compact_postcode(known).encode())
    return found


#: How long an unused grant lasts (``SHOP_GRANT_IDLE_MINUTES``); rasa's session expiry (domain.yml) is the same.
DEFAULT_GRANT_IDLE = timedelta(minutes=60)


def _whole(unit: str) -> BeforeValidator:
    """Read a variable's text as a positive whole number of ``unit``; a timedelta given in code passes."""

    def convert(raw: object) -> object:
        if not isinstance(raw, str):
            return raw
        if not raw.isdigit() or int(raw) < 1:
            raise ValueError(f"must be a positive whole number of {unit}, got {raw!r}")
        return timedelta(**{unit: int(raw)})

    return BeforeValidator(convert)


class ProofLimits(EnvSettings):
    """How many failed proofs are free and how long checks pause after that.

    Attributes:
        per_conversation: Failed proofs after which a conversation may not try any more (its lock-out).
        per_order: Failed proofs of one order number (from anywhere) before its checks pause. A customer
            who mistypes twice still gets a third try.
        per_source: Failed proofs from one source (all orders) before its checks pause.
        per_proof: Failed proofs with one e-mail or postcode (all orders, conversations and sources) before
            checks with it pause. A customer who types their e-mail with a mistyped order number twice still
            gets a third try.
        first_pause: Length of the first pause; each further failure doubles it.
        longest_pause: The pause never grows past this.
        order_window: Failures of an order number older than this are forgotten (a matched proof of the
            order forgets the failures before it too).
        source_window: Failures of a source older than this are forgotten.
        proof_window: Failures with one proof value older than this are forgotten (a match with it forgets
            the failures before it too).
        grant_idle: A grant (what a matched proof unlocked) ends once the conversation has not used any of
            its grants for this long; aligned with rasa's session expiry (domain.yml, 60 minutes).
    """

    per_conversation: int = 3
    per_order: int = Field(default=3, ge=1, validation_alias="SHOP_PROOF_FAILURES_PER_ORDER")
    per_source: int = Field(default=10, ge=1, validation_alias="SHOP_PROOF_FAILURES_PER_SOURCE")
    per_proof: int = Field(default=3, ge=1, validation_alias="SHOP_PROOF_FAILURES_PER_PROOF")
    first_pause: Annotated[timedelta, _whole("seconds")] = Field(
        default=timedelta(minutes=5), validation_alias="SHOP_PROOF_FIRST_PAUSE_SECONDS"
    )
    longest_pause: timedelta = timedelta(hours=24)
    order_window: timedelta = timedelta(days=30)
    source_window: timedelta = timedelta(hours=24)
    proof_window: timedelta = timedelta(days=30)
    grant_idle: Annotated[timedelta, _whole("minutes")] = Field(
        default=DEFAULT_GRANT_IDLE, validation_alias="SHOP_GRANT_IDLE_MINUTES"
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ProofLimits:
        """Read ``SHOP_PROOF_FAILURES_PER_ORDER``, ``SHOP_PROOF_FAILURES_PER_SOURCE``,
        ``SHOP_PROOF_FAILURES_PER_PROOF``, ``SHOP_PROOF_FIRST_PAUSE_SECONDS`` and ``SHOP_GRANT_IDLE_MINUTES``;
        unset variables keep the defaults.

        Raises:
            InvalidSettings: A variable is not a positive whole number (a ValueError; the message names it).
        """
        limits: ProofLimits = cls.read(env)
        return limits


#: Environment variable holding the key of the proof hashes, and the file read when it is unset.
PROOF_KEY_VAR = "SHOP_PROOF_KEY"
PROOF_KEY_FILE = Path(__file__).resolve().parent.parent / "var" / "proof_key"


class ProofHasher:
    """Turns a proof value into the key its failures are counted under: HMAC-SHA256 with a secret key.

    The typed e-mail or postcode is never stored: the count needs only "the same value again", and a keyed
    hash cannot be reversed (or a guessed e-mail confirmed) without the key, which lives outside the database.
    """

    def __init__(self, key: str | bytes) -> None:
        """Use ``key`` (any length; an empty key is refused).

        Raises:
            ValueError: the key is empty.
        """
        raw = key.encode() if isinstance(key, str) else bytes(key)
        if not raw:
            raise ValueError(f"{PROOF_KEY_VAR} must not be empty")
        self._key = raw

    def __repr__(self) -> str:
        """Never the key."""
        return "ProofHasher(<key>)"

    def __call__(self, candidate: Candidate) -> str:
        """The hex key (32 characters) counting failures with this value, the same for every spelling the
        proof reader folds together (case of e-mails, spaces and dashes of postcodes)."""
        message = f"{candidate.kind}:{candidate.value}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, key_file: Path = PROOF_KEY_FILE) -> ProofHasher:
        """``SHOP_PROOF_KEY``, else the file ``var/proof_key`` (`make run` creates it), else a key for this
        process only (logged: counts per proof then do not survive a restart or reach other replicas)."""
        source = os.environ if env is None else env
        key = source.get(PROOF_KEY_VAR, "").strip()
        if not key:
            try:
                key = key_file.read_text(encoding="utf-8").strip()
            except OSError:
                key = ""
        if not key:
            log.warning(
                "%s is not set and %s does not exist: failed proofs are counted per proof value in this process "
                "only; `make run` creates the key",
                PROOF_KEY_VAR,
                key_file,
            )
            key = secrets.token_urlsafe(32)
        return cls(key)


def pause_until(failures: Sequence[datetime], free: int, limits: ProofLimits) -> datetime | None:
    """When checks may resume after ``failures`` (their times, any order), or None if they are not paused.

    The first ``free`` failures cost nothing; the next check then waits ``first_pause`` after the latest
    failure, and each failure after that doubles the wait, up to ``longest_pause``.

    Args:
        failures: Times of the failed proofs still remembered.
        free: Failures allowed before the first pause.
        limits: Pause lengths.

    Returns:
        The time checks resume (compare with now), or None.
    """
    if len(failures) < free:
        return None
    doublings = min(len(failures) - free, 32)
    wait = min(limits.longest_pause, limits.first_pause * (1 << doublings))
    return max(failures) + wait
