"""The few things that go wrong, in the product's words. Wrappers raise these `from` the
cause; the view layer maps each to one HTTP answer."""

from __future__ import annotations


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


def store_failed(call: str, error: Exception) -> StoreUnavailable:
    """The domain error for an AWS call that failed, e.g. store_failed("DynamoDB PutItem",
    error); raise it `from` the error. Names the call and the error's type, never values."""
    return StoreUnavailable(f"{call} failed: {type(error).__name__}")


def conditional_check_failed(error: Exception) -> bool:
    """A DynamoDB condition was false: an expected outcome, not a failure of the store."""
    response = getattr(error, "response", None) or {}
    return bool(response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")
