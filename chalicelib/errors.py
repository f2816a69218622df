"""The few things that go wrong, in the product's words. Wrappers raise these `from` the
cause (x_http.x_errors for X, aws_call here for AWS); the view layer maps each to one HTTP
answer."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError


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
        raise StoreUnavailable(f"{call} failed: {type(error).__name__}") from error
