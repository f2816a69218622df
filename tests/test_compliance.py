"""X's batch compliance through the real parts: Chalice's test client running the daily
`compliance_round` and the `compliance_worker` over moto's compliance queue (Lambda's SQS
event source played by local.stack's), moto's bucket and table, and the X emulator's
compliance jobs (client credentials, jobs, upload and download on loopback). A post deleted
at the emulator, or every post of an author who turned protected, is gone from S3 and from
the report after one round; the upload holds exactly the archived ids; a fleet larger than
a job is split; polling waits with SQS delays; X refusing for a while loses nothing."""

from __future__ import annotations

import gzip
import json
from typing import Any

import boto3
import pytest

from chalicelib.archive import ArchiveState
from tests.browser import Browser
from tests.test_refresh import Workers

JOBS = "POST /2/compliance/jobs"


def start_round(client: Any, aws: dict[str, str]) -> Workers:
    """The daily round as EventBridge starts it; the compliance worker, one message a batch
    as deployed, ready to be fed from the queue."""
    event = client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
    )
    client.lambda_.invoke("compliance_round", event)
    return Workers(client, aws["COMPLIANCE_QUEUE_URL"], "compliance_worker", batch_size=1)


def run_compliance(client: Any, aws: dict[str, str]) -> list[dict[str, Any]]:
    """The round, then the worker fed until no message is visible (polls are queued with
    COMPLIANCE_POLL_SECONDS, 0 in most tests here); the worker's answers."""
    workers = start_round(client, aws)
    workers.drain()
    return [answer for _, answer in workers.answers]


def archive_of(account_id: str) -> ArchiveState:
    from chalicelib import services

    state = services.archive().load(account_id)
    assert state is not None
    return state


def stored_object(aws: dict[str, str], account_id: str, name: str) -> bytes:
    body: bytes = (
        boto3.client("s3")
        .get_object(Bucket=aws["BUCKET_NAME"], Key=f"accounts/{account_id}/{name}")["Body"]
        .read()
    )
    return body


def queue_counts(aws: dict[str, str]) -> tuple[int, int]:
    """(visible, delayed) messages of the compliance queue."""
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=aws["COMPLIANCE_QUEUE_URL"],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed"],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesDelayed"]),
    )


@pytest.fixture
def quick_polls(configure: Any) -> None:
    configure(COMPLIANCE_POLL_SECONDS=0)


@pytest.fixture
def brand(client: Any, app_env: Any, people: Any, quick_polls: None) -> tuple[str, Browser]:
    """brand0, mentioned three times by brand0_fan (the first answered), report stored."""
    (account_id,) = people(1)
    browser = Browser(client)
    browser.sign_in("brand0")
    report = browser.get("/report.json").json_body
    assert report["mentions"] == 3 and report["answered"] == 1
    return account_id, browser


def test_a_post_deleted_on_x_is_gone_from_s3_and_from_the_report_after_one_round(
    client: Any, app_env: Any, aws: dict[str, str], brand: tuple[str, Browser]
) -> None:
    account_id, browser = brand
    state = archive_of(account_id)
    mention_ids = sorted(state.mentions, key=int)
    unanswered = mention_ids[-1]

    # WHEN the fan deletes one of the mentions nobody answered, and the round runs
    app_env.delete_post(unanswered)
    app_env.reset_counters()
    answers = run_compliance(client, aws)

    # THEN the archive holds it no more (not its text, not its id but among the withdrawn)
    assert all(answer == {"batchItemFailures": []} for answer in answers)
    state = archive_of(account_id)
    assert unanswered not in state.mentions and state.withdrawn == {unanswered}
    raw = gzip.decompress(stored_object(aws, account_id, "archive.json.gz"))
    assert b"hello 2" not in raw and b"hello 1" in raw
    # ... the stored report was made again from what remains, with no X read
    stored = json.loads(stored_object(aws, account_id, "report.json"))
    assert stored["mentions"] == 2 and stored["source"]["x_requests"] == 0
    assert app_env.calls["GET /2/users/:id/mentions"] == 0
    assert (app_env.calls[JOBS], app_env.calls["POST /oauth2/token"]) == (2, 1)
    # ... and the page she sees counts two mentions, one answered
    report = browser.get("/report.json").json_body
    assert (report["mentions"], report["answered"]) == (2, 1)
    assert unanswered not in browser.get("/report.csv").body.decode()

    # WHEN the schedule refreshes the account from X, and the round runs again
    assert browser.post("/refresh").status_code in (200, 303)
    run_compliance(client, aws)

    # THEN the post never came back
    assert unanswered not in archive_of(account_id).mentions


def test_an_answer_whose_reply_was_deleted_counts_as_unanswered_from_then_on(
    client: Any, app_env: Any, aws: dict[str, str], brand: tuple[str, Browser]
) -> None:
    account_id, browser = brand
    (reply_id,) = archive_of(account_id).own_posts

    # WHEN the brand deletes its one reply, and the round runs
    app_env.delete_post(reply_id)
    run_compliance(client, aws)

    # THEN the mention it answered is waiting again: three mentions, none answered
    assert archive_of(account_id).own_posts == {}
    report = browser.get("/report.json").json_body
    assert (report["mentions"], report["answered"]) == (3, 0)
    assert len(report["waiting"]) == 3


def test_a_protected_author_takes_every_post_and_her_handle_out_of_the_archive(
    client: Any, app_env: Any, aws: dict[str, str], brand: tuple[str, Browser]
) -> None:
    account_id, browser = brand
    fan_id = app_env.account_id("brand0_fan")
    assert fan_id in archive_of(account_id).users

    # WHEN the fan turns her account protected, and the round runs
    app_env.protect("brand0_fan")
    run_compliance(client, aws)

    # THEN none of her mentions and not her handle are kept; the brand's own reply is hers
    state = archive_of(account_id)
    assert state.mentions == {} and fan_id not in state.users
    assert len(state.own_posts) == 1
    assert b"brand0_fan" not in stored_object(aws, account_id, "report.json")
    assert browser.get("/report.json").json_body["mentions"] == 0


def test_the_brand_turning_protected_keeps_her_own_posts(
    client: Any, app_env: Any, aws: dict[str, str], brand: tuple[str, Browser]
) -> None:
    account_id, browser = brand

    # WHEN the signed-in brand herself turns protected (she still lets us read her posts)
    app_env.protect("brand0")
    answers = run_compliance(client, aws)

    # THEN nothing was removed: her reply and the mentions stay, and her id was not uploaded
    assert answers and len(archive_of(account_id).own_posts) == 1
    users_jobs = [
        job for job in app_env.compliance.jobs.values() if job.type == "users" and job.ids
    ]
    assert users_jobs and all(account_id not in job.ids for job in users_jobs)
    assert browser.get("/report.json").json_body["answered"] == 1


def test_the_upload_holds_exactly_the_archived_ids(
    client: Any, app_env: Any, aws: dict[str, str], brand: tuple[str, Browser]
) -> None:
    account_id, _ = brand
    state = archive_of(account_id)

    run_compliance(client, aws)

    jobs = {job.type: job for job in app_env.compliance.jobs.values()}
    assert sorted(jobs) == ["tweets", "users"]
    assert sorted(jobs["tweets"].ids, key=int) == sorted(
        [*state.mentions, *state.own_posts], key=int
    )
    assert jobs["users"].ids == [app_env.account_id("brand0_fan")]
    assert all(job.status == "complete" for job in jobs.values())


def test_a_fleet_larger_than_one_job_is_split_one_job_at_a_time_and_every_part_applied(
    client: Any, app_env: Any, aws: dict[str, str], configure: Any, people: Any
) -> None:
    # GIVEN five accounts of four posts each (three mentions, one reply), and jobs of 6 ids
    configure(COMPLIANCE_POLL_SECONDS=0, X_COMPLIANCE_JOB_IDS=6)
    ids = sorted(people(5))  # the bucket's key order: ids of one length sort as numbers
    for n in range(5):  # a view stores the archive
        browser = Browser(client)
        browser.sign_in(f"brand{n}")
        assert browser.get("/report.json").status_code == 200
    archived = {a: archive_of(a) for a in ids}
    every_id = sorted({p for s in archived.values() for p in [*s.mentions, *s.own_posts]}, key=int)
    assert len(every_id) == 20
    last = sorted(archived[ids[-1]].mentions, key=int)[0]
    app_env.delete_post(last)

    answers = run_compliance(client, aws)

    # THEN the posts' 20 ids went in key order into jobs of 6, 6, 6 and 2 (the second and
    #      the fourth account's ids span two jobs), one after the other, as X demands: no
    #      job was refused for another of its type still running
    assert all(answer == {"batchItemFailures": []} for answer in answers)
    tweets = [job for job in app_env.compliance.jobs.values() if job.type == "tweets"]
    assert [len(job.ids) for job in tweets] == [6, 6, 6, 2]
    assert [i for job in tweets for i in job.ids] == [
        i for a in ids for i in sorted([*archived[a].mentions, *archived[a].own_posts], key=int)
    ]
    assert app_env.compliance.refused == 0
    # ... the five fans' ids fit one users job
    assert [len(j.ids) for j in app_env.compliance.jobs.values() if j.type == "users"] == [5]
    # ... and the deletion, in the third job, reached the last account's archive
    assert last not in archive_of(ids[-1]).mentions
    assert archive_of(ids[-1]).withdrawn == {last}


def test_a_message_delivered_twice_and_a_second_round_make_no_job_twice(
    client: Any, app_env: Any, aws: dict[str, str], brand: tuple[str, Browser]
) -> None:
    sqs = boto3.client("sqs")
    # GIVEN a round begun twice (the second supersedes the first's chains), and every
    #       message of the second delivered twice, as SQS may
    start_round(client, aws)
    start_round(client, aws)
    workers = Workers(client, aws["COMPLIANCE_QUEUE_URL"], "compliance_worker", batch_size=1)
    for _ in range(20):
        received = sqs.receive_message(
            QueueUrl=aws["COMPLIANCE_QUEUE_URL"], MaxNumberOfMessages=10
        ).get("Messages", [])
        if not received:
            break
        for message in received:
            for _copy in range(2):
                sqs.send_message(QueueUrl=aws["COMPLIANCE_QUEUE_URL"], MessageBody=message["Body"])
            sqs.delete_message(
                QueueUrl=aws["COMPLIANCE_QUEUE_URL"], ReceiptHandle=message["ReceiptHandle"]
            )
        workers.source.poll_once()
    workers.drain()

    # THEN one job of each type was made, and none refused
    assert sorted(job.type for job in app_env.compliance.jobs.values()) == ["tweets", "users"]
    assert app_env.compliance.refused == 0


def test_polling_waits_with_an_sqs_delay_not_a_sleep(
    client: Any, app_env: Any, aws: dict[str, str], configure: Any, people: Any
) -> None:
    people(1)
    browser = Browser(client)
    browser.sign_in("brand0")
    assert browser.get("/report.json").status_code == 200
    configure(COMPLIANCE_POLL_SECONDS=60)

    # WHEN the round runs and the worker takes its one collect message
    run_compliance(client, aws)

    # THEN the two jobs (posts, handles) wait as two delayed polls, none visible
    assert queue_counts(aws) == (0, 2)
    assert all(job.status == "in_progress" for job in app_env.compliance.jobs.values())


def test_a_job_still_in_progress_is_polled_again_and_then_applied(
    client: Any, app_env: Any, aws: dict[str, str], brand: tuple[str, Browser]
) -> None:
    account_id, _ = brand
    app_env.compliance_in_progress_polls = 2  # X is still working at the first two reads
    reply = next(iter(archive_of(account_id).own_posts))
    app_env.delete_post(reply)

    run_compliance(client, aws)

    assert app_env.calls["GET /2/compliance/jobs/:id"] == 6  # 3 reads of each of two jobs
    assert archive_of(account_id).own_posts == {}


def test_x_failing_a_job_queues_the_rest_again_and_loses_nothing(
    client: Any, app_env: Any, aws: dict[str, str], brand: tuple[str, Browser]
) -> None:
    account_id, _ = brand
    mention = sorted(archive_of(account_id).mentions, key=int)[0]
    app_env.delete_post(mention)
    app_env.fail(JOBS, "503")  # the first job creation fails

    answers = run_compliance(client, aws)

    assert all(answer == {"batchItemFailures": []} for answer in answers)
    assert app_env.calls[JOBS] == 3  # failed once, then posts and handles
    assert mention not in archive_of(account_id).mentions


def test_x_rate_limiting_a_job_waits_for_xs_reset_in_the_queue(
    client: Any, app_env: Any, aws: dict[str, str], brand: tuple[str, Browser]
) -> None:
    app_env.fail(JOBS, "429")

    answers = run_compliance(client, aws)

    # THEN the refused collect was done with (no failure, no redelivery storm) and queued
    #      again with a delay, until X's reset: nothing visible, one delayed; the other
    #      type's chain went on
    assert all(answer == {"batchItemFailures": []} for answer in answers)
    assert app_env.calls[JOBS] == 2 and queue_counts(aws) == (0, 1)


def test_an_account_forgotten_before_its_results_arrive_is_left_to_the_forget(
    client: Any, app_env: Any, aws: dict[str, str], configure: Any, people: Any
) -> None:
    (account_id,) = people(1)
    browser = Browser(client)
    browser.sign_in("brand0")
    assert browser.get("/report.json").status_code == 200
    configure(COMPLIANCE_POLL_SECONDS=0)
    app_env.delete_post(next(iter(archive_of(account_id).own_posts)))

    # WHEN she forgets her account after the jobs were made, before the polls ran
    workers = start_round(client, aws)
    assert workers.source.poll_once().batches == 1  # one collect: a job made, its poll queued
    assert len(app_env.compliance.jobs) == 1
    assert browser.post("/forget", body="confirm=yes").status_code in (200, 302, 303)
    workers.drain()
    assert all(answer == {"batchItemFailures": []} for _, answer in workers.answers)

    # THEN nothing of hers was written back
    listed = boto3.client("s3").list_objects_v2(
        Bucket=aws["BUCKET_NAME"], Prefix=f"accounts/{account_id}/"
    )
    assert listed.get("KeyCount", 0) == 0


def test_make_runs_loop_runs_the_compliance_round_with_the_refresh_round(
    client: Any, app_env: Any, aws: dict[str, str], brand: tuple[str, Browser]
) -> None:
    """What `make run` does (local.stack.LocalRefreshLoop): a post deleted at the emulator
    leaves the local report within a round, with no one calling anything by hand."""
    import time

    from app import app
    from local.stack import LocalRefreshLoop

    account_id, browser = brand
    mention = sorted(archive_of(account_id).mentions, key=int)[0]
    app_env.delete_post(mention)
    loop = LocalRefreshLoop(
        app,
        boto3.client("sqs"),
        aws["REFRESH_QUEUE_URL"],
        interval_seconds=0.2,
        poll_seconds=0.1,
        compliance_queue_url=aws["COMPLIANCE_QUEUE_URL"],
    )
    loop.start()
    try:
        deadline = time.monotonic() + 15
        while mention in archive_of(account_id).mentions and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        loop.stop()

    assert mention not in archive_of(account_id).mentions
    assert browser.get("/report.json").json_body["mentions"] == 2


def test_a_job_of_the_type_still_running_at_x_is_waited_for_not_raced(
    client: Any, app_env: Any, aws: dict[str, str], brand: tuple[str, Browser]
) -> None:
    from chalicelib import services

    account_id, _ = brand
    reply = next(iter(archive_of(account_id).own_posts))
    app_env.delete_post(reply)
    # GIVEN a posts job of the app's still running at X (yesterday's, say)
    app_env.compliance_in_progress_polls = 3
    earlier = services.compliance_client()
    running = earlier.create_job("tweets")
    earlier.upload(running, ["1"])

    answers = run_compliance(client, aws)

    # THEN the posts chain asked X until that job was done, then made its own: X refused
    #      nothing, and the deletion arrived
    assert all(answer == {"batchItemFailures": []} for answer in answers)
    assert app_env.compliance.refused == 0
    assert app_env.calls["GET /2/compliance/jobs"] >= 2
    assert reply not in archive_of(account_id).own_posts


def test_a_download_x_fails_once_is_read_again_and_then_applied(
    client: Any, app_env: Any, aws: dict[str, str], brand: tuple[str, Browser]
) -> None:
    account_id, _ = brand
    reply = next(iter(archive_of(account_id).own_posts))
    app_env.delete_post(reply)
    app_env.fail("GET /_compliance/download/:id", "503")

    answers = run_compliance(client, aws)

    assert all(answer == {"batchItemFailures": []} for answer in answers)
    assert app_env.calls["GET /_compliance/download/:id"] == 3  # posts twice, handles once
    assert reply not in archive_of(account_id).own_posts


def test_a_job_x_will_not_show_is_counted_failed_and_the_chain_goes_on(
    client: Any,
    app_env: Any,
    aws: dict[str, str],
    brand: tuple[str, Browser],
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tests.emf import metrics_in, total

    assert brand  # brand0, her report stored
    app_env.fail("GET /2/compliance/jobs/:id", "401")  # the first read of a job: refused
    capsys.readouterr()

    answers = run_compliance(client, aws)

    # THEN no message failed or loops: one job counted failed (its range waits for the
    #      next round), the other applied, and both chains ended
    assert all(answer == {"batchItemFailures": []} for answer in answers)
    assert total(metrics_in(capsys.readouterr().out), "ComplianceJobsFailed") == 1
    assert queue_counts(aws) == (0, 0)
    from chalicelib import services

    for kind in ("tweets", "users"):
        cursor = services.compliance_cursors().current(kind)
        assert cursor is not None and cursor.position.done and cursor.job_id is None


def test_the_apps_budget_of_compliance_requests_holds_before_x_sees_one_too_many(
    client: Any, app_env: Any, aws: dict[str, str], configure: Any, brand: tuple[str, Browser]
) -> None:
    # GIVEN a budget of one compliance request a window for the app (X's is 150)
    configure(COMPLIANCE_POLL_SECONDS=0, X_APP_BUDGET_COMPLIANCE_JOBS=1)

    answers = run_compliance(client, aws)

    # THEN X saw one request (the posts chain's look for a running job); both chains wait
    #      in the queue for the window's end, and nothing failed
    assert all(answer == {"batchItemFailures": []} for answer in answers)
    assert app_env.calls["GET /2/compliance/jobs"] == 1 and app_env.calls[JOBS] == 0
    assert queue_counts(aws) == (0, 2)
