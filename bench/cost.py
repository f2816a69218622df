"""What 1,000 accounts cost a month, from the calls one run of the app counts.

Runs the app through Chalice's test client against moto's server and the X emulator (the
harness of bench/calls.py) and counts, per operation, every AWS API call in the process,
the requests and posts the emulator serves, and the bytes the functions print (their JSON
logs and EMF metrics, which CloudWatch ingests). The operations: a sign-in, a report view
within the max age, the note a view makes of itself (at most once a day), one past the max
age with new posts, and a scheduled round refreshing ROUND_ACCOUNTS accounts through the
queue and the worker. The usage below turns them into a month; the prices are AWS's
pay-per-use ones in us-east-1 and X's pay-per-use price. A second price column says what
the fleet would pay if every account were an owned read (X_OWNED_ACCOUNT_IDS: each person
runs the app for her own account): posts at $0.001; a users lookup reads other people's
accounts, never an owned read.

X users read are the users lookups the run made (GET /2/users, counted by the emulator):
the handles of the authors a report shows for the first time. The accounts of the measured
round have a history already (HISTORY_MENTIONS), as an account a month in has: a round
then looks up only who is new in the rows shown, not every new mention's author.

A second table weighs retention: a fleet where half the accounts stop visiting after their
first month, in a month once they are idle (past REFRESH_IDLE_DAYS). Without retention
every account is refreshed every round; with it the idle half is out of the refresh index:
no round, worker or X read for them, and their archives stop growing (each is forgotten
after ACCOUNT_RETENTION_DAYS). X is assumed to go on posting to them as before.

Counts are exact and repeatable; durations are assumptions (a run on loopback says
nothing about Lambda's), and so are the usage figures. `make bench-cost` prints the table
the README shows; tests/test_cost.py checks that the README shows this run's table.

    python -m bench.cost
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import math
import os
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
if str(PROJECT_DIR) not in sys.path:
    sys.path.insert(0, str(PROJECT_DIR))

ACCOUNTS = 1_000

# --- Usage, per account and month (assumptions) ---------------------------------------
SIGN_INS = 4  # sessions last at most 30 days and idle out after 7
VIEWS = 30  # report page views (each also fetches the stylesheet)
MENTIONS_PER_DAY = 20  # new mentions an account gets
OWN_POSTS_PER_DAY = 20  # posts of its own (replies among them)
DAYS = 30
ROUND_ACCOUNTS = 20  # accounts in the measured round
# Answered mentions each round account holds before the measured round: more than a report
# lists (analytics.TOP_N, 10), answered as fast as the round's new ones (5 minutes).
HISTORY_MENTIONS = 12
IDLE_SHARE = 0.5  # the retention table: accounts that stop visiting after their first month

# --- Durations, average per invocation (assumptions) -----------------------------------
API_MS = 150
SCHEDULE_MS = 1_000
WORKER_MS_PER_ACCOUNT = 800  # two X reads or more, each a round trip to X

# --- Prices (USD, us-east-1, pay per use, no free tier) --------------------------------
LAMBDA_PER_REQUEST = 0.20 / 1e6
LAMBDA_PER_GB_SECOND = 0.0000166667
API_GATEWAY_PER_REQUEST = 3.50 / 1e6  # REST API, first 333 million
DYNAMODB_PER_READ_UNIT = 0.125 / 1e6  # on-demand
DYNAMODB_PER_WRITE_UNIT = 0.625 / 1e6
S3_PER_GET = 0.0004 / 1000
S3_PER_PUT = 0.005 / 1000
S3_PER_GB_MONTH = 0.023
SQS_PER_REQUEST = 0.40 / 1e6
SECRET_PER_MONTH = 0.40
SECRETS_PER_CALL = 0.05 / 10_000
LOGS_PER_GB = 0.50  # CloudWatch Logs ingestion, EMF lines included
METRIC_PER_MONTH = 0.30  # each custom metric (name and dimensions)
X_PER_POST = 0.005  # pay-per-use, "Posts: Read", per post returned
X_PER_OWNED_READ = 0.001  # the same read of an account the operator owns (X_OWNED_ACCOUNT_IDS)
X_PER_USER = 0.010  # "User: Read", per user returned (a lookup of others: never owned)
# X's monthly cap of post reads (since 2026-08-13): per app, not per token, so unlike the
# rate limits it does not grow with the fleet. Past it X reads nothing more that month.
X_MONTHLY_POST_CAP = 3_000_000

# Lambda's SQS event source long-polls even an empty queue: about 5 pollers, one
# ReceiveMessage each per 20 s.
IDLE_SQS_RECEIVES = 5 * 3 * 60 * 24 * DAYS
READS = ("GetItem", "Query", "BatchGetItem", "Scan")
WRITES = ("PutItem", "UpdateItem", "DeleteItem")
X_READS = ("GET /2/users/:id/mentions", "GET /2/users/:id/tweets")


@dataclass(frozen=True)
class Fleet:
    """Whose usage a month is made of: accounts whose people sign in and view their report,
    accounts the schedule refreshes every round, and accounts out of the refresh index
    whose archive holds `frozen_days` of posts (it stopped growing when they went idle)."""

    viewing: int = ACCOUNTS
    refreshed: int = ACCOUNTS
    frozen: int = 0
    frozen_days: int = 0


@dataclass
class Operation:
    """What one operation made: AWS calls by "Service.Operation", X figures, bytes."""

    aws: Counter[str] = field(default_factory=Counter)
    x_requests: int = 0
    x_posts: int = 0
    x_users: int = 0
    new_posts: int = 0  # posts added at X before the operation
    new_mentions: int = 0
    archive_bytes_per_post: float = 0.0  # the S3 archive, gzipped JSON
    report_bytes: int = 0
    printed_bytes: int = 0
    invocations: Counter[str] = field(default_factory=Counter)  # by function

    def minus(self, other: Operation) -> Operation:
        """What this operation made beyond `other` (the same operation, plus one step)."""
        return Operation(
            aws=self.aws - other.aws,
            printed_bytes=max(0, self.printed_bytes - other.printed_bytes),
            invocations=self.invocations - other.invocations,
        )

    def scaled(self, factor: float) -> dict[str, float]:
        figures = {f"aws.{k}": v * factor for k, v in self.aws.items()}
        figures.update(
            x_posts=self.x_posts * factor,
            x_users=self.x_users * factor,
            printed_bytes=self.printed_bytes * factor,
        )
        figures.update({f"invocations.{k}": v * factor for k, v in self.invocations.items()})
        return figures


class Meter:
    """Counts into the Operation being measured."""

    def __init__(self, aws_calls: Counter[str], emulator: Any, printed: io.StringIO) -> None:
        self._aws, self._emulator, self._printed = aws_calls, emulator, printed

    @contextlib.contextmanager
    def measure(self, into: Operation) -> Iterator[Operation]:
        self._aws.clear()
        self._emulator.reset_counters()
        start = len(self._printed.getvalue().encode())
        yield into
        into.aws.update(self._aws)
        into.x_requests += sum(self._emulator.calls[t] for t in X_READS)
        into.x_posts += sum(self._emulator.posts_served[t] for t in X_READS)
        into.x_users += self._emulator.users_served  # what GET /2/users returned
        into.printed_bytes += len(self._printed.getvalue().encode()) - start


_FANS = itertools.count()


def _add_posts(emulator: Any, username: str, mentions: int, own: int, at: datetime) -> None:
    """`mentions` new mentions, each by someone new, and `own` replies to them."""
    account = emulator.account_id(username)
    for i in range(mentions):
        fan = emulator.add_account(f"costfan{next(_FANS)}")
        mention = emulator.add_post(fan, f"@{username} question {i}", at, mentions=[account])
        if i < own:
            emulator.add_post(account, "thanks!", at + timedelta(minutes=5), reply_to=mention)


def measure() -> tuple[dict[str, Operation], int]:
    """Run each operation once against moto's server and the X emulator; also returns the
    app's report max age (seconds). "view_note" is what a view's note of itself adds to a
    view within the max age."""
    from bench.harness import local_world
    from tests.support.aws_calls import counting_aws_calls

    names = ("sign_in", "view_hit", "view_noted", "view_refresh", "schedule", "worker")
    ops = {name: Operation() for name in names}
    printed = io.StringIO()
    with local_world() as world, counting_aws_calls() as aws_calls:
        from chalice.test import Client

        from app import app
        from chalicelib import services
        from chalicelib.observability import logger
        from local.stack import SqsEventSource
        from tests.browser import Browser

        # What X bills: the overlap (X_OVERLAP_SECONDS) reads again only posts read in the
        # last 15 minutes, which X bills once per UTC day, so a month bills nothing for it
        # but the first refresh after midnight's few; measured without it.
        os.environ["X_OVERLAP_SECONDS"] = "0"
        services.reset()
        max_age = services.settings().report_max_age_seconds
        meter = Meter(aws_calls, world.emulator, printed)
        handler: Any = logger.registered_handler
        saved_stream, handler.stream = handler.stream, printed
        saved_level = logger.log_level
        logger.setLevel("INFO")  # every stage's LOG_LEVEL in .chalice/config.json
        try:
            with Client(app, stage_name="local") as client, contextlib.redirect_stdout(printed):
                client.http.get("/static/app.css")  # the cold start, whoever ran before
                _run_operations(client, world, meter, ops, Browser, SqsEventSource)
        finally:
            handler.stream = saved_stream
            logger.setLevel(saved_level)
            services.reset()
    ops["view_note"] = ops.pop("view_noted").minus(ops["view_hit"])
    return ops, max_age


def _run_operations(
    client: Any, world: Any, meter: Meter, ops: dict[str, Operation], browser: Any, source: Any
) -> None:
    import boto3

    from chalicelib import services
    from tests.support.seed import sign_in_accounts

    emulator = world.emulator
    now = datetime.now(UTC)
    person = browser(client)
    with meter.measure(ops["sign_in"]) as op:
        person.sign_in("fastbrand")
        op.invocations["api"] += 2  # /auth and /callback
    person.get("/report")  # the first report reads the account's history: apart, below
    with meter.measure(ops["view_hit"]) as op:
        person.get("/report")
        person.get("/static/app.css")
        op.invocations["api"] += 2
    _last_viewed_days_ago(emulator.account_id("fastbrand"), 2)
    with meter.measure(ops["view_noted"]) as op:  # the same view, and its daily note
        person.get("/report")
        person.get("/static/app.css")
        op.invocations["api"] += 2

    os.environ["REPORT_MAX_AGE_SECONDS"] = "0"
    services.reset()
    per_refresh = _posts_per_refresh()
    _add_posts(emulator, "fastbrand", *per_refresh, now)
    with meter.measure(ops["view_refresh"]) as op:
        person.get("/report")
        person.get("/static/app.css")
        op.invocations["api"] += 2

    names = [f"costbrand{i}" for i in range(ROUND_ACCOUNTS)]
    sign_in_accounts(client, emulator, names, mentions=HISTORY_MENTIONS, answered=HISTORY_MENTIONS)
    event = client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
    )
    client.lambda_.invoke("schedule_refresh", event)  # first reports: the history, apart
    queue = source(boto3.client("sqs"), world.env["REFRESH_QUEUE_URL"], _worker(client, None))
    queue.drain()
    for name in names:
        _add_posts(emulator, name, *per_refresh, now + timedelta(seconds=1))
    ops["worker"].new_mentions = per_refresh[0] * len(names)
    ops["worker"].new_posts = sum(per_refresh) * len(names)
    with meter.measure(ops["schedule"]) as op:
        client.lambda_.invoke("schedule_refresh", event)
        op.invocations["schedule"] += 1
    with meter.measure(ops["worker"]) as op:  # Lambda's poller's SQS calls included
        source(boto3.client("sqs"), world.env["REFRESH_QUEUE_URL"], _worker(client, op)).drain()
    archive = services.archive()
    state = archive.load(world.emulator.account_id(names[0]))
    assert state is not None
    s3 = boto3.client("s3")
    sizes = {
        name: s3.head_object(Bucket=world.env["BUCKET_NAME"], Key=f"accounts/{state_id}/{name}")[
            "ContentLength"
        ]
        for state_id in [world.emulator.account_id(names[0])]
        for name in ("archive.json.gz", "report.json")
    }
    ops["worker"].archive_bytes_per_post = sizes["archive.json.gz"] / state.post_count
    ops["worker"].report_bytes = sizes["report.json"]


def _last_viewed_days_ago(account_id: str, days: int) -> None:
    """The account's view noted `days` ago: its next view notes itself again."""
    from chalicelib import services
    from chalicelib.accounts import account_key

    services.dynamodb().update_item(
        TableName=services.settings().table_name,
        Key=account_key(account_id),
        UpdateExpression="SET viewed_at = :then",
        ExpressionAttributeValues={":then": {"N": str(int(time.time()) - days * 24 * 3600)}},
    )


def _worker(client: Any, op: Operation | None) -> Callable[[dict[str, Any]], Any]:
    def invoke(batch: dict[str, Any]) -> Any:
        if op is not None:
            op.invocations["worker"] += 1
        return client.lambda_.invoke("refresh_worker", batch).payload

    return invoke


def _posts_per_refresh() -> tuple[int, int]:
    """New (mentions, own posts) an hourly refresh finds, rounded up."""
    from chalicelib.config import REFRESH_RATE_MINUTES

    per_hour = 60 / REFRESH_RATE_MINUTES
    return (
        math.ceil(MENTIONS_PER_DAY / 24 / per_hour),
        math.ceil(OWN_POSTS_PER_DAY / 24 / per_hour),
    )


@dataclass(frozen=True)
class Row:
    service: str
    usage: str
    cost: float
    owned: float | None = None  # the cost were every account an owned read (None: the same)

    @property
    def owned_cost(self) -> float:
        return self.cost if self.owned is None else self.owned


def _memory_gb(function: str) -> float:
    config = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
    size = config.get("lambda_functions", {}).get(function, {}).get("lambda_memory_size", 128)
    return float(size) / 1024


def _versions_kept(refreshes_per_day: float) -> float:
    """Noncurrent versions of each object the bucket's lifecycle rule keeps (infra/)."""
    from local.resources import load_template

    rules = load_template()["Resources"]["ArchiveBucket"]["Properties"]["LifecycleConfiguration"]
    [rule] = [r for r in rules["Rules"] if "NoncurrentVersionExpiration" in r]
    return float(rule["NoncurrentVersionExpiration"]["NoncurrentDays"] * refreshes_per_day)


def month(
    ops: dict[str, Operation], max_age_seconds: int, fleet: Fleet | None = None
) -> tuple[list[Row], dict[str, float]]:
    """A month of the fleet (ACCOUNTS accounts, all viewing and refreshed, by default), from
    the operations measured once."""
    from chalicelib.config import REFRESH_RATE_MINUTES

    fleet = fleet or Fleet()
    rounds = DAYS * 24 * 60 / REFRESH_RATE_MINUTES
    # A view finds the report older than the max age for the part of each round past it.
    stale_share = max(0.0, 1 - max_age_seconds / 60 / REFRESH_RATE_MINUTES)
    per_account = fleet.refreshed / ROUND_ACCOUNTS
    schedule = ops["schedule"].scaled(rounds)  # one invocation a round, one Query page...
    for name, value in ops["schedule"].scaled(rounds * per_account).items():
        if name.startswith("aws.SQS."):
            schedule[name] = value  # ...and one SendMessageBatch per ten accounts
    total: dict[str, float] = defaultdict(float)
    for part in (
        ops["sign_in"].scaled(fleet.viewing * SIGN_INS),
        ops["view_hit"].scaled(fleet.viewing * VIEWS * (1 - stale_share)),
        ops["view_refresh"].scaled(fleet.viewing * VIEWS * stale_share),
        ops["view_note"].scaled(fleet.viewing * min(VIEWS, DAYS)),  # once a day at most
        schedule,
        ops["worker"].scaled(rounds * per_account),
    ):
        for name, value in part.items():
            total[name] += value
    # X bills a post once however it is read (by a view past the max age or by the round):
    # the month's new posts times what the round read per new post (1.0: only the new).
    worker = ops["worker"]
    posts_per_new_post = worker.x_posts / worker.new_posts
    posts_a_day = MENTIONS_PER_DAY + OWN_POSTS_PER_DAY
    total["x_posts"] = fleet.refreshed * posts_a_day * DAYS * posts_per_new_post
    # Users are read by whatever makes a report showing someone new (a view past the max
    # age, the round): the lookups each operation made, as measured, summed above.

    def calls(service: str, names: tuple[str, ...] | None = None) -> float:
        return sum(
            value
            for key, value in total.items()
            if key.startswith(f"aws.{service}.") and (names is None or key.split(".")[-1] in names)
        )

    api_requests = total["invocations.api"]
    invocations = sum(v for k, v in total.items() if k.startswith("invocations."))
    gb_seconds = (
        api_requests * API_MS / 1000 * _memory_gb("api_handler")
        + total["invocations.schedule"] * SCHEDULE_MS / 1000 * _memory_gb("schedule_refresh")
        + rounds * fleet.refreshed * WORKER_MS_PER_ACCOUNT / 1000 * _memory_gb("refresh_worker")
    )
    # Upper bounds: a read of an item under 4 KB is one unit (half, eventually consistent),
    # a write under 1 KB one unit for the item and one for an index it changes.
    read_units = calls("DynamoDB", READS)
    write_units = 2 * calls("DynamoDB", WRITES)
    s3_gets, s3_puts = calls("S3", ("GetObject",)), calls("S3", ("PutObject",))
    # After a year: the archive holds a year of posts (an idle account's, the posts until
    # it went idle), the report is the same size, and each keeps the noncurrent versions
    # the lifecycle rule leaves (an idle account's, none: nothing rewrites them).
    versions = 1 + _versions_kept(rounds / DAYS)
    current_bytes = posts_a_day * 365 * worker.archive_bytes_per_post + worker.report_bytes
    frozen_bytes = posts_a_day * fleet.frozen_days * worker.archive_bytes_per_post
    s3_gb = (
        fleet.refreshed * current_bytes * versions
        + fleet.frozen * (frozen_bytes + worker.report_bytes)
    ) / 1e9
    sqs_requests = calls("SQS") + IDLE_SQS_RECEIVES
    log_gb = total["printed_bytes"] / 1e9
    rows = [
        Row("Lambda", f"{invocations:,.0f} invocations, {gb_seconds:,.0f} GB-s",
            invocations * LAMBDA_PER_REQUEST + gb_seconds * LAMBDA_PER_GB_SECOND),
        Row("API Gateway", f"{api_requests:,.0f} requests", api_requests * API_GATEWAY_PER_REQUEST),
        Row("DynamoDB", f"{read_units:,.0f} read, {write_units:,.0f} write units (at most)",
            read_units * DYNAMODB_PER_READ_UNIT + write_units * DYNAMODB_PER_WRITE_UNIT),
        Row("S3 requests", f"{s3_gets:,.0f} GET, {s3_puts:,.0f} PUT",
            s3_gets * S3_PER_GET + s3_puts * S3_PER_PUT),
        Row("S3 storage", f"{s3_gb:,.1f} GB after a year, {versions:,.0f} versions an object",
            s3_gb * S3_PER_GB_MONTH),
        Row("SQS", f"{sqs_requests:,.0f} requests", sqs_requests * SQS_PER_REQUEST),
        Row("CloudWatch Logs", f"{log_gb:,.2f} GB of JSON logs and EMF", log_gb * LOGS_PER_GB),
        Row("X posts read", f"{total['x_posts']:,.0f} posts", total["x_posts"] * X_PER_POST,
            owned=total["x_posts"] * X_PER_OWNED_READ),
        Row("X users read", f"{total['x_users']:,.0f} authors shown for the first time",
            total["x_users"] * X_PER_USER),
    ]  # fmt: skip
    figures = {
        "stale_share": stale_share,
        "rounds": rounds,
        "posts_read_per_new_post": posts_per_new_post,
        "x_posts_per_account": total["x_posts"] / ACCOUNTS,
        # The fleet at which the month's post reads reach X's app-wide cap.
        "x_cap_accounts": math.floor(X_MONTHLY_POST_CAP / (total["x_posts"] / ACCOUNTS)),
        "archive_bytes_per_post": worker.archive_bytes_per_post,
        "refreshes": rounds * fleet.refreshed,
        "x_posts": total["x_posts"],
        "x_users": total["x_users"],
        "x_users_usd": total["x_users"] * X_PER_USER,
        "s3_gb": s3_gb,
    }
    return rows, figures


@dataclass(frozen=True)
class Scenario:
    """One line of the retention table."""

    name: str
    refreshes: float
    x_posts: float
    x_usd: float
    aws_usd: float
    s3_gb: float

    @property
    def total_usd(self) -> float:
        return self.x_usd + self.aws_usd


def _scenario(name: str, rows: list[Row], figures: dict[str, float]) -> Scenario:
    x_usd = sum(row.cost for row in rows if row.service.startswith("X "))
    aws_usd = sum(row.cost for row in rows) - x_usd
    return Scenario(
        name, figures["refreshes"], figures["x_posts"], x_usd, aws_usd, figures["s3_gb"]
    )


def retention(ops: dict[str, Operation], max_age_seconds: int) -> list[Scenario]:
    """Half the fleet stops visiting after its first month: a month once it is idle, without
    retention and with it, and what retention saves."""
    from chalicelib.config import Settings

    idle_days = Settings.refresh_idle_days  # the default
    idle = round(ACCOUNTS * IDLE_SHARE)
    viewing = ACCOUNTS - idle
    kept = _scenario(
        "without retention: every account refreshed",
        *month(ops, max_age_seconds, Fleet(viewing=viewing, refreshed=ACCOUNTS)),
    )
    # Idle accounts were refreshed for their first month and REFRESH_IDLE_DAYS more.
    out = Fleet(viewing=viewing, refreshed=viewing, frozen=idle, frozen_days=DAYS + idle_days)
    cut = _scenario(
        f"with retention: {idle:,} idle accounts out of the refresh index",
        *month(ops, max_age_seconds, out),
    )
    saved = Scenario(
        "**saved by retention**",
        kept.refreshes - cut.refreshes,
        kept.x_posts - cut.x_posts,
        kept.x_usd - cut.x_usd,
        kept.aws_usd - cut.aws_usd,
        kept.s3_gb - cut.s3_gb,
    )
    return [kept, cut, saved]


def retention_table(scenarios: list[Scenario]) -> str:
    lines = [
        f"| {ACCOUNTS:,} accounts, half idle after a month: a month once idle | refreshes "
        "| X posts read | X USD | AWS USD | S3 after a year | total USD |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {s.name} | {s.refreshes:,.0f} | {s.x_posts:,.0f} | {s.x_usd:,.2f} "
            f"| {s.aws_usd:,.2f} | {s.s3_gb:,.1f} GB | {s.total_usd:,.2f} |"
            for s in scenarios
        ),
    ]
    return "\n".join(lines)


# Warm containers (assumed): API 2, each holding 3 secrets; workers 5, each 2. Each rereads
# its secrets every SECRETS_MAX_AGE_SECONDS (300).
SECRET_READS = (2 * 3 + 5 * 2) * (DAYS * 24 * 3600 / 300)
# Metrics: 4 sign-in outcomes, ReportsServed by 4 cache states, XPostsRead, XRateLimited,
# 2 refresh outcomes, XCostUSD, 2 compliance outcomes, ColdStart for each of the 6 functions.
METRICS = 4 + 4 + 2 + 2 + 1 + 2 + 6
FIXED = [
    Row("Secrets Manager", f"3 secrets, {SECRET_READS:,.0f} reads (warm containers)",
        3 * SECRET_PER_MONTH + SECRET_READS * SECRETS_PER_CALL),
    Row("CloudWatch metrics", f"{METRICS} custom metrics (EMF)", METRICS * METRIC_PER_MONTH),
]  # fmt: skip


def table(rows: list[Row], figures: dict[str, Any]) -> str:
    total = sum(row.cost for row in rows)
    owned = sum(row.owned_cost for row in rows)
    lines = [
        f"| per {ACCOUNTS:,} accounts a month | usage | USD | USD, owned reads |",
        "|---|---|---:|---:|",
        *(
            f"| {row.service} | {row.usage} | {row.cost:,.2f} | {row.owned_cost:,.2f} |"
            for row in rows
        ),
        f"| **total** | | **{total:,.2f}** | **{owned:,.2f}** |",
        "",
        "| per deployment a month | usage | USD |",
        "|---|---|---:|",
        *(f"| {row.service} | {row.usage} | {row.cost:,.2f} |" for row in FIXED),
        "",
        "| X's monthly cap, per app | post reads an account a month | binds at |",
        "|---|---:|---:|",
        f"| {X_MONTHLY_POST_CAP:,} post reads | {figures['x_posts_per_account']:,.0f} "
        f"| {figures['x_cap_accounts']:,} accounts |",
    ]
    return "\n".join(lines)


def main(quiet: bool = False) -> dict[str, Any]:
    ops, max_age = measure()
    rows, figures = month(ops, max_age)
    text = table(rows, figures)
    scenarios = retention(ops, max_age)
    retained = retention_table(scenarios)
    if not quiet:
        print(text)
        print()
        print(retained)
    saved = scenarios[-1]
    return {
        "table": text,
        "retention_table": retained,
        "retention_saved": {
            "refreshes": saved.refreshes,
            "x_posts": saved.x_posts,
            "x_usd": round(saved.x_usd, 2),
            "aws_usd": round(saved.aws_usd, 2),
            "s3_gb": round(saved.s3_gb, 1),
        },
        "total_usd": round(sum(row.cost for row in rows), 2),
        "total_owned_usd": round(sum(row.owned_cost for row in rows), 2),
        "x_share": round(
            sum(r.cost for r in rows if r.service.startswith("X")) / sum(r.cost for r in rows), 3
        ),
        **{k: round(v, 3) for k, v in figures.items()},
        "per_operation": {
            name: {
                "aws": dict(op.aws),
                "x_requests": op.x_requests,
                "x_posts": op.x_posts,
                "x_users": op.x_users,
            }
            for name, op in ops.items()
        },
    }


def rows(figures: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        ("per 1,000 accounts a month (USD)", f"{figures['total_usd']:,.2f}", ""),
        ("share of it paid to X", f"{figures['x_share']:.1%}", ""),
        ("... were every account an owned read", f"{figures['total_owned_usd']:,.2f}", ""),
        ("X posts read per account a month", f"{figures['x_posts_per_account']:,.0f}", ""),
        (
            "X users read per 1,000 accounts a month (USD)",
            f"{figures['x_users']:,.0f} ({figures['x_users_usd']:,.2f})",
            "",
        ),
        (
            f"accounts at which X's monthly cap ({X_MONTHLY_POST_CAP:,} posts) binds",
            f"{figures['x_cap_accounts']:,}",
            "",
        ),
        (
            "saved by retention, half the accounts idle (USD a month)",
            f"{figures['retention_saved']['x_usd'] + figures['retention_saved']['aws_usd']:,.2f}",
            "",
        ),
    ]


if __name__ == "__main__":
    main()
