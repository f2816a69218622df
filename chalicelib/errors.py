"""The few things that go wrong, in the product's words. Wrappers raise these `from` the
cause (x_http.x_errors for X, aws_call here for AWS); the view layer maps each to one HTTP
answer.

Also the invocation's AWS time (`AwsBudget`): a request answers within AWS_DEADLINE_SECONDS
of time spent in AWS, whatever AWS does, because a call that could not end in time is not
made at all and fails as StoreUnavailable, like any other failure of the store."""

from __future__ import annotations

import contextlib
import contextvars
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)


class ResponsetimeError(Exception):
    """Base of every domain error."""


class SignInExpired(ResponsetimeError):
    """No pending login for this browser: no cookie, a tampered one, or it timed out."""


class SignInMismatch(ResponsetimeError):
    """The callback names a different request token than the one this browser started."""


class BadCallback(ResponsetimeError):
    """The callback's query is missing a value or carries one no sane X would send."""


class XRejected(ResponsetimeError):
    """X answered 401/403: it does not accept the app's or the account's credentials."""


class XUnavailable(ResponsetimeError):
    """X could not be reached, timed out, or failed with 5xx."""


class XRateLimited(ResponsetimeError):
    """X answered 429; `reset_at` is the epoch second X named to come back, when it did."""

    def __init__(self, message: str, reset_at: int | None = None) -> None:
        super().__init__(message)
        self.reset_at = reset_at


class XPaymentRequired(XRateLimited):
    """X answered 402: the operator's pay-per-use credits are spent. Like a 429 it ends a
    read and keeps what was read; unlike one it pauses the whole fleet's reads (x_pause)."""


class XReadsPaused(XRateLimited):
    """X reads are paused by the operator's plan (x_pause: X's 402, or the month's cap):
    nothing is asked of X until `reset_at`, the next probe (or the month's turn)."""


class XReadCutShort(ResponsetimeError):
    """The time a page view (or a worker) may spend reading X ran out. Like X's own
    failures it ends the read and keeps what was read, the rest becoming a gap; unlike
    them it says nothing is wrong: a refresh worker reads the rest."""


class StoreUnavailable(ResponsetimeError):
    """DynamoDB, S3, SQS or Secrets Manager failed."""


class ConditionFailed(Exception):
    """A DynamoDB condition was false: an expected outcome, not a failure of the store.

    Not a ResponsetimeError: no page answers it, and no `except StoreUnavailable` or
    `except ResponsetimeError` may take it for one. The store that asked turns it into its
    own answer (SignInExpired, False, None) right where it called. `item` is the item
    DynamoDB returned with ReturnValuesOnConditionCheckFailure="ALL_OLD", else None.
    """

    def __init__(self, call: str, item: dict[str, Any] | None = None) -> None:
        super().__init__(f"{call}: condition false")
        self.item = item


class NotFound(Exception):
    """S3 holds no object under the key: an expected outcome, like ConditionFailed."""


# The codes S3 answers for a key it does not hold (a HEAD, having no body, says "404").
S3_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})


@contextlib.contextmanager
def aws_call(call: str) -> Iterator[None]:
    """Turn whatever boto3 raises for one AWS call into the product's words:

        with aws_call("DynamoDB PutItem"):
            self._db.put_item(TableName=self._table, Item=item)

    A failure raises StoreUnavailable("DynamoDB PutItem failed: ClientError"): the call and
    the error's type (boto3's own for a modeled code: ResourceNotFoundException; botocore's
    for no answer: EndpointConnectionError), never a value of the request. Two answers are
    outcomes, raised as their own exceptions for the call site to catch: a false condition
    (ConditionFailed, with the item DynamoDB returned) and a key S3 does not hold
    (NotFound). Each is raised `from` botocore's error.
    """
    try:
        yield
    except ClientError as error:
        response: Any = error.response
        code = response.get("Error", {}).get("Code")
        if code == "ConditionalCheckFailedException":
            raise ConditionFailed(call, response.get("Item")) from error
        if code in S3_MISSING:
            raise NotFound(call) from error
        raise StoreUnavailable(f"{call} failed: {type(error).__name__}") from error
    except BotoCoreError as error:
        if isinstance(error, NO_ANSWER):
            # Most are seen by the client's own hooks already; an S3 body that stops coming
            # after the call returned is seen only here. `call` is "<service> <operation>",
            # the service as botocore names it ("DynamoDB", "S3", "SQS").
            _silent(call.rsplit(" ", 1)[0], error)
        raise StoreUnavailable(f"{call} failed: {type(error).__name__}") from error


# --- The invocation's AWS time ------------------------------------------------------------
# Every client of the app is built by config.aws_client, which hands it to `guard_client`:
# botocore's own events then put each API call (a paginator's pages, Powertools' reads of
# secrets and parameters, botocore's retries) under the budget of the invocation running,
# which observability's log_context starts for each Lambda invocation. Outside one (a test,
# a script) there is no budget and the hooks do nothing. The hooks, not aws_call's block,
# measure: a block may hold a paginator's many calls or yield to its caller between pages
# (AccountIndex.due, Archive._versions), and Powertools' reads never pass through one.

# Errors that mean the service did not answer at all (not an error it answered).
NO_ANSWER = (ConnectTimeoutError, ReadTimeoutError, EndpointConnectionError, ConnectionClosedError)
# A timed-out attempt already cost its whole timeout; the next would most likely too.
TIMED_OUT = (ConnectTimeoutError, ReadTimeoutError)

# botocore's standard retries wait rand(0, 1) * min(scale * 2 ** (attempt - 1), 20) s before
# another attempt (scale: 1 s after throttling, 50 ms otherwise), plus up to 5 s more when
# the answer carries x-amz-retry-after. The budget reckons with the most it can wait.
_BACKOFF_MAX_SECONDS = 20.0
_RETRY_AFTER_MAX_SECONDS = 5.0


@dataclass(frozen=True)
class AwsTimeouts:
    """What one AWS call may take, derived from the invocation's deadline (config.aws_client
    gives every client these): a call that does not connect in `connect` seconds, or whose
    answer stops for `read` seconds, fails, and botocore makes at most `attempts` attempts."""

    connect: float
    read: float
    attempts: int = 2

    @classmethod
    def for_deadline(cls, deadline_seconds: float) -> AwsTimeouts:
        """A twentieth of the deadline to connect (0.5 s of 10: AWS's endpoints in the region
        connect in milliseconds) and a tenth to wait for the answer (1 s: DynamoDB, Secrets
        Manager and SSM answer in tens of milliseconds, S3's first byte in a few hundred).
        One attempt's worst case is then 3/20 of the deadline (1.5 s of 10), so a dependency
        that hangs costs a page one and a half seconds and leaves most of the deadline to
        the others; one retry (standard mode, two attempts) rides out a throttle, a 5xx or
        a dropped keep-alive connection."""
        return cls(connect=deadline_seconds / 20, read=deadline_seconds / 10)

    @property
    def attempt(self) -> float:
        """One attempt's worst case: it connects just in time, then its answer never comes."""
        return self.connect + self.read


@dataclass
class AwsBudget:
    """The AWS time of one invocation: `deadline` seconds in all (math.inf: no limit), summed
    over the calls as they end. A call starts only while one attempt's worst case still
    fits, a retry only while its wait and another attempt do, so the sum stays within the
    deadline. A service that did not answer (a timeout, a refused or dropped connection)
    is not called again in the same invocation: each later call fails at once."""

    deadline: float
    timeouts: AwsTimeouts
    clock: Callable[[], float] = time.monotonic
    spent: float = 0.0
    silent: set[str] = field(default_factory=set)

    @property
    def left(self) -> float:
        return self.deadline - self.spent

    def admit(self, call: str, service: str) -> None:
        """Raise StoreUnavailable, without calling, when `call` could not end in time or
        its service did not answer earlier in this invocation."""
        if service in self.silent:
            raise StoreUnavailable(
                f"{call} not attempted: {service} did not answer earlier in this invocation"
            )
        if self.left < self.timeouts.attempt:
            raise StoreUnavailable(
                f"{call} not attempted: the AWS deadline is spent "
                f"({self.spent:.2f} of {self.deadline:g} s)"
            )

    def may_retry(self, in_call: float, wait: float) -> bool:
        """Whether another attempt, after waiting up to `wait`, still ends in time for a
        call that has run `in_call` seconds so far."""
        return self.left - in_call >= wait + self.timeouts.attempt

    def spend(self, seconds: float) -> None:
        self.spent += seconds


_BUDGET: contextvars.ContextVar[AwsBudget | None] = contextvars.ContextVar(
    "aws_budget", default=None
)


@contextlib.contextmanager
def aws_budget(
    deadline_seconds: float | None,
    timeouts: AwsTimeouts,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[AwsBudget]:
    """A fresh budget for the invocation it encloses (None: no deadline, only the rule on
    services that did not answer). A context variable: `chalice local` answers each request
    in a thread of its own, and no thread sees another's budget."""
    deadline = math.inf if deadline_seconds is None else deadline_seconds
    budget = AwsBudget(deadline, timeouts, clock)
    token = _BUDGET.set(budget)
    try:
        yield budget
    finally:
        _BUDGET.reset(token)


def current_budget() -> AwsBudget | None:
    return _BUDGET.get()


def _silent(service: str, error: BaseException) -> None:
    budget = _BUDGET.get()
    if budget is None or service in budget.silent:
        return
    budget.silent.add(service)
    if isinstance(error, ReadTimeoutError):
        # Time the client's hooks did not count: the wait for a body after the call ended.
        budget.spend(budget.timeouts.read)


# Where a call's hooks keep (budget, service, start) in botocore's request context.
_STARTED = "responsetime_aws_budget"


def guard_client(client: Any) -> Any:
    """Put every API call of `client` under the invocation's budget; returns the client."""
    events = client.meta.events
    name = client.meta.service_model.service_id.hyphenize()
    for event, handler in (
        ("before-call", _before_call),
        ("after-call", _after_call),
        ("after-call-error", _after_call_error),
    ):
        events.register(f"{event}.{name}", handler, unique_id=f"{_STARTED}-{event}")
    # First, and on the service's own event: botocore takes the first answer that is not
    # None, and the standard retry handler answers on this same event.
    events.register_first(f"needs-retry.{name}", _needs_retry, unique_id=f"{_STARTED}-retry")
    return client


def _before_call(model: Any, context: dict[str, Any], **_: Any) -> None:
    budget = _BUDGET.get()
    if budget is None:
        return
    service = str(model.service_model.service_id)
    budget.admit(f"{service} {model.name}", service)
    context[_STARTED] = (budget, service, budget.clock())


def _ended(context: dict[str, Any]) -> tuple[AwsBudget, str] | None:
    started = context.pop(_STARTED, None)
    if started is None:
        return None
    budget, service, at = started
    budget.spend(budget.clock() - at)
    return budget, service


def _after_call(context: dict[str, Any], **_: Any) -> None:
    _ended(context)


def _after_call_error(exception: BaseException, context: dict[str, Any], **_: Any) -> None:
    ended = _ended(context)
    if ended is not None and isinstance(exception, NO_ANSWER):
        budget, service = ended
        budget.silent.add(service)


def _needs_retry(
    attempts: int,
    request_dict: dict[str, Any],
    response: Any = None,
    caught_exception: BaseException | None = None,
    **_: Any,
) -> bool | None:
    """False (no retry) when the retry could not end in time or the attempt timed out;
    None lets botocore's standard retry handler decide, and wait, as it does."""
    started = request_dict.get("context", {}).get(_STARTED)
    if started is None:
        return None
    budget, _service, at = started
    if isinstance(caught_exception, TIMED_OUT):
        return False
    wait = retry_wait_bound(attempts, response)
    return None if budget.may_retry(budget.clock() - at, wait) else False


def retry_wait_bound(attempts: int, response: Any = None) -> float:
    """The longest botocore's standard retries wait after attempt number `attempts`."""
    wait = min(2.0 ** (attempts - 1), _BACKOFF_MAX_SECONDS)
    if response is None:
        return wait
    hint = response[0].headers.get("x-amz-retry-after")
    try:
        return wait + min(max(int(hint) / 1000, 0.0), _RETRY_AFTER_MAX_SECONDS)
    except (TypeError, ValueError):
        return wait
