"""The figures a support lead acts on: needs-reply rules, cases, business hours, the
previous period and who answered. Every expected number is computed by hand in a comment.
GIVEN / WHEN / THEN."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest

from chalicelib.analytics import Report, ReportSettings, build, signature, to_csv
from chalicelib.business_hours import BusinessClock
from tests.posts import ACCOUNT, iso, mention, reply

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # a Tuesday
FRIDAY = datetime(2026, 11, 27, tzinfo=UTC)
MONDAY = datetime(2026, 11, 30, tzinfo=UTC)
OFFICE = (9 * 60, 17 * 60)  # 09:00-17:00


def run(
    mentions: Iterable[dict],
    own: Iterable[dict] = (),
    now: datetime = NOW,
    history_start: datetime | None = None,
    **settings: Any,
) -> Report:
    return build(ACCOUNT, "acme", mentions, own, {}, now, ReportSettings(**settings), history_start)


def plain(result: Report) -> dict[str, Any]:
    """The JSON body as a plain dict: tests index into fields that may be null."""
    return cast("dict[str, Any]", result.to_dict())


def at(day: datetime, hhmm: str) -> datetime:
    hours, minutes = hhmm.split(":")
    return day.replace(hour=int(hours), minute=int(minutes))


def in_thread(pid: str, when: datetime, author: str, conversation: str, **extra: Any) -> dict:
    """A mention in a conversation, as a reply to the account (a follow-up in a thread)."""
    return mention(
        pid, when, author=author, conversation_id=conversation, in_reply_to_user_id=ACCOUNT, **extra
    )


# --------------------------------------------------------------------------- needs-reply rules


def test_a_crowd_mention_is_left_out_and_counts_nowhere() -> None:
    # GIVEN a mention naming six distinct accounts (acme among them), one naming five (the
    #       same handle twice in other case counts once), and a plain question
    crowd = "@acme @bo @cy @di @ed @fi who has the best deal?"
    five = "@acme @ACME @bo @cy @di @ed anyone?"
    mentions = [
        mention("1", at(MONDAY, "10:00"), text=crowd),
        mention("2", at(MONDAY, "10:05"), author="201", text=five),
        mention("3", at(MONDAY, "10:10"), author="202", text="@acme help?"),
    ]
    own = [reply("9", "1", at(MONDAY, "10:01"))]  # the brand even answered the crowd post
    # WHEN
    body = plain(run(mentions, own))
    # THEN the crowd post is left out: 2 mentions, 0 answered, 2 cases
    assert body["excluded"] == {"crowd": 1, "not_a_question": 0}
    assert (body["mentions"], body["answered"], body["cases"]["count"]) == (2, 0, 2)
    assert sum(b["count"] for b in body["histogram"]) == 2
    assert sum(sum(row) for row in body["heatmap"]["counts"]) == 2
    assert [r["id"] for r in body["unanswered"]] == ["3", "2"]
    assert body["agents"] == []
    assert [(r["id"], r["reason"]) for r in body["left_out"]] == [("1", "crowd")]


def test_a_crowd_thread_that_replies_to_the_account_is_kept() -> None:
    # GIVEN seven accounts named in a reply to one of the account's own posts
    text = "@acme @bo @cy @di @ed @fi @gu count me in!"
    kept = mention("1", at(MONDAY, "10:00"), text=text, in_reply_to_user_id=ACCOUNT)
    # WHEN
    body = plain(run([kept], [reply("9", "1", at(MONDAY, "10:20"))]))
    # THEN it needs a reply like any other: answered after 20 min
    assert body["excluded"] == {"crowd": 0, "not_a_question": 0}
    assert body["mentions"] == 1 and body["first_response_seconds"]["median"] == 1200


def test_handles_are_what_x_links_not_email_addresses() -> None:
    # GIVEN five handles and two email addresses: support@ and sales@ name nobody
    text = "@acme @bo @cy @di @ed mail support@acme.example or sales@acme.example"
    # WHEN the crowd rule allows five
    body = plain(run([mention("1", at(MONDAY, "10:00"), text=text)]))
    # THEN five accounts are not more than five: kept
    assert body["excluded"]["crowd"] == 0 and body["mentions"] == 1
    # AND with crowd=4 it is left out
    assert run([mention("1", at(MONDAY, "10:00"), text=text)], crowd=4).mentions == 0


def test_crowd_zero_gives_todays_figures() -> None:
    # GIVEN a crowd post answered after 1 min and a question answered after 10 min
    crowd = "@acme @bo @cy @di @ed @fi @gu"
    mentions = [
        mention("1", at(MONDAY, "10:00"), text=crowd),
        mention("2", at(MONDAY, "11:00"), author="201", text="@acme where is my order"),
    ]
    own = [reply("8", "1", at(MONDAY, "10:01")), reply("9", "2", at(MONDAY, "11:10"))]
    # WHEN the rule is off
    body = plain(run(mentions, own, crowd=0))
    # THEN both count: 2 of 2 answered, median (60 + 600) / 2 = 330 s
    assert body["excluded"] == {"crowd": 0, "not_a_question": 0}
    assert (body["mentions"], body["answered"]) == (2, 2)
    assert body["first_response_seconds"]["median"] == 330


def test_only_questions_leaves_out_mentions_without_a_question_mark() -> None:
    # GIVEN a thank-you, a question, and a crowd post without a "?"
    mentions = [
        mention("1", at(MONDAY, "10:00"), text="@acme thanks, that worked!"),
        mention("2", at(MONDAY, "10:05"), author="201", text="@acme is the app down?"),
        mention("3", at(MONDAY, "10:10"), author="202", text="@acme @bo @cy @di @ed @fi hi"),
    ]
    # WHEN only questions count
    body = plain(run(mentions, questions=True))
    # THEN the crowd rule comes first; the thank-you is not a question
    assert body["excluded"] == {"crowd": 1, "not_a_question": 1}
    assert body["mentions"] == 1
    reasons = {r["id"]: r["reason"] for r in body["left_out"]}
    assert reasons == {"3": "crowd", "1": "not_a_question"}
    # AND off by default
    assert run(mentions).to_dict()["excluded"] == {"crowd": 1, "not_a_question": 0}


# --------------------------------------------------------------------------- cases


def test_a_follow_up_after_the_answer_leaves_the_person_answered() -> None:
    # GIVEN a question answered after 10 min, then the person's "thanks!" in the thread
    mentions = [
        mention("1", at(MONDAY, "10:00"), conversation_id="1"),
        in_thread("2", at(MONDAY, "10:30"), "200", "1", text="@acme thanks!"),
    ]
    own = [reply("9", "1", at(MONDAY, "10:10"))]
    # WHEN
    body = plain(run(mentions, own))
    # THEN messages: 1 of 2 answered; people: 1 of 1, first response 10 min
    assert (body["mentions"], body["answered"], body["response_rate"]) == (2, 1, 0.5)
    assert body["cases"] == {
        "count": 1,
        "answered": 1,
        "response_rate": 1.0,
        "first_response_seconds": {"mean": 600, "median": 600, "p90": 600, "min": 600, "max": 600},
        "answered_within_target": 1,
        "within_target_rate": 1.0,
        "first_response_business_seconds": None,
        "answered_within_target_business": None,
        "within_target_business_rate": None,
    }
    assert body["waiting"] == []  # nobody is waiting, though a message is unanswered


def test_two_people_in_one_conversation_are_two_cases() -> None:
    # GIVEN A asks and is answered after 5 min; B joins the thread and is not answered
    mentions = [
        mention("1", at(MONDAY, "10:00"), author="200", conversation_id="1"),
        in_thread("2", at(MONDAY, "10:20"), "201", "1", text="@acme same for me"),
    ]
    own = [reply("9", "1", at(MONDAY, "10:05"))]
    # WHEN
    body = plain(run(mentions, own))
    # THEN 2 people, 1 answered
    assert (body["cases"]["count"], body["cases"]["answered"]) == (2, 1)
    assert body["cases"]["response_rate"] == 0.5
    assert [(w["case_id"], w["mentions"]) for w in body["waiting"]] == [("2", 1)]


def test_a_reply_to_the_second_mention_answers_the_case_from_its_start() -> None:
    # GIVEN "hello?" at 10:00 and "order #123" at 10:30 from one person in one thread, and
    #       the brand's reply to the second at 10:40
    mentions = [
        mention("1", at(MONDAY, "10:00"), conversation_id="1", text="@acme hello?"),
        in_thread("2", at(MONDAY, "10:30"), "200", "1", text="@acme order #123"),
    ]
    own = [reply("9", "2", at(MONDAY, "10:40"))]
    # WHEN
    result = run(mentions, own)
    body = plain(result)
    # THEN the person waited from 10:00 to 10:40 = 2400 s; the second message 600 s
    assert body["cases"]["first_response_seconds"]["median"] == 2400
    assert body["first_response_seconds"]["median"] == 600
    assert (body["answered"], body["mentions"]) == (1, 2)
    assert [row.case_id for row in result.rows] == ["1", "1"]


def test_a_case_that_began_before_the_window_stays_in_the_previous_period() -> None:
    # GIVEN a 7-day window starting 24 Nov 12:00; a person asks at 11:00 (the previous
    #       period), follows up in the same thread at 13:00 (the window), and the brand
    #       answers the follow-up at 14:00
    start = NOW - timedelta(days=7)
    mentions = [
        mention("1", start - timedelta(hours=1), conversation_id="1"),
        in_thread("2", start + timedelta(hours=1), "200", "1", text="@acme anyone?"),
    ]
    own = [reply("9", "2", start + timedelta(hours=2))]
    # WHEN
    result = run(mentions, own, days=7)
    body = plain(result)
    # THEN one person, the previous period's, answered 3 h after she first asked
    assert body["previous"]["cases"]["count"] == 1
    assert body["previous"]["cases"]["first_response_seconds"]["median"] == 3 * 3600
    assert body["cases"]["count"] == 0 and body["waiting"] == []
    # AND the messages count where they were posted: the follow-up answered after 1 h
    assert (body["mentions"], body["answered"]) == (1, 1)
    assert (body["previous"]["mentions"], body["previous"]["answered"]) == (1, 0)
    assert [row.case_id for row in result.rows] == ["1"]


def test_a_post_without_a_conversation_or_author_is_a_case_of_its_own() -> None:
    # GIVEN two mentions of one author with no conversation_id, and two without author_id
    mentions = [
        mention("1", at(MONDAY, "10:00")),
        mention("2", at(MONDAY, "10:01")),
        {"id": "3", "text": "x", "created_at": iso(at(MONDAY, "10:02"))},
        {"id": "4", "text": "y", "created_at": iso(at(MONDAY, "10:03")), "conversation_id": "3"},
    ]
    # THEN four cases
    assert run(mentions).to_dict()["cases"]["count"] == 4


def test_a_case_reply_dated_before_its_start_counts_as_zero() -> None:
    # GIVEN clock skew: the reply is dated a minute before the mention
    mentions = [mention("1", at(MONDAY, "10:00"), conversation_id="1")]
    own = [reply("9", "1", at(MONDAY, "09:59"))]
    # THEN never negative
    assert run(mentions, own).to_dict()["cases"]["first_response_seconds"]["min"] == 0


# --------------------------------------------------------------------------- business hours


def clock(
    zone: str = "UTC",
    hours: tuple[int, int] = OFFICE,
    workdays: Iterable[int] = range(5),
    holidays: Iterable[date] = (),
) -> BusinessClock:
    return BusinessClock(
        *hours, tuple(workdays), tuple(holidays), ZoneInfo(zone), date(2026, 1, 1), date(2027, 1, 1)
    )


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def test_friday_afternoon_to_monday_morning_is_thirty_business_minutes() -> None:
    # 16:45-17:00 Friday + 09:00-09:15 Monday = 15 + 15 min
    start, end = at(FRIDAY, "16:45"), at(MONDAY, "09:15")
    assert clock().between_ms(ms(start), ms(end)) == 30 * 60_000


def test_a_holiday_is_closed() -> None:
    # GIVEN Monday 30 November a holiday: Friday 16:45 -> Tuesday 09:15 is 15 + 15 min
    tuesday = MONDAY + timedelta(days=1)
    closed = clock(holidays=[date(2026, 11, 30)])
    assert closed.between_ms(ms(at(FRIDAY, "16:45")), ms(at(tuesday, "09:15"))) == 30 * 60_000
    # without the holiday the whole Monday counts too: 15 + 480 + 15 min
    assert clock().between_ms(ms(at(FRIDAY, "16:45")), ms(at(tuesday, "09:15"))) == 510 * 60_000


def test_both_ends_outside_hours_give_zero() -> None:
    saturday = FRIDAY + timedelta(days=1)
    assert clock().between_ms(ms(at(saturday, "10:00")), ms(at(saturday, "11:00"))) == 0
    assert clock().between_ms(ms(at(MONDAY, "18:00")), ms(at(MONDAY, "20:00"))) == 0
    assert clock().between_ms(ms(at(MONDAY, "07:00")), ms(at(MONDAY, "08:59"))) == 0


def test_the_dst_sunday_follows_the_wall_clock() -> None:
    # GIVEN London, open every day, and the Sunday clocks go forward (29 March 2026, 01:00 UTC)
    london = ZoneInfo("Europe/London")
    every_day = range(7)
    # 09:00-17:00: Saturday 16:00 GMT -> Sunday 10:00 BST is 1 h + 1 h (17 h on the calendar)
    saturday_4pm = datetime(2026, 3, 28, 16, 0, tzinfo=london)
    sunday_10am = datetime(2026, 3, 29, 10, 0, tzinfo=london)
    office = clock("Europe/London", workdays=every_day)
    assert office.between_ms(ms(saturday_4pm), ms(sunday_10am)) == 2 * 3_600_000
    assert ms(sunday_10am) - ms(saturday_4pm) == 17 * 3_600_000
    # 00:00-24:00: that Sunday is 23 hours long; the one in October (25 Oct) is 25
    always = clock("Europe/London", hours=(0, 1440), workdays=every_day)
    spring = always.between_ms(
        ms(datetime(2026, 3, 29, tzinfo=london)), ms(datetime(2026, 3, 30, tzinfo=london))
    )
    autumn = always.between_ms(
        ms(datetime(2026, 10, 25, tzinfo=london)), ms(datetime(2026, 10, 26, tzinfo=london))
    )
    assert (spring, autumn) == (23 * 3_600_000, 25 * 3_600_000)


def test_business_figures_in_the_report() -> None:
    # GIVEN (UTC, Mon-Fri 09:00-17:00, target 60 min):
    #   a Friday 16:45 mention answered Monday 09:15: 30 business min (2 d 16 h 30 min calendar)
    #   a Saturday mention answered Saturday: 0 business min (61 min calendar)
    #   a Monday 10:00 mention answered 11:30: 90 business min
    saturday = FRIDAY + timedelta(days=1)
    mentions = [
        mention("1", at(FRIDAY, "16:45"), conversation_id="1"),
        mention("2", at(saturday, "10:00"), author="201", conversation_id="2"),
        mention("3", at(MONDAY, "10:00"), author="202", conversation_id="3"),
    ]
    own = [
        reply("7", "1", at(MONDAY, "09:15")),
        reply("8", "2", at(saturday, "11:01")),
        reply("9", "3", at(MONDAY, "11:30")),
    ]
    # WHEN
    result = run(mentions, own, hours=OFFICE)
    body = plain(result)
    # THEN business: sorted 0, 1800, 5400 s: mean 2400, median 1800, p90 5400 - 0.2 * 3600
    assert body["first_response_business_seconds"] == {
        "mean": 2400,
        "median": 1800,
        "p90": 4680,
        "min": 0,
        "max": 5400,
    }
    assert body["answered_within_target_business"] == 2  # 0 and 30 min
    assert body["answered_within_target"] == 0  # calendar: 64 h 30 min, 61 min, 90 min
    assert body["cases"]["answered_within_target_business"] == 2
    assert body["cases"]["first_response_business_seconds"]["median"] == 1800
    assert [row.business_seconds for row in result.rows] == [1800, 0, 5400]


def test_without_hours_every_business_field_is_null() -> None:
    body = run([mention("1", at(MONDAY, "10:00"))], [reply("9", "1", at(MONDAY, "10:01"))])
    data = body.to_dict()
    assert data["first_response_business_seconds"] is None
    assert data["answered_within_target_business"] is None
    assert data["cases"]["first_response_business_seconds"] is None
    assert data["previous"]["first_response_business_seconds"] is None
    assert data["agents"][0]["median_business_seconds"] is None


def test_a_reply_dated_in_the_far_future_does_not_break_business_hours() -> None:
    # GIVEN a reply whose clock is broken (year 9999)
    mentions = [mention("1", at(MONDAY, "10:00"))]
    own = [{**reply("9", "1", at(MONDAY, "10:05")), "created_at": "9999-12-31T00:00:00.000Z"}]
    # WHEN the report is built with business hours
    body = plain(run(mentions, own, hours=OFFICE))
    # THEN it still answers, and counts business time only up to the clock's span
    assert body["answered"] == 1
    assert 0 < body["first_response_business_seconds"]["max"] <= 3 * 8 * 3600


def test_of_two_copies_of_a_mention_the_windows_counts() -> None:
    # GIVEN the same id twice: first a copy in the previous period, then one in the window
    start = NOW - timedelta(days=1)
    copies = [
        mention("5", start - timedelta(hours=12)),
        mention("5", start + timedelta(hours=12)),
        mention("5", start + timedelta(hours=13)),  # a later copy in the window: ignored
    ]
    # WHEN
    body = plain(run(copies, days=1, crowd=0))
    # THEN as before the previous period existed: one mention in the window, at 00:00
    assert (body["mentions"], body["previous"]["mentions"]) == (1, 0)
    assert body["unanswered"][0]["created_at"] == iso(start + timedelta(hours=12))


# --------------------------------------------------------------------------- previous period


def test_the_previous_period_is_the_window_of_the_same_length_before() -> None:
    # GIVEN a 7-day window ending NOW (start 24 Nov 12:00); mentions at:
    #   start - 1 day (previous), answered after 1 h
    #   start - 7 days exactly (previous: its start is included), unanswered
    #   start exactly (the window's, not the previous period's), answered after 2 min
    start = NOW - timedelta(days=7)
    mentions = [
        mention("1", start - timedelta(days=1), author="201"),
        mention("2", start - timedelta(days=7), author="202"),
        mention("3", start, author="203"),
        mention("4", start - timedelta(days=7, seconds=1), author="204"),  # before both
    ]
    own = [
        reply("8", "1", start - timedelta(days=1) + timedelta(hours=1)),
        reply("9", "3", start + timedelta(minutes=2)),
    ]
    # WHEN
    body = plain(run(mentions, own, days=7, history_start=start - timedelta(days=30)))
    # THEN
    previous = body["previous"]
    assert previous["window"] == {
        "start": "2026-11-17T12:00:00.000Z",
        "end": "2026-11-24T12:00:00.000Z",
    }
    assert previous["complete"] is True
    assert (previous["mentions"], previous["answered"], previous["response_rate"]) == (2, 1, 0.5)
    assert previous["first_response_seconds"] == {"median": 3600, "p90": 3600}
    assert previous["cases"]["count"] == 2
    assert previous["cases"]["first_response_seconds"] == {"median": 3600, "p90": 3600}
    assert (body["mentions"], body["answered"]) == (1, 1)


def test_the_previous_period_is_incomplete_when_the_archive_starts_later() -> None:
    mentions = [mention("1", NOW - timedelta(days=3))]
    # the archive holds everything since 10 days ago: the previous 28 days are not covered
    late = run(mentions, history_start=NOW - timedelta(days=10)).to_dict()["previous"]
    assert late["complete"] is False
    assert run(mentions).to_dict()["previous"]["complete"] is False  # not known
    early = run(mentions, history_start=NOW - timedelta(days=56))
    assert early.to_dict()["previous"]["complete"] is True


# --------------------------------------------------------------------------- who answered


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@maria Sorry about that! -Becky", "Becky"),
        ("@tom We've sent you a DM ^JK https://t.co/x", "JK"),
        ("@jess Fixed now *TJ", "TJ"),
        ("@dan Thanks - AA", "AA"),
        ("@dan Thanks \u2013 Sam", "Sam"),  # an en dash
        ("@dan Thanks ~Lena  \n", "Lena"),
        ("@dan see you ^AK https://t.co/a https://t.co/b ", "AK"),
        ("@sam Thanks for the follow-up", None),  # a hyphenated word
        ("@sam Ships in 3-5 days", None),
        ("@sam Thanks!", None),
        ("-Becky", None),  # no whitespace before the mark
        ("@sam hi -" + "A" * 21, None),  # more than 20 letters
        ("@sam hi -" + "A" * 20, "A" * 20),
        ("@sam hi -JK2", None),  # not only letters
    ],
)
def test_signature(text: str, expected: str | None) -> None:
    assert signature(text) == expected


def test_agents_are_credited_with_the_first_reply_of_each_case() -> None:
    # GIVEN four people; Becky answers two (after 4 and 10 min), JK one (after 30 min, and
    #       Becky later in the same case), one reply unsigned (after 2 min)
    mentions = [mention(str(i), at(MONDAY, f"1{i}:00"), author=f"20{i}") for i in range(4)]
    own = [
        reply("50", "0", at(MONDAY, "10:04"), text="@a done -Becky"),
        reply("51", "1", at(MONDAY, "11:10"), text="@b done -Becky"),
        reply("52", "2", at(MONDAY, "12:30"), text="@c on it ^JK https://t.co/x"),
        reply("53", "2", at(MONDAY, "12:45"), text="@c fixed -Becky"),
        reply("54", "3", at(MONDAY, "13:02"), text="@d done"),
    ]
    # WHEN
    body = plain(run(mentions, own))
    # THEN most cases first; unsigned last among equals
    assert body["agents"] == [
        {"signature": "Becky", "cases": 2, "median_seconds": 420, "median_business_seconds": None},
        {"signature": "JK", "cases": 1, "median_seconds": 1800, "median_business_seconds": None},
        {"signature": None, "cases": 1, "median_seconds": 120, "median_business_seconds": None},
    ]


# --------------------------------------------------------------------------- CSV


def test_csv_carries_case_exclusion_business_seconds_and_signature() -> None:
    # GIVEN a question answered by Becky at 09:15 Monday after Friday 16:45, a follow-up in
    #       the same thread, and a crowd post the brand answered
    mentions = [
        mention("1", at(FRIDAY, "16:45"), conversation_id="1"),
        in_thread("2", at(MONDAY, "09:30"), "200", "1", text="@acme thanks!"),
        mention("3", at(MONDAY, "10:00"), author="201", text="@acme @a @b @c @d @e @f"),
    ]
    own = [
        reply("8", "1", at(MONDAY, "09:15"), text="@x sorted -Becky"),
        reply("9", "3", at(MONDAY, "10:01")),
    ]
    # WHEN
    text = to_csv(run(mentions, own, hours=OFFICE))
    # THEN
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    picked = [
        (r["id"], r["case_id"], r["excluded"], r["business_seconds"], r["signature"]) for r in rows
    ]
    assert picked == [
        ("1", "1", "", "1800", "Becky"),
        ("2", "1", "", "", ""),
        # left out, counted nowhere; its reply is still shown: 1 min, in business hours
        ("3", "", "crowd", "60", ""),
    ]
    assert rows[2]["answered"] == "true" and rows[2]["response_seconds"] == "60"
