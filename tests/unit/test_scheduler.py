"""Scheduler.run_round: which due accounts it sends, ten to a batch, and what it counts
when SQS refuses some and when X has rejected a token; every due account, with no cap,
several batches in flight. The index is a FakeAccountIndex, the queue a FakeQueue.
GIVEN / WHEN / THEN."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from chalicelib.accounts import DueAccount
from chalicelib.refresh import RoundSummary, Scheduler
from chalicelib.refresh_queue import Sent
from tests.unit.fakes import Clock, FakeAccountIndex, FakeQueue

NOW = 1_800_000_000
MAX_AGE = 900


def due(count: int, first: int = 1000, *, rejected: bool = False) -> list[DueAccount]:
    """`count` accounts never refreshed, ids first, first + 1, ..."""
    return [DueAccount(str(first + n), 0, rejected) for n in range(count)]


def run(index: FakeAccountIndex, queue: FakeQueue, concurrency: int = 1) -> RoundSummary:
    scheduler = Scheduler(
        index, queue, max_age_seconds=MAX_AGE, clock=Clock(NOW), send_concurrency=concurrency
    )
    return scheduler.run_round()


class SlowQueue(FakeQueue):
    """A queue whose SendMessageBatch takes 20 ms, noting how many are in flight at once."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight = 0
        self.most_in_flight = 0
        self._lock = threading.Lock()

    def send(self, account_ids: Sequence[str]) -> Sent:
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        time.sleep(0.02)
        with self._lock:
            self.in_flight -= 1
            return super().send(account_ids)


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


def test_every_due_account_is_queued_however_many_oldest_first() -> None:
    # GIVEN 5,003 accounts due, oldest report first (the index's order), 2 rejected among them
    index = FakeAccountIndex([DueAccount(str(1000 + n), n, n in (7, 4000)) for n in range(5003)])
    queue = FakeQueue()

    # WHEN a round runs
    summary = run(index, queue)

    # THEN every other one is queued, in the index's order: no cap from any X budget
    expected = [str(1000 + n) for n in range(5003) if n not in (7, 4000)]
    assert queue.queued == expected
    assert summary == RoundSummary(seen=5003, queued=5001, skipped=2, send_batches=501)


def test_batches_go_to_sqs_several_at_once_and_every_one_is_counted() -> None:
    # GIVEN 200 accounts due and a queue that takes 20 ms a SendMessageBatch
    index, queue = FakeAccountIndex(due(200)), SlowQueue()

    # WHEN a round runs with 8 sends in flight
    started = time.perf_counter()
    summary = run(index, queue, concurrency=8)
    elapsed = time.perf_counter() - started

    # THEN 8 were in flight at once, never more, and the 20 batches took about 3 sends' time
    assert queue.most_in_flight == 8
    assert elapsed < 20 * 0.02 / 2
    # AND each account went out once, and the summary counts every batch
    assert sorted(queue.queued) == [str(1000 + n) for n in range(200)]
    assert summary == RoundSummary(seen=200, queued=200, send_batches=20)


def test_a_round_with_nothing_due_sends_nothing() -> None:
    # GIVEN one account refreshed a minute ago: not due
    index = FakeAccountIndex([DueAccount("1000", NOW - 60, False)])
    queue = FakeQueue()

    # WHEN / THEN no SendMessageBatch at all
    assert run(index, queue) == RoundSummary()
    assert queue.batches == []
