"""ReportService: the stored report served as it is while fresh, a top-up from X when not,
the report kept made with the settings the account saved, and what X's failures leave.
The archive is a FakeArchive, X a ScriptedTimeline of two posts a page, time a Clock.
GIVEN / WHEN / THEN; every expected figure is worked out in a comment."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.accounts import AccountTokens
from chalicelib.archive import ArchiveState, Cursor
from chalicelib.errors import (
    StoreUnavailable,
    XRateLimited,
    XReadCutShort,
    XRejected,
    XUnavailable,
)
from chalicelib.report_service import ReportService
from chalicelib.report_settings import resolve
from chalicelib.x_pause import XPause
from chalicelib.x_timeline import MENTIONS, OWN_POSTS, XTimeline
from tests.posts import ACCOUNT, iso, mention, reply
from tests.unit.fakes import Clock, FakeArchive, Post, ScriptedTimeline

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
MAX_AGE = 900
# She saved a 30-minute target; the default is 60.
ACME = AccountTokens(ACCOUNT, "acme", "token", "secret", saved_settings={"target": "30"})
SAVED = resolve({}, ACME.saved_settings)


class Hooks:
    """What the service told its callers: reports stored, tokens X refused."""

    def __init__(self) -> None:
        self.refreshed: list[tuple[str, int]] = []
        self.rejected: list[tuple[str, int]] = []
        self.forgotten = False  # the account was forgotten while the service worked

    def written(self, account: AccountTokens, refreshed_at: int | None) -> bool:
        if refreshed_at is not None and not self.forgotten:
            self.refreshed.append((account.account_id, refreshed_at))
        return not self.forgotten


def service(archive: FakeArchive, timeline: ScriptedTimeline) -> tuple[ReportService, Hooks]:
    hooks = Hooks()

    def timeline_for(account: AccountTokens) -> XTimeline:
        assert account is ACME
        return timeline

    reports = ReportService(
        archive,
        timeline_for,
        MAX_AGE,
        Clock(NOW.timestamp()),
        on_written=hooks.written,
        on_rejected=lambda account_id, at: hooks.rejected.append((account_id, at)),
    )
    return reports, hooks


def stored_report(age: timedelta, settings: dict[str, Any], mentions: int = 7) -> dict[str, Any]:
    """A report as a refresh `age` ago stored it (only what the service reads of it)."""
    return {
        "mentions": mentions,  # a figure no rebuild from this test's posts could give
        "settings": settings,
        "source": {"refreshed_at": iso(NOW - age), "x_requests": 2, "x_posts_read": 3},
    }


def mentions_at(*hours_ago: int) -> list[Post]:
    """Mentions 11, 12, ... by the fan "200", so many hours ago."""
    return [mention(str(11 + n), NOW - timedelta(hours=ago)) for n, ago in enumerate(hours_ago)]


def archive_of(posts: list[Post], own: Sequence[Post] = (), **cursors: Cursor) -> ArchiveState:
    """An archive last refreshed an hour ago; `cursors` by timeline name."""
    return ArchiveState(
        mentions={p["id"]: p for p in posts},
        own_posts={p["id"]: p for p in own},
        cursors=dict(cursors),
        refreshed_at=(NOW - timedelta(hours=1)).timestamp(),
    )


# --- Served as it is --------------------------------------------------------------------


def test_a_fresh_stored_report_is_served_as_it_is_without_asking_x() -> None:
    # GIVEN a report stored a minute ago (max age 15 minutes), made with her saved settings
    archive = FakeArchive().holding(
        ACCOUNT, report=stored_report(timedelta(minutes=1), SAVED.to_json())
    )
    timeline = ScriptedTimeline(mentions_at(3))
    reports, hooks = service(archive, timeline)

    # WHEN she opens her report
    view = reports.view(ACME)

    # THEN the stored body is what she sees, and X is not asked anything
    assert view.cache_state == "hit" and view.report is None
    assert view.body["mentions"] == 7
    assert view.body["source"]["x_requests"] == 0 and view.body["source"]["x_posts_read"] == 0
    assert timeline.asked == []
    assert archive.report_saves == 0 and hooks.refreshed == []


def test_a_report_stored_before_she_changed_her_settings_is_rebuilt_without_asking_x() -> None:
    # GIVEN a fresh report made with the default 60-minute target, and an archive of two
    #       mentions; she has saved 30 minutes since
    defaults = resolve({}).to_json()
    archive = FakeArchive().holding(
        ACCOUNT,
        state=archive_of(mentions_at(3, 2)),
        report=stored_report(timedelta(minutes=1), defaults),
    )
    timeline = ScriptedTimeline()
    reports, _ = service(archive, timeline)

    # WHEN she opens her report
    view = reports.view(ACME)

    # THEN it is made from the archive with 30 minutes (1800 s), X not asked
    assert view.cache_state == "rebuilt"
    assert view.body["mentions"] == 2 and view.body["target_seconds"] == 1800
    assert timeline.asked == []
    # AND it is stored, so her next views are served as they are
    stored = archive.stored_report(ACCOUNT)
    assert stored["target_seconds"] == 1800
    assert stored["settings"]["target"] == {"value": 30, "source": "saved"}


# --- Refreshed --------------------------------------------------------------------------


def test_a_report_past_the_max_age_is_topped_up_with_only_what_is_new_and_stored() -> None:
    # GIVEN a report stored 20 minutes ago, an archive of mentions 11 and 12 (the first
    #       answered, own post 21), read up to 12 and 21; X has one new mention, 13
    archive = FakeArchive().holding(
        ACCOUNT,
        state=archive_of(
            mentions_at(3, 2),
            [reply("21", "11", NOW - timedelta(hours=3) + timedelta(minutes=10))],
            mentions=Cursor("12"),
            tweets=Cursor("21"),
        ),
        report=stored_report(timedelta(minutes=20), SAVED.to_json()),
    )
    timeline = ScriptedTimeline(mentions_at(3, 2, 1))
    reports, hooks = service(archive, timeline)

    # WHEN she opens her report
    view = reports.view(ACME)

    # THEN X is asked only for what is newer than 12 and 21: one request each, one post
    assert timeline.asked == [(MENTIONS, "12", None), (OWN_POSTS, "21", None)]
    source = view.body["source"]
    assert (source["x_requests"], source["x_posts_read"], source["stale"]) == (2, 1, False)
    # AND the report counts 3 mentions, 1 answered, against her 30-minute target
    assert view.cache_state == "refreshed"
    assert (view.body["mentions"], view.body["answered"]) == (3, 1)
    assert view.body["target_seconds"] == 1800
    # AND the archive holds the new mention, and the report is stored and noted once
    assert sorted(archive.stored(ACCOUNT).mentions) == ["11", "12", "13"]
    assert archive.stored_report(ACCOUNT)["mentions"] == 3
    assert hooks.refreshed == [(ACCOUNT, int(NOW.timestamp()))]


def test_a_view_with_other_settings_shows_them_and_stores_the_report_of_the_saved_ones() -> None:
    # GIVEN a report stored 20 minutes ago and an archive of one mention (id 11), answered
    #       45 minutes later; X has nothing new
    answer = reply("21", "11", NOW - timedelta(hours=3) + timedelta(minutes=45))
    archive = FakeArchive().holding(
        ACCOUNT,
        state=archive_of(mentions_at(3), [answer], mentions=Cursor("11"), tweets=Cursor("21")),
        report=stored_report(timedelta(minutes=20), SAVED.to_json()),
    )
    reports, _ = service(archive, ScriptedTimeline(mentions_at(3), [answer]))

    # WHEN she looks at it with a 60-minute target in the query
    view = reports.view(ACME, resolve({"target": "60"}, ACME.saved_settings))

    # THEN she sees 60 minutes: the answer after 45 is within it
    assert view.body["settings"]["target"] == {"value": 60, "source": "query"}
    assert view.body["answered_within_target"] == 1
    # AND what is stored is made with her saved 30 minutes: 45 is not within it
    stored = archive.stored_report(ACCOUNT)
    assert stored["settings"]["target"] == {"value": 30, "source": "saved"}
    assert stored["target_seconds"] == 1800 and stored["answered_within_target"] == 0


def test_the_schedules_refresh_makes_the_report_with_the_saved_settings_whatever_its_age() -> None:
    # GIVEN a report stored a minute ago (fresh) and an empty archive; X has two mentions
    archive = FakeArchive().holding(
        ACCOUNT, report=stored_report(timedelta(minutes=1), SAVED.to_json())
    )
    timeline = ScriptedTimeline(mentions_at(3, 2))
    reports, hooks = service(archive, timeline)

    # WHEN the schedule refreshes the account
    view = reports.refresh(ACME)

    # THEN X is read from the start (one page of 2 mentions, one empty page of own posts)
    assert timeline.asked == [(MENTIONS, None, None), (OWN_POSTS, None, None)]
    assert view.body["source"]["x_requests"] == 2
    # AND the stored report is the new one, made with 30 minutes
    stored = archive.stored_report(ACCOUNT)
    assert stored["mentions"] == 2 and stored["target_seconds"] == 1800
    assert hooks.refreshed == [(ACCOUNT, int(NOW.timestamp()))]


# --- When X fails -----------------------------------------------------------------------


def test_a_429_part_way_shows_the_posts_read_so_far_marked_stale_with_xs_reset_time() -> None:
    # GIVEN a report stored 20 minutes ago and an archive of mention 11, read up to it;
    #       X has 12, 13, 14 and answers 429 after the first page, back in 10 minutes
    reset_at = int(NOW.timestamp()) + 600
    archive = FakeArchive().holding(
        ACCOUNT,
        state=archive_of(mentions_at(4), mentions=Cursor("11")),
        report=stored_report(timedelta(minutes=20), SAVED.to_json()),
    )
    timeline = ScriptedTimeline(mentions_at(4, 3, 2, 1))
    timeline.fail(MENTIONS, XRateLimited("GET mentions: 429", reset_at=reset_at), after_pages=1)
    reports, hooks = service(archive, timeline)

    # WHEN she opens her report
    view = reports.view(ACME)

    # THEN she sees 11 and the first page (14, 13): 3 mentions, marked stale until the reset
    assert view.cache_state == "stale"
    assert view.body["mentions"] == 3
    source = view.body["source"]
    assert (source["stale"], source["reset_time"]) == (True, reset_at)
    assert (source["x_requests"], source["x_posts_read"]) == (1, 2)
    # AND the archive keeps what was read, and 12 (between 11 and 13) as a gap
    kept = archive.stored(ACCOUNT)
    assert sorted(kept.mentions) == ["11", "13", "14"]
    assert kept.cursor(MENTIONS) == Cursor("14", [("11", "13")])
    # AND the stored report is not replaced by a partial one, nor the refresh noted
    assert archive.stored_report(ACCOUNT)["mentions"] == 7
    assert hooks.refreshed == []


def test_a_rejected_token_calls_the_hook_once_and_stores_nothing() -> None:
    # GIVEN a report stored 20 minutes ago and an archive read up to 11; X refuses the token
    archive = FakeArchive().holding(
        ACCOUNT,
        state=archive_of(mentions_at(4), mentions=Cursor("11")),
        report=stored_report(timedelta(minutes=20), SAVED.to_json()),
    )
    timeline = ScriptedTimeline(mentions_at(4, 3))
    timeline.fail(MENTIONS, XRejected("GET mentions: 401"))
    reports, hooks = service(archive, timeline)

    # WHEN she opens her report
    with pytest.raises(XRejected):
        reports.view(ACME)

    # THEN the hook (mark the account, end its sessions) is told once, with the clock's time
    assert hooks.rejected == [(ACCOUNT, int(NOW.timestamp()))]
    # AND X is asked nothing more, and nothing is written
    assert timeline.asked == [(MENTIONS, "11", None)]
    assert archive.saves == 0 and archive.report_saves == 0


def test_with_nothing_read_yet_and_x_down_the_answer_is_xs_error() -> None:
    # GIVEN no archive and no report; X is down
    timeline = ScriptedTimeline(mentions_at(3))
    outage = XUnavailable("GET mentions: 503")
    timeline.fail(MENTIONS, outage)
    archive = FakeArchive()
    reports, _ = service(archive, timeline)

    # WHEN / THEN there is nothing to show: the error itself, and nothing stored
    with pytest.raises(XUnavailable) as raised:
        reports.view(ACME)
    assert raised.value is outage
    assert archive.states == {} and archive.reports == {}


def test_without_s3_the_report_is_made_from_x_and_says_so() -> None:
    # GIVEN S3 failing on every call; X has two mentions
    archive = FakeArchive()
    archive.unavailable = True
    timeline = ScriptedTimeline(mentions_at(3, 2))
    reports, hooks = service(archive, timeline)

    # WHEN she opens her report
    view = reports.view(ACME)

    # THEN X is read from the start, the report counts both, and it says S3 was not there
    assert timeline.asked == [(MENTIONS, None, None), (OWN_POSTS, None, None)]
    assert view.body["mentions"] == 2
    assert view.body["source"]["archive_available"] is False
    # AND no report is noted as stored: the schedule will try again
    assert hooks.refreshed == []


def test_what_a_refresh_wrote_for_an_account_forgotten_meanwhile_is_deleted_again() -> None:
    # GIVEN an archive of mentions 11 and 12, X with a new mention 13, and an account that
    #       is forgotten while the refresh reads X (the hook answers: not the same account)
    archive = FakeArchive().holding(
        ACCOUNT, state=archive_of(mentions_at(3, 2), [], mentions=Cursor("12"))
    )
    reports, hooks = service(archive, ScriptedTimeline(mentions_at(3, 2, 1)))
    hooks.forgotten = True

    # WHEN the schedule's refresh writes the archive, the archive again with what X said of
    #      the authors shown (it knows none of them), and the report
    reports.refresh(ACME)

    # THEN exactly those three versions are deleted again, and nothing is left of the account
    deleted = [(entry.key.rsplit("/", 1)[1], entry.version_id) for entry in archive.deleted_written]
    assert deleted == [("archive.json.gz", "1"), ("archive.json.gz", "2"), ("report.json", "1")]
    assert ACCOUNT not in archive.states and ACCOUNT not in archive.reports
    assert hooks.refreshed == []


def test_a_view_reads_x_only_as_long_as_it_may_and_hands_the_rest_to_a_worker() -> None:
    # GIVEN no report yet; X has mentions 11..14, and the view's 12 seconds for X run out
    #       after the first page (14, 13)
    archive = FakeArchive()
    timeline = ScriptedTimeline(mentions_at(4, 3, 2, 1))
    timeline.fail(MENTIONS, XReadCutShort("GET mentions: the time for X ran out"), after_pages=1)
    handed: list[str] = []
    reports = ReportService(
        archive,
        lambda account: timeline,
        MAX_AGE,
        Clock(NOW.timestamp()),
        x_seconds=(12.0, 240.0),
        on_cut_short=handed.append,
    )

    # WHEN she opens her first report
    view = reports.view(ACME)

    # THEN X was given until 12 s from now; she sees the two mentions read, marked as still
    #      reading (not stale: nothing failed), and a worker is asked to read the rest
    assert timeline.deadlines[0] == NOW.timestamp() + 12
    source = view.body["source"]
    assert view.cache_state == "reading" and view.body["mentions"] == 2
    assert (source["still_reading"], source["stale"]) == (True, False)
    assert handed == [ACCOUNT]
    # AND the archive keeps what was read, with everything older than 13 as a gap, and no
    #     partial report is stored
    kept = archive.stored(ACCOUNT)
    assert sorted(kept.mentions) == ["13", "14"]
    assert kept.cursor(MENTIONS) == Cursor("14", [(None, "13")])
    assert archive.reports == {}


def test_refresh_now_tops_up_a_fresh_report_and_stores_it() -> None:
    # GIVEN a report stored 2 minutes ago (fresh), an archive read up to mention 11, and a
    #       new mention 12 at X
    archive = FakeArchive().holding(
        ACCOUNT,
        state=archive_of(mentions_at(2), mentions=Cursor("11")),
        report=stored_report(timedelta(minutes=2), SAVED.to_json()),
    )
    timeline = ScriptedTimeline(mentions_at(2, 1))
    reports, hooks = service(archive, timeline)

    # WHEN she presses "Refresh now"
    view = reports.refresh_now(ACME)

    # THEN X is asked for what is new although the report was fresh, and the new report
    #      (2 mentions) is stored and noted as a refresh
    assert timeline.asked[0] == (MENTIONS, "11", None)
    assert view.body["mentions"] == 2 and archive.stored_report(ACCOUNT)["mentions"] == 2
    assert hooks.refreshed == [(ACCOUNT, int(NOW.timestamp()))]


class BrokenCountPause(XPause):
    """The fleet's pause with storage failing after a read: reads allowed, counting fails."""

    def __init__(self) -> None:
        self.counted: list[int] = []

    def check(self) -> bool:
        return False

    def count(self, posts: int) -> None:
        self.counted.append(posts)
        raise StoreUnavailable("DynamoDB UpdateItem failed: timeout")


def test_a_read_is_kept_when_the_pauses_count_cannot_be_stored() -> None:
    # GIVEN the archive read up to mention 12 and own post 21; X has one new mention, 13
    archive = FakeArchive().holding(
        ACCOUNT,
        state=archive_of(mentions_at(3, 2), mentions=Cursor("12"), tweets=Cursor("21")),
        report=stored_report(timedelta(minutes=20), SAVED.to_json()),
    )
    pause = BrokenCountPause()
    reports = ReportService(
        archive,
        lambda account: ScriptedTimeline(mentions_at(3, 2, 1)),
        MAX_AGE,
        Clock(NOW.timestamp()),
        pause=pause,
    )

    # WHEN she opens her report, and the month's count of posts read fails to be stored
    view = reports.view(ACME)

    # THEN the one post read was offered to the count, and is kept and shown all the same
    assert pause.counted == [1]
    assert view.body["mentions"] == 3 and view.body["source"]["stale"] is False
    assert sorted(archive.stored(ACCOUNT).mentions) == ["11", "12", "13"]


# --- Authors' handles ---------------------------------------------------------------------


def test_only_the_authors_of_the_rows_shown_are_looked_up_and_kept() -> None:
    # GIVEN 12 answered mentions, each by someone else: the 10 slowest are shown, the 2
    #       answered fastest (mentions 11 and 12, answered within a minute) are not
    posts = [mention(str(11 + n), NOW - timedelta(hours=30 - n), str(300 + n)) for n in range(12)]
    own = [
        reply(str(100 + n), str(11 + n), NOW - timedelta(hours=30 - n, minutes=-1 - 10 * n))
        for n in range(12)
    ]
    handles = {str(300 + n): f"fan{n}" for n in range(12)}
    archive = FakeArchive().holding(ACCOUNT, state=archive_of(posts, own))
    timeline = ScriptedTimeline(users=handles)
    reports, _ = service(archive, timeline)

    # WHEN the schedule refreshes her report, and a view rebuilds it later
    first = reports.refresh(ACME)
    second = reports.view(ACME, resolve({"days": "7"}, ACME.saved_settings))

    # THEN one request asked X for the 10 authors shown, and only for them
    assert timeline.looked_up == [[str(300 + n) for n in range(11, 1, -1)]]
    assert {row["author"] for row in first.body["slowest"]} == {f"fan{n}" for n in range(2, 12)}
    # AND the archive keeps their handles: the rebuilt view asks for nobody
    assert second.body["slowest"][0]["author"] == "fan11"
    assert first.body["source"]["x_users_read"] == 10
    assert second.body["source"]["x_users_read"] == 0
    kept = ArchiveState.from_json(json.loads(archive.states[ACCOUNT]))
    assert kept.users == {str(300 + n): f"fan{n}" for n in range(2, 12)}


def test_a_failed_lookup_leaves_the_rows_as_user_n_and_the_view_fresh() -> None:
    # GIVEN a fan's unanswered mention, and X failing the users lookup
    archive = FakeArchive().holding(ACCOUNT, state=archive_of(mentions_at(2)))
    timeline = ScriptedTimeline(users={"200": "fan"})
    timeline.fail_users(XUnavailable("GET users: 503"))
    reports, _ = service(archive, timeline)

    # WHEN the schedule refreshes her report
    view = reports.refresh(ACME)

    # THEN the report is made, fresh, and names her by id, linked to her profile by id
    assert view.error is None and not view.stale
    assert view.body["waiting"][0]["author"] == "user 200"
    assert view.body["waiting"][0]["author_url"] == "https://x.com/i/user/200"
