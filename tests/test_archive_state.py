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
