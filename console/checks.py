"""Paused order checks in the console: order numbers and sources past their free failed proofs (issue 8).

Read from the order store (`OrderStore.paused_checks`) for ``GET /api/console/security/paused-checks``.
A source is the customer's address or account (personal data): leads and agents see a stable short
fingerprint of it, enough to tell one attacker from many; admins see it as the gateway recorded it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from console.errors import Unavailable
from store.records import PausedCheck
from store.service import OrderStore

STORE_DOWN = "the order store cannot be read; try again shortly"


def shown_source(key: str, *, raw: bool) -> str:
    """``web:ip:203.0.113.7`` as is for admins, else its kind and a fingerprint (``web:ip:#3f2a91c04b``)."""
    if raw:
        return key
    kind = ":".join(key.split(":")[:2]) if key.count(":") >= 2 else key.split(":")[0]
    return f"{kind}:#{hashlib.sha256(key.encode()).hexdigest()[:10]}"


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


def _row(check: PausedCheck, raw: bool) -> dict[str, Any]:
    return {
        "scope": check.scope,
        "key": check.key if check.scope == "order" else shown_source(check.key, raw=raw),
        "failures": check.failures,
        "refused": check.refused,
        "last_failure": _iso(check.last_failure),
        "paused_until": _iso(check.paused_until),
        "paused_now": check.paused_now,
    }


def paused_checks(store: OrderStore, *, raw: bool, limit: int = 100) -> dict[str, Any]:
    """``{"checks": [...], "limits": {...}, "redacted": bool}`` for the console.

    Raises:
        Unavailable: the order store cannot be read.
    """
    try:
        checks = store.paused_checks(limit=limit)
    except SQLAlchemyError as exc:
        raise Unavailable(STORE_DOWN) from exc
    limits = store.limits
    return {
        "checks": [_row(c, raw) for c in checks],
        "limits": {
            "free_failures_per_order": limits.per_order,
            "free_failures_per_source": limits.per_source,
            "first_pause_seconds": int(limits.first_pause.total_seconds()),
        },
        "redacted": not raw,
    }
