"""Business seconds: how much of the time between two instants a care team was open.

Pure code, no I/O. The team is open on each workday that is not a holiday, from ``opens`` to
``closes`` on the wall clock of its time zone. The business seconds between two instants
are the length of their overlap with those open intervals. Each interval is placed by the
wall clock, so the hours are DST-correct: ``00:00-24:00`` on the Sunday clocks go forward
is 23 hours long, 25 on the Sunday they go back; a wall time the change skips (02:30 in a
spring gap) is read with the offset before the change, as ``zoneinfo`` does.

`BusinessClock` precomputes the intervals of a span of dates and their running total, so
each question costs one binary search: the report asks it twice per answered mention.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Collection, Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_DAY = timedelta(days=1)


class BusinessClock:
    def __init__(
        self,
        opens: int,
        closes: int,
        workdays: Collection[int],
        holidays: Collection[date],
        zone: ZoneInfo,
        first: date,
        last: date,
    ) -> None:
        """Open from ``opens`` to ``closes`` (minutes after local midnight, ``closes`` up to
        1440) on ``workdays`` (Monday 0) but not on ``holidays``, for the local dates
        ``first`` to ``last``. Instants outside those dates see no open time: give a span a
        day wider than the instants asked about."""
        self._starts: list[int] = []  # epoch milliseconds of each interval's opening
        self._ends: list[int] = []
        self._before: list[int] = []  # open milliseconds before each interval
        total = 0
        day = first
        workdays, holidays = frozenset(workdays), frozenset(holidays)
        while day <= last:
            if day.weekday() in workdays and day not in holidays:
                midnight = datetime.combine(day, time(0), zone)
                # Aware + timedelta is wall-clock arithmetic; .timestamp() then applies the
                # offset in force at that wall time.
                start = round((midnight + timedelta(minutes=opens)).timestamp() * 1000)
                end = round((midnight + timedelta(minutes=closes)).timestamp() * 1000)
                if end > start:
                    self._starts.append(start)
                    self._ends.append(end)
                    self._before.append(total)
                    total += end - start
            day += _DAY

    def open_ms_until(self, instant_ms: int) -> int:
        """Open milliseconds from the span's start to ``instant_ms``."""
        i = bisect_right(self._starts, instant_ms) - 1
        if i < 0:
            return 0
        return self._before[i] + min(instant_ms, self._ends[i]) - self._starts[i]

    def between_ms(self, start_ms: int, end_ms: int) -> int:
        """Open milliseconds between two instants (0 when ``end`` is not after ``start``)."""
        if end_ms <= start_ms:
            return 0
        return self.open_ms_until(end_ms) - self.open_ms_until(start_ms)

    def durations_ms(self, spans: Iterable[tuple[int, int]]) -> list[int]:
        """``between_ms`` of many (start, length) pairs in milliseconds: the same arithmetic
        in one loop, since the report asks for one per answered mention and case."""
        starts, ends, before = self._starts, self._ends, self._before
        out = []
        for start, length in spans:
            total = 0
            if length > 0:
                end = start + length
                i = bisect_right(starts, end) - 1
                if i >= 0:
                    total = before[i] + min(end, ends[i]) - starts[i]
                    i = bisect_right(starts, start) - 1
                    if i >= 0:
                        total -= before[i] + min(start, ends[i]) - starts[i]
            out.append(total)
        return out
