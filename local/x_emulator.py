"""X (Twitter) emulator: a real HTTP server on loopback that stands in for api.x.com.

It speaks OAuth 1.0a like X (request token, authorize page, access token, invalidate token),
serves ``GET /2/users/me``, ``GET /2/users/:id/mentions``, ``GET /2/users/:id/tweets`` and the
users lookup ``GET /2/users?ids=`` with X's parameters, paging, reach and rate limits, and
answers errors in X's shapes. Tests drive it in-process (``XEmulator``) or, when it runs
separately (``python -m local.x_emulator``), through the small admin API under ``/_emulator/``.

OAuth 2.0 Authorization Code with PKCE as well (local/x_oauth2.py, through oauthlib's server
classes): the authorize page ``GET /i/oauth2/authorize``, ``POST /2/oauth2/token`` and
``POST /2/oauth2/revoke``; every v2 endpoint it serves to a user takes either her OAuth 1.0a
signature or her OAuth 2.0 access token as a Bearer token.

Batch compliance, app-only as on X: ``POST /oauth2/token`` (client credentials) gives the app's
bearer token, the only credential ``/2/compliance/jobs`` accepts. A job's ``upload_url`` and
``download_url`` are the emulator's own ``/_compliance/...`` paths and, like X's presigned
storage URLs, take no credentials. What the download reports is what the test controls
(``delete_post``, ``protect``, ``suspend``) made happen. Full-archive search and counts
(``GET /2/tweets/search/all``, ``/counts/all``) take that bearer token too (403 "Unsupported
Authentication" for a user's), with the operators the app's history queries use.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import json
import signal
import socket
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from oauthlib.oauth2 import FatalClientError, OAuth2Error
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from local.demo_data import LONG_HISTORY_BRAND, seed_demo_data, seed_long_history
from local.x_api import (
    COMPLIANCE_DOWNLOAD_TTL,
    COMPLIANCE_MAX_IDS,
    COMPLIANCE_UPLOAD_TTL,
    MENTIONS_REACH,
    TWEETS_REACH,
    TWEETS_REACH_EXCLUDING_REPLIES,
    ComplianceJob,
    ComplianceJobs,
    InvalidRequest,
    check_job_id,
    compliance_results,
    counts_body,
    filter_excluded,
    job_body,
    me_body,
    parse_create_job,
    parse_job_list_query,
    parse_query,
    parse_upload,
    search_body,
    search_index,
    timeline_body,
    timeline_page,
    user_not_found,
    users_body,
)
from local.x_oauth import AccessToken, OAuthProvider, TokenStore
from local.x_oauth2 import OAuth2Client, OAuth2Provider, OAuth2Tokens
from local.x_store import Account, XStore, as_utc

__all__ = ["TEMPLATES", "XEmulator", "main"]

TEMPLATES = (
    "POST /oauth/request_token",
    "GET /oauth/authenticate",
    "GET /oauth/authorize",
    "POST /oauth/authorize",
    "POST /oauth/access_token",
    "POST /1.1/oauth/invalidate_token",
    "GET /2/users/me",
    "GET /2/users",
    "GET /2/users/:id/mentions",
    "GET /2/users/:id/tweets",
    "POST /oauth2/token",
    "GET /i/oauth2/authorize",
    "POST /i/oauth2/authorize",
    "POST /2/oauth2/token",
    "POST /2/oauth2/revoke",
    "POST /2/compliance/jobs",
    "GET /2/compliance/jobs",
    "GET /2/compliance/jobs/:id",
    "PUT /_compliance/upload/:id",
    "GET /_compliance/download/:id",
    "GET /2/tweets/search/all",
    "GET /2/tweets/counts/all",
)
# Full-archive search and counts: app-only, like batch compliance.
ARCHIVE_TEMPLATES = ("GET /2/tweets/search/all", "GET /2/tweets/counts/all")
COMPLIANCE_TEMPLATES = (
    "POST /2/compliance/jobs",
    "GET /2/compliance/jobs",
    "GET /2/compliance/jobs/:id",
)
FAIL_MODES = ("429", "503", "401", "402", "slow")
RATE_WINDOW_S = 15 * 60
DEFAULT_RATE_LIMITS: dict[str, tuple[int | None, int | None]] = {
    "GET /2/users/:id/mentions": (300, 450),
    "GET /2/users/:id/tweets": (900, 10_000),
    "GET /2/users/me": (75, None),
    "GET /2/users": (900, 300),
    # App-only: per app, no user.
    "POST /2/compliance/jobs": (None, 150),
    "GET /2/compliance/jobs": (None, 150),
    "GET /2/compliance/jobs/:id": (None, 150),
    "GET /2/tweets/search/all": (None, 300),
    "GET /2/tweets/counts/all": (None, 300),
}
JSON_TYPE = "application/json; charset=utf-8"
PROBLEM_TYPE = "application/problem+json"
V1_AUTH_ERROR = {"errors": [{"code": 32, "message": "Could not authenticate you."}]}
V1_BAD_AUTH_DATA = {"errors": [{"code": 215, "message": "Bad Authentication data."}]}
V1_RATE_LIMITED = {"errors": [{"code": 88, "message": "Rate limit exceeded"}]}
V1_OVER_CAPACITY = {"errors": [{"code": 130, "message": "Over capacity"}]}
NOT_FOUND = {"errors": [{"code": 34, "message": "Sorry, that page does not exist"}]}
# POST /oauth2/token with a wrong consumer key or secret, or without the grant type.
V1_BAD_CLIENT = {
    "errors": [
        {
            "code": 99,
            "message": "Unable to verify your credentials",
            "label": "authenticity_token_error",
        }
    ]
}
V1_MISSING_GRANT = {
    "errors": [
        {
            "code": 170,
            "message": "Missing required parameter: grant_type",
            "label": "forbidden_missing_parameter",
        }
    ]
}
USER_CONTEXT_FORBIDDEN = {
    "title": "Unsupported Authentication",
    "detail": "Authenticating with OAuth 1.0a User Context is forbidden for this endpoint.  "
    "Supported authentication types are [OAuth 2.0 Application-Only].",
    "type": "https://api.twitter.com/2/problems/unsupported-authentication",
    "status": 403,
}
OAUTH2_USER_FORBIDDEN = {
    **USER_CONTEXT_FORBIDDEN,
    "detail": "Authenticating with OAuth 2.0 User Context is forbidden for this endpoint.  "
    "Supported authentication types are [OAuth 2.0 Application-Only].",
}
_PROBLEM_TITLES = {
    401: "Unauthorized",
    402: "Payment Required",  # the plan's credits are spent (X's exact body: not published)
    429: "Too Many Requests",
    503: "Service Unavailable",
}
_STORAGE_ERRORS = {  # what, as (status, storage's code, message)
    "uploaded": (400, "InvalidRequest", "The file was already uploaded."),
    "credentials": (400, "InvalidArgument", "A signed URL takes no Authorization header."),
    "expired": (403, "AccessDenied", "Request has expired"),
    "missing": (404, "NoSuchKey", "The specified key does not exist."),
}

# The consent form's own fields; every other field is the app's authorize request, sent back.
_CONSENT_FIELDS = frozenset({"action", "username"})
_OAUTH2_BROKEN = (
    "<h1>Something went wrong.</h1><p>You weren't able to give access to the App. "
    "Go back and try logging in again.</p>"
)

ResponseHook = Callable[[str, int, str, bytes], None]


def _problem(status: int) -> dict[str, Any]:
    title = _PROBLEM_TITLES[status]
    return {"title": title, "detail": title, "type": "about:blank", "status": status}


def _json_response(
    status: int, body: Any, *, problem: bool = False, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
        status=status,
        content_type=PROBLEM_TYPE if problem else JSON_TYPE,
        headers=headers,
    )


def _storage_error(what: str) -> Response:
    """What a presigned storage URL answers when it cannot: an XML error, as X's storage
    (Google Cloud Storage; S3 alike) gives."""
    status, code, message = _STORAGE_ERRORS[what]
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Error><Code>{code}</Code><Message>{html.escape(message)}</Message></Error>"
    )
    return Response(body, status=status, content_type="application/xml")


def _page(status: int, title: str, body_html: str) -> Response:
    document = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>"
        f"<body><main>{body_html}</main></body></html>"
    )
    return Response(document, status=status, content_type="text/html; charset=utf-8")


_CSS = (
    "body{font-family:system-ui,sans-serif;background:#f5f8fa;margin:0}"
    "main{max-width:34rem;margin:3rem auto;background:#fff;padding:2rem;border-radius:12px;"
    "box-shadow:0 1px 4px #0002}label{display:block;padding:.35rem 0}"
    "button{font-size:1rem;padding:.5rem 1.2rem;border-radius:999px;border:1px solid #1d9bf0;"
    "margin-right:.5rem}button[value=authorize]{background:#1d9bf0;color:#fff}"
    ".accounts{max-height:22rem;overflow:auto;border:1px solid #e1e8ed;padding:.5rem 1rem;"
    "border-radius:8px;margin:1rem 0}.handle{font-weight:600}"
)


@dataclass
class _Bucket:
    used: int
    reset: int  # epoch seconds


@dataclass
class _RateDecision:
    allowed: bool
    headers: dict[str, str]


class _RateLimiter:
    """Fixed 15-minute windows, as X keeps them: a user-context request counts against its
    token's limit only, (endpoint, app, user): one per user of an app, the OAuth 1.0a access
    token; an app-only (bearer) request against the app's, (endpoint, app). X's rate-limit
    page: "one limit per time period for each set of users' Access Tokens" in user context,
    "a separate limit per time period for requests made by your app" with a bearer token.
    """

    def __init__(self) -> None:
        self.limits = dict(DEFAULT_RATE_LIMITS)
        self._buckets: dict[tuple[str, str, str], _Bucket] = {}

    def set(self, template: str, per_user: int | None, per_app: int | None) -> None:
        self.limits[template] = (per_user, per_app)
        for key in [k for k in self._buckets if k[0] == template]:
            del self._buckets[key]

    def _scope(self, template: str, user: str, app: str, now: int) -> tuple[int, _Bucket] | None:
        """The one limit that applies: the token's when `user` is named, else the app's."""
        per_user, per_app = self.limits.get(template, (None, None))
        limit, key = (per_user, f"user:{app}:{user}") if user else (per_app, f"app:{app}")
        if limit is None:
            return None
        bucket = self._buckets.get((template, key, ""))
        if bucket is None or now >= bucket.reset:
            bucket = self._buckets[(template, key, "")] = _Bucket(0, now + RATE_WINDOW_S)
        return limit, bucket

    @staticmethod
    def _headers(limit: int, bucket: _Bucket) -> dict[str, str]:
        return {
            "x-rate-limit-limit": str(limit),
            "x-rate-limit-remaining": str(max(0, limit - bucket.used)),
            "x-rate-limit-reset": str(bucket.reset),
        }

    def hit(self, template: str, user: str, app: str, now: int) -> _RateDecision:
        scope = self._scope(template, user, app, now)
        if scope is None:
            return _RateDecision(True, {})
        limit, bucket = scope
        if bucket.used >= limit:
            return _RateDecision(False, self._headers(limit, bucket))
        bucket.used += 1
        return _RateDecision(True, self._headers(limit, bucket))

    def spend(self, template: str, user: str, app: str, now: int, count: int) -> None:
        """Count `count` requests of the token's (or the app's) window, as another client
        of the same credentials would (never past the limit)."""
        scope = self._scope(template, user, app, now)
        if scope is not None:
            limit, bucket = scope
            bucket.used = min(limit, bucket.used + count)

    def exhausted_headers(self, template: str, user: str, app: str, now: int) -> dict[str, str]:
        scope = self._scope(template, user, app, now)
        limit, reset = (scope[0], scope[1].reset) if scope else (0, now + RATE_WINDOW_S)
        return {
            "x-rate-limit-limit": str(limit),
            "x-rate-limit-remaining": "0",
            "x-rate-limit-reset": str(reset),
        }


class _QuietHandler(WSGIRequestHandler):
    """No per-request logging; remembers open connections so ``stop()`` can close them."""

    connections: set[socket.socket]
    lock: threading.Lock

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return

    def setup(self) -> None:
        super().setup()
        with self.lock:
            self.connections.add(self.connection)

    def finish(self) -> None:
        with self.lock:
            self.connections.discard(self.connection)
        super().finish()


class XEmulator:
    """An in-memory X API served on loopback.

    ``calls`` counts every request answered (errors included), keyed by endpoint template
    (``"GET /2/users/:id/mentions"``); unknown paths are keyed by their literal
    ``"METHOD /path"``. ``posts_served`` counts posts returned in ``data`` (what X bills),
    ``users_served`` the users ``GET /2/users`` returned (X bills those too).
    ``response_hook``, when set, is called from the server thread with ``(template, status,
    content_type, body)`` for every answer except the admin API's. ``demo_accounts`` maps
    each demo username to its id. ``store`` is the emulator's internal data: tests may read
    it, but its shape is not part of the interface.
    """

    def __init__(
        self,
        consumer_key: str = "local-consumer-key",
        consumer_secret: str = "local-consumer-secret",  # noqa: S107 - local stand-in
        *,
        clock: Callable[[], datetime] | None = None,
        seed_demo: bool = True,
        seed_history: bool = False,
        app_name: str = "responsetime (local)",
        oauth2_client_id: str = "local-oauth2-client-id",
        oauth2_client_secret: str = "local-oauth2-client-secret",  # noqa: S107 - local
    ) -> None:
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.app_name = app_name
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.RLock()
        self.store = XStore()
        self.tokens = TokenStore(consumer_key, consumer_secret, self.now, self._lock)
        self.oauth = OAuthProvider(self.tokens, lambda uid: self.store.accounts[uid].username)
        self.oauth2_client = OAuth2Client(oauth2_client_id, oauth2_client_secret)
        self.oauth2_tokens = OAuth2Tokens(self.oauth2_client, self.now, self._lock)
        self.oauth2 = OAuth2Provider(self.oauth2_tokens)
        self.rate_limits = _RateLimiter()
        self.calls: Counter[str] = Counter()
        self.posts_served: Counter[str] = Counter()
        self.users_served = 0  # users returned in GET /2/users's `data` (what X bills)
        self.response_hook: ResponseHook | None = None
        self.base_url = ""
        self.demo_accounts: dict[str, str] = {}
        self.compliance = ComplianceJobs()
        # Status reads that still see a job in_progress after its upload (0: complete at once).
        self.compliance_in_progress_polls = 0
        self._failures: dict[str, deque[tuple[str, float]]] = {}
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        if seed_demo:
            self.demo_accounts = seed_demo_data(self, self.now())
        if seed_demo and seed_history:
            self.demo_accounts[LONG_HISTORY_BRAND[0]] = seed_long_history(
                self, self.now(), self.demo_accounts
            )

    # clock ----------------------------------------------------------------------------------
    def now(self) -> datetime:
        return as_utc(self._clock())

    # server ---------------------------------------------------------------------------------
    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host:port`` (0 = any free port) in a daemon thread; return the base URL."""
        if self._server is not None:
            raise RuntimeError("the X emulator is already running")
        handler = type(
            "XEmulatorRequestHandler",
            (_QuietHandler,),
            {"connections": self._connections, "lock": self._connections_lock},
        )
        server = make_server(host, port, self.wsgi_app, threaded=True, request_handler=handler)
        self._server = server
        self.base_url = f"http://{host}:{server.server_port}"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.name = f"x-emulator:{server.server_port}"
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        """Stop serving and close kept-alive connections. Safe to call twice."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self._connections_lock:
            open_connections = list(self._connections)
        for connection in open_connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> XEmulator:
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # test controls --------------------------------------------------------------------------
    def reset_counters(self) -> None:
        with self._lock:
            self.calls.clear()
            self.posts_served.clear()
            self.users_served = 0

    def timeline_reads(self) -> int:
        """Requests to the two timelines a report reads (what X's read limits count)."""
        with self._lock:
            return self.calls["GET /2/users/:id/mentions"] + self.calls["GET /2/users/:id/tweets"]

    def add_account(self, username: str, name: str | None = None) -> str:
        """Create an account (listed on the authorize page); return its id."""
        with self._lock:
            return self.store.add_account(username, name).id

    def account_id(self, username: str) -> str:
        """The id of ``username`` (``@`` optional, case-insensitive); KeyError if unknown."""
        with self._lock:
            return self.store.account(username).id

    def add_post(
        self,
        author_id: str,
        text: str,
        created_at: datetime,
        *,
        reply_to: str | None = None,
        mentions: Sequence[str] = (),
        retweet_of: str | None = None,
    ) -> str:
        """Add a post; return its id.

        ``author_id`` and ``mentions`` take account ids or usernames. Every known ``@handle``
        in ``text`` is a mention; a reply also mentions the replied-to author (X puts the handle
        in the text); a retweet (``retweet_of``; empty ``text`` becomes ``"RT @x: ..."``)
        mentions the original author and everyone the original mentions.
        """
        with self._lock:
            post = self.store.add_post(
                author_id,
                text,
                created_at,
                reply_to=int(reply_to) if reply_to is not None else None,
                mentions=mentions,
                retweet_of=int(retweet_of) if retweet_of is not None else None,
            )
            return post.id_str

    def fail(self, template: str, mode: str, count: int = 1, *, delay: float = 0.0) -> None:
        """Make the next ``count`` requests to ``template`` fail with ``mode``.

        Modes: ``"429"``, ``"503"``, ``"401"``, ``"402"`` (X's error bodies for that endpoint
        family; 402: the plan's credits are spent) or
        ``"slow"`` (sleep ``delay`` seconds, then answer normally). Calls queue up in order.
        """
        if template not in TEMPLATES:
            raise ValueError(f"unknown template {template!r}; one of {', '.join(TEMPLATES)}")
        if mode not in FAIL_MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {', '.join(FAIL_MODES)}")
        if count < 1 or delay < 0:
            raise ValueError("count must be >= 1 and delay >= 0")
        with self._lock:
            queue = self._failures.setdefault(template, deque())
            queue.extend([(mode, float(delay))] * count)

    def add_late_post(
        self,
        author_id: str,
        text: str,
        *,
        late_by_seconds: float,
        mentions: Sequence[str] = (),
        reply_to: str | None = None,
    ) -> str:
        """A post X indexes late: created ``late_by_seconds`` ago (its id says so), it shows
        in the timelines only from now on, after later posts may already have been read, so
        a read with ``since_id`` of one of those never sees it (X is reported to do this)."""
        created = self.now() - timedelta(seconds=late_by_seconds)
        return self.add_post(author_id, text, created, mentions=mentions, reply_to=reply_to)

    def revoke(self, username: str) -> None:
        """Every access token of ``username`` stops working (401), as when she revokes the app."""
        with self._lock:
            user_id = self.store.account(username).id
            self.tokens.revoke_user(user_id)
            self.oauth2_tokens.revoke_user(user_id)

    def expire_access_tokens(self) -> int:
        """Every OAuth 2.0 access token expires now (their refresh tokens still work)."""
        return self.oauth2_tokens.expire_access_tokens()

    def oauth2_refreshes(self) -> int:
        """Refresh grants honoured so far (a refresh X refused is not one)."""
        with self._lock:
            return self.oauth2_tokens.refreshes

    def delete_post(self, post_id: str) -> None:
        """The author deletes the post: it leaves the timelines; compliance reports it."""
        with self._lock:
            self.store.delete_post(int(post_id), self.now())

    def protect(self, username: str) -> None:
        """The account turns protected: compliance reports each of its posts."""
        with self._lock:
            self.store.account_event(username, "protected", self.now())

    def suspend(self, username: str) -> None:
        """X suspends the account: compliance reports each of its posts."""
        with self._lock:
            self.store.account_event(username, "suspended", self.now())

    def compliance_job(self, job_id: str) -> ComplianceJob:
        """A compliance job as the emulator holds it (its uploaded ids, status, results)."""
        with self._lock:
            return self.compliance.jobs[job_id]

    def set_rate_limit(
        self, template: str, per_user: int | None = None, per_app: int | None = None
    ) -> None:
        """Replace the 15-minute limits of ``template`` (None = unlimited at that level) and
        start fresh windows for it."""
        if template not in TEMPLATES:
            raise ValueError(f"unknown template {template!r}")
        for value in (per_user, per_app):
            if value is not None and value < 0:
                raise ValueError("limits must be >= 0 or None")
        with self._lock:
            self.rate_limits.set(template, per_user, per_app)

    def use_elsewhere(self, user_id: str, template: str, count: int) -> None:
        """The account's token is used by someone else too (the person's own script): X
        counts ``count`` more requests of its current window for ``template``."""
        with self._lock:
            now = int(self.now().timestamp())
            self.rate_limits.spend(template, user_id, self.consumer_key, now, count)

    # WSGI -----------------------------------------------------------------------------------
    def wsgi_app(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        if request.path.startswith("/_emulator/"):
            response = self._admin(request)
        else:
            template, response = self._dispatch(request)
            hook = self.response_hook
            if hook is not None:
                hook(template, response.status_code, response.content_type or "", response.data)
        return response(environ, start_response)

    def _route(self, request: Request) -> tuple[str, str | None]:
        method, path = request.method, request.path
        parts = path.split("/")
        if len(parts) == 5 and parts[1:3] == ["2", "users"] and parts[4] in ("mentions", "tweets"):
            template = f"{method} /2/users/:id/{parts[4]}"
            return template, parts[3]
        if len(parts) == 5 and parts[1:4] == ["2", "compliance", "jobs"] and parts[4]:
            return f"{method} /2/compliance/jobs/:id", parts[4]
        if len(parts) == 4 and parts[1] == "_compliance" and parts[2] in ("upload", "download"):
            return f"{method} /_compliance/{parts[2]}/:id", parts[3]
        return f"{method} {path}", None

    def _dispatch(self, request: Request) -> tuple[str, Response]:
        template, path_id = self._route(request)
        with self._lock:
            self.calls[template] += 1
            queue = self._failures.get(template)
            failure = queue.popleft() if queue else None
        if template not in TEMPLATES:
            return template, _json_response(404, NOT_FOUND)
        if failure is not None:
            mode, delay = failure
            if mode == "slow":
                time.sleep(delay)
            else:
                return template, self._injected_failure(request, template, int(mode))
        handler = {
            "POST /oauth/request_token": self._request_token,
            "GET /oauth/authenticate": self._authorize_page,
            "GET /oauth/authorize": self._authorize_page,
            "POST /oauth/authorize": self._authorize_submit,
            "POST /oauth/access_token": self._access_token,
            "POST /1.1/oauth/invalidate_token": self._invalidate_token,
            "POST /oauth2/token": self._app_token,
            "GET /i/oauth2/authorize": self._oauth2_authorize_page,
            "POST /i/oauth2/authorize": self._oauth2_authorize_submit,
            "POST /2/oauth2/token": self._oauth2_token,
            "POST /2/oauth2/revoke": self._oauth2_revoke,
        }.get(template)
        if handler is not None:
            return template, handler(request)
        if template in COMPLIANCE_TEMPLATES:
            return template, self._compliance(request, template, path_id)
        if template in ARCHIVE_TEMPLATES:
            return template, self._full_archive(request, template)
        if template.startswith(("PUT /_compliance/", "GET /_compliance/")):
            return template, self._storage(request, template, path_id or "")
        return template, self._v2(request, template, path_id)

    def _injected_failure(self, request: Request, template: str, status: int) -> Response:
        if template.startswith(("GET /2/", "POST /2/")):
            headers = None
            if status == 429:
                app_only = template in (*COMPLIANCE_TEMPLATES, *ARCHIVE_TEMPLATES)
                access = None if app_only else self._user(request)
                with self._lock:
                    headers = self.rate_limits.exhausted_headers(
                        template,
                        access.user_id if access else "",
                        self.consumer_key,
                        int(self.now().timestamp()),
                    )
            return _json_response(status, _problem(status), problem=True, headers=headers)
        if template in (
            "POST /oauth/request_token",
            "POST /oauth/access_token",
            "POST /oauth2/token",
        ) or template.startswith("POST /1.1/"):
            body = {401: V1_AUTH_ERROR, 429: V1_RATE_LIMITED, 503: V1_OVER_CAPACITY}[status]
            return _json_response(status, body)
        title = _PROBLEM_TITLES[status]
        if template.startswith(("PUT /_compliance/", "GET /_compliance/")):
            code = {401: "AccessDenied", 429: "SlowDown", 503: "ServiceUnavailable"}[status]
            xml = f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code></Error>'
            return Response(xml, status=status, content_type="application/xml")
        return _page(status, title, f"<h1>{status} {html.escape(title)}</h1>")

    # OAuth ----------------------------------------------------------------------------------
    @staticmethod
    def _oauth_args(request: Request) -> tuple[str, str, str, dict[str, str]]:
        raw_uri = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
        if raw_uri and raw_uri.startswith("/"):
            uri = f"{request.scheme}://{request.host}{raw_uri.encode('latin-1').decode()}"
        else:
            uri = request.url
        body = ""
        if "application/x-www-form-urlencoded" in (request.content_type or ""):
            body = request.get_data(as_text=True)
        return uri, request.method, body, dict(request.headers)

    def _authenticate(self, request: Request) -> AccessToken | None:
        return self.oauth.resource(*self._oauth_args(request)).access

    def _user(self, request: Request) -> AccessToken | None:
        """Who a v2 request acts as: an OAuth 1.0a signature, or an OAuth 2.0 user access
        token as Bearer (the app's own bearer token is no user)."""
        scheme = request.headers.get("Authorization", "").partition(" ")[0].lower()
        if scheme != "bearer":
            return self._authenticate(request)
        uri, method, _, headers = self._oauth_args(request)
        grant = self.oauth2.bearer_user(uri, method, headers)
        if grant is None:
            return None
        token = headers["Authorization"].partition(" ")[2].strip()
        return AccessToken(token, "", grant.client_id, grant.user_id, self.now())

    def _v1_error(self, status: int) -> Response:
        return _json_response(status, V1_BAD_AUTH_DATA if status == 400 else V1_AUTH_ERROR)

    def _request_token(self, request: Request) -> Response:
        result = self.oauth.request_token(*self._oauth_args(request))
        if result.status != 200:
            return self._v1_error(400 if result.status == 400 else 401)
        return Response(result.body, content_type="application/x-www-form-urlencoded")

    def _access_token(self, request: Request) -> Response:
        result = self.oauth.access_token(*self._oauth_args(request))
        if result.status != 200:
            return self._v1_error(400 if result.status == 400 else 401)
        return Response(result.body, content_type="application/x-www-form-urlencoded")

    def _invalidate_token(self, request: Request) -> Response:
        access = self._authenticate(request)
        if access is None:
            return self._v1_error(401)
        self.tokens.invalidate(access.token)
        return _json_response(200, {"access_token": access.token})

    def _invalid_token_page(self) -> Response:
        return _page(
            400,
            "Invalid request token",
            "<h1>This page is no longer valid.</h1><p>It looks like someone already used the "
            "token information you provided, or it expired. Please go back to the site or "
            "application that sent you here and try again.</p>",
        )

    def _authorize_page(self, request: Request) -> Response:
        token = request.args.get("oauth_token", "")
        record = self.tokens.live_request_token(token)
        if record is None or record.verifier is not None:
            return self._invalid_token_page()
        preselect = request.args.get("screen_name", "").lower()
        with self._lock:
            accounts = list(self.store.accounts.values())
        if not any(a.username.lower() == preselect for a in accounts) and accounts:
            preselect = accounts[0].username.lower()
        app = html.escape(self.app_name)
        rows = "".join(
            f'<label><input type="radio" name="username" value="{html.escape(a.username)}"'
            f"{' checked' if a.username.lower() == preselect else ''}> "
            f'<span class="handle">@{html.escape(a.username)}</span> '
            f'<span class="name">{html.escape(a.name)}</span></label>'
            for a in accounts
        )
        body = (
            f"<h1>Authorize {app} to access your account?</h1>"
            f"<p>{app} will be able to read posts from your timeline and see who you mention "
            "and who mentions you. It will not be able to post or see your password.</p>"
            '<form method="post" action="/oauth/authorize">'
            f'<input type="hidden" name="oauth_token" value="{html.escape(token)}">'
            "<p>Sign in as:</p>"
            f'<div class="accounts">{rows or "<p>No accounts.</p>"}</div>'
            '<button type="submit" name="action" value="authorize">Authorize app</button>'
            '<button type="submit" name="action" value="cancel">Cancel</button>'
            "</form>"
        )
        return _page(200, f"Authorize {self.app_name}", body)

    def _authorize_submit(self, request: Request) -> Response:
        token = request.form.get("oauth_token", "")
        action = request.form.get("action", "")
        record = self.tokens.live_request_token(token)
        if record is None or record.verifier is not None:
            return self._invalid_token_page()
        if action == "cancel":
            self.tokens.deny(token)
            if record.callback == "oob":
                return _page(200, "Cancelled", f"<h1>You did not authorize {self.app_name}.</h1>")
            return _redirect(record.callback, [("denied", token)])
        if action != "authorize":
            return _page(400, "Bad request", "<h1>Choose Authorize app or Cancel.</h1>")
        with self._lock:
            account = self.store.find_account(request.form.get("username", ""))
        if account is None:
            return _page(400, "Bad request", "<h1>Choose an account to sign in with.</h1>")
        verifier = self.tokens.authorize(token, account.id)
        if verifier is None:  # a concurrent press got there first
            return self._invalid_token_page()
        if record.callback == "oob":
            return _page(
                200,
                "PIN",
                f"<h1>Your PIN</h1><p>Enter this PIN in {html.escape(self.app_name)}:</p>"
                f"<p><code id=oauth_pin>{html.escape(verifier)}</code></p>",
            )
        return _redirect(record.callback, [("oauth_token", token), ("oauth_verifier", verifier)])

    # v2 -------------------------------------------------------------------------------------
    def _v2(self, request: Request, template: str, path_id: str | None) -> Response:
        access = self._user(request)
        if access is None:
            return _json_response(401, _problem(401), problem=True)
        now = int(self.now().timestamp())
        with self._lock:
            decision = self.rate_limits.hit(template, access.user_id, access.consumer_key, now)
        if not decision.allowed:
            return _json_response(429, _problem(429), problem=True, headers=decision.headers)
        endpoint = {"GET /2/users/me": "me", "GET /2/users": "users"}.get(
            template, template.rsplit("/", 1)[1]
        )
        try:
            query = parse_query(request.args.to_dict(flat=False), endpoint, path_id)
        except InvalidRequest as invalid:
            return _json_response(400, invalid.body(), problem=True, headers=decision.headers)
        with self._lock:
            if endpoint == "me":
                account: Account | None = self.store.accounts.get(access.user_id)
                if account is None:
                    return _json_response(401, _problem(401), problem=True)
                body = me_body(account, query, self.store)
            elif endpoint == "users":
                body = users_body(query, self.store)
                self.users_served += len(body.get("data", []))
            else:
                assert path_id is not None
                body = self._timeline(endpoint, path_id, query)
                served = len(body.get("data", []))
                if served:
                    self.posts_served[template] += served
        return _json_response(200, body, headers=decision.headers)

    def _timeline(self, endpoint: str, user_id: str, query: Any) -> dict[str, Any]:
        if user_id not in self.store.accounts:
            return user_not_found(user_id)
        if endpoint == "mentions":
            page = timeline_page(self.store.mentions_of[user_id], query, MENTIONS_REACH)
        else:
            index = self.store.tweets_of[user_id]
            if query.exclude:
                reach = (
                    TWEETS_REACH_EXCLUDING_REPLIES if "replies" in query.exclude else TWEETS_REACH
                )
                index = filter_excluded(index[-reach:], self.store, query.exclude)
            page = timeline_page(index, query, TWEETS_REACH)
        return timeline_body(page, query, self.store)

    # OAuth 2.0 (local/x_oauth2.py answers oauthlib's questions) -----------------------------
    def _oauth2_authorize_page(self, request: Request) -> Response:
        """X's consent page: the app, the scopes it asks for, the accounts to sign in as."""
        uri = self._oauth_args(request)[0]
        try:
            scopes, _ = self.oauth2.validate_authorization(uri)
        except FatalClientError:
            return _page(400, "Something went wrong", _OAUTH2_BROKEN)
        except OAuth2Error as error:  # a known client and redirect URI: X tells the app
            return _redirect(error.redirect_uri, error.twotuples)
        with self._lock:
            accounts = list(self.store.accounts.values())
        app = html.escape(self.app_name)
        fields = "".join(
            f'<input type="hidden" name="{html.escape(name)}" value="{html.escape(value)}">'
            for name, value in parse_qsl(urlsplit(uri).query, keep_blank_values=True)
        )
        asked = "".join(f"<li><code>{html.escape(scope)}</code></li>" for scope in scopes)
        rows = "".join(
            f'<label><input type="radio" name="username" value="{html.escape(a.username)}"'
            f"{' checked' if n == 0 else ''}> "
            f'<span class="handle">@{html.escape(a.username)}</span> '
            f'<span class="name">{html.escape(a.name)}</span></label>'
            for n, a in enumerate(accounts)
        )
        body = (
            f"<h1>{app} wants to access your X account</h1>"
            f'<p>It asks for these permissions:</p><ul class="scopes">{asked}</ul>'
            '<form method="post" action="/i/oauth2/authorize">'
            f"{fields}<p>Sign in as:</p>"
            f'<div class="accounts">{rows or "<p>No accounts.</p>"}</div>'
            '<button type="submit" name="action" value="authorize">Authorize app</button>'
            '<button type="submit" name="action" value="cancel">Cancel</button>'
            "</form>"
        )
        return _page(200, f"Authorize {self.app_name}", body)

    def _oauth2_authorize_submit(self, request: Request) -> Response:
        """A press on the consent page: back to the app with a code, or with
        error=access_denied (Cancel), and the app's `state` either way."""
        query = [(k, v) for k, v in request.form.items(multi=True) if k not in _CONSENT_FIELDS]
        uri = f"{self.base_url}/i/oauth2/authorize?{urlencode(query)}"
        try:
            scopes, info = self.oauth2.validate_authorization(uri)
        except FatalClientError:
            return _page(400, "Something went wrong", _OAUTH2_BROKEN)
        except OAuth2Error as error:
            return _redirect(error.redirect_uri, error.twotuples)
        action = request.form.get("action", "")
        if action == "cancel":
            state = [("state", info["state"])] if info.get("state") else []
            return _redirect(info["redirect_uri"], [("error", "access_denied"), *state])
        if action != "authorize":
            return _page(400, "Bad request", "<h1>Choose Authorize app or Cancel.</h1>")
        with self._lock:
            account = self.store.find_account(request.form.get("username", ""))
        if account is None:
            return _page(400, "Bad request", "<h1>Choose an account to sign in with.</h1>")
        location = self.oauth2.authorize(uri, scopes, account.id)
        return Response("", status=302, headers={"Location": location})

    def _oauth2_token(self, request: Request) -> Response:
        """authorization_code (with the PKCE verifier) and refresh_token grants."""
        uri, _, body, headers = self._oauth_args(request)
        answer = self.oauth2.token(uri, body, headers)
        return Response(answer.body, status=answer.status, content_type=JSON_TYPE)

    def _oauth2_revoke(self, request: Request) -> Response:
        uri, _, body, headers = self._oauth_args(request)
        answer = self.oauth2.revoke(uri, body, headers)
        if answer.status != 200:
            return Response(answer.body, status=answer.status, content_type=JSON_TYPE)
        return _json_response(200, {"revoked": True})

    # app-only and batch compliance -----------------------------------------------------------
    def _app_token(self, request: Request) -> Response:
        """OAuth 2.0 client credentials: HTTP Basic of the consumer key and secret."""
        credentials = request.authorization
        if (
            credentials is None
            or credentials.type != "basic"
            or not self.tokens.consumer_matches(
                credentials.username or "", credentials.password or ""
            )
        ):
            return _json_response(403, V1_BAD_CLIENT)
        if request.form.get("grant_type") != "client_credentials":
            return _json_response(403, V1_MISSING_GRANT)
        token = self.tokens.issue_bearer()
        return _json_response(200, {"token_type": "bearer", "access_token": token})

    def _app_only(self, request: Request) -> Response | None:
        """None when the request carries the app's bearer token; else X's refusal: 403 for a
        valid user-context (OAuth 1.0a) signature, 401 for anything else."""
        scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and self.tokens.valid_bearer(credential.strip()):
            return None
        if scheme.lower() == "oauth" and self._authenticate(request) is not None:
            return _json_response(403, USER_CONTEXT_FORBIDDEN, problem=True)
        if scheme.lower() == "bearer" and self._user(request) is not None:
            return _json_response(403, OAUTH2_USER_FORBIDDEN, problem=True)
        return _json_response(401, _problem(401), problem=True)

    def _app_call(
        self, request: Request, template: str, answer: Callable[[datetime], dict[str, Any]]
    ) -> Response:
        """An app-only request: the app's bearer token (X's 401 or 403 otherwise), a request
        of the app's window (429 when spent), then `answer`'s body at the emulator's time,
        or X's 400 when it raises InvalidRequest."""
        refused = self._app_only(request)
        if refused is not None:
            return refused
        now = self.now()
        with self._lock:
            decision = self.rate_limits.hit(template, "", self.consumer_key, int(now.timestamp()))
        if not decision.allowed:
            return _json_response(429, _problem(429), problem=True, headers=decision.headers)
        try:
            body = answer(now)
        except InvalidRequest as invalid:
            return _json_response(400, invalid.body(), problem=True, headers=decision.headers)
        return _json_response(200, body, headers=decision.headers)

    def _full_archive(self, request: Request, template: str) -> Response:
        """``GET /2/tweets/search/all`` and ``/counts/all``: the app's bearer token only."""
        endpoint = "search" if template.endswith("/search/all") else "counts"

        def answer(now: datetime) -> dict[str, Any]:
            query = parse_query(request.args.to_dict(flat=False), endpoint)
            with self._lock:
                index = search_index(query.text, self.store)
                if endpoint == "counts":
                    return counts_body(index, query, now)
                body = search_body(index, query, self.store, now)
                self.posts_served[template] += len(body.get("data", []))
                return body

        return self._app_call(request, template, answer)

    def _compliance(self, request: Request, template: str, job_id: str | None) -> Response:
        def answer(now: datetime) -> dict[str, Any]:
            with self._lock:
                return self._compliance_body(request, template, job_id, now)

        return self._app_call(request, template, answer)

    def _compliance_body(
        self, request: Request, template: str, job_id: str | None, now: datetime
    ) -> dict[str, Any]:
        if template == "POST /2/compliance/jobs":
            kind, name = parse_create_job(request.get_json(force=True, silent=True))
            job = self.compliance.create(kind, name, now)
            return {"data": job_body(job, self.base_url)}
        if template == "GET /2/compliance/jobs/:id":
            job = check_job_id(job_id or "", self.compliance)
            self._advance(job)
            return {"data": job_body(job, self.base_url)}
        kind, status = parse_job_list_query(request.args.to_dict(flat=False))
        jobs = [job for job in self.compliance.jobs.values() if job.type == kind]
        for job in jobs:
            self._advance(job)
        listed = [job_body(job, self.base_url) for job in reversed(jobs)]
        listed = [job for job in listed if status is None or job["status"] == status]
        if not listed:
            return {"meta": {"result_count": 0}}
        return {"data": listed, "meta": {"result_count": len(listed)}}

    def _advance(self, job: ComplianceJob) -> None:
        """A read of an uploaded job: it stays in_progress for the polls asked, then completes
        with what X knows at that moment."""
        if job.status != "in_progress":
            return
        if job.in_progress_polls > 0:
            job.in_progress_polls -= 1
            return
        job.results = compliance_results(job, self.store)
        job.status = "complete"

    def _storage(self, request: Request, template: str, job_id: str) -> Response:
        """The presigned upload and download URLs: no credentials (one sent is refused, so
        no client leaks its bearer token to storage), storage's answers."""
        if "Authorization" in request.headers:
            return _storage_error("credentials")
        with self._lock:
            job = self.compliance.jobs.get(job_id)
            if job is None:
                return _storage_error("missing")
            now = self.now()
            if template.startswith("PUT "):
                if now > job.created_at + COMPLIANCE_UPLOAD_TTL:
                    return _storage_error("expired")
                if job.status != "created":
                    return _storage_error("uploaded")
                self._receive_upload(job, request.get_data(as_text=True))
                return Response("", status=200)
            if now > job.created_at + COMPLIANCE_DOWNLOAD_TTL:
                return _storage_error("expired")
            if job.status != "complete":
                return _storage_error("missing")
            lines = "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in job.results)
        return Response(lines.encode(), status=200, content_type="application/octet-stream")

    def _receive_upload(self, job: ComplianceJob, text: str) -> None:
        """The file is stored; a file that is not ids, or holds too many, fails the job."""
        ids = parse_upload(text)
        if ids is None or len(ids) > COMPLIANCE_MAX_IDS:
            job.status = "failed"
            return
        job.ids = ids
        job.status = "in_progress"
        job.in_progress_polls = self.compliance_in_progress_polls

    # admin ----------------------------------------------------------------------------------
    def _admin(self, request: Request) -> Response:
        route = f"{request.method} {request.path}"
        try:
            if route == "GET /_emulator/calls":
                with self._lock:
                    return _json_response(
                        200,
                        {
                            "calls": dict(self.calls),
                            "posts_served": dict(self.posts_served),
                            "users_served": self.users_served,
                        },
                    )
            payload = request.get_json(force=True, silent=True)
            if not isinstance(payload, dict):
                return _json_response(400, {"error": "send a JSON object"})
            if route == "POST /_emulator/fail":
                self.fail(
                    str(payload["template"]),
                    str(payload["mode"]),
                    int(payload.get("count", 1)),
                    delay=float(payload.get("delay", 0.0)),
                )
                return _json_response(200, {"ok": True})
            if route == "POST /_emulator/expire_tokens":
                return _json_response(200, {"expired": self.expire_access_tokens()})
            if route == "POST /_emulator/revoke":
                self.revoke(str(payload["username"]))
                return _json_response(200, {"ok": True})
            if route == "POST /_emulator/compliance":
                action = str(payload["action"])
                if action == "delete":
                    self.delete_post(str(payload["post"]))
                elif action in ("protect", "suspend"):
                    getattr(self, action)(str(payload["username"]))
                else:
                    raise ValueError(f"unknown action {action!r}; delete, protect or suspend")
                return _json_response(200, {"ok": True})
            if route == "POST /_emulator/accounts":
                account_id = self.add_account(str(payload["username"]), payload.get("name"))
                return _json_response(200, {"id": account_id})
            if route == "POST /_emulator/posts":
                created = payload.get("created_at")
                post_id = self.add_post(
                    str(payload["author"]),
                    str(payload.get("text", "")),
                    _parse_iso(created) if created else self.now(),
                    reply_to=payload.get("reply_to"),
                    mentions=[str(m) for m in payload.get("mentions", [])],
                    retweet_of=payload.get("retweet_of"),
                )
                return _json_response(200, {"id": post_id})
        except (KeyError, ValueError, TypeError) as error:
            return _json_response(400, {"error": str(error).strip('"')})
        return _json_response(404, {"error": f"no admin route {route}"})


def _parse_iso(value: str) -> datetime:
    return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))


def _redirect(callback: str, params: list[tuple[str, str]]) -> Response:
    parts = urlsplit(callback)
    query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), *params])
    location = urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
    return Response("", status=302, headers={"Location": location})


# command line -------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local.x_emulator", description="Run the X API emulator in the foreground."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--consumer-key", default="local-consumer-key")
    parser.add_argument("--consumer-secret", default="local-consumer-secret")
    parser.add_argument("--app-name", default="responsetime (local)")
    parser.add_argument("--no-demo", action="store_true", help="start without demo accounts")
    args = parser.parse_args(argv)

    emulator = XEmulator(
        args.consumer_key,
        args.consumer_secret,
        seed_demo=not args.no_demo,
        seed_history=not args.no_demo,
        app_name=args.app_name,
    )
    stopping = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    url = emulator.start(args.host, args.port)
    print(url, flush=True)
    for username, user_id in list(emulator.demo_accounts.items())[:3]:
        print(f"  @{username} id={user_id}", flush=True)
    while not stopping.wait(0.2):
        pass
    emulator.stop()
    print("X emulator stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
