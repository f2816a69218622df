"""How a time and a duration are written, once for every JSON body, page and chart.

A JSON body, the CSV and the stored report carry instants as ``iso`` (UTC, X's own
format: machines compare them); a page shows every time as ``local_time``, on the wall
clock of the report's zone and naming it, so a person never has to guess which clock a
time is on.

Pure code: no I/O, no clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo


def iso(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ`` in UTC, X's own format (sub-millisecond digits are
    dropped; a naive datetime is read as UTC)."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.isoformat(timespec="milliseconds")[:-6] + "Z"  # drop "+00:00"


def local_time(moment: datetime | str, zone: str) -> str:
    """``2026-03-29 09:15 Europe/London``: the instant on the wall clock of the IANA ``zone``,
    to the minute (floored, as a clock shows it), then the zone's name: the one way a page
    writes a time. ``moment`` is a datetime (naive: UTC) or ISO text as the JSON holds it.
    Text that is no timestamp is returned as it is, and a zone this machine does not know
    (tzdata dropped it since the report was made) shows the time in UTC, named so: the
    page still opens and no time is ever shown on an unnamed clock."""
    if isinstance(moment, str):
        text = moment
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return text
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        clock: tzinfo = ZoneInfo(zone)
    except Exception:  # ZoneInfoNotFoundError, ValueError, TypeError, OSError...
        clock, zone = UTC, "UTC"
    return f"{moment.astimezone(clock):%Y-%m-%d %H:%M} {zone}"


def duration(seconds: float | None, *, compact: bool = False) -> str:
    """12 s, 4 min, 1 h 40 min, 3 d 2 h: whole units, the remainder dropped (a page says
    "59 min" until the hour is full). ``compact``, for chart labels, rounds to the nearest
    unit instead: 12s, 4m, 1h40m, 1h05m, 3d2h. An em dash when there is no value."""
    if seconds is None:
        return "—"
    whole = round(seconds)
    if compact:
        return _compact(whole)
    if whole < 60:
        return f"{whole} s"
    minutes = whole // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def _compact(whole: int) -> str:
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{round(whole / 60)}m"
    if whole < 86400:
        hours, minutes = divmod(round(whole / 60), 60)
        return f"{hours}h{minutes:02d}m" if minutes else f"{hours}h"
    days, hours = divmod(round(whole / 3600), 24)
    return f"{days}d{hours}h" if hours else f"{days}d"
