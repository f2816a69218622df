"""Scheduler.run_round: which due accounts it sends, ten to a batch, and what it counts
when SQS refuses some, when X has rejected a token, and at the round's cap. The index is a
FakeAccountIndex, the queue a FakeQueue. GIVEN / WHEN / THEN."""

from __future__ import annotations

from chalicelib.accounts import DueAccount
from chalicelib.refresh import RoundSummary, Scheduler
from tests.unit.fakes import Clock, FakeAccountIndex, FakeQueue

NOW = 1_800_000_000
MAX_AGE = 900


def due(count: int, first: int = 1000, *, rejected: bool = False) -> list[DueAccount]:
    """`count` accounts never refreshed, ids first, first + 1, ..."""
    return [DueAccount(str(first + n), 0, rejected) for n in range(count)]


def run(index: FakeAccountIndex, queue: FakeQueue, cap: int = 1000) -> RoundSummary:
    scheduler = Scheduler(index, queue, max_age_seconds=MAX_AGE, cap=cap, clock=Clock(NOW))
    return scheduler.run_round()


def test_25_due_accounts_go_out_in_batches_of_10_10_and_5() -> None:
    # GIVEN 25 accounts due
    index, queue = FakeAccountIndex(due(25)), FakeQueue()

    # WHEN a round runs
    summary = run(index, queue)

    # THEN the index is asked for what was refreshed 15 minutes ago or before
    assert index.asked == [NOW - MAX_AGE]
    # AND 25 = 10 + 10 + 5 messages, each account once, in the index's order
    assert [len(batch) for batch in queue.batches] == [10, 10, 5]
    assert queue.queued == [str(1000 + n) for n in range(25)]
    assert summary == RoundSummary(seen=25, queued=25, send_batches=3)


def test_entries_sqs_refuses_are_counted_and_the_rest_of_their_batch_is_queued() -> None:
    # GIVEN 12 accounts due; SQS refuses the entries of 1003 and 1011
    index, queue = FakeAccountIndex(due(12)), FakeQueue(refuse={"1003", "1011"})

    # WHEN
    summary = run(index, queue)

    # THEN two batches (10, 2): 12 - 2 = 10 queued, 2 failed (still due: next round)
    assert [len(batch) for batch in queue.batches] == [10, 2]
    assert (summary.queued, summary.send_failed, summary.send_batches) == (10, 2, 2)


def test_accounts_whose_token_x_rejected_are_counted_and_never_sent() -> None:
    # GIVEN 3 accounts whose token X rejected and 2 due
    index = FakeAccountIndex(due(3, 2000, rejected=True) + due(2))
    queue = FakeQueue()

    # WHEN
    summary = run(index, queue)

    # THEN 5 seen, 3 skipped, only the 2 others sent, in one batch
    assert queue.batches == [["1000", "1001"]]
    assert summary == RoundSummary(seen=5, queued=2, skipped=3, send_batches=1)


def test_a_round_stops_at_its_cap_and_leaves_the_rest_for_the_next() -> None:
    # GIVEN 2 rejected accounts first, then 12 due; a cap of 10 messages a round
    index = FakeAccountIndex(due(2, 2000, rejected=True) + due(12))
    queue = FakeQueue()

    # WHEN
    summary = run(index, queue, cap=10)

    # THEN one full batch of the first 10 due; the 11th stops the round (2 + 10 seen)
    assert queue.queued == [str(1000 + n) for n in range(10)]
    assert summary == RoundSummary(seen=12, queued=10, skipped=2, capped=True, send_batches=1)


def test_a_round_with_nothing_due_sends_nothing() -> None:
    # GIVEN one account refreshed a minute ago: not due
    index = FakeAccountIndex([DueAccount("1000", NOW - 60, False)])
    queue = FakeQueue()

    # WHEN / THEN no SendMessageBatch at all
    assert run(index, queue) == RoundSummary()
    assert queue.batches == []
