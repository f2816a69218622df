"""The trend of a long window (analytics' `trend`): days up to 90 days, weeks (Monday first)
up to 730, calendar months beyond, each of the report's zone, every figure computed from
the period's mentions. Hand-computed, GIVEN / WHEN / THEN."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest

from chalicelib import analytics
from chalicelib.analytics import ReportSettings, build
from tests.posts import ACCOUNT, mention, reply

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)  # a Saturday; 21:00 in Tokyo


def trend(
    posts: Iterable[tuple[datetime, float | None]], now: datetime = NOW, **settings: Any
) -> dict[str, Any]:
    """The JSON's trend for mentions at these instants, each answered that many seconds
    later (None: not answered)."""
    mentions, own = [], []
    for i, (at, seconds) in enumerate(posts):
        mentions.append(mention(str(1000 + i), at))
        if seconds is not None:
            own.append(reply(str(5000 + i), str(1000 + i), at + timedelta(seconds=seconds)))
    report = build(ACCOUNT, "acme", mentions, own, {}, now, ReportSettings(**settings))
    return cast("dict[str, Any]", report.to_dict()["trend"])


def row(rows: list[dict[str, Any]], start: str) -> dict[str, Any]:
    return next(r for r in rows if r["start"] == start)


@pytest.mark.parametrize(
    ("days", "period"),
    [(1, "day"), (90, "day"), (91, "week"), (730, "week"), (731, "month"), (3650, "month")],
)
def test_the_period_follows_the_window_s_length(days: int, period: str) -> None:
    assert analytics.trend_period(days) == period
    assert trend([], days=days)["period"] == period


def test_up_to_90_days_the_trend_is_the_daily_rows() -> None:
    # GIVEN a 90-day window with a few answered mentions
    posts = [(NOW - timedelta(days=d, hours=3), 60.0 * d) for d in (1, 2, 2, 40, 89)]
    mentions = [mention(str(i), at) for i, (at, _) in enumerate(posts)]
    own = [
        reply(str(100 + i), str(i), at + timedelta(seconds=s)) for i, (at, s) in enumerate(posts)
    ]
    # WHEN the report is built
    body = build(ACCOUNT, "acme", mentions, own, {}, NOW, ReportSettings(days=90)).to_dict()
    # THEN the trend has a row per day, the daily row's figures under its date
    trend_rows = body["trend"]["rows"]
    assert body["trend"]["period"] == "day"
    assert [r["start"] for r in trend_rows] == [r["end"] for r in trend_rows]
    assert [{**r, "date": r["start"]} for r in trend_rows] == [
        {**d, "start": d["date"], "end": d["date"]} for d in body["daily"]
    ]


def test_weeks_start_on_monday_in_the_report_s_zone() -> None:
    # GIVEN two mentions a second apart on Sunday 22 November in UTC: 23:59:59 on Sunday
    #       and 00:00 on Monday 23 November in Tokyo (UTC+9)
    sunday = datetime(2026, 11, 22, 14, 59, 59, tzinfo=UTC)
    posts = [(sunday, 60.0), (sunday + timedelta(seconds=1), 120.0)]
    # WHEN the 100-day trend is cut in Tokyo, and in UTC
    tokyo = trend(posts, days=100, tz="Asia/Tokyo")["rows"]
    utc = trend(posts, days=100)["rows"]
    # THEN in Tokyo the first is in the week of Monday 16 November, the second in the next
    assert row(tokyo, "2026-11-16") == {
        "start": "2026-11-16",
        "end": "2026-11-22",
        "mentions": 1,
        "answered": 1,
        "median_seconds": 60,
        "partial": False,
    }
    assert row(tokyo, "2026-11-23") == {
        "start": "2026-11-23",
        "end": "2026-11-29",
        "mentions": 1,
        "answered": 1,
        "median_seconds": 120,
        "partial": True,  # the window ends on Saturday evening
    }
    # AND in UTC both are in the week of 16 November, whose median is of both (90 s)
    assert row(utc, "2026-11-16")["mentions"] == 2
    assert row(utc, "2026-11-16")["median_seconds"] == 90
    assert row(utc, "2026-11-23")["mentions"] == 0
    # AND every week is Monday to Sunday, one after another
    for week in tokyo:
        start, end = (datetime.fromisoformat(week[k]).date() for k in ("start", "end"))
        assert start.weekday() == 0 and end - start == timedelta(days=6)
    assert [r["start"] for r in tokyo[1:]] == [
        (datetime.fromisoformat(r["end"]) + timedelta(days=1)).date().isoformat()
        for r in tokyo[:-1]
    ]


def test_a_week_s_median_is_of_its_mentions_not_of_its_days() -> None:
    # GIVEN in the week of 16 November: Monday one answer after 60 s, Wednesday three
    #       after 120, 600 and 900 s, and one unanswered on Friday
    monday = datetime(2026, 11, 16, 10, 0, tzinfo=UTC)
    wednesday = monday + timedelta(days=2)
    posts = [
        (monday, 60.0),
        (wednesday, 120.0),
        (wednesday + timedelta(hours=1), 600.0),
        (wednesday + timedelta(hours=2), 900.0),
        (monday + timedelta(days=4), None),
    ]
    # WHEN
    week = row(trend(posts, days=365)["rows"], "2026-11-16")
    # THEN the median of 60, 120, 600, 900 is 360 s (the days' medians, 60 and 600, would
    #      give 330), five mentions, four answered
    assert (week["mentions"], week["answered"], week["median_seconds"]) == (5, 4, 360)


def test_a_week_without_mentions_has_its_row() -> None:
    # GIVEN mentions three weeks apart
    posts = [
        (datetime(2026, 11, 2, 9, tzinfo=UTC), 30.0),
        (datetime(2026, 11, 23, 9, tzinfo=UTC), 30.0),
    ]
    # WHEN
    rows = trend(posts, days=120)["rows"]
    # THEN the two weeks between them are there, empty
    for start in ("2026-11-09", "2026-11-16"):
        assert row(rows, start) == {
            "start": start,
            "end": (datetime.fromisoformat(start) + timedelta(days=6)).date().isoformat(),
            "mentions": 0,
            "answered": 0,
            "median_seconds": None,
            "partial": False,
        }


def test_the_first_and_last_weeks_are_partial_unless_the_window_holds_them_whole() -> None:
    # GIVEN a 91-day window from Monday 7 September 00:00 in Berlin (22:00 UTC the day
    #       before) to Sunday 6 December 23:00 in Berlin, an hour before its week ends
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 9, 7, tzinfo=berlin).astimezone(UTC)
    now = start + timedelta(days=91)
    # WHEN
    whole = trend([], now=now, days=91, tz="Europe/Berlin")["rows"]
    later = trend([], now=now + timedelta(minutes=1), days=91, tz="Europe/Berlin")["rows"]
    # THEN it touches the 13 weeks from 7 September; only the last is partial
    assert [r["start"] for r in whole][:2] == ["2026-09-07", "2026-09-14"]
    assert whole[-1]["start"] == "2026-11-30" and len(whole) == 13
    assert [r["partial"] for r in whole] == [False] * 12 + [True]
    # AND a window a minute later starts a minute into its first week: partial too
    assert (later[0]["start"], later[0]["partial"]) == ("2026-09-07", True)
    assert later[-1]["partial"] is True


def test_months_are_the_zone_s_calendar_months() -> None:
    # GIVEN in New York (UTC-4 until 1 November 06:00 UTC) a mention at 23:30 on
    #       31 October and one at midnight on 1 November, both 1 November in UTC
    halloween = datetime(2026, 11, 1, 3, 30, tzinfo=UTC)
    posts = [(halloween, 600.0), (halloween + timedelta(minutes=30), None)]
    # WHEN a 1,000-day trend is cut in New York, and in UTC
    york = trend(posts, days=1000, tz="America/New_York")
    utc = trend(posts, days=1000)["rows"]
    # THEN a row per month, October's and November's with one mention each
    assert york["period"] == "month"
    assert row(york["rows"], "2026-10-01") == {
        "start": "2026-10-01",
        "end": "2026-10-31",
        "mentions": 1,
        "answered": 1,
        "median_seconds": 600,
        "partial": False,
    }
    assert row(york["rows"], "2026-11-01") == {
        "start": "2026-11-01",
        "end": "2026-11-30",
        "mentions": 1,
        "answered": 0,
        "median_seconds": None,
        "partial": True,  # the window ends on 28 November
    }
    # AND in UTC both are November's
    assert (row(utc, "2026-10-01")["mentions"], row(utc, "2026-11-01")["mentions"]) == (0, 2)
    # AND February has its 28 days, and the first month (the window starts on
    #     3 March 2024 in New York) is partial
    assert row(york["rows"], "2026-02-01")["end"] == "2026-02-28"
    first = york["rows"][0]
    assert (first["start"], first["partial"]) == ("2024-03-01", True)


def test_ten_years_of_months_count_every_mention_once() -> None:
    # GIVEN a mention every 9 days for ten years, every third one unanswered
    posts = [
        (NOW - timedelta(days=9 * i, hours=1), None if i % 3 == 0 else 60.0 * (i % 7 + 1))
        for i in range(405)
    ]
    # WHEN
    body = trend(posts, days=3650, tz="Europe/London")
    rows = body["rows"]
    # THEN 121 months (the window starts on 30 November 2016: two leap days in ten years),
    #      each mention in one of them
    assert (rows[0]["start"], rows[-1]["start"], len(rows)) == ("2016-11-01", "2026-11-01", 121)
    assert sum(r["mentions"] for r in rows) == 405
    assert sum(r["answered"] for r in rows) == 270
    assert [r["partial"] for r in rows] == [True] + [False] * 119 + [True]
    # AND a leap year's February has its 29th
    assert row(rows, "2024-02-01")["end"] == "2024-02-29"
