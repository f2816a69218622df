"""The schedule and the refresh workers, through Chalice's test client, moto's SQS, S3 and
DynamoDB, and the X emulator: what an operator sees in the queue, the table, the bucket,
and in the count of requests X received."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.browser import Browser
from tests.support.aws_calls import AwsCallCounter

MENTIONS = "GET /2/users/:id/mentions"
TWEETS = "GET /2/users/:id/tweets"


# --- Fixtures ---------------------------------------------------------------------------


@pytest.fixture
def visibility_changes(app_env: Any) -> Iterator[list[int]]:
    """The VisibilityTimeout of every ChangeMessageVisibility the app sends."""
    from chalicelib import services

    seen: list[int] = []

    def remember(params: dict[str, Any], **_: Any) -> None:
        seen.append(int(params["VisibilityTimeout"]))

    events = services.sqs().meta.events
    events.register("provide-client-params.sqs.ChangeMessageVisibility", remember)
    yield seen
    events.unregister("provide-client-params.sqs.ChangeMessageVisibility", remember)


def run_round(client: Any) -> dict[str, Any]:
    event = client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
    )
    payload: dict[str, Any] = client.lambda_.invoke("schedule_refresh", event).payload
    return payload


class Workers:
    """Lambda's SQS event source over moto's queue, invoking the worker through Chalice's
    test client; `answers` keeps each (event, answer) pair."""

    def __init__(
        self, client: Any, queue_url: str, function: str = "refresh_worker", batch_size: int = 10
    ) -> None:
        import boto3

        from local.stack import SqsEventSource

        self._client = client
        self._function = function
        self.answers: list[tuple[dict[str, Any], dict[str, Any]]] = []
        self.source = SqsEventSource(boto3.client("sqs"), queue_url, self._invoke, batch_size)

    def _invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = self._client.lambda_.invoke(self._function, event).payload
        self.answers.append((event, answer))
        return answer

    def drain(self) -> Any:
        return self.source.drain()


@pytest.fixture
def event_source(client: Any, aws: dict[str, str]) -> Workers:
    return Workers(client, aws["REFRESH_QUEUE_URL"])


@pytest.fixture
def small_budget(app_env: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A token's mention budget of two requests a window (listed before fixtures that hold
    clients); the buckets of every account's token."""
    from chalicelib import services

    monkeypatch.setenv("X_USER_BUDGET_MENTIONS", "2")
    services.reset()
    return services.x_budget()


def queue_depth(aws: dict[str, str]) -> tuple[int, int]:
    """(visible, in flight) messages of the refresh queue."""
    import boto3

    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=aws["REFRESH_QUEUE_URL"],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


def reports_in_s3(aws: dict[str, str]) -> set[str]:
    import boto3

    listing = boto3.client("s3").list_objects_v2(Bucket=aws["BUCKET_NAME"], Prefix="accounts/")
    return {
        obj["Key"].split("/")[1]
        for obj in listing.get("Contents", [])
        if obj["Key"].endswith("/report.json")
    }


def account_item(aws: dict[str, str], account_id: str) -> dict[str, Any]:
    import boto3

    item: dict[str, Any] = boto3.client("dynamodb").get_item(
        TableName=aws["TABLE_NAME"], Key={"pk": {"S": f"account#{account_id}"}}
    )["Item"]
    return item


def sessions_of(aws: dict[str, str], account_id: str) -> int:
    import boto3

    items = boto3.client("dynamodb").scan(TableName=aws["TABLE_NAME"])["Items"]  # test-only
    return sum(
        1
        for item in items
        if item.get("kind", {}).get("S") == "session"
        and item.get("account_id", {}).get("S") == account_id
    )


# --- Fan-out ----------------------------------------------------------------------------


def test_25_accounts_go_out_in_3_batches_and_come_back_as_25_reports(
    client: Any,
    app_env: Any,
    aws: dict[str, str],
    people: Callable[..., list[str]],
    event_source: Workers,
    sqs_calls: AwsCallCounter,
    dynamodb_calls: AwsCallCounter,
) -> None:
    ids = people(25)
    app_env.reset_counters()
    dynamodb_calls.reset()

    summary = run_round(client)

    assert summary["seen"] == 25 and summary["queued"] == 25 and summary["skipped"] == 0
    assert sqs_calls.calls["SendMessageBatch"] == 3
    assert dict(dynamodb_calls.calls) == {"Query": 1}  # the due index; never a Scan
    assert queue_depth(aws) == (25, 0)

    delivered = event_source.drain()

    assert delivered.batches == 3 and delivered.messages == 25 and delivered.kept == 0
    assert all(answer == {"batchItemFailures": []} for _, answer in event_source.answers)
    assert reports_in_s3(aws) == set(ids)
    assert app_env.calls[MENTIONS] == 25 and app_env.calls[TWEETS] == 25
    assert queue_depth(aws) == (0, 0)
    assert all(int(account_item(aws, i)["report_refreshed_at"]["N"]) > 0 for i in ids)

    sqs_calls.reset()
    again = run_round(client)  # every report is fresh now

    assert again["seen"] == 0 and again["queued"] == 0
    assert sqs_calls.calls["SendMessageBatch"] == 0


def test_a_refreshed_report_reads_only_what_is_new(
    client: Any,
    app_env: Any,
    aws: dict[str, str],
    people: Callable[..., list[str]],
    event_source: Workers,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from chalicelib import services

    (account_id,) = people(1)
    run_round(client)
    event_source.drain()
    monkeypatch.setenv("REPORT_MAX_AGE_SECONDS", "0")
    services.reset()
    fan = app_env.account_id("brand0_fan")
    app_env.add_post(fan, "@brand0 new", datetime.now(UTC), mentions=[account_id])
    app_env.reset_counters()

    assert run_round(client)["queued"] == 1
    event_source.drain()

    assert app_env.timeline_reads() == 2  # one page per timeline
    # the new mention, and the newest archived one again: mentions are read from its
    # created_at minus X_OVERLAP_SECONDS (no other falls in those 15 minutes)
    assert app_env.posts_served[MENTIONS] == 2
    browser = Browser(client)
    browser.sign_in("brand0")
    monkeypatch.setenv("REPORT_MAX_AGE_SECONDS", "900")
    services.reset()
    assert browser.get("/report.json").json_body["mentions"] == 4


def test_a_page_view_makes_the_account_not_due(
    client: Any, app_env: Any, people: Callable[..., list[str]]
) -> None:
    people(1)
    browser = Browser(client)
    browser.sign_in("brand0")
    assert browser.get("/report.json").status_code == 200

    assert run_round(client)["seen"] == 0


def test_a_round_queues_every_due_account_oldest_first(
    client: Any,
    app_env: Any,
    aws: dict[str, str],
    people: Callable[..., list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import json

    import boto3

    from chalicelib import services

    # one batch in flight at a time: with 8, the two batches reach SQS in either order
    # (handed over in the index's order either way; tests/unit/test_scheduler.py sends concurrently)
    monkeypatch.setenv("REFRESH_SEND_CONCURRENCY", "1")
    services.reset()
    ids = people(12)
    store = services.account_store()
    for age, account_id in enumerate(ids[:5]):  # refreshed once, days ago
        store.mark_refreshed(account_id, 1_700_000_000 + age)

    summary = run_round(client)

    assert summary["queued"] == 12 and summary["send_batches"] == 2
    sqs = boto3.client("sqs")
    queued: list[str] = []
    while len(queued) < 12:
        messages = sqs.receive_message(QueueUrl=aws["REFRESH_QUEUE_URL"], MaxNumberOfMessages=10)[
            "Messages"
        ]
        queued.extend(json.loads(m["Body"])["account_id"] for m in messages)
    # never refreshed first (the index's order: report_refreshed_at 0), then the oldest
    assert set(queued[:7]) == set(ids[5:])
    assert sorted(queued[7:]) == sorted(ids[:5])


# --- Partial failures -------------------------------------------------------------------


def test_one_account_failing_at_x_is_the_only_failure_of_its_batch(
    client: Any,
    app_env: Any,
    aws: dict[str, str],
    people: Callable[..., list[str]],
    event_source: Workers,
) -> None:
    import json

    ids = people(3)
    run_round(client)
    app_env.fail(MENTIONS, "503")  # the first account's first request

    delivered = event_source.drain()

    (event, answer) = event_source.answers[0]
    first = event["Records"][0]
    assert delivered.messages == 3 and delivered.kept == 1
    assert answer == {"batchItemFailures": [{"itemIdentifier": first["messageId"]}]}
    failing = json.loads(first["body"])["account_id"]
    assert reports_in_s3(aws) == set(ids) - {failing}
    assert queue_depth(aws) == (0, 1)  # back after the queue's visibility timeout


def test_an_empty_budget_hands_the_message_back_without_calling_x(
    small_budget: Any,
    client: Any,
    app_env: Any,
    aws: dict[str, str],
    people: Callable[..., list[str]],
    event_source: Workers,
    visibility_changes: list[int],
) -> None:
    import time

    from chalicelib import services
    from chalicelib.budget import BudgetExhausted

    (account_id,) = people(1)
    bucket = small_budget.for_account(account_id)
    bucket.take("mentions")
    bucket.take("mentions")
    with pytest.raises(BudgetExhausted) as refused:
        bucket.take("mentions")
    reset_in = refused.value.reset_at - time.time()  # type: ignore[operator]
    run_round(client)
    app_env.reset_counters()

    delivered = event_source.drain()

    assert delivered.kept == 1
    assert app_env.timeline_reads() == 0
    (delay,) = visibility_changes
    window = services.settings().x_budget_window_seconds
    assert reset_in - 2 <= delay <= reset_in + window + 2
    assert queue_depth(aws) == (0, 1)  # kept, invisible until then
    assert reports_in_s3(aws) == set()


def test_x_429_hands_the_message_back_until_x_resets(
    client: Any,
    app_env: Any,
    aws: dict[str, str],
    people: Callable[..., list[str]],
    event_source: Workers,
    visibility_changes: list[int],
) -> None:
    from chalicelib import services

    people(1)
    run_round(client)
    app_env.fail(MENTIONS, "429")
    app_env.reset_counters()

    delivered = event_source.drain()

    assert delivered.kept == 1
    assert app_env.calls[MENTIONS] == 1 and app_env.calls[TWEETS] == 0
    (delay,) = visibility_changes
    window = services.settings().x_budget_window_seconds
    assert window - 5 <= delay <= 2 * window + 5  # the emulator resets a window from now
    assert queue_depth(aws) == (0, 1)


def bucket_taken(aws: dict[str, str], endpoint: str, account_id: str) -> int:
    """What the account token's bucket for `endpoint` counts as taken in its window."""
    import boto3

    item = boto3.client("dynamodb").get_item(
        TableName=aws["TABLE_NAME"], Key={"pk": {"S": f"budget#{endpoint}#{account_id}"}}
    )["Item"]
    return int(item["taken"]["N"])


def test_one_accounts_429_hands_back_only_its_message_and_closes_only_its_bucket(
    client: Any,
    app_env: Any,
    aws: dict[str, str],
    people: Callable[..., list[str]],
    event_source: Workers,
    visibility_changes: list[int],
) -> None:
    import json

    # GIVEN three accounts queued; X answers the first mention read 429
    ids = people(3)
    run_round(client)
    app_env.fail(MENTIONS, "429")

    # WHEN the workers run
    delivered = event_source.drain()

    # THEN only that account waits, until X's reset; the two others have their reports
    (event, answer) = event_source.answers[0]
    (failure,) = answer["batchItemFailures"]
    limited = next(
        json.loads(r["body"])["account_id"]
        for r in event["Records"]
        if r["messageId"] == failure["itemIdentifier"]
    )
    assert delivered.messages == 3 and delivered.kept == 1 and len(visibility_changes) == 1
    assert reports_in_s3(aws) == set(ids) - {limited}
    # AND the 429 closed that token's bucket (X said nothing is left), no other one
    assert bucket_taken(aws, "mentions", limited) == 300
    assert {bucket_taken(aws, "mentions", i) for i in set(ids) - {limited}} == {1}


def test_a_token_used_elsewhere_too_is_never_read_past_what_x_says_is_left(
    client: Any,
    app_env: Any,
    aws: dict[str, str],
    people: Callable[..., list[str]],
    event_source: Workers,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import requests
    from requests_oauthlib import OAuth1

    from chalicelib import services
    from tests.conftest import CONSUMER_KEY, CONSUMER_SECRET

    # GIVEN X allows 3 mention reads a window per token, and the person's own script has
    # spent 2 with the same token
    (account_id,) = people(1)
    app_env.set_rate_limit(MENTIONS, per_user=3)
    tokens = services.account_store().account_tokens(account_id)
    assert tokens is not None
    auth = OAuth1(CONSUMER_KEY, CONSUMER_SECRET, tokens.access_token, tokens.access_token_secret)
    for _ in range(2):
        url = f"{app_env.base_url}/2/users/{account_id}/mentions"
        assert requests.get(url, auth=auth, timeout=5).ok
    statuses: list[int] = []
    app_env.response_hook = lambda template, status, *_: statuses.append(status)

    # WHEN the schedule refreshes the account, and again (every report due)
    run_round(client)
    event_source.drain()
    monkeypatch.setenv("REPORT_MAX_AGE_SECONDS", "0")
    services.reset()
    run_round(client)
    delivered = event_source.drain()
    app_env.response_hook = None

    # THEN the first read took X's last one, the bucket learned it, and the second round's
    # refresh was handed back without asking X: no 429 at all
    assert 429 not in statuses
    assert app_env.calls[MENTIONS] == 2 + 1
    assert delivered.kept == 1
    assert bucket_taken(aws, "mentions", account_id) == 300


def test_a_duplicate_message_costs_no_x_request(
    client: Any,
    app_env: Any,
    aws: dict[str, str],
    people: Callable[..., list[str]],
    event_source: Workers,
) -> None:
    people(1)
    assert run_round(client)["queued"] == 1
    assert run_round(client)["queued"] == 1  # not refreshed yet: queued again
    app_env.reset_counters()

    delivered = event_source.drain()

    assert delivered.messages == 2 and delivered.kept == 0
    assert app_env.calls[MENTIONS] == 1 and app_env.calls[TWEETS] == 1
    assert queue_depth(aws) == (0, 0)


# --- Rejected tokens --------------------------------------------------------------------


def test_a_rejected_token_is_marked_signed_out_and_skipped_until_sign_in(
    client: Any,
    app_env: Any,
    aws: dict[str, str],
    people: Callable[..., list[str]],
    event_source: Workers,
    sqs_calls: AwsCallCounter,
) -> None:
    account_id, other_id = people(2)
    phone, laptop = Browser(client), Browser(client)
    phone.sign_in("brand0")
    laptop.sign_in("brand0")
    assert sessions_of(aws, account_id) == 3  # people() signed in once too
    app_env.revoke("brand0")
    run_round(client)

    delivered = event_source.drain()

    assert delivered.kept == 0  # nothing to retry
    assert "token_rejected_at" in account_item(aws, account_id)
    assert sessions_of(aws, account_id) == 0
    assert sessions_of(aws, other_id) == 1
    assert phone.get("/report").status_code == 302
    assert reports_in_s3(aws) == {other_id}
    sqs_calls.reset()

    next_round = run_round(client)

    assert (next_round["seen"], next_round["skipped"], next_round["queued"]) == (1, 1, 0)
    assert sqs_calls.calls["SendMessageBatch"] == 0

    phone.sign_in("brand0")  # a new token clears the mark

    assert "token_rejected_at" not in account_item(aws, account_id)
    assert run_round(client)["queued"] == 1
    event_source.drain()
    assert reports_in_s3(aws) == {account_id, other_id}


# --- The local stack ---------------------------------------------------------------------


def test_the_local_stack_refreshes_before_anyone_opens_the_report(
    client: Any, app_env: Any, aws: dict[str, str], people: Callable[..., list[str]]
) -> None:
    import time

    import boto3

    from app import app
    from local.stack import LocalRefreshLoop

    (account_id,) = people(1)
    loop = LocalRefreshLoop(
        app, boto3.client("sqs"), aws["REFRESH_QUEUE_URL"], interval_seconds=0.2, poll_seconds=0.1
    )
    loop.start()
    try:
        deadline = time.monotonic() + 10
        while account_id not in reports_in_s3(aws) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        loop.stop()

    assert reports_in_s3(aws) == {account_id}
    app_env.reset_counters()
    browser = Browser(client)
    browser.sign_in("brand0")
    assert browser.get("/report.json").json_body["source"]["x_requests"] == 0
    assert app_env.timeline_reads() == 0


# --- The packaged template --------------------------------------------------------------


def test_the_merge_template_wires_the_functions_chalice_packages() -> None:
    """`chalice package` names a function's resource after its handler; infra/resources.json
    must use the same names, or its settings would land on resources that do not exist."""
    from chalice.utils import to_cfn_resource_name

    from app import app
    from local.resources import load_template

    resources = load_template()["Resources"]
    worker = resources[to_cfn_resource_name("refresh_worker")]["Properties"]
    schedule = resources[to_cfn_resource_name("schedule_refresh")]["Properties"]

    assert {"refresh_worker", "schedule_refresh"} <= set(app.handler_map)
    source = worker["Events"]["RefreshWorkerSqsEventSource"]["Properties"]
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert source["Queue"] == {"Fn::Sub": "${RefreshQueue.Arn}"}
    assert schedule["Environment"]["Variables"]["REFRESH_QUEUE_URL"] == {"Ref": "RefreshQueue"}
    redrive = resources["RefreshQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["maxReceiveCount"] == 5
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["RefreshDeadLetterQueue", "Arn"]}
