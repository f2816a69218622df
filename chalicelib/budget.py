"""One X budget for the whole fleet: a bucket per X endpoint, kept in DynamoDB.

X limits the app per endpoint and per 15-minute window (mentions 450, tweets 10,000), and
its window starts with the first request after the last one ended. A bucket here copies
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

Item `budget#<endpoint>`: `window_started_ms` (epoch milliseconds) and `taken`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from chalicelib.errors import ConditionFailed, XRateLimited, aws_call

# Losing the race to open a window means someone else opened it: take from theirs. More
# than a few lost races in a row only happens under a storm; the caller comes back later.
OPEN_ATTEMPTS = 3


class BudgetExhausted(XRateLimited):
    """The fleet's budget for this X endpoint is spent until `reset_at`; nothing went to X.

    A kind of XRateLimited, so every path treats it as X's own 429: the read stops, what
    was read is kept, the unread range becomes a gap, and the work comes back at reset_at.
    """


@dataclass(frozen=True)
class Limit:
    capacity: int  # requests per window, X's app limit for the endpoint
    window_seconds: int  # X's window: 900
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


def _key(endpoint: str) -> dict[str, Any]:
    return {"pk": {"S": f"budget#{endpoint}"}}


class TokenBucket:
    """Buckets in the app's DynamoDB table, one per endpoint named in `limits`."""

    def __init__(
        self,
        dynamodb: Any,
        table_name: str,
        limits: Mapping[str, Limit],
        clock: Callable[[], float],
    ) -> None:
        self._db = dynamodb
        self._table = table_name
        self._limits = dict(limits)
        self._clock = clock

    def take(self, endpoint: str) -> Grant | None:
        limit = self._limits.get(endpoint)
        if limit is None:
            return None
        now_ms = int(self._clock() * 1000)
        length_ms = (limit.window_seconds + limit.margin_seconds) * 1000
        if limit.capacity <= 0:
            raise BudgetExhausted(
                f"no X budget for {endpoint}", math.ceil(now_ms / 1000) + limit.window_seconds
            )
        for _ in range(OPEN_ATTEMPTS):
            grant, current_start_ms = self._take_from_open_window(endpoint, limit, now_ms)
            if grant is not None:
                return grant
            if current_start_ms is not None and now_ms < current_start_ms + length_ms:
                reset_at = math.ceil((current_start_ms + length_ms) / 1000)
                raise BudgetExhausted(f"the fleet's X budget for {endpoint} is spent", reset_at)
            grant = self._open_window(endpoint, limit, now_ms)
            if grant is not None:
                return grant
        raise BudgetExhausted(
            f"the X budget for {endpoint} is contended", math.ceil(now_ms / 1000) + 1
        )

    def _take_from_open_window(
        self, endpoint: str, limit: Limit, now_ms: int
    ) -> tuple[Grant | None, int | None]:
        """(grant, None) when a token was taken; (None, start of the current window, or None
        when there is none) when the window is full, closing, or over."""
        admit_after_ms = now_ms - (limit.window_seconds - limit.margin_seconds) * 1000
        try:
            with aws_call("DynamoDB UpdateItem"):
                answer = self._db.update_item(
                    TableName=self._table,
                    Key=_key(endpoint),
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

    def _open_window(self, endpoint: str, limit: Limit, now_ms: int) -> Grant | None:
        """Start a window with this take as its first; None when another take did first."""
        ended_before_ms = now_ms - (limit.window_seconds + limit.margin_seconds) * 1000
        try:
            with aws_call("DynamoDB UpdateItem"):
                answer = self._db.update_item(
                    TableName=self._table,
                    Key=_key(endpoint),
                    UpdateExpression="SET kind = :budget, window_started_ms = :now, taken = :one",
                    ConditionExpression=(
                        "attribute_not_exists(window_started_ms)"
                        " OR window_started_ms <= :ended_before"
                    ),
                    ExpressionAttributeValues={
                        ":budget": {"S": "budget"},
                        ":now": {"N": str(now_ms)},
                        ":one": {"N": "1"},
                        ":ended_before": {"N": str(ended_before_ms)},
                    },
                    ReturnValues="ALL_NEW",
                )
        except ConditionFailed:
            return None
        return self._grant(endpoint, limit, answer["Attributes"])

    @staticmethod
    def _grant(endpoint: str, limit: Limit, item: Mapping[str, Any]) -> Grant:
        start_ms = int(item["window_started_ms"]["N"])
        return Grant(
            endpoint=endpoint,
            taken=int(item["taken"]["N"]),
            window_started_at=start_ms / 1000,
            window_ends_at=(start_ms + (limit.window_seconds + limit.margin_seconds) * 1000) / 1000,
        )
