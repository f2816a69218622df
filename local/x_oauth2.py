"""OAuth 2.0 provider side of the X emulator (Authorization Code with PKCE), verified with
oauthlib's server classes (``WebApplicationServer``): this module only answers oauthlib's
questions from an in-memory store, as X's own servers would.

What X documents, and what the emulator holds to: a confidential client (a "Web App")
authenticates with HTTP Basic (client id and secret); PKCE is required, S256 only; a code
is valid 30 seconds and once; an access token lasts 2 hours; a refresh token is issued only
with the scope ``offline.access``, is single-use and is replaced by a new one on each
refresh. Two refreshes racing with one refresh token: the first wins, the second is
refused, as X refuses a refresh token used before. ``expire_access_tokens`` is the switch
that makes every access token expire now.
"""

from __future__ import annotations

import base64
import hmac
import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from oauthlib.oauth2 import RequestValidator, WebApplicationServer
from oauthlib.oauth2.rfc6749.errors import MissingCodeChallengeError

CODE_TTL = timedelta(seconds=30)
ACCESS_TOKEN_SECONDS = 2 * 3600
SCOPES = frozenset(
    {"tweet.read", "users.read", "offline.access", "tweet.write", "follows.read", "like.read"}
)
OFFLINE = "offline.access"
READ = ["tweet.read", "users.read"]  # what GET /2/users/me and the timelines ask of a token


@dataclass(frozen=True)
class OAuth2Client:
    client_id: str
    client_secret: str


@dataclass
class Grant:
    """What an authorization code, an access token or a refresh token stands for."""

    user_id: str
    client_id: str
    scopes: list[str]
    expires_at: datetime | None = None
    redirect_uri: str = ""
    code_challenge: str = ""
    code_challenge_method: str = ""


@dataclass
class OAuth2Tokens:
    """Codes, access tokens and refresh tokens of the emulator's one OAuth 2.0 app."""

    client: OAuth2Client
    clock: Callable[[], datetime]
    lock: threading.RLock
    codes: dict[str, Grant] = field(default_factory=dict)
    access_tokens: dict[str, Grant] = field(default_factory=dict)
    refresh_tokens: dict[str, Grant] = field(default_factory=dict)
    refreshes: int = 0  # refresh_token grants X honoured (tests count them)

    def live_access(self, token: str) -> Grant | None:
        with self.lock:
            grant = self.access_tokens.get(token)
            if grant is None or (grant.expires_at and grant.expires_at <= self.clock()):
                return None
            return grant

    def expire_access_tokens(self) -> int:
        """The switch: every access token expires now (refresh tokens stay valid)."""
        with self.lock:
            now = self.clock()
            for grant in self.access_tokens.values():
                grant.expires_at = now
            return len(self.access_tokens)

    def revoke_user(self, user_id: str) -> int:
        """She removed the app at X: her access and refresh tokens stop working."""
        with self.lock:
            doomed = 0
            for tokens in (self.access_tokens, self.refresh_tokens, self.codes):
                for token in [t for t, grant in tokens.items() if grant.user_id == user_id]:
                    del tokens[token]
                    doomed += 1
            return doomed


class _Client:
    """What oauthlib expects on ``request.client``."""

    def __init__(self, client_id: str) -> None:
        self.client_id = client_id


def _basic(request: Any) -> tuple[str, str] | None:
    header = (request.headers or {}).get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    client_id, colon, secret = decoded.partition(":")
    return (client_id, secret) if colon else None


class XOAuth2Validator(RequestValidator):
    """oauthlib's questions, answered from :class:`OAuth2Tokens`."""

    def __init__(self, tokens: OAuth2Tokens) -> None:
        super().__init__()
        self.tokens = tokens

    # clients --------------------------------------------------------------------------------
    def _is_client(self, client_id: str | None) -> bool:
        return hmac.compare_digest(
            (client_id or "").encode(), self.tokens.client.client_id.encode()
        )

    def client_authentication_required(self, request: Any, *args: Any, **kwargs: Any) -> bool:
        return True  # a Web App is a confidential client

    def authenticate_client(self, request: Any, *args: Any, **kwargs: Any) -> bool:
        basic = _basic(request)
        if basic is None:
            return False
        client_id, secret = basic
        id_ok = self._is_client(client_id)
        secret_ok = hmac.compare_digest(secret.encode(), self.tokens.client.client_secret.encode())
        if not (id_ok and secret_ok):
            return False
        request.client = _Client(client_id)
        request.client_id = client_id
        return True

    def authenticate_client_id(self, client_id: str, request: Any, *args: Any, **kw: Any) -> bool:
        return False  # no public clients

    def validate_client_id(self, client_id: str, request: Any, *args: Any, **kwargs: Any) -> bool:
        return self._is_client(client_id)

    def validate_redirect_uri(
        self, client_id: str, redirect_uri: str, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        return redirect_uri.startswith(("http://", "https://"))

    def get_default_redirect_uri(self, client_id: str, request: Any, *args: Any, **kw: Any) -> None:
        return None  # X requires redirect_uri on every authorize request

    def validate_response_type(
        self, client_id: str, response_type: str, client: Any, request: Any, *a: Any, **k: Any
    ) -> bool:
        return response_type == "code"

    def validate_scopes(
        self, client_id: str, scopes: list[str], client: Any, request: Any, *a: Any, **k: Any
    ) -> bool:
        return bool(scopes) and set(scopes) <= SCOPES

    def get_default_scopes(self, client_id: str, request: Any, *args: Any, **kw: Any) -> list[str]:
        return []

    def validate_grant_type(
        self, client_id: str, grant_type: str, client: Any, request: Any, *a: Any, **k: Any
    ) -> bool:
        return grant_type in ("authorization_code", "refresh_token")

    def is_pkce_required(self, client_id: str, request: Any) -> bool:
        return True

    # codes ----------------------------------------------------------------------------------
    def save_authorization_code(
        self, client_id: str, code: dict[str, str], request: Any, *args: Any, **kwargs: Any
    ) -> None:
        tokens = self.tokens
        with tokens.lock:
            tokens.codes[code["code"]] = Grant(
                user_id=request.user,
                client_id=client_id,
                scopes=list(request.scopes),
                expires_at=tokens.clock() + CODE_TTL,
                redirect_uri=request.redirect_uri,
                code_challenge=request.code_challenge or "",
                code_challenge_method=request.code_challenge_method or "",
            )

    def validate_code(
        self, client_id: str, code: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        """Single use, even for two exchanges at once: the code is taken here, under the lock."""
        tokens = self.tokens
        with tokens.lock:
            grant = tokens.codes.pop(code, None)
        if grant is None or grant.client_id != client_id:
            return False
        if grant.expires_at is not None and grant.expires_at <= tokens.clock():
            return False
        request.user = grant.user_id
        request.scopes = grant.scopes
        request.x_code_grant = grant
        return True

    def get_code_challenge(self, code: str, request: Any) -> str | None:
        grant: Grant | None = getattr(request, "x_code_grant", None)
        return grant.code_challenge if grant else None

    def get_code_challenge_method(self, code: str, request: Any) -> str | None:
        grant: Grant | None = getattr(request, "x_code_grant", None)
        return grant.code_challenge_method if grant else None

    def confirm_redirect_uri(
        self,
        client_id: str,
        code: str,
        redirect_uri: str,
        client: Any,
        request: Any,
        *args: Any,
        **kwargs: Any,
    ) -> bool:
        grant: Grant | None = getattr(request, "x_code_grant", None)
        return grant is not None and grant.redirect_uri == redirect_uri

    def invalidate_authorization_code(
        self, client_id: str, code: str, request: Any, *args: Any, **kwargs: Any
    ) -> None:
        with self.tokens.lock:
            self.tokens.codes.pop(code, None)

    # access and refresh tokens --------------------------------------------------------------
    def save_bearer_token(
        self, token: dict[str, Any], request: Any, *args: Any, **kwargs: Any
    ) -> None:
        tokens = self.tokens
        scopes = list(request.scopes)
        with tokens.lock:
            now = tokens.clock()
            tokens.access_tokens[token["access_token"]] = Grant(
                user_id=request.user,
                client_id=request.client_id,
                scopes=scopes,
                expires_at=now + timedelta(seconds=int(token["expires_in"])),
            )
            if "refresh_token" in token:
                tokens.refresh_tokens[token["refresh_token"]] = Grant(
                    user_id=request.user, client_id=request.client_id, scopes=scopes
                )
            if request.grant_type == "refresh_token":
                tokens.refreshes += 1

    def validate_refresh_token(
        self, refresh_token: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        """Single use: taken here, under the lock, so of two refreshes racing one wins."""
        with self.tokens.lock:
            grant = self.tokens.refresh_tokens.pop(refresh_token, None)
        if grant is None or grant.client_id != client.client_id:
            return False
        request.user = grant.user_id
        request.x_refresh_grant = grant
        return True

    def get_original_scopes(
        self, refresh_token: str, request: Any, *args: Any, **kwargs: Any
    ) -> list[str]:
        grant: Grant = request.x_refresh_grant
        return list(grant.scopes)

    def rotate_refresh_token(self, request: Any) -> bool:
        return True

    def validate_bearer_token(self, token: str, scopes: list[str], request: Any) -> bool:
        grant = self.tokens.live_access(token or "")
        if grant is None or not set(scopes or []) <= set(grant.scopes):
            return False
        request.user = grant.user_id
        request.client_id = grant.client_id
        request.x_access_grant = grant
        return True

    def revoke_token(
        self, token: str, token_type_hint: str | None, request: Any, *args: Any, **kwargs: Any
    ) -> None:
        with self.tokens.lock:
            self.tokens.access_tokens.pop(token, None)
            self.tokens.refresh_tokens.pop(token, None)


def _only_offline_refreshes(token: dict[str, Any], token_handler: Any, request: Any) -> Any:
    """X issues a refresh token only to a grant that includes `offline.access`."""
    if OFFLINE not in (request.scopes or []):
        token.pop("refresh_token", None)
    return token


def _xs_token_type(token: dict[str, Any], token_handler: Any, request: Any) -> Any:
    token["token_type"] = "bearer"  # X writes it in lower case; oauthlib as RFC 6750 does
    return token


# oauthlib's error codes as X words them on its token and revoke endpoints.
X_TOKEN_ERRORS = {
    "invalid_grant": ("invalid_request", "Value passed for the token was invalid."),
    "invalid_client": ("unauthorized_client", "Missing valid authorization header"),
}


def xs_error_body(text: str) -> str:
    """An oauthlib error body in X's shape: always `error` and `error_description`."""
    body = json.loads(text or "{}")
    error = str(body.get("error") or "invalid_request")
    code, description = X_TOKEN_ERRORS.get(error, (error, ""))
    description = description or str(body.get("error_description") or error.replace("_", " "))
    return json.dumps({"error": code, "error_description": description})


@dataclass
class TokenAnswer:
    status: int
    body: str
    headers: dict[str, str]


class OAuth2Provider:
    """The emulator's OAuth 2.0 endpoints, each one call into oauthlib's server."""

    def __init__(self, tokens: OAuth2Tokens) -> None:
        self.tokens = tokens
        self.validator = XOAuth2Validator(tokens)
        self.server = WebApplicationServer(
            self.validator,
            token_generator=lambda _request: secrets.token_urlsafe(48),
            token_expires_in=ACCESS_TOKEN_SECONDS,
        )
        self.server.auth_grant.register_token_modifier(_only_offline_refreshes)
        for grant in (self.server.auth_grant, self.server.refresh_grant):
            grant.register_token_modifier(_xs_token_type)
        # S256 only, as X: oauthlib also knows "plain"
        self.server.auth_grant._code_challenge_methods = {
            "S256": self.server.auth_grant._code_challenge_methods["S256"]
        }

    def validate_authorization(self, uri: str) -> tuple[list[str], dict[str, Any]]:
        """The scopes and the client's request of an authorize URL; raises oauthlib's
        OAuth2Error (FatalClientError when the client or its redirect URI is unknown)."""
        scopes, info = self.server.validate_authorization_request(uri, "GET")
        if not info.get("code_challenge"):  # oauthlib lets an empty one through; X does not
            raise MissingCodeChallengeError(request=info["request"])
        return list(scopes), info

    def authorize(self, uri: str, scopes: list[str], user_id: str) -> str:
        """The person approved: the redirect (with `code` and `state`) oauthlib builds."""
        headers, _, _ = self.server.create_authorization_response(
            uri, "GET", scopes=scopes, credentials={"user": user_id}
        )
        return str(headers["Location"])

    def token(self, uri: str, body: str, headers: dict[str, str]) -> TokenAnswer:
        answer_headers, text, status = self.server.create_token_response(uri, "POST", body, headers)
        if status != 200:
            text = xs_error_body(text)
        return TokenAnswer(status, text or "", dict(answer_headers))

    def revoke(self, uri: str, body: str, headers: dict[str, str]) -> TokenAnswer:
        answer_headers, text, status = self.server.create_revocation_response(
            uri, "POST", body, headers
        )
        if status != 200:
            text = xs_error_body(text)
        return TokenAnswer(status, text or "", dict(answer_headers))

    def bearer_user(self, uri: str, method: str, headers: dict[str, str]) -> Grant | None:
        """The grant of a request's `Authorization: Bearer <user access token>`, if live
        and granted the scopes every v2 read of the emulator needs."""
        valid, request = self.server.verify_request(uri, method, None, headers, scopes=READ)
        grant: Grant | None = getattr(request, "x_access_grant", None)
        return grant if valid else None
