"""The pure parts of batch compliance, hand-computed: where a chain stands (positions in
the bucket's key order), the queue's message shapes (and what is not one), what a users
job or the owner turning protected removes, and withdrawn posts (and their authors'
handles) staying out of the archive whichever writer saves last."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.archive import ArchiveState
from chalicelib.compliance import END, Collect, Poll, Position, message_body, message_of
from chalicelib.x_compliance import USERS, Change, apply_changes, archived_ids

BRAND, ANN, BOB = "100", "200", "300"


def post(post_id: str, author: str) -> dict[str, Any]:
    return {"id": post_id, "author_id": author, "text": f"post {post_id}"}


def test_positions_follow_the_buckets_key_order_and_read_back_as_written() -> None:
    # folders sort as "<id>/": "10/" before "9/", and "1/" before "10/"
    keys = sorted([Position("9"), Position("10"), Position("1"), Position(END), Position("")],
                  key=Position.key)  # fmt: skip
    assert [p.account for p in keys] == ["", "1", "10", "9", END]
    # within an account, ids after `after` come later
    assert Position("10", "55").key() > Position("10").key()
    assert Position("10", "55").key() < Position("9").key()
    for position in (Position(""), Position("10", "55"), Position(END)):
        assert Position.parse(str(position)) == position
    for bad in ("10", "x:1", "10:x", 10, "10:-1"):
        with pytest.raises(ValueError):
            Position.parse(bad)


def test_messages_read_back_as_written_and_anything_else_is_refused() -> None:
    for message in (
        Collect("tweets", "2026-12-01T04:00:00Z", Position("")),
        Collect("users", "r", Position("12", "99")),
        Poll("tweets", "r", "1460323737035677698", Position("1"), Position(END), 3),
    ):
        assert message_of(message_body(message)) == message
    assert message_body(Collect("users", "r", Position(""))) == (
        '{"type":"users","round":"r","collect":true,"from":":"}'
    )
    for body in (
        "[]",
        '{"type": "likes", "round": "r", "collect": true, "from": ":"}',
        '{"type": "tweets", "round": "", "collect": true, "from": ":"}',
        '{"type": "tweets", "round": "r", "collect": true, "from": "x"}',
        '{"type": "tweets", "round": "r", "poll": 7, "from": ":", "to": "~:"}',
        '{"type": "tweets", "round": "r", "poll": "j1", "from": ":", "to": "~:"}',
        '{"type": "tweets", "round": "r", "poll": "1", "from": ":", "to": "~:", "polls": "2"}',
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


def test_a_handle_whose_author_went_does_not_come_back_with_a_merge() -> None:
    # GIVEN a refresh that loaded the archive before a users job took Bob out
    refresh = archive()
    compliance = archive()
    apply_changes(compliance, [Change(BOB, "suspended")], owner=BRAND, kind=USERS)

    merged = refresh.merge(compliance)

    assert BOB not in merged.users and "21" not in merged.mentions
    assert merged.users == {BRAND: "brand", ANN: "ann"}
