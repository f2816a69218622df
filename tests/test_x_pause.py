"""The fleet's pause of X reads, through the real parts (Chalice's test client, moto, the
X emulator): X's 402 pauses every account's reads at once (pages show the last report,
stale, saying why; nothing more is asked of X), a probe X answers lifts it, and the
month's cap of posts read pauses the fleet until the month turns."""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest

from tests.browser import Browser

MENTIONS = "GET /2/users/:id/mentions"


def pause_item(aws: dict[str, str]) -> dict[str, Any]:
    item: dict[str, Any] = (
        boto3.client("dynamodb")
        .get_item(TableName=aws["TABLE_NAME"], Key={"pk": {"S": "x-pause"}})
        .get("Item", {})
    )
    return item


@pytest.fixture
def two_brands(client: Any, app_env: Any, people: Any, configure: Any) -> list[Browser]:
    """brand0 and brand1, each with a report stored; every view refreshes from X."""
    people(2)
    browsers = []
    for n in range(2):
        browser = Browser(client)
        browser.sign_in(f"brand{n}")
        assert browser.get("/report.json").status_code == 200
        browsers.append(browser)
    configure(REPORT_MAX_AGE_SECONDS=0)
    return browsers


def test_xs_402_pauses_every_accounts_reads_and_the_page_says_why(
    app_env: Any, aws: dict[str, str], two_brands: list[Browser]
) -> None:
    first, second = two_brands
    app_env.fail(MENTIONS, "402")  # the operator's credits are spent

    # WHEN brand0's refresh draws X's 402
    page = first.get("/report").body.decode()

    # THEN her last report is shown, stale, saying why; the flag is set
    assert "X reads are paused by the operator's plan, so this report shows" in page
    assert first.get("/report.json").json_body["source"]["x_paused"] is True
    assert pause_item(aws)["reason"] == {"S": "payment_required"}
    # AND brand1's view asks X nothing at all, and says the same
    app_env.reset_counters()
    body = second.get("/report.json").json_body
    assert app_env.timeline_reads() == 0
    assert body["source"]["stale"] is True and body["source"]["x_paused"] is True
    assert body["mentions"] == 3  # her last report, as it was


def test_a_probe_x_answers_lifts_the_pause(
    app_env: Any, aws: dict[str, str], configure: Any, two_brands: list[Browser]
) -> None:
    first, second = two_brands
    configure(REPORT_MAX_AGE_SECONDS=0, X_PAUSE_PROBE_SECONDS=0)  # probe at once
    app_env.fail(MENTIONS, "402")
    assert first.get("/report.json").json_body["source"]["x_paused"] is True

    # WHEN the next read (the probe) finds X answering again (credits bought)
    body = second.get("/report.json").json_body

    # THEN it read X, and the pause is gone for everyone
    assert body["source"]["x_paused"] is False and body["source"]["x_requests"] == 2
    assert "reason" not in pause_item(aws)
    app_env.reset_counters()
    assert first.get("/report.json").json_body["source"]["stale"] is False
    assert app_env.timeline_reads() == 2


def test_the_months_cap_pauses_the_fleet_until_the_month_turns(
    client: Any, app_env: Any, aws: dict[str, str], configure: Any, people: Any
) -> None:
    from chalicelib.x_bill import month_of

    # GIVEN a cap of 5 posts a month; brand0's first report reads 4 (3 mentions, 1 reply)
    configure(X_MONTHLY_POST_CAP=5, REPORT_MAX_AGE_SECONDS=0)
    people(2)
    first = Browser(client)
    first.sign_in("brand0")
    assert first.get("/report.json").json_body["source"]["x_posts_read"] == 4
    assert "reason" not in pause_item(aws)
    # WHEN brand1's first report reads 4 more: 8, past the cap
    second = Browser(client)
    second.sign_in("brand1")
    assert second.get("/report.json").status_code == 200

    # THEN the fleet is paused until the month turns, and brand0's refresh asks X nothing
    item = pause_item(aws)
    assert item["reason"] == {"S": "monthly_cap"} and item["month"]["S"]
    month = month_of(time.time())
    count = boto3.client("dynamodb").get_item(
        TableName=aws["TABLE_NAME"], Key={"pk": {"S": f"x-posts#{month}"}}
    )["Item"]
    assert count["posts"] == {"N": "8"}
    app_env.reset_counters()
    body = first.get("/report.json").json_body
    assert app_env.timeline_reads() == 0 and body["source"]["x_paused"] is True
    # AND the pause names the month's end as when reads come back
    assert int(item["probe_at"]["N"]) > time.time()
