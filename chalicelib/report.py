"""Response-time analytics: how fast and how often an account answers its mentions.

Pure code, no I/O. Input posts are dicts exactly as X API v2 returns them::

    {"id": "1862...", "text": "...", "created_at": "2026-11-28T15:05:14.000Z",
     "author_id": "...", "referenced_tweets": [{"type": "replied_to", "id": "..."}]}

Definitions (see ``build``):

* A *mention* is a post from the mentions list whose author is not the account and that is
  not a retweet. Duplicates (same id) are counted once, the first copy wins. It is in the
  window when ``now - days <= created_at <= now``.
* A mention is *answered* when one of the account's own posts (author the account, or
  ``author_id`` missing) carries ``{"type": "replied_to", "id": <mention id>}``. The
  response time is the earliest such reply's ``created_at`` minus the mention's; later
  replies change nothing and a reply dated before the mention (clock skew) counts as 0 s.
  Replies are not filtered by ``now``.

Times are aware UTC datetimes and durations timedeltas, so differences are exact; a
duration is reported to the millisecond (floored; X timestamps have millisecond
resolution, in practice always ``.000``). Every ``*_seconds`` number in the output is an
``int`` when it is a whole number of seconds and otherwise a ``float`` rounded to the
millisecond (3 decimals) -- e.g. ``600`` or ``599.5``; rates are plain floats in 0..1.
Datetimes are emitted as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (UTC, X's own format).

Timestamps that cannot be parsed make the post count for nothing; a timestamp without a
UTC offset is read as UTC.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from heapq import nlargest
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

__all__ = [
    "CSV_HEADER",
    "DEFAULT_SETTINGS",
    "HISTOGRAM_BUCKETS",
    "WEEKDAYS",
    "DailyRow",
    "InvalidReportParameter",
    "MentionRow",
    "Report",
    "ReportSettings",
    "ResponseStats",
    "build",
    "parse_days",
    "parse_target_minutes",
    "parse_tz",
    "to_csv",
]

Seconds = int | float

DAYS_DEFAULT, DAYS_MIN, DAYS_MAX = 28, 1, 90
TARGET_MINUTES_DEFAULT, TARGET_MINUTES_MIN, TARGET_MINUTES_MAX = 60, 1, 10080
TZ_DEFAULT = "UTC"

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
CSV_HEADER: tuple[str, ...] = (
    "id",
    "created_at",
    "author",
    "answered",
    "reply_id",
    "response_seconds",
    "link",
    "text",
)
# A cell starting with one of these is a formula to a spreadsheet (and "@acme ..." is how
# most mentions start): such text gets a leading apostrophe, as OWASP advises for CSV.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def post_text(post: Mapping[str, Any]) -> str:
    """A post's text as its author wrote it. X API v2 sends `&`, `<` and `>` as HTML
    entities; they are decoded once here, and pages escape the text again on output."""
    import html

    return html.unescape(str(post.get("text") or ""))


def _spreadsheet_safe(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


TOP_N = 10

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_ZERO = timedelta(0)
_MS_PER_DAY = 86_400_000
_SLOT_MS = 900_000  # heatmap cache granularity: every real UTC offset is a multiple of 15 min


class InvalidReportParameter(ValueError):
    """A report parameter (query string or setting) is invalid; ``str(exc)`` is readable."""


@dataclass(frozen=True)
class ReportSettings:
    days: int = DAYS_DEFAULT  # window [now - days, now]
    target_seconds: int = TARGET_MINUTES_DEFAULT * 60
    tz: str = TZ_DEFAULT  # IANA zone for the heatmap


DEFAULT_SETTINGS = ReportSettings()


class MentionRow(NamedTuple):
    """One mention in the window (a row of the CSV)."""

    id: str
    created_at: datetime  # UTC, aware
    author: str  # username, else the author id, else "" when the post has no author_id
    author_id: str | None
    text: str
    answered: bool
    reply_id: str | None  # the earliest reply
    response_seconds: Seconds | None  # None when unanswered; >= 0
    link: str


class ResponseStats(NamedTuple):
    """Time to first reply over the answered mentions; all None when nothing is answered."""

    mean: Seconds | None = None
    median: Seconds | None = None
    p90: Seconds | None = None
    min: Seconds | None = None
    max: Seconds | None = None


class DailyRow(NamedTuple):
    date: date  # UTC day
    mentions: int
    answered: int  # mentions of that day that got answered
    median_seconds: Seconds | None


class _Mentions:
    """Compact per-mention data kept by ``build``; ``Report.rows`` is made from it on demand
    (the JSON report never needs 100,000 row objects, only the CSV does)."""

    __slots__ = ("created", "ids", "posts", "reply_id", "response", "users")

    def __init__(
        self,
        ids: list[str],  # oldest first
        posts: dict[str, Mapping[str, Any]],
        created: dict[str, datetime],
        reply_id: dict[str, str],
        response: dict[str, timedelta],
        users: Mapping[str, str],
    ) -> None:
        self.ids = ids
        self.posts = posts
        self.created = created
        self.reply_id = reply_id
        self.response = response
        self.users = users

    def _author(self, post: Mapping[str, Any]) -> tuple[str, str | None]:
        author_id = post.get("author_id")
        if author_id is None:
            return "", None
        return self.users.get(author_id) or author_id, author_id

    def row(self, pid: str) -> MentionRow:
        post = self.posts[pid]
        author, author_id = self._author(post)
        response = self.response.get(pid)
        return MentionRow(
            pid,
            self.created[pid],
            author,
            author_id,
            post_text(post),
            response is not None,
            self.reply_id.get(pid),
            None if response is None else _seconds(response),
            _link(author, pid),
        )

    def csv_rows(self) -> Iterator[tuple[object, ...]]:
        """The CSV's rows, straight from the compact data (no MentionRow objects)."""
        posts, created = self.posts, self.created
        reply_id, response_of = self.reply_id.get, self.response.get
        for pid in self.ids:
            author, _ = self._author(posts[pid])
            response = response_of(pid)
            yield (
                pid,
                _iso(created[pid]),
                author,
                "false" if response is None else "true",
                reply_id(pid, ""),
                "" if response is None else _seconds(response),
                _link(author, pid),
                _spreadsheet_safe(post_text(posts[pid])),
            )


@dataclass
class Report:
    account_id: str
    username: str
    generated_at: datetime  # = now, UTC
    window_start: datetime
    window_end: datetime
    days: int
    target_seconds: int
    tz: str
    mentions: int
    answered: int
    answered_within_target: int
    first_response_seconds: ResponseStats
    histogram: list[tuple[str, int]]  # (bucket label, count), in HISTOGRAM_BUCKETS order
    daily: list[DailyRow]  # one per UTC day of the window, oldest first
    heatmap: list[list[int]]  # 7 (Mon..Sun) x 24 (local hour) mention counts in ``tz``
    slowest: list[MentionRow]  # answered, largest response first (ties: older first)
    unanswered: list[MentionRow]  # newest first
    _mentions: _Mentions = field(repr=False, compare=False)

    @cached_property
    def rows(self) -> list[MentionRow]:
        """Every mention in the window, oldest first (ties: by id); made on first use."""
        row = self._mentions.row
        return [row(pid) for pid in self._mentions.ids]

    @property
    def response_rate(self) -> float | None:
        return self.answered / self.mentions if self.mentions else None

    @property
    def within_target_rate(self) -> float | None:
        return self.answered_within_target / self.mentions if self.mentions else None

    def to_dict(self) -> dict[str, Any]:
        """The /report.json body without "source": JSON-serialisable, numeric."""
        now_ms = _to_ms(self.generated_at)
        stats = self.first_response_seconds
        return {
            "account": {"id": self.account_id, "username": self.username},
            "generated_at": _iso(self.generated_at),
            "window": {
                "start": _iso(self.window_start),
                "end": _iso(self.window_end),
                "days": self.days,
            },
            "target_seconds": self.target_seconds,
            "mentions": self.mentions,
            "answered": self.answered,
            "response_rate": self.response_rate,
            "first_response_seconds": {
                "mean": stats.mean,
                "median": stats.median,
                "p90": stats.p90,
                "min": stats.min,
                "max": stats.max,
            },
            "answered_within_target": self.answered_within_target,
            "within_target_rate": self.within_target_rate,
            "histogram": [{"bucket": label, "count": count} for label, count in self.histogram],
            "daily": [
                {
                    "date": d.date.isoformat(),
                    "mentions": d.mentions,
                    "answered": d.answered,
                    "median_seconds": d.median_seconds,
                }
                for d in self.daily
            ],
            "heatmap": {
                "tz": self.tz,
                "days": list(WEEKDAYS),
                "counts": [list(row) for row in self.heatmap],
            },
            "slowest": [
                {
                    "id": r.id,
                    "author": r.author,
                    "text": r.text,
                    "created_at": _iso(r.created_at),
                    "response_seconds": r.response_seconds,
                    "reply_id": r.reply_id,
                    "link": r.link,
                }
                for r in self.slowest
            ],
            "unanswered": [
                {
                    "id": r.id,
                    "author": r.author,
                    "text": r.text,
                    "created_at": _iso(r.created_at),
                    "age_seconds": _seconds(max(0, now_ms - _to_ms(r.created_at))),
                    "link": r.link,
                }
                for r in self.unanswered
            ],
        }


# --------------------------------------------------------------------------- helpers


def _to_ms(value: datetime) -> int:
    """Milliseconds since the epoch (floored); a naive datetime is read as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // _MS


def _from_ms(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


def _iso(value: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ`` in UTC (sub-millisecond digits are dropped)."""
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.isoformat(timespec="milliseconds")[:-6] + "Z"  # drop "+00:00"


def _link(author: str, pid: str) -> str:
    """The post on X; ``/i/`` works when the author is not known."""
    return f"https://x.com/{author or 'i'}/status/{pid}"


def _seconds(value: timedelta | float) -> Seconds:
    """A duration (timedelta, or milliseconds) -> seconds: an int when whole, else a float
    rounded to the millisecond."""
    ms = value // _MS if isinstance(value, timedelta) else value
    if ms % 1000 == 0:
        return int(ms // 1000)
    return round(ms / 1000, 3)


def _quantile(data: list[timedelta], n: int, i: int) -> float:
    """``statistics.quantiles(ms, n=n, method="inclusive")[i - 1]`` in milliseconds, for
    sorted ``data``.

    Same arithmetic as the standard library (which is not imported: it is slow to import),
    extended to a single data point (every quantile is that point).
    """
    if len(data) == 1:
        return data[0] // _MS
    j, delta = divmod(i * (len(data) - 1), n)
    return (data[j] // _MS * (n - delta) + data[j + 1] // _MS * delta) / n


def _stats(ordered: list[timedelta]) -> ResponseStats:
    if not ordered:
        return ResponseStats()
    return ResponseStats(
        mean=_seconds(sum(ordered, _ZERO) // _MS / len(ordered)),
        median=_seconds(_quantile(ordered, 2, 1)),
        p90=_seconds(_quantile(ordered, 10, 9)),
        min=_seconds(ordered[0]),
        max=_seconds(ordered[-1]),
    )


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


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except Exception as exc:  # ZoneInfoNotFoundError, ValueError, TypeError, OSError...
        raise InvalidReportParameter(f"Unknown time zone {tz!r}.") from exc


def _heat_slot(quarter: int, zone: ZoneInfo) -> int | None:
    """Heatmap slot (weekday * 24 + local hour) shared by a whole UTC quarter hour, or None
    when the quarter straddles a local hour change (odd offsets, a DST switch)."""
    first = datetime.fromtimestamp(quarter * (_SLOT_MS // 1000), zone)
    last = datetime.fromtimestamp((quarter * _SLOT_MS + _SLOT_MS - 1) / 1000, zone)
    if first.utcoffset() != last.utcoffset() or first.hour != last.hour:
        return None
    return first.weekday() * 24 + first.hour


def _id_key(post_id: str) -> tuple[int, str]:
    """Numeric-string ids order by length, then text."""
    return len(post_id), post_id


# --------------------------------------------------------------------------- build


def build(
    account_id: str,
    username: str,
    mentions: Iterable[Mapping[str, Any]],
    own_posts: Iterable[Mapping[str, Any]],
    users: Mapping[str, str],
    now: datetime,
    settings: ReportSettings = DEFAULT_SETTINGS,
) -> Report:
    """Analyse the mentions of ``account_id`` in the window ``[now - days, now]``.

    ``users`` maps author id -> username (X's ``includes.users``); an unknown author shows
    as its id. ``now`` should be aware (a naive value is read as UTC). Posts that are not
    usable (no id, a created_at that does not parse...) count for nothing. Raises
    ``InvalidReportParameter`` for unusable ``settings`` (days < 1, target < 0, bad tz).

    Written for speed: no object per post (only dict entries of existing objects and
    untracked ints/datetimes, so the garbage collector stays quiet), timestamps parsed once
    with the C ``datetime.fromisoformat``, heatmap slots cached per UTC quarter hour.
    """
    if settings.days < 1:
        raise InvalidReportParameter("The window must be at least one day.")
    if settings.target_seconds < 0:
        raise InvalidReportParameter("The response-time target cannot be negative.")
    zone = _zone(settings.tz)

    now = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    start = now - timedelta(days=settings.days)
    fromiso = datetime.fromisoformat
    utc = UTC

    # 1. Mentions in the window, first copy of an id wins: id -> post, id -> created_at.
    posts: dict[str, Mapping[str, Any]] = {}
    created_of: dict[str, datetime] = {}
    for post in mentions:
        try:
            pid = post["id"]
            if pid in posts or post.get("author_id") == account_id:
                continue  # duplicate or self-mention
            refs = post.get("referenced_tweets")
            if refs:
                retweet = False
                for ref in refs:
                    if ref.get("type") == "retweeted":
                        retweet = True
                        break
                if retweet:
                    continue
            try:
                created = fromiso(post["created_at"])
                if created.tzinfo is not utc:
                    raise TypeError  # naive or another offset: normalise below
            except (KeyError, TypeError, ValueError):
                slow = _parse_utc(post.get("created_at"))
                if slow is None:
                    continue
                created = slow
            if start <= created <= now:
                posts[pid] = post
                created_of[pid] = created
        except (AttributeError, KeyError, TypeError):
            continue  # not a post

    # 2. The account's earliest reply to each of them: id -> reply created_at, reply id.
    reply_at: dict[str, datetime] = {}
    reply_id: dict[str, str] = {}
    for post in own_posts:
        try:
            refs = post.get("referenced_tweets")
            if not refs:
                continue
            mid = None
            for ref in refs:
                if ref.get("type") == "replied_to":
                    mid = ref.get("id")
                    break
            if mid is None or mid not in posts:
                continue  # not a reply, or not to a mention in the window
            author = post.get("author_id")
            if author is not None and author != account_id:
                continue
            try:
                created = fromiso(post["created_at"])
                if created.tzinfo is not utc:
                    raise TypeError
            except (KeyError, TypeError, ValueError):
                slow = _parse_utc(post.get("created_at"))
                if slow is None:
                    continue
                created = slow
            rid = str(post.get("id", ""))
            best = reply_at.get(mid)
            if (
                best is None
                or created < best
                or (created == best and _id_key(rid) < _id_key(reply_id[mid]))
            ):
                reply_at[mid] = created
                reply_id[mid] = rid
        except (AttributeError, KeyError, TypeError):
            continue

    # 3. One pass over the window, oldest first (ties: by id). Response times stay
    #    timedeltas (cheap to subtract and compare); the walk in time order only
    #    recomputes the day and heatmap slot when it crosses a UTC quarter hour.
    ids = list(posts)
    try:
        ids.sort(key=int)
    except (TypeError, ValueError):
        ids.sort(key=_id_key)
    ids.sort(key=created_of.__getitem__)

    day0 = _to_ms(start) // _MS_PER_DAY
    n_days = _to_ms(now) // _MS_PER_DAY - day0 + 1
    day_mentions = [0] * n_days
    day_responses: list[list[timedelta]] = [[] for _ in range(n_days)]
    heat = [0] * (7 * 24)
    hist = [0] * len(HISTOGRAM_BUCKETS)
    edges = _BUCKET_EDGES
    zero = _ZERO
    target = timedelta(seconds=settings.target_seconds)
    within = 0
    response_of: dict[str, timedelta] = {}
    responses: list[timedelta] = []  # in the order of answered_ids
    answered_ids: list[str] = []
    unanswered_ids: list[str] = []

    quarter_end = start  # the walk starts by computing the first quarter
    day = 0
    slot: int | None = None
    for pid in ids:
        created = created_of[pid]
        if created >= quarter_end:
            quarter = _to_ms(created) // _SLOT_MS
            quarter_end = _from_ms((quarter + 1) * _SLOT_MS)
            day = quarter * _SLOT_MS // _MS_PER_DAY - day0
            slot = _heat_slot(quarter, zone)
        day_mentions[day] += 1
        if slot is None:  # the quarter straddles a local hour change
            local = created.astimezone(zone)
            heat[local.weekday() * 24 + local.hour] += 1
        else:
            heat[slot] += 1

        replied = reply_at.get(pid)
        if replied is None:
            unanswered_ids.append(pid)
            continue
        response = replied - created
        if response < zero:
            response = zero  # clock skew: a reply dated before the mention
        response_of[pid] = response
        responses.append(response)
        answered_ids.append(pid)
        day_responses[day].append(response)
        hist[bisect_right(edges, response)] += 1
        if response <= target:
            within += 1
    hist[_UNANSWERED_BUCKET] = len(unanswered_ids)

    daily = []
    for day in range(n_days):
        answered_today = day_responses[day]
        answered_today.sort()
        daily.append(
            DailyRow(
                date=_from_ms((day0 + day) * _MS_PER_DAY).date(),
                mentions=day_mentions[day],
                answered=len(answered_today),
                median_seconds=_seconds(_quantile(answered_today, 2, 1))
                if answered_today
                else None,
            )
        )

    data = _Mentions(ids, posts, created_of, reply_id, response_of, users)
    slowest = nlargest(TOP_N, range(len(responses)), key=responses.__getitem__)
    return Report(
        account_id=account_id,
        username=username,
        generated_at=now,
        window_start=start,
        window_end=now,
        days=settings.days,
        target_seconds=settings.target_seconds,
        tz=settings.tz,
        mentions=len(ids),
        answered=len(responses),
        answered_within_target=within,
        first_response_seconds=_stats(sorted(responses)),
        histogram=list(zip(HISTOGRAM_BUCKETS, hist, strict=True)),
        daily=daily,
        heatmap=[heat[d * 24 : d * 24 + 24] for d in range(7)],
        slowest=[data.row(answered_ids[i]) for i in slowest],
        unanswered=[data.row(pid) for pid in reversed(unanswered_ids[-TOP_N:])],
        _mentions=data,
    )


# --------------------------------------------------------------------------- CSV


def to_csv(report: Report) -> str:
    """Every mention in the window, oldest first, as RFC 4180 CSV (``\\r\\n`` line ends)."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    writer.writerows(report._mentions.csv_rows())
    return out.getvalue()


# --------------------------------------------------------------------------- query strings


def _parse_int(value: str | None, name: str, default: int, low: int, high: int) -> int:
    if value is None or not value.strip():
        return default
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise InvalidReportParameter(f"{name} must be a whole number from {low} to {high}.")
    return int(text)


def parse_days(value: str | None) -> int:
    """The window in days: 1..90, default 28."""
    return _parse_int(value, "Days", DAYS_DEFAULT, DAYS_MIN, DAYS_MAX)


def parse_target_minutes(value: str | None) -> int:
    """The response-time target given in minutes (1..10080, default 60); returns seconds."""
    minutes = _parse_int(
        value,
        "The target (minutes)",
        TARGET_MINUTES_DEFAULT,
        TARGET_MINUTES_MIN,
        TARGET_MINUTES_MAX,
    )
    return minutes * 60


_TZ_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_+-")


def parse_tz(value: str | None) -> str:
    """An IANA time zone name such as ``Europe/Berlin``; default ``UTC``."""
    if value is None or not value.strip():
        return TZ_DEFAULT
    name = value.strip()
    parts = name.split("/")
    if (
        len(name) > 64
        or not set(name) <= _TZ_CHARS
        or any(part in ("", ".", "..") for part in parts)
    ):
        raise InvalidReportParameter(f"Unknown time zone {name[:64]!r}.")
    _zone(name)
    return name
