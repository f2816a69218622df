"""The pure parts of batch compliance, hand-computed: how ids fill jobs (split_jobs), what
a collect cut short leaves to do, the queue's message shapes (and what is not one), what a
users job or the owner turning protected removes, and withdrawn posts staying out of the
archive whichever writer saves last."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.archive import ArchiveState
from chalicelib.compliance import (
    Collect,
    JobSlice,
    Poll,
    _left,
    message_body,
    message_of,
    split_jobs,
)
from chalicelib.x_compliance import USERS, Change, apply_changes, archived_ids

BRAND, ANN, BOB = "100", "200", "300"


def post(post_id: str, author: str) -> dict[str, Any]:
    return {"id": post_id, "author_id": author, "text": f"post {post_id}"}


def test_jobs_are_filled_to_the_limit_and_an_account_may_span_two() -> None:
    # a: 1 2 3 | b: 4 5 (3 again: a reply of b's that a holds too) | c: 6
    listed = [("a", ["1", "2", "3"]), ("b", ["4", "3", "5"]), ("c", ["6"])]

    assert split_jobs(listed, 4) == [
        JobSlice(("1", "2", "3", "4"), ("a", "b")),
        JobSlice(("5", "6"), ("b", "c")),
    ]
    assert split_jobs(listed, 100) == [JobSlice(("1", "2", "3", "4", "5", "6"), ("a", "b", "c"))]
    assert split_jobs(listed, 2) == [
        JobSlice(("1", "2"), ("a",)),
        JobSlice(("3", "4"), ("a", "b")),
        JobSlice(("5", "6"), ("b", "c")),
    ]
    assert split_jobs([("a", [])], 10) == []
    with pytest.raises(ValueError):
        split_jobs(listed, 0)


def test_a_collect_cut_short_leaves_the_unmade_jobs_and_every_later_kind() -> None:
    parts = [JobSlice(("5", "6"), ("b", "c"))]

    # cut in the posts' jobs: the posts of b and c, and the handles of all three
    assert _left(parts, "tweets", ("a", "b", "c"), ("users",)) == [
        Collect(("b", "c"), ("tweets",)),
        Collect(("a", "b", "c"), ("users",)),
    ]
    # the same accounts both ways: one message
    assert _left(parts, "tweets", ("b", "c"), ("users",)) == [
        Collect(("b", "c"), ("tweets", "users"))
    ]
    # cut in the last kind: only what is left of it
    assert _left(parts, "users", ("a", "b", "c"), ()) == [Collect(("b", "c"), ("users",))]


def test_messages_read_back_as_written_and_anything_else_is_refused() -> None:
    for message in (
        Collect(("1", "2")),
        Collect(("1",), ("users",)),
        Poll("job-1", "tweets", ("1", "2"), 3),
    ):
        assert message_of(message_body(message)) == message
    assert message_body(Collect(("1",))) == '{"collect":["1"]}'
    for body in (
        "[]",
        '{"collect": "1"}',
        '{"collect": ["x1"]}',
        '{"collect": ["1"], "types": ["spaces"]}',
        '{"collect": ["1"], "types": []}',
        '{"poll": 7, "type": "tweets", "accounts": ["1"]}',
        '{"poll": "j", "type": "likes", "accounts": ["1"]}',
        '{"poll": "j", "type": "tweets", "accounts": ["1"], "polls": "2"}',
    ):
        with pytest.raises(ValueError):
            message_of(body)


def archive() -> ArchiveState:
    return ArchiveState(
        mentions={"11": post("11", ANN), "12": post("12", ANN), "21": post("21", BOB)},
        own_posts={"51": post("51", BRAND)},
        users={BRAND: "brand", ANN: "ann", BOB: "bob"},
    )


def test_a_users_job_takes_every_post_of_the_users_it_names() -> None:
    state = archive()

    removed = apply_changes(
        state,
        [Change(ANN, "deactivated"), Change(BOB, "scrub_geo"), Change("999", "suspended")],
        owner=BRAND,
        kind=USERS,
    )

    assert removed == ["11", "12"]
    assert sorted(state.mentions) == ["21"] and state.users == {BRAND: "brand", BOB: "bob"}
    assert state.withdrawn == {"11", "12"}
    # her own id is never asked about; Ann's and Bob's are
    assert archived_ids(archive(), USERS, BRAND) == [ANN, BOB]
    assert archived_ids(archive(), "tweets", BRAND) == ["11", "12", "21", "51"]


def test_the_owner_turning_protected_keeps_her_posts_but_not_one_she_deleted() -> None:
    state = archive()
    state.own_posts["52"] = post("52", BRAND)

    removed = apply_changes(
        state,
        [Change("51", "protected"), Change("52", "deleted")],
        owner=BRAND,
    )
    assert removed == ["52"] and sorted(state.own_posts) == ["51"]
    assert apply_changes(state, [Change(BRAND, "protected")], owner=BRAND, kind=USERS) == []
    # suspended is another matter: everything of hers goes
    assert apply_changes(state, [Change("51", "suspended")], owner=BRAND) == ["51"]
    assert BRAND not in state.users


def test_a_withdrawn_post_stays_out_whichever_writer_saves_last() -> None:
    # GIVEN a refresh that loaded the archive before compliance withdrew 11, and read 13
    refresh = archive()
    refresh.mentions["13"] = post("13", ANN)
    compliance = archive()
    apply_changes(compliance, [Change("11", "deleted")], owner=BRAND)

    # WHEN either merges into what the other saved
    one = refresh.merge(compliance)
    other = compliance.merge(refresh)

    # THEN 11 is in neither, 13 is in both, and both remember 11 went
    for merged in (one, other):
        assert sorted(merged.mentions) == ["12", "13", "21"] and merged.withdrawn == {"11"}
    # AND a later read from X does not store it again; the round trip keeps the ids
    assert one.keep(one.mentions, post("11", ANN)) is False and "11" not in one.mentions
    assert ArchiveState.from_json(one.to_json()).withdrawn == {"11"}
    assert one.to_json()["withdrawn"] == ["11"]
