"""Reads of an account's timelines from X API v2, through tweepy.Client and its Paginator,
and the handles of the authors a report shows (GET /2/users, up to 100 ids a request).

The timelines are read without `expansions=author_id`: X bills every user an answer
includes ($0.010 each, twice a post), and most authors are never shown. A report asks for
the few handles it shows instead (report_service), once each, ever (the archive keeps them).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import tweepy

from chalicelib.errors import ResponsetimeError, XRateLimited, XReadCutShort
from chalicelib.x_http import last_rate_limit, x_errors

if TYPE_CHECKING:
    from chalicelib.budget import Grant, XBudget

TWEET_FIELDS = [
    "created_at",
    "author_id",
    "conversation_id",
    "in_reply_to_user_id",
    "referenced_tweets",
]
PAGE_SIZE = 100

MENTIONS = "mentions"
OWN_POSTS = "tweets"
USERS = "users"  # GET /2/users?ids=: the budget's name for the users lookup
USERS_PER_REQUEST = 100  # X takes up to 100 ids a request


@dataclass
class Fetched:
    """Posts of one id range, newest first as X pages them.

    `error` is set when X failed part-way: the posts fetched before it are still here, and
    `oldest_id` says where the unread rest begins, so nothing paid for is thrown away.
    """

    posts: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    error: ResponsetimeError | None = None

    @property
    def complete(self) -> bool:
        return self.error is None

    @property
    def newest_id(self) -> str | None:
        return max((p["id"] for p in self.posts), key=int, default=None)

    @property
    def oldest_id(self) -> str | None:
        return min((p["id"] for p in self.posts), key=int, default=None)


@dataclass
class UsersRead:
    """What X said of some user ids: the handles of those it showed, and the ids it said it
    has no user for (deleted, suspended: its `errors`). An id in neither was not asked (X
    failed first, `error`), and may be asked again."""

    handles: dict[str, str] = field(default_factory=dict)
    missing: set[str] = field(default_factory=set)
    requests: int = 0
    error: ResponsetimeError | None = None

    @property
    def billed(self) -> int:
        """The users X bills: every user it returned."""
        return len(self.handles)


class XTimeline:
    """Wraps a user-context tweepy.Client that returns X's JSON as dicts.

    With a `budget` (the account token's), each page takes a token first; a refused token
    ends the read the way X's 429 does (BudgetExhausted is an XRateLimited), before anything
    is sent to X. Each of X's answers, a 429 included, tells the budget what X counts for
    the token (`XBudget.learn`), so uses of the token elsewhere are respected.
    `user_auth`: Tweepy's name for OAuth 1.0a signing; False for an OAuth 2.0 account, whose
    client sends its access token as the Bearer token (x_oauth2.UserBearerSession).
    """

    def __init__(
        self,
        client: Any,
        budget: XBudget | None = None,
        clock: Callable[[], float] = time.time,
        *,
        user_auth: bool = True,
    ) -> None:
        self._client = client
        self._budget = budget
        self._clock = clock
        self._user_auth = user_auth

    def _params(
        self,
        timeline: str,
        since_id: str | None,
        until_id: str | None,
        start_time: datetime | None,
    ) -> dict[str, Any]:
        """The query of a read: the fields the report needs, and its range."""
        params: dict[str, Any] = {
            "max_results": PAGE_SIZE,
            "tweet_fields": TWEET_FIELDS,
            "user_auth": self._user_auth,
        }
        if since_id:
            params["since_id"] = since_id
        if until_id:
            params["until_id"] = until_id
        if start_time is not None:
            params["start_time"] = start_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return params

    def fetch(
        self,
        timeline: str,
        account_id: str,
        *,
        since_id: str | None = None,
        until_id: str | None = None,
        start_time: datetime | None = None,
        deadline: float | None = None,
    ) -> Fetched:
        """Every post of `timeline` (MENTIONS or OWN_POSTS) in (since_id, until_id), or
        created from `start_time` on (a read with an overlap: it also finds what X indexed
        late). Past `deadline` (epoch seconds) no further page is asked for
        (XReadCutShort): the first always is, so every read makes progress."""
        method = (
            self._client.get_users_mentions
            if timeline == MENTIONS
            else self._client.get_users_tweets
        )
        params = self._params(timeline, since_id, until_id, start_time)
        fetched = Fetched()
        pages = iter(tweepy.Paginator(method, account_id, **params))
        more = True
        while more:
            if deadline is not None and fetched.requests and self._clock() >= deadline:
                fetched.error = XReadCutShort(f"GET {timeline}: the time for X ran out")
                return fetched
            grant = None
            try:
                if self._budget is not None:
                    grant = self._budget.take(timeline)
                with x_errors(f"GET {timeline}"):
                    page = next(pages)
            except ResponsetimeError as error:
                if isinstance(error, XRateLimited) and grant is not None:
                    self._learn(timeline, grant, error)
                fetched.error = error
                return fetched
            self._learn(timeline, grant)
            fetched.requests += 1
            fetched.posts.extend(page.get("data") or [])
            # The Paginator asks X for another page only after a next_token; checking here
            # keeps a token from being taken for a request that is never sent.
            more = bool((page.get("meta") or {}).get("next_token"))
        return fetched

    def users(self, user_ids: Sequence[str]) -> UsersRead:
        """The handles of `user_ids`, USERS_PER_REQUEST a request, each request taking a
        token of the budget first. Stops at X's first failure (or a refused token): what
        was read before is kept."""
        read = UsersRead()
        for start in range(0, len(user_ids), USERS_PER_REQUEST):
            asked = list(user_ids[start : start + USERS_PER_REQUEST])
            grant = None
            try:
                if self._budget is not None:
                    grant = self._budget.take(USERS)
                with x_errors("GET users"):
                    answer = self._client.get_users(
                        ids=asked, user_fields=["username"], user_auth=self._user_auth
                    )
            except ResponsetimeError as error:
                if isinstance(error, XRateLimited) and grant is not None:
                    self._learn(USERS, grant, error)
                read.error = error
                return read
            self._learn(USERS, grant)
            read.requests += 1
            for user in answer.get("data") or []:
                read.handles[str(user["id"])] = str(user["username"])
            for problem in answer.get("errors") or []:
                user_id = str(problem.get("resource_id") or problem.get("value") or "")
                if problem.get("resource_type") == "user" and user_id in asked:
                    read.missing.add(user_id)
        return read

    def _learn(
        self, timeline: str, grant: Grant | None, limited: XRateLimited | None = None
    ) -> None:
        """Tell the budget what X's answer said of the token's window; a 429 without the
        headers but with a reset time says as much (nothing left until then)."""
        if self._budget is None or grant is None:
            return
        seen = last_rate_limit(self._client)
        if seen is not None:
            remaining, reset_at = seen.remaining, seen.reset_at
        elif limited is not None and limited.reset_at is not None:
            remaining, reset_at = 0, int(limited.reset_at)
        else:
            return
        if limited is not None:
            remaining = 0
        try:
            self._budget.learn(timeline, remaining, reset_at, grant)
        except ResponsetimeError:  # storage failing: the bucket's own count still holds
            return
