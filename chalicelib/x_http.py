"""HTTP plumbing shared by every call to X: one base URL, one timeout, one error mapping.

Tweepy hard-codes https://api.twitter.com. Instead of patching it, its `requests` sessions
are given here: the base URL is swapped *before* requests signs the call, so the OAuth 1.0a
signature covers the URL actually requested, whichever X (real or emulator) that is.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import requests
import tweepy
from oauthlib.oauth2 import OAuth2Error
from requests.adapters import HTTPAdapter

from chalicelib import observability
from chalicelib.errors import XPaymentRequired, XRateLimited, XRejected, XUnavailable

TWEEPY_HOSTS = ("https://api.twitter.com", "https://api.x.com")


class TimeoutAdapter(HTTPAdapter):
    """Gives every request a timeout; Tweepy never passes one, and Lambda must not hang."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, *args, **kwargs)


def mount_timeout(session: requests.Session, timeout: float) -> requests.Session:
    adapter = TimeoutAdapter(timeout)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


@dataclass(frozen=True)
class RateLimitSeen:
    """What X's `x-rate-limit-*` headers said of the token's window for the endpoint."""

    remaining: int
    reset_at: int  # epoch seconds


def rate_limit_of(headers: Mapping[str, str]) -> RateLimitSeen | None:
    """The headers' figures; None when X sent none (or not whole numbers)."""
    remaining = str(headers.get("x-rate-limit-remaining", ""))
    reset = str(headers.get("x-rate-limit-reset", ""))
    if not (remaining.isdigit() and reset.isdigit()):
        return None
    return RateLimitSeen(int(remaining), int(reset))


class XApiSession(requests.Session):
    """A session that sends what Tweepy addresses to api.twitter.com to `base_url`.

    `last_rate_limit` is what the latest answer's rate-limit headers said (a 429's too,
    read before Tweepy raises): Tweepy returns X's JSON without its headers, and the
    budget learns from them (x_timeline). One session per account client, so the latest
    answer is the request just made.
    """

    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.last_rate_limit: RateLimitSeen | None = None
        mount_timeout(self, timeout)

    def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(url, str):
            for host in TWEEPY_HOSTS:
                if url.startswith(host + "/"):
                    url = self.base_url + url[len(host) :]
                    break
        self.last_rate_limit = None
        response = super().request(method, url, *args, **kwargs)
        self.last_rate_limit = rate_limit_of(response.headers)
        return response


def last_rate_limit(client: Any) -> RateLimitSeen | None:
    """What X's latest answer to this Tweepy client said of the token's window, if its
    session is an XApiSession that saw the headers."""
    seen = getattr(getattr(client, "session", None), "last_rate_limit", None)
    return seen if isinstance(seen, RateLimitSeen) else None


def _status(error: BaseException) -> int | None:
    response = getattr(error, "response", None)
    status = getattr(response, "status_code", None) or getattr(error, "status_code", None)
    return status if isinstance(status, int) else None


def _reset_at(error: BaseException) -> int | None:
    reset = getattr(error, "reset_time", None)
    if reset is None:
        response = getattr(error, "response", None)
        header = getattr(response, "headers", {}).get("x-rate-limit-reset")
        reset = int(header) if header and str(header).isdigit() else None
    return reset


def translate(error: BaseException, what: str) -> Exception:
    """The domain error for whatever Tweepy, requests or requests-oauthlib raised."""
    # OAuth1UserHandler wraps the real cause, once or twice, as TweepyException(cause).
    cause = error
    while type(cause).__name__ == "TweepyException" and cause.args:
        if not isinstance(cause.args[0], BaseException):
            break
        cause = cause.args[0]
    if isinstance(cause, requests.exceptions.RequestException) and _status(cause) is None:
        return XUnavailable(f"{what}: X did not answer ({type(cause).__name__})")
    status = _status(cause) or _status(error)
    if status == 429:
        return XRateLimited(f"{what}: X answered 429", _reset_at(cause) or _reset_at(error))
    if status == 402:  # Tweepy raises a plain HTTPException for it: known by its status
        return XPaymentRequired(f"{what}: X answered 402 (the plan's credits are spent)")
    if status is not None and status >= 500:
        return XUnavailable(f"{what}: X answered {status}")
    return XRejected(f"{what}: X answered {status}")


@contextlib.contextmanager
def x_errors(what: str) -> Iterator[None]:
    """Turn any failure of a call to X into XRejected, XRateLimited or XUnavailable
    (oauthlib's OAuth2Error: X's token endpoint refused, with the status it answered)."""
    try:
        yield
    except (
        tweepy.TweepyException,
        requests.exceptions.RequestException,
        OAuth2Error,
        ValueError,
    ) as error:
        translated = translate(error, what)
        if isinstance(translated, XRateLimited):
            observability.count(observability.X_RATE_LIMITED)
        raise translated from error
