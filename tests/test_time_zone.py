"""The report's zone applies to everything it shows: the daily rows are the zone's calendar
days (23 or 25 hours when the clocks change) and every time on the page is written on its
wall clock, naming it. Pure code; every expected value is computed by hand in a comment.
GIVEN / WHEN / THEN."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from chalicelib import report_view
from chalicelib.analytics import ReportSettings, build
from chalicelib.report_body import StoredReport
from chalicelib.report_settings import resolve
from tests.posts import ACCOUNT, mention, reply


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def daily(
    mentions: Iterable[dict],
    now: datetime,
    days: int,
    tz: str = "UTC",
    own: Iterable[dict] = (),
) -> list[dict[str, Any]]:
    report = build(ACCOUNT, "acme", mentions, own, {}, now, ReportSettings(days=days, tz=tz))
    return cast("list[dict[str, Any]]", report.to_dict()["daily"])


def counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {row["date"]: row["mentions"] for row in rows}


def partial(rows: list[dict[str, Any]]) -> list[bool]:
    return [row["partial"] for row in rows]


# --------------------------------------------------------------------------- London, spring

# Sunday 29 March 2026: at 01:00 UTC London goes from 01:00 GMT (UTC+0) to 02:00 BST
# (UTC+1). Its 29 March runs from 2026-03-29T00:00Z to 2026-03-29T23:00Z: 23 hours.
SPRING = [
    mention("1", utc(2026, 3, 28, 23, 59, 59)),  # 23:59:59 GMT on the 28th
    mention("2", utc(2026, 3, 29, 0, 0)),  # 00:00 GMT: the 29th begins
    mention("3", utc(2026, 3, 29, 22, 59, 59)),  # 23:59:59 BST: the 29th's last second
    mention("4", utc(2026, 3, 29, 23, 0)),  # 00:00 BST on the 30th (UTC still says the 29th)
    mention("5", utc(2026, 3, 30, 12, 0)),  # 13:00 BST on the 30th
]
SPRING_NOW = utc(2026, 3, 31, 10, 0)  # 11:00 BST; three days back: 28 March 10:00 GMT


def test_the_spring_sunday_is_23_hours_and_a_mention_at_local_midnight_is_the_next_day() -> None:
    # GIVEN the mentions above, 3 and 4 answered after 60 s and 120 s
    own = [reply("13", "3", utc(2026, 3, 29, 23, 0, 59)), reply("14", "4", utc(2026, 3, 29, 23, 2))]
    # WHEN the report is made in London
    rows = daily(SPRING, SPRING_NOW, days=3, tz="Europe/London", own=own)
    # THEN 28 March: 1; 29 March: 2 and 3; 30 March: 4 and 5; 31 March: none. Each day's
    #      answers are its own mentions' (29th: 60 s; 30th: mention 4's 120 s)
    assert rows == [
        {
            "date": "2026-03-28",
            "mentions": 1,
            "answered": 0,
            "median_seconds": None,
            "partial": True,
        },
        {
            "date": "2026-03-29",
            "mentions": 2,
            "answered": 1,
            "median_seconds": 60,
            "partial": False,
        },
        {
            "date": "2026-03-30",
            "mentions": 2,
            "answered": 1,
            "median_seconds": 120,
            "partial": False,
        },
        {
            "date": "2026-03-31",
            "mentions": 0,
            "answered": 0,
            "median_seconds": None,
            "partial": True,
        },
    ]


def test_the_same_mentions_on_utc_days_by_default() -> None:
    # GIVEN the same mentions / WHEN the report is made with the default zone
    rows = daily(SPRING, SPRING_NOW, days=3)
    # THEN UTC dates, as before: mention 4 (23:00Z) is on the 29th
    assert counts(rows) == {"2026-03-28": 1, "2026-03-29": 3, "2026-03-30": 1, "2026-03-31": 0}
    assert partial(rows) == [True, False, False, True]


def test_one_day_of_24_hours_holds_the_whole_23_hour_day_and_touches_three_dates() -> None:
    # GIVEN 24 hours from 23:30 GMT on the 28th (23:30Z) to 00:30 BST on the 30th (23:30Z)
    now = utc(2026, 3, 29, 23, 30)
    # WHEN
    rows = daily(SPRING, now, days=1, tz="Europe/London")
    # THEN the 28th (its last half hour: mention 1), the whole 29th (2 and 3), and the 30th's
    #      first half hour (mention 4): days + 2 dates, only the middle one whole
    assert counts(rows) == {"2026-03-28": 1, "2026-03-29": 2, "2026-03-30": 1}
    assert partial(rows) == [True, False, True]


# --------------------------------------------------------------------------- London, autumn

# Sunday 25 October 2026: at 01:00 UTC London goes from 02:00 BST back to 01:00 GMT. Its
# 25 October runs from 2026-10-24T23:00Z to 2026-10-26T00:00Z: 25 hours.
AUTUMN = [
    mention("1", utc(2026, 10, 24, 22, 59, 59)),  # 23:59:59 BST on the 24th
    mention("2", utc(2026, 10, 24, 23, 0)),  # 00:00 BST on the 25th (UTC says the 24th)
    mention("3", utc(2026, 10, 25, 0, 30)),  # 01:30 BST, the first time
    mention("4", utc(2026, 10, 25, 1, 30)),  # 01:30 GMT, the second time
    mention("5", utc(2026, 10, 25, 23, 59, 59)),  # 23:59:59 GMT: the 25th's last second
    mention("6", utc(2026, 10, 26, 0, 0)),  # 00:00 GMT on the 26th
]
AUTUMN_NOW = utc(2026, 10, 26, 12, 0)  # 12:00 GMT; two days back: 24 October 13:00 BST


def test_the_autumn_sunday_is_25_hours_and_holds_both_half_past_ones() -> None:
    # WHEN the report is made in London
    rows = daily(AUTUMN, AUTUMN_NOW, days=2, tz="Europe/London")
    # THEN the 24th: 1; the 25th: 2, 3, 4 and 5 (its 25 hours); the 26th: 6
    assert counts(rows) == {"2026-10-24": 1, "2026-10-25": 4, "2026-10-26": 1}
    assert partial(rows) == [True, False, True]
    # AND in UTC the 24th has 1 and 2, the 25th 3, 4 and 5
    assert counts(daily(AUTUMN, AUTUMN_NOW, days=2)) == {
        "2026-10-24": 2,
        "2026-10-25": 3,
        "2026-10-26": 1,
    }


def test_one_day_of_24_hours_inside_the_25_hour_day_is_one_partial_date() -> None:
    # GIVEN 24 hours from 00:30 BST (23:30Z on the 24th) to 23:30 GMT on the 25th
    now = utc(2026, 10, 25, 23, 30)
    # WHEN
    rows = daily(AUTUMN, now, days=1, tz="Europe/London")
    # THEN one date, and only part of it: mentions 3 and 4 (2 is before 00:30, 5 after 23:30)
    assert counts(rows) == {"2026-10-25": 2}
    assert partial(rows) == [True]


# --------------------------------------------------------------------------- Los Angeles


def test_los_angeles_days_where_the_utc_date_is_a_day_ahead() -> None:
    # GIVEN Los Angeles in November 2026 is PST (UTC-8): 05:00Z on the 27th is 21:00 on the
    #       26th, 07:59:59Z is 23:59:59 on the 26th and 08:00Z is midnight of the 27th
    mentions = [
        mention("1", utc(2026, 11, 27, 5, 0)),
        mention("2", utc(2026, 11, 27, 7, 59, 59)),
        mention("3", utc(2026, 11, 27, 8, 0)),
    ]
    now = utc(2026, 11, 28, 12, 0)  # 04:00 PST on the 28th; two days back: 04:00 on the 26th
    # WHEN
    rows = daily(mentions, now, days=2, tz="America/Los_Angeles")
    # THEN the 26th: 1 and 2; the 27th: 3; the 28th (04:00 so far): none
    assert counts(rows) == {"2026-11-26": 2, "2026-11-27": 1, "2026-11-28": 0}
    assert partial(rows) == [True, False, True]
    # AND in UTC all three are on the 27th
    assert counts(daily(mentions, now, days=2)) == {
        "2026-11-26": 0,
        "2026-11-27": 3,
        "2026-11-28": 0,
    }


def test_a_window_from_local_midnight_has_a_whole_first_day() -> None:
    # GIVEN now is midnight PST of the 28th (08:00Z): the window starts at midnight of the 26th
    now = utc(2026, 11, 28, 8, 0)
    # WHEN
    rows = daily([mention("1", now)], now, days=2, tz="America/Los_Angeles")
    # THEN the 26th and 27th are whole; the 28th holds one instant (mention 1), so partial
    assert counts(rows) == {"2026-11-26": 0, "2026-11-27": 0, "2026-11-28": 1}
    assert partial(rows) == [False, False, True]


def test_daily_rows_match_zoneinfo_over_a_whole_year() -> None:
    # GIVEN one mention every 7 min 13 s through 2026 in a zone with DST
    zone = ZoneInfo("America/New_York")
    start = utc(2026, 1, 1)
    moments = [start + timedelta(seconds=433 * i) for i in range(365 * 24 * 3600 // 433)]
    expected: dict[str, int] = {}
    for moment in moments:
        day = moment.astimezone(zone).date().isoformat()
        expected[day] = expected.get(day, 0) + 1
    mentions = [mention(str(10**6 + i), m) for i, m in enumerate(moments)]
    # WHEN
    rows = daily(mentions, moments[-1], days=366, tz="America/New_York")
    # THEN every mention is on its local date, and every local date of the window has a row
    assert {day: n for day, n in counts(rows).items() if n} == expected
    assert [row["date"] for row in rows] == sorted(counts(rows))
    assert len(rows) == 367 and partial(rows).count(True) == 2


def test_the_json_names_the_zone_and_keeps_utc_instants() -> None:
    # GIVEN the spring mentions / WHEN the report is made in London
    body = build(
        ACCOUNT, "acme", SPRING, [], {}, SPRING_NOW, ReportSettings(days=3, tz="Europe/London")
    ).to_dict()
    # THEN the window says the zone of its days; instants stay X's UTC format
    assert body["window"] == {
        "start": "2026-03-28T10:00:00.000Z",
        "end": "2026-03-31T10:00:00.000Z",
        "days": 3,
        "tz": "Europe/London",
    }
    assert body["heatmap"]["tz"] == "Europe/London"
    assert body["unanswered"][0]["created_at"] == "2026-03-30T12:00:00.000Z"


# --------------------------------------------------------------------------- the page's context


def stored(settings: dict[str, str], **source: Any) -> StoredReport:
    """A report as the page gets it: the spring mentions, one answered after 3 h (slowest),
    a crowd mention (left out), the rest waiting; made with ``settings`` as a query gives
    them."""
    mentions = [
        *SPRING,
        mention("7", utc(2026, 3, 30, 23, 30), text="@acme @b @c @d @e @f @g deal?"),
    ]
    own = [reply("15", "5", utc(2026, 3, 30, 15, 0))]
    resolved = resolve(settings)
    report = build(ACCOUNT, "acme", mentions, own, {}, SPRING_NOW, resolved.report)
    return cast(
        "StoredReport",
        {
            **report.to_dict(),
            "settings": resolved.to_json(),
            "source": {
                "x_requests": 0,
                "x_posts_read": 0,
                "archive_posts": 8,
                "refreshed_at": "2026-03-31T09:59:00.000Z",
                "stale": True,
                "still_reading": False,
                "reset_time": int(utc(2026, 3, 31, 10, 15).timestamp()),
                "archive_available": True,
                "complete_since": "2026-03-29T23:30:00.000Z",
                **source,
            },
        },
    )


def test_every_time_of_the_page_is_in_the_reports_zone_and_names_it() -> None:
    # GIVEN a London report
    context = report_view.context(stored({"tz": "Europe/London", "days": "3"}), {})
    # THEN the banners' times are BST (UTC+1) and say Europe/London
    assert context["updated_at"] == "2026-03-31 10:59 Europe/London"
    assert context["as_of"] == "2026-03-31 10:59 Europe/London"
    assert context["come_back_at"] == "2026-03-31 11:15 Europe/London"
    assert context["data_begins"] == "2026-03-30 00:30 Europe/London"  # 23:30Z on the 29th
    # AND the tables' times too: mention 5 (slowest) at 12:00Z, crowd mention 7 at 23:30Z
    when = context["when"]
    assert when(context["report"]["slowest"][0]["created_at"]) == "2026-03-30 13:00 Europe/London"
    assert when(context["report"]["left_out"][0]["created_at"]) == "2026-03-31 00:30 Europe/London"
    # AND the daily chart's days are London's
    assert (context["zone"], context["zone_label"]) == ("Europe/London", "Europe/London")


def test_by_default_every_time_is_utc_and_says_so() -> None:
    context = report_view.context(stored({"days": "3"}), {})
    assert context["as_of"] == "2026-03-31 09:59 UTC"
    assert context["come_back_at"] == "2026-03-31 10:15 UTC"
    assert context["data_begins"] == "2026-03-29 23:30 UTC"
    assert context["zone_label"] == "UTC"


def test_a_report_stored_before_days_followed_the_zone_says_its_days_are_utc() -> None:
    # GIVEN a Tokyo report stored before the window named its zone (its days were UTC's)
    body = stored({"tz": "Asia/Tokyo", "days": "3"})
    window = cast("dict[str, Any]", body["window"])
    del window["tz"]
    for row in body["daily"]:
        del cast("dict[str, Any]", row)["partial"]
    # WHEN the page is made
    context = report_view.context(body, {})
    # THEN its times are still Tokyo's (UTC+9, the heatmap's zone) and its days UTC dates
    assert context["as_of"] == "2026-03-31 18:59 Asia/Tokyo"
    assert (context["zone"], context["zone_label"]) == ("Asia/Tokyo", "UTC")
