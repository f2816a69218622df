"""Keep every report fresh: the schedule's fan-out and the per-account refresh.

EventBridge starts `Scheduler.run_round` every REFRESH_RATE_MINUTES. It reads every account
whose report is older than the max age from the `refresh-due` index (oldest first, a Query
page at a time, never a Scan) and sends one SQS message per account, ten to a
SendMessageBatch, `send_concurrency` batches in flight: no cap, since X limits each
account's token and not the fleet, and 100,000 accounts fit one invocation. Workers receive
the messages ten at a time; each runs `refresh_account`, the same path a page view takes
(archive in S3, `since_id`, report to S3), drawing every X request from the account
token's budget. A message whose refresh X or the budget put off is handed back with a
visibility delay until that token's reset (no other account waits for it); one that failed
is left for SQS to redeliver, and after five receives the dead-letter queue keeps it.

An account nobody viewed for REFRESH_IDLE_DAYS is not in the index at all (the daily
sweep's retention took it out, sweep.Retention): no round reads it or spends X's budget on
it until a view or a sign-in puts it back.
"""

from __future__ import annotations

import contextvars
import math
import random
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from chalicelib.accounts import AccountIndex, AccountStore, AccountTokens
from chalicelib.errors import XRateLimited, XReadCutShort, XRejected
from chalicelib.observability import REFRESH_FAILED, REFRESH_SUCCEEDED, count, logger
from chalicelib.refresh_queue import (
    BATCH_LIMIT,
    MAX_VISIBILITY_SECONDS,
    RefreshQueue,
    Sent,
    message_of,
    process_batch,
)
from chalicelib.report_service import ReportService


class Status(StrEnum):
    """What became of one message (a string in logs and in the worker's answer)."""

    REFRESHED = "refreshed"  # a new report is in S3
    FRESH = "fresh"  # refreshed within the max age already (a duplicate): no X request
    SKIPPED = "skipped"  # no account, its token marked rejected, or a forget begun
    REJECTED = "rejected"  # X answered 401 now: marked, its sessions ended
    DEFERRED = "deferred"  # no budget, or X said 429: handed back until the reset
    CONTINUED = "continued"  # the worker's time for X ran out: handed back to read on
    PURGED = "purged"  # a forget's second delete: the folder of a forgotten account
    RETURNED = "returned"  # a purge for an account signed in anew: nothing to delete


@dataclass
class RoundSummary:
    seen: int = 0  # due accounts read from the index
    queued: int = 0  # messages SQS accepted
    skipped: int = 0  # due, but X rejected the token: waiting for the person to sign in
    send_failed: int = 0  # refused by SQS; still due, so the next round sends them
    send_batches: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Outcome:
    status: Status
    retry_at: int | None = None  # Status.DEFERRED: the epoch second the budget or X resets
    x_requests: int = 0


class HandedBack(Exception):
    """The message goes back to the queue with a delay; BatchProcessor reports it in
    batchItemFailures so that Lambda does not delete it."""

    def __init__(self, account_id: str, delay_seconds: int) -> None:
        super().__init__(f"account {account_id} handed back for {delay_seconds} s")
        self.delay_seconds = delay_seconds


class Scheduler:
    def __init__(
        self,
        accounts: AccountIndex,
        queue: RefreshQueue,
        *,
        max_age_seconds: int,
        clock: Callable[[], float],
        send_concurrency: int = 1,
    ) -> None:
        self._accounts = accounts
        self._queue = queue
        self._max_age = max_age_seconds
        self._clock = clock
        self._send_concurrency = max(1, send_concurrency)

    def run_round(self) -> RoundSummary:
        """Queue every due account, oldest report first: the index's order, and the order
        the batches are handed to SQS (in flight together, `send_concurrency` at a time)."""
        summary = RoundSummary()
        batches = self._batches(summary)
        if self._send_concurrency == 1:
            for batch in batches:
                self._count(self._queue.send(batch), summary)
        else:
            self._send_concurrently(batches, summary)
        logger.info("refresh round", extra=summary.as_dict())
        return summary

    def _batches(self, summary: RoundSummary) -> Iterator[list[str]]:
        """The due accounts, ten to a batch, as the index pages them."""
        now = int(self._clock())
        batch: list[str] = []
        for due in self._accounts.due(refreshed_by=now - self._max_age):
            summary.seen += 1
            if due.token_rejected:
                summary.skipped += 1
                continue
            batch.append(due.account_id)
            if len(batch) == BATCH_LIMIT:
                yield batch
                batch = []
        if batch:
            yield batch

    def _send_concurrently(self, batches: Iterator[list[str]], summary: RoundSummary) -> None:
        """SendMessageBatch calls in flight together, at most `send_concurrency` (and as
        many batches read ahead of them), each in a copy of this invocation's context (its
        AWS budget: a service that did not answer is not asked again)."""
        limit = self._send_concurrency
        with ThreadPoolExecutor(limit, thread_name_prefix="round-send") as pool:
            pending: list[Future[Sent]] = []
            for batch in batches:
                context = contextvars.copy_context()
                pending.append(pool.submit(context.run, self._queue.send, batch))
                if len(pending) >= 2 * limit:
                    self._count(pending.pop(0).result(), summary)
            for future in pending:
                self._count(future.result(), summary)

    @staticmethod
    def _count(sent: Sent, summary: RoundSummary) -> None:
        summary.send_batches += 1
        summary.queued += len(sent.queued)
        summary.send_failed += len(sent.failed)
        if sent.failed:
            logger.warning("SQS refused refresh messages", extra={"count": len(sent.failed)})


def refresh_account(
    account_id: str,
    *,
    accounts: AccountStore,
    reports: ReportService,
    max_age_seconds: int,
    now: float,
) -> Outcome:
    """Bring one account's report up to date, unless it already is.

    Raises what is worth another try later (X unavailable, storage failing): the message
    is then redelivered by SQS, and dead-lettered after five receives."""
    account = accounts.account_tokens(account_id)
    if account is None or account.forgetting:
        return Outcome(Status.SKIPPED)
    if now - account.refreshed_at < max_age_seconds:
        return Outcome(Status.FRESH)
    try:
        view = reports.refresh(account)
    except XRejected:  # the service has marked the account and ended its sessions
        return Outcome(Status.REJECTED)
    except XRateLimited as error:  # nothing read and nothing to show yet
        return Outcome(Status.DEFERRED, retry_at=error.reset_at)
    x_requests = int(view.body["source"]["x_requests"])
    if isinstance(view.error, XRateLimited):  # part read; the rest is a gap for next time
        return Outcome(Status.DEFERRED, retry_at=view.error.reset_at, x_requests=x_requests)
    if isinstance(view.error, XReadCutShort):  # a heavy first read: the next worker goes on
        return Outcome(Status.CONTINUED, x_requests=x_requests)
    if view.error is not None:
        raise view.error
    return Outcome(Status.REFRESHED, x_requests=x_requests)


def _spread(seconds: int) -> int:
    return random.randint(0, max(0, seconds))


class RefreshWorker:
    """Refreshes the accounts of one SQS batch, under Powertools' BatchProcessor."""

    def __init__(
        self,
        accounts: AccountStore,
        reports: ReportService,
        queue: RefreshQueue,
        *,
        max_age_seconds: int,
        spread_seconds: int,
        clock: Callable[[], float],
        jitter: Callable[[int], int] = _spread,
        purge: Callable[[str], int | None] | None = None,
        history: Callable[[AccountTokens, int], str] | None = None,
    ) -> None:
        self._accounts = accounts
        self._reports = reports
        self._queue = queue
        self._max_age = max_age_seconds
        # Each token has its own budget, so a hand-back waits for its own token's reset; the
        # spread keeps many accounts put off at once (X answering 429 to all of them in an
        # outage) from all coming back in the same second.
        self._spread = spread_seconds
        self._clock = clock
        self._jitter = jitter
        self._purge = purge  # sweep.purge over the app's stores: a forget's second delete
        self._history = history  # HistoryService.step: one page of older history

    def process(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        """The Lambda answer: {"batchItemFailures": [...]} naming the messages to keep."""
        return process_batch(event, self.handle, context)

    def handle(self, record: Any) -> str:
        """One message (a Powertools SQSRecord); raises to keep it in the queue."""
        account_id = "?"
        now = self._clock()
        try:
            message = message_of(record.body)
            account_id = message.account_id
            if message.purge:
                return self._purged(account_id)
            if message.history is not None:
                return self._history_page(account_id, message.history)
            outcome = refresh_account(
                account_id,
                accounts=self._accounts,
                reports=self._reports,
                max_age_seconds=self._max_age,
                now=now,
            )
        except Exception:
            count(REFRESH_FAILED)
            logger.exception("refresh failed; SQS will redeliver", extra={"account_id": account_id})
            raise
        log = {
            "account_id": account_id,
            "outcome": outcome.status,
            "x_requests": outcome.x_requests,
        }
        if outcome.status in (Status.DEFERRED, Status.CONTINUED):
            wait = self.delay(outcome.retry_at, now) if outcome.status == Status.DEFERRED else 1
            delay = self._queue.hand_back(record.receipt_handle, wait)
            logger.info(f"refresh {outcome.status}", extra={**log, "delay_seconds": delay})
            raise HandedBack(account_id, delay)
        if outcome.status == Status.REFRESHED:
            count(REFRESH_SUCCEEDED)
        logger.info("refresh done", extra=log)
        return outcome.status

    def _history_page(self, account_id: str, page: int) -> str:
        """One page of the account's older history; the next is queued by the step."""
        account = self._accounts.account_tokens(account_id)
        status: str = Status.SKIPPED
        if account is not None and not account.forgetting and self._history is not None:
            status = self._history(account, page)
        logger.info(status, extra={"account_id": account_id, "page": page})
        return status

    def _purged(self, account_id: str) -> str:
        deleted = self._purge(account_id) if self._purge is not None else None
        status = Status.RETURNED if deleted is None else Status.PURGED
        logger.info(
            "purge done",
            extra={"account_id": account_id, "outcome": status, "versions_deleted": deleted or 0},
        )
        return status

    def delay(self, retry_at: int | None, now: float) -> int:
        """Seconds until the reset (a whole window when X named none), plus a spread."""
        wait = math.ceil(retry_at - now) if retry_at is not None else self._spread
        wait = max(1, wait) + self._jitter(self._spread)
        return min(wait, MAX_VISIBILITY_SECONDS)
