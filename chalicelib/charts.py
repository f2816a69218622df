"""Server-side SVG charts of a report (``Report.to_dict()`` output), and their numbers.

Each chart is drawn in two layouts. An SVG with a ``viewBox`` and ``width="100%"`` scales its
text with its width, so one drawing cannot serve a 1000-pixel panel and a phone: ``WIDE`` is
760 units wide with 13-unit text, ``NARROW`` is 320 units wide with 12-unit text and its own
shape (horizontal bars, a heatmap turned on its side). charts.css shows one of the two by a
media query (no script), each at a width where its text is at least 11 px.
``chart_figures`` gives the page every chart in both layouts, followed by a ``<details>``
table of its numbers (for a screen reader, and for whoever wants the figure itself).

Each SVG is standalone: ``role="img"``, an ``aria-label`` and a ``<title>``. Safe to inline
under a strict CSP: no script, no event handlers, no external references, no ``style``
attributes or elements (colours are presentation attributes; most text uses
``currentColor`` so it follows the page's ink). Every text value is escaped; numbers are
coerced to int/float before use.

The colours: every mark is at least 3:1 against the panel's white and every text at least
4.5:1 against what it sits on (tests/test_contrast.py measures them). The series are blue,
orange, grey and ink, which colour-blind readers tell apart (no red against green).

A report with no mentions gives a small chart that reads "No mentions in this window".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple

from markupsafe import Markup, escape

from chalicelib.formats import duration

__all__ = [
    "LAYOUTS",
    "NARROW",
    "WIDE",
    "Layout",
    "chart_figures",
    "daily_svg",
    "daily_table",
    "heatmap_svg",
    "heatmap_table",
    "histogram_svg",
    "histogram_table",
]

EMPTY_TEXT = "No mentions in this window"
FONT = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"
TEXT = "currentColor"  # the page's ink (app.css --ink, #14171a)
MUTED = "#5b6670"  # app.css --muted: secondary text and the axes, 5.9:1 on white
HALO = "#ffffff"  # the panel: a halo behind a label that crosses marks
GRID = "#e1e6eb"  # app.css --line: grid lines only, never a mark
BAR = "#2563eb"  # mentions, 5.2:1
PARTIAL_FILL = "#dbeafe"  # a day the window covers in part: a tint; its dashed outline is the mark
UNANSWERED = "#767676"  # neutral grey, 4.5:1, and set apart by a divider
MEDIAN = "#b45309"  # orange, which every reader tells from the blue, 5.0:1
TARGET = "#14171a"  # ink, dashed
HEAT_EMPTY = "#f1f3f5"  # an hour without mentions: background, with no number in it
# Heatmap classes, fewest mentions first; each at least 3:1 on white, the number on it in
# the colour beside it at least 4.5:1 (ink on the light one, white on the others).
HEAT_LEVELS = ("#5b93d3", "#3367c4", "#1e3a8a", "#0f1d40")
HEAT_TEXT = ("#14171a", "#ffffff", "#ffffff", "#ffffff")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTH_NAMES = (
    *("January", "February", "March", "April", "May", "June", "July"),
    *("August", "September", "October", "November", "December"),
)


@dataclass(frozen=True)
class _Period:
    """How the daily chart names its bars: a day, a week or a month (analytics' trend)."""

    noun: str  # "day": per day, part of a day
    axis: str  # the title of the axis under the bars
    steps: tuple[int, ...]  # every how many bars a label may be written


PERIODS = {
    "day": _Period("day", "Date", (1, 2, 3, 7, 14, 28)),
    "week": _Period("week", "Week from Monday", (1, 2, 4, 8, 13, 26, 52)),
    "month": _Period("month", "Month", (1, 2, 3, 6, 12, 24, 60)),
}


@dataclass(frozen=True)
class Layout:
    """One drawing of a chart: its viewBox width and its text size, in SVG units."""

    name: str  # "wide" or "narrow": the SVG's class is chart-<name>, which charts.css picks
    width: int
    font: int

    @property
    def narrow(self) -> bool:
        return self.name == "narrow"


WIDE = Layout("wide", 760, 13)
NARROW = Layout("narrow", 320, 12)
LAYOUTS = (WIDE, NARROW)


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
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return 0.0
    return float(value)


def _maybe(value: Any) -> float | None:
    """A duration from the report, or None where it has none."""
    return None if value is None else _num(value)


def _svg(layout: Layout, height: float, label: str, body: Iterable[str]) -> Markup:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-{layout.name}" '
        f'viewBox="0 0 {layout.width} {_n(height)}" width="100%" role="img" '
        f'aria-label="{_e(label)}" font-family="{FONT}" font-size="{layout.font}" '
        f'fill="{TEXT}"><title>{_e(label)}</title>'
    )
    return Markup(head + "".join(body) + "</svg>")  # noqa: S704 - every value is escaped


def _text(x: float, y: float, value: object, *, anchor: str = "middle", **attrs: str) -> str:
    extra = "".join(f' {name.rstrip("_").replace("_", "-")}="{_e(v)}"' for name, v in attrs.items())
    return f'<text x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}"{extra}>{_e(value)}</text>'


def _title(x: float, y: float, value: str, note: str = "") -> str:
    """An axis title: ink, semibold, with an optional muted note after it."""
    tail = f'<tspan fill="{MUTED}" font-weight="400"> {_e(note)}</tspan>' if note else ""
    return (
        f'<text class="axis-title" x="{_n(x)}" y="{_n(y)}" text-anchor="start" '
        f'font-weight="600">{_e(value)}{tail}</text>'
    )


def _haloed(x: float, y: float, value: object, *, anchor: str, fill: str) -> str:
    """A label that may cross marks: a halo of the panel's white keeps it readable."""
    return _text(
        x,
        y,
        value,
        anchor=anchor,
        fill=fill,
        stroke=HALO,
        stroke_width="3",
        paint_order="stroke",
        stroke_linejoin="round",
    )


def _line(x1: float, y1: float, x2: float, y2: float, stroke: str, **attrs: str) -> str:
    extra = "".join(f' {name.rstrip("_").replace("_", "-")}="{_e(v)}"' for name, v in attrs.items())
    return (
        f'<line x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2)}" y2="{_n(y2)}" stroke="{stroke}"{extra}/>'
    )


def _group(name: str, parts: Iterable[str]) -> str:
    return f'<g class="{name}">' + "".join(parts) + "</g>"


def _grid(x1: float, y1: float, x2: float, y2: float, **attrs: str) -> str:
    return _line(x1, y1, x2, y2, GRID, class_="grid", **attrs)


def _text_width(text: str, font: float) -> float:
    """A generous estimate of a label's width in system-ui, for layout only."""
    return len(text) * font * 0.6


def _empty(label: str, layout: Layout) -> Markup:
    width = layout.width
    return _svg(
        layout,
        120,
        f"{label}: {EMPTY_TEXT}",
        [
            f'<rect class="frame" x="0.5" y="0.5" width="{width - 1}" height="119" rx="6" '
            f'fill="none" stroke="{GRID}"/>',
            _text(width / 2, 65, EMPTY_TEXT, font_size=str(layout.font + 3), fill=MUTED),
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


def _compact(seconds: float) -> str:
    """A chart label's duration: 45s, 12m, 1h20m, 1d6h."""
    return duration(seconds, compact=True)


def _plural(count: float, word: str) -> str:
    return f"{count:.0f} {word}{'' if count == 1 else 's'}"


def _items(value: Any) -> Sequence[Any]:
    return value if isinstance(value, list | tuple) else []


def _heat_zone(report: Mapping[str, Any]) -> str:
    """The zone of the heatmap's weekdays and hours: the report's settings."""
    heat = report.get("heatmap")
    zone = heat.get("tz") if isinstance(heat, Mapping) else None
    return str(zone) if zone else "UTC"


def _days_zone(report: Mapping[str, Any]) -> str:
    """The zone whose calendar days the daily rows are: the window's; UTC for a report
    stored before days followed the zone (it cut them at UTC midnight)."""
    window = report.get("window")
    zone = window.get("tz") if isinstance(window, Mapping) else None
    return str(zone) if zone else "UTC"


_NUM_CLASS = ' class="num"'


def _table(caption: str, head: Sequence[str], rows: Iterable[Sequence[str]]) -> Markup:
    """A ``<details>`` table of a chart's numbers; cells are given escaped, the first of
    each row is its header, the others are numbers."""
    columns = "".join(
        f'<th scope="col"{"" if i == 0 else _NUM_CLASS}>{_e(h)}</th>' for i, h in enumerate(head)
    )
    body = "".join(
        f'<tr><th scope="row">{row[0]}</th>'
        + "".join(f'<td class="num">{cell}</td>' for cell in row[1:])
        + "</tr>"
        for row in rows
    )
    return Markup(  # noqa: S704 - the caption and head are escaped here, the cells by callers
        '<details class="chart-data"><summary>Show the numbers as a table</summary>'
        f"<table><caption>{_e(caption)}</caption><thead><tr>{columns}</tr></thead>"
        f"<tbody>{body}</tbody></table></details>"
    )


# --------------------------------------------------------------------------- histogram


def _buckets(report: Mapping[str, Any]) -> list[tuple[str, float]]:
    return [
        (str(b.get("bucket", "")), _num(b.get("count")))
        for b in _items(report.get("histogram"))
        if isinstance(b, Mapping)
    ]


def histogram_svg(report: Mapping[str, Any], layout: Layout = WIDE) -> Markup:
    """Bars of mentions per time-to-first-reply bucket, unanswered last (in grey): upright
    in the wide layout, lying down in the narrow one."""
    label = "Time to first reply"
    if _is_empty(report):
        return _empty(label, layout)
    buckets = _buckets(report)
    draw = _histogram_rows if layout.narrow else _histogram_columns
    height, parts = draw(buckets, layout)
    summary = ", ".join(f"{b} {c:.0f}" for b, c in buckets)
    return _svg(layout, height, f"{label} (mentions per bucket): {summary}", parts)


def _bucket_bar(x: float, y: float, width: float, height: float, bucket: str, count: float) -> str:
    fill = UNANSWERED if bucket == "unanswered" else BAR
    return (
        f'<rect class="bar" x="{_n(x)}" y="{_n(y)}" width="{_n(width)}" height="{_n(height)}" '
        f'fill="{fill}"><title>{_e(bucket)}: {_e(_plural(count, "mention"))}</title></rect>'
    )


def _histogram_columns(buckets: list[tuple[str, float]], layout: Layout) -> tuple[float, list[str]]:
    f = layout.font
    left, right, top, plot_h = round(f * 3.6), f, 2 * f + 16, 170
    plot_w = layout.width - left - right
    bottom = top + plot_h
    y_max, step = _nice_max(max((c for _, c in buckets), default=0))
    parts = [_title(0, f + 2, "Mentions")]
    parts += _y_ticks(left, top, plot_w, plot_h, y_max, step, f)
    slot = plot_w / max(len(buckets), 1)
    bar_w = slot * 0.7
    for i, (bucket, count) in enumerate(buckets):
        h = plot_h * count / y_max
        x = left + i * slot + (slot - bar_w) / 2
        parts.append(_bucket_bar(x, bottom - h, bar_w, h, bucket, count))
        parts.append(_text(x + bar_w / 2, bottom - h - 5, f"{count:.0f}"))
        parts.append(_text(x + bar_w / 2, bottom + f + 6, bucket))
        if bucket == "unanswered" and i:  # set apart from the answered buckets
            divider = left + i * slot
            parts.append(_grid(divider, top - 6, divider, bottom + f + 8, stroke_dasharray="4 3"))
    parts.append(_axis_line(left, bottom, left + plot_w))
    parts.append(
        _title(left, bottom + 2 * f + 16, "Time to first reply", "(unanswered: no reply yet)")
    )
    return bottom + 2 * f + 24, parts


def _histogram_rows(buckets: list[tuple[str, float]], layout: Layout) -> tuple[float, list[str]]:
    f = layout.font
    longest = max((_text_width(b, f) for b, _ in buckets), default=0.0)
    x0 = min(longest, layout.width / 3) + 8
    count_w = _text_width("9999", f) + 4
    bar_max = layout.width - x0 - count_w
    top, row_h = 2 * f + 10, 28
    top_count = max((c for _, c in buckets), default=0) or 1.0
    parts = [_title(0, f + 2, "Time to first reply")]
    for i, (bucket, count) in enumerate(buckets):
        y = top + i * row_h
        w = bar_max * count / top_count
        if bucket == "unanswered" and i:
            parts.append(_grid(0, y - 3, layout.width, y - 3, stroke_dasharray="4 3"))
        parts.append(_text(x0 - 8, y + row_h / 2 + f / 3, bucket, anchor="end"))
        parts.append(_bucket_bar(x0, y + 4, w, row_h - 10, bucket, count))
        parts.append(_text(x0 + w + 5, y + row_h / 2 + f / 3, f"{count:.0f}", anchor="start"))
    bottom = top + len(buckets) * row_h
    parts.append(_line(x0, top, x0, bottom, MUTED))
    parts.append(_title(x0, bottom + f + 8, "Mentions", "(length of the bar)"))
    return bottom + f + 16, parts


def _y_ticks(
    left: float, top: float, plot_w: float, plot_h: float, y_max: float, step: float, font: int
) -> list[str]:
    """Grid lines and count labels on the left, every `step` from 0 to `y_max`."""
    parts = []
    value = 0.0
    while value <= y_max + 1e-9:
        y = top + plot_h - plot_h * value / y_max
        parts.append(_grid(left, y, left + plot_w, y))
        label = f"{value:.0f}" if value == int(value) else f"{value:g}"
        parts.append(_text(left - 6, y + font / 3, label, anchor="end", fill=MUTED))
        value += step
    return parts


def _axis_line(x1: float, y: float, x2: float) -> str:
    return _line(x1, y, x2, y, MUTED, class_="axis")


def histogram_table(report: Mapping[str, Any]) -> Markup:
    """The histogram's numbers: mentions per bucket."""
    rows = [(_e(bucket), f"{count:.0f}") for bucket, count in _buckets(report)]
    return _table("Mentions by time to first reply", ("Time to first reply", "Mentions"), rows)


# --------------------------------------------------------------------------- daily


@dataclass(frozen=True)
class _Day:
    """A bar of the daily chart: a day, or a week or month of the trend."""

    date: str  # its first date
    mentions: float
    answered: float
    median: float | None
    partial: bool
    end: str = ""  # its last date (a week's Sunday, a month's last day); "" for a day
    period: str = "day"  # "day", "week" or "month"


def _trend(report: Mapping[str, Any]) -> tuple[str, list[_Day]]:
    """The bars of the daily chart and what each is: the trend's weeks or months in a long
    window, else the days (a trend by day has the daily rows' figures, and a report stored
    before the trend existed has only those)."""
    trend = report.get("trend")
    if isinstance(trend, Mapping) and trend.get("period") in ("week", "month"):
        rows = [r for r in _items(trend.get("rows")) if isinstance(r, Mapping)]
        period = str(trend["period"])
        return period, [
            _Day(
                str(r.get("start", "")),
                _num(r.get("mentions")),
                _num(r.get("answered")),
                _maybe(r.get("median_seconds")),
                r.get("partial") is True,
                str(r.get("end", "")),
                period,
            )
            for r in rows
        ]
    return "day", _days(report)


def _days(report: Mapping[str, Any]) -> list[_Day]:
    rows = [d for d in _items(report.get("daily")) if isinstance(d, Mapping)]
    partial = _partial_days(report, rows)
    return [
        _Day(
            str(d.get("date", "")),
            _num(d.get("mentions")),
            _num(d.get("answered")),
            _maybe(d.get("median_seconds")),
            i in partial,
        )
        for i, d in enumerate(rows)
    ]


def _period_name(day: _Day) -> str:
    """A bar's period in full: 2026-11-28, 2026-11-23 to 2026-11-29, November 2026."""
    if day.period == "week":
        return f"{day.date} to {day.end}"
    month = _month_index(day.date) if day.period == "month" else None
    if month is None:
        return day.date
    return f"{MONTH_NAMES[month % 12]} {month // 12}"


def _short_date(value: str) -> str:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return value
    return f"{MONTHS[day.month - 1]} {day.day}"


def _partial_days(report: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> set[int]:
    """The day rows the window holds only part of. A row says so itself; one stored before
    rows did is a UTC date, partial when the window starts or ends inside it (the first and
    the last: the window is days x 24 hours, so it touches one date more than it has days)."""
    if any("partial" in row for row in rows):
        return {i for i, row in enumerate(rows) if row.get("partial") is True}
    window = report.get("window")
    if not isinstance(window, Mapping) or not rows:
        return set()
    midnight = "T00:00:00.000Z"
    partial = set()
    if not str(window.get("start", "")).endswith(midnight):
        partial.add(0)
    if not str(window.get("end", "")).endswith(midnight):
        partial.add(len(rows) - 1)
    return partial


# A log axis for the time to first reply: minutes and days on one chart, the target in view.
_LOG_TICKS = (
    *(1, 10, 60, 300, 900, 3600, 4 * 3600),
    *(86400 * d for d in (1, 3, 7, 30, 90)),
)


def _time_range(medians: Sequence[float], target: float) -> tuple[float, float]:
    """The ticks at either end of the time axis: around every median and the target."""
    values = [max(v, 1.0) for v in medians] + ([target] if target > 0 else [])
    values = values or [3600.0]
    low = max((t for t in _LOG_TICKS if t <= min(values)), default=_LOG_TICKS[0])
    high = min((t for t in _LOG_TICKS if t >= max(values)), default=_LOG_TICKS[-1])
    if high <= low:  # every value on one tick: show the ticks either side of it
        i = _LOG_TICKS.index(low)
        low, high = _LOG_TICKS[max(i - 1, 0)], _LOG_TICKS[min(i + 1, len(_LOG_TICKS) - 1)]
    return float(low), float(high)


@dataclass(frozen=True)
class _DailyFrame:
    """Where the daily chart's two plots sit: the median per day (log axis) above, the
    mentions per day below, sharing the days across."""

    layout: Layout
    days: int
    left: float
    time_top: float
    time_h: float
    count_top: float
    count_h: float
    low: float  # the time axis' ends, in seconds
    high: float

    @property
    def plot_w(self) -> float:
        return self.layout.width - self.left - self.layout.font

    @property
    def slot(self) -> float:
        return self.plot_w / max(self.days, 1)

    @property
    def time_bottom(self) -> float:
        return self.time_top + self.time_h

    @property
    def count_bottom(self) -> float:
        return self.count_top + self.count_h

    def x(self, day: int) -> float:
        """The middle of a day's slot."""
        return self.left + (day + 0.5) * self.slot

    def y_time(self, seconds: float) -> float:
        span = math.log(self.high) - math.log(self.low)
        share = (math.log(min(max(seconds, self.low), self.high)) - math.log(self.low)) / span
        return self.time_bottom - self.time_h * share


def _daily_frame(layout: Layout, days: list[_Day], target: float) -> _DailyFrame:
    f = layout.font
    low, high = _time_range([d.median for d in days if d.median is not None], target)
    time_top = 2 * f + 10
    time_h = 130 if layout.narrow else 150
    count_top = time_top + time_h + 3 * f + 12
    return _DailyFrame(
        layout=layout,
        days=len(days),
        left=round(f * 3.6),
        time_top=time_top,
        time_h=time_h,
        count_top=count_top,
        count_h=90 if layout.narrow else 100,
        low=low,
        high=high,
    )


def _time_axis(frame: _DailyFrame) -> list[str]:
    """The log axis' grid and labels: both ends labelled, a tick between them only where its
    label would not touch its neighbours'."""
    f = frame.layout.font
    ticks = [t for t in _LOG_TICKS if frame.low <= t <= frame.high]
    room = 1.2 * f
    top_y = frame.y_time(ticks[-1])
    parts = []
    last_y = math.inf
    for tick in ticks:
        y = frame.y_time(tick)
        parts.append(_grid(frame.left, y, frame.left + frame.plot_w, y))
        end = tick in (ticks[0], ticks[-1])
        if end or (last_y - y >= room and y - top_y >= room):
            parts.append(_text(frame.left - 6, y + f / 3, _compact(tick), anchor="end", fill=MUTED))
            last_y = y
    parts.append(_axis_line(frame.left, frame.time_bottom, frame.left + frame.plot_w))
    return parts


def _time_plot(frame: _DailyFrame, days: list[_Day], target: float) -> list[str]:
    """The median per day on the log axis, under the target's dashed line; the target's
    label is drawn last, over the line of medians."""
    parts = _time_axis(frame)
    y = frame.y_time(target)
    right = frame.left + frame.plot_w
    if target:
        parts.append(
            f'<line class="target" x1="{_n(frame.left)}" y1="{_n(y)}" x2="{_n(right)}" '
            f'y2="{_n(y)}" stroke="{TARGET}" stroke-width="1.5" stroke-dasharray="6 4"/>'
        )
    marks = _median_marks(frame, days)
    if not marks:
        middle = frame.time_top + frame.time_h / 2
        parts.append(_text(frame.left + frame.plot_w / 2, middle, "No answers", fill=MUTED))
    parts += marks
    if target:
        f = frame.layout.font
        label_y = y - 5 if y - f - 5 >= frame.time_top else y + f + 3  # below, near the top
        label = f"target {_compact(target)}"
        parts.append(_haloed(right - 2, label_y, label, anchor="end", fill=TARGET))
    return parts


def _median_runs(days: list[_Day]) -> list[list[int]]:
    """The days with a median, in runs of consecutive days."""
    runs: list[list[int]] = [[]]
    for i, day in enumerate(days):
        if day.median is not None:
            runs[-1].append(i)
        elif runs[-1]:
            runs.append([])
    return [run for run in runs if run]


def _median_point(x: float, y: float, day: _Day, radius: float, lone: bool) -> str:
    tip = f"{_period_name(day)}: median first reply {_compact(day.median or 0.0)}"
    kind = "median-point lone" if lone else "median-point"
    return (
        f'<circle class="{kind}" cx="{_n(x)}" cy="{_n(y)}" r="{_n(radius)}" '
        f'fill="{MEDIAN}"><title>{_e(tip)}</title></circle>'
    )


def _median_marks(frame: _DailyFrame, days: list[_Day]) -> list[str]:
    """A point on every day with a median, joined across consecutive days. A lone day (no
    median either side) has no line to show it, so its point is drawn large however many
    days the chart holds."""
    radius = min(3.5, max(2.0, frame.slot / 3))
    lines: list[str] = []
    points: list[str] = []
    for run in _median_runs(days):
        xy = [(frame.x(i), frame.y_time(days[i].median or 0.0)) for i in run]
        if len(run) > 1:
            lines.append(
                f'<polyline class="median" points="{" ".join(f"{_n(x)},{_n(y)}" for x, y in xy)}" '
                f'fill="none" stroke="{MEDIAN}" stroke-width="2" stroke-linejoin="round"/>'
            )
        lone = len(run) == 1
        for i, (x, y) in zip(run, xy, strict=True):
            points.append(_median_point(x, y, days[i], 3.5 if lone else radius, lone))
    return lines + points


def _day_tip(day: _Day, noun: str) -> str:
    tip = f"{_period_name(day)}: {_plural(day.mentions, 'mention')}, {day.answered:.0f} answered"
    if day.median is not None:
        tip += f", median first reply {_compact(day.median)}"
    if day.partial:
        tip += f" (part of the {noun}: the window starts or ends inside it)"
    return tip


def _day_bar(x: float, y: float, width: float, height: float, day: _Day, noun: str) -> str:
    """One period's bar; one the window covers only in part is a pale tint with a dashed
    outline (no pattern: a chart references nothing, not even a fragment of itself)."""
    look = f'fill="{BAR}"'
    if day.partial:
        look = f'fill="{PARTIAL_FILL}" stroke="{BAR}" stroke-width="1.5" stroke-dasharray="3 2"'
    return (
        f'<rect class="bar" x="{_n(x)}" y="{_n(y)}" width="{_n(width)}" height="{_n(height)}" '
        f"{look}><title>{_e(_day_tip(day, noun))}</title></rect>"
    )


class _Tick(NamedTuple):
    bar: int  # the index of the bar it is written under
    label: str
    year: str | None  # a second line, where the year changes (weeks and months)


def _month_index(value: str) -> int | None:
    try:
        first = date.fromisoformat(value)
    except ValueError:
        return None
    return first.year * 12 + first.month - 1


def _tick_label(day: _Day, period: str, step: int) -> tuple[str, str]:
    """A tick's text and its year: "Nov 30" (a day or a week), "Nov" (a month), or the
    year alone when months are labelled a year or more apart."""
    if period == "month":
        month = _month_index(day.date)
        if month is None:
            return day.date, ""
        year = str(month // 12)
        return (year, "") if step >= 12 else (MONTHS[month % 12], year)
    return _short_date(day.date), day.date[:4]


def _ticks(frame: _DailyFrame, days: list[_Day], period: str) -> list[_Tick]:
    """The labels under the bars: every `step` bars, the step the smallest at which no two
    labels touch. Weeks and months write the year under the first label and wherever it
    changes; months are labelled on calendar quarters, halves and years."""
    f = frame.layout.font
    widest = max((max(map(len, _tick_label(d, period, 1))) for d in days), default=len("Nov 30"))
    room = _text_width("x" * max(widest, 4), f) + 10
    steps = PERIODS[period].steps
    step = next((s for s in steps if s * frame.slot >= room), steps[-1])
    if period == "month" and step >= 12:  # a year per label: "2026" is the widest
        room = _text_width("2026", f) + 10
        step = next((s for s in steps if s >= 12 and s * frame.slot >= room), steps[-1])
    ticks: list[_Tick] = []
    shown_year = ""
    for i, day in enumerate(days):
        month = _month_index(day.date) if period == "month" else None
        if (month % step if month is not None else i % step) != 0:
            continue
        label, year = _tick_label(day, period, step)
        written = year if period != "day" and year and year != shown_year else None
        shown_year = year or shown_year
        ticks.append(_Tick(i, label, written))
    return ticks


def _count_plot(frame: _DailyFrame, days: list[_Day], period: str, ticks: list[_Tick]) -> list[str]:
    """Bars of mentions per period, their axis, and the dates under them."""
    f = frame.layout.font
    noun = PERIODS[period].noun
    y_max, step = _nice_max(max((d.mentions for d in days), default=0), ticks=3)
    parts = _y_ticks(frame.left, frame.count_top, frame.plot_w, frame.count_h, y_max, step, f)
    bar_w = max(frame.slot * 0.7, 1.0)
    for i, day in enumerate(days):
        h = frame.count_h * day.mentions / y_max
        bar = _day_bar(frame.x(i) - bar_w / 2, frame.count_bottom - h, bar_w, h, day, noun)
        parts.append(bar)
    for tick in ticks:
        half_label = _text_width(tick.label, f) / 2
        x = min(max(frame.x(tick.bar), half_label), frame.layout.width - half_label)
        parts.append(_text(x, frame.count_bottom + f + 6, tick.label))
        if tick.year:
            parts.append(_text(x, frame.count_bottom + 2 * f + 10, tick.year, fill=MUTED))
    parts.append(_axis_line(frame.left, frame.count_bottom, frame.left + frame.plot_w))
    return parts


def _partial_key(x: float, y: float, noun: str) -> list[str]:
    """The legend of a partial period: its look, then its name."""
    return [
        f'<rect class="key" x="{_n(x)}" y="{_n(y - 10)}" width="16" height="11" '
        f'fill="{PARTIAL_FILL}" stroke="{BAR}" stroke-width="1.5" stroke-dasharray="3 2"/>',
        _text(x + 22, y, f"part of a {noun}", anchor="start"),
    ]


def _date_axis_title(
    frame: _DailyFrame, zone: str, partial: bool, period: str, years: bool
) -> tuple[float, list[str]]:
    f, width = frame.layout.font, frame.layout.width
    y = frame.count_bottom + 2 * f + 16
    if years:  # a line of years under the labels
        y += f + 4
    parts = [_title(frame.left, y, PERIODS[period].axis, f"({zone})")]
    if partial:
        noun = PERIODS[period].noun
        key_w = 22 + _text_width(f"part of a {noun}", f)
        if frame.layout.narrow:
            y += f + 10
            parts += _partial_key(frame.left, y, noun)
        else:
            parts += _partial_key(width - f - key_w, y, noun)
    return y + 8, parts


def daily_svg(report: Mapping[str, Any], layout: Layout = WIDE) -> Markup:
    """Two plots over the window: the median time to first reply per day (per week or per
    month in a long window: the report's trend) on a log axis with the target dashed across
    it (minutes and a three-day outlier both in view), and the mentions per period as bars."""
    period, days = _trend(report)
    noun = PERIODS[period].noun
    label = f"Median first reply and mentions per {noun}"
    if _is_empty(report):
        return _empty(label, layout)
    target = _num(report.get("target_seconds"))
    zone = _days_zone(report)
    frame = _daily_frame(layout, days, target)
    f = layout.font
    parts = [_title(0, f + 2, "Median first reply", f"per {noun} (log scale)")]
    parts.append(_group("time-plot", _time_plot(frame, days, target)))
    parts.append(_title(0, frame.count_top - f - 4, "Mentions", f"per {noun}"))
    ticks = _ticks(frame, days, period)
    parts.append(_group("count-plot", _count_plot(frame, days, period, ticks)))
    partial, years = any(d.partial for d in days), any(t.year for t in ticks)
    height, axis = _date_axis_title(frame, zone, partial, period, years)
    parts += axis
    return _svg(layout, height, _daily_label(label, days, target, zone, noun), parts)


def _daily_label(label: str, days: list[_Day], target: float, zone: str, noun: str) -> str:
    first = days[0].date if days else ""
    last = (days[-1].end or days[-1].date) if days else ""
    total = sum(d.mentions for d in days)
    aria = f"{label}, {first} to {last} ({zone}): {_plural(total, 'mention')}"
    medians = [d.median for d in days if d.median is not None]
    if target and medians:
        within = sum(m <= target for m in medians)
        aria += (
            f"; the median first reply was within the target of {_compact(target)} "
            f"{'on' if noun == 'day' else 'in'} {within} of {len(medians)} {noun}s with answers"
        )
    return aria


def daily_table(report: Mapping[str, Any]) -> Markup:
    """The daily chart's numbers: a row per day (per week or month in a long window), a
    partial one marked as such."""
    period, days = _trend(report)
    noun = PERIODS[period].noun
    rows = [
        (
            _e(_period_name(day))
            + (' <span class="partial">(partial)</span>' if day.partial else ""),
            f"{day.mentions:.0f}",
            f"{day.answered:.0f}",
            _e(duration(day.median)),
        )
        for day in days
    ]
    return _table(
        f"Mentions, answers and the median first reply per {noun} ({_days_zone(report)}); "
        f"partial: a {noun} the window covers only in part",
        (noun.title() if period != "day" else "Date", "Mentions", "Answered", "Median first reply"),
        rows,
    )


# --------------------------------------------------------------------------- heatmap


def _heat_counts(report: Mapping[str, Any]) -> tuple[list[str], list[list[float]]]:
    """Weekday names (Monday first) and a 7 x 24 grid of counts, whatever the body holds."""
    raw = report.get("heatmap")
    heat: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    names = [str(n) for n in _items(heat.get("days"))][:7]
    names += list(WEEKDAYS[len(names) :])
    rows = _items(heat.get("counts"))
    counts = [[_num(c) for c in _items(rows[d] if d < len(rows) else [])][:24] for d in range(7)]
    return names, [row + [0.0] * (24 - len(row)) for row in counts]


def _level_tops(top: float) -> list[int]:
    """The largest count of each class: a square-root scale, so small counts stay apart."""
    return [math.floor(top * k * k / 16 + 1e-9) for k in range(1, len(HEAT_LEVELS) + 1)]


def _level(count: float, tops: Sequence[int]) -> int:
    """0 for an hour without mentions, else its class, 1 (fewest) to 4."""
    if count <= 0:
        return 0
    return next((k for k, high in enumerate(tops, 1) if count <= high), len(tops))


def _short_count(count: float) -> str:
    return f"{count:.0f}" if count < 1000 else f"{count / 1000:.0f}k"


def _heat_cell(x: float, y: float, w: float, h: float, count: float, level: int, tip: str) -> str:
    fill = HEAT_LEVELS[level - 1] if level else HEAT_EMPTY
    kind = "cell" if level else "cell empty"
    cell = (
        f'<rect class="{kind}" x="{_n(x + 1)}" y="{_n(y + 1)}" width="{_n(w - 2)}" '
        f'height="{_n(h - 2)}" rx="2" fill="{fill}"><title>{_e(tip)}</title></rect>'
    )
    if not level:
        return cell
    # The number sits in the middle of its cell: no hover needed to read it.
    number = _text(
        x + w / 2, y + h / 2 + 4, _short_count(count), fill=HEAT_TEXT[level - 1], class_="value"
    )
    return cell + number


def _legend_items(tops: Sequence[int]) -> list[tuple[str, str]]:
    """(colour, counts) of the classes in use: "0", then "1", "2-5", ..."""
    items = [(HEAT_EMPTY, "0")]
    low = 1
    for colour, high in zip(HEAT_LEVELS, tops, strict=True):
        if high >= low:
            items.append((colour, str(low) if high == low else f"{low}-{high}"))
            low = high + 1
    return items


def _heat_legend(tops: Sequence[int], y: float, layout: Layout) -> tuple[float, list[str]]:
    """The classes' swatches, flowing onto a second line when the first is full."""
    f = layout.font
    parts = [_text(0, y, "Mentions in the hour:", anchor="start", fill=MUTED)]
    x = _text_width("Mentions in the hour:", f) + 4
    if layout.narrow:  # the swatches on a line of their own
        x, y = 0.0, y + f + 10
    for colour, counts in _legend_items(tops):
        item_w = 22 + _text_width(counts, f) + 10
        if x + item_w > layout.width:
            x, y = 0.0, y + f + 10
        kind = "key empty" if colour == HEAT_EMPTY else "key"
        parts.append(
            f'<rect class="{kind}" x="{_n(x)}" y="{_n(y - f + 1)}" width="16" height="{f}" '
            f'rx="2" fill="{colour}"/>'
        )
        parts.append(_text(x + 20, y, counts, anchor="start"))
        x += item_w
    return y, parts


def _heat_tip(name: str, hour: int, count: float) -> str:
    return f"{name} {hour:02d}:00-{hour:02d}:59: {_plural(count, 'mention')}"


def _heat_wide(
    names: list[str], counts: list[list[float]], zone: str, layout: Layout
) -> tuple[float, list[str]]:
    """Weekdays down, hours across."""
    f = layout.font
    left, top, cell_h = round(f * 3.2), 2 * f + 18, 26.0
    cell_w = (layout.width - left - 2) / 24
    tops = _level_tops(max(max(row) for row in counts))
    parts = [_title(left, f + 2, "Hour of day", f"({zone})")]
    for hour in range(24):
        parts.append(_text(left + (hour + 0.5) * cell_w, top - 6, f"{hour:02d}", fill=MUTED))
    for d in range(7):
        y = top + d * cell_h
        parts.append(_text(left - 8, y + cell_h / 2 + 4, names[d], anchor="end"))
        for hour in range(24):
            count = counts[d][hour]
            tip = _heat_tip(names[d], hour, count)
            x = left + hour * cell_w
            parts.append(_heat_cell(x, y, cell_w, cell_h, count, _level(count, tops), tip))
    bottom, legend = _heat_legend(tops, top + 7 * cell_h + f + 14, layout)
    return bottom + 8, parts + legend


def _heat_narrow(
    names: list[str], counts: list[list[float]], zone: str, layout: Layout
) -> tuple[float, list[str]]:
    """Hours down, weekdays across: 24 rows fit a phone, 24 columns do not."""
    f = layout.font
    left, top, cell_h = round(f * 2.4), 3 * f + 16, 19.0
    cell_w = (layout.width - left - 2) / 7
    tops = _level_tops(max(max(row) for row in counts))
    parts = [_title(0, f + 2, "Hour of day", f"({zone}), by weekday")]
    for d in range(7):
        parts.append(_text(left + (d + 0.5) * cell_w, top - 6, names[d]))
    for hour in range(24):
        y = top + hour * cell_h
        parts.append(_text(left - 6, y + cell_h / 2 + 4, f"{hour:02d}", anchor="end", fill=MUTED))
        for d in range(7):
            count = counts[d][hour]
            tip = _heat_tip(names[d], hour, count)
            x = left + d * cell_w
            parts.append(_heat_cell(x, y, cell_w, cell_h, count, _level(count, tops), tip))
    bottom, legend = _heat_legend(tops, top + 24 * cell_h + f + 12, layout)
    return bottom + 8, parts + legend


def heatmap_svg(report: Mapping[str, Any], layout: Layout = WIDE) -> Markup:
    """Mentions by weekday and local hour in the report's time zone, each hour's count
    written in its cell; darker is more."""
    zone = _heat_zone(report)
    label = f"Mentions by weekday and hour ({zone})"
    if _is_empty(report):
        return _empty(label, layout)
    names, counts = _heat_counts(report)
    draw = _heat_narrow if layout.narrow else _heat_wide
    height, parts = draw(names, counts, zone, layout)
    busiest = max(
        ((counts[d][h], names[d], h) for d in range(7) for h in range(24)),
        key=lambda entry: entry[0],
    )
    aria = f"{label}: busiest {busiest[1]} {busiest[2]:02d}:00 with {busiest[0]:.0f}"
    return _svg(layout, height, aria, parts)


def heatmap_table(report: Mapping[str, Any]) -> Markup:
    """The heatmap's numbers: a row per hour, a column per weekday."""
    names, counts = _heat_counts(report)
    rows = [(f"{hour:02d}", *(f"{counts[d][hour]:.0f}" for d in range(7))) for hour in range(24)]
    return _table(
        f"Mentions by hour of day ({_heat_zone(report)}) and weekday",
        ("Hour", *names),
        rows,
    )


# --------------------------------------------------------------------------- the page


def chart_figures(report: Mapping[str, Any]) -> dict[str, Markup]:
    """Each chart as the report page shows it: the wide and the narrow drawing (charts.css
    shows the one that fits the screen), then its numbers behind a ``<details>``."""
    drawn = {
        "histogram": (histogram_svg, histogram_table),
        "daily": (daily_svg, daily_table),
        "heatmap": (heatmap_svg, heatmap_table),
    }
    figures: dict[str, Markup] = {}
    for name, (svg, table) in drawn.items():
        parts = [svg(report, layout) for layout in LAYOUTS]
        if not _is_empty(report):
            parts.append(table(report))
        figures[name] = Markup("").join(parts)
    return figures
