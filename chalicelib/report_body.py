"""The shape of the /report.json body, which is also the report stored in S3 and what the
page, the charts and the schedule read: one set of TypedDicts for every module it crosses.

Pure declarations: no I/O, nothing to run. `analytics.Report.to_dict` makes a `ReportBody`;
`report_service` adds `settings` and `source` (a `StoredReport`).
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

from chalicelib.x_bill import XCost

Seconds = int | float


class Stats(TypedDict):
    mean: Seconds | None
    median: Seconds | None
    p90: Seconds | None
    min: Seconds | None
    max: Seconds | None


class Brief(TypedDict):
    median: Seconds | None
    p90: Seconds | None


class Span(TypedDict):
    start: str
    end: str


class Window(Span):
    days: int
    # The IANA zone the report's days are cut in (`daily`'s dates are its local dates) and
    # a page writes its times in; `start` and `end` stay UTC instants. Absent from reports
    # stored before days followed the zone: their days are UTC dates.
    tz: NotRequired[str]


class AccountRef(TypedDict):
    id: str
    username: str


class Excluded(TypedDict):
    crowd: int
    not_a_question: int


class Cases(TypedDict):
    count: int
    answered: int
    response_rate: float | None
    first_response_seconds: Stats
    answered_within_target: int
    within_target_rate: float | None
    first_response_business_seconds: Stats | None
    answered_within_target_business: int | None
    within_target_business_rate: float | None


class PreviousCases(TypedDict):
    count: int
    answered: int
    response_rate: float | None
    first_response_seconds: Brief | None
    within_target_rate: float | None
    first_response_business_seconds: Brief | None
    within_target_business_rate: float | None


class Previous(TypedDict):
    window: Span
    complete: bool
    mentions: int
    answered: int
    response_rate: float | None
    first_response_seconds: Brief | None
    within_target_rate: float | None
    first_response_business_seconds: Brief | None
    within_target_business_rate: float | None
    excluded: Excluded
    cases: PreviousCases


class Agent(TypedDict):
    signature: str | None
    cases: int
    median_seconds: Seconds | None
    median_business_seconds: Seconds | None


class Bucket(TypedDict):
    bucket: str
    count: int


class Day(TypedDict):
    date: str  # a local date in `window.tz`: midnight to midnight, 23 or 25 hours at a DST change
    mentions: int
    answered: int
    median_seconds: Seconds | None
    # The window holds only part of this day (the first, unless the window starts at local
    # midnight, and the last). Absent from reports stored before it existed.
    partial: NotRequired[bool]


class Period(TypedDict):
    """A row of the trend: a day, a week (Monday first) or a calendar month of `window.tz`,
    with a day row's figures computed from the period's mentions."""

    start: str  # its first local date
    end: str  # its last local date, though the window may end before it
    mentions: int
    answered: int
    median_seconds: Seconds | None
    partial: bool  # the window holds only part of it


class Trend(TypedDict):
    period: str  # "day" (windows up to 90 days), "week" (up to 730) or "month"
    rows: list[Period]


class Heatmap(TypedDict):
    tz: str
    days: list[str]
    counts: list[list[int]]


class PostHead(TypedDict):
    """A mention as every list of the body starts it (then its own fields, then `link`)."""

    id: str
    author: str  # her handle, or "user <id>" until it is known (analytics.unknown_author)
    author_id: NotRequired[str | None]  # absent in reports stored before it was added
    author_url: NotRequired[str | None]  # her profile: by handle, or x.com/i/user/<id>
    text: str
    created_at: str


class PostRef(PostHead):
    link: str


class Slowest(PostRef):
    response_seconds: Seconds | None
    business_seconds: Seconds | None
    reply_id: str | None
    signature: str | None


class Unanswered(PostRef):
    age_seconds: Seconds


class Waiting(TypedDict):
    case_id: str
    author: str  # as PostHead's
    author_id: NotRequired[str | None]
    author_url: NotRequired[str | None]
    text: str
    started_at: str
    mentions: int
    age_seconds: Seconds
    link: str


class LeftOut(PostRef):
    reason: str | None


class ReportBody(TypedDict):
    account: AccountRef
    generated_at: str
    window: Window
    target_seconds: int
    mentions: int
    answered: int
    response_rate: float | None
    first_response_seconds: Stats
    answered_within_target: int
    within_target_rate: float | None
    first_response_business_seconds: Stats | None
    answered_within_target_business: int | None
    within_target_business_rate: float | None
    excluded: Excluded
    cases: Cases
    previous: Previous
    agents: list[Agent]
    histogram: list[Bucket]
    daily: list[Day]
    trend: NotRequired[Trend]  # absent from reports stored before it existed
    heatmap: Heatmap
    slowest: list[Slowest]
    unanswered: list[Unanswered]
    waiting: list[Waiting]  # the newest 10 (the page /report/waiting lists them all)
    waiting_count: NotRequired[int]  # how many people are waiting (absent: stored before)
    left_out: list[LeftOut]


class Setting(TypedDict):
    value: Any  # as the JSON shows it: 60, "Europe/London", ["mon", ...], None, False
    source: str  # "saved", "query" or "default"


class HistorySource(TypedDict):
    """How far the reading of older history has gone (history.py): `state` "none" (not
    asked), "counted" (its cost shown), "reading" or "done"; posts read of about `estimate`;
    the oldest mention the archive holds."""

    state: str
    read: int
    estimate: int
    reaches_back_to: str | None


class Source(TypedDict):
    """What a view cost at X and how fresh the archive is."""

    x_requests: int  # timeline requests (the users lookup's are not among them)
    x_posts_read: int
    x_users_read: NotRequired[int]  # authors' handles looked up at X (older reports: none)
    archive_posts: int
    refreshed_at: str
    stale: bool  # X failed: the report shows what was read before
    still_reading: bool  # the view's time for X ran out: a worker is reading the rest
    reset_time: int | None
    x_paused: NotRequired[bool]  # the fleet's X reads are paused by the operator's plan
    archive_available: bool
    complete_since: str | None  # the archive holds every mention X let us read since then
    x_cost: NotRequired[XCost]  # what X billed for the account's reads (older reports: none)
    history: NotRequired[HistorySource]  # older history (older reports: none)


class StoredReport(ReportBody):
    settings: dict[str, Setting]
    source: Source
