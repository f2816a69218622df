"""Per-account store in S3: every post seen so far (gzip JSON) and the last report.

Objects: `accounts/<id>/archive.json.gz` (posts, the handles of the authors a report has
shown and the ids X said have no user, and per timeline the newest id read plus any gaps
left by an interrupted read) and `accounts/<id>/report.json`
(the report made with the settings the account saved, with its `settings` and `source`).

Two writers may hold the same account at once (a page view and the schedule's worker).
The archive is written only over the version it was read from (`If-Match` its ETag, or
`If-None-Match: *` when there was none): a writer that lost the race reloads, merges what
it read from X into what the other wrote (`ArchiveState.merge`), and writes again, so no
post read is ever lost to the last writer. The bucket is versioned: each write answers
the version it made (`Written`), which a writer deletes again, exactly, when it learns the
account was forgotten meanwhile; a forget deletes every version of every object.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from chalicelib.errors import NotFound, StoreUnavailable, aws_call

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

ARCHIVE_VERSION = 1
ARCHIVE, REPORT = "archive.json.gz", "report.json"
ACCOUNTS_PREFIX = "accounts/"
# What S3 answers a conditional write whose condition is false: the object changed
# (412), another conditional write is in progress (409), or, for If-Match, it is gone.
_WRITE_CONFLICTS = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey"})
WRITE_ATTEMPTS = 4  # each lost race means another writer just wrote: a few in a row at most
_DELETE_LIMIT = 1000  # DeleteObjects takes at most 1,000 keys
_SNOWFLAKE_EPOCH_MS = 1288834974657  # X's post ids carry their creation time since this


def utc_time(value: object) -> datetime | None:
    """An ISO-8601 created_at as an aware UTC datetime (no offset: UTC), or None."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def snowflake_time(post_id: int) -> datetime:
    """When X created the post with this (snowflake) id, to the millisecond."""
    ms = (post_id >> 22) + _SNOWFLAKE_EPOCH_MS
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


_BELOW_ALL = -1  # an open interval's bound below every id (a gap with no since_id)
_ABOVE_ALL = 1 << 64  # and above every id (what is newer than the newest id read)


def _unread(cursor: Cursor) -> list[tuple[int, int]]:
    """What a cursor has not read, as open intervals of ids: its gaps, and everything newer
    than its newest id (everything, when it has read nothing)."""
    if cursor.newest_id is None:
        return [(_BELOW_ALL, _ABOVE_ALL)]
    gaps = [(int(since) if since else _BELOW_ALL, int(until)) for since, until in cursor.gaps]
    return [*gaps, (int(cursor.newest_id), _ABOVE_ALL)]


@dataclass
class Cursor:
    """How far a timeline has been read: everything newer than `newest_id` is unread, and
    so is each (since_id, until_id) gap a read that X cut short left behind."""

    newest_id: str | None = None
    gaps: list[tuple[str | None, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"newest_id": self.newest_id, "gaps": [list(gap) for gap in self.gaps]}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Cursor:
        return cls(value.get("newest_id"), [(g[0], g[1]) for g in value.get("gaps", [])])

    def merge(self, other: Cursor) -> Cursor:
        """What two reads of one timeline have read between them: an id is unread only if
        both left it unread (the intersection of their unread intervals), so a range either
        read is never asked of X again, and a gap either left is kept unless the other read
        it."""
        newest = [int(c.newest_id) for c in (self, other) if c.newest_id is not None]
        if not newest:
            return Cursor()
        gaps: list[tuple[str | None, str]] = []
        for low_a, high_a in _unread(self):
            for low_b, high_b in _unread(other):
                low, high = max(low_a, low_b), min(high_a, high_b)
                if high - low > 1 and high != _ABOVE_ALL:  # holds an id, below the newest
                    gaps.append((None if low == _BELOW_ALL else str(low), str(high)))
        gaps.sort(key=lambda gap: int(gap[1]), reverse=True)
        return Cursor(str(max(newest)), gaps)


@dataclass
class HistoryRead:
    """How far the reading of one query of an account's older history has gone (history.py):
    the posts created before `end_time` (what the archive held when X counted them),
    about `estimate` of them, read `pages` pages so far, `next_token` where X goes on."""

    end_time: str  # ISO-8601 UTC, exclusive
    estimate: int
    until_id: str | None = None  # the oldest post the archive held: read only older ones
    next_token: str | None = None
    pages: int = 0
    posts: int = 0
    done: bool = False

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self))

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> HistoryRead:
        return cls(
            end_time=str(value["end_time"]),
            estimate=int(value.get("estimate", 0)),
            until_id=value.get("until_id"),
            next_token=value.get("next_token"),
            pages=int(value.get("pages", 0)),
            posts=int(value.get("posts", 0)),
            done=bool(value.get("done", False)),
        )


@dataclass
class History:
    """An account's older history (history.py): counted at `counted_at` (epoch seconds),
    confirmed by the person at `confirmed_at` (None: only counted), each query's read."""

    counted_at: float
    reads: dict[str, HistoryRead] = field(default_factory=dict)
    confirmed_at: float | None = None
    stepped_at: float | None = None  # when the last page was read (or the read confirmed)
    count_requests: int = 0  # what counting took at X (a request a query, or more pages)

    @property
    def pages(self) -> int:
        return sum(read.pages for read in self.reads.values())

    @property
    def done(self) -> bool:
        """Every query read to its start (or found to have nothing older when counted)."""
        return all(read.done for read in self.reads.values())

    @property
    def phase(self) -> str:
        """What the page says of it: "counted" (its price shown, no yes yet), "reading" or
        "done"."""
        if self.done:
            return "done"
        return "counted" if self.confirmed_at is None else "reading"

    @property
    def read(self) -> int:
        """Older posts read so far, every query's."""
        return sum(read.posts for read in self.reads.values())

    @property
    def estimate(self) -> int:
        """Older posts X counted, every query's."""
        return sum(read.estimate for read in self.reads.values())

    def later(self, other: History | None) -> History:
        """Of two writers' copies, the one further on: confirmed over only counted, then
        more pages read (each page moves one read on; nothing moves one back)."""
        if other is None:
            return self
        mine = (self.confirmed_at is not None, self.pages, self.counted_at)
        theirs = (other.confirmed_at is not None, other.pages, other.counted_at)
        return self if mine >= theirs else other

    def to_json(self) -> dict[str, Any]:
        return {
            "counted_at": self.counted_at,
            "confirmed_at": self.confirmed_at,
            "stepped_at": self.stepped_at,
            "count_requests": self.count_requests,
            "reads": {name: read.to_json() for name, read in self.reads.items()},
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> History:
        return cls(
            counted_at=float(value["counted_at"]),
            confirmed_at=value.get("confirmed_at"),
            stepped_at=value.get("stepped_at"),
            count_requests=int(value.get("count_requests", 0)),
            reads={k: HistoryRead.from_json(v) for k, v in value.get("reads", {}).items()},
        )


@dataclass
class ArchiveState:
    mentions: dict[str, dict[str, Any]] = field(default_factory=dict)
    own_posts: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Author id -> handle, for the authors a report showed (GET /2/users, once each, ever).
    users: dict[str, str] = field(default_factory=dict)
    # Author ids X answered with no user (deleted, suspended): shown as "user <id>", never
    # asked again while a post of theirs is kept.
    missing_users: set[str] = field(default_factory=set)
    cursors: dict[str, Cursor] = field(default_factory=dict)
    refreshed_at: float | None = None
    # Ids of the posts X's compliance said must go (compliance.py): never stored again, not
    # by a later read, and not by a writer that loaded the archive before they went and
    # merges into it after (the one thing kept of a withdrawn post is its id).
    withdrawn: set[str] = field(default_factory=set)
    # The reading of older history the person asked for (history.py), if she did.
    history: History | None = None
    # The S3 ETag of the object this state was loaded from (None: there was none); the
    # next save writes only over that version. Not part of the stored JSON.
    etag: str | None = field(default=None, compare=False)

    @property
    def post_count(self) -> int:
        return len(self.mentions) + len(self.own_posts)

    def cursor(self, timeline: str) -> Cursor:
        return self.cursors.setdefault(timeline, Cursor())

    def mentions_complete_since(self) -> datetime | None:
        """From when on the archive holds every mention X let us read: its oldest mention,
        or the end of the newest gap an interrupted read left, if later; None when it holds
        none. (What lies before the oldest is unknown: X's reach stops at 800 mentions.)"""
        oldest = self.oldest_mention()
        if oldest is None:
            return None
        # "mentions" is x_timeline.MENTIONS, not imported: x_timeline brings in Tweepy.
        gaps = self.cursors.get("mentions", Cursor()).gaps
        ends = [snowflake_time(int(until)) for _, until in gaps if until.isdigit()]
        return max([oldest, *ends])

    def oldest_mention(self) -> datetime | None:
        """When the oldest mention the archive holds was made: how far back it reaches."""
        stamps = (utc_time(p.get("created_at")) for p in self.mentions.values())
        return min((stamp for stamp in stamps if stamp is not None), default=None)

    def merge(self, stored: ArchiveState) -> ArchiveState:
        """This state (read from X since it was loaded) folded into `stored`, what another
        writer saved meanwhile: every post of either (this one's copy when both hold it: it
        was read later), every handle, each timeline read as far as either read it, and
        the later refresh. A post either writer withdrew stays out, and so does the handle of
        an author with no post left (and X's word that she has none). The result writes
        over `stored`'s version."""
        cursors = {
            name: self.cursors.get(name, Cursor()).merge(stored.cursors.get(name, Cursor()))
            for name in {*self.cursors, *stored.cursors}
        }
        refreshed = [t for t in (self.refreshed_at, stored.refreshed_at) if t is not None]
        withdrawn = self.withdrawn | stored.withdrawn

        def kept(mine: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
            return {k: v for k, v in {**theirs, **mine}.items() if k not in withdrawn}

        mentions = kept(self.mentions, stored.mentions)
        own_posts = kept(self.own_posts, stored.own_posts)
        # A handle stays only while a post of its author does: one X's compliance took out
        # (with her posts) does not come back from a writer that loaded it before.
        authors = {str(p.get("author_id")) for p in (*mentions.values(), *own_posts.values())}
        users = {k: v for k, v in {**stored.users, **self.users}.items() if k in authors}
        missing = (self.missing_users | stored.missing_users) & authors
        return ArchiveState(
            mentions=mentions,
            own_posts=own_posts,
            users=users,
            missing_users=missing - set(users),
            cursors=cursors,
            refreshed_at=max(refreshed, default=None),
            withdrawn=withdrawn,
            history=self.history.later(stored.history) if self.history else stored.history,
            etag=stored.etag,
        )

    def unknown_authors(self, author_ids: Iterable[str | None]) -> list[str]:
        """Of `author_ids`, each once and in order, those whose handle the archive lacks and
        X has not said are gone: the ones worth asking X about."""
        known = self.users.keys() | self.missing_users
        return [a for a in dict.fromkeys(author_ids) if a is not None and a not in known]

    def learn_users(self, handles: dict[str, str], missing: set[str]) -> None:
        """Keep what X said of some author ids: their handles, or that it has no user."""
        self.users.update(handles)
        self.missing_users = (self.missing_users | missing) - self.users.keys()

    def keep(self, timeline: dict[str, dict[str, Any]], post: dict[str, Any]) -> bool:
        """Store a post read from X in `timeline` (mentions or own_posts), unless it was
        withdrawn; whether it was stored."""
        if post["id"] in self.withdrawn:
            return False
        timeline[post["id"]] = post
        return True

    def to_json(self) -> dict[str, Any]:
        return {
            "version": ARCHIVE_VERSION,
            "mentions": list(self.mentions.values()),
            "own_posts": list(self.own_posts.values()),
            "users": self.users,
            "missing_users": sorted(self.missing_users),
            "cursors": {name: cursor.to_json() for name, cursor in self.cursors.items()},
            "refreshed_at": self.refreshed_at,
            "withdrawn": sorted(self.withdrawn, key=int),
            "history": None if self.history is None else self.history.to_json(),
        }

    @classmethod
    def from_json(cls, value: dict[str, Any], etag: str | None = None) -> ArchiveState:
        return cls(
            mentions={post["id"]: post for post in value.get("mentions", [])},
            own_posts={post["id"]: post for post in value.get("own_posts", [])},
            users=dict(value.get("users", {})),
            missing_users=set(value.get("missing_users", [])),
            cursors={k: Cursor.from_json(v) for k, v in value.get("cursors", {}).items()},
            refreshed_at=value.get("refreshed_at"),
            withdrawn=set(value.get("withdrawn", [])),
            history=History.from_json(value["history"]) if value.get("history") else None,
            etag=etag,
        )


@dataclass(frozen=True)
class Written:
    """One object version a writer made: what it deletes again if the account was
    forgotten while it wrote (`version_id` None: the bucket keeps no versions)."""

    key: str
    version_id: str | None
    etag: str | None = None


class WriteConflict(Exception):
    """The archive changed since it was read (another writer saved, or a forget deleted
    it): an outcome the save handles itself by reloading and merging, never a failure."""


class Archive:
    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket

    @staticmethod
    def _key(account_id: str, name: str) -> str:
        return f"{ACCOUNTS_PREFIX}{account_id}/{name}"

    def _get(self, key: str) -> tuple[bytes, str | None] | None:
        try:
            with aws_call("S3 GetObject"):
                answer = self._s3.get_object(Bucket=self._bucket, Key=key)
                body: bytes = answer["Body"].read()
        except NotFound:
            return None
        return body, answer.get("ETag")

    def _put(self, key: str, body: bytes, **extra: str) -> Written:
        with aws_call("S3 PutObject"):
            try:
                answer = self._s3.put_object(Bucket=self._bucket, Key=key, Body=body, **extra)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") in _WRITE_CONFLICTS:
                    raise WriteConflict(key) from error
                raise
        return Written(key, answer.get("VersionId"), answer.get("ETag"))

    def load(self, account_id: str) -> ArchiveState | None:
        found = self._get(self._key(account_id, ARCHIVE))
        if found is None:
            return None
        body, etag = found
        return ArchiveState.from_json(json.loads(gzip.decompress(body)), etag)

    def save(self, account_id: str, state: ArchiveState) -> Written:
        """Write the archive over the version `state` was loaded from; when another writer
        changed it meanwhile, merge into what it wrote and try again. `state` is left as
        written (merged, with the new ETag), so the caller's report is made from it."""
        written = self._write(account_id, state, must_exist=False)
        assert written is not None
        return written

    def replace(self, account_id: str, state: ArchiveState) -> Written | None:
        """save, but never making an archive that is not there: None when it is gone (the
        account was forgotten since `state` was loaded), and nothing is written."""
        return self._write(account_id, state, must_exist=True)

    def _write(self, account_id: str, state: ArchiveState, *, must_exist: bool) -> Written | None:
        for _ in range(WRITE_ATTEMPTS):
            body = gzip.compress(json.dumps(state.to_json(), separators=(",", ":")).encode(), 6)
            condition = {"IfMatch": state.etag} if state.etag else {"IfNoneMatch": "*"}
            try:
                written = self._put(
                    self._key(account_id, ARCHIVE),
                    body,
                    ContentType="application/json",
                    ContentEncoding="gzip",
                    **condition,
                )
            except WriteConflict:
                stored = self.load(account_id)
                if stored is None and must_exist:
                    return None
                merged = state.merge(stored or ArchiveState())
                vars(state).update(vars(merged))
                continue
            state.etag = written.etag
            return written
        raise StoreUnavailable(f"S3 PutObject failed: {WRITE_ATTEMPTS} writers in a row won")

    def load_report(self, account_id: str) -> dict[str, Any] | None:
        found = self._get(self._key(account_id, REPORT))
        return None if found is None else json.loads(found[0])

    def save_report(self, account_id: str, report: dict[str, Any]) -> Written:
        body = json.dumps(report, separators=(",", ":")).encode()
        return self._put(self._key(account_id, REPORT), body, ContentType="application/json")

    def delete(self, account_id: str) -> int:
        """Every version of every object of the account, and every delete marker: nothing
        of hers stays behind in the bucket, not even for the day old versions are kept.
        Returns how many versions were deleted."""
        versions = list(self._versions(f"{ACCOUNTS_PREFIX}{account_id}/"))
        self._delete_versions(versions)
        return len(versions)

    def delete_written(self, written: list[Written]) -> None:
        """Exactly the versions a writer made (none other: the account may have been
        signed in anew since, and what that session wrote is hers)."""
        self._delete_versions([{"Key": w.key, "VersionId": w.version_id} for w in written])

    def _versions(self, prefix: str) -> Iterator[dict[str, str]]:
        with aws_call("S3 ListObjectVersions"):
            pages = self._s3.get_paginator("list_object_versions").paginate(
                Bucket=self._bucket, Prefix=prefix
            )
            for page in pages:
                for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                    yield {"Key": entry["Key"], "VersionId": entry["VersionId"]}

    def _delete_versions(self, versions: list[dict[str, Any]]) -> None:
        for start in range(0, len(versions), _DELETE_LIMIT):
            batch = [
                {k: v for k, v in entry.items() if v is not None}
                for entry in versions[start : start + _DELETE_LIMIT]
            ]
            with aws_call("S3 DeleteObjects"):
                answer = self._s3.delete_objects(
                    Bucket=self._bucket, Delete={"Objects": batch, "Quiet": True}
                )
            if answer.get("Errors"):
                codes = sorted({error.get("Code", "?") for error in answer["Errors"]})
                raise StoreUnavailable(f"S3 DeleteObjects failed: {', '.join(codes)}")

    def account_folders(self) -> Iterator[str]:
        """The id of every account with anything in the bucket, an old version or a delete
        marker included (the sweep looks for folders whose account is gone)."""
        return self._folders("list_object_versions", "S3 ListObjectVersions")

    def archived_accounts(self, start_at: str = "") -> Iterator[str]:
        """The id of every account whose archive is in the bucket now (current objects
        only: what the compliance round asks X about), in key order, from the folder of
        `start_at` on (included)."""
        where = {"StartAfter": f"{ACCOUNTS_PREFIX}{start_at}"} if start_at else {}
        return self._folders("list_objects_v2", "S3 ListObjectsV2", **where)

    def _folders(self, listing: str, what: str, **extra: str) -> Iterator[str]:
        """The account ids of the folders a listing (by its paginator's name) shows."""
        with aws_call(what):
            pages = self._s3.get_paginator(listing).paginate(
                Bucket=self._bucket, Prefix=ACCOUNTS_PREFIX, Delimiter="/", **extra
            )
            for page in pages:
                for folder in page.get("CommonPrefixes", []):
                    yield folder["Prefix"][len(ACCOUNTS_PREFIX) :].rstrip("/")
