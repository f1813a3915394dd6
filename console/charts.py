"""Tiny inline-SVG charts for the metrics page (no external assets, labels escaped)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape


def bar_chart(items: Sequence[tuple[str, float]], *, title: str, unit: str = "", width: int = 560) -> str:
    """Horizontal bars, one per ``(label, value)``.

    Args:
        items: labels and values, drawn in the given order.
        title: accessible title of the chart.
        unit: appended to each value label (e.g. ``"%"``).
        width: SVG width in pixels.

    Returns:
        An ``<svg>`` element as a string.
    """
    bar_h, gap, label_w, value_w = 18, 6, 170, 60
    height = max(1, len(items)) * (bar_h + gap) + gap
    top = max((v for _, v in items), default=0) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>{escape(title)}</title>'
    ]
    span = width - label_w - value_w
    for i, (label, value) in enumerate(items):
        y = gap + i * (bar_h + gap)
        w = max(1, round(span * value / top)) if value else 0
        shown = f"{value:g}{unit}"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + bar_h - 5}" text-anchor="end" font-size="12">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w}" height="{bar_h}" fill="#3b6ea5"><title>{escape(label)}: '
            f"{escape(shown)}</title></rect>"
            f'<text x="{label_w + w + 4}" y="{y + bar_h - 5}" font-size="12">{escape(shown)}</text>'
        )
    if not items:
        parts.append('<text x="4" y="14" font-size="12">no data</text>')
    parts.append("</svg>")
    return "".join(parts)


def column_chart(items: list[tuple[str, float]], *, title: str, width: int = 560, height: int = 160) -> str:
    """Vertical columns (a time series such as conversations per day), labels under the first and last."""
    pad_b, pad_t = 20, 14
    n = max(1, len(items))
    col_w = width / n
    top = max((v for _, v in items), default=0) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>{escape(title)}</title>'
    ]
    for i, (label, value) in enumerate(items):
        h = (height - pad_b - pad_t) * value / top
        x, y = i * col_w, height - pad_b - h
        parts.append(
            f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{max(1.0, col_w - 2):.1f}" height="{h:.1f}" fill="#3b6ea5">'
            f"<title>{escape(label)}: {value:g}</title></rect>"
        )
    if items:
        parts.append(f'<text x="0" y="{height - 4}" font-size="11">{escape(items[0][0])}</text>')
        parts.append(
            f'<text x="{width}" y="{height - 4}" font-size="11" text-anchor="end">{escape(items[-1][0])}</text>'
        )
        parts.append(f'<text x="0" y="11" font-size="11">max {top:g}</text>')
    else:
        parts.append('<text x="4" y="14" font-size="12">no data</text>')
    parts.append("</svg>")
    return "".join(parts)
