"""chalicelib.archive.ArchiveState: from when the archive holds every mention."""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib.archive import ArchiveState, Cursor, snowflake_time


def test_the_archive_is_complete_from_its_oldest_mention() -> None:
    # GIVEN created_at in X's format, without an offset (read as UTC), and with another one
    state = ArchiveState(
        mentions={
            "1": {"id": "1", "created_at": "2026-03-05T00:00:00.000Z"},
            "2": {"id": "2", "created_at": "2026-03-04T23:30:00"},
            "3": {"id": "3", "created_at": "2026-03-05T01:00:00+02:00"},  # 23:00 UTC on the 4th
            "4": {"id": "4", "created_at": "not a time"},
        }
    )
    # THEN the oldest instant wins, whatever the text looks like
    assert state.mentions_complete_since() == datetime(2026, 3, 4, 23, 0, tzinfo=UTC)
    assert ArchiveState().mentions_complete_since() is None


def test_an_unfilled_gap_moves_the_start_to_its_end() -> None:
    # GIVEN a mention of 1 March and a gap whose newest unread id is of 3 March
    until = (int(datetime(2026, 3, 3, tzinfo=UTC).timestamp() * 1000) - 1288834974657) << 22
    state = ArchiveState(
        mentions={"1": {"id": "1", "created_at": "2026-03-01T00:00:00.000Z"}},
        cursors={"mentions": Cursor("9", [(None, str(until))])},
    )
    # THEN nothing before the gap's end is known to be complete
    assert state.mentions_complete_since() == datetime(2026, 3, 3, tzinfo=UTC)
    assert snowflake_time(until) == datetime(2026, 3, 3, tzinfo=UTC)


def test_two_reads_merge_to_what_either_read() -> None:
    # GIVEN one read that holds everything up to 500 but left the gap (100, 200), and one
    # that read only up to 300 (it began from a copy before the first read 300..500), and
    # left (150, 250) and everything below 50 unread
    first = Cursor("500", [("100", "200")])
    second = Cursor("300", [("150", "250"), (None, "50")])
    # WHEN they are merged
    merged = first.merge(second)
    # THEN an id is unread only when both left it unread:
    #   first's unread:  (100, 200), (500, inf)
    #   second's unread: (150, 250), (-inf, 50), (300, inf)
    #   both:            (150, 200) [first gap x second gap], (500, inf) [the newest]
    assert merged == Cursor("500", [("150", "200")])
    assert second.merge(first) == merged


def test_a_timeline_nobody_read_stays_unread_and_one_reader_is_kept_as_it_is() -> None:
    # GIVEN a timeline read once (gap below 40) and one never read
    read = Cursor("90", [(None, "40")])
    # THEN the merge is the one read: a never-read cursor leaves everything unread
    assert read.merge(Cursor()) == Cursor("90", [(None, "40")])
    assert Cursor().merge(Cursor()) == Cursor()


def test_an_interval_that_holds_no_id_is_no_gap() -> None:
    # GIVEN gaps (10, 12) and (11, 20): their intersection (11, 12) holds no integer id
    merged = Cursor("30", [("10", "12")]).merge(Cursor("30", [("11", "20")]))
    # THEN no gap is kept (asking X for it would cost a request for nothing)
    assert merged == Cursor("30", [])


def test_a_merge_keeps_every_post_of_both_and_the_later_refresh() -> None:
    # GIVEN what another writer stored (posts 1 and 2, refreshed at 100) and what this
    # writer read (posts 2, read again with a new field, and 3, refreshed at 200)
    stored = ArchiveState(
        mentions={"1": {"id": "1", "author_id": "u1"}, "2": {"id": "2"}},
        own_posts={"7": {"id": "7"}},
        users={"u1": "ann", "u2": "bo"},  # bo has no post left: her handle goes
        cursors={"mentions": Cursor("2")},
        refreshed_at=100.0,
        etag='"stored"',
    )
    mine = ArchiveState(
        mentions={"2": {"id": "2", "new": True}, "3": {"id": "3", "author_id": "u3"}},
        users={"u3": "cy"},
        cursors={"mentions": Cursor("3"), "tweets": Cursor("8")},
        refreshed_at=200.0,
        etag='"old"',
    )
    # WHEN this writer's state is merged into the stored one
    merged = mine.merge(stored)
    # THEN nothing of either is lost, this writer's copy of post 2 wins, and the merged
    # state writes over the stored version (its ETag)
    assert sorted(merged.mentions) == ["1", "2", "3"] and merged.mentions["2"]["new"] is True
    assert merged.own_posts == {"7": {"id": "7"}}
    assert merged.users == {"u1": "ann", "u3": "cy"}  # the handles of the posts' authors
    assert merged.cursors == {"mentions": Cursor("3"), "tweets": Cursor("8")}
    assert merged.refreshed_at == 200.0 and merged.etag == '"stored"'


def test_a_merge_keeps_what_either_writer_learned_of_authors_while_they_have_posts() -> None:
    # GIVEN a stored archive that knows @ann's handle and that X has no user "u4", and a
    # writer that learned since that X has no user "u3" (and "u9", whose posts are gone)
    stored = ArchiveState(
        mentions={p: {"id": p, "author_id": f"u{p}"} for p in ("1", "3", "4")},
        users={"u1": "ann"},
        missing_users={"u4"},
    )
    mine = ArchiveState(
        mentions={"3": {"id": "3", "author_id": "u3"}},
        missing_users={"u3", "u9"},
    )
    # WHEN they are merged
    merged = mine.merge(stored)
    # THEN both writers' knowledge is kept for authors with a post, so none is asked again
    assert merged.users == {"u1": "ann"}
    assert merged.missing_users == {"u3", "u4"}
    assert merged.unknown_authors(["u1", "u3", "u4", "u5", "u5", None]) == ["u5"]
    # AND it survives the round trip through the stored JSON
    assert ArchiveState.from_json(merged.to_json()).missing_users == {"u3", "u4"}


def test_a_handle_learned_later_replaces_the_word_that_x_had_none() -> None:
    state = ArchiveState(missing_users={"u1"})
    state.learn_users({"u1": "ann"}, {"u1", "u2"})
    assert state.users == {"u1": "ann"} and state.missing_users == {"u2"}
