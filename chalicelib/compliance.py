"""X's batch compliance, daily: what X says must go leaves the archive within 24 hours.

X's Developer Agreement wants a stored post removed within 24 hours of its deletion on X,
or of its author turning protected, being suspended or deactivated. Once a day
(EventBridge) `ComplianceRound` lists every account archive in the bucket and queues them,
COMPLIANCE_ACCOUNTS_PER_MESSAGE to a message, on the compliance queue. Its worker
(`ComplianceWorker`), one message at a time:

- **collect** `{"collect": [account ids]}`: reads those archives, and for posts (`tweets`)
  and for the kept handles (`users`) creates jobs at X, each holding at most
  X_COMPLIANCE_JOB_IDS ids (a larger set is split across jobs; an account's ids may span
  two), uploads the ids, and queues a poll of each job, naming the accounts whose ids it
  holds, COMPLIANCE_POLL_SECONDS later (an SQS delay: no worker sleeps).
- **poll** `{"poll": job id, "type": ..., "accounts": [...], "polls": n}`: reads the job;
  not done yet, the poll is queued again (up to COMPLIANCE_MAX_POLLS); complete, its
  results are downloaded and applied to each of its accounts' archives
  (`x_compliance.apply_changes`), and each archive that lost a post gets its stored report
  made again from what remains (`ReportService.withdraw`: no X request).

X refusing for a while (429, 5xx) queues the message's unfinished part again for later
(X's reset, or COMPLIANCE_POLL_SECONDS) rather than failing it. Jobs take the app's bearer
token only (client credentials), never a person's.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from chalicelib.accounts import AccountTokens
from chalicelib.archive import Archive, ArchiveState
from chalicelib.errors import XRateLimited, XUnavailable
from chalicelib.observability import (
    COMPLIANCE_JOBS_FAILED,
    COMPLIANCE_POSTS_REMOVED,
    count,
    logger,
)
from chalicelib.refresh_queue import BATCH_LIMIT, MAX_DELAY_SECONDS, send_batch, send_one
from chalicelib.x_compliance import (
    COMPLETE,
    TWEETS,
    USERS,
    Change,
    ComplianceClient,
    apply_changes,
    archived_ids,
)

KINDS = (TWEETS, USERS)


# --- messages -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Collect:
    accounts: tuple[str, ...]
    kinds: tuple[str, ...] = KINDS  # which jobs to make: the round asks for both


@dataclass(frozen=True)
class Poll:
    job_id: str
    kind: str
    accounts: tuple[str, ...]
    polls: int = 0


def message_body(message: Collect | Poll) -> str:
    value: dict[str, Any]
    if isinstance(message, Collect):
        value = {"collect": list(message.accounts)}
        if message.kinds != KINDS:
            value["types"] = list(message.kinds)
    else:
        value = {
            "poll": message.job_id,
            "type": message.kind,
            "accounts": list(message.accounts),
            "polls": message.polls,
        }
    return json.dumps(value, separators=(",", ":"))


def message_of(body: str) -> Collect | Poll:
    """What a message asks; ValueError when the body is not one of ours."""
    value = json.loads(body)
    if not isinstance(value, dict):
        raise ValueError("not a compliance message")
    accounts = value.get("collect", value.get("accounts"))
    if not isinstance(accounts, list) or not all(
        isinstance(a, str) and a.isdigit() for a in accounts
    ):
        raise ValueError("not a compliance message")
    if "collect" in value:
        kinds = value.get("types", list(KINDS))
        if not isinstance(kinds, list) or not kinds or not set(kinds) <= set(KINDS):
            raise ValueError("not a compliance message")
        return Collect(tuple(accounts), tuple(kinds))
    job_id, kind, polls = value.get("poll"), value.get("type"), value.get("polls", 0)
    if not isinstance(job_id, str) or kind not in KINDS or not isinstance(polls, int):
        raise ValueError("not a compliance message")
    return Poll(job_id, kind, tuple(accounts), polls)


class ComplianceQueue:
    """The compliance queue in SQS (its own: the refresh workers never see it)."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs = sqs
        self._url = queue_url

    def send(self, messages: Sequence[Collect | Poll]) -> int:
        """Queue the messages now, ten to a SendMessageBatch; how many SQS refused."""
        refused = 0
        for start in range(0, len(messages), BATCH_LIMIT):
            bodies = [message_body(m) for m in messages[start : start + BATCH_LIMIT]]
            refused += len(send_batch(self._sqs, self._url, bodies))
        return refused

    def send_later(self, message: Collect | Poll, delay_seconds: int) -> None:
        send_one(self._sqs, self._url, message_body(message), delay_seconds)


# --- jobs -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class JobSlice:
    """The ids of one job, and the accounts whose ids they are."""

    ids: tuple[str, ...]
    accounts: tuple[str, ...]


def split_jobs(ids_by_account: Iterable[tuple[str, list[str]]], limit: int) -> list[JobSlice]:
    """Fill jobs with each account's ids in turn, at most `limit` to a job (X's), so a
    large set takes as few jobs as it can; an account whose ids do not fit in what is left
    of a job goes on in the next, and is named by both. An id two accounts hold (a reply
    of one that mentions the other) is asked about once per job."""
    if limit < 1:
        raise ValueError("a job holds at least one id")
    slices: list[JobSlice] = []
    ids: dict[str, None] = {}
    accounts: dict[str, None] = {}
    for account_id, account_ids in ids_by_account:
        for post_id in account_ids:
            if post_id in ids:
                accounts[account_id] = None
                continue
            if len(ids) == limit:
                slices.append(JobSlice(tuple(ids), tuple(accounts)))
                ids, accounts = {}, {}
            ids[post_id] = None
            accounts[account_id] = None
    if ids:
        slices.append(JobSlice(tuple(ids), tuple(accounts)))
    return slices


def _left(
    parts: Sequence[JobSlice], kind: str, accounts: tuple[str, ...], later: tuple[str, ...]
) -> list[Collect]:
    """What a collect cut short leaves to do: the jobs of `kind` not made yet (`parts`), and
    every job of the `later` kinds; one message when they name the same accounts."""
    unmade = tuple(dict.fromkeys(a for part in parts for a in part.accounts))
    if not later:
        return [Collect(unmade, (kind,))]
    if set(unmade) == set(accounts):
        return [Collect(accounts, (kind, *later))]
    return [Collect(unmade, (kind,)), Collect(accounts, later)]


def _chunks(values: Sequence[str], size: int) -> Iterable[tuple[str, ...]]:
    for start in range(0, len(values), size):
        yield tuple(values[start : start + size])


# --- the round ------------------------------------------------------------------------------
class ComplianceRound:
    """The daily schedule: every archived account, queued for collecting."""

    def __init__(self, archive: Archive, queue: ComplianceQueue, accounts_per_message: int):
        self._archive = archive
        self._queue = queue
        self._per_message = accounts_per_message

    def run(self) -> dict[str, int]:
        accounts = list(self._archive.archived_accounts())
        messages = [Collect(chunk) for chunk in _chunks(accounts, self._per_message)]
        refused = self._queue.send(messages)
        summary = {"accounts": len(accounts), "messages": len(messages), "refused": refused}
        logger.info("compliance round queued", extra=summary)
        return summary


# --- the worker -----------------------------------------------------------------------------
@dataclass
class Outcome:
    """What one message did, for its log line and the tests."""

    jobs_created: int = 0
    ids_uploaded: int = 0
    posts_removed: int = 0
    accounts_changed: int = 0
    requeued: bool = False
    status: str = ""
    removed: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "removed"}


class ComplianceWorker:
    """Handles the compliance queue's messages, under Powertools' BatchProcessor."""

    def __init__(
        self,
        archive: Archive,
        client: Callable[[], ComplianceClient],
        queue: ComplianceQueue,
        profile: Callable[[str], AccountTokens | None],
        withdraw: Callable[[AccountTokens, Callable[[ArchiveState], list[str]]], list[str]],
        *,
        job_ids: int,
        poll_seconds: int,
        max_polls: int,
        clock: Callable[[], float],
        name: str = "responsetime",
    ) -> None:
        self._archive = archive
        self._client = client  # the app's compliance client (its bearer token), built late
        self._queue = queue
        self._profile = profile  # AccountStore.profile
        self._withdraw = withdraw  # ReportService.withdraw
        self._job_ids = job_ids
        self._poll_seconds = poll_seconds
        self._max_polls = max_polls
        self._clock = clock
        self._name = name

    def process(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        """The Lambda answer: {"batchItemFailures": [...]} naming the messages to keep."""
        from aws_lambda_powertools.utilities.batch import (
            BatchProcessor,
            EventType,
            process_partial_response,
        )

        processor = BatchProcessor(EventType.SQS, raise_on_entire_batch_failure=False)
        answer = process_partial_response(
            event=event, record_handler=self.handle, processor=processor, context=context
        )
        return dict(answer)

    def handle(self, record: Any) -> Outcome:
        """One message (a Powertools SQSRecord); raises to keep it in the queue."""
        try:
            message = message_of(record.body)
        except ValueError:
            logger.error("not a compliance message; dropped")
            return Outcome(status="dropped")
        outcome = self.collect(message) if isinstance(message, Collect) else self.poll(message)
        logger.info(f"compliance {outcome.status}", extra=outcome.as_dict())
        return outcome

    def collect(self, message: Collect) -> Outcome:
        """Create, fill and poll later the jobs of these accounts' archives."""
        outcome = Outcome(status="collected")
        # Only the ids are kept, one archive loaded at a time: 100 heavy archives at once
        # would not fit the function's memory.
        archives: dict[str, dict[str, list[str]]] = {}
        for account_id in message.accounts:
            state = self._archive.load(account_id)
            if state is not None:
                archives[account_id] = {
                    kind: archived_ids(state, kind, account_id) for kind in message.kinds
                }
        for index, kind in enumerate(message.kinds):
            listed = [(account_id, ids[kind]) for account_id, ids in archives.items()]
            parts = split_jobs(listed, self._job_ids)
            for number, part in enumerate(parts):
                try:
                    self._start_job(kind, part)
                except (XRateLimited, XUnavailable) as error:
                    # The jobs made so far stand; what is left is collected again later.
                    return self._later(
                        _left(parts[number:], kind, tuple(archives), message.kinds[index + 1 :]),
                        error,
                        outcome,
                    )
                outcome.jobs_created += 1
                outcome.ids_uploaded += len(part.ids)
        return outcome

    def _start_job(self, kind: str, part: JobSlice) -> None:
        client = self._client()
        job = client.create_job(kind, name=f"{self._name}-{kind}")
        client.upload(job, part.ids)
        self._queue.send_later(Poll(job.id, kind, part.accounts), self._poll_seconds)

    def poll(self, message: Poll) -> Outcome:
        """Read the job; when complete, apply what X says to each of its accounts."""
        outcome = Outcome(status="waiting")
        try:
            job = self._client().job(message.job_id)
            if job.done and job.status == COMPLETE:
                changes = self._client().results(job)
        except (XRateLimited, XUnavailable) as error:
            return self._later([message], error, outcome)
        if not job.done:
            if message.polls + 1 >= self._max_polls:
                return self._failed(message, job.status, outcome)
            again = Poll(message.job_id, message.kind, message.accounts, message.polls + 1)
            self._queue.send_later(again, self._poll_seconds)
            return outcome
        if job.status != COMPLETE:
            return self._failed(message, job.status, outcome)
        outcome.status = "applied"
        if changes:
            self._apply(message, changes, outcome)
        return outcome

    def _apply(self, message: Poll, changes: list[Change], outcome: Outcome) -> None:
        for account_id in message.accounts:
            account = self._profile(account_id)
            if account is None:  # gone or being forgotten: the forget deletes it all
                continue

            def remove(state: ArchiveState, owner: str = account_id) -> list[str]:
                return apply_changes(state, changes, owner=owner, kind=message.kind)

            removed = self._withdraw(account, remove)
            if removed:
                outcome.removed[account_id] = removed
                outcome.posts_removed += len(removed)
                outcome.accounts_changed += 1
        count(COMPLIANCE_POSTS_REMOVED, outcome.posts_removed)

    def _later(
        self, messages: Sequence[Collect | Poll], error: Exception, outcome: Outcome
    ) -> Outcome:
        """X refused for now: the message (or what is left of it) goes back on the queue,
        after X's reset when it named one."""
        wait = self._poll_seconds
        if isinstance(error, XRateLimited) and error.reset_at is not None:
            wait = max(1, math.ceil(error.reset_at - self._clock()))
        for message in messages:
            self._queue.send_later(message, min(wait, MAX_DELAY_SECONDS))
        outcome.requeued = True
        outcome.status = f"{outcome.status} in part; queued again"
        return outcome

    def _failed(self, message: Poll, status: str, outcome: Outcome) -> Outcome:
        """A job X failed, or that never finished: its accounts wait for tomorrow's round
        (the operator sees it in the metric and the log)."""
        count(COMPLIANCE_JOBS_FAILED)
        logger.error(
            "compliance job did not complete; tomorrow's round asks again",
            extra={"job_status": status, "accounts": len(message.accounts)},
        )
        outcome.status = "failed"
        return outcome
