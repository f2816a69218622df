"""How a time and a duration are written, once for every JSON body, page and chart.

Pure code: no I/O, no clock.
"""

from __future__ import annotations

from datetime import UTC, datetime


def iso(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ`` in UTC, X's own format (sub-millisecond digits are
    dropped; a naive datetime is read as UTC)."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.isoformat(timespec="milliseconds")[:-6] + "Z"  # drop "+00:00"


def duration(seconds: float | None, *, compact: bool = False) -> str:
    """To the nearest unit that matters: 12 s, 4 min, 1 h 40 min, 3 d 2 h (``compact``, for
    chart labels: 12s, 4m, 1h40m, 3d2h); an em dash when there is no value."""
    if seconds is None:
        return "—"
    whole = round(seconds)
    if whole < 60:
        return _join(((whole, "s"),), compact)
    if whole < 3600:
        return _join(((round(whole / 60), "min"),), compact)
    if whole < 86400:
        hours, minutes = divmod(round(whole / 60), 60)
        return _join(((hours, "h"), (minutes, "min")), compact)
    days, hours = divmod(round(whole / 3600), 24)
    return _join(((days, "d"), (hours, "h")), compact)


def _join(parts: tuple[tuple[int, str], ...], compact: bool) -> str:
    """The leading part always, the second only when it is not zero."""
    shown = [parts[0], *(part for part in parts[1:] if part[0])]
    if not compact:
        return " ".join(f"{value} {unit}" for value, unit in shown)
    text = f"{shown[0][0]}{shown[0][1][0] if shown[0][1] == 'min' else shown[0][1]}"
    if len(shown) == 2:  # 1h05m, 2d3h
        value, unit = shown[1]
        text += f"{value:02d}m" if unit == "min" else f"{value}{unit}"
    return text
