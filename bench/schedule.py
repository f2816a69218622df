"""Benchmark the refresh schedule at fleet size, and the X budget over one X window.

Starts moto's server on loopback (one request at a time, as DynamoDB applies writes to an
item) and the X emulator, creates the resources of infra/resources.json, then:

1. Fan-out. 10,000 signed-in accounts, all due. One round of the real scheduler; prints
   its DynamoDB and SQS calls (counted with botocore's event hooks) and its time, and
   checks each account was sent exactly once (see QueueKeeper for how moto's queue is
   kept short meanwhile).
2. One X window, simulated. 150 accounts with 350 mentions each (four pages to read)
   signed in through the emulator's OAuth, one round, then five workers (the worker's
   concurrency) run the real worker code on the real messages while a simulated clock
   walks the bucket and the emulator through 15 minutes. The fleet wants 600 mention
   reads; the bucket admits X's 450, and the emulator counts what reached X.

Prints a small table; `main()` returns the figures as a dict for other scripts.

    python bench/schedule.py [--accounts N] [--window-accounts N] [--mentions N]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.aws_calls import AwsCallCounter

HOST = "127.0.0.1"
CONSUMER_KEY = "bench-consumer-key"
CONSUMER_SECRET = "bench-consumer-secret"
WORKERS = 5
X_WINDOW_SECONDS = 900


class SimClock:
    """Time for the bucket, the reports and the emulator; moved by the benchmark."""

    def __init__(self, start: float) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


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


# --- 1. Fan-out ---------------------------------------------------------------------------


def _write_accounts(count: int) -> None:
    """`count` accounts as sign-in leaves them (AccountStore.save's attributes),
    written 25 to a BatchWriteItem: saving them one by one would time moto, not the app."""
    from chalicelib import services
    from chalicelib.accounts import REFRESH_GROUP
    from chalicelib.config import settings

    cipher = services.token_cipher()
    token, secret = cipher.encrypt("bench-token"), cipher.encrypt("bench-secret")
    table = settings().table_name
    now = str(int(time.time()))
    items = [
        {
            "pk": {"S": f"account#{9_000_000_000 + n}"},
            "kind": {"S": "account"},
            "account_id": {"S": str(9_000_000_000 + n)},
            "username": {"S": f"bench{n}"},
            "access_token": {"S": token},
            "access_token_secret": {"S": secret},
            "signed_in_at": {"N": now},
            "refresh_group": {"S": REFRESH_GROUP},
            "report_refreshed_at": {"N": "0"},
        }
        for n in range(count)
    ]
    db = services.dynamodb()
    for start in range(0, count, 25):
        requests = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        while requests:
            answer = db.batch_write_item(RequestItems={table: requests})
            requests = answer.get("UnprocessedItems", {}).get(table, [])


class QueueKeeper:
    """Keeps moto's queue short while the scheduler sends, and notes what was sent.

    moto's SQS reads its whole queue for each message it takes in (real SQS does not), so
    10,000 messages left in the queue would time moto, not the scheduler. After each of
    the scheduler's SendMessageBatch calls this empties the queue (in AWS, Lambda's
    pollers would take the messages) and keeps the accounts the batch named; its own time
    is subtracted."""

    def __init__(self, scheduler_sqs: Any, queue_url: str) -> None:
        import boto3

        self.sent: Counter[str] = Counter()
        self.seconds = 0.0
        self._sqs = boto3.client("sqs")  # its calls are not the scheduler's
        self._url = queue_url
        events = scheduler_sqs.meta.events
        events.register("provide-client-params.sqs.SendMessageBatch", self._note)
        events.register("after-call.sqs.SendMessageBatch", self._empty)

    def _note(self, params: dict[str, Any], **_: Any) -> None:
        from chalicelib.refresh_queue import account_of

        self.sent.update(account_of(entry["MessageBody"]) for entry in params["Entries"])

    def _empty(self, **_: Any) -> None:
        started = time.perf_counter()
        self._sqs.purge_queue(QueueUrl=self._url)  # moto lets it run more than once a minute
        self.seconds += time.perf_counter() - started


def fan_out(endpoint: str, accounts: int) -> dict[str, Any]:
    from chalicelib import services

    env = _provision(endpoint)
    os.environ["REFRESH_MAX_PER_ROUND"] = str(accounts)  # all of them, to time the fan-out
    services.reset()
    started = time.perf_counter()
    _write_accounts(accounts)
    setup = time.perf_counter() - started
    scheduler = services.scheduler()
    dynamodb_calls = AwsCallCounter(services.dynamodb())
    sqs_calls = AwsCallCounter(services.sqs())
    keeper = QueueKeeper(services.sqs(), env["REFRESH_QUEUE_URL"])

    started = time.perf_counter()
    summary = scheduler.run_round()
    elapsed = time.perf_counter() - started - keeper.seconds

    del os.environ["REFRESH_MAX_PER_ROUND"]
    return {
        "accounts": accounts,
        "accounts_write_seconds": round(setup, 2),
        "seen": summary.seen,
        "queued": summary.queued,
        "scheduler_dynamodb_calls": dict(dynamodb_calls.calls),
        "scheduler_sqs_calls": dict(sqs_calls.calls),
        "scheduler_seconds": round(elapsed, 2),
        "accounts_sent_once": sum(1 for n in keeper.sent.values() if n == 1),
    }


# --- 2. One X window ------------------------------------------------------------------------


def _accounts_at_x(emulator: Any, count: int, mentions: int) -> None:
    """`count` accounts at X, each mentioned `mentions` times over the last days."""
    from datetime import UTC, datetime, timedelta

    start = datetime.now(UTC) - timedelta(days=5)
    for n in range(count):
        account_id = emulator.add_account(f"window{n}")
        fan = emulator.add_account(f"window{n}_fan")
        for i in range(mentions):
            at = start + timedelta(minutes=10 * i)
            emulator.add_post(fan, f"@window{n} question {i}", at, mentions=[account_id])


def _sign_in(count: int) -> None:
    """Each account through the real flow: request token, the person's click at X's
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
                "username": f"window{n}",
                "action": "authorize",
            },
            allow_redirects=False,
            timeout=10,
        )
        callback = parse_qs(urlsplit(answer.headers["location"]).query)
        flow.complete(started.session_id, callback["oauth_token"][0], callback["oauth_verifier"][0])


def _simulated_worker(clock: SimClock) -> Any:
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
            MENTIONS: Limit(config.x_budget_mentions, window, margin),
            OWN_POSTS: Limit(config.x_budget_tweets, window, margin),
        },
        clock,
    )

    def timeline_for(account: AccountTokens) -> XTimeline:
        client = services.x_auth().client(account.access_token, account.access_token_secret)
        return XTimeline(client, budget)

    store = services.account_store()
    reports = ReportService(
        services.archive(),
        timeline_for,
        config.report_max_age_seconds,
        clock,
        on_written=store.confirm_written,
    )
    return RefreshWorker(
        store,
        reports,
        services.refresh_queue(),
        max_age_seconds=config.report_max_age_seconds,
        spread_seconds=window,
        clock=clock,
    )


def one_window(
    endpoint: str, emulator: Any, clock: SimClock, accounts: int, mentions: int
) -> dict[str, Any]:
    import boto3

    from chalicelib import services
    from local.stack import SqsEventSource

    env = _provision(endpoint)
    emulator.set_rate_limit("GET /2/users/:id/mentions", per_user=300, per_app=450)
    _accounts_at_x(emulator, accounts, mentions)
    setup_started = time.perf_counter()
    _sign_in(accounts)
    sign_in_seconds = time.perf_counter() - setup_started
    summary = services.scheduler().run_round()
    worker = _simulated_worker(clock)
    answers: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    emulator.response_hook = lambda template, status, *_: statuses.update([status])
    emulator.reset_counters()
    batches = -(-summary.queued // 10)
    step = X_WINDOW_SECONDS / batches  # batches arrive evenly over the 15 minutes
    lock = threading.Lock()

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        from chalicelib.observability import metrics

        answer = worker.process(event)
        metrics.clear_metrics()  # in Lambda the middleware flushes them after each batch
        with lock:
            answers["kept"] += len(answer["batchItemFailures"])
            answers["done"] += len(event["Records"]) - len(answer["batchItemFailures"])
        clock.advance(step)
        return answer

    def poll() -> None:
        source = SqsEventSource(boto3.client("sqs"), env["REFRESH_QUEUE_URL"], invoke)
        source.drain()

    started, wall = clock(), time.perf_counter()
    pool = [threading.Thread(target=poll) for _ in range(WORKERS)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    wall = time.perf_counter() - wall
    emulator.response_hook = None
    mention_reads = emulator.calls["GET /2/users/:id/mentions"]
    return {
        "window_accounts": accounts,
        "window_mentions_each": mentions,
        "mention_pages_wanted": accounts * -(-mentions // 100),
        "sign_in_seconds": round(sign_in_seconds, 2),
        "workers_seconds": round(wall, 2),
        "window_queued": summary.queued,
        "simulated_seconds": round(clock() - started),
        "worker_batches": batches,
        "refreshed": answers["done"],
        "handed_back": answers["kept"],
        "x_mention_reads": mention_reads,
        "x_tweet_reads": emulator.calls["GET /2/users/:id/tweets"],
        "x_429s": statuses[429],
        "x_app_limit": services.settings().x_budget_mentions,
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


def main(accounts: int = 10_000, window_accounts: int = 150, mentions: int = 350) -> dict[str, Any]:
    _environment()
    from local.x_emulator import XEmulator

    clock = SimClock(time.time())
    emulator = XEmulator(
        CONSUMER_KEY, CONSUMER_SECRET, seed_demo=False, clock=lambda: _utc(clock())
    )
    with moto_server() as endpoint:
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        os.environ["X_API_BASE_URL"] = emulator.start(HOST, 0)
        try:
            figures = {
                **fan_out(endpoint, accounts),
                **one_window(endpoint, emulator, clock, window_accounts, mentions),
            }
        finally:
            emulator.stop()
    _print(figures)
    return figures


def _utc(epoch: float) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC)


def _print(figures: dict[str, Any]) -> None:
    dynamodb = ", ".join(f"{k} {v}" for k, v in figures["scheduler_dynamodb_calls"].items())
    sqs = ", ".join(f"{k} {v}" for k, v in figures["scheduler_sqs_calls"].items())
    rows = [
        ("Fan-out: due accounts", f"{figures['accounts']:,}"),
        ("  scheduler DynamoDB calls", dynamodb),
        ("  scheduler SQS calls", sqs),
        ("  scheduler time", f"{figures['scheduler_seconds']:.2f} s"),
        (
            "  queued / sent exactly once",
            f"{figures['queued']:,} / {figures['accounts_sent_once']:,}",
        ),
        ("One X window: accounts queued", f"{figures['window_queued']:,}"),
        ("  mention pages they want", f"{figures['mention_pages_wanted']:,}"),
        (
            "  simulated time",
            f"{figures['simulated_seconds']} s in {figures['worker_batches']} batches",
        ),
        ("  refreshed / handed back", f"{figures['refreshed']} / {figures['handed_back']}"),
        (
            "  mention reads at X (app limit)",
            f"{figures['x_mention_reads']} ({figures['x_app_limit']})",
        ),
        ("  tweets reads at X", f"{figures['x_tweet_reads']}"),
        ("  429s from X", f"{figures['x_429s']}"),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--window-accounts", type=int, default=150)
    parser.add_argument("--mentions", type=int, default=350)
    args = parser.parse_args()
    result = main(args.accounts, args.window_accounts, args.mentions)
    held = result["x_mention_reads"] <= result["x_app_limit"] and result["x_429s"] == 0
    sent = result["accounts_sent_once"] == result["queued"] == result["accounts"]
    sys.exit(0 if held and sent else 1)
