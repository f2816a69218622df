"""X API v2 semantics for the emulator: query validation, paging and JSON rendering.

Field names and enums are copied from X's OpenAPI description (shared/x-api/openapi.json,
info.version 2.159) so the emulator does not need that file at run time.

:func:`parse_query` checks one parameter at a time with the validators in ``_CHECKS``; their
order is X's order of errors in a 400 body.
"""

from __future__ import annotations

import html
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator, Mapping, Sequence
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
# Full-archive search and counts (X's OpenAPI file's order of parameters).
_SEARCH_PARAMS = [
    "query",
    "start_time",
    "end_time",
    "since_id",
    "until_id",
    "max_results",
    "next_token",
    "pagination_token",
    "sort_order",
    "tweet.fields",
    "expansions",
    "media.fields",
    "poll.fields",
    "user.fields",
    "place.fields",
]
_COUNTS_PARAMS = [
    "query",
    "start_time",
    "end_time",
    "since_id",
    "until_id",
    "next_token",
    "pagination_token",
    "granularity",
    "search_count.fields",
]
_USERS_PARAMS = ["ids", "user.fields", "expansions", "tweet.fields"]
_ALLOWED_PARAMS = {
    "mentions": _TIMELINE_PARAMS,
    "tweets": _TWEETS_PARAMS,
    "me": _ME_PARAMS,
    "search": _SEARCH_PARAMS,
    "counts": _COUNTS_PARAMS,
    "users": _USERS_PARAMS,
}
GRANULARITIES = ["minute", "hour", "day"]
SEARCH_COUNT_FIELDS = ["end", "start", "tweet_count"]
SORT_ORDERS = ["recency", "relevancy"]
# What X's search answers without a start_time: the last 30 days only.
SEARCH_DEFAULT_DAYS = 30
USERS_MAX_IDS = 100  # GET /2/users takes 1 to 100 ids
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
    """A validated v2 query (a timeline, users/me or the users lookup)."""

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
    text: str = ""  # a search's `query`
    granularity: str = "hour"  # a count's buckets
    ids: list[str] = field(default_factory=list)  # GET /2/users, in the order asked


# query validation -----------------------------------------------------------------------
# Each validator checks one parameter's raw value, stores what it parsed on the Query, and
# returns X's error for it (or None). ``_CHECKS`` runs them in X's order, which is also the
# order of ``errors`` in the 400 body.
_Error = dict[str, Any]
_Validator = Callable[[str, Query, str], _Error | None]


def _not_one_of(name: str, items: list[str], choices: list[str]) -> _Error | None:
    """X reports only the first value that is not allowed."""
    bad = [item for item in items if item not in choices]
    if not bad:
        return None
    return _param_error(
        name,
        bad[0],
        f"The `{name}` query parameter value [{bad[0]}] is not one of [{','.join(choices)}]",
    )


def _one_of(name: str, choices: list[str], attr: str | None = None) -> _Validator:
    """A comma-separated list from ``choices``, kept in ``Query.<attr>`` (even if invalid)."""

    def check(raw: str, query: Query, endpoint: str) -> _Error | None:
        items = raw.split(",")
        if attr is not None:
            setattr(query, attr, set(items))
        return _not_one_of(name, items, choices)

    return check


def _expansions(raw: str, query: Query, endpoint: str) -> _Error | None:
    """Tweet expansions on the timelines, user expansions on the users endpoints."""
    choices = USER_EXPANSIONS if endpoint in ("me", "users") else TWEET_EXPANSIONS
    items = raw.split(",")
    query.expansions = set(items)
    return _not_one_of("expansions", items, choices)


def _max_results(raw: str, query: Query, endpoint: str) -> _Error | None:
    """An integer (at most 9 digits, as X parses it) between 5 and 100 (a timeline), or 10
    and 500 (full-archive search)."""
    low, high = (10, 500) if endpoint == "search" else (5, 100)
    if not re.fullmatch(r"-?\d{1,9}", raw):
        problem = "is not a valid integer"
    elif not low <= int(raw) <= high:
        problem = f"is not between {low} and {high}"
    else:
        query.max_results = int(raw)
        return None
    return _param_error(
        "max_results", raw, f"The `max_results` query parameter value [{raw}] {problem}"
    )


def _user_ids(raw: str, query: Query, endpoint: str) -> _Error | None:
    """``ids`` of GET /2/users: 1 to 100 user ids, comma-separated."""
    items = raw.split(",")
    bad = next((item for item in items if not _ID_RE.match(item)), None)
    if bad is not None:
        message = f"The `ids` query parameter value [{bad}] does not match ^[0-9]{{1,19}}$"
        return _param_error("ids", bad, message)
    if len(items) > USERS_MAX_IDS:
        message = (
            f"The number of values in the `ids` query parameter list [{len(items)}] "
            f"is not between 1 and {USERS_MAX_IDS}"
        )
        return _param_error("ids", raw, message)
    query.ids = items
    return None


def _post_id(name: str) -> _Validator:
    """``since_id`` / ``until_id``: a post id, kept as an int in ``Query.<name>``."""

    def check(raw: str, query: Query, endpoint: str) -> _Error | None:
        if not _ID_RE.match(raw):
            return _param_error(
                name,
                raw,
                f"The `{name}` query parameter value [{raw}] does not match ^[0-9]{{1,19}}$",
            )
        setattr(query, name, int(raw))
        return None

    return check


def _date_time(name: str) -> _Validator:
    """``start_time`` / ``end_time``: RFC 3339, kept as an aware UTC datetime."""

    def check(raw: str, query: Query, endpoint: str) -> _Error | None:
        parsed = _parse_time(raw)
        if parsed is None:
            return _param_error(
                name,
                raw,
                f"The `{name}` query parameter value [{raw}] is not a valid RFC 3339 "
                "date-time (YYYY-MM-DDTHH:mm:ssZ)",
            )
        setattr(query, name, parsed)
        return None

    return check


def _start_before_end(raw: str, query: Query, endpoint: str) -> _Error | None:
    """A second check of ``start_time``, once both times are parsed; X blames ``start_time``."""
    if query.start_time and query.end_time and query.start_time >= query.end_time:
        return _param_error(
            "start_time",
            raw,
            f"Invalid 'start_time':'{raw}'. 'start_time' must be before 'end_time'",
        )
    return None


def _token(name: str) -> _Validator:
    """A :class:`Cursor` from an earlier page's ``next_token`` or ``previous_token``, sent
    as ``pagination_token`` (or, to search, as ``next_token``)."""

    def check(raw: str, query: Query, endpoint: str) -> _Error | None:
        try:
            query.cursor = Cursor.decode(raw)
        except ValueError:
            return _param_error(
                name, raw, f"The `{name}` query parameter value [{raw}] is not valid"
            )
        return None

    return check


def _search_text(raw: str, query: Query, endpoint: str) -> _Error | None:
    """A search's ``query``: 1 to 4,096 characters (its operators are checked on use)."""
    if not 1 <= len(raw) <= 4096:
        return _param_error(
            "query", raw, f"The `query` query parameter value [{raw[:50]}] is not valid"
        )
    query.text = raw
    return None


def _granularity(raw: str, query: Query, endpoint: str) -> _Error | None:
    query.granularity = raw
    return _not_one_of("granularity", [raw], GRANULARITIES)


# (parameter, validator), run in this order for each parameter the request has.
_CHECKS: tuple[tuple[str, _Validator], ...] = (
    ("query", _search_text),
    ("ids", _user_ids),
    ("tweet.fields", _one_of("tweet.fields", TWEET_FIELDS, "tweet_fields")),
    ("user.fields", _one_of("user.fields", USER_FIELDS, "user_fields")),
    ("media.fields", _one_of("media.fields", MEDIA_FIELDS)),
    ("poll.fields", _one_of("poll.fields", POLL_FIELDS)),
    ("place.fields", _one_of("place.fields", PLACE_FIELDS)),
    ("exclude", _one_of("exclude", EXCLUDE_VALUES, "exclude")),
    ("expansions", _expansions),
    ("max_results", _max_results),
    ("since_id", _post_id("since_id")),
    ("until_id", _post_id("until_id")),
    ("start_time", _date_time("start_time")),
    ("end_time", _date_time("end_time")),
    ("start_time", _start_before_end),
    ("pagination_token", _token("pagination_token")),
    ("next_token", _token("next_token")),
    ("granularity", _granularity),
    ("sort_order", _one_of("sort_order", SORT_ORDERS)),
    ("search_count.fields", _one_of("search_count.fields", SEARCH_COUNT_FIELDS)),
)


def _single_values(
    args: Mapping[str, Sequence[str]], allowed: list[str]
) -> tuple[dict[str, str], list[_Error]]:
    """Each allowed parameter's one value, and errors for unknown or repeated ones.

    ``id`` is in the allowed lists only for the error message: it is the path, not a query
    parameter.
    """
    values: dict[str, str] = {}
    errors: list[_Error] = []
    for name, given in args.items():
        if name not in allowed or name == "id":
            message = f"The query parameter [{name}] is not one of [{','.join(allowed)}]"
            errors.append(_param_error(name, given[0], message))
        elif len(given) > 1:
            message = f"Duplicate parameters are not allowed: the `{name}` query parameter"
            errors.append({"parameters": {name: list(given)}, "message": message})
        else:
            values[name] = given[0]
    return values, errors


def parse_query(
    args: Mapping[str, Sequence[str]], endpoint: str, path_id: str | None = None
) -> Query:
    """Validate query parameters like X does; raise :class:`InvalidRequest` listing every error.

    ``endpoint`` is ``"mentions"``, ``"tweets"``, ``"me"`` or ``"users"``; ``args`` maps a name
    to all its values (werkzeug's ``MultiDict.to_dict(flat=False)``).
    """
    values, errors = _single_values(args, _ALLOWED_PARAMS[endpoint])
    if endpoint == "users" and "ids" not in values and "ids" not in args:
        message = "The `ids` query parameter can not be empty"
        errors.append({"parameters": {"ids": []}, "message": message})
    if path_id is not None and not _ID_RE.match(path_id):
        message = f"The `id` query parameter value [{path_id}] is not valid"
        errors.append(_param_error("id", path_id, message))
    query = Query()
    for name, check in _CHECKS:
        error = check(values[name], query, endpoint) if name in values else None
        if error is not None:
            errors.append(error)
    if endpoint in ("search", "counts") and "query" not in values:
        errors.insert(
            0,
            {
                "parameters": {"query": []},
                "message": "The `query` query parameter can not be empty",
            },
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


def _edit_controls(post: Post, store: XStore) -> dict[str, Any]:
    return {
        "edits_remaining": 5,
        "is_edit_eligible": post.retweet_of is None,
        "editable_until": format_time(post.created_at + timedelta(hours=1)),
    }


def _public_metrics(post: Post, store: XStore) -> dict[str, Any]:
    """Real reply and retweet counts; the others are made up from the post id."""
    return {
        "retweet_count": store.retweet_count[post.id],
        "reply_count": store.reply_count[post.id],
        "like_count": (post.id >> 22) % 17,
        "quote_count": 0,
        "bookmark_count": (post.id >> 22) % 3,
        "impression_count": 40 + (post.id >> 22) % 977,
    }


def _entities(post: Post, store: XStore) -> dict[str, Any] | None:
    mentions = store.mention_entities(post.text)
    return {"mentions": mentions} if mentions else None


# tweet.fields -> value (None: omitted). Fields this emulator has no data for are missing
# here and omitted, as X omits empty ones.
_TWEET_FIELD_VALUES: dict[str, Callable[[Post, XStore], Any]] = {
    "author_id": lambda post, store: post.author_id,
    "created_at": lambda post, store: format_time(post.created_at),
    "conversation_id": lambda post, store: str(post.conversation_id),
    "in_reply_to_user_id": lambda post, store: post.in_reply_to_user_id,
    "referenced_tweets": lambda post, store: store.referenced_tweets(post) or None,
    "lang": lambda post, store: "en",
    "possibly_sensitive": lambda post, store: False,
    "reply_settings": lambda post, store: "everyone",
    "display_text_range": lambda post, store: _display_text_range(post.text),
    "entities": _entities,
    "edit_controls": _edit_controls,
    "public_metrics": _public_metrics,
}


def _tweet_field(post: Post, name: str, store: XStore) -> Any:
    value = _TWEET_FIELD_VALUES.get(name)
    return None if value is None else value(post, store)


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


def _referenced_posts(post: Post, store: XStore) -> list[Post]:
    """The stored posts ``post`` replies to or retweets."""
    found = (store.posts.get(int(ref["id"])) for ref in store.referenced_tweets(post))
    return [referenced for referenced in found if referenced is not None]


def _expanded_user_ids(post: Post, expansions: set[str], store: XStore) -> Iterator[str | None]:
    """The users ``post`` brings into ``includes.users``, in X's order (maybe repeated)."""
    if "author_id" in expansions:
        yield post.author_id
    if "in_reply_to_user_id" in expansions:
        yield post.in_reply_to_user_id
    if "entities.mentions.username" in expansions:
        for mention in store.mention_entities(post.text):
            yield str(mention["id"])
    if "referenced_tweets.id.author_id" in expansions:
        for referenced in _referenced_posts(post, store):
            yield referenced.author_id


def render_includes(
    posts: list[Post], query: Query, store: XStore
) -> dict[str, list[dict[str, Any]]]:
    """``includes`` for tweet expansions (users and referenced tweets)."""
    user_ids: list[str] = []
    tweets: list[Post] = []
    for post in posts:
        for user_id in _expanded_user_ids(post, query.expansions, store):
            if user_id and user_id not in user_ids and user_id in store.accounts:
                user_ids.append(user_id)
        if "referenced_tweets.id" in query.expansions:
            for referenced in _referenced_posts(post, store):
                if referenced not in tweets:
                    tweets.append(referenced)
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


def _user_missing(user_id: str, parameter: str, suspended: bool = False) -> dict[str, Any]:
    """X's problem for a user it does not show: unknown (deleted), or suspended."""
    return {
        "value": user_id,
        "detail": f"User has been suspended: [{user_id}]."
        if suspended
        else f"Could not find user with id: [{user_id}].",
        "title": "Forbidden" if suspended else "Not Found Error",
        "resource_type": "user",
        "parameter": parameter,
        "resource_id": user_id,
        "type": "https://api.twitter.com/2/problems/resource-not-found",
    }


def user_not_found(user_id: str) -> dict[str, Any]:
    """X answers 200 with only ``errors`` when the path user does not exist."""
    return {"errors": [_user_missing(user_id, "id")]}


def users_body(query: Query, store: XStore) -> dict[str, Any]:
    """The 200 body of ``GET /2/users?ids=``: the users X shows in ``data`` (in the order
    asked, each once), and one problem in ``errors`` for each it does not: an id it never
    had or deleted, or a suspended account's (X's batch compliance reports those)."""
    data: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for user_id in dict.fromkeys(query.ids):
        account = store.accounts.get(user_id)
        event = store.account_events.get(user_id, ("", None))[0]
        if account is None or event == "deleted":
            errors.append(_user_missing(user_id, "ids"))
        elif event == "suspended":
            errors.append(_user_missing(user_id, "ids", suspended=True))
        else:
            data.append(render_user(account, query.user_fields, store))
    body: dict[str, Any] = {}
    if data:
        body["data"] = data
    if errors:
        body["errors"] = errors
    return body


# batch compliance ---------------------------------------------------------------------------
# X's limit of ids in one job's upload: more and the job fails. (X's docs name a file size
# rather than a count; this is the count the emulator enforces, one id a line.)
COMPLIANCE_MAX_IDS = 100_000
COMPLIANCE_TYPES = ["tweets", "users"]
COMPLIANCE_STATUSES = ["created", "in_progress", "failed", "complete"]
COMPLIANCE_UPLOAD_TTL = timedelta(minutes=15)
COMPLIANCE_DOWNLOAD_TTL = timedelta(days=7)
COMPLIANCE_NAME_MAX = 64
_COMPLIANCE_LIST_PARAMS = ["type", "status", "compliance_job.fields"]
_FIRST_JOB_ID = 1_372_966_999_991_541_762


@dataclass
class ComplianceJob:
    """One batch compliance job. ``in_progress_polls``: how many more status reads still see
    ``in_progress`` after the upload (0: the next read sees ``complete``)."""

    id: str
    type: str
    name: str | None
    created_at: datetime
    status: str = "created"
    ids: list[str] = field(default_factory=list)
    in_progress_polls: int = 0
    results: list[dict[str, str]] = field(default_factory=list)


class ComplianceJobs:
    """The app's compliance jobs, by id (creation order)."""

    def __init__(self) -> None:
        self.jobs: dict[str, ComplianceJob] = {}
        self.refused = 0  # creations refused for a job of the type still running

    def create(self, kind: str, name: str | None, now: datetime) -> ComplianceJob:
        """A new job; X's 400 while another of its type is still being uploaded or run
        ("You can have one concurrent job per job type at any time")."""
        for job in self.jobs.values():
            waiting = job.status == "created" and now <= job.created_at + COMPLIANCE_UPLOAD_TTL
            if job.type == kind and (waiting or job.status == "in_progress"):
                self.refused += 1
                raise InvalidRequest(
                    [{"message": "You can have one concurrent job per job type at any time"}]
                )
        job_id = str(_FIRST_JOB_ID + len(self.jobs) * 4_194_304)
        job = ComplianceJob(id=job_id, type=kind, name=name, created_at=now)
        self.jobs[job_id] = job
        return job


def parse_create_job(payload: Any) -> tuple[str, str | None]:
    """The ``type`` and ``name`` of a ``POST /2/compliance/jobs`` body, checked like X."""
    if not isinstance(payload, dict):
        raise InvalidRequest([{"message": "Request body must be a JSON object"}])
    errors: list[_Error] = []
    kind = payload.get("type")
    if kind not in COMPLIANCE_TYPES:
        errors.append(
            _param_error(
                "type",
                str(kind),
                f"The `type` parameter value [{kind}] is not one of [{','.join(COMPLIANCE_TYPES)}]",
            )
        )
    name = payload.get("name")
    if name is not None and (not isinstance(name, str) or len(name) > COMPLIANCE_NAME_MAX):
        errors.append(
            _param_error(
                "name",
                str(name),
                f"The `name` parameter must be at most {COMPLIANCE_NAME_MAX} characters",
            )
        )
    resumable = payload.get("resumable")
    if resumable is not None and not isinstance(resumable, bool):
        errors.append(_param_error("resumable", str(resumable), "`resumable` must be a boolean"))
    if errors:
        raise InvalidRequest(errors)
    return str(kind), name


def parse_job_list_query(args: Mapping[str, Sequence[str]]) -> tuple[str, str | None]:
    """``type`` (required) and ``status`` of ``GET /2/compliance/jobs``."""
    values, errors = _single_values(args, _COMPLIANCE_LIST_PARAMS)
    kind = values.get("type")
    if kind is None:
        errors.append(
            {"parameters": {"type": []}, "message": "The `type` query parameter can not be empty"}
        )
    else:
        error = _not_one_of("type", [kind], COMPLIANCE_TYPES)
        if error:
            errors.append(error)
    status = values.get("status")
    if status is not None:
        error = _not_one_of("status", [status], COMPLIANCE_STATUSES)
        if error:
            errors.append(error)
    if errors:
        raise InvalidRequest(errors)
    assert kind is not None
    return kind, status


def check_job_id(job_id: str, jobs: ComplianceJobs) -> ComplianceJob:
    """The job of ``GET /2/compliance/jobs/:id``, or X's 400."""
    if not _ID_RE.match(job_id):
        message = f"The `id` query parameter value [{job_id}] does not match ^[0-9]{{1,19}}$"
        raise InvalidRequest([_param_error("id", job_id, message)])
    job = jobs.jobs.get(job_id)
    if job is None:
        message = f"The `id` query parameter value [{job_id}] is not a compliance job of this app"
        raise InvalidRequest([_param_error("id", job_id, message)])
    return job


def parse_upload(text: str) -> list[str] | None:
    """The ids of an uploaded file (one a line, blank lines skipped); None if any line is not
    an id, which fails the job."""
    ids = [line.strip() for line in text.splitlines() if line.strip()]
    if any(not _ID_RE.match(value) for value in ids):
        return None
    return ids


def compliance_results(job: ComplianceJob, store: XStore) -> list[dict[str, str]]:
    """One line per uploaded id whose state changed on X, in upload order (each id once). An id
    X never knew is left out, as are ids that may stay."""
    results: list[dict[str, str]] = []
    seen: set[str] = set()
    for value in job.ids:
        if value in seen:
            continue
        seen.add(value)
        if job.type == "tweets":
            post = store.posts.get(int(value))
            event = store.post_compliance(int(value))
            created = post.created_at if post else None
        else:
            account = store.accounts.get(value)
            event = store.user_compliance(value)
            created = account.created_at if account else None
        if event is None or created is None:
            continue
        reason, at = event
        results.append(
            {
                "id": value,
                "action": "delete",
                "created_at": format_time(created),
                "redacted_at": format_time(at),
                "reason": reason,
            }
        )
    return results


def job_body(job: ComplianceJob, base_url: str) -> dict[str, Any]:
    """A ComplianceJob object; the upload and download URLs are the emulator's own."""
    body: dict[str, Any] = {
        "id": job.id,
        "type": job.type,
        "created_at": format_time(job.created_at),
        "upload_url": f"{base_url}/_compliance/upload/{job.id}",
        "upload_expires_at": format_time(job.created_at + COMPLIANCE_UPLOAD_TTL),
        "download_url": f"{base_url}/_compliance/download/{job.id}",
        "download_expires_at": format_time(job.created_at + COMPLIANCE_DOWNLOAD_TTL),
        "status": job.status,
    }
    if job.name is not None:
        body["name"] = job.name
    return body


# full-archive search and counts -------------------------------------------------------------
# The operators the app's two history queries use: a mention (@handle), an author
# (from:handle), a reply or a retweet (is:reply, is:retweet); each may be negated with "-".
_SEARCH_TERM = re.compile(
    r"^(-?)(?:@([A-Za-z0-9_]{1,15})|from:([A-Za-z0-9_]{1,15})|is:(reply|retweet))$",
    re.IGNORECASE,
)


def _term_matches(term: re.Match[str], post: Post, store: XStore) -> bool:
    mention, author, kind = term.group(2), term.group(3), term.group(4)
    if mention is not None:
        account = store.find_account(mention)
        return account is not None and account.id in post.mentioned
    if author is not None:
        account = store.find_account(author)
        return account is not None and post.author_id == account.id
    if kind.lower() == "reply":
        return post.reply_to is not None
    return post.retweet_of is not None


def search_index(text: str, store: XStore) -> list[int]:
    """The ids (ascending) of the posts a full-archive query matches: every term must hold
    (X's AND), a "-" term must not. Deleted posts and those of accounts no longer public
    are not searchable. An operator the emulator does not know is X's 400."""
    terms = []
    for word in text.split():
        match = _SEARCH_TERM.match(word)
        if match is None:
            raise InvalidRequest(
                [
                    _param_error(
                        "query",
                        text,
                        f"There were errors processing your request: Reference to invalid "
                        f"operator '{word[:40]}'",
                    )
                ]
            )
        terms.append(match)
    return [
        post.id
        for post in sorted(store.posts.values(), key=lambda p: p.id)
        if post.id not in store.deleted_posts
        and post.author_id not in store.account_events
        and all(_term_matches(t, post, store) != bool(t.group(1)) for t in terms)
    ]


def _search_range(query: Query, now: datetime) -> Query:
    """X's defaults: without a start_time, the 30 days before the end (or now)."""
    if query.start_time is None and query.since_id is None:
        query.start_time = (query.end_time or now) - timedelta(days=SEARCH_DEFAULT_DAYS)
    return query


def search_body(index: list[int], query: Query, store: XStore, now: datetime) -> dict[str, Any]:
    """The 200 body of ``GET /2/tweets/search/all``: newest first, a page at a time, every
    post of the range (no timeline's reach)."""
    page = timeline_page(index, _search_range(query, now), len(index))
    body = timeline_body(Page(page.ids, page.next_token, None), query, store)
    return body


def counts_body(index: list[int], query: Query, now: datetime) -> dict[str, Any]:
    """The 200 body of ``GET /2/tweets/counts/all``: the matching posts of the range in
    buckets of the granularity (every bucket, empty ones too), and their total."""
    query = _search_range(query, now)
    start = as_utc(query.start_time or now)
    end = as_utc(query.end_time or now)
    lo, hi = 0, len(index)
    if query.since_id is not None:
        lo = bisect_right(index, query.since_id)
    lo = max(lo, bisect_left(index, id_floor(start)))
    if query.until_id is not None:
        hi = bisect_left(index, query.until_id)
    hi = min(hi, bisect_left(index, id_floor(end)))
    step = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1)}.get(
        query.granularity, timedelta(days=1)
    )
    floor = {
        "minute": start.replace(second=0, microsecond=0),
        "hour": start.replace(minute=0, second=0, microsecond=0),
    }.get(query.granularity, start.replace(hour=0, minute=0, second=0, microsecond=0))
    buckets: list[dict[str, Any]] = []
    ids = index[lo:hi]
    at = 0
    bucket_start = floor
    while bucket_start < end:
        bucket_end = bucket_start + step
        top = bisect_left(ids, id_floor(bucket_end), at)
        buckets.append(
            {
                "start": format_time(max(bucket_start, start)),
                "end": format_time(min(bucket_end, end)),
                "tweet_count": top - at,
            }
        )
        at = top
        bucket_start = bucket_end
    body: dict[str, Any] = {"meta": {"total_tweet_count": len(ids)}}
    if buckets:
        body["data"] = buckets
    return body
