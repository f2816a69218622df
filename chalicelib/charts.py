"""Server-side SVG charts of a report (``Report.to_dict()`` output).

Each function returns ``markupsafe.Markup`` holding one standalone inline ``<svg>``: a
``viewBox`` and ``width="100%"`` (it scales to its container), ``role="img"`` with an
``aria-label`` and a ``<title>``. Safe to inline under a strict CSP: no script, no event
handlers, no external references, no ``style`` attributes or elements (colours are
presentation attributes; text uses ``currentColor`` so it follows the page's colour).
Every text value is escaped; numbers are coerced to int/float before use.

A report with no mentions gives a small chart that reads "No mentions in this window".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from markupsafe import Markup, escape

from chalicelib.formats import duration

__all__ = ["daily_svg", "heatmap_svg", "histogram_svg"]

EMPTY_TEXT = "No mentions in this window"
FONT = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"
TEXT = "currentColor"
MUTED = "#6b7280"
GRID = "#e5e7eb"
BAR = "#2563eb"
BAR_LIGHT = "#93c5fd"
UNANSWERED = "#9ca3af"
MEDIAN = "#dc2626"
TARGET = "#16a34a"
HEAT_EMPTY = "#f3f4f6"
HEAT_LOW = (219, 234, 254)  # #dbeafe
HEAT_HIGH = (30, 64, 175)  # #1e40af
PARTIAL_OUTLINE = "#2563eb"  # the dashed outline of a day the window covers only in part
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# --------------------------------------------------------------------------- helpers


def _e(value: object) -> str:
    """Escape for text content and attribute values (quotes included)."""
    return str(escape(str(value)))


def _n(value: float) -> str:
    """A coordinate: at most one decimal, no trailing zeros."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _num(value: Any) -> float:
    """A number from the report, or 0 for anything else (None, junk)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return float(value)


def _svg(width: int, height: int, label: str, body: Iterable[str]) -> Markup:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{_e(label)}" font-family="{FONT}" '
        f'font-size="12" fill="{TEXT}"><title>{_e(label)}</title>'
    )
    return Markup(head + "".join(body) + "</svg>")  # noqa: S704 - every value is escaped


def _text(x: float, y: float, value: object, *, anchor: str = "middle", **attrs: str) -> str:
    extra = "".join(f' {name.replace("_", "-")}="{_e(v)}"' for name, v in attrs.items())
    return f'<text x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}"{extra}>{_e(value)}</text>'


def _empty(label: str, width: int = 640) -> Markup:
    return _svg(
        width,
        120,
        f"{label}: {EMPTY_TEXT}",
        [
            f'<rect x="0.5" y="0.5" width="{width - 1}" height="119" rx="6" fill="none" '
            f'stroke="{GRID}"/>',
            _text(width / 2, 65, EMPTY_TEXT, font_size="16", fill=MUTED),
        ],
    )


def _is_empty(report: Mapping[str, Any]) -> bool:
    return not _num(report.get("mentions"))


def _nice_max(value: float, ticks: int = 4) -> tuple[float, float]:
    """(axis maximum, tick step): a 1/2/5 x 10^k step (at least 1), maximum >= value."""
    if value <= 0:
        return float(ticks), 1.0
    raw = value / ticks
    step = 1.0
    if raw > 1:
        magnitude = 10.0 ** math.floor(math.log10(raw))
        step = next(f * magnitude for f in (1, 2, 5, 10) if f * magnitude >= raw)
    return step * math.ceil(value / step), step


_DURATION_STEPS = (
    *(1, 2, 5, 10, 15, 30),
    *(60 * m for m in (1, 2, 5, 10, 15, 20, 30)),
    *(3600 * h for h in (1, 2, 3, 4, 6, 8, 12)),
    *(86400 * d for d in (1, 2, 5, 7, 14, 30, 60, 90)),
)


def _nice_duration_max(seconds: float, ticks: int = 4) -> tuple[float, float]:
    """Like ``_nice_max`` for a time axis: steps of 1m, 5m, 15m, 1h, 6h, 1d..."""
    raw = max(seconds, 1.0) / ticks
    step = next((s for s in _DURATION_STEPS if s >= raw), float(_DURATION_STEPS[-1]))
    return step * max(math.ceil(seconds / step), 1), float(step)


def _compact(seconds: float) -> str:
    """A chart label's duration: 45s, 12m, 1h20m, 1d6h."""
    return duration(seconds, compact=True)


def _plural(count: float, word: str) -> str:
    return f"{count:.0f} {word}{'' if count == 1 else 's'}"


def _items(value: Any) -> Sequence[Any]:
    return value if isinstance(value, list | tuple) else []


# --------------------------------------------------------------------------- histogram


def histogram_svg(report: Mapping[str, Any]) -> Markup:
    """Bars of mentions per time-to-first-reply bucket, unanswered last (in grey)."""
    label = "Time to first reply"
    if _is_empty(report):
        return _empty(label)
    buckets = [
        (str(b.get("bucket", "")), _num(b.get("count")))
        for b in _items(report.get("histogram"))
        if isinstance(b, Mapping)
    ]
    width, height = 640, 260
    left, right, top, bottom = 44, 12, 16, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    y_max, step = _nice_max(max((c for _, c in buckets), default=0))
    parts = _y_grid(left, top, plot_w, plot_h, y_max, step, str)
    slot = plot_w / max(len(buckets), 1)
    bar_w = slot * 0.7
    for i, (bucket, count) in enumerate(buckets):
        h = plot_h * count / y_max
        x = left + i * slot + (slot - bar_w) / 2
        y = top + plot_h - h
        fill = UNANSWERED if bucket == "unanswered" else BAR
        parts.append(
            f'<rect class="bar" x="{_n(x)}" y="{_n(y)}" width="{_n(bar_w)}" height="{_n(h)}" '
            f'fill="{fill}"><title>{_e(bucket)}: {_e(_plural(count, "mention"))}</title></rect>'
        )
        parts.append(_text(x + bar_w / 2, y - 4, f"{count:.0f}", fill=MUTED))
        parts.append(_text(x + bar_w / 2, top + plot_h + 18, bucket))
    parts.append(_axis_line(left, top + plot_h, left + plot_w))
    summary = ", ".join(f"{b} {c:.0f}" for b, c in buckets)
    return _svg(width, height, f"{label} (mentions per bucket): {summary}", parts)


def _y_grid(
    left: float,
    top: float,
    plot_w: float,
    plot_h: float,
    y_max: float,
    step: float,
    fmt: Any,
    *,
    right_side: bool = False,
) -> list[str]:
    parts = []
    value = 0.0
    while value <= y_max + 1e-9:
        y = top + plot_h - plot_h * value / y_max
        if not right_side:
            parts.append(
                f'<line x1="{_n(left)}" y1="{_n(y)}" x2="{_n(left + plot_w)}" y2="{_n(y)}" '
                f'stroke="{GRID}"/>'
            )
            parts.append(_text(left - 6, y + 4, fmt(_int_or(value)), anchor="end", fill=MUTED))
        else:
            parts.append(_text(left + plot_w + 6, y + 4, fmt(value), anchor="start", fill=MEDIAN))
        value += step
    return parts


def _int_or(value: float) -> int | float:
    return int(value) if value == int(value) else value


def _axis_line(x1: float, y: float, x2: float) -> str:
    return f'<line x1="{_n(x1)}" y1="{_n(y)}" x2="{_n(x2)}" y2="{_n(y)}" stroke="{MUTED}"/>'


# --------------------------------------------------------------------------- daily


def _short_date(value: str) -> str:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return value
    return f"{MONTHS[day.month - 1]} {day.day}"


def _partial_days(report: Mapping[str, Any], count: int) -> set[int]:
    """The first and last day rows when the window starts or ends inside them: the window is
    the last days x 24 hours, so it touches one date more than it has days."""
    window = report.get("window")
    if not isinstance(window, Mapping) or not count:
        return set()
    midnight = "T00:00:00.000Z"
    partial = set()
    if not str(window.get("start", "")).endswith(midnight):
        partial.add(0)
    if not str(window.get("end", "")).endswith(midnight):
        partial.add(count - 1)
    return partial


def _day_tip(day: Mapping[str, Any], count: float, median: float | None) -> str:
    answered = _num(day.get("answered"))
    tip = f"{day.get('date', '')}: {_plural(count, 'mention')}, {answered:.0f} answered"
    return tip if median is None else tip + f", median first reply {_compact(median)}"


def _day_bar(x: float, y: float, width: float, height: float, tip: str, partial: bool) -> str:
    """One day's bar; a day the window covers only in part is drawn paler, with a dashed
    outline (no pattern: a chart references nothing, not even a fragment of itself)."""
    extra = ""
    if partial:
        tip += " (part of the day: the window starts or ends inside it)"
        extra = f' fill-opacity="0.45" stroke="{PARTIAL_OUTLINE}" stroke-dasharray="3 2"'
    return (
        f'<rect class="bar" x="{_n(x)}" y="{_n(y)}" width="{_n(width)}" height="{_n(height)}" '
        f'fill="{BAR_LIGHT}"{extra}><title>{_e(tip)}</title></rect>'
    )


def daily_svg(report: Mapping[str, Any]) -> Markup:
    """Bars of mentions per UTC day, a line of the daily median time to first reply (right
    axis) and a dashed line at the target."""
    label = "Mentions per day and median time to first reply"
    if _is_empty(report):
        return _empty(label, 720)
    days = [d for d in _items(report.get("daily")) if isinstance(d, Mapping)]
    target = _num(report.get("target_seconds"))
    width, height = 720, 300
    left, right, top, bottom = 44, 56, 36, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    counts = [_num(d.get("mentions")) for d in days]
    medians = [
        None if d.get("median_seconds") is None else _num(d.get("median_seconds")) for d in days
    ]
    y_max, step = _nice_max(max(counts, default=0))
    t_max, t_step = _nice_duration_max(max([m for m in medians if m is not None] + [target]) * 1.1)

    parts = _y_grid(left, top, plot_w, plot_h, y_max, step, str)
    parts += _y_grid(left, top, plot_w, plot_h, t_max, t_step, _compact, right_side=True)

    slot = plot_w / max(len(days), 1)
    bar_w = max(slot * 0.7, 1.0)
    every = max(1, -(-len(days) // 8))  # at most ~8 date labels
    partial = _partial_days(report, len(days))
    for i, d in enumerate(days):
        x = left + i * slot + (slot - bar_w) / 2
        h = plot_h * counts[i] / y_max
        day_label = str(d.get("date", ""))
        parts.append(
            _day_bar(
                x, top + plot_h - h, bar_w, h, _day_tip(d, counts[i], medians[i]), i in partial
            )
        )
        if i % every == 0:
            parts.append(_text(x + bar_w / 2, top + plot_h + 18, _short_date(day_label)))
    parts.append(_axis_line(left, top + plot_h, left + plot_w))

    # The target (dashed, labelled) and the median line, broken where a day has no median.
    if target:
        y = top + plot_h - plot_h * target / t_max
        parts.append(
            f'<line class="target" x1="{_n(left)}" y1="{_n(y)}" x2="{_n(left + plot_w)}" '
            f'y2="{_n(y)}" stroke="{TARGET}" stroke-width="1.5" stroke-dasharray="6 4"/>'
        )
        parts.append(
            # A white halo keeps the label readable where it crosses the bars.
            _text(
                left + plot_w - 4,
                y - 5,
                f"target {_compact(target)}",
                anchor="end",
                fill=TARGET,
                stroke="#ffffff",
                stroke_width="3",
                paint_order="stroke",
                stroke_linejoin="round",
            )
        )
    segment: list[str] = []
    for i, median in enumerate([*medians, None]):
        if median is not None:
            x = left + i * slot + slot / 2
            y = top + plot_h - plot_h * median / t_max
            segment.append(f"{_n(x)},{_n(y)}")
            continue
        if len(segment) > 1:
            parts.append(
                f'<polyline class="median" points="{" ".join(segment)}" fill="none" '
                f'stroke="{MEDIAN}" stroke-width="2" stroke-linejoin="round"/>'
            )
        elif segment:
            px, py = segment[0].split(",")
            parts.append(f'<circle class="median" cx="{px}" cy="{py}" r="2.5" fill="{MEDIAN}"/>')
        segment = []

    # Legend.
    parts.append(f'<rect x="{left}" y="10" width="12" height="12" fill="{BAR_LIGHT}"/>')
    parts.append(_text(left + 18, 20, "Mentions", anchor="start"))
    parts.append(
        f'<line x1="{left + 100}" y1="16" x2="{left + 124}" y2="16" stroke="{MEDIAN}" '
        f'stroke-width="2"/>'
    )
    parts.append(_text(left + 130, 20, "Median first reply (right axis)", anchor="start"))
    parts.append(
        f'<line x1="{left + 330}" y1="16" x2="{left + 354}" y2="16" stroke="{TARGET}" '
        f'stroke-width="1.5" stroke-dasharray="6 4"/>'
    )
    parts.append(_text(left + 360, 20, "Target", anchor="start"))

    first = str(days[0].get("date", "")) if days else ""
    last = str(days[-1].get("date", "")) if days else ""
    aria = f"{label}, {first} to {last}: {sum(counts):.0f} mentions; target {_compact(target)}"
    return _svg(width, height, aria, parts)


# --------------------------------------------------------------------------- heatmap


def _shade(count: float, top: float) -> str:
    if count <= 0 or top <= 0:
        return HEAT_EMPTY
    t = (count / top) ** 0.5  # square root: small counts stay visible
    r, g, b = (round(lo + (hi - lo) * t) for lo, hi in zip(HEAT_LOW, HEAT_HIGH, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


def heatmap_svg(report: Mapping[str, Any]) -> Markup:
    """Mentions by weekday (rows, Monday first) and local hour (columns) in the report's
    time zone; darker is more."""
    raw = report.get("heatmap")
    heat: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    tz = str(heat.get("tz", "UTC"))
    label = f"Mentions by weekday and hour ({tz})"
    if _is_empty(report):
        return _empty(label, 720)
    names = [str(n) for n in _items(heat.get("days"))][:7]
    names += ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][len(names) :]
    rows = _items(heat.get("counts"))
    counts = [[_num(c) for c in _items(rows[d] if d < len(rows) else [])][:24] for d in range(7)]
    counts = [row + [0.0] * (24 - len(row)) for row in counts]
    top_count = max(max(row) for row in counts)

    width, height = 720, 236
    left, top = 44, 22
    cell_w, cell_h, gap = (width - left - 8) / 24, 24.0, 2.0
    parts = []
    for hour in range(0, 24, 3):
        parts.append(_text(left + hour * cell_w + cell_w / 2, 14, f"{hour:02d}", fill=MUTED))
    busiest = (0.0, "", 0)
    for d in range(7):
        y = top + d * cell_h
        parts.append(_text(left - 8, y + cell_h / 2 + 2, names[d], anchor="end"))
        for hour in range(24):
            count = counts[d][hour]
            if count > busiest[0]:
                busiest = (count, names[d], hour)
            x = left + hour * cell_w
            tip = f"{names[d]} {hour:02d}:00-{hour:02d}:59: {_plural(count, 'mention')}"
            parts.append(
                f'<rect class="cell" x="{_n(x + gap / 2)}" y="{_n(y + gap / 2)}" '
                f'width="{_n(cell_w - gap)}" height="{_n(cell_h - gap)}" rx="2" '
                f'fill="{_shade(count, top_count)}"><title>{_e(tip)}</title></rect>'
            )
    legend_y = top + 7 * cell_h + 22
    parts.append(_text(left, legend_y, f"Local time: {tz}", anchor="start", fill=MUTED))
    legend_x = width - 8 - 5 * 18 - 40
    parts.append(_text(legend_x - 6, legend_y, "fewer", anchor="end", fill=MUTED))
    for i in range(5):
        shade = _shade((i + 1) / 5, 1.0) if i else HEAT_EMPTY
        parts.append(
            f'<rect x="{_n(legend_x + i * 18)}" y="{_n(legend_y - 11)}" width="16" height="14" '
            f'rx="2" fill="{shade}"/>'
        )
    parts.append(_text(legend_x + 5 * 18 + 4, legend_y, "more", anchor="start", fill=MUTED))
    aria = f"{label}: busiest {busiest[1]} {busiest[2]:02d}:00 with {busiest[0]:.0f}"
    return _svg(width, height, aria, parts)
