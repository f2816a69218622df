"""Per-account store in S3: every post seen so far (gzip JSON) and the last report.

Objects: `accounts/<id>/archive.json.gz` (posts, authors' handles, and per timeline the
newest id read plus any gaps left by an interrupted read) and `accounts/<id>/report.json`
(the report made with the settings the account saved, with its `settings` and `source`).
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.errors import NotFound, aws_call

ARCHIVE_VERSION = 1
_SNOWFLAKE_EPOCH_MS = 1288834974657  # X's post ids carry their creation time since this


def _utc(value: object) -> datetime | None:
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


@dataclass
class ArchiveState:
    mentions: dict[str, dict[str, Any]] = field(default_factory=dict)
    own_posts: dict[str, dict[str, Any]] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)
    cursors: dict[str, Cursor] = field(default_factory=dict)
    refreshed_at: float | None = None

    @property
    def post_count(self) -> int:
        return len(self.mentions) + len(self.own_posts)

    def cursor(self, timeline: str) -> Cursor:
        return self.cursors.setdefault(timeline, Cursor())

    def mentions_complete_since(self) -> datetime | None:
        """From when on the archive holds every mention X let us read: its oldest mention,
        or the end of the newest gap an interrupted read left, if later; None when it holds
        none. (What lies before the oldest is unknown: X's reach stops at 800 mentions.)"""
        stamps = [_utc(p.get("created_at")) for p in self.mentions.values()]
        oldest = min((stamp for stamp in stamps if stamp is not None), default=None)
        if oldest is None:
            return None
        # "mentions" is x_timeline.MENTIONS, not imported: x_timeline brings in Tweepy.
        gaps = self.cursors.get("mentions", Cursor()).gaps
        ends = [snowflake_time(int(until)) for _, until in gaps if until.isdigit()]
        return max([oldest, *ends])

    def to_json(self) -> dict[str, Any]:
        return {
            "version": ARCHIVE_VERSION,
            "mentions": list(self.mentions.values()),
            "own_posts": list(self.own_posts.values()),
            "users": self.users,
            "cursors": {name: cursor.to_json() for name, cursor in self.cursors.items()},
            "refreshed_at": self.refreshed_at,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> ArchiveState:
        return cls(
            mentions={post["id"]: post for post in value.get("mentions", [])},
            own_posts={post["id"]: post for post in value.get("own_posts", [])},
            users=dict(value.get("users", {})),
            cursors={k: Cursor.from_json(v) for k, v in value.get("cursors", {}).items()},
            refreshed_at=value.get("refreshed_at"),
        )


class Archive:
    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket

    @staticmethod
    def _key(account_id: str, name: str) -> str:
        return f"accounts/{account_id}/{name}"

    def _get(self, key: str) -> bytes | None:
        try:
            with aws_call("S3 GetObject"):
                answer = self._s3.get_object(Bucket=self._bucket, Key=key)
                body: bytes = answer["Body"].read()
        except NotFound:
            return None
        return body

    def _put(self, key: str, body: bytes, **extra: str) -> None:
        with aws_call("S3 PutObject"):
            self._s3.put_object(Bucket=self._bucket, Key=key, Body=body, **extra)

    def load(self, account_id: str) -> ArchiveState | None:
        body = self._get(self._key(account_id, "archive.json.gz"))
        if body is None:
            return None
        return ArchiveState.from_json(json.loads(gzip.decompress(body)))

    def save(self, account_id: str, state: ArchiveState) -> None:
        body = gzip.compress(json.dumps(state.to_json(), separators=(",", ":")).encode(), 6)
        self._put(
            self._key(account_id, "archive.json.gz"),
            body,
            ContentType="application/json",
            ContentEncoding="gzip",
        )

    def load_report(self, account_id: str) -> dict[str, Any] | None:
        body = self._get(self._key(account_id, "report.json"))
        return None if body is None else json.loads(body)

    def save_report(self, account_id: str, report: dict[str, Any]) -> None:
        body = json.dumps(report, separators=(",", ":")).encode()
        self._put(self._key(account_id, "report.json"), body, ContentType="application/json")

    def delete(self, account_id: str) -> None:
        keys = [{"Key": self._key(account_id, n)} for n in ("archive.json.gz", "report.json")]
        with aws_call("S3 DeleteObjects"):
            self._s3.delete_objects(Bucket=self._bucket, Delete={"Objects": keys})
