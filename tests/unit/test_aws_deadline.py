"""The invocation's AWS time (errors.AwsBudget), worked out on a fake clock: real botocore
clients, built by config.aws_client, whose requests never leave the process (botocore's
`before-send` event answers them, as AWS would, after the time the test says). GIVEN / WHEN
/ THEN; every figure is worked out in a comment.

AWS_DEADLINE_SECONDS is 2 here: 0.1 s to connect, 0.2 s to read, so one attempt's worst
case is 0.3 s."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

from chalicelib import config, observability
from chalicelib.errors import (
    AwsBudget,
    AwsTimeouts,
    StoreUnavailable,
    aws_budget,
    aws_call,
    current_budget,
    retry_wait_bound,
)
from tests.support.lambda_context import LambdaContext
from tests.unit.fakes import Clock

DEADLINE = 2.0
TIMEOUTS = AwsTimeouts.for_deadline(DEADLINE)  # connect 0.1, read 0.2: an attempt 0.3


class Body:
    def __init__(self, content: bytes) -> None:
        self._content = content

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._content

    def read(self, *_: Any, **__: Any) -> bytes:  # what S3's StreamingBody reads
        content, self._content = self._content, b""
        return content


class FakeAws:
    """Answers each attempt of a client's requests (botocore's `before-send`), moving the
    clock on by what the attempt took: `answer(seconds)`, `fail(seconds, status)`, or
    `time_out(seconds)`; what is not scripted answers 200 `{}` at once."""

    def __init__(self, client: Any, clock: Clock) -> None:
        self.clock = clock
        self.script: list[tuple[float, Any]] = []
        self.attempts = 0
        name = client.meta.service_model.service_id.hyphenize()
        client.meta.events.register(f"before-send.{name}", self._send)

    def answer(self, seconds: float, times: int = 1) -> FakeAws:
        self.script += [(seconds, 200)] * times
        return self

    def fail(self, seconds: float, status: int = 500, times: int = 1) -> FakeAws:
        self.script += [(seconds, status)] * times
        return self

    def time_out(self, seconds: float = TIMEOUTS.read) -> FakeAws:
        self.script.append((seconds, ReadTimeoutError(endpoint_url="https://aws")))
        return self

    def _send(self, request: Any, **_: Any) -> AWSResponse:
        self.attempts += 1
        seconds, outcome = self.script.pop(0) if self.script else (0.0, 200)
        self.clock.now += seconds
        if isinstance(outcome, Exception):
            raise outcome
        body = b"{}" if outcome == 200 else b'{"__type": "InternalServerError"}'
        return AWSResponse(request.url, outcome, {}, Body(body))


@pytest.fixture(autouse=True)
def deadline(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_DEADLINE_SECONDS", str(DEADLINE))
    config.clear_caches()
    yield
    config.clear_caches()


@pytest.fixture
def clock() -> Clock:
    return Clock(1000.0)


def dynamodb(clock: Clock) -> tuple[Any, FakeAws]:
    client = config.aws_client("dynamodb")
    return client, FakeAws(client, clock)


def get_item(client: Any) -> None:
    with aws_call("DynamoDB GetItem"):
        client.get_item(TableName="t", Key={"pk": {"S": "x"}})


# --- the timeouts every client gets ---------------------------------------------------------


def test_every_client_gets_timeouts_and_retries_from_the_deadline() -> None:
    # GIVEN AWS_DEADLINE_SECONDS=2 WHEN the app builds a client
    client = config.aws_client("s3")
    # THEN it connects within 2/20 s, reads within 2/10 s, and tries at most twice
    assert (client.meta.config.connect_timeout, client.meta.config.read_timeout) == (0.1, 0.2)
    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 2}
    assert TIMEOUTS.attempt == pytest.approx(0.3)
    # AND by default (10 s) a hung dependency costs a page 0.5 + 1 = 1.5 s
    assert AwsTimeouts.for_deadline(10).attempt == pytest.approx(1.5)


def test_no_budget_outside_an_invocation(clock: Clock) -> None:
    client, fake = dynamodb(clock)
    fake.answer(5.0, times=3)
    for _ in range(3):
        get_item(client)  # 15 s of AWS time, and no invocation to bound it
    assert current_budget() is None and fake.attempts == 3


# --- the deadline ---------------------------------------------------------------------------


def test_a_call_starts_only_while_one_attempt_still_fits(clock: Clock) -> None:
    client, fake = dynamodb(clock)
    # GIVEN an invocation whose calls each take 0.6 s
    fake.answer(0.6, times=4)
    with aws_budget(DEADLINE, TIMEOUTS, clock) as budget:
        # WHEN it makes calls THEN three run: after them 2 - 1.8 = 0.2 s is left, less
        #      than the 0.3 s of one attempt
        for _ in range(3):
            get_item(client)
        with pytest.raises(StoreUnavailable, match="deadline") as refused:
            get_item(client)
    # AND the fourth never reached AWS, and the invocation stayed within its deadline
    assert fake.attempts == 3
    assert budget.spent == pytest.approx(1.8) and budget.spent <= DEADLINE
    assert str(refused.value) == (
        "DynamoDB GetItem not attempted: the AWS deadline is spent (1.80 of 2 s)"
    )


def test_the_budget_is_per_invocation(clock: Clock) -> None:
    client, fake = dynamodb(clock)
    fake.answer(1.8)
    with aws_budget(DEADLINE, TIMEOUTS, clock):
        get_item(client)
        with pytest.raises(StoreUnavailable, match="deadline"):
            get_item(client)
    # WHEN the next invocation starts THEN it has the whole deadline again
    with aws_budget(DEADLINE, TIMEOUTS, clock) as budget:
        get_item(client)
    assert budget.spent == 0.0 and fake.attempts == 2


def test_a_retry_happens_only_when_it_still_fits(clock: Clock) -> None:
    client, fake = dynamodb(clock)
    # GIVEN DynamoDB answering 500, then 200
    fake.fail(0.1).answer(0.1)
    with aws_budget(DEADLINE, TIMEOUTS, clock) as budget:
        # WHEN there is time THEN botocore retries: 2 - 0.1 = 1.9 s left, and a retry needs
        #      at most 1 s of backoff (the first one's) + 0.3 s
        get_item(client)
    assert fake.attempts == 2 and budget.spent == pytest.approx(0.2)

    fake.fail(0.1, times=2)
    with aws_budget(DEADLINE, TIMEOUTS, clock) as budget:
        budget.spend(0.7)
        # WHEN only 2 - 0.7 - 0.1 = 1.2 s is left after the first attempt THEN no retry:
        #      1.2 < 1 + 0.3, and the 500 is the answer
        with pytest.raises(StoreUnavailable, match="InternalServerError"):
            get_item(client)
    assert fake.attempts == 3


def test_the_longest_backoff_botocore_may_wait() -> None:
    # rand(0,1) * min(2 ** (attempt - 1), 20) s at most, for a throttle
    assert [retry_wait_bound(n) for n in (1, 2, 5, 6, 9)] == [1, 2, 16, 20, 20]
    # plus what x-amz-retry-after asks, up to 5 s more
    hinted = AWSResponse("https://aws", 503, {"x-amz-retry-after": "1500"}, Body(b""))
    assert retry_wait_bound(1, (hinted, {})) == 2.5
    hinted.headers["x-amz-retry-after"] = "60000"
    assert retry_wait_bound(1, (hinted, {})) == 6


# --- a service that does not answer -----------------------------------------------------------


def test_a_service_that_timed_out_is_not_asked_again_in_the_invocation(clock: Clock) -> None:
    client, fake = dynamodb(clock)
    s3 = config.aws_client("s3")
    s3_fake = FakeAws(s3, clock)
    # GIVEN DynamoDB timing out
    fake.time_out()
    with aws_budget(DEADLINE, TIMEOUTS, clock) as budget:
        # WHEN a call times out THEN it is not retried (a retry would cost another 0.3 s)
        with pytest.raises(StoreUnavailable, match="ReadTimeoutError"):
            get_item(client)
        assert fake.attempts == 1
        # AND the next call to DynamoDB fails at once, without an attempt
        with pytest.raises(StoreUnavailable, match="did not answer earlier") as refused:
            get_item(client)
        assert fake.attempts == 1
        assert str(refused.value) == (
            "DynamoDB GetItem not attempted: DynamoDB did not answer earlier in this invocation"
        )
        # AND another service is still asked: 1.8 s of the deadline is left
        with aws_call("S3 GetObject"):
            s3.get_object(Bucket="b", Key="k")["Body"].read()
        assert s3_fake.attempts == 1 and budget.spent == pytest.approx(0.2)
    # WHEN the next invocation starts THEN DynamoDB is asked again
    with aws_budget(DEADLINE, TIMEOUTS, clock):
        get_item(client)
    assert fake.attempts == 2


def test_a_refused_connection_is_retried_once_then_the_service_is_silent(clock: Clock) -> None:
    client, fake = dynamodb(clock)
    refused = EndpointConnectionError(endpoint_url="https://aws")
    fake.script += [(0.001, refused), (0.001, refused)]
    with aws_budget(DEADLINE, TIMEOUTS, clock) as budget:
        with pytest.raises(StoreUnavailable, match="EndpointConnectionError"):
            get_item(client)
        assert fake.attempts == 2 and "DynamoDB" in budget.silent
        with pytest.raises(StoreUnavailable, match="did not answer earlier"):
            get_item(client)
    assert fake.attempts == 2


def test_an_s3_body_that_stops_coming_counts_and_silences_s3(clock: Clock) -> None:
    # GIVEN a GetObject whose headers came, then its body stopped (seen only by aws_call)
    with (
        aws_budget(DEADLINE, TIMEOUTS, clock) as budget,
        pytest.raises(StoreUnavailable),
        aws_call("S3 GetObject"),
    ):
        raise ReadTimeoutError(endpoint_url="https://aws")
    # THEN the read timeout is counted, and S3 is not asked again
    assert budget.spent == pytest.approx(TIMEOUTS.read) and budget.silent == {"S3"}


def test_a_secret_read_the_budget_refuses_keeps_its_words(clock: Clock) -> None:
    # GIVEN Secrets Manager silent in this invocation (Powertools wraps what the client
    #       raised in GetParameterError)
    with aws_budget(DEADLINE, TIMEOUTS, clock) as budget:
        budget.silent.add("Secrets Manager")
        with pytest.raises(StoreUnavailable) as refused:
            config.secret("responsetime/cookie-keys")
    # THEN the store error says why, in the budget's words
    assert str(refused.value) == (
        "Secrets Manager GetSecretValue not attempted: "
        "Secrets Manager did not answer earlier in this invocation"
    )


def test_each_thread_has_a_budget_of_its_own(clock: Clock) -> None:
    seen: list[AwsBudget | None] = []
    with aws_budget(DEADLINE, TIMEOUTS, clock) as mine:
        # chalice local answers each request in a thread of its own
        other = threading.Thread(target=lambda: seen.append(current_budget()))
        other.start()
        other.join()
        assert current_budget() is mine
    assert seen == [None] and current_budget() is None


# --- observability's log_context: where an invocation starts -----------------------------


def request_event(path: str = "/report", stage: str | None = None) -> dict[str, Any]:
    context: dict[str, Any] = {"httpMethod": "GET", "resourcePath": path, "path": path}
    if stage:
        context["stage"] = stage
    return {"requestContext": context, "headers": {}, "path": path}


def test_each_invocation_starts_a_budget_a_request_with_the_deadline() -> None:
    budgets: list[AwsBudget | None] = []

    def handler(event: Any, context: Any) -> str:
        budgets.append(current_budget())
        return "done"

    invoke = observability.log_context(handler)
    assert invoke(request_event(), LambdaContext()) == "done"
    assert invoke(request_event(), LambdaContext()) == "done"
    assert invoke({"Records": []}, LambdaContext()) == "done"  # the SQS worker

    first, second, worker = budgets
    assert first is not None and second is not None and worker is not None
    assert first is not second and first.deadline == second.deadline == DEADLINE
    assert worker.deadline == float("inf")  # Lambda's timeout bounds an event function
    assert current_budget() is None


def test_a_request_whose_settings_cannot_be_read_is_our_503(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN settings that cannot be read (deployed: SSM does not answer the public URL)
    def unreadable(port: str) -> str:
        raise StoreUnavailable("SSM GetParameter failed: GetParameterError")

    monkeypatch.setattr(config, "_public_url", unreadable)
    routed: list[str] = []
    invoke = observability.log_context(lambda event, context: routed.append("route"))
    # WHEN a page and the JSON report are asked for, at API Gateway's stage `api`
    page = invoke(request_event("/report", stage="api"), LambdaContext())
    data = invoke(request_event("/report.json", stage="api"), LambdaContext())
    # THEN no route runs, and each is our 503, its links under the stage's path
    assert routed == []
    assert page.status_code == 503 and "Our storage did not answer" in page.body
    assert 'href="/api/auth"' in page.body and "Content-Security-Policy" in page.headers
    assert data.status_code == 503 and data.body == {"error": "Something on our side failed"}
    assert data.headers["Content-Type"] == "application/json"


def test_the_503_without_settings_says_what_every_503_of_the_store_says() -> None:
    from chalicelib.web import ERROR_PAGES

    assert ERROR_PAGES[StoreUnavailable] == observability.STORE_UNAVAILABLE_ANSWER
