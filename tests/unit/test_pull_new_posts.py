"""pull_new_posts: what a top-up asks of X (since_id / until_id), what it keeps in the
archive, and the gaps it leaves when X stops it part way. X is a ScriptedTimeline of two
posts a page. GIVEN / WHEN / THEN; every expected figure is worked out in a comment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.archive import ArchiveState, Cursor
from chalicelib.errors import XRateLimited, XUnavailable
from chalicelib.report_service import pull_new_posts
from chalicelib.x_timeline import MENTIONS, OWN_POSTS
from tests.posts import ACCOUNT, mention, reply
from tests.unit.fakes import Post, ScriptedTimeline

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def mentions(*ids: int) -> list[Post]:
    """Mentions by the fan "200", an hour apart, the first id the oldest."""
    return [mention(str(pid), NOW - timedelta(hours=20 - pid)) for pid in ids]


def own(*ids: int) -> list[Post]:
    return [reply(str(pid), "11", NOW - timedelta(hours=30 - pid)) for pid in ids]


def test_an_empty_archive_reads_both_timelines_whole_and_keeps_every_post() -> None:
    # GIVEN X holds mentions 11, 12, 13 (by @fan) and the account's own post 21
    timeline = ScriptedTimeline(mentions(11, 12, 13), own(21), users={"200": "fan"})
    state = ArchiveState()

    # WHEN the archive is topped up
    pulled = pull_new_posts(timeline, ACCOUNT, state)

    # THEN X is asked for each timeline from the start, with no id at all
    assert timeline.asked == [(MENTIONS, None, None), (OWN_POSTS, None, None)]
    # AND mentions took 2 requests (13 12 | 11) and own posts 1: 3 requests, 4 posts
    assert (pulled.x_requests, pulled.x_posts_read, pulled.error) == (3, 4, None)
    assert sorted(state.mentions) == ["11", "12", "13"]
    assert sorted(state.own_posts) == ["21"]
    # AND no handle is read with the posts: X would bill each author returned, shown or not
    assert state.users == {} and timeline.looked_up == []
    # AND the next top-up starts after the newest ids, with no gap to fill
    assert state.cursor(MENTIONS) == Cursor("13", [])
    assert state.cursor(OWN_POSTS) == Cursor("21", [])


def test_a_top_up_asks_x_only_for_what_is_newer_than_the_newest_id_held() -> None:
    # GIVEN an archive read up to mention 12 and own post 21; X has 13, 14 and 22 since
    state = ArchiveState(
        mentions={p["id"]: p for p in mentions(11, 12)},
        own_posts={p["id"]: p for p in own(21)},
        cursors={MENTIONS: Cursor("12"), OWN_POSTS: Cursor("21")},
    )
    timeline = ScriptedTimeline(mentions(11, 12, 13, 14), own(21, 22))

    # WHEN
    pulled = pull_new_posts(timeline, ACCOUNT, state)

    # THEN since_id is the newest id held, for each timeline
    assert timeline.asked == [(MENTIONS, "12", None), (OWN_POSTS, "21", None)]
    # AND one page each (14 13 | 22): 2 requests, 3 posts, none read twice
    assert (pulled.x_requests, pulled.x_posts_read) == (2, 3)
    assert sorted(state.mentions) == ["11", "12", "13", "14"]
    assert state.cursor(MENTIONS).newest_id == "14"
    assert state.cursor(OWN_POSTS).newest_id == "22"


def test_x_failing_part_way_keeps_what_was_read_and_leaves_the_rest_as_a_gap() -> None:
    # GIVEN an archive read up to mention 10, whose own posts still lack a gap below 21
    #       from an earlier interrupted read; X has mentions 11 to 15 and fails (503)
    #       after the first page of them
    state = ArchiveState(
        cursors={MENTIONS: Cursor("10"), OWN_POSTS: Cursor("21", [(None, "21")])},
    )
    timeline = ScriptedTimeline(mentions(11, 12, 13, 14, 15), own(5, 21))
    outage = XUnavailable("GET mentions: 503")
    timeline.fail(MENTIONS, outage, after_pages=1)

    # WHEN
    pulled = pull_new_posts(timeline, ACCOUNT, state)

    # THEN the first page (15 14) is kept and the newest id moves to 15
    assert pulled.error is outage
    assert (pulled.x_requests, pulled.x_posts_read) == (1, 2)
    assert sorted(state.mentions) == ["14", "15"]
    # AND what lies between 10 and the oldest post read (11, 12, 13) is a gap for next time
    assert state.cursor(MENTIONS) == Cursor("15", [("10", "14")])
    # AND X is not asked again after failing: own posts wait, their old gap kept
    assert timeline.asked == [(MENTIONS, "10", None)]
    assert state.cursor(OWN_POSTS) == Cursor("21", [(None, "21")])


def test_the_next_top_up_fills_the_gap_and_a_gap_read_whole_is_gone() -> None:
    # GIVEN what the failure above left: mentions 14 and 15, and the gap (10, 14);
    #       X has 11 to 16 now
    state = ArchiveState(
        mentions={p["id"]: p for p in mentions(14, 15)},
        cursors={MENTIONS: Cursor("15", [("10", "14")])},
    )
    timeline = ScriptedTimeline(mentions(11, 12, 13, 14, 15, 16))

    # WHEN
    pulled = pull_new_posts(timeline, ACCOUNT, state)

    # THEN X is asked for what is newer than 15, then for the gap between 10 and 14
    assert timeline.asked == [
        (MENTIONS, "15", None),
        (MENTIONS, "10", "14"),
        (OWN_POSTS, None, None),
    ]
    # AND 16 (1 request), 13 12 | 11 (2 requests), no own posts (1 request): 4 and 4
    assert (pulled.x_requests, pulled.x_posts_read, pulled.error) == (4, 4, None)
    assert sorted(state.mentions, key=int) == ["11", "12", "13", "14", "15", "16"]
    assert state.cursor(MENTIONS) == Cursor("16", [])


def test_a_429_on_the_first_request_reads_nothing_and_keeps_every_gap() -> None:
    # GIVEN an archive read up to 15 with the gap (10, 14); X answers 429, back at 1800
    state = ArchiveState(cursors={MENTIONS: Cursor("15", [("10", "14")])})
    timeline = ScriptedTimeline(mentions(11, 12, 16))
    timeline.fail(MENTIONS, XRateLimited("GET mentions: 429", reset_at=1800))

    # WHEN
    pulled = pull_new_posts(timeline, ACCOUNT, state)

    # THEN one attempt, nothing read, X's reset time carried to the caller
    assert timeline.asked == [(MENTIONS, "15", None)]
    assert (pulled.x_requests, pulled.x_posts_read) == (0, 0)
    assert isinstance(pulled.error, XRateLimited) and pulled.error.reset_at == 1800
    # AND the cursor is as it was: 16 and the gap are read next time
    assert state.cursor(MENTIONS) == Cursor("15", [("10", "14")])
    assert state.mentions == {}
