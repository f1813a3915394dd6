"""Metrics over the conversation index: volume per day and channel, containment, fallback and hand-off rates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from console.charts import bar_chart, column_chart
from console.models import ConsoleConversation, ConsoleConversationIntent, ConsoleCorrection
from console.queries import Filters, apply_filters, intent_counts

C = ConsoleConversation
# A conversation is contained when the bot handled it alone: no hand-off and no fallback loop
# (two or more fallbacks; one "please rephrase" that the customer recovered from still counts).
FALLBACK_LOOP = 2


def compute_metrics(session: Session, f: Filters, *, days: int = 30, now: datetime | None = None) -> dict[str, Any]:
    """Metrics of the conversations matching ``f`` (usually a channel and a date range).

    Args:
        session: gateway database session.
        f: filters (the list page's).
        days: how many days the per-day series covers when ``f`` has no date range.
        now: the current time (tests pass one).

    Returns:
        Numbers and inline SVG charts: ``total``, ``containment_rate``, ``fallback_rate``,
        ``handoff_rate`` (percent), ``per_day``, ``per_channel``, ``top_intents``, ``most_corrected`` and ``charts``.
    """
    now = now or datetime.now(UTC)
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

    until = f.until or now.date()
    since = f.since or until - timedelta(days=days - 1)
    if session.get_bind().dialect.name == "sqlite":
        day_expr = func.date(C.first_ts, "unixepoch")
    else:  # PostgreSQL: the UTC day, whatever the session's time zone
        day_expr = func.to_char(func.timezone("UTC", func.to_timestamp(C.first_ts)), "YYYY-MM-DD")
    per_day_rows = dict(
        (str(d), n)
        for d, n in session.execute(
            apply_filters(select(day_expr, func.count()), f, raw_text=False).group_by(day_expr)
        ).all()
    )
    per_day = []
    day = since
    while day <= until and len(per_day) < 366:
        per_day.append((day.isoformat(), per_day_rows.get(day.isoformat(), 0)))
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
    return {
        "total": total,
        "containment_rate": rates[0][1],
        "fallback_rate": rates[1][1],
        "handoff_rate": rates[2][1],
        "per_day": [{"day": d, "conversations": n} for d, n in per_day],
        "per_channel": dict(per_channel),
        "top_intents": dict(top_intents),
        "most_corrected": dict(most_corrected),
        "charts": {
            "per_day": column_chart(per_day, title="Conversations per day"),
            "per_channel": bar_chart(per_channel, title="Conversations per channel"),
            "rates": bar_chart(rates, title="Containment, fallback and hand-off rates", unit="%"),
            "top_intents": bar_chart(top_intents, title="Top intents (conversations)"),
            "most_corrected": bar_chart(most_corrected, title="Most corrected intents (predicted)"),
        },
    }
