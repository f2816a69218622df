"""X's rate limits as DynamoDB buckets: one per account token and endpoint, and the app's.

X limits a read made with a person's own token (OAuth 1.0a user context) per token: mentions
300, own posts 900 per 15-minute window, whatever the rest of the fleet does. Its per-app
limits apply only to app-only (bearer) requests: full-archive search, counts, compliance
jobs. So `TokenBucket.for_account(id)` gives the buckets of one account's token
(`budget#<endpoint>#<account id>`), and a bucket without an account is the app's
(`budget#<endpoint>`); one account's spent window never holds up another account.

X's window starts with the first request after the last one ended. A bucket here copies
that: it holds `capacity` tokens, the first take after a window has ended opens a new one
with a full bucket, and every take is one conditional UpdateItem, so any number of Lambdas
draw from it without a lock and none is handed a token the bucket does not have.

Why not a bucket that refills continuously: it would hand out its capacity and then the
refill, up to twice X's limit within one of X's windows, and X would answer 429.

Why the margin: our window opens at a take, X's a moment later when the request lands.
Takes stop `margin` seconds before our window's end, and the next window opens `margin`
seconds after it, so every request of one of our windows lands inside one of X's and the
two never drift apart, provided a request reaches X within `margin` of its take (the X
timeout is shorter).

Learning from X (`learn`): every answer's `x-rate-limit-remaining` and `-reset` say what X
counts for the token, its other users included (the person's own scripts with the same
token, a page view in flight). The bucket is brought in line with them: never more tokens
left than X says remain, and our window ends where X's does (a 429 is `remaining` 0). It
costs a write only when X's figures differ from the bucket's (the grant says what the
bucket held); in the usual hour, one refresh per window, they agree and nothing is written.

Item `budget#<endpoint>[#<account id>]`: `window_started_ms` (epoch milliseconds), `taken`,
and `expires_at` (DynamoDB's TTL deletes a bucket a window after its window ended: a
fleet of 100,000 tokens keeps only the buckets in use).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from chalicelib.errors import ConditionFailed, XRateLimited, aws_call

# Losing the race to open a window means someone else opened it: take from theirs. More
# than a few lost races in a row only happens under a storm; the caller comes back later.
OPEN_ATTEMPTS = 3
# The app-only endpoints X limits per app (services.app_budget).
SEARCH_ALL = "tweets/search/all"
COUNTS_ALL = "tweets/counts/all"
COMPLIANCE_JOBS = "compliance/jobs"
USERS = "users"
# A bucket's item outlives its window by this many windows before DynamoDB's TTL may drop it.
EXPIRY_WINDOWS = 2


class BudgetExhausted(XRateLimited):
    """The budget for this X endpoint (this token's, or the app's) is spent until
    `reset_at`; nothing went to X.

    A kind of XRateLimited, so every path treats it as X's own 429: the read stops, what
    was read is kept, the unread range becomes a gap, and the work comes back at reset_at.
    """


@dataclass(frozen=True)
class Limit:
    capacity: int  # requests per window: X's limit for the endpoint (per token, or per app)
    window_seconds: int  # X's window: 900 (1 for full-archive search's one a second)
    margin_seconds: int  # see the module's docstring


@dataclass(frozen=True)
class Grant:
    """One token: the request may go to X now."""

    endpoint: str
    taken: int  # this take's number within its window, 1..capacity
    window_started_at: float
    window_ends_at: float  # when the next window may open


class XBudget(Protocol):
    def take(self, endpoint: str) -> Grant | None:
        """A token for one request to `endpoint` (None: the endpoint is not budgeted), or
        raise BudgetExhausted."""
        ...

    def learn(self, endpoint: str, remaining: int, reset_at: int, grant: Grant | None) -> None:
        """X answered a request to `endpoint` (the one `grant` was for) saying `remaining`
        requests are left in its window, which ends at `reset_at` (epoch seconds)."""
        ...


Limits = Mapping[str, Limit | Sequence[Limit]]


def _as_tuple(limit: Limit | Sequence[Limit]) -> tuple[Limit, ...]:
    return (limit,) if isinstance(limit, Limit) else tuple(limit)


class TokenBucket:
    """Buckets in the app's DynamoDB table, one per endpoint named in `limits` (and per limit,
    for an endpoint X limits twice, as full-archive search: 300 a window and 1 a second),
    the app's, or with `account_id` that account token's (`for_account`)."""

    def __init__(
        self,
        dynamodb: Any,
        table_name: str,
        limits: Limits,
        clock: Callable[[], float],
        *,
        account_id: str | None = None,
    ) -> None:
        self._db = dynamodb
        self._table = table_name
        self._limits = {endpoint: _as_tuple(limit) for endpoint, limit in limits.items()}
        self._clock = clock
        self._account_id = account_id

    def for_account(self, account_id: str) -> TokenBucket:
        """The same limits, as buckets of this account's token: X counts a user-context read
        against the token that signed it, one token per account."""
        return TokenBucket(self._db, self._table, self._limits, self._clock, account_id=account_id)

    def _key(self, endpoint: str, index: int = 0) -> dict[str, Any]:
        name = f"budget#{endpoint}" if index == 0 else f"budget#{endpoint}~{index}"
        if self._account_id is not None:
            name = f"{name}#{self._account_id}"
        return {"pk": {"S": name}}

    def take(self, endpoint: str) -> Grant | None:
        limits = self._limits.get(endpoint)
        if not limits:
            return None
        # The shortest window first: a refusal there costs no token of the longer one.
        grants = {
            index: self._take(endpoint, index, limits[index])
            for index in sorted(range(len(limits)), key=lambda i: limits[i].window_seconds)
        }
        return grants[0]  # the first limit's: the one X's headers describe (`learn`)

    def _take(self, endpoint: str, index: int, limit: Limit) -> Grant:
        now_ms = int(self._clock() * 1000)
        length_ms = (limit.window_seconds + limit.margin_seconds) * 1000
        if limit.capacity <= 0:
            raise BudgetExhausted(
                f"no X budget for {endpoint}", math.ceil(now_ms / 1000) + limit.window_seconds
            )
        key = self._key(endpoint, index)
        for _ in range(OPEN_ATTEMPTS):
            grant, current_start_ms = self._take_from_open_window(key, endpoint, limit, now_ms)
            if grant is not None:
                return grant
            if current_start_ms is not None and now_ms < current_start_ms + length_ms:
                reset_at = math.ceil((current_start_ms + length_ms) / 1000)
                raise BudgetExhausted(f"the X budget for {endpoint} is spent", reset_at)
            grant = self._open_window(key, endpoint, limit, now_ms)
            if grant is not None:
                return grant
        raise BudgetExhausted(
            f"the X budget for {endpoint} is contended", math.ceil(now_ms / 1000) + 1
        )

    def _take_from_open_window(
        self, key: dict[str, Any], endpoint: str, limit: Limit, now_ms: int
    ) -> tuple[Grant | None, int | None]:
        """(grant, None) when a token was taken; (None, start of the current window, or None
        when there is none) when the window is full, closing, or over."""
        admit_after_ms = now_ms - (limit.window_seconds - limit.margin_seconds) * 1000
        try:
            with aws_call("DynamoDB UpdateItem"):
                answer = self._db.update_item(
                    TableName=self._table,
                    Key=key,
                    UpdateExpression="ADD taken :one",
                    ConditionExpression="window_started_ms > :admit_after AND taken < :capacity",
                    ExpressionAttributeValues={
                        ":one": {"N": "1"},
                        ":admit_after": {"N": str(admit_after_ms)},
                        ":capacity": {"N": str(limit.capacity)},
                    },
                    ReturnValues="ALL_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
        except ConditionFailed as failed:
            start = (failed.item or {}).get("window_started_ms", {}).get("N")
            return None, int(start) if start is not None else None
        return self._grant(endpoint, limit, answer["Attributes"]), None

    def _open_window(
        self, key: dict[str, Any], endpoint: str, limit: Limit, now_ms: int
    ) -> Grant | None:
        """Start a window with this take as its first; None when another take did first."""
        ended_before_ms = now_ms - (limit.window_seconds + limit.margin_seconds) * 1000
        try:
            with aws_call("DynamoDB UpdateItem"):
                answer = self._db.update_item(
                    TableName=self._table,
                    Key=key,
                    UpdateExpression=(
                        "SET kind = :budget, window_started_ms = :now, taken = :one,"
                        " expires_at = :expires"
                    ),
                    ConditionExpression=(
                        "attribute_not_exists(window_started_ms)"
                        " OR window_started_ms <= :ended_before"
                    ),
                    ExpressionAttributeValues={
                        ":budget": {"S": "budget"},
                        ":now": {"N": str(now_ms)},
                        ":one": {"N": "1"},
                        ":ended_before": {"N": str(ended_before_ms)},
                        ":expires": {"N": str(_expires_at(now_ms, limit))},
                    },
                    ReturnValues="ALL_NEW",
                )
        except ConditionFailed:
            return None
        return self._grant(endpoint, limit, answer["Attributes"])

    def learn(self, endpoint: str, remaining: int, reset_at: int, grant: Grant | None) -> None:
        """Bring the endpoint's bucket in line with what X just said of its window: at most
        `remaining` more takes in it, and a window that ends at X's `reset_at` (so the next
        one opens `margin` after X's). Nothing is written when the bucket already agrees:
        X counted no more than the grant's `taken`, and the windows are within `margin` of
        each other. Never lowers what the bucket counts: takes in flight may not have
        reached X yet."""
        limits = self._limits.get(endpoint)
        if not limits or grant is None:
            return
        limit = limits[0]
        used = limit.capacity - max(0, remaining)
        x_start_ms = (reset_at - limit.window_seconds) * 1000
        ours_ms = round(grant.window_started_at * 1000)
        drifted = abs(x_start_ms - ours_ms) > limit.margin_seconds * 1000
        key = self._key(endpoint)
        window = {
            ":x_start": {"N": str(x_start_ms)},
            ":expires": {"N": str(_expires_at(x_start_ms, limit))},
        }
        if used > grant.taken and self._update(
            key,
            "SET kind = :budget, taken = :used, window_started_ms = :x_start,"
            " expires_at = :expires",
            "attribute_not_exists(taken) OR taken < :used",
            {**window, ":budget": {"S": "budget"}, ":used": {"N": str(used)}},
        ):
            return
        if drifted:
            self._update(
                key,
                "SET window_started_ms = :x_start, expires_at = :expires",
                "window_started_ms = :ours",
                {**window, ":ours": {"N": str(ours_ms)}},
            )

    def _update(
        self, key: dict[str, Any], expression: str, condition: str, values: dict[str, Any]
    ) -> bool:
        try:
            with aws_call("DynamoDB UpdateItem"):
                self._db.update_item(
                    TableName=self._table,
                    Key=key,
                    UpdateExpression=expression,
                    ConditionExpression=condition,
                    ExpressionAttributeValues=values,
                )
        except ConditionFailed:
            return False
        return True

    @staticmethod
    def _grant(endpoint: str, limit: Limit, item: Mapping[str, Any]) -> Grant:
        start_ms = int(item["window_started_ms"]["N"])
        return Grant(
            endpoint=endpoint,
            taken=int(item["taken"]["N"]),
            window_started_at=start_ms / 1000,
            window_ends_at=(start_ms + (limit.window_seconds + limit.margin_seconds) * 1000) / 1000,
        )


def _expires_at(window_started_ms: int, limit: Limit) -> int:
    """When DynamoDB's TTL may drop the bucket: windows after the one it holds has ended."""
    length = limit.window_seconds + limit.margin_seconds
    return window_started_ms // 1000 + (1 + EXPIRY_WINDOWS) * length
