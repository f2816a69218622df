"""chalicelib.formats: how a duration and a time are written, as a person reads them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from chalicelib.formats import duration, iso, local_time


def test_a_page_shows_whole_units_with_the_remainder_dropped() -> None:
    seconds = (0, 45, 119, 3590, 3600, 5399, 86399, 86400, 93600, 180000)
    assert [duration(s) for s in seconds] == [
        "0 s",
        "45 s",
        "1 min",
        "59 min",  # not "60 min": the hour is not full
        "1 h",
        "1 h 29 min",
        "23 h 59 min",
        "1 d",
        "1 d 2 h",
        "2 d 2 h",
    ]
    assert duration(None) == "—"


def test_a_chart_label_rounds_to_the_nearest_unit() -> None:
    seconds = (45, 899, 3900, 4800, 108000)
    assert [duration(s, compact=True) for s in seconds] == ["45s", "15m", "1h05m", "1h20m", "1d6h"]


def test_iso_is_xs_own_format_in_utc() -> None:
    moment = datetime(2026, 11, 28, 16, 5, 14, 123456, tzinfo=timezone(timedelta(hours=1)))
    assert iso(moment) == "2026-11-28T15:05:14.123Z"
    assert iso(datetime(2026, 11, 28, 15, 5, 14)) == "2026-11-28T15:05:14.000Z"  # naive: UTC
    assert iso(datetime(2026, 11, 28, tzinfo=UTC)) == "2026-11-28T00:00:00.000Z"


def test_a_time_is_written_on_the_zones_wall_clock_and_names_it() -> None:
    # 2026-03-29T08:15Z is 09:15 BST; 2026-11-28T05:00Z is 21:00 PST on the 27th
    assert (
        local_time("2026-03-29T08:15:00.000Z", "Europe/London") == "2026-03-29 09:15 Europe/London"
    )
    assert local_time(datetime(2026, 11, 28, 5, 0, 59, tzinfo=UTC), "America/Los_Angeles") == (
        "2026-11-27 21:00 America/Los_Angeles"
    )
    assert local_time("2026-11-28T05:00:00.000Z", "UTC") == "2026-11-28 05:00 UTC"
    naive = datetime(2026, 11, 28, 5, 0)  # read as UTC; Tokyo is UTC+9
    assert local_time(naive, "Asia/Tokyo") == "2026-11-28 14:00 Asia/Tokyo"


def test_a_zone_this_machine_does_not_know_is_shown_as_utc_and_named_so() -> None:
    assert local_time("2026-11-28T05:00:00.000Z", "Mars/Olympus_Mons") == "2026-11-28 05:00 UTC"
    assert local_time("not a time", "Europe/London") == "not a time"
