"""Paused order checks in the console: order numbers, sources and proofs past their free failed proofs (issue 8).

Read from the order store (`OrderStore.paused_checks`) for ``GET /api/console/security/paused-checks``.
A source is the customer's address or account (personal data): leads and agents see a stable short
fingerprint of it, enough to tell one attacker from many; admins see it as the gateway recorded it. A proof
(an e-mail or postcode somebody keeps trying) is only ever shown as a fingerprint. Fingerprints are an HMAC
keyed with ``CONSOLE_SECRET``: a plain hash of an IPv4 address is undone by trying all four billion.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from console.errors import Unavailable
from store.records import PausedCheck
from store.service import OrderStore

STORE_DOWN = "the order store cannot be read; try again shortly"


def fingerprint(key: str, secret: str) -> str:
    """Ten hex digits of HMAC-SHA256(``secret``, ``key``): stable, and meaningless without the secret."""
    return hmac.new(secret.encode(), key.encode(), hashlib.sha256).hexdigest()[:10]


def shown_source(key: str, *, raw: bool, secret: str) -> str:
    """``web:ip:203.0.113.7`` as is for admins, else its kind and a fingerprint (``web:ip:#3f2a91c04b``)."""
    if raw:
        return key
    kind = ":".join(key.split(":")[:2]) if key.count(":") >= 2 else key.split(":")[0]
    return f"{kind}:#{fingerprint(key, secret)}"


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


def _shown_key(check: PausedCheck, raw: bool, secret: str) -> str:
    if check.scope == "order":
        return check.key
    if check.scope == "proof":  # already a keyed hash of what was typed: a fingerprint for everyone
        return f"proof:#{fingerprint('proof:' + check.key, secret)}"
    return shown_source(check.key, raw=raw, secret=secret)


def _row(check: PausedCheck, raw: bool, secret: str) -> dict[str, Any]:
    return {
        "scope": check.scope,
        "key": _shown_key(check, raw, secret),
        "failures": check.failures,
        "refused": check.refused,
        "last_failure": _iso(check.last_failure),
        "paused_until": _iso(check.paused_until),
        "paused_now": check.paused_now,
    }


def paused_checks(store: OrderStore, *, raw: bool, secret: str, limit: int = 100) -> dict[str, Any]:
    """``{"checks": [...], "limits": {...}, "redacted": bool}`` for the console.

    Args:
        store: the order store.
        raw: the viewer may see sources as recorded (admins).
        secret: ``CONSOLE_SECRET``, keying the fingerprints.
        limit: most rows.

    Raises:
        Unavailable: the order store cannot be read.
    """
    try:
        checks = store.paused_checks(limit=limit)
    except SQLAlchemyError as exc:
        raise Unavailable(STORE_DOWN) from exc
    limits = store.limits
    return {
        "checks": [_row(c, raw, secret) for c in checks],
        "limits": {
            "free_failures_per_order": limits.per_order,
            "free_failures_per_source": limits.per_source,
            "free_failures_per_proof": limits.per_proof,
            "first_pause_seconds": int(limits.first_pause.total_seconds()),
        },
        "redacted": not raw,
    }
