"""Simulate the refresh schedule at 1,000, 10,000 and 100,000 accounts over 6 simulated hours.

Against moto's server on loopback (one request at a time, as DynamoDB applies writes to an
item) and the X emulator, with the resources of infra/resources.json and a simulated clock
shared by the app's code and the emulator (so X's 15-minute windows, our buckets, report
ages and rounds all run on simulated time: six hours in minutes).

Every hour (REFRESH_RATE_MINUTES) the real Scheduler runs a round over the whole fleet: it
Queries the real `refresh-due` index a page at a time and sends every due account with real
SendMessageBatch calls, REFRESH_SEND_CONCURRENCY in flight. Its wall time is measured
against the schedule function's timeout.

How it is compressed. A refresh is a dozen AWS and X round trips; 600,000 of them (100,000
accounts, six rounds) would take hours on loopback. X limits each account's token, so one
account's refresh neither waits for nor spends another's budget: the data plane can be
sampled without changing what each account sees. So:

- SAMPLE accounts (250: 1 in 4 of the smallest fleet, 1 in 40 and 1 in 400 of the
  others) are real at X: signed in through the emulator's OAuth, with mentions to read, a
  few heavy ones (850 mentions: eight pages on a first read), a few whose token the person
  also uses elsewhere (X counts 296 of 300 mention reads spent when the simulation starts),
  and new mentions every hour for one in ten. Their messages are delivered through the real
  queue to the real RefreshWorker (budgets, X through Tweepy, archive and report in S3, the
  account's marks in DynamoDB), at the simulated time Lambda would deliver them; what the
  worker hands back comes back when its visibility delay ends.
- The other accounts are real in the table and the index (written by BatchWriteItem), and
  the scheduler Queries and sends them; moto's copy of the queue is emptied after each
  SendMessageBatch (moto's SQS reads the whole queue on each call, real SQS does not), and
  what their worker would leave on them (`report_refreshed_at`, the time their batch ends)
  is set in moto's store between rounds.
- Lambda's side is modelled: REFRESH_WORKER_CONCURRENCY workers (sized per fleet, as the
  README says) each take a batch of ten messages in the order they were sent, and spend
  WORKER_SECONDS_PER_ACCOUNT on each (bench/cost.py's assumption).

Per hour, at fleet scale: the scheduler's calls as counted, the workers' DynamoDB writes and
SQS requests as the sample made them times the fleet's share of it, one ReceiveMessage and
one DeleteMessageBatch per worker invocation (Lambda's poller), and the invocations. Every
account's longest time between two refreshes (from the start, to the first) is checked
against REPORT_MAX_AGE_SECONDS + one round; X's 429s are counted by the emulator. A round's
time is given twice: measured against moto's server (one request at a time, and its Query
sorts the whole index for each page: far slower than DynamoDB) and as it would be in AWS,
from the calls it made (AWS_QUERY_PAGE_SECONDS a Query page, AWS_SEND_BATCH_SECONDS a
SendMessageBatch, REFRESH_SEND_CONCURRENCY of them in flight); the latter is checked against
the schedule function's timeout.

    python -m bench.schedule [--fleets 1000 10000 100000] [--hours 6] [--sample 1000]
"""

from __future__ import annotations

import argparse
import heapq
import logging
import math
import os
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.aws_calls import AwsCallCounter

HOST = "127.0.0.1"
CONSUMER_KEY = "bench-consumer-key"
CONSUMER_SECRET = "bench-consumer-secret"
FLEETS = (1_000, 10_000, 100_000)
HOURS = 6
SAMPLE = 250
# REFRESH_WORKER_CONCURRENCY per fleet size (README, "Sizing"): a round read within about
# half an hour, so hand-backs and new sign-ins have the rest of the hour.
WORKER_CONCURRENCY = {1_000: 2, 10_000: 5, 100_000: 40}
WORKER_SECONDS_PER_ACCOUNT = 0.8  # bench/cost.py's WORKER_MS_PER_ACCOUNT
SCHEDULE_TIMEOUT_SECONDS = 120  # .chalice/config.json, schedule_refresh
HEAVY_SHARE = 0.02  # sampled accounts with a heavy first read (850 mentions)
ELSEWHERE_SHARE = 0.01  # ... whose token is used elsewhere too (296 reads already spent)
GROWING_SHARE = 0.1  # ... that get two new mentions every hour
# DynamoDB's and SQS's own answers, for the round's time in AWS (moto's server answers one
# request at a time, slower than either; its time is measured too).
AWS_QUERY_PAGE_SECONDS = 0.1
AWS_SEND_BATCH_SECONDS = 0.03
WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem")
FIRST_ID = 9_000_000_000  # ids of the accounts only the table knows


class SimClock:
    """Time for the buckets, the reports, the schedule and the emulator; set by the run."""

    def __init__(self, start: float) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def set(self, now: float) -> None:
        with self._lock:
            self._now = max(self._now, now)


def _environment() -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "STAGE": "bench",
        "PUBLIC_URL": "http://127.0.0.1:8000",
        "POWERTOOLS_SERVICE_NAME": "responsetime",
        "POWERTOOLS_METRICS_NAMESPACE": "responsetime",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "LOG_LEVEL": "WARNING",
        "POWERTOOLS_METRICS_DISABLED": "true",  # no Lambda middleware here to flush them
        "MOTO_SQS_ENFORCE_STRICT_QUEUE_PURGE_BEHAVIOUR": "false",
        "X_BUDGET_REQUEST_TOKENS": "1000000",  # the sample signs in within one window
    }.items():
        os.environ[name] = value
    os.environ.pop("AWS_PROFILE", None)
    logging.getLogger().setLevel(logging.WARNING)
    for noisy in ("werkzeug", "botocore", "boto3", "urllib3", "responsetime"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _provision(endpoint: str) -> dict[str, str]:
    """A fresh set of resources in moto, and the environment the functions get."""
    import boto3
    import requests

    from chalicelib import services
    from local.resources import provision

    requests.post(f"{endpoint}/moto-api/reset", timeout=10)
    env = provision(boto3.Session(), x_consumer_key=CONSUMER_KEY, x_consumer_secret=CONSUMER_SECRET)
    os.environ.update(env)
    services.reset()
    return env


# --- The fleet ------------------------------------------------------------------------------


@dataclass
class Sampled:
    """The sampled accounts, by what the simulation does to them."""

    ids: list[str] = field(default_factory=list)
    heavy: list[str] = field(default_factory=list)
    elsewhere: list[str] = field(default_factory=list)
    growing: list[str] = field(default_factory=list)
    fans: dict[str, str] = field(default_factory=dict)


def _sample_at_x(emulator: Any, count: int, start: datetime, rng: random.Random) -> Sampled:
    """`count` accounts at X, each mentioned a few times in the last days (some many)."""
    sampled = Sampled()
    heavy = max(1, round(count * HEAVY_SHARE))
    elsewhere = max(1, round(count * ELSEWHERE_SHARE))
    for n in range(count):
        account_id = emulator.add_account(f"fleet{n}")
        fan = emulator.add_account(f"fleet{n}_fan")
        sampled.ids.append(account_id)
        sampled.fans[account_id] = fan
        mentions = 850 if n < heavy else 5
        for i in range(mentions):
            at = start - timedelta(days=3) + timedelta(minutes=5 * i)
            emulator.add_post(fan, f"@fleet{n} question {i}", at, mentions=[account_id])
        if n < heavy:
            sampled.heavy.append(account_id)
        if n < elsewhere:
            sampled.elsewhere.append(account_id)
    sampled.growing = rng.sample(sampled.ids, max(1, round(count * GROWING_SHARE)))
    return sampled


def _sign_in(count: int) -> None:
    """Each sampled account through the real flow: request token, the person's click at X's
    authorize page, access token, stored encrypted."""
    import requests

    from chalicelib import services

    flow = services.sign_in()
    for n in range(count):
        started = flow.begin()
        parts = urlsplit(started.authorization_url)
        answer = requests.post(
            f"{parts.scheme}://{parts.netloc}/oauth/authorize",
            data={
                "oauth_token": parse_qs(parts.query)["oauth_token"][0],
                "username": f"fleet{n}",
                "action": "authorize",
            },
            allow_redirects=False,
            timeout=10,
        )
        callback = parse_qs(urlsplit(answer.headers["location"]).query)
        flow.complete(started.session_id, callback["oauth_token"][0], callback["oauth_verifier"][0])


def _table_only_item(n: int, refreshed_at: int) -> dict[str, Any]:
    """An account as sign-in leaves it (AccountStore.save's attributes) but its tokens: no
    worker reads these, and moto pages an index Query by the size of the table's items, not
    the index's (DynamoDB's 1 MB pages of `refresh-due` hold ten thousand accounts)."""
    from chalicelib.accounts import LISTED, REFRESH_GROUP

    account_id = str(FIRST_ID + n)
    return {
        "pk": {"S": f"account#{account_id}"},
        "kind": {"S": "account"},
        "account_id": {"S": account_id},
        "username": {"S": f"table{n}"},
        "signed_in_at": {"N": "0"},
        "viewed_at": {"N": "0"},
        "view_state": {"S": LISTED},
        "refresh_group": {"S": REFRESH_GROUP},
        "report_refreshed_at": {"N": str(refreshed_at)},
    }


class TableOnly:
    """The accounts only the table knows: written 25 to a BatchWriteItem (one by one would
    time moto, not the app), and written again as their worker would leave them."""

    def __init__(self, count: int) -> None:
        import boto3

        from chalicelib.config import settings

        self.count = count
        self._db = boto3.client("dynamodb")  # its calls are the simulation's, not the app's
        self._table = settings().table_name
        self.refreshed: dict[str, list[float]] = {}

    def ids(self) -> Iterator[str]:
        return (str(FIRST_ID + n) for n in range(self.count))

    def write(self, refreshed_at: dict[int, int]) -> None:
        """Items `n` with their `report_refreshed_at`, 25 to a BatchWriteItem."""
        items = [
            {"PutRequest": {"Item": _table_only_item(n, at)}} for n, at in refreshed_at.items()
        ]
        for start in range(0, len(items), 25):
            requests = items[start : start + 25]
            while requests:
                answer = self._db.batch_write_item(RequestItems={self._table: requests})
                requests = answer.get("UnprocessedItems", {}).get(self._table, [])

    def mark_refreshed(self, refreshed_at: dict[int, int]) -> None:
        """What the worker leaves on each of these accounts (`report_refreshed_at`), set in
        moto's own store (its server runs in this process, and no request is in flight
        between rounds): a BatchWriteItem pass over 100,000 items takes moto over a minute,
        and these writes stand for the workers', which are counted from the sample."""
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends
        from moto.dynamodb.models.dynamo_type import DynamoType

        table = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].get_table(self._table)
        for n, at in refreshed_at.items():
            item = table.get_item(DynamoType({"S": f"account#{FIRST_ID + n}"}))
            assert item is not None
            item.attrs["report_refreshed_at"] = DynamoType({"N": str(at)})


# --- The round ------------------------------------------------------------------------------


class QueueKeeper:
    """Notes what the scheduler sends, in order, and keeps moto's queue empty meanwhile.

    moto's SQS reads its whole queue for each message it takes in (real SQS does not), so
    100,000 messages left in the queue would time moto, not the scheduler. After each of the
    scheduler's SendMessageBatch calls this notes the accounts the batch named and empties
    moto's copy of the queue in its own store (in AWS, Lambda's pollers take the messages;
    here the simulation delivers them): no call of its own, nothing to subtract."""

    def __init__(self, scheduler_sqs: Any, queue_url: str) -> None:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.sqs.models import sqs_backends

        self.sent: list[str] = []
        self._lock = threading.Lock()
        name = queue_url.rstrip("/").rsplit("/", 1)[-1]
        self._queue = sqs_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].queues[name]
        events = scheduler_sqs.meta.events
        events.register("provide-client-params.sqs.SendMessageBatch", self._note)
        events.register("after-call.sqs.SendMessageBatch", self._empty)

    def _note(self, params: dict[str, Any], **_: Any) -> None:
        from chalicelib.refresh_queue import account_of

        with self._lock:
            self.sent.extend(account_of(entry["MessageBody"]) for entry in params["Entries"])

    def _empty(self, **_: Any) -> None:
        with self._lock:
            self._queue._messages.clear()


def _scheduler(clock: SimClock, queue_url: str) -> tuple[Any, AwsCallCounter, Any, QueueKeeper]:
    """The Scheduler services.scheduler() builds, on the simulated clock, with clients of its
    own (its calls counted apart from the workers')."""
    import boto3

    from chalicelib.accounts import AccountIndex
    from chalicelib.config import settings
    from chalicelib.refresh import Scheduler
    from chalicelib.refresh_queue import RefreshQueue

    config = settings()
    dynamodb, sqs = boto3.client("dynamodb"), boto3.client("sqs")
    scheduler = Scheduler(
        AccountIndex(dynamodb, config.table_name),
        RefreshQueue(sqs, queue_url),
        max_age_seconds=config.report_max_age_seconds,
        send_concurrency=config.refresh_send_concurrency,
        clock=clock,
    )
    return scheduler, AwsCallCounter(dynamodb), AwsCallCounter(sqs), QueueKeeper(sqs, queue_url)


# --- The workers ----------------------------------------------------------------------------


def _worker(clock: SimClock) -> Any:
    """The worker as services.refresh_worker() builds it, on the simulated clock."""
    from chalicelib import services
    from chalicelib.accounts import AccountTokens
    from chalicelib.budget import Limit, TokenBucket
    from chalicelib.config import settings
    from chalicelib.refresh import RefreshWorker
    from chalicelib.report_service import ReportService
    from chalicelib.x_timeline import MENTIONS, OWN_POSTS, XTimeline

    config = settings()
    window, margin = config.x_budget_window_seconds, config.x_budget_margin_seconds
    budget = TokenBucket(
        services.dynamodb(),
        config.table_name,
        {
            MENTIONS: Limit(config.x_user_budget_mentions, window, margin),
            OWN_POSTS: Limit(config.x_user_budget_tweets, window, margin),
        },
        clock,
    )

    def timeline_for(account: AccountTokens) -> XTimeline:
        client = services.x_auth().client(account.access_token, account.access_token_secret)
        return XTimeline(client, budget.for_account(account.account_id), clock)

    store = services.account_store()
    rng = random.Random(7)
    reports = ReportService(
        services.archive(),
        timeline_for,
        config.report_max_age_seconds,
        clock,
        on_written=store.confirm_written,
        x_seconds=(config.view_x_budget_seconds, config.worker_x_budget_seconds),
    )
    return RefreshWorker(
        store,
        reports,
        services.refresh_queue(),
        max_age_seconds=config.report_max_age_seconds,
        spread_seconds=window,
        clock=clock,
        jitter=lambda spread: rng.randint(0, max(0, spread)),
    )


@dataclass
class Deliveries:
    """The sampled accounts' messages, delivered to the real worker at their times."""

    clock: SimClock
    queue_url: str
    worker: Any
    refreshed: dict[str, list[float]]
    invocations: int = 0
    messages: int = 0
    handed_back: int = 0
    failed: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    _events: list[tuple[float, int, list[str]]] = field(default_factory=list)
    _seq: int = 0

    def __post_init__(self) -> None:
        import boto3

        from chalicelib import services
        from local.stack import SqsEventSource

        self._sqs = boto3.client("sqs")  # the queue holding them: not the app's calls
        self._source = SqsEventSource(self._sqs, self.queue_url, self._invoke)
        self._delays: dict[str, int] = {}
        services.sqs().meta.events.register(
            "provide-client-params.sqs.ChangeMessageVisibility", self._note_delay
        )

    def at(self, when: float, account_ids: list[str]) -> None:
        self._seq += 1
        heapq.heappush(self._events, (when, self._seq, account_ids))

    def run_until(self, until: float) -> None:
        from chalicelib.refresh_queue import message_body

        while self._events and self._events[0][0] < until:
            when, _, account_ids = heapq.heappop(self._events)
            self.clock.set(when)
            self._sqs.send_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "MessageBody": message_body(a)}
                    for i, a in enumerate(account_ids)
                ],
            )
            self._source.poll_once()
        self._sqs.purge_queue(QueueUrl=self.queue_url)  # handed-back copies: invisible

    def _note_delay(self, params: dict[str, Any], **_: Any) -> None:
        self._delays[params["ReceiptHandle"]] = int(params["VisibilityTimeout"])

    def _invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        import json

        from chalicelib.observability import metrics

        now = self.clock()
        answer: dict[str, Any] = self.worker.process(event)
        metrics.clear_metrics()  # in Lambda the middleware flushes them after each batch
        kept = {failure["itemIdentifier"] for failure in answer["batchItemFailures"]}
        self.invocations += 1
        for record in event["Records"]:
            account_id = json.loads(record["body"])["account_id"]
            self.messages += 1
            if record["messageId"] not in kept:
                self.refreshed.setdefault(account_id, []).append(now)
                continue
            delay = self._delays.pop(record["receiptHandle"], None)
            if delay is None:  # failed: SQS delivers it again after the queue's visibility
                self.failed += 1
                delay = 1800
            else:
                self.handed_back += 1
            self.at(now + delay, [account_id])
        return answer


# --- One fleet ------------------------------------------------------------------------------


def _lanes(sent: Sequence[str], start: float, concurrency: int) -> list[float]:
    """When each message's refresh ends: `concurrency` workers, each taking the next ten
    messages in the order they were sent and spending WORKER_SECONDS_PER_ACCOUNT on each."""
    batch_seconds = 10 * WORKER_SECONDS_PER_ACCOUNT
    return [start + (i // 10 // concurrency + 1) * batch_seconds for i in range(len(sent))]


def _grow(emulator: Any, sampled: Sampled, at: datetime) -> None:
    for n, account_id in enumerate(sampled.growing):
        for i in range(2):
            text = f"@{account_id} again {n}.{i}"
            emulator.add_post(sampled.fans[account_id], text, at, mentions=[account_id])


@dataclass
class Fleet:
    """One fleet under simulation: the sample at X, the accounts only the table knows, the
    worker and what is counted of it."""

    clock: SimClock
    queue_url: str
    size: int
    sampled: Sampled
    table_only: TableOnly
    deliveries: Deliveries
    concurrency: int
    statuses: Counter[int] = field(default_factory=Counter)
    scheduler_calls: Counter[str] = field(default_factory=Counter)
    rounds: list[dict[str, Any]] = field(default_factory=list)

    def run_round(self, round_at: float, round_seconds: int) -> None:
        """The real scheduler's round at `round_at`; then every refresh it queued, the
        sampled ones through the real worker at their time, until the next round."""
        from chalicelib.config import settings

        self.clock.set(round_at)
        scheduler, dynamodb_calls, sqs_calls, keeper = _scheduler(self.clock, self.queue_url)
        began = time.perf_counter()
        summary = scheduler.run_round()
        wall = time.perf_counter() - began
        in_aws = (
            dynamodb_calls.calls["Query"] * AWS_QUERY_PAGE_SECONDS
            + math.ceil(sqs_calls.calls["SendMessageBatch"] / settings().refresh_send_concurrency)
            * AWS_SEND_BATCH_SECONDS
        )
        ends = _lanes(keeper.sent, round_at, self.concurrency)
        self._deliver(keeper.sent, ends)
        self.deliveries.run_until(round_at + round_seconds)
        self.scheduler_calls.update(dynamodb_calls.calls)
        self.scheduler_calls.update(sqs_calls.calls)
        self.rounds.append(
            {
                "queued": summary.queued,
                "seconds": wall,
                "seconds_in_aws": in_aws,
                "query_pages": dynamodb_calls.calls["Query"],
                "send_batches": sqs_calls.calls["SendMessageBatch"],
                "drained_after": (ends[-1] - round_at) if ends else 0.0,
            }
        )
        dynamodb_calls.close()
        sqs_calls.close()

    def _deliver(self, sent: list[str], ends: list[float]) -> None:
        """The sampled accounts' batches to the worker when their batch starts; the others'
        refresh written back as ending when theirs ends."""
        sampled_ids = set(self.sampled.ids)
        batches: dict[int, list[str]] = {}
        written: dict[int, int] = {}
        for index, (account_id, end) in enumerate(zip(sent, ends, strict=True)):
            if account_id in sampled_ids:
                batches.setdefault(index // 10, []).append(account_id)
            else:
                written[int(account_id) - FIRST_ID] = int(end)
                self.table_only.refreshed.setdefault(account_id, []).append(end)
        for index, account_ids in batches.items():
            self.deliveries.at(ends[index * 10] - 10 * WORKER_SECONDS_PER_ACCOUNT, account_ids)
        self.table_only.mark_refreshed(written)

    def longest_gap(self, start: float, end: float) -> tuple[float, int]:
        """The longest time any account went without a refresh (from `start` to its first,
        between two, from its last to `end`), and how many were never refreshed."""
        longest, never = 0.0, 0
        for account_id in [*self.sampled.ids, *self.table_only.ids()]:
            times = (
                self.deliveries.refreshed.get(account_id)
                or self.table_only.refreshed.get(account_id)
                or []
            )
            if not times:
                never += 1
                continue
            gaps = [b - a for a, b in zip([start, *times], [*times, end], strict=True)]
            longest = max(longest, *gaps)
        return longest, never


def _start_fleet(
    endpoint: str, emulator: Any, clock: SimClock, size: int, sample: int
) -> tuple[Fleet, float]:
    """Resources, the sample at X and signed in, the rest in the table; (fleet, seconds)."""
    env = _provision(endpoint)
    began = time.perf_counter()
    when = datetime.fromtimestamp(clock(), UTC)
    sampled = _sample_at_x(emulator, sample, when, random.Random(size))
    _sign_in(sample)
    for account_id in sampled.elsewhere:
        emulator.use_elsewhere(account_id, "GET /2/users/:id/mentions", 296)
    table_only = TableOnly(size - sample)
    table_only.write(dict.fromkeys(range(size - sample), 0))
    fleet = Fleet(
        clock,
        env["REFRESH_QUEUE_URL"],
        size,
        sampled,
        table_only,
        Deliveries(clock, env["REFRESH_QUEUE_URL"], _worker(clock), {}),
        WORKER_CONCURRENCY.get(size) or max(2, math.ceil(size / 2500)),
    )
    return fleet, time.perf_counter() - began


def simulate(
    endpoint: str, emulator: Any, clock: SimClock, size: int, hours: int, sample: int
) -> dict[str, Any]:
    from chalicelib import services
    from chalicelib.config import REFRESH_RATE_MINUTES, settings

    sample = min(sample, size)
    start = clock()
    fleet, setup = _start_fleet(endpoint, emulator, clock, size, sample)
    round_seconds = REFRESH_RATE_MINUTES * 60
    emulator.response_hook = lambda template, status, *_: fleet.statuses.update([status])
    emulator.reset_counters()
    workers = {
        name: AwsCallCounter(client)
        for name, client in (
            ("dynamodb", services.dynamodb()),
            ("sqs", services.sqs()),
            ("s3", services.s3()),
        )
    }
    for hour in range(hours):
        if hour:
            _grow(
                emulator, fleet.sampled, datetime.fromtimestamp(start + hour * round_seconds, UTC)
            )
        fleet.run_round(start + hour * round_seconds, round_seconds)
    emulator.response_hook = None
    end = start + hours * round_seconds
    clock.set(end)
    longest, never = fleet.longest_gap(start, end)
    rounds = fleet.rounds
    figures = {
        "fleet": size,
        "sample": sample,
        "worker_concurrency": fleet.concurrency,
        "setup_seconds": round(setup, 1),
        "rounds": len(rounds),
        "queued_per_round": [r["queued"] for r in rounds],
        "round_seconds_max": round(max(r["seconds"] for r in rounds), 2),
        "round_seconds_in_aws_max": round(max(r["seconds_in_aws"] for r in rounds), 2),
        "query_pages_max": max(r["query_pages"] for r in rounds),
        "send_batches_per_round_max": max(r["send_batches"] for r in rounds),
        "drained_after_max_s": round(max(r["drained_after"] for r in rounds)),
        "longest_between_refreshes_s": round(longest),
        "allowed_s": settings().report_max_age_seconds + round_seconds,
        "never_refreshed": never,
        "x_requests": sum(fleet.statuses.values()),
        "x_429s": fleet.statuses[429],
        "sample_handed_back": fleet.deliveries.handed_back,
        "sample_failed": fleet.deliveries.failed,
        "per_hour": _per_hour(fleet, {n: c.calls for n, c in workers.items()}, hours),
    }
    for counter in workers.values():
        counter.close()
    return figures


def _per_hour(fleet: Fleet, workers: dict[str, Counter[str]], hours: int) -> dict[str, int]:
    """The fleet's figures an hour: the scheduler's calls as made, the workers' as the
    sample made them times the fleet's share of it, and Lambda's poller (one ReceiveMessage
    and one DeleteMessageBatch an invocation)."""
    scale = fleet.size / len(fleet.sampled.ids)
    scheduler = fleet.scheduler_calls
    worker_writes = sum(workers["dynamodb"][name] for name in WRITES)
    invocations = sum(math.ceil(r["queued"] / 10) for r in fleet.rounds) + (
        (fleet.deliveries.handed_back + fleet.deliveries.failed) * scale
    )
    sqs = scheduler["SendMessageBatch"] + sum(workers["sqs"].values()) * scale + 2 * invocations
    reads = (sum(workers["dynamodb"].values()) - worker_writes) * scale + scheduler["Query"]
    return {
        "dynamodb_writes": round(
            (worker_writes * scale + sum(scheduler[n] for n in WRITES)) / hours
        ),
        "dynamodb_reads": round(reads / hours),
        "sqs_requests": round(sqs / hours),
        "worker_invocations": round(invocations / hours),
        "s3_requests": round(sum(workers["s3"].values()) * scale / hours),
        "x_requests": round(sum(fleet.statuses.values()) * scale / hours),
    }


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's ThreadedMotoServer on loopback, one request at a time; yields its endpoint."""
    from local.stack import atomic_moto_server

    server = atomic_moto_server(HOST, 0)
    server.start()
    try:
        yield "http://{}:{}".format(*server.get_host_and_port())
    finally:
        server.stop()


def main(
    fleets: Sequence[int] = FLEETS, hours: int = HOURS, sample: int = SAMPLE
) -> dict[str, Any]:
    _environment()
    from local.x_emulator import XEmulator

    results: list[dict[str, Any]] = []
    with moto_server() as endpoint:
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        for fleet in fleets:
            # A fresh X and a fresh clock for each fleet: every figure is that fleet's own.
            clock = SimClock(float(int(time.time())))
            emulator = XEmulator(
                CONSUMER_KEY, CONSUMER_SECRET, seed_demo=False, clock=_utc_of(clock)
            )
            os.environ["X_API_BASE_URL"] = emulator.start(HOST, 0)
            began = time.perf_counter()
            try:
                figures = simulate(endpoint, emulator, clock, fleet, hours, sample)
            finally:
                emulator.stop()
            figures["wall_seconds"] = round(time.perf_counter() - began, 1)
            results.append(figures)
            _print(figures)
    made = {"hours": hours, "fleets": results}
    print(f"\nFor the README:\n\n{readme_table(made)}", flush=True)
    return made


def _utc_of(clock: SimClock) -> Any:
    return lambda: datetime.fromtimestamp(clock(), UTC)


def held(figures: dict[str, Any]) -> bool:
    """What the issue asks of every fleet: each account refreshed within the max age and one
    round, no 429 from X, and each round within the schedule function's timeout."""
    return (
        figures["never_refreshed"] == 0
        and figures["longest_between_refreshes_s"] <= figures["allowed_s"]
        and figures["x_429s"] == 0
        and figures["round_seconds_in_aws_max"] < SCHEDULE_TIMEOUT_SECONDS
    )


def _table(fleet: dict[str, Any]) -> list[tuple[str, str]]:
    hour = fleet["per_hour"]
    share = (
        "all" if fleet["sample"] == fleet["fleet"] else f"1 in {fleet['fleet'] // fleet['sample']}"
    )
    return [
        ("accounts (sampled at X)", f"{fleet['fleet']:,} ({share})"),
        ("REFRESH_WORKER_CONCURRENCY", f"{fleet['worker_concurrency']}"),
        ("queued per round", ", ".join(f"{q:,}" for q in fleet["queued_per_round"])),
        (
            "round: Query pages, SendMessageBatch calls",
            f"{fleet['query_pages_max']}, {fleet['send_batches_per_round_max']:,}",
        ),
        (
            "round's time: in AWS (timeout), in moto",
            f"{fleet['round_seconds_in_aws_max']:.1f} s ({SCHEDULE_TIMEOUT_SECONDS} s), "
            f"{fleet['round_seconds_max']:.1f} s",
        ),
        ("round read by the workers within", f"{fleet['drained_after_max_s']:,} s"),
        (
            "longest between two refreshes (allowed)",
            f"{fleet['longest_between_refreshes_s']:,} s ({fleet['allowed_s']:,} s)",
        ),
        (
            "429s from X (requests at X, sampled)",
            f"{fleet['x_429s']} ({fleet['x_requests']:,})",
        ),
        (
            "handed back until the token's reset (sampled)",
            f"{fleet['sample_handed_back']}",
        ),
        ("DynamoDB writes an hour", f"{hour['dynamodb_writes']:,}"),
        ("SQS requests an hour", f"{hour['sqs_requests']:,}"),
        ("worker invocations an hour", f"{hour['worker_invocations']:,}"),
        ("X requests an hour", f"{hour['x_requests']:,}"),
        ("held", "yes" if held(fleet) else "NO"),
    ]


def _print(fleet: dict[str, Any]) -> None:
    rows = _table(fleet)
    width = max(len(label) for label, _ in rows)
    print(f"-- {fleet['fleet']:,} accounts, {fleet['wall_seconds']} s of wall time", flush=True)
    for label, value in rows:
        print(f"{label:<{width}}  {value}", flush=True)


def readme_table(figures: dict[str, Any]) -> str:
    """The README's table: one column per fleet."""
    tables = [dict(_table(fleet)) for fleet in figures["fleets"]]
    head = [f"{fleet['fleet']:,} accounts" for fleet in figures["fleets"]]
    lines = [
        f"| {figures['hours']} simulated hours | " + " | ".join(head) + " |",
        "|---|" + "---:|" * len(head),
    ]
    for label in tables[0]:
        lines.append(f"| {label} | " + " | ".join(t[label] for t in tables) + " |")
    return "\n".join(lines)


def rows(figures: dict[str, Any]) -> dict[str, list[tuple[str, str, str]]]:
    """For bench/run.py: one section per fleet."""
    sections: dict[str, list[tuple[str, str, str]]] = {}
    for fleet in figures["fleets"]:
        title = f"Schedule, {fleet['fleet']:,} accounts, {figures['hours']} simulated hours"
        sections[title] = [(label, value, "") for label, value in _table(fleet)]
    return sections


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fleets", type=int, nargs="*", default=list(FLEETS))
    parser.add_argument("--hours", type=int, default=HOURS)
    parser.add_argument("--sample", type=int, default=SAMPLE)
    args = parser.parse_args()
    result = main(args.fleets, args.hours, args.sample)
    sys.exit(0 if all(held(fleet) for fleet in result["fleets"]) else 1)
