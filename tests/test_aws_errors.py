"""aws_call: every AWS call's failure as StoreUnavailable, a false condition as
ConditionFailed, a key S3 does not hold as NotFound; and every store's calls go through it.

Real boto3 clients only: against moto in-process (the `aws` fixture), against a closed port
for a store that cannot be reached, and botocore's Stubber for an error AWS answers."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.stub import Stubber

from chalicelib.accounts import AccountIndex, AccountStore
from chalicelib.archive import Archive, ArchiveState, Written
from chalicelib.errors import (
    ConditionFailed,
    NotFound,
    ResponsetimeError,
    SignInExpired,
    StoreUnavailable,
    aws_call,
)
from chalicelib.refresh_queue import RefreshQueue
from chalicelib.sessions import Lifetimes, SessionStore, SignedIn
from chalicelib.tokens import TokenCipher

SECRET = "do-not-log-7f3a9c"  # a value of every request below: no message may carry it
NOW = 1_800_000_000
LIFETIMES = Lifetimes(pending_seconds=600, idle_seconds=3600, absolute_seconds=86_400)


def item(pk: str = SECRET) -> dict[str, Any]:
    return {"pk": {"S": pk}, "kind": {"S": "note"}, "note": {"S": SECRET}}


def assert_store_unavailable(
    error: pytest.ExceptionInfo[StoreUnavailable], call: str, kind: type[Exception], name: str
) -> None:
    """The message names the call and the error's type (boto3 raises a subclass of
    ClientError named after the code, e.g. ResourceNotFoundException), nothing else."""
    assert str(error.value) == f"{call} failed: {name}"
    assert isinstance(error.value.__cause__, kind)
    assert type(error.value.__cause__).__name__ == name
    assert SECRET not in str(error.value)


@pytest.fixture
def table(aws: dict[str, str]) -> tuple[Any, str]:
    return boto3.client("dynamodb"), aws["TABLE_NAME"]


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def unreachable(service: str, port: int) -> Any:
    """A real client for a store that does not answer: nothing listens on `port`."""
    return boto3.client(
        service,
        endpoint_url=f"http://127.0.0.1:{port}",
        config=Config(connect_timeout=1, read_timeout=1, retries={"total_max_attempts": 1}),
    )


# --- aws_call against moto ----------------------------------------------------------------


def test_a_call_that_succeeds_is_left_alone(table: tuple[Any, str]) -> None:
    db, name = table

    with aws_call("DynamoDB PutItem"):
        db.put_item(TableName=name, Item=item())
    with aws_call("DynamoDB GetItem"):
        answer = db.get_item(TableName=name, Key={"pk": {"S": SECRET}})

    assert answer["Item"] == item()


def test_a_false_condition_raises_condition_failed_with_the_item_dynamodb_returned(
    table: tuple[Any, str],
) -> None:
    db, name = table
    db.put_item(TableName=name, Item=item())

    with pytest.raises(ConditionFailed) as failed, aws_call("DynamoDB PutItem"):
        db.put_item(
            TableName=name,
            Item=item(),
            ConditionExpression="attribute_not_exists(pk)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )

    assert failed.value.item == item()
    assert str(failed.value) == "DynamoDB PutItem: condition false"
    assert isinstance(failed.value.__cause__, ClientError)


def test_a_false_condition_carries_no_item_unless_asked_for(table: tuple[Any, str]) -> None:
    db, name = table

    with pytest.raises(ConditionFailed) as failed, aws_call("DynamoDB UpdateItem"):
        db.update_item(
            TableName=name,
            Key={"pk": {"S": SECRET}},
            UpdateExpression="SET note = :note",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":note": {"S": SECRET}},
        )

    assert failed.value.item is None
    assert SECRET not in str(failed.value)


def test_a_false_condition_is_no_failure_of_the_store(table: tuple[Any, str]) -> None:
    db, name = table
    db.put_item(TableName=name, Item=item())
    caught_as_failure = False

    with pytest.raises(ConditionFailed):
        try:
            with aws_call("DynamoDB PutItem"):
                db.put_item(
                    TableName=name, Item=item(), ConditionExpression="attribute_not_exists(pk)"
                )
        except (StoreUnavailable, ResponsetimeError):
            caught_as_failure = True

    assert not caught_as_failure
    assert not issubclass(ConditionFailed, ResponsetimeError)


def test_an_error_aws_answers_raises_store_unavailable_from_it(aws: dict[str, str]) -> None:
    db = boto3.client("dynamodb")

    with pytest.raises(StoreUnavailable) as failed, aws_call("DynamoDB PutItem"):
        db.put_item(TableName="no-such-table", Item=item())

    assert_store_unavailable(failed, "DynamoDB PutItem", ClientError, "ResourceNotFoundException")


def test_a_key_s3_does_not_hold_is_not_found_a_bucket_it_lacks_is_a_failure(
    aws: dict[str, str],
) -> None:
    s3 = boto3.client("s3")

    with pytest.raises(NotFound) as missing, aws_call("S3 GetObject"):
        s3.get_object(Bucket=aws["BUCKET_NAME"], Key=SECRET)
    with pytest.raises(StoreUnavailable) as failed, aws_call("S3 GetObject"):
        s3.get_object(Bucket="no-such-bucket", Key=SECRET)

    assert isinstance(missing.value.__cause__, ClientError)
    assert_store_unavailable(failed, "S3 GetObject", ClientError, "NoSuchBucket")


# --- aws_call against a store that does not answer, or answers an error -------------------


def test_a_store_out_of_reach_raises_store_unavailable_from_botocore(closed_port: int) -> None:
    db = unreachable("dynamodb", closed_port)

    with pytest.raises(StoreUnavailable) as failed, aws_call("DynamoDB PutItem"):
        db.put_item(TableName=SECRET, Item=item())

    assert_store_unavailable(failed, "DynamoDB PutItem", BotoCoreError, "EndpointConnectionError")


def test_throttling_raises_store_unavailable_naming_the_call() -> None:
    db = boto3.client("dynamodb")
    with Stubber(db) as stubber:
        stubber.add_client_error(
            "put_item", "ProvisionedThroughputExceededException", http_status_code=400
        )
        with pytest.raises(StoreUnavailable) as failed, aws_call("DynamoDB PutItem"):
            db.put_item(TableName=SECRET, Item=item())

    assert_store_unavailable(
        failed, "DynamoDB PutItem", ClientError, "ProvisionedThroughputExceededException"
    )


# --- every store's calls go through aws_call -----------------------------------------------


def cipher() -> TokenCipher:
    return TokenCipher(["a key for the tests"])


def session(account_id: str = "42") -> SignedIn:
    return SignedIn(SECRET, account_id, "somebody", NOW + 10)


StoreCall = Callable[[Any, Any, Any], object]

# (the call named in the message, what a store does with clients for dynamodb, s3, sqs)
STORE_CALLS: list[tuple[str, StoreCall]] = [
    (
        "DynamoDB PutItem",
        lambda db, s3, sqs: SessionStore(db, SECRET, cipher(), LIFETIMES).start_pending(
            SECRET, SECRET, NOW
        ),
    ),
    (
        "DynamoDB DeleteItem",
        lambda db, s3, sqs: SessionStore(db, SECRET, cipher(), LIFETIMES).consume_pending(
            SECRET, NOW
        ),
    ),
    (
        "DynamoDB PutItem",
        lambda db, s3, sqs: SessionStore(db, SECRET, cipher(), LIFETIMES).start_session(
            SECRET, SECRET, NOW
        ),
    ),
    (
        "DynamoDB GetItem",
        lambda db, s3, sqs: SessionStore(db, SECRET, cipher(), LIFETIMES).signed_in(SECRET, NOW),
    ),
    (
        "DynamoDB UpdateItem",  # the sliding idle limit, reached by signed_in after a read
        lambda db, s3, sqs: SessionStore(db, SECRET, cipher(), LIFETIMES)._extend(
            session(), NOW, NOW
        ),
    ),
    (
        "DynamoDB DeleteItem",
        lambda db, s3, sqs: SessionStore(db, SECRET, cipher(), LIFETIMES).end_session(SECRET),
    ),
    (
        "DynamoDB Query",
        lambda db, s3, sqs: SessionStore(db, SECRET, cipher(), LIFETIMES).end_account_sessions(
            SECRET
        ),
    ),
    (
        "DynamoDB UpdateItem",
        lambda db, s3, sqs: AccountStore(db, SECRET, cipher()).save(
            SECRET, SECRET, SECRET, SECRET, NOW
        ),
    ),
    ("DynamoDB DeleteItem", lambda db, s3, sqs: AccountStore(db, SECRET, cipher()).forget(SECRET)),
    (
        "DynamoDB GetItem",
        lambda db, s3, sqs: AccountStore(db, SECRET, cipher()).account_tokens(SECRET),
    ),
    (
        "DynamoDB UpdateItem",
        lambda db, s3, sqs: AccountStore(db, SECRET, cipher()).save_settings(SECRET, {"x": SECRET}),
    ),
    (
        "DynamoDB UpdateItem",
        lambda db, s3, sqs: AccountStore(db, SECRET, cipher()).mark_token_rejected(SECRET, NOW),
    ),
    ("DynamoDB Query", lambda db, s3, sqs: list(AccountIndex(db, SECRET).due(NOW))),
    ("S3 GetObject", lambda db, s3, sqs: Archive(s3, SECRET).load(SECRET)),
    ("S3 GetObject", lambda db, s3, sqs: Archive(s3, SECRET).load_report(SECRET)),
    ("S3 PutObject", lambda db, s3, sqs: Archive(s3, SECRET).save(SECRET, ArchiveState())),
    ("S3 PutObject", lambda db, s3, sqs: Archive(s3, SECRET).save_report(SECRET, {})),
    ("S3 ListObjectVersions", lambda db, s3, sqs: Archive(s3, SECRET).delete(SECRET)),
    (
        "S3 DeleteObjects",
        lambda db, s3, sqs: Archive(s3, SECRET).delete_written([Written(SECRET, SECRET)]),
    ),
    ("S3 ListObjectVersions", lambda db, s3, sqs: list(Archive(s3, SECRET).account_folders())),
    ("SQS SendMessageBatch", lambda db, s3, sqs: RefreshQueue(sqs, SECRET).send(["42"])),
    (
        "SQS ChangeMessageVisibility",
        lambda db, s3, sqs: RefreshQueue(sqs, SECRET).hand_back(SECRET, 60),
    ),
]


@pytest.mark.parametrize(
    ("call", "use"), STORE_CALLS, ids=[f"{n}-{c}" for n, (c, _) in enumerate(STORE_CALLS)]
)
def test_every_store_call_out_of_reach_is_store_unavailable(
    call: str, use: StoreCall, closed_port: int
) -> None:
    clients = [unreachable(service, closed_port) for service in ("dynamodb", "s3", "sqs")]

    with pytest.raises(StoreUnavailable) as failed:
        use(*clients)

    assert_store_unavailable(failed, call, BotoCoreError, "EndpointConnectionError")


@pytest.fixture
def stubbed_db() -> Iterator[tuple[Any, Stubber]]:
    db = boto3.client("dynamodb")
    with Stubber(db) as stubber:
        yield db, stubber
        stubber.assert_no_pending_responses()


def test_a_failed_extension_of_the_idle_limit_is_store_unavailable(
    stubbed_db: tuple[Any, Stubber],
) -> None:
    db, stubber = stubbed_db
    live = {
        "pk": {"S": "session#x"},
        "kind": {"S": "session"},
        "account_id": {"S": "42"},
        "username": {"S": "somebody"},
        "created_at": {"N": str(NOW)},
        "expires_at": {"N": str(NOW + 10)},
    }
    stubber.add_response("get_item", {"Item": live})
    stubber.add_client_error("update_item", "InternalServerError", http_status_code=500)

    with pytest.raises(StoreUnavailable) as failed:
        SessionStore(db, SECRET, cipher(), LIFETIMES).signed_in(SECRET, NOW)

    assert_store_unavailable(failed, "DynamoDB UpdateItem", ClientError, "InternalServerError")


def test_a_failed_batch_delete_of_sessions_is_store_unavailable(
    stubbed_db: tuple[Any, Stubber],
) -> None:
    db, stubber = stubbed_db
    stubber.add_response("query", {"Items": [{"pk": {"S": "session#x"}}]})
    stubber.add_client_error("batch_write_item", "InternalServerError", http_status_code=500)

    with pytest.raises(StoreUnavailable) as failed:
        SessionStore(db, SECRET, cipher(), LIFETIMES).end_account_sessions(SECRET)

    assert_store_unavailable(failed, "DynamoDB BatchWriteItem", ClientError, "InternalServerError")


# --- the outcomes each store makes of ConditionFailed and NotFound, against moto -----------


def test_the_outcomes_stores_make_of_a_false_condition_and_a_missing_key(
    table: tuple[Any, str], aws: dict[str, str]
) -> None:
    db, name = table
    sessions = SessionStore(db, name, cipher(), LIFETIMES)
    accounts = AccountStore(db, name, cipher())
    archive = Archive(boto3.client("s3"), aws["BUCKET_NAME"])

    with pytest.raises(SignInExpired) as expired:
        sessions.consume_pending("never-started", NOW)
    signed_out = session()
    extended = sessions._extend(signed_out, NOW, NOW)  # the session was ended meanwhile

    assert isinstance(expired.value.__cause__, ConditionFailed)
    assert extended is signed_out
    assert accounts.mark_token_rejected("404404", NOW) is False
    assert accounts.save_settings("404404", {"x": "y"}) is False
    assert archive.load("404404") is None
    assert archive.load_report("404404") is None
    assert db.scan(TableName=name)["Items"] == []  # nothing was created for the absent


# --- the invocation's AWS budget, over real sockets ----------------------------------------
# (The arithmetic, on a fake clock: tests/unit/test_aws_deadline.py.)


def test_every_client_of_the_app_has_the_deadline_s_timeouts(
    aws: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib import config, services

    monkeypatch.setenv("AWS_DEADLINE_SECONDS", "4")
    services.reset()
    clients = [services.dynamodb(), services.s3(), services.sqs()]
    clients += [config._secrets().client, config._ssm().client]
    for app_client in clients:
        # 4/20 s to connect, 4/10 s to read, two attempts in botocore's standard mode
        assert (app_client.meta.config.connect_timeout, app_client.meta.config.read_timeout) == (
            0.2,
            0.4,
        )
        assert app_client.meta.config.retries == {"mode": "standard", "total_max_attempts": 2}


def test_a_hung_store_costs_one_read_timeout_then_fails_at_once(
    closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from chalicelib import config
    from chalicelib.errors import aws_budget
    from tests.support.forwarder import Forwarder

    monkeypatch.setenv("AWS_DEADLINE_SECONDS", "2")  # 0.1 s to connect, 0.2 s to read
    config.clear_caches()
    with Forwarder(("127.0.0.1", closed_port)) as hung:
        hung.mode = "hang"
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", hung.url)
        sessions = SessionStore(config.aws_client("dynamodb"), SECRET, cipher(), LIFETIMES)
        # GIVEN an invocation, and DynamoDB accepting connections and never answering
        with aws_budget(2, config.aws_timeouts()) as budget:
            started = time.monotonic()
            # WHEN a store calls it THEN one attempt times out (no retry), in 0.2 s
            with pytest.raises(StoreUnavailable) as hung_call:
                sessions.signed_in(SECRET, NOW)
            timed_out = time.monotonic() - started
            # AND the next call fails at once, without a connection
            with pytest.raises(StoreUnavailable) as next_call:
                sessions.end_session(SECRET)
            refused_in = time.monotonic() - started - timed_out
        assert hung.accepted["hang"] == 1
    assert_store_unavailable(hung_call, "DynamoDB GetItem", BotoCoreError, "ReadTimeoutError")
    assert 0.2 <= timed_out < 1.0 and budget.spent == pytest.approx(timed_out, abs=0.05)
    assert "did not answer earlier" in str(next_call.value) and refused_in < 0.1
    config.clear_caches()
