"""Conversation list queries on the index: filters, keyset pagination by last activity, counts per filter."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVarTuple
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased

from connectors import safejson
from console.errors import BadInput
from console.models import (
    ConsoleAssignment,
    ConsoleConversation,
    ConsoleConversationCard,
    ConsoleConversationIntent,
    ConsoleConversationText,
    ConsoleTag,
    ConsoleUser,
)
from console.pseudonyms import PUBLIC_ID
from store.normalize import order_number_value

_Row = TypeVarTuple("_Row")

C = ConsoleConversation
T = ConsoleConversationText
K = ConsoleConversationCard
A = ConsoleAssignment
ASSIGNED = ("me", "nobody", "anyone")
MAX_LIMIT = 200
DEFAULT_LIMIT = 50
DEFAULT_LOW_CONFIDENCE = 50


@dataclass(frozen=True)
class Filters:
    """What the list is filtered by (every field optional)."""

    channel: str | None = None
    since: date | None = None
    until: date | None = None
    intent: str | None = None
    fallback: bool | None = None
    handoff: bool | None = None
    below: int | None = None
    verified: bool | None = None
    tag: str | None = None
    text: str | None = None
    order: str | None = None
    assigned: str | None = None  # "me", "nobody" or "anyone" (someone)
    viewer_id: int | None = None  # who "me" is
    zone: str = "UTC"  # the shop's time zone: "from" and "to" are its days

    @classmethod
    def parse(cls, query: Mapping[str, str], *, zone: str = "UTC", viewer_id: int | None = None) -> Filters:
        """Read filters from query parameters (``channel``, ``from``, ``to``, ``intent``, ``fallback``,
        ``handoff``, ``below``, ``verified``, ``tag``, ``q``, ``order``, ``assigned``).

        Args:
            query: the request's query parameters.
            zone: the shop's time zone (IANA name); ``from`` and ``to`` are whole days there.
            viewer_id: the signed-in user, for ``assigned=me``.

        Raises:
            BadInput: naming the parameter that is malformed.
        """

        def text(name: str, limit: int = 100) -> str | None:
            value = (query.get(name) or "").strip()
            if len(value) > limit:
                raise BadInput(f"'{name}' is longer than {limit} characters", field=name)
            return value or None

        def day(name: str) -> date | None:
            value = text(name, 10)
            if value is None:
                return None
            try:
                return date.fromisoformat(value)
            except ValueError:
                raise BadInput(f"'{name}' must be a date like 2026-11-28", field=name) from None

        def flag(name: str) -> bool | None:
            value = text(name, 5)
            if value is None:
                return None
            if value.lower() in ("yes", "true", "1"):
                return True
            if value.lower() in ("no", "false", "0"):
                return False
            raise BadInput(f"'{name}' must be yes or no", field=name)

        below_raw = text("below", 3)
        below = None
        if below_raw is not None:
            if not (below_raw.isascii() and below_raw.isdigit()) or not 1 <= int(below_raw) <= 100:
                raise BadInput("'below' must be a percentage from 1 to 100", field="below")
            below = int(below_raw)
        assigned = text("assigned", 8)
        if assigned is not None and assigned not in ASSIGNED:
            raise BadInput(f"'assigned' must be one of {', '.join(ASSIGNED)}", field="assigned")
        return cls(
            assigned=assigned,
            viewer_id=viewer_id,
            zone=zone,
            channel=text("channel", 32),
            since=day("from"),
            until=day("to"),
            intent=text("intent"),
            fallback=flag("fallback"),
            handoff=flag("handoff"),
            below=below,
            verified=flag("verified"),
            tag=text("tag", 40),
            text=text("q", 200),
            order=order_filter(text("order", 32)),
        )

    def applied(self) -> dict[str, Any]:
        """The filters that narrow the list, as the query parameters that set them (for "which filters apply")."""
        names = {"since": "from", "until": "to", "text": "q"}
        out: dict[str, Any] = {}
        for key in (
            "channel",
            "since",
            "until",
            "intent",
            "fallback",
            "handoff",
            "below",
            "verified",
            "tag",
            "text",
            "order",
            "assigned",
        ):
            value = getattr(self, key)
            if value is None:
                continue
            if isinstance(value, date):
                value = value.isoformat()
            elif isinstance(value, bool):
                value = "yes" if value else "no"
            out[names.get(key, key)] = value
        return out

    def unfiltered(self) -> Filters:
        """The same viewer and zone without any filter."""
        return Filters(viewer_id=self.viewer_id, zone=self.zone)


def order_filter(value: str | None) -> str | None:
    """The ``order`` filter as a canonical order number (``ORD-100123``, ``ord 100123``, ``#100123`` or
    ``100123``); the orders field holds nothing else, so nothing else is searched for.

    Raises:
        BadInput: the value is not an order number.
    """
    if value is None:
        return None
    bare = value.removeprefix("#").strip()
    number = order_number_value(value) or (order_number_value(f"ORD-{bare}") if bare.isdigit() else None)
    if number is None:
        raise BadInput("'order' must be an order number like ORD-100123", field="order")
    return number


def day_start(day: date, zone: str = "UTC") -> float:
    """The start of ``day`` in ``zone`` as a Unix timestamp."""
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone)).timestamp()


def _like(term: str) -> str:
    escaped = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def apply_filters(stmt: Select[*_Row], f: Filters, *, raw_text: bool) -> Select[*_Row]:
    """Add the WHERE clauses of ``f`` to a statement over ``console_conversations``.

    Args:
        stmt: a select from ``ConsoleConversation``.
        f: the filters.
        raw_text: search what was said verbatim (admin) instead of its redacted form, so a
            search cannot confirm an email or phone number the viewer may not see.
    """
    conds = []
    if f.channel:
        conds.append(C.channel == f.channel)
    if f.since:
        conds.append(C.last_ts >= day_start(f.since, f.zone))
    if f.until:
        conds.append(C.last_ts < day_start(f.until + timedelta(days=1), f.zone))
    if f.intent:
        # Aliases keep these subqueries uncorrelated from count queries that select from the same tables.
        seen = aliased(ConsoleConversationIntent)
        conds.append(C.sender_id.in_(select(seen.sender_id).where(seen.intent == f.intent)))
    if f.fallback is not None:
        conds.append(C.fallbacks > 0 if f.fallback else C.fallbacks == 0)
    if f.handoff is not None:
        conds.append(C.handed_off.is_(f.handoff))
    if f.below is not None:
        conds.append(C.min_confidence < f.below / 100)
    if f.verified is not None:
        conds.append(C.verified.is_(f.verified))
    if f.tag:
        tagged = aliased(ConsoleTag)
        conds.append(C.sender_id.in_(select(tagged.sender_id).where(tagged.tag == f.tag)))
    if f.text:
        column = T.search_text if raw_text else T.search_redacted
        conds.append(C.sender_id.in_(select(T.sender_id).where(column.like(_like(f.text), escape="\\"))))
    if f.order:
        # The column holds canonical order numbers separated by spaces (console/tracker.py): a whole one matches.
        padded = " " + C.orders + " "
        conds.append(padded.like(f"% {f.order} %"))
    if f.assigned == "me":
        mine = aliased(A)
        conds.append(C.sender_id.in_(select(mine.sender_id).where(mine.user_id == (f.viewer_id or -1))))
    elif f.assigned in ("nobody", "anyone"):
        someone = select(aliased(A).sender_id)
        conds.append(C.sender_id.notin_(someone) if f.assigned == "nobody" else C.sender_id.in_(someone))
    return stmt.where(and_(*conds)) if conds else stmt


def encode_cursor(last_ts: float, public_id: str) -> str:
    """An opaque cursor pointing after this row (it names the row by its console id, never its sender id)."""
    return base64.urlsafe_b64encode(json.dumps([last_ts, public_id]).encode()).decode().rstrip("=")


def decode_cursor(session: Session, cursor: str) -> tuple[float, str]:
    """Inverse of :func:`encode_cursor`: the row's last activity and sender id.

    Raises:
        BadInput: when the cursor was not made by this server (or its row is gone).
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = safejson.loads(raw)  # bounded: a forged cursor may be nested 10,000 deep
        if not isinstance(decoded, list) or len(decoded) != 2:
            raise ValueError("not a [last_ts, public_id] pair")
        last_ts, public_id = float(decoded[0]), str(decoded[1])
    except (ValueError, TypeError):
        raise BadInput("'cursor' is not a cursor this server gave out", field="cursor") from None
    if not PUBLIC_ID.match(public_id):  # checked before the query: PostgreSQL rejects NUL bytes in a parameter
        raise BadInput("'cursor' is not a cursor this server gave out", field="cursor")
    sender = session.scalar(select(K.sender_id).where(K.public_id == public_id))
    if sender is None:
        raise BadInput("'cursor' is not a cursor this server gave out", field="cursor")
    return last_ts, sender


def list_page(
    session: Session, f: Filters, *, raw_text: bool, limit: int = DEFAULT_LIMIT, cursor: str | None = None
) -> dict[str, Any]:
    """One page of conversations, newest activity first.

    Args:
        session: gateway database session.
        f: filters.
        raw_text: whether text search sees the raw text (admin).
        limit: page size (1..200).
        cursor: ``next_cursor`` of the previous page.

    Returns:
        ``{"conversations": [...], "next_cursor": str | None}``.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise BadInput(f"'limit' must be between 1 and {MAX_LIMIT}", field="limit")
    stmt = apply_filters(
        select(
            C.sender_id,
            C.channel,
            C.first_ts,
            C.last_ts,
            C.turns,
            C.min_confidence,
            C.fallbacks,
            C.handed_off,
            C.verified,
            C.orders,
            K.public_id,
            K.preview_redacted if not raw_text else K.preview,
            K.store_id,
        ).join(K, K.sender_id == C.sender_id),  # every indexed conversation has its card (same transaction)
        f,
        raw_text=raw_text,
    )
    if cursor:
        after_ts, after_id = decode_cursor(session, cursor)
        stmt = stmt.where(or_(C.last_ts < after_ts, and_(C.last_ts == after_ts, C.sender_id < after_id)))
    rows = session.execute(stmt.order_by(C.last_ts.desc(), C.sender_id.desc()).limit(limit + 1)).all()
    page = rows[:limit]
    tags: dict[str, list[str]] = {}
    assignees: dict[str, str] = {}
    if page:
        senders = [r.sender_id for r in page]
        for sender, tag in session.execute(
            select(ConsoleTag.sender_id, ConsoleTag.tag)
            .where(ConsoleTag.sender_id.in_(senders))
            .order_by(ConsoleTag.tag)
        ):
            tags.setdefault(sender, []).append(tag)
        assignees = dict(
            session.execute(
                select(A.sender_id, ConsoleUser.email)
                .join(ConsoleUser, ConsoleUser.id == A.user_id)
                .where(A.sender_id.in_(senders))
            ).all()
        )
    return {
        "conversations": [
            {
                "id": r.public_id,
                "sender": r.sender_id,  # for the caller's joins; console.web removes it before answering
                "preview": r[11],
                "store_id": r.store_id,
                "assigned_to": assignees.get(r.sender_id),
                "channel": r.channel,
                "first_activity": _iso(r.first_ts),
                "last_activity": _iso(r.last_ts),
                "turns": r.turns,
                "min_confidence": r.min_confidence,
                "fallbacks": r.fallbacks,
                "handed_off": r.handed_off,
                "verified": r.verified,
                "orders": r.orders.split() if r.orders else [],
                "tags": tags.get(r.sender_id, []),
            }
            for r in page
        ],
        "next_cursor": encode_cursor(page[-1].last_ts, page[-1].public_id) if len(rows) > limit else None,
    }


def counts(session: Session, f: Filters, *, raw_text: bool) -> dict[str, Any]:
    """How many conversations match ``f``, and how they split by each filter's values.

    Returns:
        ``{"total", "fallback", "handoff", "verified", "unverified", "low_confidence", "below",
        "channels": {name: n}, "tags": {tag: n}, "intents": {intent: n}}`` (intents: the 40 most common).
    """
    below = (f.below or DEFAULT_LOW_CONFIDENCE) / 100
    # One pass per channel gives both the channel counts and, summed, the totals.
    per_channel = session.execute(
        apply_filters(
            select(
                C.channel,
                func.count(),
                func.sum(case((C.fallbacks > 0, 1), else_=0)),
                func.sum(case((C.handed_off.is_(True), 1), else_=0)),
                func.sum(case((C.verified.is_(True), 1), else_=0)),
                func.sum(case((C.min_confidence < below, 1), else_=0)),
            ),
            f,
            raw_text=raw_text,
        )
        .group_by(C.channel)
        .order_by(C.channel)
    ).all()
    channels = {row[0]: row[1] for row in per_channel}
    totals = [sum(row[i] or 0 for row in per_channel) for i in range(1, 6)]
    tags = dict(
        session.execute(
            apply_filters(
                select(ConsoleTag.tag, func.count()).join(C, C.sender_id == ConsoleTag.sender_id), f, raw_text=raw_text
            )
            .group_by(ConsoleTag.tag)
            .order_by(ConsoleTag.tag)
        ).all()
    )
    intents = dict(
        session.execute(
            intent_counts(f, raw_text=raw_text)
            .order_by(func.count().desc(), ConsoleConversationIntent.intent)
            .limit(40)
        ).all()
    )
    total = totals[0] or 0
    return {
        "total": total,
        "fallback": totals[1] or 0,
        "handoff": totals[2] or 0,
        "verified": totals[3] or 0,
        "unverified": total - (totals[3] or 0),
        "low_confidence": totals[4] or 0,
        "below": round(below * 100),
        "channels": channels,
        "tags": tags,
        "intents": intents,
    }


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def intent_counts(f: Filters, *, raw_text: bool) -> Select[str, int]:
    """``intent, count`` of the conversations matching ``f`` (no join when nothing is filtered)."""
    ci = ConsoleConversationIntent
    stmt = select(ci.intent, func.count())
    if f != f.unfiltered():
        stmt = apply_filters(stmt.join(C, C.sender_id == ci.sender_id), f, raw_text=raw_text)
    return stmt.group_by(ci.intent)
