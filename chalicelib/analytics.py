"""Response-time analytics: how fast and how often an account answers its mentions.

Pure code, no I/O. Input posts are dicts exactly as X API v2 returns them::

    {"id": "1862...", "text": "...", "created_at": "2026-11-28T15:05:14.000Z",
     "author_id": "...", "conversation_id": "...", "in_reply_to_user_id": "...",
     "referenced_tweets": [{"type": "replied_to", "id": "..."}]}

Definitions (see ``build``):

* A *mention* is a post from the mentions list whose author is not the account and that is
  not a retweet. Duplicates (same id) are counted once, the first copy wins. It is in the
  window when ``now - days <= created_at <= now``.
* *Needs-reply rules.* A mention is *left out* as ``crowd`` when its text names more than
  ``crowd`` distinct accounts (``@handle``s, case-insensitive; 0 turns the rule off) and it
  is not a reply to one of the account's own posts (``in_reply_to_user_id`` is not the
  account); with ``questions`` on, a mention without a ``?`` is left out as
  ``not_a_question``. ``crowd`` is checked first. Left-out mentions count nowhere else.
  A handle is what X links: ``@`` (or the full-width U+FF20) not preceded by a letter,
  digit, ``_`` or one of ``!#$%&*@``, then 1 to 15 of ``A-Z a-z 0-9 _`` not followed by
  another of them (so ``support@brand.example`` names no one).
* A mention is *answered* when one of the account's own posts (author the account, or
  ``author_id`` missing) carries ``{"type": "replied_to", "id": <mention id>}``. The
  response time is the earliest such reply's ``created_at`` minus the mention's; later
  replies change nothing and a reply dated before the mention (clock skew) counts as 0 s.
  Replies are not filtered by ``now``.
* A *case* is the kept mentions of one window from one author in one conversation
  (``conversation_id``; a post without one, or without an author, is a case of its own).
  It starts at its earliest mention and is answered when any of its mentions is; its first
  response time is the earliest reply to any of them minus its start (never negative).
* *Business seconds* (with ``hours`` set) are the overlap of [mention, first reply] with
  the open hours of ``workdays`` that are not ``holidays``, in ``tz`` (business_hours.py).
* *Days* are the calendar days of ``tz`` (local midnight to local midnight: 23 or 25 hours
  when the clocks change). The window is ``days`` x 24 hours, so it touches ``days + 1``
  dates (``days`` or ``days + 2`` when a change of clocks falls inside it); ``daily`` has a
  row for each, oldest first, each mention counted on the local date of its
  ``created_at``. A row is *partial* when the window holds only part of its day: the first
  (unless the window starts at local midnight) and the last (the window ends at ``now``).
* The *trend* cuts the same days into periods, by the window's length (``trend_period``):
  days up to 90 days, weeks (Monday to Sunday) up to 730, calendar months beyond, each of
  ``tz``. A period's row has the figures of a day's, computed from the period's mentions
  (its median is that of their response times, never a median of days); it is *partial*
  when the window holds only part of it, from its first local midnight to the one after
  its last day. Every period the window touches has a row, those without mentions too.
* The *previous period* is ``[start - days, start)``, with the same rules and settings; it
  is complete when the archive holds every mention since its start (``history_start``).
* A reply is *signed* when its text, after trailing links and whitespace, ends in
  whitespace, then one of ``^ - ~ *`` or an en dash (U+2013), an optional space and 1 to
  20 letters: the signature. Each answered case is credited to the signature of its first
  reply, or None.

Times are aware UTC datetimes and durations timedeltas, so differences are exact; a
duration is reported to the millisecond (floored; X timestamps have millisecond
resolution, in practice always ``.000``). Every ``*_seconds`` number in the output is an
``int`` when it is a whole number of seconds and otherwise a ``float`` rounded to the
millisecond (3 decimals) -- e.g. ``600`` or ``599.5``; rates are plain floats in 0..1.
Datetimes are emitted as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (UTC, X's own format), whatever
``tz`` is: the zone says how days are cut and a page writes times; it changes no instant.

Timestamps that cannot be parsed make the post count for nothing; a timestamp without a
UTC offset is read as UTC.
"""

from __future__ import annotations

import csv
import html
import io
import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from heapq import nlargest
from itertools import islice
from typing import TYPE_CHECKING, Any, NamedTuple
from zoneinfo import ZoneInfo

from chalicelib.business_hours import BusinessClock
from chalicelib.formats import iso

if TYPE_CHECKING:
    from chalicelib import report_body as body
    from chalicelib.report_body import ReportBody

__all__ = [
    "CSV_HEADER",
    "DEFAULT_SETTINGS",
    "EXCLUSION_REASONS",
    "HISTOGRAM_BUCKETS",
    "WEEKDAYS",
    "AgentRow",
    "CaseFigures",
    "DailyRow",
    "InvalidReportParameter",
    "MentionRow",
    "PeriodFigures",
    "PeriodRow",
    "Report",
    "ReportSettings",
    "ResponseStats",
    "build",
    "signature",
    "slowest_json",
    "to_csv",
    "trend_period",
    "waiting_json",
]

Seconds = int | float

DAYS_DEFAULT = 28
TARGET_MINUTES_DEFAULT = 60
TZ_DEFAULT = "UTC"
CROWD_DEFAULT = 5
WORKDAYS_DEFAULT: tuple[int, ...] = (0, 1, 2, 3, 4)  # Monday to Friday

CROWD, NOT_A_QUESTION = "crowd", "not_a_question"
EXCLUSION_REASONS: tuple[str, ...] = (CROWD, NOT_A_QUESTION)

HISTOGRAM_BUCKETS: tuple[str, ...] = (
    "<5m",
    "5-15m",
    "15-60m",
    "1-4h",
    "4-24h",
    ">24h",
    "unanswered",
)
# Lower bounds of the answered buckets after the first; a lower bound is inclusive.
_BUCKET_EDGES = tuple(timedelta(seconds=s) for s in (300, 900, 3600, 14_400, 86_400))
_UNANSWERED_BUCKET = len(HISTOGRAM_BUCKETS) - 1

WEEKDAYS: tuple[str, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

# The periods of the trend, and the longest window each is used for (a longer one takes the
# next): 90 bars a day, 105 a week (two years), then a bar per calendar month (121 for ten
# years), so no chart draws much more than a hundred bars.
DAY, WEEK, MONTH = "day", "week", "month"
DAY_TREND_MAX_DAYS = 90
WEEK_TREND_MAX_DAYS = 730

CSV_HEADER: tuple[str, ...] = (
    "id",
    "created_at",
    "author",
    "answered",
    "reply_id",
    "response_seconds",
    "link",
    "text",
    "case_id",
    "excluded",
    "business_seconds",
    "signature",
    "response_hms",  # the same durations as h:mm:ss, which a spreadsheet reads as a time
    "business_hms",
)
# A cell starting with one of these is a formula to a spreadsheet (and "@acme ..." is how
# most mentions start): such text gets a leading apostrophe, as OWASP advises for CSV.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

_HANDLE = re.compile(r"(?<![A-Za-z0-9_!#$%&*@\uFF20])[@\uFF20]([A-Za-z0-9_]{1,15})(?![A-Za-z0-9_])")
_TRAILING_LINKS = re.compile(r"(?:\s*https?://\S+)*\s*\Z")
_SIGNATURE = re.compile(r"\s[\^\-\u2013~*] ?([^\W\d_]{1,20})\Z")


def post_text(post: Mapping[str, Any]) -> str:
    """A post's text as its author wrote it. X API v2 sends `&`, `<` and `>` as HTML
    entities; they are decoded once here, and pages escape the text again on output."""
    return html.unescape(str(post.get("text") or ""))


def signature(text: str) -> str | None:
    """The care agent's signature at the end of a reply (``... -Becky``, ``^JK
    https://t.co/x``), or None."""
    body = text.rstrip()
    link = body.find("http")
    if link >= 0:  # trailing links start at an "http": the regex need not scan before it
        body = body[: _TRAILING_LINKS.search(body, link).start()].rstrip()  # type: ignore[union-attr]
    # A signature is at most 23 characters: whitespace, mark, space, 20 letters.
    found = _SIGNATURE.search(body, max(0, len(body) - 23))
    return found.group(1) if found else None


def _spreadsheet_safe(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


TOP_N = 10
LEFT_OUT_LIMIT = 100  # left-out mentions listed (newest first); `excluded` counts them all

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_ZERO = timedelta(0)
_MIDNIGHT = time(0)
_SLOT_MS = 900_000  # heatmap cache granularity: every real UTC offset is a multiple of 15 min


class InvalidReportParameter(ValueError):
    """A report parameter (query string, form field or setting) is invalid; ``str(exc)`` is
    readable and ``parameter`` names the field when one is to blame."""

    def __init__(self, message: str, parameter: str | None = None) -> None:
        super().__init__(message)
        self.parameter = parameter


@dataclass(frozen=True)
class ReportSettings:
    days: int = DAYS_DEFAULT  # window [now - days, now]
    target_seconds: int = TARGET_MINUTES_DEFAULT * 60
    tz: str = TZ_DEFAULT  # IANA zone of the days, the heatmap and the business hours
    crowd: int = CROWD_DEFAULT  # leave out mentions naming more accounts; 0: off
    questions: bool = False  # leave out mentions without a "?"
    hours: tuple[int, int] | None = None  # business hours, minutes after local midnight
    workdays: tuple[int, ...] = WORKDAYS_DEFAULT  # Monday 0
    holidays: tuple[date, ...] = ()  # local dates


DEFAULT_SETTINGS = ReportSettings()


class MentionRow(NamedTuple):
    """One mention in the window (a row of the CSV)."""

    id: str
    created_at: datetime  # UTC, aware
    author: str  # her handle, else "user <author id>" (unknown_author), else "" with no author
    author_id: str | None
    text: str
    answered: bool
    reply_id: str | None  # the earliest reply
    response_seconds: Seconds | None  # None when unanswered; >= 0
    link: str
    case_id: str | None = None  # id of its case's first mention; None when left out
    excluded: str | None = None  # the needs-reply rule that left it out
    business_seconds: Seconds | None = None  # None without business hours or an answer
    signature: str | None = None  # of the earliest reply


class ResponseStats(NamedTuple):
    """Time to first reply over the answered mentions; all None when nothing is answered."""

    mean: Seconds | None = None
    median: Seconds | None = None
    p90: Seconds | None = None
    min: Seconds | None = None
    max: Seconds | None = None


class DailyRow(NamedTuple):
    date: date  # the local date in the report's zone
    mentions: int
    answered: int  # mentions of that day that got answered
    median_seconds: Seconds | None
    partial: bool = False  # the window holds only part of the day (first and last rows)


class PeriodRow(NamedTuple):
    """A row of the trend: a day, a week or a calendar month of the report's zone."""

    start: date  # its first local date: the day, a Monday, the 1st of a month
    end: date  # its last local date, though the window may end before it
    mentions: int
    answered: int  # mentions of the period that got answered
    median_seconds: Seconds | None  # of those mentions' response times
    partial: bool = False  # the window holds only part of the period


class CaseFigures(NamedTuple):
    total: int  # the JSON's `count`
    answered: int
    answered_within_target: int
    first_response: ResponseStats
    business: ResponseStats | None  # None without business hours
    answered_within_target_business: int | None


class PeriodFigures(NamedTuple):
    """One window's figures at message and case level."""

    start: datetime
    end: datetime
    mentions: int
    answered: int
    answered_within_target: int
    first_response: ResponseStats
    business: ResponseStats | None
    answered_within_target_business: int | None
    excluded: dict[str, int]
    cases: CaseFigures


class AgentRow(NamedTuple):
    signature: str | None  # None: replies nobody signed
    cases: int
    median_seconds: Seconds | None
    median_business_seconds: Seconds | None


class WaitingRow(NamedTuple):
    """An unanswered case: a person still waiting."""

    case_id: str
    author: str  # as MentionRow's
    text: str  # of the newest mention
    started_at: datetime
    mentions: int
    link: str  # to the newest mention
    author_id: str | None = None


class _Cases:
    """The cases that start in one window, each named by its earliest mention's id (the
    case id), in order of their start; built by ``_cases``. A case of the previous period
    may go on into the window (its later mentions join it there). Most cases are one
    mention, so only what a case adds to its first mention is stored: no object per case."""

    __slots__ = (
        "business",
        "by_key",
        "earlier",
        "first",
        "last",
        "reply",
        "reply_at",
        "response",
        "size",
    )

    def __init__(self, earlier: _Cases | None = None) -> None:
        self.earlier = earlier  # the previous period's cases, which this window's may join
        self.first: list[str] = []  # the case ids, oldest first
        self.by_key: dict[str, str] = {}  # _case_key -> case id
        self.last: dict[str, str] = {}  # case id -> newest mention, when not the first
        self.size: dict[str, int] = {}  # case id -> mentions, when more than one
        self.reply_at: dict[str, datetime] = {}  # case id -> earliest reply to any of them
        self.reply: dict[str, Mapping[str, Any]] = {}
        self.response: dict[str, int] = {}  # answered case id -> first response ms, >= 0
        self.business: dict[str, int] | None = None  # the same in business ms, with hours

    def __len__(self) -> int:
        return len(self.first)

    def case_id(self, pid: str, post: Mapping[str, Any]) -> str | None:
        """The case of a kept mention of the window (None for any other post)."""
        key = _case_key(pid, post)
        case = self.by_key.get(key)
        if case is None and self.earlier is not None:
            return self.earlier.by_key.get(key)
        return case

    def timed(
        self,
        created_of: Mapping[str, datetime],
        reply_of: Mapping[str, Mapping[str, Any]],
        responses: Mapping[str, timedelta],
        business_ms: Mapping[str, int] | None,
        clock: BusinessClock | None,
    ) -> _Cases:
        """Each answered case's first response, calendar and business. When the first reply
        answers the case's first mention (nearly always) the span is that mention's, whose
        times are known already (``responses``, ``business_ms``)."""
        ms = _MS
        response, business = self.response, {}
        spans: list[tuple[str, int, int]] = []  # business time still to compute
        for case, reply in self.reply.items():
            if reply_of.get(case) is reply:
                response[case] = responses[case] // ms
                if business_ms is not None:
                    business[case] = business_ms[case]
            else:
                start = created_of[case]
                response[case] = length = max((self.reply_at[case] - start) // ms, 0)
                spans.append((case, _to_ms(start), length))
        if clock is not None:
            found = clock.durations_ms((start, length) for _, start, length in spans)
            business.update(zip((case for case, _, _ in spans), found, strict=True))
            self.business = business
        return self


class _Mentions:
    """Compact per-mention data kept by ``build``; ``Report.rows`` is made from it on demand
    (the JSON report never needs 100,000 row objects, only the CSV does)."""

    __slots__ = ("business", "cases", "ids", "response", "seen", "users")

    def __init__(self, seen: _Seen, window: _Window, users: Mapping[str, str]) -> None:
        self.seen = seen
        self.ids = window.ids  # every mention of the window, left-out ones too; oldest first
        self.response = window.responses
        self.business = window.business or {}
        self.cases = window.cases
        self.users = users

    @property
    def posts(self) -> Mapping[str, Mapping[str, Any]]:
        return self.seen.posts

    @property
    def created(self) -> Mapping[str, datetime]:
        return self.seen.created_of

    def author(self, post: Mapping[str, Any]) -> tuple[str, str | None]:
        """What a row shows of the post's author (her handle, or "user <id>" until it is
        known), and her id."""
        author_id = post.get("author_id")
        if author_id is None:
            return "", None
        return self.users.get(author_id) or unknown_author(author_id), author_id

    def link(self, post: Mapping[str, Any], pid: str) -> str:
        return _link(self.users.get(post.get("author_id") or "", ""), pid)

    def _times(self, pid: str) -> tuple[timedelta | None, int | None]:
        """First response and business milliseconds; a left-out mention's on demand (its
        reply is a fact worth showing in a row, though it counts in no figure)."""
        response, business = self.response.get(pid), self.business.get(pid)
        replied = self.seen.reply_at.get(pid)
        if response is None and replied is not None:
            response = max(replied - self.seen.created_of[pid], _ZERO)
            clock = self.seen.clock
            if clock is not None:
                start = _to_ms(self.seen.created_of[pid])
                business = clock.between_ms(start, start + response // _MS)
        return response, business

    def row(self, pid: str) -> MentionRow:
        post = self.seen.posts[pid]
        author, author_id = self.author(post)
        response, business = self._times(pid)
        reply = self.seen.reply_of.get(pid)
        excluded = self.seen.excluded.get(pid)
        return MentionRow(
            pid,
            self.seen.created_of[pid],
            author,
            author_id,
            post_text(post),
            response is not None,
            None if reply is None else str(reply.get("id", "")),
            None if response is None else _seconds(response),
            self.link(post, pid),
            None if excluded else self.cases.case_id(pid, post),
            excluded,
            None if business is None else _seconds(business),
            None if reply is None else signature(post_text(reply)),
        )

    def csv_rows(self) -> Iterator[tuple[object, ...]]:
        """The CSV's rows, in CSV_HEADER's order."""
        for pid in self.ids:
            row = self.row(pid)
            yield (
                row.id,
                iso(row.created_at),
                row.author,
                "true" if row.answered else "false",
                row.reply_id or "",
                _blank(row.response_seconds),
                row.link,
                _spreadsheet_safe(row.text),
                row.case_id or "",
                row.excluded or "",
                _blank(row.business_seconds),
                _spreadsheet_safe(row.signature or ""),
                _hms(row.response_seconds),
                _hms(row.business_seconds),
            )


def _blank(value: object) -> object:
    return "" if value is None else value


def _hms(seconds: Seconds | None) -> str:
    """A duration as h:mm:ss (hours past 24 keep counting: 50:00:00), "" for none."""
    if seconds is None:
        return ""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


@dataclass
class Report:
    account_id: str
    username: str
    generated_at: datetime  # = now, UTC
    window_start: datetime
    window_end: datetime
    days: int
    target_seconds: int
    tz: str  # the zone of the days (daily), the heatmap and the business hours
    mentions: int
    answered: int
    answered_within_target: int
    first_response_seconds: ResponseStats
    histogram: list[tuple[str, int]]  # (bucket label, count), in HISTOGRAM_BUCKETS order
    daily: list[DailyRow]  # one per local date (in ``tz``) the window touches, oldest first
    trend_period: str  # DAY, WEEK or MONTH: what a row of ``trend`` is
    trend: list[PeriodRow]  # one per period the window touches, oldest first
    heatmap: list[list[int]]  # 7 (Mon..Sun) x 24 (local hour) mention counts in ``tz``
    slowest: list[MentionRow]  # answered, largest response first (ties: older first)
    unanswered: list[MentionRow]  # newest first
    current: PeriodFigures  # the window's figures, cases and business hours too
    previous: PeriodFigures  # the window of the same length just before
    previous_complete: bool  # the archive holds every mention of the previous period
    agents: list[AgentRow]
    left_out: list[MentionRow]  # newest first, at most LEFT_OUT_LIMIT
    waiting_all: list[WaitingRow]  # every unanswered case, newest first (the JSON: TOP_N)
    _mentions: _Mentions = field(repr=False, compare=False)

    @property
    def waiting(self) -> list[WaitingRow]:
        """The newest TOP_N people still waiting (the page lists them all on its own)."""
        return self.waiting_all[:TOP_N]

    @cached_property
    def slowest_all(self) -> list[MentionRow]:
        """Every answered mention that needs a reply, largest response first (ties: older
        first); `slowest` is its head."""
        answered = [row for row in self.rows if row.answered and row.excluded is None]
        return sorted(answered, key=lambda row: (-(row.response_seconds or 0), row.created_at))

    @cached_property
    def rows(self) -> list[MentionRow]:
        """Every mention in the window, left-out ones too, oldest first (ties: by id)."""
        row = self._mentions.row
        return [row(pid) for pid in self._mentions.ids]

    @property
    def response_rate(self) -> float | None:
        return _rate(self.answered, self.mentions)

    @property
    def within_target_rate(self) -> float | None:
        return _rate(self.answered_within_target, self.mentions)

    def to_dict(self) -> ReportBody:
        """The /report.json body without "source" and "settings": JSON-serialisable."""
        current = self.current
        business = _business_json(current, current.mentions)
        return {
            "account": {"id": self.account_id, "username": self.username},
            "generated_at": iso(self.generated_at),
            "window": {
                "start": iso(self.window_start),
                "end": iso(self.window_end),
                "days": self.days,
                "tz": self.tz,
            },
            "target_seconds": self.target_seconds,
            "mentions": self.mentions,
            "answered": self.answered,
            "response_rate": self.response_rate,
            "first_response_seconds": _stats_json(self.first_response_seconds),
            "answered_within_target": self.answered_within_target,
            "within_target_rate": self.within_target_rate,
            "first_response_business_seconds": business[0],
            "answered_within_target_business": business[1],
            "within_target_business_rate": business[2],
            "excluded": {
                "crowd": current.excluded[CROWD],
                "not_a_question": current.excluded[NOT_A_QUESTION],
            },
            "cases": _cases_json(current.cases),
            "previous": _previous_json(self.previous, self.previous_complete),
            "agents": [_agent_json(agent) for agent in self.agents],
            "histogram": [{"bucket": label, "count": count} for label, count in self.histogram],
            "daily": [_daily_json(d) for d in self.daily],
            "trend": {
                "period": self.trend_period,
                "rows": [_period_json(row) for row in self.trend],
            },
            "heatmap": {
                "tz": self.tz,
                "days": list(WEEKDAYS),
                "counts": [list(row) for row in self.heatmap],
            },
            "slowest": [slowest_json(r) for r in self.slowest],
            "unanswered": [_unanswered_json(r, self.generated_at) for r in self.unanswered],
            "waiting": [waiting_json(r, self.generated_at) for r in self.waiting],
            "waiting_count": len(self.waiting_all),
            "left_out": [_left_out_json(r) for r in self.left_out],
        }


# --------------------------------------------------------------------------- JSON shapes


def _rate(part: int | None, whole: int) -> float | None:
    return None if part is None or not whole else part / whole


def _stats_json(stats: ResponseStats) -> body.Stats:
    return {
        "mean": stats.mean,
        "median": stats.median,
        "p90": stats.p90,
        "min": stats.min,
        "max": stats.max,
    }


def _business_json(
    figures: PeriodFigures | CaseFigures, whole: int
) -> tuple[body.Stats | None, int | None, float | None]:
    """Business-hours stats, answered within target, and its rate (all None without hours)."""
    business = figures.business
    within = figures.answered_within_target_business
    stats = None if business is None else _stats_json(business)
    return stats, within, _rate(within, whole)


def _cases_json(cases: CaseFigures) -> body.Cases:
    business = _business_json(cases, cases.total)
    return {
        "count": cases.total,
        "answered": cases.answered,
        "response_rate": _rate(cases.answered, cases.total),
        "first_response_seconds": _stats_json(cases.first_response),
        "answered_within_target": cases.answered_within_target,
        "within_target_rate": _rate(cases.answered_within_target, cases.total),
        "first_response_business_seconds": business[0],
        "answered_within_target_business": business[1],
        "within_target_business_rate": business[2],
    }


def _brief(stats: ResponseStats | None) -> body.Brief | None:
    return None if stats is None else {"median": stats.median, "p90": stats.p90}


def _previous_json(period: PeriodFigures, complete: bool) -> body.Previous:
    cases = period.cases
    return {
        "window": {"start": iso(period.start), "end": iso(period.end)},
        "complete": complete,
        "mentions": period.mentions,
        "answered": period.answered,
        "response_rate": _rate(period.answered, period.mentions),
        "first_response_seconds": _brief(period.first_response),
        "within_target_rate": _rate(period.answered_within_target, period.mentions),
        "first_response_business_seconds": _brief(period.business),
        "within_target_business_rate": _rate(
            period.answered_within_target_business, period.mentions
        ),
        "excluded": {
            "crowd": period.excluded[CROWD],
            "not_a_question": period.excluded[NOT_A_QUESTION],
        },
        "cases": {
            "count": cases.total,
            "answered": cases.answered,
            "response_rate": _rate(cases.answered, cases.total),
            "first_response_seconds": _brief(cases.first_response),
            "within_target_rate": _rate(cases.answered_within_target, cases.total),
            "first_response_business_seconds": _brief(cases.business),
            "within_target_business_rate": _rate(
                cases.answered_within_target_business, cases.total
            ),
        },
    }


def _agent_json(agent: AgentRow) -> body.Agent:
    return {
        "signature": agent.signature,
        "cases": agent.cases,
        "median_seconds": agent.median_seconds,
        "median_business_seconds": agent.median_business_seconds,
    }


def _daily_json(day: DailyRow) -> body.Day:
    return {
        "date": day.date.isoformat(),
        "mentions": day.mentions,
        "answered": day.answered,
        "median_seconds": day.median_seconds,
        "partial": day.partial,
    }


def _period_json(row: PeriodRow) -> body.Period:
    return {
        "start": row.start.isoformat(),
        "end": row.end.isoformat(),
        "mentions": row.mentions,
        "answered": row.answered,
        "median_seconds": row.median_seconds,
        "partial": row.partial,
    }


def _post_json(row: MentionRow) -> body.PostHead:
    return {
        "id": row.id,
        "author": row.author,
        "author_id": row.author_id,
        "author_url": author_url(row.author, row.author_id),
        "text": row.text,
        "created_at": iso(row.created_at),
    }


def slowest_json(row: MentionRow) -> body.Slowest:
    return {
        **_post_json(row),
        "response_seconds": row.response_seconds,
        "business_seconds": row.business_seconds,
        "reply_id": row.reply_id,
        "signature": row.signature,
        "link": row.link,
    }


def _age(since: datetime, now: datetime) -> Seconds:
    return _seconds(max(0, _to_ms(now) - _to_ms(since)))


def _unanswered_json(row: MentionRow, now: datetime) -> body.Unanswered:
    return {**_post_json(row), "age_seconds": _age(row.created_at, now), "link": row.link}


def waiting_json(row: WaitingRow, now: datetime) -> body.Waiting:
    return {
        "case_id": row.case_id,
        "author": row.author,
        "author_id": row.author_id,
        "author_url": author_url(row.author, row.author_id),
        "text": row.text,
        "started_at": iso(row.started_at),
        "mentions": row.mentions,
        "age_seconds": _age(row.started_at, now),
        "link": row.link,
    }


def _left_out_json(row: MentionRow) -> body.LeftOut:
    return {**_post_json(row), "reason": row.excluded, "link": row.link}


# --------------------------------------------------------------------------- helpers


def _to_ms(value: datetime) -> int:
    """Milliseconds since the epoch (floored); a naive datetime is read as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // _MS


def _from_ms(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


def _link(handle: str, pid: str) -> str:
    """The post on X; ``/i/`` works when the author's handle is not known."""
    return f"https://x.com/{handle or 'i'}/status/{pid}"


def unknown_author(author_id: str) -> str:
    """How a row names an author whose handle is not known (yet): "user 1234567". Never a
    handle: X's have no space."""
    return f"user {author_id}"


def author_url(author: str, author_id: str | None) -> str | None:
    """The author's profile on X: by her handle, or by her id until it is known; None for
    a post without an author."""
    if not author_id:
        return None
    if author == unknown_author(author_id):
        return f"https://x.com/i/user/{author_id}"
    return f"https://x.com/{author}"


def shown_authors(report: Report) -> list[str]:
    """The author ids of the rows a person sees of the report, each once: the slowest
    answers, the mentions still unanswered, the people waiting and the mentions left out
    (the page's lists and the JSON's; not the CSV's every row)."""
    rows: list[MentionRow | WaitingRow] = [
        *report.slowest,
        *report.unanswered,
        *report.waiting,
        *report.left_out,
    ]
    return list(dict.fromkeys(row.author_id for row in rows if row.author_id))


def _seconds(value: timedelta | float) -> Seconds:
    """A duration (timedelta, or milliseconds) -> seconds: an int when whole, else a float
    rounded to the millisecond."""
    ms = value // _MS if isinstance(value, timedelta) else value
    if ms % 1000 == 0:
        return int(ms // 1000)
    return round(ms / 1000, 3)


def _quantile(data: list[int], n: int, i: int) -> float:
    """``statistics.quantiles(data, n=n, method="inclusive")[i - 1]`` for sorted ``data``
    (milliseconds).

    Same arithmetic as the standard library (which is not imported: it is slow to import),
    extended to a single data point (every quantile is that point).
    """
    if len(data) == 1:
        return data[0]
    j, delta = divmod(i * (len(data) - 1), n)
    return (data[j] * (n - delta) + data[j + 1] * delta) / n


def _stats(ordered: list[int]) -> ResponseStats:
    """Mean, median, 90th percentile, min and max of sorted milliseconds."""
    if not ordered:
        return ResponseStats()
    return ResponseStats(
        mean=_seconds(sum(ordered) / len(ordered)),
        median=_seconds(_quantile(ordered, 2, 1)),
        p90=_seconds(_quantile(ordered, 10, 9)),
        min=_seconds(ordered[0]),
        max=_seconds(ordered[-1]),
    )


def _median(ordered: list[int]) -> Seconds | None:
    return _seconds(_quantile(ordered, 2, 1)) if ordered else None


def _parse_utc(value: object) -> datetime | None:
    """Any ISO-8601 timestamp (or datetime) -> aware UTC datetime; naive is read as UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _created(post: Mapping[str, Any]) -> datetime | None:
    """A post's created_at: X's own format through the C parser, anything else slowly."""
    try:
        created = datetime.fromisoformat(post["created_at"])
        if created.tzinfo is UTC:
            return created
    except (KeyError, TypeError, ValueError):
        pass
    return _parse_utc(post.get("created_at"))


def zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except Exception as exc:  # ZoneInfoNotFoundError, ValueError, TypeError, OSError...
        raise InvalidReportParameter(f"Unknown time zone {tz!r}.", parameter="tz") from exc


def _heat_slot(quarter: int, tz: ZoneInfo) -> int | None:
    """Heatmap slot (weekday * 24 + local hour) shared by a whole UTC quarter hour, or None
    when the quarter straddles a local hour change (odd offsets, a DST switch)."""
    first = datetime.fromtimestamp(quarter * (_SLOT_MS // 1000), tz)
    last = datetime.fromtimestamp((quarter * _SLOT_MS + _SLOT_MS - 1) / 1000, tz)
    if first.utcoffset() != last.utcoffset() or first.hour != last.hour:
        return None
    return first.weekday() * 24 + first.hour


def _id_key(post_id: str) -> tuple[int, str]:
    """Numeric-string ids order by length, then text."""
    return len(post_id), post_id


def _oldest_first(ids: list[str], created_of: Mapping[str, datetime]) -> list[str]:
    """Ids by created_at, ties by id (numerically where they are numbers)."""
    try:
        ids.sort(key=int)
    except (TypeError, ValueError):
        ids.sort(key=_id_key)
    ids.sort(key=created_of.__getitem__)
    return ids


def _check(settings: ReportSettings) -> ZoneInfo:
    if settings.days < 1:
        raise InvalidReportParameter("The window must be at least one day.", parameter="days")
    if settings.target_seconds < 0:
        raise InvalidReportParameter(
            "The response-time target cannot be negative.", parameter="target"
        )
    if settings.hours is not None and not 0 <= settings.hours[0] < settings.hours[1] <= 1440:
        raise InvalidReportParameter("Business hours must open before they close.", "hours")
    return zone(settings.tz)


# --------------------------------------------------------------------------- phases


def _retweet(post: Mapping[str, Any]) -> bool:
    refs = post.get("referenced_tweets")
    if not refs:
        return False
    return any(ref.get("type") == "retweeted" for ref in refs)


def _mentions_in(
    mentions: Iterable[Mapping[str, Any]],
    account_id: str,
    first: datetime,
    start: datetime,
    end: datetime,
) -> tuple[dict[str, Mapping[str, Any]], dict[str, datetime]]:
    """Mentions from ``first`` to ``end`` (both included): id -> post, id -> created_at.
    The account's own posts and retweets are no mentions. Of two copies of an id the first
    wins within each window, and one in the window (from ``start`` on) over one before it."""
    posts: dict[str, Mapping[str, Any]] = {}
    created_of: dict[str, datetime] = {}
    fromiso, utc = datetime.fromisoformat, UTC
    for post in mentions:
        try:
            pid = post["id"]
            if post.get("author_id") == account_id:
                continue
            if post.get("referenced_tweets") and _retweet(post):
                continue
            try:  # X's own format, through the C parser: the common case, inline
                created: datetime | None = fromiso(post["created_at"])
                if created.tzinfo is not utc:  # type: ignore[union-attr]
                    raise TypeError
            except (KeyError, TypeError, ValueError):
                created = _created(post)
            if created is None or not first <= created <= end:
                continue
            seen = created_of.get(pid)
            if seen is None or (seen < start <= created):
                posts[pid] = post
                created_of[pid] = created
        except (AttributeError, KeyError, TypeError):
            continue  # not a post
    return posts, created_of


def _crowd(post: Mapping[str, Any], text: str, account_id: str, crowd: int) -> bool:
    if post.get("in_reply_to_user_id") == account_id:
        return False
    return len({handle.lower() for handle in _HANDLE.findall(text)}) > crowd


def _exclusions(
    posts: Mapping[str, Mapping[str, Any]], account_id: str, settings: ReportSettings
) -> dict[str, str]:
    """The needs-reply rules: mention id -> the reason it is left out, for those left out."""
    crowd, questions = settings.crowd, settings.questions
    excluded: dict[str, str] = {}
    if not crowd and not questions:
        return excluded
    for pid, post in posts.items():
        text = post.get("text")
        text = text if isinstance(text, str) else ""
        # Too few @ to name that many accounts: no need for the regex (the common case).
        if (
            crowd
            and (text.count("@") > crowd or "\uff20" in text)
            and _crowd(post, text, account_id, crowd)
        ):
            excluded[pid] = CROWD
        elif questions and "?" not in text:
            excluded[pid] = NOT_A_QUESTION
    return excluded


def _replied_to(post: Mapping[str, Any]) -> Any:
    refs = post.get("referenced_tweets")
    if refs:
        for ref in refs:
            if ref.get("type") == "replied_to":
                return ref.get("id")
    return None


def _earliest_replies(
    own_posts: Iterable[Mapping[str, Any]],
    mentions: Mapping[str, Mapping[str, Any]],
    account_id: str,
) -> tuple[dict[str, datetime], dict[str, Mapping[str, Any]]]:
    """The account's earliest reply to each mention: id -> its created_at, id -> the reply
    (ties: the smaller id)."""
    reply_at: dict[str, datetime] = {}
    reply_of: dict[str, Mapping[str, Any]] = {}
    fromiso, utc = datetime.fromisoformat, UTC
    for post in own_posts:
        try:
            if not post.get("referenced_tweets"):
                continue
            mid = _replied_to(post)
            if mid is None or mid not in mentions:
                continue  # not a reply, or not to a mention in the windows
            author = post.get("author_id")
            if author is not None and author != account_id:
                continue
            try:  # X's own format, through the C parser: the common case, inline
                created: datetime | None = fromiso(post["created_at"])
                if created.tzinfo is not utc:  # type: ignore[union-attr]
                    raise TypeError
            except (KeyError, TypeError, ValueError):
                created = _created(post)
            if created is None:
                continue
            best = reply_at.get(mid)
            if (
                best is None
                or created < best
                or (
                    created == best
                    and _id_key(str(post.get("id", ""))) < _id_key(str(reply_of[mid].get("id")))
                )
            ):
                reply_at[mid] = created
                reply_of[mid] = post
        except (AttributeError, KeyError, TypeError):
            continue
    return reply_at, reply_of


def _case_key(pid: str, post: Mapping[str, Any]) -> str:
    """Author and conversation; a post without an author is a case of its own. A string,
    not a tuple: strings are not tracked by the garbage collector, and 100,000 new tuples
    would make it walk every parsed post more than once."""
    author = post.get("author_id")
    if author is None:
        return f"\0{pid}"
    return f"{author}\0{post.get('conversation_id') or pid}"


def _cases(
    ids: list[str],
    seen: _Seen,
    responses: dict[str, timedelta],
    earlier: _Cases | None = None,
) -> _Cases:
    """Kept mentions of a window (oldest first) -> the cases that start in it (not yet
    timed); a mention of a case that started in ``earlier`` joins that one. Fills
    ``responses`` with each answered mention's first response (never negative)."""
    posts, created_of, reply_at, reply_of = (
        seen.posts,
        seen.created_of,
        seen.reply_at,
        seen.reply_of,
    )
    cases = _Cases(earlier)
    earlier_keys = {} if earlier is None else earlier.by_key
    by_key = cases.by_key
    zero = _ZERO
    for pid in ids:
        post = posts[pid]
        author = post.get("author_id")  # _case_key, inline: this loop sees every mention
        key = f"\0{pid}" if author is None else f"{author}\0{post.get('conversation_id') or pid}"
        owner = cases
        case = by_key.get(key)
        if case is None:
            case = earlier_keys.get(key)
            if case is None:
                case = by_key[key] = pid
            else:
                owner = earlier  # type: ignore[assignment]
        if case != pid:
            owner.last[case] = pid
            owner.size[case] = owner.size.get(case, 1) + 1
        replied = reply_at.get(pid)
        if replied is not None:
            response = replied - created_of[pid]
            responses[pid] = response if response > zero else zero
            best = owner.reply_at.get(case)
            if best is None or replied < best:
                owner.reply_at[case] = replied
                owner.reply[case] = reply_of[pid]
    cases.first = list(by_key.values())
    return cases


def _business_clock(
    settings: ReportSettings,
    tz: ZoneInfo,
    first: datetime,
    now: datetime,
    reply_at: Mapping[str, datetime],
) -> BusinessClock | None:
    """The open hours over every instant the windows ask about, or None without hours."""
    if settings.hours is None:
        return None
    # Up to the latest reply, but no further than now: a reply dated in the future (a
    # broken clock) must not make the clock span centuries; later instants see the span's end.
    last = min(max(max(reply_at.values(), default=first), first), now)
    return BusinessClock(
        settings.hours[0],
        settings.hours[1],
        settings.workdays,
        settings.holidays,
        tz,
        first.astimezone(tz).date() - timedelta(days=1),
        last.astimezone(tz).date() + timedelta(days=1),
    )


def _business_ms(
    clock: BusinessClock,
    responses: Mapping[str, timedelta],
    created_of: Mapping[str, datetime],
) -> dict[str, int]:
    """Answered mention id -> business milliseconds from the mention to its first reply."""
    ms = _MS
    spans = [(_to_ms(created_of[pid]), response // ms) for pid, response in responses.items()]
    return dict(zip(responses, clock.durations_ms(spans), strict=True))


def _tally(durations: Iterable[timedelta], target: timedelta) -> tuple[list[int], int]:
    """Sorted milliseconds of the durations, and how many are within the target."""
    ordered = sorted(d // _MS for d in durations)
    return ordered, bisect_right(ordered, target // _MS)


def _case_figures(cases: _Cases, target: timedelta) -> CaseFigures:
    """Cases answered, first response times and within target, calendar and business."""
    target_ms = target // _MS
    ordered = sorted(cases.response.values())
    business: ResponseStats | None = None
    within_business: int | None = None
    if cases.business is not None:
        business_ms = sorted(cases.business.values())
        business = _stats(business_ms)
        within_business = bisect_right(business_ms, target_ms)
    return CaseFigures(
        len(cases),
        len(ordered),
        bisect_right(ordered, target_ms),
        _stats(ordered),
        business,
        within_business,
    )


def _period(
    ids: list[str],
    start: datetime,
    end: datetime,
    responses: Mapping[str, timedelta],
    business_ms: Mapping[str, int] | None,
    cases: _Cases,
    excluded: dict[str, int],
    target: timedelta,
) -> PeriodFigures:
    """One window's figures, message and case level."""
    ordered, within = _tally(responses.values(), target)
    business: ResponseStats | None = None
    within_business: int | None = None
    if business_ms is not None:
        ms = sorted(business_ms.values())
        business = _stats(ms)
        within_business = bisect_right(ms, target // _MS)
    return PeriodFigures(
        start,
        end,
        len(ids),
        len(ordered),
        within,
        _stats(ordered),
        business,
        within_business,
        excluded,
        _case_figures(cases, target),
    )


def _agents(cases: _Cases) -> list[AgentRow]:
    """Answered cases by the signature of their first reply: most cases first, then by
    signature, unsigned last. (Signatures are read from the text as X sends it: its only
    entities, &amp; &lt; &gt;, are neither letters nor whitespace nor marks.)"""
    times: dict[str | None, list[int]] = {}
    business: dict[str | None, list[int]] = {}
    for case, response in cases.response.items():
        text = cases.reply[case].get("text")
        name = signature(text) if isinstance(text, str) else None
        times.setdefault(name, []).append(response)
        if cases.business is not None:
            business.setdefault(name, []).append(cases.business[case])
    rows = [
        AgentRow(
            name,
            len(ms),
            _median(sorted(ms)),
            _median(sorted(business[name])) if cases.business is not None else None,
        )
        for name, ms in times.items()
    ]
    rows.sort(key=lambda row: (-row.cases, row.signature is None, row.signature or ""))
    return rows


class _Calendar(NamedTuple):
    daily: list[DailyRow]
    trend: list[PeriodRow]
    heatmap: list[list[int]]
    histogram: list[tuple[str, int]]


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    """The instant (UTC) the local ``day`` begins in ``tz``. A midnight that a change of
    clocks skips is read with the offset before the change, as zoneinfo does: that is the
    instant of the change, the day's first."""
    return datetime.combine(day, _MIDNIGHT, tz).astimezone(UTC)


def _local_days(start: datetime, now: datetime, tz: ZoneInfo) -> tuple[list[date], list[datetime]]:
    """The local dates the window ``[start, now]`` touches, oldest first, and the instant
    each begins followed by the one the last ends: one zone conversion per day, so the walk
    finds a post's day by comparing instants, never converting a post (a conversion per
    post would add some two thirds to the calendar's time)."""
    day = start.astimezone(tz).date()
    dates, begins = [day], [_midnight(day, tz)]
    following = _midnight(day + timedelta(days=1), tz)
    while following <= now:
        day += timedelta(days=1)
        dates.append(day)
        begins.append(following)
        following = _midnight(day + timedelta(days=1), tz)
    begins.append(following)
    return dates, begins


def _daily_rows(
    dates: list[date],
    begins: list[datetime],
    window: tuple[datetime, datetime],
    mentions: list[int],
    responses: list[list[int]],
) -> list[DailyRow]:
    """A row per local date; a day is partial when the window does not hold it from its
    midnight to the next (the first unless the window starts at midnight, and the last)."""
    start, now = window
    rows = []
    for i, day in enumerate(dates):
        answered = sorted(responses[i])
        partial = begins[i] < start or now < begins[i + 1]
        rows.append(DailyRow(day, mentions[i], len(answered), _median(answered), partial))
    return rows


def trend_period(days: int) -> str:
    """What a row of the trend is for a window of ``days``: a day, a week or a month."""
    if days <= DAY_TREND_MAX_DAYS:
        return DAY
    return WEEK if days <= WEEK_TREND_MAX_DAYS else MONTH


def _period_of(day: date, period: str) -> tuple[date, date]:
    """The first and the last date of the period that holds ``day``."""
    if period == WEEK:
        monday = day - timedelta(days=day.weekday())
        return monday, monday + timedelta(days=6)
    if period == MONTH:
        first = day.replace(day=1)
        following = (first + timedelta(days=31)).replace(day=1)
        return first, following - timedelta(days=1)
    return day, day


def _trend_rows(
    dates: list[date],
    window: tuple[datetime, datetime],
    mentions: list[int],
    responses: list[list[int]],
    period: str,
    tz: ZoneInfo,
) -> list[PeriodRow]:
    """The days cut into periods (``dates`` are consecutive, oldest first). Each period's
    median is that of its mentions' response times (milliseconds, per day in ``responses``);
    a period is partial when the window does not hold it from its first midnight to the
    one after its last day."""
    start, now = window
    rows: list[PeriodRow] = []
    i = 0
    while i < len(dates):
        first, last = _period_of(dates[i], period)
        j = i
        while j < len(dates) and dates[j] <= last:
            j += 1
        answered = sorted(ms for day in responses[i:j] for ms in day)
        partial = _midnight(first, tz) < start or now < _midnight(last + timedelta(days=1), tz)
        median = _median(answered)
        rows.append(PeriodRow(first, last, sum(mentions[i:j]), len(answered), median, partial))
        i = j
    return rows


def _calendar(
    ids: list[str],
    created_of: Mapping[str, datetime],
    responses: Mapping[str, timedelta],
    start: datetime,
    now: datetime,
    tz: ZoneInfo,
    period: str = DAY,
) -> _Calendar:
    """Day rows (the zone's days) and the trend of ``period``s made of them, the heatmap
    and the histogram, in one walk in time order that recomputes the heatmap slot only when
    it crosses a UTC quarter hour, and the day only when it crosses a local midnight: one
    comparison per post in between."""
    dates, begins = _local_days(start, now, tz)
    day_mentions = [0] * len(dates)
    day_responses: list[list[int]] = [[] for _ in dates]
    heat = [0] * (7 * 24)
    hist = [0] * len(HISTOGRAM_BUCKETS)
    edges = _BUCKET_EDGES
    quarter_end = next_change = start  # the walk starts by computing the first quarter
    day = 0
    slot: int | None = None
    for pid in ids:
        created = created_of[pid]
        if created >= next_change:  # a new quarter hour, or a new local day, or both
            if created >= quarter_end:
                quarter = _to_ms(created) // _SLOT_MS
                quarter_end = _from_ms((quarter + 1) * _SLOT_MS)
                slot = _heat_slot(quarter, tz)
            while created >= begins[day + 1]:  # never past the last: created <= now
                day += 1
            next_change = min(quarter_end, begins[day + 1])
        day_mentions[day] += 1
        if slot is None:  # the quarter straddles a local hour change
            local = created.astimezone(tz)
            heat[local.weekday() * 24 + local.hour] += 1
        else:
            heat[slot] += 1
        response = responses.get(pid)
        if response is None:
            hist[_UNANSWERED_BUCKET] += 1
        else:
            day_responses[day].append(response // _MS)
            hist[bisect_right(edges, response)] += 1
    daily = _daily_rows(dates, begins, (start, now), day_mentions, day_responses)
    if period == DAY:  # the daily rows themselves
        trend = [PeriodRow(d.date, d.date, *d[1:]) for d in daily]
    else:
        trend = _trend_rows(dates, (start, now), day_mentions, day_responses, period, tz)
    return _Calendar(
        daily,
        trend,
        [heat[d * 24 : d * 24 + 24] for d in range(7)],
        list(zip(HISTOGRAM_BUCKETS, hist, strict=True)),
    )


def _waiting(cases: _Cases, data: _Mentions) -> list[WaitingRow]:
    """Every unanswered case, newest first."""
    rows: list[WaitingRow] = []
    for case in reversed(cases.first):
        if case in cases.reply_at:
            continue
        newest_id = cases.last.get(case, case)
        newest = data.posts[newest_id]
        author, author_id = data.author(newest)
        rows.append(
            WaitingRow(
                case,
                author,
                post_text(newest),
                data.created[case],
                cases.size.get(case, 1),
                data.link(newest, newest_id),
                author_id,
            )
        )
    return rows


def _kept(ids: list[str], excluded: Mapping[str, str]) -> tuple[list[str], dict[str, int]]:
    """The mentions the needs-reply rules keep, and how many each rule left out (every
    reason present, 0 when none)."""
    counts = dict.fromkeys(EXCLUSION_REASONS, 0)
    if not excluded:
        return ids, counts
    kept = []
    for pid in ids:
        reason = excluded.get(pid)
        if reason is None:
            kept.append(pid)
        else:
            counts[reason] += 1
    return kept, counts


class _Seen(NamedTuple):
    """What both windows are made from: the mentions of both, the rules' verdicts, the
    earliest replies and the open hours."""

    posts: dict[str, Mapping[str, Any]]
    created_of: dict[str, datetime]
    excluded: dict[str, str]
    reply_at: dict[str, datetime]
    reply_of: dict[str, Mapping[str, Any]]
    clock: BusinessClock | None


class _Window(NamedTuple):
    ids: list[str]  # every mention of the window, left-out ones too, oldest first
    kept: list[str]  # those the needs-reply rules keep
    responses: dict[str, timedelta]  # answered kept mention -> first response, oldest first
    business: dict[str, int] | None  # the same in business milliseconds, with hours
    cases: _Cases
    figures: PeriodFigures


def _split(created_of: Mapping[str, datetime], start: datetime) -> tuple[list[str], list[str]]:
    """Mentions from ``start`` on (the window) and before it (the previous period)."""
    window: list[str] = []
    before: list[str] = []
    for pid, at in created_of.items():
        (window if at >= start else before).append(pid)
    return window, before


def _windows(
    seen: _Seen, start: datetime, end: datetime, target: timedelta
) -> tuple[_Window, _Window]:
    """The window ``[start, end]`` and the previous period before it: their mentions, the
    needs-reply rules' verdicts, responses, cases and figures. Cases are formed over both
    in time order, so a person's conversation that began before ``start`` stays one case,
    the previous period's."""
    previous_start = start - (end - start)
    created_of, excluded, clock = seen.created_of, seen.excluded, seen.clock
    in_window, before = _split(created_of, start)
    sides = []
    earlier: _Cases | None = None
    for ids in (_oldest_first(before, created_of), _oldest_first(in_window, created_of)):
        kept, left_out = _kept(ids, excluded)
        responses: dict[str, timedelta] = {}
        earlier = _cases(kept, seen, responses, earlier)
        sides.append((ids, kept, left_out, responses, earlier))
    windows = []
    for (ids, kept, left_out, responses, cases), (first, last) in zip(
        sides, ((previous_start, start), (start, end)), strict=True
    ):
        business = None if clock is None else _business_ms(clock, responses, created_of)
        cases.timed(created_of, seen.reply_of, responses, business, clock)
        figures = _period(kept, first, last, responses, business, cases, left_out, target)
        windows.append(_Window(ids, kept, responses, business, cases, figures))
    return windows[0], windows[1]


# --------------------------------------------------------------------------- build


def build(
    account_id: str,
    username: str,
    mentions: Iterable[Mapping[str, Any]],
    own_posts: Iterable[Mapping[str, Any]],
    users: Mapping[str, str],
    now: datetime,
    settings: ReportSettings = DEFAULT_SETTINGS,
    history_start: datetime | None = None,
) -> Report:
    """Analyse the mentions of ``account_id`` in the window ``[now - days, now]`` and the
    period of the same length before it.

    ``users`` maps author id -> handle (what GET /2/users said of the authors shown); an
    author without one shows as "user <id>" (``unknown_author``). ``now`` should be aware
    (a naive value is read as UTC). ``history_start``: the archive holds every mention since
    then (None: not known), which makes the previous period complete when it is at or
    before its start. Posts that are not usable (no id, a created_at that does not parse...)
    count for nothing. Raises ``InvalidReportParameter`` for unusable ``settings`` (days < 1,
    target < 0, bad tz or hours).

    Written for speed: no object per post (only dict entries of existing objects and
    untracked ints/datetimes, so the garbage collector stays quiet), timestamps parsed once
    with the C ``datetime.fromisoformat``, heatmap slots cached per UTC quarter hour, days
    found by comparing instants with the local midnights (no zone conversion per post).
    """
    tz = _check(settings)
    now = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    start = now - timedelta(days=settings.days)
    previous_start = start - timedelta(days=settings.days)
    target = timedelta(seconds=settings.target_seconds)

    posts, created_of = _mentions_in(mentions, account_id, previous_start, start, now)
    excluded = _exclusions(posts, account_id, settings)
    reply_at, reply_of = _earliest_replies(own_posts, posts, account_id)
    seen = _Seen(
        posts,
        created_of,
        excluded,
        reply_at,
        reply_of,
        _business_clock(settings, tz, previous_start, now, reply_at),
    )
    previous, window = _windows(seen, start, now, target)

    cases = window.cases
    responses = window.responses
    data = _Mentions(seen, window, users)
    period = trend_period(settings.days)
    calendar = _calendar(window.kept, created_of, responses, start, now, tz, period)
    answered_ids = list(responses)
    slowest = nlargest(TOP_N, range(len(answered_ids)), key=lambda i: responses[answered_ids[i]])
    unanswered = islice((p for p in reversed(window.kept) if p not in responses), TOP_N)
    left_out = islice((p for p in reversed(window.ids) if p in excluded), LEFT_OUT_LIMIT)
    current = window.figures
    return Report(
        account_id=account_id,
        username=username,
        generated_at=now,
        window_start=start,
        window_end=now,
        days=settings.days,
        target_seconds=settings.target_seconds,
        tz=settings.tz,
        mentions=current.mentions,
        answered=current.answered,
        answered_within_target=current.answered_within_target,
        first_response_seconds=current.first_response,
        histogram=calendar.histogram,
        daily=calendar.daily,
        trend_period=period,
        trend=calendar.trend,
        heatmap=calendar.heatmap,
        slowest=[data.row(answered_ids[i]) for i in slowest],
        unanswered=[data.row(pid) for pid in unanswered],
        _mentions=data,
        current=current,
        previous=previous.figures,
        previous_complete=history_start is not None and history_start <= previous_start,
        agents=_agents(cases),
        left_out=[data.row(pid) for pid in left_out],
        waiting_all=_waiting(cases, data),
    )


# --------------------------------------------------------------------------- CSV


def to_csv(report: Report) -> str:
    """Every mention in the window, left-out ones too, oldest first, as RFC 4180 CSV
    (``\\r\\n`` line ends)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    writer.writerows(report._mentions.csv_rows())
    return out.getvalue()
