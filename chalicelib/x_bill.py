"""What X bills for the reads the app makes, at the operator's configured prices.

X's pay-per-use plan bills every post returned ($0.005), or $0.001 for an owned read (the
account's own mentions and posts read through an app the same person owns: the accounts in
X_OWNED_ACCOUNT_IDS), every user returned ($0.010) and every counts request ($0.010). A users
lookup reads other people's accounts (the authors of mentions), never an owned read. Money
is Decimal here, never float: a month of a fleet's reads is millions of half-cents.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import NotRequired, TypedDict

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Prices:
    post_read: Decimal = Decimal("0.005")
    owned_read: Decimal = Decimal("0.001")
    user_read: Decimal = Decimal("0.010")
    counts_request: Decimal = Decimal("0.010")
    owned_accounts: frozenset[str] = field(default_factory=frozenset)

    def posts(self, account_id: str, count: int) -> Decimal:
        """What `count` posts read for the account cost: owned reads when it is listed."""
        each = self.owned_read if account_id in self.owned_accounts else self.post_read
        return each * count

    def users(self, count: int) -> Decimal:
        """What `count` users returned by a users lookup cost (never owned reads)."""
        return self.user_read * count

    def reads(self, account_id: str, *, posts: int = 0, users: int = 0, counts: int = 0) -> Decimal:
        """What one read for the account costs: its posts, its users and its counts
        requests."""
        return self.posts(account_id, posts) + self.users(users) + self.counts_request * counts


class XCost(TypedDict):
    """What X billed for an account's report: in all, and in the calendar month (UTC)."""

    posts: int
    usd: float
    month: str  # "2026-12"
    month_posts: int
    month_usd: float
    # Users read (GET /2/users): absent in reports stored before they were counted.
    users: NotRequired[int]
    month_users: NotRequired[int]


def month_of(epoch_seconds: float) -> str:
    """The UTC calendar month X bills by, e.g. "2026-12"."""
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m")


def month_end(epoch_seconds: float) -> int:
    """The epoch second the UTC month of `epoch_seconds` ends (the next one begins)."""
    moment = datetime.fromtimestamp(epoch_seconds, UTC)
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return int(datetime(year, month, 1, tzinfo=UTC).timestamp())


def dollars(usd: float | Decimal) -> str:
    """$0.31; under a cent but not nothing: "under $0.01"."""
    value = Decimal(str(usd))
    if 0 < value < Decimal("0.005"):
        return "under $0.01"
    return f"${value.quantize(CENT, rounding=ROUND_HALF_UP):,}"
