"""In-memory X data for the emulator: accounts, posts and per-user indexes sorted by id.

Post ids are snowflake-like: ``(ms since the Twitter epoch) << 22 | sequence``, so they grow
with ``created_at`` and ``since_id`` / ``until_id`` / ``start_time`` / ``end_time`` all reduce
to id ranges that :mod:`bisect` answers in O(log n).

Compliance state (what X's batch compliance reports): a post deleted by its author, an
account protected, suspended or deleted, each with the time it happened.

Not thread-safe by itself: :class:`local.x_emulator.XEmulator` holds one lock around it.
"""

from __future__ import annotations

import re
from bisect import bisect_left, insort
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from chalicelib.formats import iso

TWITTER_EPOCH_MS = 1288834974657
_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SEQUENCE_BITS = 22
USERNAME_RE = re.compile(r"^[A-Za-z0-9_]{1,15}$")
# A handle: not glued to a preceding word character (so e-mail addresses do not count).
MENTION_RE = re.compile(r"(?<![A-Za-z0-9_@])@([A-Za-z0-9_]{1,15})(?![A-Za-z0-9_])")
_FIRST_USER_ID = 1_412_000_000_000_000_000


def as_utc(value: datetime) -> datetime:
    """Aware UTC datetime; a naive value is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def epoch_ms(value: datetime) -> int:
    return (as_utc(value) - _UNIX_EPOCH) // timedelta(milliseconds=1)


def id_floor(value: datetime) -> int:
    """The smallest post id a post created at ``value`` (or later) can have."""
    return max(0, epoch_ms(value) - TWITTER_EPOCH_MS) << _SEQUENCE_BITS


def format_time(value: datetime) -> str:
    """X's timestamp format, e.g. ``2026-11-28T15:05:14.000Z`` (the app's own formats.iso:
    what the emulator sends is what the app writes)."""
    return iso(value)


@dataclass(frozen=True)
class Account:
    id: str
    username: str
    name: str
    created_at: datetime
    index: int


@dataclass
class Post:
    id: int
    author_id: str
    text: str
    created_at: datetime
    conversation_id: int
    in_reply_to_user_id: str | None = None
    reply_to: int | None = None
    retweet_of: int | None = None
    mentioned: set[str] = field(default_factory=set)

    @property
    def id_str(self) -> str:
        return str(self.id)


class XStore:
    """Accounts and posts with per-user ``tweets`` and ``mentions`` indexes (ids ascending)."""

    def __init__(self) -> None:
        self.accounts: dict[str, Account] = {}  # insertion order = authorize-page order
        self._by_username: dict[str, str] = {}
        self.posts: dict[int, Post] = {}
        self.tweets_of: dict[str, list[int]] = {}
        self.mentions_of: dict[str, list[int]] = {}
        self.reply_count: Counter[int] = Counter()
        self.retweet_count: Counter[int] = Counter()
        self._sequence: Counter[int] = Counter()
        # What happened on X, and when: post id -> deleted at; account id -> (reason, at).
        self.deleted_posts: dict[int, datetime] = {}
        self.account_events: dict[str, tuple[str, datetime]] = {}

    # accounts -------------------------------------------------------------------------------
    def add_account(self, username: str, name: str | None = None) -> Account:
        username = username.removeprefix("@")
        if not USERNAME_RE.match(username):
            raise ValueError(f"invalid X username {username!r} (1-15 of A-Z a-z 0-9 _)")
        if username.lower() in self._by_username:
            raise ValueError(f"username @{username} is taken")
        index = len(self.accounts)
        account = Account(
            id=str(_FIRST_USER_ID + index * 7_919_011),
            username=username,
            name=name if name else username,
            created_at=datetime(2011, 3, 1, tzinfo=UTC) + timedelta(days=(index * 389) % 4000),
            index=index,
        )
        self.accounts[account.id] = account
        self._by_username[username.lower()] = account.id
        self.tweets_of[account.id] = []
        self.mentions_of[account.id] = []
        # Posts written before the account existed that spell out its handle mention it now.
        needle = "@" + username.lower()
        for post in self.posts.values():
            if needle in post.text.lower() and self._text_mentions(post.text, account.id):
                self._index_mention(post, account.id)
        return account

    def find_account(self, ref: str) -> Account | None:
        """An account by id, username or @username."""
        if ref in self.accounts:
            return self.accounts[ref]
        account_id = self._by_username.get(ref.removeprefix("@").lower())
        return self.accounts[account_id] if account_id else None

    def account(self, ref: str) -> Account:
        found = self.find_account(ref)
        if found is None:
            raise KeyError(f"no such X account: {ref!r}")
        return found

    def _text_mentions(self, text: str, only: str | None = None) -> set[str]:
        ids: set[str] = set()
        for match in MENTION_RE.finditer(text):
            account_id = self._by_username.get(match.group(1).lower())
            if account_id and (only is None or account_id == only):
                ids.add(account_id)
        return ids

    def mention_entities(self, text: str) -> list[dict[str, object]]:
        """``entities.mentions`` for known handles in ``text`` (code point offsets)."""
        found: list[dict[str, object]] = []
        for match in MENTION_RE.finditer(text):
            account_id = self._by_username.get(match.group(1).lower())
            if account_id:
                found.append(
                    {
                        "start": match.start(),
                        "end": match.end(),
                        "username": self.accounts[account_id].username,
                        "id": account_id,
                    }
                )
        return found

    # posts ----------------------------------------------------------------------------------
    def new_post_id(self, created_at: datetime) -> int:
        ms = epoch_ms(created_at)
        if ms < TWITTER_EPOCH_MS:
            raise ValueError("created_at must be after 2010-11-04 (X's snowflake epoch)")
        sequence = self._sequence[ms]
        if sequence >= 1 << _SEQUENCE_BITS:
            raise ValueError("too many posts in one millisecond")
        self._sequence[ms] += 1
        return ((ms - TWITTER_EPOCH_MS) << _SEQUENCE_BITS) | sequence

    def add_post(
        self,
        author: str,
        text: str,
        created_at: datetime,
        *,
        reply_to: int | None = None,
        mentions: Iterable[str] = (),
        retweet_of: int | None = None,
    ) -> Post:
        account = self.account(author)
        created_at = as_utc(created_at)
        created_at = created_at.replace(microsecond=created_at.microsecond // 1000 * 1000)
        parent = self._existing(reply_to, "reply_to")
        original = self._existing(retweet_of, "retweet_of")
        if parent is not None and original is not None:
            raise ValueError("a post is either a reply or a retweet, not both")
        if original is not None and not text:
            text = f"RT @{self.accounts[original.author_id].username}: {original.text}"
        if not text:
            raise ValueError("a post needs text")
        post_id = self.new_post_id(created_at)
        post = Post(
            id=post_id,
            author_id=account.id,
            text=text,
            created_at=created_at,
            conversation_id=post_id,
        )
        mentioned = self._text_mentions(text)
        mentioned.update(self.account(ref).id for ref in mentions)
        if parent is not None:
            post.reply_to = parent.id
            post.conversation_id = parent.conversation_id
            post.in_reply_to_user_id = parent.author_id
            self.reply_count[parent.id] += 1
            # On X a reply carries the parent author's @handle, so it reaches their mentions.
            if parent.author_id != account.id:
                mentioned.add(parent.author_id)
        if original is not None:
            post.retweet_of = original.id
            self.retweet_count[original.id] += 1
            mentioned.add(original.author_id)
            mentioned.update(original.mentioned)
        self.posts[post_id] = post
        insort(self.tweets_of[account.id], post_id)
        for account_id in mentioned:
            self._index_mention(post, account_id)
        return post

    def _existing(self, post_id: int | None, what: str) -> Post | None:
        if post_id is None:
            return None
        post = self.posts.get(post_id)
        if post is None:
            raise KeyError(f"{what}: no such post {post_id}")
        return post

    def _index_mention(self, post: Post, account_id: str) -> None:
        if account_id not in post.mentioned:
            post.mentioned.add(account_id)
            insort(self.mentions_of[account_id], post.id)

    def referenced_tweets(self, post: Post) -> list[dict[str, str]]:
        if post.reply_to is not None:
            return [{"type": "replied_to", "id": str(post.reply_to)}]
        if post.retweet_of is not None:
            return [{"type": "retweeted", "id": str(post.retweet_of)}]
        return []

    # compliance -----------------------------------------------------------------------------
    def delete_post(self, post_id: int, at: datetime) -> Post:
        """The author deletes the post: it leaves every timeline, and compliance reports it."""
        post = self._existing(post_id, "delete")
        assert post is not None
        if post_id in self.deleted_posts:
            return post
        self.deleted_posts[post_id] = as_utc(at)
        self._drop(self.tweets_of[post.author_id], post_id)
        for account_id in post.mentioned:
            self._drop(self.mentions_of[account_id], post_id)
        return post

    @staticmethod
    def _drop(index: list[int], post_id: int) -> None:
        position = bisect_left(index, post_id)
        if position < len(index) and index[position] == post_id:
            del index[position]

    def account_event(self, ref: str, reason: str, at: datetime) -> Account:
        """The account becomes ``protected``, ``suspended`` or ``deleted``: every post of it is
        then one compliance must report (the latest event wins)."""
        if reason not in ACCOUNT_REASONS:
            raise ValueError(f"unknown account event {reason!r}; one of {ACCOUNT_REASONS}")
        account = self.account(ref)
        self.account_events[account.id] = (reason, as_utc(at))
        return account

    def post_compliance(self, post_id: int) -> tuple[str, datetime] | None:
        """Why a stored copy of the post must go, and since when (None: it may stay)."""
        post = self.posts.get(post_id)
        if post is None:
            return None
        if post_id in self.deleted_posts:
            return "deleted", self.deleted_posts[post_id]
        return self.account_events.get(post.author_id)

    def user_compliance(self, user_id: str) -> tuple[str, datetime] | None:
        return self.account_events.get(user_id)


ACCOUNT_REASONS = ("protected", "suspended", "deleted", "deactivated")
