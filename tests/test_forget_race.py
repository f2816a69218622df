"""Forgotten means gone, even with writers in flight: a refresh paused at each of its steps
while the person forgets her account leaves no object and no version behind; the forget's
queued purge and the daily sweep delete what a writer that died mid-way left; two writers
of one archive lose no post to each other.

Through the real parts: moto (the bucket versioned as the template makes it), the X
emulator, the app's own stores; only the pause is ours (a subclass of our Archive)."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from chalicelib.archive import Archive, ArchiveState, Written
from tests.browser import Browser
from tests.test_forget import table_kinds

FORGET = {"origin": "http://127.0.0.1:8000"}
PAUSE_POINTS = ("after the X reads", "after the archive is written", "after the report")
RUNS = 21  # seven at each pause point


def versions(aws: dict[str, str], account_id: str | None = None) -> list[str]:
    """Every version and delete marker under accounts/ (or one account's folder)."""
    prefix = "accounts/" if account_id is None else f"accounts/{account_id}/"
    listing = boto3.client("s3").list_object_versions(Bucket=aws["BUCKET_NAME"], Prefix=prefix)
    entries = [*listing.get("Versions", []), *listing.get("DeleteMarkers", [])]
    return sorted(f"{entry['Key']}@{entry['VersionId']}" for entry in entries)


class PausingArchive(Archive):
    """The app's archive, stopping at one step until the test lets it go on."""

    def __init__(self, s3: Any, bucket: str, pause_at: str) -> None:
        super().__init__(s3, bucket)
        self.pause_at = pause_at
        self.paused = threading.Event()
        self.resume = threading.Event()

    def hold(self, point: str) -> None:
        if point == self.pause_at:
            self.paused.set()
            assert self.resume.wait(30), "the test never let the refresh go on"

    def save(self, account_id: str, state: ArchiveState) -> Written:
        self.hold("after the X reads")
        return super().save(account_id, state)

    def save_report(self, account_id: str, report: dict[str, Any]) -> Written:
        self.hold("after the archive is written")
        return super().save_report(account_id, report)


def paused_refresh(account_id: str, pause_at: str) -> tuple[PausingArchive, threading.Thread]:
    """A refresh of the account, through the app's parts, that stops at `pause_at`."""
    from chalicelib import services
    from chalicelib.accounts import AccountTokens
    from chalicelib.config import settings
    from chalicelib.report_service import ReportService

    archive = PausingArchive(services.s3(), settings().bucket_name, pause_at)

    def confirm(account: AccountTokens, refreshed_at: int | None) -> bool:
        archive.hold("after the report")
        return services.account_store().confirm_written(account, refreshed_at)

    reports = ReportService(archive, services.timeline_for, 900, _now, on_written=confirm)
    account = services.account_store().account_tokens(account_id)
    assert account is not None
    worker = threading.Thread(target=reports.refresh, args=(account,), daemon=True)
    worker.start()
    assert archive.paused.wait(30), f"the refresh never reached {pause_at!r}"
    return archive, worker


def _now() -> float:
    import time

    return time.time()


def test_a_forget_during_a_refresh_leaves_nothing_behind(
    client: Any, app_env: Any, aws: dict[str, str]
) -> None:
    s3 = boto3.client("s3")
    assert s3.get_bucket_versioning(Bucket=aws["BUCKET_NAME"])["Status"] == "Enabled"
    left: list[str] = []
    for run in range(RUNS):
        pause_at = PAUSE_POINTS[run % len(PAUSE_POINTS)]
        # GIVEN a signed-in account with a report (an archive and a report in S3), new
        # mentions at X, and a refresh that read them and stopped at `pause_at`
        name = f"racer{run}"
        account_id = app_env.add_account(name)
        fan = app_env.add_account(f"{name}_fan")
        browser = Browser(client)
        browser.sign_in(name)
        assert browser.get("/report").status_code == 200
        app_env.add_post(fan, f"@{name} are you there?", datetime.now(UTC), mentions=[account_id])
        archive, refresh = paused_refresh(account_id, pause_at)

        # WHEN she forgets her account, and then the refresh goes on
        answer = browser.post("/forget", headers=FORGET, body="confirm=yes")
        assert answer.status_code == 200 and f"We forgot @{name}" in answer.body.decode()
        archive.resume.set()
        refresh.join(30)
        assert not refresh.is_alive()
        left += versions(aws, account_id)

    # THEN in none of the runs is an object, an old version or a delete marker left, and
    # no account, session or pending login either
    assert left == []
    assert table_kinds(aws) == []


def test_a_forget_deletes_every_old_version(
    browser: Browser, app_env: Any, aws: dict[str, str], configure: Callable[..., None]
) -> None:
    # GIVEN an account whose report was rebuilt three times: old versions in the bucket
    configure(REPORT_MAX_AGE_SECONDS=0)
    browser.sign_in("fastbrand")
    for _ in range(3):
        assert browser.get("/report").status_code == 200
    account_id = app_env.account_id("fastbrand")
    assert len(versions(aws, account_id)) >= 4

    # WHEN she forgets her account
    browser.post("/forget", headers=FORGET, body="confirm=yes")

    # THEN no version of anything of hers is left (not only delete markers)
    assert versions(aws, account_id) == []


def put_orphan(aws: dict[str, str], account_id: str) -> None:
    """What a writer that died between its write and its check leaves: an archive, twice
    (a version and an old version)."""
    s3 = boto3.client("s3")
    for _ in range(2):
        body = gzip.compress(json.dumps(ArchiveState().to_json()).encode())
        s3.put_object(
            Bucket=aws["BUCKET_NAME"], Key=f"accounts/{account_id}/archive.json.gz", Body=body
        )


def deliver_purge(client: Any, aws: dict[str, str], account_id: str) -> Any:
    """A forget's purge as it comes due (sent here without the delay), taken by a worker
    through Lambda's event source; returns the event source, with the worker's answers."""
    from tests.test_refresh import Workers

    boto3.client("sqs").send_message(
        QueueUrl=aws["REFRESH_QUEUE_URL"],
        MessageBody=json.dumps({"account_id": account_id, "purge": True}),
    )
    workers = Workers(client, aws["REFRESH_QUEUE_URL"])
    workers.drain()
    return workers


def test_the_forget_queues_a_purge_that_deletes_what_a_dead_writer_left(
    client: Any, browser: Browser, app_env: Any, aws: dict[str, str]
) -> None:
    # GIVEN an account forgotten
    browser.sign_in("fastbrand")
    account_id = app_env.account_id("fastbrand")
    browser.post("/forget", headers=FORGET, body="confirm=yes")
    # THEN a purge of it waits in the refresh queue, 900 s out (longer than a worker runs)
    sqs = boto3.client("sqs")
    attributes = sqs.get_queue_attributes(
        QueueUrl=aws["REFRESH_QUEUE_URL"], AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "1"

    # GIVEN a writer that read the account before the forget wrote after it and died
    put_orphan(aws, account_id)
    # WHEN the purge comes due and a worker takes it
    app_env.reset_counters()
    workers = deliver_purge(client, aws, account_id)
    # THEN nothing of hers is left, and nothing was read from X for it
    assert versions(aws, account_id) == []
    assert app_env.timeline_reads() == 0
    assert [answer for _, answer in workers.answers] == [{"batchItemFailures": []}]


def test_a_purge_for_an_account_signed_in_again_deletes_nothing(
    client: Any, browser: Browser, app_env: Any, aws: dict[str, str]
) -> None:
    # GIVEN she forgot her account, then signed in again and has a report
    browser.sign_in("fastbrand")
    account_id = app_env.account_id("fastbrand")
    browser.post("/forget", headers=FORGET, body="confirm=yes")
    browser.sign_in("fastbrand")
    assert browser.get("/report").status_code == 200
    kept = versions(aws, account_id)
    # WHEN the forget's purge comes due
    deliver_purge(client, aws, account_id)
    # THEN her new archive and report stay
    assert versions(aws, account_id) == kept != []


def test_two_writers_of_one_archive_lose_no_post(app_env: Any, aws: dict[str, str]) -> None:
    from chalicelib import services

    archive = services.archive()
    # GIVEN an archive in S3, and two writers that loaded the same version of it
    base = ArchiveState(mentions={"1": {"id": "1"}})
    archive.save("42", base)
    slow, fast = archive.load("42"), archive.load("42")
    assert slow is not None and fast is not None
    # WHEN the fast one writes what it read (post 2), then the slow one (post 3)
    fast.mentions["2"] = {"id": "2"}
    archive.save("42", fast)
    slow.mentions["3"] = {"id": "3"}
    archive.save("42", slow)
    # THEN the archive holds all three: the slow writer merged into what the fast one wrote
    stored = archive.load("42")
    assert stored is not None and sorted(stored.mentions) == ["1", "2", "3"]
    assert sorted(slow.mentions) == ["1", "2", "3"]  # its report is made from the merge


def test_a_write_over_an_archive_a_forget_deleted_is_caught_and_deleted(
    app_env: Any, aws: dict[str, str]
) -> None:
    from chalicelib import services

    archive = services.archive()
    # GIVEN a writer that loaded the archive, which a forget then deleted
    archive.save("42", ArchiveState(mentions={"1": {"id": "1"}}))
    loaded = archive.load("42")
    assert loaded is not None
    archive.delete("42")
    # WHEN the writer saves (its If-Match finds nothing: it writes anew) and then learns
    # the account is gone
    written = archive.save("42", loaded)
    archive.delete_written([written])
    # THEN nothing is left
    assert versions(aws, "42") == []


@pytest.mark.parametrize("failure", ["429", "503"])
def test_x_refusing_the_revoke_still_forgets_everything(
    browser: Browser, app_env: Any, aws: dict[str, str], failure: str
) -> None:
    # GIVEN a signed-in account with a report, and X answering the revoke with `failure`
    browser.sign_in("fastbrand")
    assert browser.get("/report").status_code == 200
    account_id = app_env.account_id("fastbrand")
    app_env.fail("POST /1.1/oauth/invalidate_token", failure)
    # WHEN she forgets her account
    answer = browser.post("/forget", headers=FORGET, body="confirm=yes")
    # THEN everything is deleted, and the page asks her to remove the app at X
    page = answer.body.decode()
    assert answer.status_code == 200 and "We forgot @fastbrand" in page
    assert "Apps and sessions" in page
    assert versions(aws, account_id) == [] and table_kinds(aws) == []


def test_storage_failing_mid_forget_revokes_nothing_and_a_retry_finishes(
    browser: Browser, app_env: Any, aws: dict[str, str]
) -> None:
    from botocore.exceptions import EndpointConnectionError

    from chalicelib import services

    # GIVEN a signed-in account with a report, and S3 refusing to list versions once
    browser.sign_in("fastbrand")
    assert browser.get("/report").status_code == 200
    account_id = app_env.account_id("fastbrand")
    failures = [1]

    def refuse(**_: Any) -> None:
        if failures:
            failures.pop()
            raise EndpointConnectionError(endpoint_url="https://s3.amazonaws.com")

    services.s3().meta.events.register("before-call.s3.ListObjectVersions", refuse)
    # WHEN she forgets her account
    answer = browser.post("/forget", headers=FORGET, body="confirm=yes")
    # THEN our 503 page; the token is not revoked, she is still signed in
    assert answer.status_code == 503
    assert app_env.calls["POST /1.1/oauth/invalidate_token"] == 0
    assert browser.get("/report").status_code == 200
    # WHEN she asks again
    answer = browser.post("/forget", headers=FORGET, body="confirm=yes")
    # THEN everything goes, and the token is revoked at X
    assert answer.status_code == 200 and "We forgot @fastbrand" in answer.body.decode()
    assert "Apps and sessions" not in answer.body.decode()
    assert app_env.calls["POST /1.1/oauth/invalidate_token"] == 1
    assert versions(aws, account_id) == [] and table_kinds(aws) == []


def test_the_sweep_deletes_every_folder_whose_account_is_gone(
    browser: Browser, app_env: Any, aws: dict[str, str]
) -> None:
    import time

    from chalicelib import services
    from chalicelib.accounts import account_key

    db = boto3.client("dynamodb")
    # GIVEN a live account with a report, a folder whose account item is gone (a writer
    #       died between its write and its check, and its purge was lost), a forget stuck
    #       for two hours (its item deleting failed), and a forget under way right now
    browser.sign_in("fastbrand")
    assert browser.get("/report").status_code == 200
    live = app_env.account_id("fastbrand")
    kept = versions(aws, live)
    put_orphan(aws, "111")
    for account_id, began in (("222", time.time() - 7200), ("333", time.time())):
        put_orphan(aws, account_id)
        db.put_item(
            TableName=aws["TABLE_NAME"],
            Item={
                **account_key(account_id),
                "kind": {"S": "account"},
                "forgetting_at": {"N": str(int(began))},
            },
        )

    # WHEN the daily sweep runs
    summary = services.archive_sweep().run()

    # THEN the orphan and the stuck forget's folder are gone, every version, and the stuck
    #      forget's item too; the live account and the forget under way are left alone
    assert (summary.folders, summary.orphans, summary.forgets_finished) == (4, 2, 1)
    assert summary.versions_deleted == 4
    assert versions(aws, "111") == [] and versions(aws, "222") == []
    assert versions(aws, live) == kept != [] and len(versions(aws, "333")) == 2
    assert "Item" not in db.get_item(TableName=aws["TABLE_NAME"], Key=account_key("222"))
    assert "Item" in db.get_item(TableName=aws["TABLE_NAME"], Key=account_key("333"))
