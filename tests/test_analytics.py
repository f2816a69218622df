"""chalicelib.analytics: hand-computed cases, GIVEN / WHEN / THEN."""

from __future__ import annotations

import csv
import io
import json
import random
import statistics
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib import analytics
from chalicelib.analytics import InvalidReportParameter, ReportSettings, build, to_csv
from chalicelib.report_settings import parse_days, parse_target_minutes, parse_tz
from tests.posts import ACCOUNT, iso, mention, reply

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)  # a Saturday
T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)  # a Friday, inside the default window


def run(
    mentions: Iterable[dict],
    own: Iterable[dict] = (),
    users: dict[str, str] | None = None,
    now: datetime = NOW,
    **settings: Any,
) -> analytics.Report:
    return build(ACCOUNT, "acme", mentions, own, users or {}, now, ReportSettings(**settings))


def answered_after(seconds: Iterable[float], start: datetime = T0) -> tuple[list, list]:
    """One mention per value (an hour apart), each answered that many seconds later."""
    mentions, own = [], []
    for i, value in enumerate(seconds):
        at = start + timedelta(hours=i)
        mentions.append(mention(str(1000 + i), at))
        own.append(reply(str(5000 + i), str(1000 + i), at + timedelta(seconds=value)))
    return mentions, own


# --------------------------------------------------------------------------- basics


def test_no_mentions_gives_empty_but_complete_report() -> None:
    # GIVEN no mentions at all (and an unrelated post of the account)
    own = [{"id": "9", "text": "hello world", "created_at": iso(T0), "author_id": ACCOUNT}]
    # WHEN the report is built
    result = run([], own)
    body = result.to_dict()
    # THEN every figure is zero or null, and the shape is complete
    assert body["account"] == {"id": ACCOUNT, "username": "acme"}
    assert body["generated_at"] == "2026-11-28T12:00:00.000Z"
    assert body["window"] == {
        "start": "2026-10-31T12:00:00.000Z",
        "end": "2026-11-28T12:00:00.000Z",
        "days": 28,
        "tz": "UTC",
    }
    assert body["target_seconds"] == 3600
    assert (body["mentions"], body["answered"], body["answered_within_target"]) == (0, 0, 0)
    assert body["response_rate"] is None
    assert body["within_target_rate"] is None
    assert body["first_response_seconds"] == dict.fromkeys(("mean", "median", "p90", "min", "max"))
    assert [b["bucket"] for b in body["histogram"]] == list(analytics.HISTOGRAM_BUCKETS)
    assert all(b["count"] == 0 for b in body["histogram"])
    assert len(body["daily"]) == 29  # Oct 31 .. Nov 28, both partial days included
    assert all(
        d == {**d, "mentions": 0, "answered": 0, "median_seconds": None} for d in body["daily"]
    )
    assert body["heatmap"]["counts"] == [[0] * 24 for _ in range(7)]
    assert body["slowest"] == [] and body["unanswered"] == []
    assert json.loads(json.dumps(body)) == body
    assert result.rows == []
    assert to_csv(result) == (
        "id,created_at,author,answered,reply_id,response_seconds,link,text,"
        "case_id,excluded,business_seconds,signature,response_hms,business_hms\r\n"
    )


def test_nothing_answered() -> None:
    # GIVEN three mentions and no reply from the account
    mentions = [mention(str(10 + i), T0 + timedelta(minutes=i)) for i in range(3)]
    # WHEN
    body = run(mentions).to_dict()
    # THEN the rate is 0 (not null), the stats are null, all three are unanswered
    assert (body["mentions"], body["answered"]) == (3, 0)
    assert body["response_rate"] == 0.0
    assert body["within_target_rate"] == 0.0
    assert body["first_response_seconds"]["median"] is None
    assert body["histogram"][-1] == {"bucket": "unanswered", "count": 3}
    assert [u["id"] for u in body["unanswered"]] == ["12", "11", "10"]
    # T0 + 2 min is 25 h 58 min before NOW
    assert body["unanswered"][0]["age_seconds"] == 26 * 3600 - 120


def test_one_answered_mention() -> None:
    # GIVEN a mention answered 10 minutes later and one left unanswered
    mentions = [mention("10", T0), mention("11", T0 + timedelta(hours=1), author="201")]
    own = [reply("20", "10", T0 + timedelta(minutes=10))]
    # WHEN
    body = run(mentions, own, users={"200": "alice"}).to_dict()
    # THEN with one value, median = p90 = mean = min = max = 600 s
    assert body["answered"] == 1
    assert body["response_rate"] == 0.5
    assert body["first_response_seconds"] == {
        "mean": 600,
        "median": 600,
        "p90": 600,
        "min": 600,
        "max": 600,
    }
    assert body["slowest"] == [
        {
            "id": "10",
            "author": "alice",
            "author_id": "200",
            "author_url": "https://x.com/alice",
            "text": "hi",
            "created_at": "2026-11-27T10:00:00.000Z",
            "response_seconds": 600,
            "business_seconds": None,
            "reply_id": "20",
            "signature": None,
            "link": "https://x.com/alice/status/10",
        }
    ]
    # an author missing from `users` shows as "user <id>", linked to her profile by id, and
    # her post by X's /i/ path, which needs no handle
    assert body["unanswered"][0]["author"] == "user 201"
    assert body["unanswered"][0]["author_id"] == "201"
    assert body["unanswered"][0]["author_url"] == "https://x.com/i/user/201"
    assert body["unanswered"][0]["link"] == "https://x.com/i/status/11"


# --------------------------------------------------------------------------- what counts


def test_replies_to_posts_that_are_not_mentions_count_for_nothing() -> None:
    # GIVEN one mention; the account replies to other posts, quotes the mention, and
    #       someone else replies to the mention
    mentions = [mention("10", T0)]
    own = [
        reply("20", "999", T0 + timedelta(minutes=1)),  # not a mention
        {
            "id": "21",
            "text": "look",
            "created_at": iso(T0 + timedelta(minutes=2)),
            "author_id": ACCOUNT,
            "referenced_tweets": [{"type": "quoted", "id": "10"}],
        },
        reply("22", "10", T0 + timedelta(minutes=3), author="300"),  # not the account
    ]
    # WHEN
    body = run(mentions, own).to_dict()
    # THEN the mention is unanswered
    assert (body["mentions"], body["answered"]) == (1, 0)


def test_reply_without_author_id_is_the_accounts() -> None:
    # GIVEN an own post without author_id (as some archives store them)
    mentions = [mention("10", T0)]
    own = [reply("20", "10", T0 + timedelta(seconds=42), author=None)]
    # WHEN / THEN it answers the mention
    assert run(mentions, own).to_dict()["first_response_seconds"]["min"] == 42


def test_earliest_of_two_replies_counts_whatever_the_order() -> None:
    # GIVEN two replies to one mention, the later one listed first
    mentions = [mention("10", T0)]
    own = [
        reply("31", "10", T0 + timedelta(hours=2)),
        reply("30", "10", T0 + timedelta(minutes=5)),
    ]
    # WHEN
    result = run(mentions, own)
    # THEN the earliest reply gives the response time; the later changes nothing
    assert result.answered == 1
    assert result.rows[0].reply_id == "30"
    assert result.rows[0].response_seconds == 300
    assert result.to_dict()["first_response_seconds"]["max"] == 300
    # AND the same holds in the other order
    assert run(mentions, own[::-1]).rows[0].reply_id == "30"


def test_reply_before_mention_counts_as_zero() -> None:
    # GIVEN clock skew: the reply is dated 3 s before the mention
    mentions = [mention("10", T0)]
    own = [reply("20", "10", T0 - timedelta(seconds=3))]
    # WHEN
    body = run(mentions, own).to_dict()
    # THEN it is answered in 0 s
    assert body["first_response_seconds"]["min"] == 0
    assert body["histogram"][0] == {"bucket": "<5m", "count": 1}


def test_self_mentions_are_not_mentions() -> None:
    # GIVEN the account mentioning itself (e.g. a thread) and a real mention
    mentions = [mention("10", T0, author=ACCOUNT), mention("11", T0, author="200")]
    own = [reply("20", "10", T0 + timedelta(minutes=1))]
    # WHEN
    body = run(mentions, own).to_dict()
    # THEN only the real mention counts, and the reply to the self-mention counts for nothing
    assert (body["mentions"], body["answered"]) == (1, 0)


def test_retweets_are_not_mentions() -> None:
    # GIVEN a retweet of a post that mentions the account, plus a quote and a reply
    retweet = mention("10", T0, referenced_tweets=[{"type": "retweeted", "id": "5"}])
    quote = mention("11", T0, referenced_tweets=[{"type": "quoted", "id": "5"}])
    answer = mention("12", T0, referenced_tweets=[{"type": "replied_to", "id": "5"}])
    own = [reply("20", "10", T0 + timedelta(minutes=1))]
    # WHEN
    result = run([retweet, quote, answer], own)
    # THEN quotes and replies are mentions, the retweet is not
    assert [r.id for r in result.rows] == ["11", "12"]
    assert result.answered == 0


def test_duplicates_count_once() -> None:
    # GIVEN the same mention twice (overlapping pages) and the same reply twice
    mentions = [mention("10", T0), mention("10", T0), mention("11", T0)]
    own = [reply("20", "10", T0 + timedelta(minutes=1))] * 2
    # WHEN
    result = run(mentions, own)
    # THEN
    assert (result.mentions, result.answered) == (2, 1)
    assert [r.id for r in result.rows] == ["10", "11"]


def test_window_boundaries_are_inclusive() -> None:
    # GIVEN mentions exactly at both ends, 1 ms before the start and 1 s after now
    start = NOW - timedelta(days=7)
    mentions = [
        mention("1", start - timedelta(milliseconds=1)),
        mention("2", start),
        mention("3", NOW),
        mention("4", NOW + timedelta(seconds=1)),
    ]
    # WHEN
    result = run(mentions, days=7)
    # THEN both ends are in, the outsiders are out
    assert [r.id for r in result.rows] == ["2", "3"]
    assert result.to_dict()["window"]["start"] == "2026-11-21T12:00:00.000Z"


def test_reply_to_mention_outside_the_window_counts_for_nothing() -> None:
    # GIVEN an old mention (outside) answered inside the window
    old = NOW - timedelta(days=30)
    result = run([mention("1", old)], [reply("2", "1", NOW - timedelta(days=1))])
    # THEN there is nothing to report
    assert (result.mentions, result.answered) == (0, 0)


# --------------------------------------------------------------------------- statistics


def test_quantiles_against_hand_values() -> None:
    # GIVEN five answered mentions: 60, 120, 300, 600 and 3600 s
    values = [600, 60, 3600, 120, 300]
    # WHEN
    stats = run(*answered_after(values)).to_dict()["first_response_seconds"]
    # THEN (sorted: 60 120 300 600 3600; mean 4680 / 5;
    #       p90: i*m = 9*4 = 36 -> j=3, delta=6 -> (600*4 + 3600*6) / 10 = 2400)
    assert stats == {"mean": 936, "median": 300, "p90": 2400, "min": 60, "max": 3600}
    assert stats["median"] == statistics.quantiles(values, n=2, method="inclusive")[0]
    assert stats["p90"] == statistics.quantiles(values, n=10, method="inclusive")[8]


def test_quantiles_even_count_and_fractions() -> None:
    # GIVEN four answered mentions: 10, 20, 30, 40 s
    stats = run(*answered_after([40, 10, 30, 20])).to_dict()["first_response_seconds"]
    # THEN median = 25; p90: 9*3 = 27 -> j=2, delta=7 -> (30*3 + 40*7) / 10 = 37
    assert stats == {"mean": 25, "median": 25, "p90": 37, "min": 10, "max": 40}
    # AND non-whole values are floats rounded to the millisecond
    stats = run(*answered_after([1, 2, 2.5])).to_dict()["first_response_seconds"]
    assert stats == {"mean": 1.833, "median": 2, "p90": 2.4, "min": 1, "max": 2.5}
    assert isinstance(stats["median"], int) and isinstance(stats["p90"], float)


def test_quantile_helper_matches_statistics_module() -> None:
    # GIVEN random samples (seeded) of whole milliseconds
    rng = random.Random(7)
    for size in (2, 3, 5, 10, 11, 97):
        data = sorted(rng.randrange(10**7) for _ in range(size))
        # THEN the built-in helper gives statistics.quantiles' figures, in ms
        assert analytics._quantile(data, 2, 1) == pytest.approx(
            statistics.quantiles(data, n=2, method="inclusive")[0]
        )
        assert analytics._quantile(data, 10, 9) == pytest.approx(
            statistics.quantiles(data, n=10, method="inclusive")[8]
        )


def test_histogram_bucket_boundaries() -> None:
    # GIVEN responses on both sides of every bucket edge, and one unanswered mention
    values = [0, 299, 300, 899, 900, 3599, 3600, 14399, 14400, 86399, 86400]
    mentions, own = answered_after(values, start=NOW - timedelta(days=20))
    mentions.append(mention("1", T0))
    # WHEN
    histogram = run(mentions, own).to_dict()["histogram"]
    # THEN the lower bound of each bucket is inclusive
    assert histogram == [
        {"bucket": "<5m", "count": 2},
        {"bucket": "5-15m", "count": 2},
        {"bucket": "15-60m", "count": 2},
        {"bucket": "1-4h", "count": 2},
        {"bucket": "4-24h", "count": 2},
        {"bucket": ">24h", "count": 1},
        {"bucket": "unanswered", "count": 1},
    ]


def test_target_boundary_and_rate_over_all_mentions() -> None:
    # GIVEN responses of exactly the target (15 min), one second more, and an unanswered one
    mentions, own = answered_after([900, 901, 60])
    mentions.append(mention("1", T0))
    # WHEN
    body = run(mentions, own, target_seconds=900).to_dict()
    # THEN exactly the target is within; the rate counts all four mentions
    assert body["target_seconds"] == 900
    assert body["answered_within_target"] == 2
    assert body["within_target_rate"] == 0.5
    assert body["response_rate"] == 0.75


# --------------------------------------------------------------------------- daily / heatmap


def test_daily_has_every_utc_day_with_zero_days_by_default() -> None:
    # GIVEN a 3-day window ending 2026-11-28 12:00 and mentions on Nov 26 only, one of
    #       them answered the next day (it still counts on its own day)
    d26 = datetime(2026, 11, 26, 23, 0, tzinfo=UTC)
    mentions = [mention("1", d26), mention("2", d26 + timedelta(minutes=30))]
    own = [reply("3", "1", d26 + timedelta(hours=2))]
    # WHEN
    daily = run(mentions, own, days=3).to_dict()["daily"]
    # THEN Nov 25 (partial), 26, 27 (empty) and 28 (partial) are all there, oldest first
    assert daily == [
        {
            "date": "2026-11-25",
            "mentions": 0,
            "answered": 0,
            "median_seconds": None,
            "partial": True,
        },
        {
            "date": "2026-11-26",
            "mentions": 2,
            "answered": 1,
            "median_seconds": 7200,
            "partial": False,
        },
        {
            "date": "2026-11-27",
            "mentions": 0,
            "answered": 0,
            "median_seconds": None,
            "partial": False,
        },
        {
            "date": "2026-11-28",
            "mentions": 0,
            "answered": 0,
            "median_seconds": None,
            "partial": True,
        },
    ]


def test_daily_median_of_the_day() -> None:
    # GIVEN three answered mentions on Nov 27 (60, 120, 600 s)
    mentions, own = answered_after([60, 600, 120])
    # WHEN
    daily = run(mentions, own, days=2).to_dict()["daily"]
    # THEN (Nov 26, 27, 28)
    assert daily[1] == {
        "date": "2026-11-27",
        "mentions": 3,
        "answered": 3,
        "median_seconds": 120,
        "partial": False,
    }


def test_heatmap_in_utc_by_default() -> None:
    # GIVEN a mention on Friday 2026-11-27 10:00Z
    heatmap = run([mention("1", T0)]).to_dict()["heatmap"]
    # THEN it lands in Friday (row 4), hour 10
    assert heatmap["tz"] == "UTC"
    assert heatmap["days"] == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert heatmap["counts"][4][10] == 1
    assert sum(map(sum, heatmap["counts"])) == 1


def test_heatmap_dst_end_in_berlin() -> None:
    # GIVEN Europe/Berlin leaves summer time on Sunday 2026-10-25 at 01:00Z
    #       (03:00 CEST -> 02:00 CET): 00:30Z is 02:30 CEST and 01:30Z is 02:30 CET
    day = datetime(2026, 10, 25, tzinfo=UTC)
    mentions = [
        mention("1", day + timedelta(minutes=30)),
        mention("2", day + timedelta(minutes=90)),
        mention("3", day + timedelta(minutes=150)),  # 02:30Z = 03:30 CET
    ]
    # WHEN
    counts = run(mentions, now=day + timedelta(hours=3), days=1, tz="Europe/Berlin").to_dict()[
        "heatmap"
    ]["counts"]
    # THEN both land in Sunday hour 2, the third in hour 3
    assert counts[6][2] == 2
    assert counts[6][3] == 1
    assert sum(map(sum, counts)) == 3


def test_heatmap_dst_start_in_berlin() -> None:
    # GIVEN summer time starts on Sunday 2026-03-29 at 01:00Z (02:00 CET -> 03:00 CEST)
    day = datetime(2026, 3, 29, tzinfo=UTC)
    mentions = [
        mention("1", day + timedelta(minutes=59, seconds=59)),  # 01:59:59 CET
        mention("2", day + timedelta(hours=1)),  # 03:00 CEST
    ]
    # WHEN
    counts = run(mentions, now=day + timedelta(hours=2), days=1, tz="Europe/Berlin").to_dict()[
        "heatmap"
    ]["counts"]
    # THEN local hour 2 does not exist that day
    assert (counts[6][1], counts[6][2], counts[6][3]) == (1, 0, 1)


def test_heatmap_half_hour_offset() -> None:
    # GIVEN Asia/Kolkata (UTC+5:30): 10:29Z is 15:59 and 10:31Z is 16:01; and 18:45Z on
    #       Friday is 00:15 on Saturday
    mentions = [
        mention("1", T0 + timedelta(minutes=29)),
        mention("2", T0 + timedelta(minutes=31)),
        mention("3", T0 + timedelta(hours=8, minutes=45)),
    ]
    # WHEN
    counts = run(mentions, tz="Asia/Kolkata").to_dict()["heatmap"]["counts"]
    # THEN
    assert (counts[4][15], counts[4][16], counts[5][0]) == (1, 1, 1)


def test_heatmap_matches_zoneinfo_over_a_whole_year() -> None:
    # GIVEN one mention every 7 min 13 s through 2026 in a zone with DST
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("America/New_York")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    moments = [start + timedelta(seconds=433 * i) for i in range(365 * 24 * 3600 // 433)]
    expected = [[0] * 24 for _ in range(7)]
    for moment in moments:
        local = moment.astimezone(zone)
        expected[local.weekday()][local.hour] += 1
    mentions = [mention(str(10**6 + i), m) for i, m in enumerate(moments)]
    # WHEN
    counts = run(mentions, now=moments[-1], days=366, tz="America/New_York").heatmap
    # THEN the per-quarter-hour cache agrees with zoneinfo for every mention
    assert counts == expected


# --------------------------------------------------------------------------- lists


def test_slowest_and_unanswered_order_and_cap() -> None:
    # GIVEN 12 mentions answered after 1..12 min (the slowest first in time) and 12
    #       unanswered ones
    mentions, own = answered_after([60 * (12 - i) for i in range(12)])
    later = T0 + timedelta(hours=13)
    mentions += [mention(str(2000 + i), later + timedelta(minutes=i)) for i in range(12)]
    # WHEN
    body = run(mentions, own).to_dict()
    # THEN the 10 largest responses, largest first; the 10 newest unanswered, newest first
    assert [s["response_seconds"] for s in body["slowest"]] == [60 * n for n in range(12, 2, -1)]
    assert [s["id"] for s in body["slowest"]][:2] == ["1000", "1001"]
    assert [u["id"] for u in body["unanswered"]] == [str(2000 + i) for i in range(11, 1, -1)]


def test_rows_oldest_first_ties_by_id() -> None:
    # GIVEN mentions listed newest first (as X sends them), two in the same second, ids of
    #       different lengths
    mentions = [
        mention("100", T0 + timedelta(minutes=1)),
        mention("99", T0),
        mention("1000", T0),
        mention("98", T0 - timedelta(minutes=1), author="201"),
    ]
    own = [reply("500", "99", T0 + timedelta(seconds=1, milliseconds=500))]
    # WHEN
    rows = run(mentions, own, users={"200": "alice"}).rows
    # THEN
    assert [r.id for r in rows] == ["98", "99", "1000", "100"]
    row = rows[1]
    assert row.created_at == T0
    assert (row.author, row.author_id, row.answered, row.reply_id) == ("alice", "200", True, "500")
    assert row.response_seconds == 1.5
    assert row.link == "https://x.com/alice/status/99"
    assert (
        rows[0].author == "user 201" and not rows[0].answered and rows[0].response_seconds is None
    )


def test_mention_without_author_links_through_i() -> None:
    # GIVEN a mention whose author_id is missing
    post = {"id": "7", "text": "hey", "created_at": iso(T0)}
    # WHEN
    row = run([post]).rows[0]
    # THEN it counts, with an empty author and a link that works without a username
    assert (row.author, row.author_id) == ("", None)
    assert row.link == "https://x.com/i/status/7"


def test_timestamps_other_formats_and_garbage() -> None:
    # GIVEN an offset timestamp, a naive one (read as UTC), a garbage one and one missing
    mentions = [
        {"id": "1", "text": "a", "author_id": "2", "created_at": "2026-11-27T12:00:00+02:00"},
        {"id": "2", "text": "b", "author_id": "2", "created_at": "2026-11-27T10:30:00"},
        {"id": "3", "text": "c", "author_id": "2", "created_at": "yesterday"},
        {"id": "4", "text": "d", "author_id": "2"},
        "not a post",
        {"text": "no id", "author_id": "2", "created_at": iso(T0)},
    ]
    own = [{"id": "9", "created_at": "2026-11-27T10:05:00+00:00", "author_id": ACCOUNT,
            "referenced_tweets": [{"type": "replied_to", "id": "1"}]}]  # fmt: skip
    # WHEN
    result = run(mentions, own)  # type: ignore[arg-type]
    # THEN the parseable ones count, normalised to UTC; the rest count for nothing
    assert [(r.id, r.created_at) for r in result.rows] == [
        ("1", T0),
        ("2", T0 + timedelta(minutes=30)),
    ]
    assert result.rows[0].response_seconds == 300


def test_naive_now_is_utc_and_settings_are_checked() -> None:
    # GIVEN a naive `now`
    body = run([mention("1", T0)], now=NOW.replace(tzinfo=None)).to_dict()
    # THEN it is read as UTC
    assert body["generated_at"] == "2026-11-28T12:00:00.000Z" and body["mentions"] == 1
    # AND unusable settings are refused
    for bad in ({"days": 0}, {"target_seconds": -1}, {"tz": "Mars/Olympus"}):
        with pytest.raises(InvalidReportParameter):
            run([], **bad)


def test_default_settings() -> None:
    assert ReportSettings() == analytics.DEFAULT_SETTINGS
    assert (ReportSettings().days, ReportSettings().target_seconds, ReportSettings().tz) == (
        28,
        3600,
        "UTC",
    )


# --------------------------------------------------------------------------- CSV


def test_csv_columns_and_quoting() -> None:
    # GIVEN an answered and an unanswered mention, one from an author whose name holds a
    #       comma, a quote and a newline (X would not allow it; the CSV must survive it)
    hostile = 'we,ird "name"\nline'
    mentions = [
        mention("10", T0, text='a, "b"\nc'),
        mention("11", T0, author="201", text="@acme =1+1"),
    ]
    own = [reply("20", "10", T0 + timedelta(seconds=90))]
    # WHEN
    text = to_csv(run(mentions, own, users={"200": hostile}))
    # THEN RFC 4180: CRLF line ends, quoted fields, true/false, empty cells
    assert text.startswith(
        "id,created_at,author,answered,reply_id,response_seconds,link,text,"
        "case_id,excluded,business_seconds,signature,response_hms,business_hms\r\n"
    )
    assert '"we,ird ""name""\nline"' in text
    assert text.endswith("\r\n")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows == [
        list(analytics.CSV_HEADER),
        [
            "10",
            "2026-11-27T10:00:00.000Z",
            hostile,
            "true",
            "20",
            "90",
            f"https://x.com/{hostile}/status/10",
            'a, "b"\nc',
            "10",  # its own case
            "",  # not left out
            "",  # no business hours set
            "",  # the reply is not signed
            "0:01:30",
            "",
        ],
        # text a spreadsheet would read as a formula is neutralised with an apostrophe
        [
            "11",
            "2026-11-27T10:00:00.000Z",
            "user 201",
            "false",
            "",
            "",
            "https://x.com/i/status/11",
            "'@acme =1+1",
            "11",
            "",
            "",
            "",
            "",
            "",
        ],
    ]


# --------------------------------------------------------------------------- query strings


def test_parse_days() -> None:
    assert parse_days(None) == 28
    assert parse_days("") == 28
    assert parse_days(" 7 ") == 7
    assert (parse_days("1"), parse_days("90"), parse_days("3650")) == (1, 90, 3650)
    assert parse_days("0365") == 365
    for bad in ("0", "3651", "-3", "+5", "1.5", "1e2", "abc", "٣", "7 days", "10" * 3000):
        with pytest.raises(InvalidReportParameter, match="1 to 3650"):
            parse_days(bad)


def test_parse_target_minutes_returns_seconds() -> None:
    assert parse_target_minutes(None) == 3600
    assert parse_target_minutes("15") == 900
    assert parse_target_minutes("1") == 60
    assert parse_target_minutes("10080") == 604800
    for bad in ("0", "10081", "-1", "60m", "ten"):
        with pytest.raises(ValueError, match="1 to 10080"):
            parse_target_minutes(bad)


def test_parse_tz() -> None:
    assert parse_tz(None) == "UTC"
    assert parse_tz("") == "UTC"
    assert parse_tz("Europe/Berlin") == "Europe/Berlin"
    assert parse_tz("America/Argentina/Buenos_Aires") == "America/Argentina/Buenos_Aires"
    assert parse_tz("Etc/GMT+5") == "Etc/GMT+5"
    for bad in (
        "Mars/Olympus",
        "europe/nowhere",
        "../../etc/passwd",
        "/etc/localtime",
        "Europe//Berlin",
        "<script>",
        "Europe/Berlin\x00",
        "x" * 100,
    ):
        with pytest.raises(InvalidReportParameter) as caught:
            parse_tz(bad)
        assert "time zone" in str(caught.value)
    assert issubclass(InvalidReportParameter, ValueError)


def test_xs_html_entities_are_decoded_once() -> None:
    # GIVEN a mention as X API v2 sends it: &, < and > as entities (a literal "&amp;"
    #       typed by the author arrives as "&amp;amp;")
    mentions = [mention("10", T0, text="fish &amp; chips &lt;3 &amp;amp;")]
    # WHEN
    result = run(mentions, [])
    # THEN the report and the CSV carry the text as its author wrote it
    [row] = result.rows
    assert row.text == "fish & chips <3 &amp;"
    assert "fish & chips <3 &amp;" in to_csv(result)
    assert result.to_dict()["unanswered"][0]["text"] == "fish & chips <3 &amp;"
