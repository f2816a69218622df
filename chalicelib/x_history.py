"""An account's older history from X's full archive, app-only: how much there is
(`GET /2/tweets/counts/all`) and the posts themselves (`GET /2/tweets/search/all`).

Both endpoints take the app's own bearer token (OAuth 2.0 client credentials, as batch
compliance does), never a person's: X's OpenAPI file gives them security `BearerToken`
only, and X answers 403 "Unsupported Authentication" to user context. Through Tweepy's
Client with that token, its session pointed at this X (x_http.XApiSession).

Two queries make an account's history: the mentions of her handle by others, and her own
replies (what the report needs of her posts). X limits search to 1 request a second and
300 per 15 minutes per app, counts to 300 per 15 minutes: each request takes from the
app's buckets first (budget.SEARCH_ALL, budget.COUNTS_ALL), and an empty bucket is a 429
before X is asked.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import tweepy

from chalicelib.budget import COUNTS_ALL, SEARCH_ALL
from chalicelib.errors import ResponsetimeError, XUnavailable
from chalicelib.x_http import XApiSession, last_rate_limit, x_errors
from chalicelib.x_timeline import TWEET_FIELDS

if TYPE_CHECKING:
    from chalicelib.budget import Grant, XBudget

MENTIONS = "mentions"
REPLIES = "replies"
QUERIES = (MENTIONS, REPLIES)
PAGE_SIZE = 500  # X's most for full-archive search
# Before X's first post (2006-03-21): the start of every account's history. Without a
# start_time, both endpoints answer only the last 30 days.
X_EPOCH = datetime(2006, 3, 21, tzinfo=UTC)


def query(kind: str, handle: str) -> str:
    """X's search query of one part of an account's history (`handle` without its @):
    mentions by others (not her own posts, not retweets), or her own replies."""
    if kind == MENTIONS:
        return f"@{handle} -from:{handle} -is:retweet"
    if kind == REPLIES:
        return f"from:{handle} is:reply"
    raise ValueError(f"no history query {kind!r}")


def x_time(moment: datetime) -> str:
    """X's YYYY-MM-DDTHH:mm:ssZ (second granularity: start inclusive, end exclusive)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Counted:
    """How many posts a query matches, and the requests it took (X bills each)."""

    posts: int = 0
    requests: int = 0


@dataclass
class SearchPage:
    """One page of a search, newest first; `next_token` None: the query is read to its
    start."""

    posts: list[dict[str, Any]] = field(default_factory=list)
    next_token: str | None = None


class HistoryClient:
    """Full-archive counts and search with the app's bearer token."""

    def __init__(
        self, base_url: str, bearer: str, timeout: float, budget: XBudget | None = None
    ) -> None:
        self._client = tweepy.Client(bearer_token=bearer, return_type=dict)
        self._client.session = XApiSession(base_url, timeout)
        self._budget = budget

    def _take(self, endpoint: str) -> Grant | None:
        return None if self._budget is None else self._budget.take(endpoint)

    def _call(self, endpoint: str, what: str, call: Callable[[], Any]) -> Any:
        """One request: a token from the app's bucket first, and what X's answer said of
        the app's window told to the bucket after (a 429's too)."""
        grant = self._take(endpoint)
        try:
            with x_errors(what):
                return call()
        finally:
            seen = last_rate_limit(self._client)
            if self._budget is not None and grant is not None and seen is not None:
                # storage failing: the bucket's own count still holds
                with contextlib.suppress(ResponsetimeError):
                    self._budget.learn(endpoint, seen.remaining, seen.reset_at, grant)

    def count(self, text: str, *, end: datetime, until_id: str | None = None) -> Counted:
        """Posts matching `text` created from X's first day to `end` (exclusive), or only
        those older than post `until_id` when given: X's day buckets summed over every page
        (X pages long ranges; each page is a request, and X bills each)."""
        counted = Counted()
        token: str | None = None
        while True:
            params = _range(end, until_id)
            params["granularity"] = "day"
            if token:
                params["next_token"] = token
            body = self._call(
                COUNTS_ALL,
                "GET tweets/counts/all",
                functools.partial(self._client.get_all_tweets_count, text, **params),
            )
            counted.requests += 1
            meta = _meta(body, "tweets/counts/all")
            total = meta.get("total_tweet_count")
            if not isinstance(total, int):
                total = sum(int(bucket.get("tweet_count", 0)) for bucket in body.get("data") or [])
            counted.posts += total
            token = meta.get("next_token")
            if not token:
                return counted

    def page(
        self,
        text: str,
        *,
        end: datetime,
        until_id: str | None = None,
        next_token: str | None = None,
    ) -> SearchPage:
        """One page (up to 500, newest first) of the posts `count` counts, with the fields
        the report reads; `next_token` from the page before, or None to begin."""
        params = _range(end, until_id)
        params.update(max_results=PAGE_SIZE, tweet_fields=TWEET_FIELDS)
        if next_token:
            params["next_token"] = next_token
        body = self._call(
            SEARCH_ALL,
            "GET tweets/search/all",
            functools.partial(self._client.search_all_tweets, text, **params),
        )
        posts = body.get("data") or []
        if not isinstance(posts, list):
            raise XUnavailable("tweets/search/all: X answered no list of posts")
        token = _meta(body, "tweets/search/all").get("next_token")
        return SearchPage(posts=posts, next_token=str(token) if token else None)


def _range(end: datetime, until_id: str | None) -> dict[str, Any]:
    """From X's first day to `end`, and, when given, before post `until_id` only: `end` is
    that post's created_at, which X takes to the second (exclusive), so the id keeps a
    post of the same second out, or in, exactly."""
    params: dict[str, Any] = {"start_time": x_time(X_EPOCH), "end_time": x_time(end)}
    if until_id is not None:
        params["until_id"] = until_id
    return params


def _meta(body: Any, what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise XUnavailable(f"{what}: X answered something that is not a JSON object")
    meta = body.get("meta") or {}
    if not isinstance(meta, dict):
        raise XUnavailable(f"{what}: X answered no meta object")
    return meta
