"""Metrics over the conversation index: volume per day and channel, containment, fallback and hand-off rates."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, case, cast, func, select
from sqlalchemy.orm import Session

from console.charts import bar_chart, column_chart
from console.models import ConsoleConversation, ConsoleConversationIntent, ConsoleCorrection
from console.queries import Filters, apply_filters, day_start, intent_counts
from console.redact import redact
from store.feedback import RatingInfo

C = ConsoleConversation
# A conversation is contained when the bot handled it alone: no hand-off and no fallback loop
# (two or more fallbacks; one "please rephrase" that the customer recovered from still counts).
FALLBACK_LOOP = 2


OUTCOMES = {"assistant": "answered by the assistant", "handoff": "resolved by a person"}
RECENT_COMMENTS = 5
QUARTER_HOUR = 900
_CHUNK = 500


def compute_metrics(
    session: Session,
    f: Filters,
    *,
    ratings: list[RatingInfo] | None = None,
    raw_text: bool = False,
    days: int = 30,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Metrics of the conversations matching ``f`` (usually a channel and a date range).

    Args:
        session: gateway database session.
        f: filters (the list page's); ``applied`` in the answer says which ones narrowed it.
        ratings: the customers' ratings from the order store (counted when their conversation matches ``f``).
        raw_text: show rating comments verbatim (admin) instead of redacted.
        days: how many days the per-day series covers when ``f`` has no date range.
        now: the current time (tests pass one).

    Returns:
        Numbers and inline SVG charts: ``total``, ``containment_rate``, ``fallback_rate``,
        ``handoff_rate`` (percent), ``per_day`` (days in the shop's time zone), ``per_channel``, ``top_intents``,
        ``most_corrected``, ``ratings`` and ``charts``, plus ``applied`` (the filters) and ``zone``.
    """
    now = now or datetime.now(UTC)
    zone = ZoneInfo(f.zone)
    total, fallback, handoff, contained = session.execute(
        apply_filters(
            select(
                func.count(),
                func.sum(case((C.fallbacks > 0, 1), else_=0)),
                func.sum(case((C.handed_off.is_(True), 1), else_=0)),
                func.sum(case(((C.handed_off.is_(False)) & (C.fallbacks < FALLBACK_LOOP), 1), else_=0)),
            ),
            f,
            raw_text=False,
        )
    ).one()
    total = total or 0

    def rate(n: int | None) -> float:
        return round(100 * (n or 0) / total, 1) if total else 0.0

    until = f.until or now.astimezone(zone).date()
    since = f.since or until - timedelta(days=days - 1)
    # Days are the shop's days. The database counts conversations per quarter hour since the first day began
    # (every time zone's offset is a whole number of quarter hours), and each quarter hour is then put on
    # its local day here: a few thousand buckets at most, whatever the number of conversations.
    origin = day_start(since, f.zone)
    if session.get_bind().dialect.name == "sqlite":
        bucket = cast((C.first_ts - origin) / QUARTER_HOUR, Integer)  # first_ts >= origin: truncation is floor
    else:
        bucket = cast(func.floor((C.first_ts - origin) / QUARTER_HOUR), Integer)
    per_day_counts: Counter[str] = Counter()
    for quarter, n in session.execute(
        apply_filters(select(bucket, func.count()), f, raw_text=False)
        .where(C.first_ts >= origin, C.first_ts < day_start(until + timedelta(days=1), f.zone))
        .group_by(bucket)
    ):
        per_day_counts[datetime.fromtimestamp(origin + quarter * QUARTER_HOUR, zone).date().isoformat()] += n
    per_day: list[tuple[str, int]] = []
    day = since
    while day <= until and len(per_day) < 366:
        per_day.append((day.isoformat(), per_day_counts.get(day.isoformat(), 0)))
        day += timedelta(days=1)
    per_channel = [
        (c, n)
        for c, n in session.execute(
            apply_filters(select(C.channel, func.count()), f, raw_text=False).group_by(C.channel).order_by(C.channel)
        ).all()
    ]
    matching = apply_filters(select(C.sender_id), f, raw_text=False)
    top_intents = [
        (i, n)
        for i, n in session.execute(
            intent_counts(f, raw_text=False).order_by(func.count().desc(), ConsoleConversationIntent.intent).limit(10)
        ).all()
    ]
    most_corrected = [
        (i or "(none)", n)
        for i, n in session.execute(
            select(ConsoleCorrection.predicted_intent, func.count())
            .where(ConsoleCorrection.sender_id.in_(matching))
            .group_by(ConsoleCorrection.predicted_intent)
            .order_by(func.count().desc(), ConsoleCorrection.predicted_intent)
            .limit(10)
        ).all()
    ]
    rates = [
        ("containment", rate(contained)),
        ("fallback", rate(fallback)),
        ("hand-off", rate(handoff)),
    ]
    rated = _ratings(session, f, ratings or [], raw_text=raw_text)
    return {
        "applied": f.applied(),
        "zone": f.zone,
        "total": total,
        "containment_rate": rates[0][1],
        "fallback_rate": rates[1][1],
        "handoff_rate": rates[2][1],
        "per_day": [{"day": d, "conversations": n} for d, n in per_day],
        "per_channel": dict(per_channel),
        "top_intents": dict(top_intents),
        "most_corrected": dict(most_corrected),
        "ratings": rated,
        "charts": {
            "per_day": column_chart([(_short_day(d), n) for d, n in per_day], title="Conversations per day"),
            "per_channel": bar_chart(per_channel, title="Conversations per channel"),
            "rates": bar_chart(rates, title="Containment, fallback and hand-off rates", unit="%"),
            "top_intents": bar_chart(top_intents, title="Top intents (conversations)"),
            "most_corrected": bar_chart(most_corrected, title="Most corrected intents (predicted)"),
            "ratings_by_channel": bar_chart(
                [(f"{c} ({v['count']})", v["average"]) for c, v in rated["by_channel"].items()],
                title="Average rating (1-5) by channel, with how many ratings",
            ),
            "ratings_by_outcome": bar_chart(
                [(f"{OUTCOMES.get(o, o)} ({v['count']})", v["average"]) for o, v in rated["by_outcome"].items()],
                title="Average rating (1-5) by outcome, with how many ratings",
            ),
            "ratings_by_score": bar_chart(
                [
                    (f"{score} star{'s' if score > 1 else ''}", rated["by_score"][str(score)])
                    for score in range(5, 0, -1)
                ],
                title="Ratings by score",
            ),
        },
    }


def _short_day(iso: str) -> str:
    """``2026-11-28`` as ``28 Nov`` (the chart's axis; the API keeps ISO dates)."""
    day = datetime.fromisoformat(iso)
    return f"{day.day} {day:%b}"


def _ratings(session: Session, f: Filters, ratings: list[RatingInfo], *, raw_text: bool) -> dict[str, Any]:
    """Ratings of the conversations matching ``f``: count, average, by channel, by outcome and by score."""
    ids = sorted({r.conversation_id for r in ratings})
    matching: set[str] = set()
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        matching.update(
            session.scalars(apply_filters(select(C.sender_id), f, raw_text=False).where(C.sender_id.in_(chunk)))
        )
    kept = [r for r in ratings if r.conversation_id in matching]
    by_channel: dict[str, list[int]] = defaultdict(list)
    by_outcome: dict[str, list[int]] = defaultdict(list)
    for r in kept:
        by_channel[r.channel].append(r.score)
        by_outcome[r.outcome].append(r.score)

    def summary(scores: list[int]) -> dict[str, Any]:
        return {"count": len(scores), "average": round(sum(scores) / len(scores), 2) if scores else 0.0}

    scores = Counter(r.score for r in kept)
    comments = [r for r in kept if r.comment][-RECENT_COMMENTS:]
    return {
        **summary([r.score for r in kept]),
        "by_channel": {c: summary(v) for c, v in sorted(by_channel.items())},
        "by_outcome": {o: summary(by_outcome[o]) for o in OUTCOMES if o in by_outcome},
        "by_score": {str(score): scores.get(score, 0) for score in range(1, 6)},
        "recent_comments": [
            {
                "score": r.score,
                "channel": r.channel,
                "outcome": r.outcome,
                "comment": r.comment if raw_text else redact(r.comment or ""),
                "at": r.created_at.isoformat(timespec="seconds"),
            }
            for r in reversed(comments)
        ],
    }
