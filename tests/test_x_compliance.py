"""The batch compliance client (chalicelib/x_compliance.py) against the X emulator over HTTP:
the app's bearer token, a job's whole life, what the download says for each reason, and X's
failures in the product's words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.archive import ArchiveState
from chalicelib.errors import XRateLimited, XRejected, XUnavailable
from chalicelib.x_compliance import (
    AppToken,
    Change,
    ComplianceClient,
    Job,
    apply_changes,
    bearer_token,
    parse_results,
)
from tests.conftest import CONSUMER_KEY, CONSUMER_SECRET

TIMEOUT = 5.0
POSTED = datetime.now(UTC) - timedelta(days=2)


def app_token(emulator: Any) -> AppToken:
    return bearer_token(emulator.base_url, CONSUMER_KEY, CONSUMER_SECRET, TIMEOUT)


@pytest.fixture
def compliance(x_emulator: Any) -> ComplianceClient:
    return ComplianceClient(x_emulator.base_url, app_token(x_emulator), TIMEOUT)


def finished(client: ComplianceClient, job: Job, polls: int = 5) -> Job:
    """Read the job until X is done with it (the emulator needs no waiting between reads)."""
    for _ in range(polls):
        job = client.job(job.id)
        if job.done:
            return job
    raise AssertionError(f"job {job.id} still {job.status} after {polls} reads")


def test_the_bearer_token_comes_from_the_consumer_key_and_secret(x_emulator: Any) -> None:
    token = app_token(x_emulator)

    with pytest.raises(XRejected):
        bearer_token(x_emulator.base_url, CONSUMER_KEY, "wrong", TIMEOUT)

    assert token.token_type == "bearer"
    assert token == app_token(x_emulator)  # X keeps one per app
    assert token.access_token not in repr(token)


def test_deleted_protected_and_suspended_posts_come_back_with_their_reason(
    x_emulator: Any, compliance: ComplianceClient
) -> None:
    for name in ("gone", "locked", "banned", "fine"):
        x_emulator.add_account(name)
    deleted = x_emulator.add_post("gone", "@fastbrand help", POSTED)
    protected = x_emulator.add_post("locked", "@fastbrand hi", POSTED)
    suspended = x_emulator.add_post("banned", "@fastbrand buy now", POSTED)
    fine = x_emulator.add_post("fine", "@fastbrand thanks", POSTED)
    x_emulator.delete_post(deleted)
    x_emulator.protect("locked")
    x_emulator.suspend("banned")

    job = compliance.create_job("tweets", name="responsetime-nightly")
    compliance.upload(job, [deleted, protected, suspended, fine])
    done = finished(compliance, job)
    changes = compliance.results(done)

    assert job.status == "created"
    assert done.status == "complete" and done.done
    assert changes == [
        Change(deleted, "deleted"),
        Change(protected, "protected"),
        Change(suspended, "suspended"),
    ]


def test_the_upload_holds_exactly_the_ids_given(
    x_emulator: Any, compliance: ComplianceClient
) -> None:
    ids = [x_emulator.add_post("fastbrand", f"post {n}", POSTED) for n in range(3)]

    job = compliance.create_job()
    compliance.upload(job, ids)

    assert x_emulator.compliance_job(job.id).ids == ids


def test_a_job_in_progress_is_read_again(x_emulator: Any, compliance: ComplianceClient) -> None:
    x_emulator.compliance_in_progress_polls = 1
    post = x_emulator.add_post("fastbrand", "hello", POSTED)
    job = compliance.create_job()
    compliance.upload(job, [post])

    first, second = compliance.job(job.id), compliance.job(job.id)

    assert (first.status, first.done) == ("in_progress", False)
    assert second.status == "complete"
    assert compliance.results(second) == []


def test_too_many_ids_fail_the_job(x_emulator: Any, compliance: ComplianceClient) -> None:
    from local.x_api import COMPLIANCE_MAX_IDS

    job = compliance.create_job()
    compliance.upload(job, (str(10**15 + n) for n in range(COMPLIANCE_MAX_IDS + 1)))

    done = finished(compliance, job)

    assert (done.status, done.done) == ("failed", True)
    with pytest.raises(XRejected):  # no file to download: storage says 404
        compliance.results(done)


@pytest.mark.parametrize(
    "template",
    [
        "POST /2/compliance/jobs",
        "GET /2/compliance/jobs/:id",
        "PUT /_compliance/upload/:id",
        "GET /_compliance/download/:id",
        "POST /oauth2/token",
    ],
)
@pytest.mark.parametrize(("mode", "error"), [("429", XRateLimited), ("503", XUnavailable)])
def test_xs_failures_become_the_products_errors(
    x_emulator: Any, template: str, mode: str, error: type[Exception]
) -> None:
    client = ComplianceClient(x_emulator.base_url, app_token(x_emulator), TIMEOUT)
    post = x_emulator.add_post("fastbrand", "hello", POSTED)
    job = client.create_job()
    if template == "GET /_compliance/download/:id":
        client.upload(job, [post])
        job = finished(client, job)
    x_emulator.fail(template, mode)

    calls = {
        "POST /2/compliance/jobs": lambda: client.create_job(),
        "GET /2/compliance/jobs/:id": lambda: client.job(job.id),
        "PUT /_compliance/upload/:id": lambda: client.upload(job, [post]),
        "GET /_compliance/download/:id": lambda: client.results(job),
        "POST /oauth2/token": lambda: app_token(x_emulator),
    }
    with pytest.raises(error) as failed:
        calls[template]()

    if mode == "429" and template.startswith(("POST /2/", "GET /2/")):
        assert isinstance(failed.value, XRateLimited) and failed.value.reset_at


def test_a_wrong_bearer_token_is_rejected(x_emulator: Any) -> None:
    client = ComplianceClient(x_emulator.base_url, "AAAAnot-the-apps", TIMEOUT)

    with pytest.raises(XRejected):
        client.create_job()


def test_x_not_answering_is_unavailable() -> None:
    client = ComplianceClient("http://127.0.0.1:9", "AAAAtoken", 0.5)

    with pytest.raises(XUnavailable):
        client.job("1")


def test_results_skip_blank_lines_and_refuse_malformed_ones() -> None:
    text = (
        '{"id":"1","action":"delete","created_at":"2026-11-24T15:05:14.000Z",'
        '"redacted_at":"2026-11-27T16:05:14.000Z","reason":"deleted"}\n'
        "\n"
        '{"id":"2","action":"delete","reason":"scrub_geo"}\n'
    )

    assert parse_results(text) == [Change("1", "deleted"), Change("2", "scrub_geo")]
    assert parse_results("") == []
    for malformed in ("not json\n", '{"id": 1, "reason": "deleted"}\n', '["1"]\n', '{"id":"1"}'):
        with pytest.raises(XUnavailable):
            parse_results(malformed)


# --- apply_changes: pure ------------------------------------------------------------------
BRAND, ANN, BOB, CAT = "100", "200", "300", "400"


def post(post_id: str, author: str) -> dict[str, Any]:
    return {"id": post_id, "author_id": author, "text": f"post {post_id}"}


def archive() -> ArchiveState:
    """@brand's archive: Ann's two mentions, Bob's one, Cat's one; two of @brand's replies."""
    return ArchiveState(
        mentions={p["id"]: p for p in (post("11", ANN), post("12", ANN), post("21", BOB))}
        | {"31": post("31", CAT)},
        own_posts={p["id"]: p for p in (post("51", BRAND), post("52", BRAND))},
        users={BRAND: "brand", ANN: "ann", BOB: "bob", CAT: "cat"},
    )


def test_apply_changes_removes_what_x_says_must_go() -> None:
    state = archive()
    changes = [
        Change("11", "deleted"),  # Ann deleted one post; her other stays, and so does she
        Change("21", "suspended"),  # Bob suspended: his post and his handle go
        Change("52", "deleted"),  # @brand deleted one of her replies
        Change("31", "scrub_geo"),  # the archive keeps no geo: nothing to do
        Change("99", "deleted"),  # not in the archive
    ]

    removed = apply_changes(state, changes, owner=BRAND)

    assert removed == ["11", "21", "52"]
    assert sorted(state.mentions) == ["12", "31"]
    assert sorted(state.own_posts) == ["51"]
    assert state.users == {BRAND: "brand", ANN: "ann", CAT: "cat"}


def test_a_protected_author_takes_every_stored_post_of_hers_along() -> None:
    state = archive()

    removed = apply_changes(
        state, [Change("12", "protected"), Change("31", "deleted")], owner=BRAND
    )

    assert removed == ["11", "12", "31"]  # 11 was not in the results, but Ann is protected
    assert sorted(state.mentions) == ["21"]
    assert state.users == {BRAND: "brand", BOB: "bob"}  # Cat has no stored post left
    assert apply_changes(state, [], owner=BRAND) == []
