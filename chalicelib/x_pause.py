"""The fleet's pause of X reads: one flag in DynamoDB, for when the operator's X plan says no.

X answers HTTP 402 once the operator's pay-per-use credits run out, and the app stops by
itself at X_MONTHLY_POST_CAP posts read in a UTC month (X's own cap is 3,000,000). Either
sets the flag (item `x-pause`); every read of X checks it first (`XPause.check`, read at
most every CHECK_SECONDS per container), so the fleet stops at once instead of drawing a
402 per account. A paused read raises XReadsPaused, an XRateLimited whose `reset_at` is the
next probe: pages show the last report marked stale ("X reads are paused by the operator's
plan") and workers hand their message back until then, never a retry storm.

After a 402, one read every X_PAUSE_PROBE_SECONDS is let through as a probe (the first to
claim it, with a condition); a probe X answers clears the flag. The cap's pause lifts when
the month turns. The operator clears either by deleting the item (README, "X's bill").
Only GetItem and UpdateItem are used, which every function reading X may already make.

The month's count is one item per UTC month (`x-posts#2026-12`), added to after each read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.errors import (
    ConditionFailed,
    ResponsetimeError,
    StoreUnavailable,
    XPaymentRequired,
    XReadsPaused,
    aws_call,
)
from chalicelib.observability import logger
from chalicelib.x_bill import month_end, month_of

PAUSE_KEY = {"pk": {"S": "x-pause"}}
PAYMENT_REQUIRED, MONTHLY_CAP = "payment_required", "monthly_cap"
CHECK_SECONDS = 30  # a container reads the flag at most this often


@dataclass(frozen=True)
class Paused:
    reason: str  # PAYMENT_REQUIRED or MONTHLY_CAP
    since: int  # epoch seconds
    probe_at: int  # the next read let through as a probe (the cap: the month's turn)
    month: str  # the UTC month it was set in


class XPause:
    def __init__(
        self,
        dynamodb: Any,
        table_name: str,
        *,
        probe_seconds: int,
        monthly_cap: int,
        clock: Callable[[], float],
    ) -> None:
        self._db = dynamodb
        self._table = table_name
        self._probe_seconds = probe_seconds
        self._cap = monthly_cap
        self._clock = clock
        self._seen: tuple[float, Paused | None] | None = None  # (read at, what it said)

    def check(self) -> bool:
        """Before a read of X: raises XReadsPaused while reads are paused; True when this
        read is the probe (its outcome clears the flag, or sets the next probe)."""
        now = self._clock()
        paused = self._current(now)
        if paused is None:
            return False
        if paused.reason == MONTHLY_CAP and paused.month != month_of(now):
            self.clear()  # a new month: the count starts again
            return False
        if paused.reason == PAYMENT_REQUIRED and now >= paused.probe_at and self._claim(now):
            return True
        raise XReadsPaused("X reads are paused by the operator's plan", paused.probe_at)

    def _current(self, now: float) -> Paused | None:
        if self._seen is not None and now - self._seen[0] < CHECK_SECONDS:
            return self._seen[1]
        with aws_call("DynamoDB GetItem"):
            item = self._db.get_item(TableName=self._table, Key=PAUSE_KEY).get("Item")
        paused = None
        if item is not None and "reason" in item:
            paused = Paused(
                reason=item["reason"]["S"],
                since=int(item["since"]["N"]),
                probe_at=int(item["probe_at"]["N"]),
                month=item["month"]["S"],
            )
        self._seen = (now, paused)
        return paused

    def _claim(self, now: float) -> bool:
        """The probe: one caller in the fleet moves the next probe on and reads."""
        try:
            with aws_call("DynamoDB UpdateItem"):
                self._db.update_item(
                    TableName=self._table,
                    Key=PAUSE_KEY,
                    UpdateExpression="SET probe_at = :next",
                    ConditionExpression="probe_at <= :now",
                    ExpressionAttributeValues={
                        ":now": {"N": str(int(now))},
                        ":next": {"N": str(int(now) + self._probe_seconds)},
                    },
                )
        except ConditionFailed:
            return False
        self._seen = None
        return True

    def pause(self, reason: str, month_end: int | None = None) -> None:
        """X said 402 (or the cap was reached): every read stops until the next probe."""
        now = int(self._clock())
        probe_at = month_end if month_end is not None else now + self._probe_seconds
        with aws_call("DynamoDB UpdateItem"):
            self._db.update_item(
                TableName=self._table,
                Key=PAUSE_KEY,
                UpdateExpression=(
                    "SET kind = :kind, reason = :reason, since = if_not_exists(since, :now), "
                    "probe_at = :probe, #month = :month"
                ),
                ExpressionAttributeNames={"#month": "month"},
                ExpressionAttributeValues={
                    ":kind": {"S": "x-pause"},
                    ":reason": {"S": reason},
                    ":now": {"N": str(now)},
                    ":probe": {"N": str(probe_at)},
                    ":month": {"S": month_of(now)},
                },
            )
        self._seen = None

    def clear(self) -> None:
        """Reads go on (an item without `reason` pauses nothing)."""
        with aws_call("DynamoDB UpdateItem"):
            self._db.update_item(
                TableName=self._table,
                Key=PAUSE_KEY,
                UpdateExpression="REMOVE reason, since, probe_at, #month",
                ExpressionAttributeNames={"#month": "month"},
            )
        self._seen = None

    def count(self, posts: int) -> None:
        """Add a read's posts to the month's count; at X_MONTHLY_POST_CAP, pause until the
        month turns."""
        if posts <= 0 or self._cap <= 0:
            return
        now = self._clock()
        month = month_of(now)
        with aws_call("DynamoDB UpdateItem"):
            answer = self._db.update_item(
                TableName=self._table,
                Key={"pk": {"S": f"x-posts#{month}"}},
                UpdateExpression="SET kind = :kind ADD posts :n",
                ExpressionAttributeValues={":kind": {"S": "x-posts"}, ":n": {"N": str(posts)}},
                ReturnValues="UPDATED_NEW",
            )
        if int(answer["Attributes"]["posts"]["N"]) >= self._cap:
            self.pause(MONTHLY_CAP, month_end=month_end(now))

    def after_read(self, error: ResponsetimeError | None, probe: bool, posts: int) -> None:
        """What a read tells the pause: X's 402 sets it, a probe X answered lifts it, and
        the posts read join the month's count. Storage failing is logged: what was read is
        kept all the same."""
        try:
            if isinstance(error, XPaymentRequired):
                logger.error("X answered 402: the fleet's X reads are paused")
                self.pause(PAYMENT_REQUIRED)
            elif probe and error is None:
                logger.info("X answered the probe: the fleet's X reads go on")
                self.clear()
            if posts:
                self.count(posts)
        except StoreUnavailable:
            logger.exception("could not note the read on the fleet's pause")
