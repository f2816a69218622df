"""RefreshWorker.process: Lambda's answer for a batch of refresh messages, and what it does
with each: a report stored, a duplicate skipped, a message handed back with a delay until
X's reset, a rejected token done with, a failure left for SQS to redeliver. The accounts
are a FakeAccountStore, the archive a FakeArchive, X a ScriptedTimeline per account, the
queue a FakeQueue; the ReportService is the real one. GIVEN / WHEN / THEN."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalicelib.accounts import AccountTokens
from chalicelib.archive import ArchiveState, Cursor
from chalicelib.errors import XRateLimited, XRejected, XUnavailable
from chalicelib.refresh import RefreshWorker
from chalicelib.refresh_queue import MAX_VISIBILITY_SECONDS, message_body
from chalicelib.report_service import ReportService
from chalicelib.x_timeline import MENTIONS, XTimeline
from tests.lambda_events import sqs_event
from tests.posts import mention
from tests.support.lambda_context import LambdaContext
from tests.unit.fakes import Clock, FakeAccountStore, FakeArchive, FakeQueue, ScriptedTimeline

NOW = 1_800_000_000
MAX_AGE = 900
SPREAD = 900  # the X window: handed-back messages come back spread over it
JITTER = 7  # what the spread adds in these tests


class World:
    """One worker and what it works on; `timelines` is X, per account."""

    def __init__(self, *accounts: AccountTokens) -> None:
        self.store = FakeAccountStore(*accounts)
        self.archive = FakeArchive()
        self.queue = FakeQueue()
        self.timelines = {account.account_id: ScriptedTimeline() for account in accounts}
        self.spreads: list[int] = []
        clock = Clock(NOW)

        def timeline_for(account: AccountTokens) -> XTimeline:
            return self.timelines[account.account_id]

        def token_rejected(account_id: str, at: int) -> None:
            self.store.mark_token_rejected(account_id, at)  # services also ends her sessions

        def jitter(spread: int) -> int:
            self.spreads.append(spread)
            return JITTER

        reports = ReportService(
            self.archive,
            timeline_for,
            MAX_AGE,
            clock,
            on_written=self.store.confirm_written,
            on_rejected=token_rejected,
        )
        self.worker = RefreshWorker(
            self.store,
            reports,
            self.queue,
            max_age_seconds=MAX_AGE,
            spread_seconds=SPREAD,
            clock=clock,
            jitter=jitter,
        )

    def process(self, *account_ids: str) -> list[str]:
        """One batch, message m<n> (receipt r<n>) per account; returns the ids of the
        messages Lambda is told to keep."""
        event = sqs_event(
            *((f"m{n}", f"r{n}", message_body(a)) for n, a in enumerate(account_ids, 1))
        )
        answer: dict[str, Any] = self.worker.process(event, LambdaContext("responsetime-worker"))
        return [failure["itemIdentifier"] for failure in answer["batchItemFailures"]]


def account(account_id: str, refreshed_at: int = 0) -> AccountTokens:
    return AccountTokens(account_id, f"brand{account_id}", "token", "secret", refreshed_at)


def a_mention(pid: str) -> dict[str, Any]:
    """A mention of an hour ago."""
    return mention(pid, datetime.fromtimestamp(NOW - 3600, UTC))


def test_a_batch_keeps_only_the_message_x_put_off_and_hands_it_back_until_xs_reset() -> None:
    # GIVEN three accounts: 101 due, 102 refreshed a minute ago (a duplicate message),
    #       103 due but X answers its first request with 429, back in 300 s
    world = World(account("101"), account("102", NOW - 60), account("103"))
    world.timelines["101"].posts[MENTIONS] = [a_mention("11")]
    world.timelines["103"].fail(MENTIONS, XRateLimited("429", reset_at=NOW + 300))

    # WHEN one batch brings a message for each
    kept = world.process("101", "102", "103")

    # THEN Lambda keeps only 103's message, made invisible for 300 s plus the spread's 7
    assert kept == ["m3"]
    assert world.queue.handed_back == [("r3", 300 + JITTER)]
    assert world.spreads == [SPREAD]
    # AND 101's report is stored and the account noted; 102 cost X nothing
    assert set(world.archive.reports) == {"101"}
    assert world.store.refreshed == [("101", NOW)]
    assert world.timelines["102"].asked == []


def test_a_429_part_way_keeps_what_was_read_and_hands_the_message_back() -> None:
    # GIVEN 101's archive read up to 11; X has 12, 13, 14 and answers 429 after one page
    #       of two, back in 60 s
    world = World(account("101"))
    state = ArchiveState(
        mentions={"11": a_mention("11")},
        cursors={MENTIONS: Cursor("11")},
        refreshed_at=NOW - 3600,
    )
    world.archive.holding("101", state=state)
    world.timelines["101"].posts[MENTIONS] = [a_mention(p) for p in ("11", "12", "13", "14")]
    world.timelines["101"].fail(MENTIONS, XRateLimited("429", reset_at=NOW + 60), after_pages=1)

    # WHEN
    kept = world.process("101")

    # THEN the message comes back after 60 + 7 s
    assert kept == ["m1"]
    assert world.queue.handed_back == [("r1", 60 + JITTER)]
    # AND the archive keeps 14 and 13, with 12 as a gap, but no partial report is stored
    archived = world.archive.stored("101")
    assert sorted(archived.mentions) == ["11", "13", "14"]
    assert archived.cursor(MENTIONS) == Cursor("14", [("11", "13")])
    assert world.archive.reports == {} and world.store.refreshed == []


def test_with_no_reset_named_the_message_waits_a_whole_window() -> None:
    # GIVEN X answers 429 without saying when it resets
    world = World(account("101"))
    world.timelines["101"].fail(MENTIONS, XRateLimited("429"))

    # WHEN / THEN it waits the spread (900) plus the jitter (7)
    assert world.process("101") == ["m1"]
    assert world.queue.handed_back == [("r1", SPREAD + JITTER)]


def test_a_reset_days_away_is_capped_at_sqs_s_12_hours() -> None:
    # GIVEN X's reset two days from now
    world = World(account("101"))
    world.timelines["101"].fail(MENTIONS, XRateLimited("429", reset_at=NOW + 2 * 86_400))

    # WHEN / THEN the delay is SQS's longest, 12 h = 43,200 s
    assert world.process("101") == ["m1"]
    assert world.queue.handed_back == [("r1", MAX_VISIBILITY_SECONDS)]
    assert MAX_VISIBILITY_SECONDS == 43_200


def test_a_rejected_token_is_marked_and_its_message_done_with() -> None:
    # GIVEN X refuses 101's token
    world = World(account("101"))
    world.timelines["101"].fail(MENTIONS, XRejected("401"))

    # WHEN
    kept = world.process("101")

    # THEN nothing is kept or handed back (nothing to retry); the account is marked once
    assert kept == [] and world.queue.handed_back == []
    assert world.store.rejected == [("101", NOW)]


def test_x_down_leaves_the_message_for_sqs_to_deliver_again() -> None:
    # GIVEN X is down for 101, which has nothing read yet; 102 is unknown (forgotten)
    world = World(account("101"))
    world.timelines["101"].fail(MENTIONS, XUnavailable("503"))

    # WHEN
    kept = world.process("101", "102")

    # THEN 101's message is kept without a delay of ours (SQS's visibility timeout, then
    #      the dead-letter queue after five receives); 102's is done with, nothing to do
    assert kept == ["m1"]
    assert world.queue.handed_back == []
    assert world.archive.states == {} and world.archive.reports == {}


def test_a_message_that_is_not_ours_is_kept_for_the_dead_letter_queue() -> None:
    # GIVEN a message whose body names no account
    world = World(account("101"))
    event = sqs_event(("m1", "r1", '{"hello": "world"}'))

    # WHEN
    answer = world.worker.process(event, LambdaContext("responsetime-worker"))

    # THEN it is reported failed, never handed back, and X is not asked
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert world.queue.handed_back == [] and world.timelines["101"].asked == []
