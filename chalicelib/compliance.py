"""X's batch compliance, daily: what X says must go leaves the archive within a day.

X's Developer Agreement wants a stored post removed within 24 hours of its deletion on X,
or of its author turning protected, being suspended or deactivated. X's batch compliance
says which, one job at a time per type ("You can have one concurrent job per job type at
any time"), so each type (`tweets`: the archived posts' ids; `users`: the kept handles'
user ids) is a chain of jobs walking the archive in key order:

- `ComplianceRound` (daily, EventBridge) starts both chains: it writes each type's cursor
  (`Cursors`: one DynamoDB item per type, the round and where the chain stands) and queues
  its first **collect**.
- **collect** `{"collect": type, "round", "from"}`: unless X still runs a job of that type
  (then it comes back COMPLIANCE_POLL_SECONDS later), reads archives from its position on,
  one at a time, until X_COMPLIANCE_JOB_IDS ids (an account's ids may span two jobs), makes
  the job, uploads the ids, claims the job on the cursor, and queues its **poll**
  COMPLIANCE_POLL_SECONDS later (an SQS delay: no function waits).
- **poll** `{"poll": job, "type", "round", "from", "to", "polls"}`: reads the job; not done,
  it comes back later (up to COMPLIANCE_MAX_POLLS); complete, the results are applied to the
  archives of its range (`x_compliance.apply_changes`; each archive that lost a post gets
  its stored report made again from what remains, `ReportService.withdraw`: no X request),
  the cursor moves on, and the next collect is queued at once.

The cursor makes every step happen once however often SQS delivers it: a step that finds
the cursor elsewhere (a duplicate, or a chain a newer round replaced) does nothing. A job X
fails, or that never finishes, is counted (ComplianceJobsFailed) and skipped: its range
waits for the next day's round. Jobs take the app's bearer token only, never a person's.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from chalicelib.accounts import AccountTokens
from chalicelib.archive import Archive, ArchiveState
from chalicelib.errors import ConditionFailed, XRateLimited, XRejected, XUnavailable, aws_call
from chalicelib.observability import (
    COMPLIANCE_JOBS_FAILED,
    COMPLIANCE_POSTS_REMOVED,
    count,
    logger,
)
from chalicelib.refresh_queue import MAX_DELAY_SECONDS, process_batch, send_one
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
END = "~"  # a position after every account: "~" sorts after any digit and "/"
COLLECT_SECONDS = 120.0  # a collect reads archives for at most this long, then makes its job


# --- positions and messages ---------------------------------------------------------------
@dataclass(frozen=True)
class Position:
    """Where a chain stands: at `account` (its folder's place in the bucket's key order),
    its ids up to `after` already in an earlier job (by value, not by count, so a post
    removed or read meanwhile moves nothing). Position("") is the start; END the end."""

    account: str
    after: str = ""  # an id of the account's; "": none of its ids asked about yet

    def __str__(self) -> str:
        return f"{self.account}:{self.after}"

    @classmethod
    def parse(cls, text: object) -> Position:
        if not isinstance(text, str) or ":" not in text:
            raise ValueError("not a position")
        account, _, after = text.partition(":")
        valid_account = account == "" or account == END or account.isdigit()
        if not valid_account or not (after == "" or after.isdigit()):
            raise ValueError("not a position")
        return cls(account, after)

    @property
    def done(self) -> bool:
        return self.account == END

    @property
    def folder(self) -> str:
        """Its account's place in the bucket's key order: folders sort as "<id>/", not as
        numbers ("10/" before "9/"); END after all."""
        return END if self.done else f"{self.account}/"

    def key(self) -> tuple[str, int]:
        """Its place in the bucket's key order, the ids of one account in theirs."""
        return (self.folder, int(self.after or -1))


@dataclass(frozen=True)
class Collect:
    kind: str
    round: str
    start: Position


@dataclass(frozen=True)
class Poll:
    kind: str
    round: str
    job_id: str
    start: Position
    end: Position
    polls: int = 0


def message_body(message: Collect | Poll) -> str:
    value: dict[str, Any] = {"type": message.kind, "round": message.round}
    if isinstance(message, Collect):
        value |= {"collect": True, "from": str(message.start)}
    else:
        value |= {
            "poll": message.job_id,
            "from": str(message.start),
            "to": str(message.end),
            "polls": message.polls,
        }
    return json.dumps(value, separators=(",", ":"))


def message_of(body: str) -> Collect | Poll:
    """What a message asks; ValueError when the body is not one of ours."""
    value = json.loads(body)
    if not isinstance(value, dict):
        raise ValueError("not a compliance message")
    kind, round_ = value.get("type"), value.get("round")
    if kind not in KINDS or not isinstance(round_, str) or not round_:
        raise ValueError("not a compliance message")
    start = Position.parse(value.get("from"))
    if value.get("collect") is True:
        return Collect(kind, round_, start)
    job_id, polls = value.get("poll"), value.get("polls", 0)
    if not isinstance(job_id, str) or not job_id.isdigit() or not isinstance(polls, int):
        raise ValueError("not a compliance message")
    return Poll(kind, round_, job_id, start, Position.parse(value.get("to")), polls)


# --- stores ---------------------------------------------------------------------------------
class ComplianceQueue:
    """The compliance queue in SQS (its own: the refresh workers never see it)."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs = sqs
        self._url = queue_url

    def send(self, message: Collect | Poll, delay_seconds: int = 0) -> None:
        send_one(self._sqs, self._url, message_body(message), delay_seconds)


@dataclass(frozen=True)
class Cursor:
    round: str
    position: Position
    job_id: str | None  # the job made for the range from `position`, until it is applied


class Cursors:
    """One DynamoDB item per job type (`compliance#<type>`, in the table of the accounts):
    which round its chain belongs to, where it stands, and the job it waits for."""

    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._db = dynamodb
        self._table = table_name

    @staticmethod
    def _key(kind: str) -> dict[str, Any]:
        return {"pk": {"S": f"compliance#{kind}"}}

    def begin(self, kind: str, round_: str) -> None:
        """A new round's chain at the start; an older chain's messages find it gone."""
        with aws_call("DynamoDB PutItem"):
            self._db.put_item(
                TableName=self._table,
                Item={
                    **self._key(kind),
                    "kind": {"S": "compliance-cursor"},
                    "round": {"S": round_},
                    "position": {"S": ":"},
                },
            )

    def current(self, kind: str) -> Cursor | None:
        with aws_call("DynamoDB GetItem"):
            item = self._db.get_item(
                TableName=self._table, Key=self._key(kind), ConsistentRead=True
            ).get("Item")
        if item is None:
            return None
        job = item.get("job", {}).get("S")
        return Cursor(item["round"]["S"], Position.parse(item["position"]["S"]), job)

    def claim(self, kind: str, round_: str, start: Position, job_id: str) -> bool:
        """Note the job made for the range from `start`; False when the chain moved on (a
        duplicate of this step claimed one first, or a newer round began)."""
        return self._update(
            kind,
            "SET job = :job",
            "#round = :round AND #position = :position AND attribute_not_exists(job)",
            {":job": job_id, ":round": round_, ":position": str(start)},
        )

    def advance(self, kind: str, round_: str, job_id: str | None, to: Position) -> bool:
        """Move past the range of `job_id` (None: a range with nothing to ask about), once."""
        condition = "#round = :round AND " + (
            "job = :job" if job_id else "attribute_not_exists(job)"
        )
        values = {":round": round_, ":to": str(to)} | ({":job": job_id} if job_id else {})
        return self._update(kind, "SET #position = :to REMOVE job", condition, values)

    def _update(self, kind: str, expression: str, condition: str, values: dict[str, str]) -> bool:
        names = {"#round": "round", "#position": "position"}  # both reserved words
        used = {k: v for k, v in names.items() if k in expression or k in condition}
        try:
            with aws_call("DynamoDB UpdateItem"):
                self._db.update_item(
                    TableName=self._table,
                    Key=self._key(kind),
                    UpdateExpression=expression,
                    ConditionExpression=f"attribute_exists(pk) AND {condition}",
                    ExpressionAttributeNames=used,
                    ExpressionAttributeValues={k: {"S": v} for k, v in values.items()},
                )
        except ConditionFailed:
            return False
        return True


# --- the round ------------------------------------------------------------------------------
class ComplianceRound:
    """The daily schedule: both chains begun anew, from the start of the archive."""

    def __init__(self, cursors: Cursors, queue: ComplianceQueue, clock: Callable[[], float]):
        self._cursors = cursors
        self._queue = queue
        self._clock = clock

    def run(self) -> dict[str, Any]:
        round_ = datetime.fromtimestamp(self._clock(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for kind in KINDS:
            self._cursors.begin(kind, round_)
            self._queue.send(Collect(kind, round_, Position("")))
        logger.info("compliance round begun", extra={"round": round_})
        return {"round": round_, "chains": list(KINDS)}


# --- the worker -----------------------------------------------------------------------------
@dataclass
class Outcome:
    """What one message did, for its log line and the tests."""

    status: str = ""
    ids_uploaded: int = 0
    accounts_read: int = 0
    posts_removed: int = 0
    accounts_changed: int = 0
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
        cursors: Cursors,
        profile: Callable[[str], AccountTokens | None],
        withdraw: Callable[[AccountTokens, Callable[[ArchiveState], list[str]]], list[str]],
        *,
        job_ids: int,
        poll_seconds: int,
        max_polls: int,
        clock: Callable[[], float],
        on_token_refused: Callable[[], None] | None = None,
        collect_seconds: float = COLLECT_SECONDS,
    ) -> None:
        self._archive = archive
        self._client = client  # the app's compliance client (its bearer token), built late
        self._queue = queue
        self._cursors = cursors
        self._profile = profile  # AccountStore.profile
        self._withdraw = withdraw  # ReportService.withdraw
        self._job_ids = job_ids
        self._poll_seconds = poll_seconds
        self._max_polls = max_polls
        self._clock = clock
        self._on_token_refused = on_token_refused  # forget the bearer token: ask X anew
        self._collect_seconds = collect_seconds

    def process(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        """The Lambda answer: {"batchItemFailures": [...]} naming the messages to keep."""
        return process_batch(event, self.handle, context)

    def handle(self, record: Any) -> Outcome:
        """One message (a Powertools SQSRecord); raises (AWS failing) to keep it queued."""
        try:
            message = message_of(record.body)
        except ValueError:
            logger.error("not a compliance message; dropped")
            return Outcome(status="dropped")
        outcome = self.collect(message) if isinstance(message, Collect) else self.poll(message)
        log = {"job_type": message.kind, "round": message.round, **outcome.as_dict()}
        logger.info(f"compliance {outcome.status}", extra=log)
        return outcome

    # collect ------------------------------------------------------------------------------
    def collect(self, message: Collect) -> Outcome:
        cursor = self._cursors.current(message.kind)
        if cursor != Cursor(message.round, message.start, None):
            return Outcome(status="superseded")  # done already, or a newer round's chain
        try:
            client = self._client()
            if client.active_jobs(message.kind):
                self._queue.send(message, self._poll_seconds)  # X's one job of the type
                return Outcome(status="waiting for X's job in progress")
            ids, end, read = self._gather(message.kind, message.start)
            if not ids:
                self._end_range(message.kind, message.round, None, end)
                return Outcome(status="chain done", accounts_read=read)
            job = client.create_job(message.kind, name=f"responsetime-{message.kind}")
            client.upload(job, ids)
        except (XRateLimited, XUnavailable, XRejected) as error:
            return self._later(message, error, Outcome(status="collect"))
        if not self._cursors.claim(message.kind, message.round, message.start, job.id):
            return Outcome(status="superseded")  # a duplicate of this step made one first
        poll = Poll(message.kind, message.round, job.id, message.start, end)
        self._queue.send(poll, self._poll_seconds)
        return Outcome(status="job made", ids_uploaded=len(ids), accounts_read=read)

    def _gather(self, kind: str, start: Position) -> tuple[list[str], Position, int]:
        """Ids of the archives from `start` on, up to the job's limit or the time to read;
        where the next job begins; how many archives were read."""
        deadline = self._clock() + self._collect_seconds
        ids: list[str] = []
        read = 0
        accounts = self._accounts_from(start)
        for account_id in accounts:
            after = int(start.after or -1) if account_id == start.account else -1
            state = self._archive.load(account_id)
            read += 1
            listed = archived_ids(state, kind, account_id) if state is not None else []
            mine = [i for i in listed if int(i) > after]
            room = self._job_ids - len(ids)
            if len(mine) > room:
                ids.extend(mine[:room])
                return ids, Position(account_id, mine[room - 1]), read
            ids.extend(mine)
            if len(ids) == self._job_ids or self._clock() >= deadline:
                return ids, Position(next(accounts, END)), read
        return ids, Position(END), read

    def _accounts_from(self, start: Position) -> Iterator[str]:
        """Archived accounts from `start` on, in the bucket's key order."""
        for account_id in self._archive.archived_accounts(start_at=start.account):
            if Position(account_id).folder >= start.folder:
                yield account_id

    # poll ---------------------------------------------------------------------------------
    def poll(self, message: Poll) -> Outcome:
        cursor = self._cursors.current(message.kind)
        if cursor != Cursor(message.round, message.start, message.job_id):
            return Outcome(status="superseded")
        try:
            client = self._client()
            job = client.job(message.job_id)
            if not job.done:
                return self._again(message, f"job {job.status}")
            if job.status != COMPLETE:
                return self._failed(message, job.status)
            changes = client.results(job)
        except XRejected as error:  # the token, or a link gone: skipped, and counted
            if self._on_token_refused is not None:
                self._on_token_refused()
            return self._failed(message, str(error))
        except (XRateLimited, XUnavailable) as error:
            return self._again(message, str(error), error)
        outcome = Outcome(status="applied")
        if changes:
            self._apply(message, changes, outcome)
        self._end_range(message.kind, message.round, message.job_id, message.end)
        return outcome

    def _apply(self, message: Poll, changes: list[Change], outcome: Outcome) -> None:
        """X's results, applied to every archive of the job's range."""
        end = message.end
        for account_id in self._accounts_from(message.start):
            folder = Position(account_id).folder
            # the range ends before the end's account, or with it when it is split
            if folder > end.folder or (folder == end.folder and not end.after):
                break
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

    def _end_range(self, kind: str, round_: str, job_id: str | None, end: Position) -> None:
        """The range is done: the chain moves on, and its next collect is queued."""
        if self._cursors.advance(kind, round_, job_id, end) and not end.done:
            self._queue.send(Collect(kind, round_, end))

    def _again(self, message: Poll, why: str, error: Exception | None = None) -> Outcome:
        """The job is not done (or X did not answer): read it again later, up to the most
        polls (each time counts, so no job is polled forever)."""
        if message.polls + 1 >= self._max_polls:
            return self._failed(message, why)
        again = Poll(
            message.kind, message.round, message.job_id, message.start, message.end,
            message.polls + 1,
        )  # fmt: skip
        return self._later(again, error, Outcome(status=f"waiting ({why})"))

    def _later(self, message: Collect | Poll, error: Exception | None, outcome: Outcome) -> Outcome:
        """Queue the message again: after X's reset when it named one."""
        wait = self._poll_seconds
        if isinstance(error, XRateLimited) and error.reset_at is not None:
            wait = max(1, math.ceil(error.reset_at - self._clock()))
        if isinstance(error, XRejected) and self._on_token_refused is not None:
            self._on_token_refused()
        self._queue.send(message, min(wait, MAX_DELAY_SECONDS))
        if error is not None:
            outcome.status = f"{outcome.status}: {type(error).__name__}; queued again"
        return outcome

    def _failed(self, message: Poll, why: str) -> Outcome:
        """A job X failed, or that never finished: counted, and its range left for the
        next day's round; the chain goes on."""
        count(COMPLIANCE_JOBS_FAILED)
        logger.error(
            "compliance job did not complete; its range waits for the next round",
            extra={"job_type": message.kind, "why": why},
        )
        self._end_range(message.kind, message.round, message.job_id, message.end)
        return Outcome(status="failed")
