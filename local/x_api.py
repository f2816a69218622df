"""X API v2 semantics for the emulator: query validation, paging and JSON rendering.

Field names and enums are copied from X's OpenAPI description (shared/x-api/openapi.json,
info.version 2.159) so the emulator does not need that file at run time.
"""

from __future__ import annotations

import html
import re
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from local.x_store import Account, Post, XStore, as_utc, format_time, id_floor

TWEET_FIELDS = [
    "article",
    "attachments",
    "author_id",
    "card_uri",
    "community_id",
    "context_annotations",
    "conversation_id",
    "created_at",
    "display_text_range",
    "edit_controls",
    "edit_history_tweet_ids",
    "entities",
    "geo",
    "id",
    "in_reply_to_user_id",
    "lang",
    "media_metadata",
    "non_public_metrics",
    "note_tweet",
    "organic_metrics",
    "possibly_sensitive",
    "promoted_metrics",
    "public_metrics",
    "referenced_tweets",
    "reply_settings",
    "scopes",
    "source",
    "suggested_source_links",
    "suggested_source_links_with_counts",
    "text",
    "withheld",
]
USER_FIELDS = [
    "affiliation",
    "confirmed_email",
    "connection_status",
    "created_at",
    "description",
    "entities",
    "id",
    "is_identity_verified",
    "location",
    "most_recent_tweet_id",
    "name",
    "parody",
    "pinned_tweet_id",
    "profile_banner_url",
    "profile_image_url",
    "protected",
    "public_metrics",
    "receives_your_dm",
    "subscription",
    "subscription_type",
    "url",
    "username",
    "verified",
    "verified_followers_count",
    "verified_type",
    "withheld",
]
TWEET_EXPANSIONS = [
    "article.cover_media",
    "article.media_entities",
    "attachments.media_keys",
    "attachments.media_source_tweet",
    "attachments.poll_ids",
    "author_id",
    "edit_history_tweet_ids",
    "entities.mentions.username",
    "geo.place_id",
    "in_reply_to_user_id",
    "entities.note.mentions.username",
    "referenced_tweets.id",
    "referenced_tweets.id.attachments.media_keys",
    "referenced_tweets.id.author_id",
]
USER_EXPANSIONS = ["affiliation.user_id", "most_recent_tweet_id", "pinned_tweet_id"]
MEDIA_FIELDS = [
    "alt_text",
    "duration_ms",
    "height",
    "media_key",
    "non_public_metrics",
    "organic_metrics",
    "preview_image_url",
    "promoted_metrics",
    "public_metrics",
    "type",
    "url",
    "variants",
    "width",
]
POLL_FIELDS = ["duration_minutes", "end_datetime", "id", "options", "voting_status"]
PLACE_FIELDS = [
    "contained_within",
    "country",
    "country_code",
    "full_name",
    "geo",
    "id",
    "name",
    "place_type",
]
EXCLUDE_VALUES = ["replies", "retweets"]

_LIST_PARAMS: dict[str, list[str]] = {
    "tweet.fields": TWEET_FIELDS,
    "user.fields": USER_FIELDS,
    "media.fields": MEDIA_FIELDS,
    "poll.fields": POLL_FIELDS,
    "place.fields": PLACE_FIELDS,
    "exclude": EXCLUDE_VALUES,
}
_TIMELINE_PARAMS = [
    "id",
    "since_id",
    "until_id",
    "max_results",
    "pagination_token",
    "start_time",
    "end_time",
    "expansions",
    "tweet.fields",
    "media.fields",
    "poll.fields",
    "user.fields",
    "place.fields",
]
_TWEETS_PARAMS = [*_TIMELINE_PARAMS[:5], "exclude", *_TIMELINE_PARAMS[5:]]
_ME_PARAMS = ["expansions", "tweet.fields", "user.fields"]
_ID_RE = re.compile(r"^[0-9]{1,19}$")
_RFC3339_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$", re.IGNORECASE
)
DEFAULT_TWEET_FIELDS = ("id", "text", "edit_history_tweet_ids")
DEFAULT_USER_FIELDS = ("id", "name", "username")
MENTIONS_REACH = 800
TWEETS_REACH = 3200
TWEETS_REACH_EXCLUDING_REPLIES = 800

INVALID_REQUEST_TYPE = "https://api.twitter.com/2/problems/invalid-request"


class InvalidRequest(Exception):
    """A 400 with X's invalid-request problem body."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(str(e["message"]) for e in errors))
        self.errors = errors

    def body(self) -> dict[str, Any]:
        return {
            "errors": self.errors,
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": INVALID_REQUEST_TYPE,
        }


def _param_error(name: str, value: str, message: str) -> dict[str, Any]:
    return {"parameters": {name: [value]}, "message": message}


@dataclass(frozen=True)
class Cursor:
    """An opaque pagination token: a boundary post id and a direction."""

    boundary: int
    newer: bool

    def encode(self) -> str:
        return _base36(self.boundary * 2 + (1 if self.newer else 0))

    @classmethod
    def decode(cls, token: str) -> Cursor:
        if not re.fullmatch(r"[0-9a-z]{1,40}", token):
            raise ValueError(token)
        number = int(token, 36)
        return cls(boundary=number // 2, newer=bool(number % 2))


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if number == 0:
            return out


@dataclass
class Query:
    """A validated v2 query (timeline or users/me)."""

    max_results: int = 10
    since_id: int | None = None
    until_id: int | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    cursor: Cursor | None = None
    tweet_fields: set[str] = field(default_factory=set)
    user_fields: set[str] = field(default_factory=set)
    expansions: set[str] = field(default_factory=set)
    exclude: set[str] = field(default_factory=set)


def parse_query(
    args: Mapping[str, Sequence[str]], endpoint: str, path_id: str | None = None
) -> Query:
    """Validate query parameters like X does; raise :class:`InvalidRequest` listing every error.

    ``endpoint`` is ``"mentions"``, ``"tweets"`` or ``"me"``; ``args`` maps a name to all its
    values (werkzeug's ``MultiDict.to_dict(flat=False)``).
    """
    allowed = {"mentions": _TIMELINE_PARAMS, "tweets": _TWEETS_PARAMS, "me": _ME_PARAMS}[endpoint]
    errors: list[dict[str, Any]] = []
    query = Query()
    values: dict[str, str] = {}
    for name, given in args.items():
        if name not in allowed or name == "id":
            errors.append(
                _param_error(
                    name,
                    given[0],
                    f"The query parameter [{name}] is not one of [{','.join(allowed)}]",
                )
            )
        elif len(given) > 1:
            errors.append(
                {
                    "parameters": {name: list(given)},
                    "message": f"Duplicate parameters are not allowed: the `{name}` query "
                    "parameter",
                }
            )
        else:
            values[name] = given[0]
    if path_id is not None and not _ID_RE.match(path_id):
        errors.append(
            _param_error("id", path_id, f"The `id` query parameter value [{path_id}] is not valid")
        )

    for name, choices in _LIST_PARAMS.items():
        if name in values:
            items = values[name].split(",")
            bad = [item for item in items if item not in choices]
            if bad:
                errors.append(
                    _param_error(
                        name,
                        bad[0],
                        f"The `{name}` query parameter value [{bad[0]}] is not one of "
                        f"[{','.join(choices)}]",
                    )
                )
            chosen = set(items)
            if name == "tweet.fields":
                query.tweet_fields = chosen
            elif name == "user.fields":
                query.user_fields = chosen
            elif name == "exclude":
                query.exclude = chosen
    if "expansions" in values:
        choices = USER_EXPANSIONS if endpoint == "me" else TWEET_EXPANSIONS
        items = values["expansions"].split(",")
        bad = [item for item in items if item not in choices]
        if bad:
            errors.append(
                _param_error(
                    "expansions",
                    bad[0],
                    f"The `expansions` query parameter value [{bad[0]}] is not one of "
                    f"[{','.join(choices)}]",
                )
            )
        query.expansions = set(items)

    if "max_results" in values:
        raw = values["max_results"]
        if not re.fullmatch(r"-?\d{1,9}", raw):
            errors.append(
                _param_error(
                    "max_results",
                    raw,
                    f"The `max_results` query parameter value [{raw}] is not a valid integer",
                )
            )
        elif not 5 <= int(raw) <= 100:
            errors.append(
                _param_error(
                    "max_results",
                    raw,
                    f"The `max_results` query parameter value [{raw}] is not between 5 and 100",
                )
            )
        else:
            query.max_results = int(raw)
    for name in ("since_id", "until_id"):
        if name in values:
            raw = values[name]
            if not _ID_RE.match(raw):
                errors.append(
                    _param_error(
                        name,
                        raw,
                        f"The `{name}` query parameter value [{raw}] does not match "
                        "^[0-9]{1,19}$",
                    )
                )
            elif name == "since_id":
                query.since_id = int(raw)
            else:
                query.until_id = int(raw)
    for name in ("start_time", "end_time"):
        if name in values:
            raw = values[name]
            parsed = _parse_time(raw)
            if parsed is None:
                errors.append(
                    _param_error(
                        name,
                        raw,
                        f"The `{name}` query parameter value [{raw}] is not a valid RFC 3339 "
                        "date-time (YYYY-MM-DDTHH:mm:ssZ)",
                    )
                )
            elif name == "start_time":
                query.start_time = parsed
            else:
                query.end_time = parsed
    if query.start_time and query.end_time and query.start_time >= query.end_time:
        errors.append(
            _param_error(
                "start_time",
                values["start_time"],
                f"Invalid 'start_time':'{values['start_time']}'. 'start_time' must be before "
                "'end_time'",
            )
        )
    if "pagination_token" in values:
        raw = values["pagination_token"]
        try:
            query.cursor = Cursor.decode(raw)
        except ValueError:
            errors.append(
                _param_error(
                    "pagination_token",
                    raw,
                    f"The `pagination_token` query parameter value [{raw}] is not valid",
                )
            )
    if errors:
        raise InvalidRequest(errors)
    return query


def _parse_time(raw: str) -> datetime | None:
    if not _RFC3339_RE.match(raw):
        return None
    text = raw.upper().replace("Z", "+00:00")
    fraction = re.search(r"\.(\d+)", text)
    if fraction:  # Python accepts at most 6 fractional digits
        text = text.replace(fraction.group(0), "." + fraction.group(1)[:6].ljust(6, "0"))
    try:
        return as_utc(datetime.fromisoformat(text))
    except ValueError:
        return None


@dataclass
class Page:
    ids: list[int]  # newest first
    next_token: str | None
    previous_token: str | None


def timeline_page(index: list[int], query: Query, reach: int) -> Page:
    """One page of ``index`` (ids ascending) newest first, honouring reach, filters and cursor."""
    lo = max(0, len(index) - reach)
    hi = len(index)
    if query.since_id is not None:
        lo = max(lo, bisect_right(index, query.since_id))
    if query.start_time is not None:
        lo = max(lo, bisect_left(index, id_floor(query.start_time)))
    if query.until_id is not None:
        hi = min(hi, bisect_left(index, query.until_id))
    if query.end_time is not None:
        hi = min(hi, bisect_left(index, id_floor(query.end_time)))
    size = query.max_results
    cursor = query.cursor
    if cursor is None or not cursor.newer:
        top = hi if cursor is None else min(hi, bisect_left(index, cursor.boundary))
        bottom = max(lo, top - size)
    else:
        bottom = max(lo, bisect_right(index, cursor.boundary))
        top = min(hi, bottom + size)
    if bottom >= top:
        return Page(ids=[], next_token=None, previous_token=None)
    ids = index[bottom:top][::-1]
    return Page(
        ids=ids,
        next_token=Cursor(ids[-1], newer=False).encode() if bottom > lo else None,
        previous_token=Cursor(ids[0], newer=True).encode() if top < hi else None,
    )


def filter_excluded(index: list[int], store: XStore, exclude: set[str]) -> list[int]:
    """The user's timeline without replies and/or retweets (``exclude=``)."""
    return [
        post_id
        for post_id in index
        if not (
            ("replies" in exclude and store.posts[post_id].reply_to is not None)
            or ("retweets" in exclude and store.posts[post_id].retweet_of is not None)
        )
    ]


# rendering ----------------------------------------------------------------------------------
def _display_text_range(text: str) -> list[int]:
    """Skip leading ``@handle`` prefixes as X does for replies."""
    match = re.match(r"^(?:@[A-Za-z0-9_]{1,15}\s+)+", text)
    start = match.end() if match and match.end() < len(text) else 0
    return [start, len(text)]


def render_tweet(post: Post, fields: set[str], store: XStore) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": post.id_str,
        # X escapes these three in v2 text (and only these): "&amp;", "&lt;", "&gt;".
        "text": html.escape(post.text, quote=False),
        "edit_history_tweet_ids": [post.id_str],
    }
    for name in TWEET_FIELDS:
        if name not in fields or name in out:
            continue
        value = _tweet_field(post, name, store)
        if value is not None:
            out[name] = value
    return out


def _tweet_field(post: Post, name: str, store: XStore) -> Any:
    if name == "author_id":
        return post.author_id
    if name == "created_at":
        return format_time(post.created_at)
    if name == "conversation_id":
        return str(post.conversation_id)
    if name == "in_reply_to_user_id":
        return post.in_reply_to_user_id
    if name == "referenced_tweets":
        return store.referenced_tweets(post) or None
    if name == "lang":
        return "en"
    if name == "possibly_sensitive":
        return False
    if name == "reply_settings":
        return "everyone"
    if name == "display_text_range":
        return _display_text_range(post.text)
    if name == "entities":
        mentions = store.mention_entities(post.text)
        return {"mentions": mentions} if mentions else None
    if name == "edit_controls":
        return {
            "edits_remaining": 5,
            "is_edit_eligible": post.retweet_of is None,
            "editable_until": format_time(post.created_at + timedelta(hours=1)),
        }
    if name == "public_metrics":
        return {
            "retweet_count": store.retweet_count[post.id],
            "reply_count": store.reply_count[post.id],
            "like_count": (post.id >> 22) % 17,
            "quote_count": 0,
            "bookmark_count": (post.id >> 22) % 3,
            "impression_count": 40 + (post.id >> 22) % 977,
        }
    return None  # fields this emulator has no data for are omitted, as X omits empty ones


def render_user(account: Account, fields: set[str], store: XStore) -> dict[str, Any]:
    out: dict[str, Any] = {"id": account.id, "name": account.name, "username": account.username}
    for name in USER_FIELDS:
        if name not in fields or name in out:
            continue
        value = _user_field(account, name, store)
        if value is not None:
            out[name] = value
    return out


def _user_field(account: Account, name: str, store: XStore) -> Any:
    if name == "created_at":
        return format_time(account.created_at)
    if name == "description":
        return ""
    if name in ("protected", "verified"):
        return False
    if name == "verified_type":
        return "none"
    if name == "most_recent_tweet_id":
        tweets = store.tweets_of[account.id]
        return str(tweets[-1]) if tweets else None
    if name == "public_metrics":
        return {
            "followers_count": 120 + account.index * 37,
            "following_count": 80 + account.index * 3,
            "tweet_count": len(store.tweets_of[account.id]),
            "listed_count": account.index % 5,
            "like_count": account.index * 11,
        }
    return None


def render_includes(
    posts: list[Post], query: Query, store: XStore
) -> dict[str, list[dict[str, Any]]]:
    """``includes`` for tweet expansions (users and referenced tweets)."""
    user_ids: list[str] = []
    tweets: list[Post] = []
    expansions = query.expansions

    def want_user(user_id: str | None) -> None:
        if user_id and user_id not in user_ids and user_id in store.accounts:
            user_ids.append(user_id)

    for post in posts:
        if "author_id" in expansions:
            want_user(post.author_id)
        if "in_reply_to_user_id" in expansions:
            want_user(post.in_reply_to_user_id)
        if "entities.mentions.username" in expansions:
            for mention in store.mention_entities(post.text):
                want_user(str(mention["id"]))
        if expansions & {"referenced_tweets.id", "referenced_tweets.id.author_id"}:
            for ref in store.referenced_tweets(post):
                referenced = store.posts.get(int(ref["id"]))
                if referenced is None:
                    continue
                if "referenced_tweets.id" in expansions and referenced not in tweets:
                    tweets.append(referenced)
                if "referenced_tweets.id.author_id" in expansions:
                    want_user(referenced.author_id)
    includes: dict[str, list[dict[str, Any]]] = {}
    if user_ids:
        includes["users"] = [
            render_user(store.accounts[user_id], query.user_fields, store) for user_id in user_ids
        ]
    if tweets:
        includes["tweets"] = [render_tweet(post, query.tweet_fields, store) for post in tweets]
    return includes


def timeline_body(page: Page, query: Query, store: XStore) -> dict[str, Any]:
    """The 200 body of ``/2/users/:id/mentions`` and ``/2/users/:id/tweets``."""
    if not page.ids:
        return {"meta": {"result_count": 0}}
    posts = [store.posts[post_id] for post_id in page.ids]
    body: dict[str, Any] = {"data": [render_tweet(p, query.tweet_fields, store) for p in posts]}
    includes = render_includes(posts, query, store)
    if includes:
        body["includes"] = includes
    meta: dict[str, Any] = {
        "result_count": len(posts),
        "newest_id": posts[0].id_str,
        "oldest_id": posts[-1].id_str,
    }
    if page.next_token:
        meta["next_token"] = page.next_token
    if page.previous_token:
        meta["previous_token"] = page.previous_token
    body["meta"] = meta
    return body


def me_body(account: Account, query: Query, store: XStore) -> dict[str, Any]:
    """The 200 body of ``/2/users/me``."""
    body: dict[str, Any] = {"data": render_user(account, query.user_fields, store)}
    if "most_recent_tweet_id" in query.expansions and store.tweets_of[account.id]:
        latest = store.posts[store.tweets_of[account.id][-1]]
        body["includes"] = {"tweets": [render_tweet(latest, query.tweet_fields, store)]}
    return body


def user_not_found(user_id: str) -> dict[str, Any]:
    """X answers 200 with only ``errors`` when the path user does not exist."""
    return {
        "errors": [
            {
                "value": user_id,
                "detail": f"Could not find user with id: [{user_id}].",
                "title": "Not Found Error",
                "resource_type": "user",
                "parameter": "id",
                "resource_id": user_id,
                "type": "https://api.twitter.com/2/problems/resource-not-found",
            }
        ]
    }
