"""History from day zero: the cost shown first (X's counts), the yes as a POST, the reading
in the background a page a message (X's full-archive search with the app's bearer token),
its progress on the report, and then the whole history. Through the real parts: the X
emulator, moto's queue and S3, the refresh worker under Chalice's test client.

The account here: 2,800 mentions by a fan, one an hour back from an hour ago, so X's
timeline (800 mentions) leaves 2,000 older ones; 40 replies of its own to the oldest of
them (its timeline holds them all: X's reach there is 3,200 posts).
"""

from __future__ import annotations

import html
import json
import math
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.browser import Browser
from tests.test_refresh import Workers, account_item

MENTIONS = 2_800
OLDER_MENTIONS = MENTIONS - 800
REPLIES = 40
SEARCH = "GET /2/tweets/search/all"
COUNTS = "GET /2/tweets/counts/all"


def long_history(emulator: Any, mentions: int = MENTIONS, replies: int = REPLIES) -> str:
    account_id = emulator.add_account("oldbrand")
    fan = emulator.add_account("oldfan")
    start = datetime.now(UTC) - timedelta(hours=1)
    posted = [
        emulator.add_post(fan, f"@oldbrand question {i}?", start - timedelta(hours=i))
        for i in range(mentions)
    ]
    for i in range(min(replies, mentions)):  # to the oldest mentions, ten minutes after each
        asked = mentions - 1 - i
        emulator.add_post(
            account_id,
            f"@oldfan answer {i}",
            start - timedelta(hours=asked) + timedelta(minutes=10),
            reply_to=posted[asked],
        )
    return "oldbrand"


def first_report(client: Any, emulator: Any, mentions: int = MENTIONS) -> Browser:
    """@oldbrand signed in, with her first report made (the 800 newest mentions)."""
    long_history(emulator, mentions)
    browser = Browser(client)
    browser.sign_in("oldbrand")
    assert browser.get("/report").status_code == 200
    emulator.reset_counters()
    return browser


@pytest.fixture
def signed_in(client: Any, app_env: Any) -> Browser:
    return first_report(client, app_env)


@pytest.fixture
def shorter(client: Any, app_env: Any) -> Browser:
    """The same with 1,800 mentions: 1,000 older ones, two pages of search."""
    return first_report(client, app_env, 1_800)


def archive_of(aws: dict[str, str], account_id: str) -> dict[str, Any]:
    import gzip

    import boto3

    body = (
        boto3.client("s3")
        .get_object(Bucket=aws["BUCKET_NAME"], Key=f"accounts/{account_id}/archive.json.gz")["Body"]
        .read()
    )
    archive: dict[str, Any] = json.loads(gzip.decompress(body))
    return archive


def waiting(aws: dict[str, str]) -> int:
    """Messages of the refresh queue not yet handled: visible, in flight or delayed."""
    import boto3

    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=aws["REFRESH_QUEUE_URL"],
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def work_through(workers: Workers, aws: dict[str, str], *, pages: int | None = None) -> int:
    """Let the worker take each message when SQS delivers it (a page a second, as X allows
    full-archive search), until none is left, or `pages` messages were handled."""
    handled = 0
    deadline = time.monotonic() + 60
    while waiting(aws) and (pages is None or handled < pages):
        assert time.monotonic() < deadline, "the history read did not end"
        delivered = workers.source.poll_once()
        handled += delivered.messages
        if not delivered.messages:
            time.sleep(0.2)
    return handled


def confirmed(client: Any, person: Browser, aws: dict[str, str]) -> Workers:
    """She saw the cost and said yes; the refresh worker, one message at a time."""
    assert person.get("/history").status_code == 200
    assert person.post("/history", body="confirm=yes").status_code == 303
    return Workers(client, aws["REFRESH_QUEUE_URL"], batch_size=1)


def test_the_cost_is_shown_first_from_x_s_counts(
    signed_in: Browser, app_env: Any, aws: dict[str, str]
) -> None:
    account_id = app_env.account_id("oldbrand")
    billed_before = float(account_item(aws, account_id)["x_usd_billed"]["N"])

    # WHEN she opens "Read older history"
    page = signed_in.get("/history")

    # THEN X's counts say what lies before the archive, one request per query, nothing is
    #      read yet, and the price is shown: 2,000 older mentions at $0.005. Her own replies
    #      older than the oldest own post the archive holds: none (her timeline reached all
    #      40 of them)
    text = page.body.decode()
    assert page.status_code == 200
    assert app_env.calls[COUNTS] == 2
    assert app_env.calls[SEARCH] == 0
    assert "about <strong>2,000</strong> older mentions of @oldbrand, back to 2006" in text
    assert "Reading them costs about <strong>$10.00</strong>" in text
    assert "Read 2,000 older posts for about $10.00" in text
    assert "Counting them cost $0.02 (2 requests" in text
    # AND the two counts requests are on her bill, $0.010 each
    billed = float(account_item(aws, account_id)["x_usd_billed"]["N"])
    assert billed == pytest.approx(billed_before + 0.02, abs=1e-9)
    # AND a second look asks X nothing
    assert "Read 2,000 older posts" in signed_in.get("/history").body.decode()
    assert app_env.calls[COUNTS] == 2


def test_a_confirmed_backfill_reads_each_older_post_once_and_shows_its_progress(
    client: Any, signed_in: Browser, app_env: Any, aws: dict[str, str]
) -> None:
    account_id = app_env.account_id("oldbrand")
    signed_in.get("/history")
    estimate = 2_000
    workers = Workers(client, aws["REFRESH_QUEUE_URL"], batch_size=1)

    # WHEN she says yes (from this site)
    cross_site = signed_in.post("/history", {"origin": "https://evil.example"}, "confirm=yes")
    assert cross_site.status_code == 403
    assert app_env.calls[SEARCH] == 0 and waiting(aws) == 0
    answer = signed_in.post("/history", body="confirm=yes")

    # THEN back to the report, which says the read has begun; nothing was read in the request
    assert answer.status_code == 303 and answer.headers["location"].endswith("/report")
    assert app_env.calls[SEARCH] == 0
    page = signed_in.get("/report").body.decode()
    assert "Reading history: 0 of about 2,000 posts." in page

    # WHEN the worker has read two pages
    work_through(workers, aws, pages=2)

    # THEN the report (made again, no X request) shows how far it has got
    app_env.reset_counters()
    page = signed_in.get("/report").body.decode()
    assert "Reading history: 1,000 of about 2,000 posts." in page
    assert app_env.timeline_reads() == 0

    # WHEN a duplicate of a page already read arrives (SQS delivers at least once), and the
    #      rest is read
    from chalicelib import services

    services.refresh_queue().send_later(account_id, delay_seconds=0, history=1)
    work_through(workers, aws)

    # THEN 2,000 posts were read in ceil(2000/500) = 4 search requests, none twice, and the
    #      estimate matched what was read (within 10%: here exactly)
    assert app_env.calls[SEARCH] == math.ceil(2_000 / 500) - 2
    served = app_env.posts_served[SEARCH]
    assert served == 1_000
    archive = archive_of(aws, account_id)
    assert len(archive["mentions"]) == MENTIONS
    read = sum(r["posts"] for r in archive["history"]["reads"].values())
    assert read == 2_000 and abs(read - estimate) <= estimate / 10
    # AND the report covers all of it: the oldest mention, 2,800 hours ago
    body = signed_in.get("/report.json").json_body
    history = body["source"]["history"]
    assert history["state"] == "done" and history["read"] == 2_000
    oldest = datetime.fromisoformat(history["reaches_back_to"])
    hours = (datetime.now(UTC) - oldest) / timedelta(hours=1)
    assert MENTIONS - 1 < hours < MENTIONS + 1
    assert "Your archive reaches back to" in signed_in.get("/report").body.decode()
    # AND a second yes reads nothing again
    signed_in.post("/history", body="confirm=yes")
    assert waiting(aws) == 0


def test_an_interrupted_backfill_resumes_where_it_stopped(
    client: Any, shorter: Browser, app_env: Any, aws: dict[str, str]
) -> None:
    import boto3

    workers = confirmed(client, shorter, aws)
    work_through(workers, aws, pages=1)
    # A failed message comes back at once (the queue's visibility timeout made 0 here)
    boto3.client("sqs").set_queue_attributes(
        QueueUrl=aws["REFRESH_QUEUE_URL"], Attributes={"VisibilityTimeout": "0"}
    )

    # WHEN X fails the next search twice (503), then answers
    app_env.fail(SEARCH, "503", 2)
    work_through(workers, aws)

    # THEN the read went on from the page it stopped at: 4 pages answered, 2 refused, and
    #      every older post read exactly once
    assert app_env.calls[SEARCH] == 2 + 2
    assert app_env.posts_served[SEARCH] == 1_000
    assert len(archive_of(aws, app_env.account_id("oldbrand"))["mentions"]) == 1_800


def test_full_archive_reads_take_the_app_s_buckets(
    client: Any, shorter: Browser, app_env: Any, aws: dict[str, str], configure: Any
) -> None:
    # GIVEN an app budget of 1 search a window
    configure(X_APP_BUDGET_SEARCH=1)
    workers = confirmed(client, shorter, aws)

    # WHEN the worker takes the messages it can
    work_through(workers, aws, pages=2)

    # THEN X saw one search; the second page waits for the window, queued with a delay
    assert app_env.calls[SEARCH] == 1
    import boto3

    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=aws["REFRESH_QUEUE_URL"], AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "1"


def test_x_s_402_during_a_backfill_pauses_the_fleet(
    client: Any, shorter: Browser, app_env: Any, aws: dict[str, str]
) -> None:
    import boto3

    workers = confirmed(client, shorter, aws)
    app_env.fail(SEARCH, "402")

    workers.source.poll_once()

    pause = boto3.client("dynamodb").get_item(
        TableName=aws["TABLE_NAME"], Key={"pk": {"S": "x-pause"}}
    )["Item"]
    assert pause["reason"]["S"] == "payment_required"
    assert app_env.posts_served[SEARCH] == 0
    assert waiting(aws) == 1  # the same page, for after the next probe


def test_a_forgotten_account_s_backfill_reads_nothing_more(
    client: Any, shorter: Browser, app_env: Any, aws: dict[str, str]
) -> None:
    workers = confirmed(client, shorter, aws)
    work_through(workers, aws, pages=1)

    shorter.post("/forget", body="confirm=yes")
    handled = work_through(workers, aws, pages=1)  # the next page's message (the forget's
    # purge waits longer in the queue)

    assert handled == 1
    assert app_env.calls[SEARCH] == 1


def test_the_history_pages_need_a_sign_in_and_a_yes(
    client: Any, app_env: Any, shorter: Browser
) -> None:
    stranger = Browser(client)
    assert stranger.get("/history").status_code == 302
    assert stranger.post("/history", body="confirm=yes").status_code == 302
    # a POST without the yes (or before the cost was shown) goes to the page that asks
    no = shorter.post("/history", body="")
    assert no.status_code == 303 and no.headers["location"].endswith("/history")
    before = shorter.post("/history", body="confirm=yes")
    assert before.status_code == 303 and before.headers["location"].endswith("/history")
    assert app_env.calls[SEARCH] == 0


def test_the_app_s_search_bucket_learns_what_x_says_is_left(
    client: Any, shorter: Browser, app_env: Any, aws: dict[str, str]
) -> None:
    # GIVEN X allows the app one more search this window (another of the operator's
    #       tools used the rest), while our bucket thinks it has 300
    app_env.set_rate_limit(SEARCH, per_app=1)
    workers = confirmed(client, shorter, aws)

    # WHEN the worker reads the first page, and takes the next page's message
    work_through(workers, aws, pages=2)

    # THEN X's "0 left" was learnt: the second page waits for X's reset, never asked of X
    # (no 429 from X)
    assert app_env.calls[SEARCH] == 1
    assert app_env.posts_served[SEARCH] == 500
    import boto3

    delayed = boto3.client("sqs").get_queue_attributes(
        QueueUrl=aws["REFRESH_QUEUE_URL"], AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )["Attributes"]["ApproximateNumberOfMessagesDelayed"]
    assert delayed == "1"


def test_while_x_reads_are_paused_nothing_is_counted(
    shorter: Browser, app_env: Any, aws: dict[str, str]
) -> None:
    import boto3

    boto3.client("dynamodb").put_item(
        TableName=aws["TABLE_NAME"],
        Item={
            "pk": {"S": "x-pause"},
            "kind": {"S": "x-pause"},
            "reason": {"S": "payment_required"},
            "since": {"N": str(int(time.time()))},
            "probe_at": {"N": str(int(time.time()) + 900)},
            "month": {"S": datetime.now(UTC).strftime("%Y-%m")},
        },
    )

    from chalicelib import services

    services.reset()  # a container that has not read the flag in the last 30 s
    page = shorter.get("/history")

    assert page.status_code == 503
    assert "X reads are paused by the operator's plan" in html.unescape(page.body.decode())
    assert app_env.calls[COUNTS] == 0


def test_an_archive_that_holds_everything_has_nothing_older_to_read(
    client: Any, app_env: Any
) -> None:
    # GIVEN @oldbrand with 10 mentions: her first report read them all
    person = first_report(client, app_env, 10)

    # WHEN she opens "Read older history"
    page = html.unescape(person.get("/history").body.decode())

    # THEN X counted nothing older: no button, and the report says it holds all her history
    assert "Nothing older to read" in page and "older posts for about" not in page
    assert app_env.calls[COUNTS] == 2 and app_env.calls[SEARCH] == 0
    assert "It holds all your history." in person.get("/report").body.decode()
    assert person.get("/report.json").json_body["source"]["history"]["state"] == "done"
