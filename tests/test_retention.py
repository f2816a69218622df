"""Retention, through the real parts: Chalice's test client running the daily
`sweep_archive`, the schedule and the API, moto (the table with its `last-viewed` index, the
versioned bucket) and the X emulator. An account nobody viewed for 30 days leaves the
refresh index (no round queues it) and its next view puts it back and tops it up from X;
one nobody viewed for 400 days is forgotten as POST /forget does, its token revoked at X and
every version of its folder gone; an account viewed yesterday is left as it was. No Scan
is ever made. The clock: each account's last view is written in as a clock that many days
back would have noted it; the app runs on today's."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from tests.browser import LEAKABLE, Browser
from tests.support.aws_calls import AwsCallCounter, counting_aws_calls
from tests.test_forget_race import versions
from tests.test_refresh import account_item, run_round

DAY = 24 * 3600
MENTIONS = "GET /2/users/:id/mentions"
REVOKE = "POST /1.1/oauth/invalidate_token"


def run_sweep(client: Any) -> dict[str, Any]:
    """The daily sweep, as EventBridge starts it; its summary."""
    event = client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
    )
    payload: dict[str, Any] = client.lambda_.invoke("sweep_archive", event).payload
    return payload


def update_account(aws: dict[str, str], account_id: str, expression: str, **values: int) -> None:
    """A test-only write to the account item (numbers only)."""
    boto3.client("dynamodb").update_item(
        TableName=aws["TABLE_NAME"],
        Key={"pk": {"S": f"account#{account_id}"}},
        UpdateExpression=expression,
        **(
            {"ExpressionAttributeValues": {f":{k}": {"N": str(v)} for k, v in values.items()}}
            if values
            else {}
        ),
    )


def viewed_days_ago(aws: dict[str, str], account_id: str, days: float) -> int:
    """The account's last view, as a clock `days` back noted it; returns that epoch second."""
    then = int(time.time() - days * DAY)
    update_account(aws, account_id, "SET viewed_at = :then", then=then)
    return then


def queued_accounts(aws: dict[str, str]) -> list[str]:
    """The accounts of the messages waiting in the refresh queue (taken out of it)."""
    sqs = boto3.client("sqs")
    taken: list[str] = []
    while messages := sqs.receive_message(
        QueueUrl=aws["REFRESH_QUEUE_URL"], MaxNumberOfMessages=10
    ).get("Messages", []):
        for message in messages:
            taken.append(json.loads(message["Body"])["account_id"])
            sqs.delete_message(
                QueueUrl=aws["REFRESH_QUEUE_URL"], ReceiptHandle=message["ReceiptHandle"]
            )
    return sorted(taken)


def scans(calls: Any) -> list[str]:
    return [name for name in calls if name.endswith(".Scan")]


def with_report(client: Any, username: str) -> Browser:
    """The account signed in in a browser of its own, its report made and stored."""
    browser = Browser(client)
    browser.sign_in(username)
    assert browser.get("/report.json").status_code == 200
    return browser


def test_an_account_not_viewed_for_31_days_leaves_the_refresh_index_until_its_next_view(
    client: Any, app_env: Any, aws: dict[str, str], people: Callable[..., list[str]]
) -> None:
    from chalicelib import services

    # GIVEN two accounts with a report, both due for a refresh (their last one an hour
    #       ago, the max age 15 minutes); brand0 last viewed 31 days ago, brand1 yesterday
    idle_id, recent_id = people(2)
    idle, recent = with_report(client, "brand0"), with_report(client, "brand1")
    for account_id in (idle_id, recent_id):
        services.account_store().mark_refreshed(account_id, int(time.time()) - 3600)
    viewed_days_ago(aws, idle_id, 31)
    yesterday = viewed_days_ago(aws, recent_id, 1)
    recent_before = account_item(aws, recent_id)

    with counting_aws_calls() as calls:
        # WHEN the daily sweep runs, and then a refresh round
        swept = run_sweep(client)
        summary = run_round(client)

        # THEN brand0 left the refresh index: no refresh_group, listed as idle; the round
        #      read only brand1 and queued it alone; brand1's item is as it was
        assert swept["left_refresh"] == 1 and swept["forgotten_idle"] == 0
        item = account_item(aws, idle_id)
        assert "refresh_group" not in item and item["view_state"]["S"] == "idle"
        assert (summary["seen"], summary["queued"]) == (1, 1)
        assert queued_accounts(aws) == [recent_id]
        assert account_item(aws, recent_id) == recent_before
        assert int(recent_before["viewed_at"]["N"]) == yesterday

        # WHEN she opens her report again (its stored copy is minutes old)
        app_env.reset_counters()
        answer = idle.get("/report.json")

        # THEN it was topped up from X on the spot (the schedule had stopped refreshing it)
        #      and the account is back in the index, its view noted
        assert answer.status_code == 200
        assert answer.json_body["source"]["x_requests"] >= 1 and app_env.calls[MENTIONS] == 1
        item = account_item(aws, idle_id)
        assert item["refresh_group"]["S"] == "accounts" and item["view_state"]["S"] == "listed"
        assert time.time() - int(item["viewed_at"]["N"]) < 60

        # AND once due again, the round queues both
        for account_id in (idle_id, recent_id):
            services.account_store().mark_refreshed(account_id, int(time.time()) - 3600)
        assert run_round(client)["queued"] == 2
        assert queued_accounts(aws) == sorted([idle_id, recent_id])
        assert recent.get("/report.json").status_code == 200

    assert scans(calls) == []


def test_an_account_not_viewed_for_401_days_is_forgotten_with_every_s3_version(
    client: Any,
    app_env: Any,
    aws: dict[str, str],
    people: Callable[..., list[str]],
    configure: Callable[..., None],
) -> None:
    from chalicelib import services
    from chalicelib.errors import XRejected
    from tests.test_forget import table_kinds

    # GIVEN two accounts whose reports were rebuilt three times (old versions in the
    #       bucket); brand0 last viewed 401 days ago, brand1 yesterday
    gone_id, kept_id = people(2)
    configure(REPORT_MAX_AGE_SECONDS=0)
    for username in ("brand0", "brand1"):
        browser = with_report(client, username)
        for _ in range(2):
            assert browser.get("/report.json").status_code == 200
    configure(REPORT_MAX_AGE_SECONDS=900)
    assert len(versions(aws, gone_id)) >= 4 and len(versions(aws, kept_id)) >= 4
    tokens = services.account_store().account_tokens(gone_id)
    assert tokens is not None
    LEAKABLE.update({tokens.access_token, tokens.access_token_secret})
    viewed_days_ago(aws, gone_id, 401)
    viewed_days_ago(aws, kept_id, 1)
    kept_item, kept_versions = account_item(aws, kept_id), versions(aws, kept_id)
    app_env.reset_counters()

    # WHEN the daily sweep runs
    with counting_aws_calls() as calls:
        swept = run_sweep(client)

    # THEN brand0 is forgotten as POST /forget forgets: no object, old version or delete
    #      marker of its folder, no session, no item; its token revoked at X
    assert (swept["left_refresh"], swept["forgotten_idle"], swept["not_revoked"]) == (1, 1, 0)
    assert versions(aws, gone_id) == []
    assert "Item" not in boto3.client("dynamodb").get_item(
        TableName=aws["TABLE_NAME"], Key={"pk": {"S": f"account#{gone_id}"}}
    )
    assert app_env.calls[REVOKE] == 1
    with pytest.raises(XRejected):
        services.x_auth().me(tokens.access_token, tokens.access_token_secret)
    # AND brand1 is untouched: its item, its sessions and every version of its folder
    assert account_item(aws, kept_id) == kept_item
    assert versions(aws, kept_id) == kept_versions
    assert table_kinds(aws).count("account") == 1
    assert scans(calls) == []


def test_a_view_notes_itself_at_most_once_a_day(
    client: Any, app_env: Any, aws: dict[str, str], dynamodb_calls: AwsCallCounter
) -> None:
    # GIVEN a signed-in account with a fresh report (its views are served as stored)
    browser = with_report(client, "fastbrand")
    account_id = app_env.account_id("fastbrand")
    dynamodb_calls.reset()
    assert browser.get("/report.json").status_code == 200
    plain_view = dict(dynamodb_calls.calls)

    # WHEN she looks again, her last view noted 23 hours ago
    noted = viewed_days_ago(aws, account_id, 23 / 24)
    dynamodb_calls.reset()
    assert browser.get("/report.json").status_code == 200
    # THEN no write: the view costs what a plain view costs
    assert dict(dynamodb_calls.calls) == plain_view
    assert int(account_item(aws, account_id)["viewed_at"]["N"]) == noted

    # WHEN her last view was noted 25 hours ago
    viewed_days_ago(aws, account_id, 25 / 24)
    dynamodb_calls.reset()
    assert browser.get("/report.json").status_code == 200
    # THEN one UpdateItem more notes it now
    assert dict(dynamodb_calls.calls) == {
        **plain_view,
        "UpdateItem": plain_view.get("UpdateItem", 0) + 1,
    }
    assert time.time() - int(account_item(aws, account_id)["viewed_at"]["N"]) < 60

    # AND the next view writes nothing again
    dynamodb_calls.reset()
    assert browser.get("/report.json").status_code == 200
    assert dict(dynamodb_calls.calls) == plain_view


def test_an_account_from_before_viewed_at_counts_its_sign_in_as_its_last_view(
    client: Any, app_env: Any, aws: dict[str, str]
) -> None:
    # GIVEN an account item as sign-in wrote it before viewed_at existed, signed in 31 days
    #       ago, with a report in S3
    with_report(client, "fastbrand")
    account_id = app_env.account_id("fastbrand")
    signed_in_at = int(time.time()) - 31 * DAY
    update_account(
        aws, account_id, "SET signed_in_at = :at REMOVE viewed_at, view_state", at=signed_in_at
    )

    with counting_aws_calls() as calls:
        # WHEN the daily sweep runs
        first = run_sweep(client)
        # THEN its sign-in is written in as its last view (the sweep met its folder)
        item = account_item(aws, account_id)
        assert first["backfilled"] == 1 and first["left_refresh"] == 0
        assert int(item["viewed_at"]["N"]) == signed_in_at
        assert item["view_state"]["S"] == "listed"

        # WHEN the sweep runs the next day
        second = run_sweep(client)
        # THEN it leaves the refresh index, 31 days after that sign-in
        assert second["backfilled"] == 0 and second["left_refresh"] == 1
        assert "refresh_group" not in account_item(aws, account_id)

    assert scans(calls) == []


def test_the_sweep_function_is_given_what_the_retention_needs() -> None:
    """The deployed sweep revokes tokens at X (the X app's secret, the token keys), reads
    the `last-viewed` index, and takes its two settings from the stack's parameters, whose
    defaults are the app's."""
    from chalice.utils import to_cfn_resource_name

    from chalicelib.accounts import LAST_VIEWED_INDEX
    from chalicelib.config import Settings
    from local.resources import load_template

    template = load_template()
    resources = template["Resources"]
    variables = resources[to_cfn_resource_name("sweep_archive")]["Properties"]["Environment"][
        "Variables"
    ]
    assert variables["X_APP_SECRET_ID"] == {"Ref": "XAppSecret"}
    assert variables["TOKEN_KEYS_SECRET_ID"] == {"Ref": "TokenKeysSecret"}
    parameters = template["Parameters"]
    for variable, parameter, field in (
        ("REFRESH_IDLE_DAYS", "RefreshIdleDays", "refresh_idle_days"),
        ("ACCOUNT_RETENTION_DAYS", "AccountRetentionDays", "account_retention_days"),
    ):
        assert variables[variable] == {"Ref": parameter}
        assert parameters[parameter]["Default"] == Settings.__dataclass_fields__[field].default
    [index] = [
        index
        for index in resources["SessionsTable"]["Properties"]["GlobalSecondaryIndexes"]
        if index["IndexName"] == LAST_VIEWED_INDEX
    ]
    assert [key["AttributeName"] for key in index["KeySchema"]] == ["view_state", "viewed_at"]
    assert index["Projection"] == {"ProjectionType": "KEYS_ONLY"}
