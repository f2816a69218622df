"""OAuth 1.0a provider side of the X emulator, verified with oauthlib (HMAC-SHA1 only).

Request tokens live 10 minutes (by the emulator's injectable clock), are single-use and are
bound to the one verifier issued when the user authorized them. Access tokens stay valid until
revoked or invalidated. Nonces are remembered for the oauthlib timestamp window (by real time,
since clients sign with the real time).

App-only (OAuth 2.0 client credentials, ``POST /oauth2/token``): as on X, the app has at most
one bearer token, and asking again answers the same one until it is invalidated.
"""

from __future__ import annotations

import hmac
import secrets
import string
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from oauthlib.common import urlencode
from oauthlib.oauth1 import (
    AccessTokenEndpoint,
    RequestTokenEndpoint,
    RequestValidator,
    SignatureOnlyEndpoint,
)

REQUEST_TOKEN_TTL = timedelta(minutes=10)
_SAFE = frozenset(string.ascii_letters + string.digits + "-_")


@dataclass
class RequestToken:
    token: str
    secret: str
    consumer_key: str
    callback: str
    created_at: datetime
    verifier: str | None = None
    user_id: str | None = None


@dataclass
class AccessToken:
    token: str
    secret: str
    consumer_key: str
    user_id: str
    created_at: datetime


class TokenStore:
    """Consumer credentials, request/access tokens and seen nonces, behind ``lock``."""

    def __init__(
        self,
        consumer_key: str,
        consumer_secret: str,
        clock: Callable[[], datetime],
        lock: threading.RLock,
    ) -> None:
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.clock = clock
        self.lock = lock
        self.request_tokens: dict[str, RequestToken] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self._nonces: set[tuple[str, ...]] = set()
        self._nonce_order: deque[tuple[float, tuple[str, ...]]] = deque()
        self.bearer_token: str | None = None

    def consumer_matches(self, key: str, secret: str) -> bool:
        """Both halves compared in constant time, whichever is wrong."""
        key_ok = hmac.compare_digest(key.encode(), self.consumer_key.encode())
        secret_ok = hmac.compare_digest(secret.encode(), self.consumer_secret.encode())
        return key_ok and secret_ok

    def issue_bearer(self) -> str:
        """The app's bearer token, made on first request (X's look: a long run of A's)."""
        with self.lock:
            if self.bearer_token is None:
                self.bearer_token = "AAAAAAAAAAAAAAAAAAAAA" + secrets.token_urlsafe(60)
            return self.bearer_token

    def valid_bearer(self, token: str) -> bool:
        with self.lock:
            current = self.bearer_token
        return current is not None and hmac.compare_digest(token.encode(), current.encode())

    def invalidate_bearer(self) -> None:
        with self.lock:
            self.bearer_token = None

    def live_request_token(self, token: str | None) -> RequestToken | None:
        """The request token if it exists and has not expired (expired ones are dropped)."""
        with self.lock:
            record = self.request_tokens.get(token or "")
            if record is None:
                return None
            if self.clock() - record.created_at > REQUEST_TOKEN_TTL:
                del self.request_tokens[record.token]
                return None
            return record

    def authorize(self, token: str, user_id: str) -> str | None:
        """Bind a verifier and the user to a live, not yet authorized request token."""
        with self.lock:
            record = self.live_request_token(token)
            if record is None or record.verifier is not None:
                return None
            record.user_id = user_id
            record.verifier = secrets.token_urlsafe(24)
            return record.verifier

    def deny(self, token: str) -> None:
        with self.lock:
            self.request_tokens.pop(token, None)

    def revoke_user(self, user_id: str) -> int:
        with self.lock:
            doomed = [t for t, rec in self.access_tokens.items() if rec.user_id == user_id]
            for token in doomed:
                del self.access_tokens[token]
            return len(doomed)

    def invalidate(self, token: str) -> None:
        with self.lock:
            self.access_tokens.pop(token, None)

    def seen_nonce(self, key: tuple[str, ...]) -> bool:
        """Remember ``key``; True if it was already used within the timestamp window."""
        now = time.time()
        with self.lock:
            while self._nonce_order and self._nonce_order[0][0] < now - 1200:
                self._nonces.discard(self._nonce_order.popleft()[1])
            if key in self._nonces:
                return True
            self._nonces.add(key)
            self._nonce_order.append((now, key))
            return False


class XRequestValidator(RequestValidator):
    """oauthlib glue: answers every question from a :class:`TokenStore`."""

    def __init__(self, store: TokenStore) -> None:
        super().__init__()
        self.store = store

    # policy ---------------------------------------------------------------------------------
    enforce_ssl = False  # loopback http; X itself is https-only
    allowed_signature_methods = ("HMAC-SHA1",)
    safe_characters = _SAFE
    client_key_length = (1, 100)
    request_token_length = (20, 100)
    access_token_length = (20, 120)
    nonce_length = (8, 64)
    verifier_length = (20, 64)
    realms: list[str] = []  # noqa: RUF012 - oauthlib reads this as a plain attribute
    dummy_client = "dummy-consumer-key"
    dummy_request_token = "dummy-request-token-000000"
    dummy_access_token = "dummy-access-token-0000000"

    def check_client_key(self, client_key: str) -> bool:
        low, high = self.client_key_length
        return set(client_key) <= _SAFE and low <= len(client_key) <= high

    # clients ----------------------------------------------------------------------------------
    def validate_client_key(self, client_key: str, request: Any) -> bool:
        return hmac.compare_digest(client_key, self.store.consumer_key)

    def get_client_secret(self, client_key: str, request: Any) -> str:
        if hmac.compare_digest(client_key, self.store.consumer_key):
            return self.store.consumer_secret
        return "dummy-consumer-secret"

    def validate_timestamp_and_nonce(
        self,
        client_key: str,
        timestamp: str,
        nonce: str,
        request: Any,
        request_token: str | None = None,
        access_token: str | None = None,
    ) -> bool:
        token = request_token or access_token or ""
        return not self.store.seen_nonce((client_key, timestamp, nonce, token))

    def validate_redirect_uri(self, client_key: str, redirect_uri: str, request: Any) -> bool:
        return bool(redirect_uri)

    def validate_requested_realms(self, client_key: str, realms: list[str], request: Any) -> bool:
        return True

    def get_default_realms(self, client_key: str, request: Any) -> list[str]:
        return []

    def get_realms(self, token: str, request: Any) -> list[str]:
        return []

    # request tokens -------------------------------------------------------------------------
    def save_request_token(self, token: dict[str, str], request: Any) -> None:
        with self.store.lock:
            now = self.store.clock()
            for key in [
                k
                for k, rec in self.store.request_tokens.items()
                if now - rec.created_at > REQUEST_TOKEN_TTL
            ]:
                del self.store.request_tokens[key]
            self.store.request_tokens[token["oauth_token"]] = RequestToken(
                token=token["oauth_token"],
                secret=token["oauth_token_secret"],
                consumer_key=request.client_key,
                callback=request.redirect_uri,
                created_at=now,
            )

    def _request_token(self, client_key: str, token: str) -> RequestToken | None:
        record = self.store.live_request_token(token)
        if record is None or record.consumer_key != client_key:
            return None
        return record

    def validate_request_token(self, client_key: str, token: str, request: Any) -> bool:
        return self._request_token(client_key, token) is not None

    def get_request_token_secret(self, client_key: str, token: str, request: Any) -> str:
        record = self._request_token(client_key, token)
        return record.secret if record else "dummy-request-token-secret"

    def validate_verifier(self, client_key: str, token: str, verifier: str, request: Any) -> bool:
        record = self._request_token(client_key, token)
        if record is None or record.verifier is None or record.user_id is None:
            return False
        return hmac.compare_digest(record.verifier, verifier)

    def invalidate_request_token(self, client_key: str, request_token: str, request: Any) -> None:
        self.store.deny(request_token)

    # access tokens --------------------------------------------------------------------------
    def _access_token(self, client_key: str, token: str) -> AccessToken | None:
        with self.store.lock:
            record = self.store.access_tokens.get(token)
        if record is None or record.consumer_key != client_key:
            return None
        return record

    def validate_access_token(self, client_key: str, token: str, request: Any) -> bool:
        return self._access_token(client_key, token) is not None

    def get_access_token_secret(self, client_key: str, token: str, request: Any) -> str:
        record = self._access_token(client_key, token)
        return record.secret if record else "dummy-access-token-secret"

    def save_access_token(self, token: dict[str, str], request: Any) -> None:
        raise NotImplementedError("XAccessTokenEndpoint issues access tokens itself")


class XAccessTokenEndpoint(AccessTokenEndpoint):
    """Answers exactly like X: ``oauth_token``, ``oauth_token_secret``, ``user_id``,
    ``screen_name`` (no ``oauth_authorized_realms``); tokens look like ``<user id>-<random>``."""

    def __init__(self, validator: XRequestValidator, username_of: Callable[[str], str]) -> None:
        super().__init__(validator)
        self.store = validator.store
        self.username_of = username_of

    def create_access_token(self, request: Any, credentials: dict[str, str]) -> str:
        store = self.store
        with store.lock:
            record = store.request_tokens[request.resource_owner_key]
            assert record.user_id is not None
            access = AccessToken(
                token=f"{record.user_id}-{secrets.token_urlsafe(30)}",
                secret=secrets.token_urlsafe(33),
                consumer_key=request.client_key,
                user_id=record.user_id,
                created_at=store.clock(),
            )
            store.access_tokens[access.token] = access
        return str(
            urlencode(
                [
                    ("oauth_token", access.token),
                    ("oauth_token_secret", access.secret),
                    ("user_id", access.user_id),
                    ("screen_name", self.username_of(access.user_id)),
                ]
            )
        )


@dataclass
class OAuthResult:
    status: int  # 200, 400 (malformed OAuth request) or 401 (not authenticated)
    body: str = ""
    access: AccessToken | None = None


class OAuthProvider:
    """The three checks the emulator needs: request token, access token, signed resource call."""

    def __init__(self, store: TokenStore, username_of: Callable[[str], str]) -> None:
        self.store = store
        self.validator = XRequestValidator(store)
        self._request_tokens = RequestTokenEndpoint(
            self.validator, token_generator=lambda *_: secrets.token_urlsafe(32)
        )
        self._access_tokens = XAccessTokenEndpoint(self.validator, username_of)
        self._signatures = SignatureOnlyEndpoint(self.validator)

    def request_token(
        self, uri: str, method: str, body: str, headers: dict[str, str]
    ) -> OAuthResult:
        try:
            _, text, status = self._request_tokens.create_request_token_response(
                uri, method, body, headers
            )
        except ValueError:  # an Authorization header oauthlib cannot parse
            return OAuthResult(status=400)
        return OAuthResult(status=status, body=text or "")

    def access_token(
        self, uri: str, method: str, body: str, headers: dict[str, str]
    ) -> OAuthResult:
        try:
            _, text, status = self._access_tokens.create_access_token_response(
                uri, method, body, headers
            )
        except ValueError:
            return OAuthResult(status=400)
        return OAuthResult(status=status, body=text or "")

    def resource(self, uri: str, method: str, body: str, headers: dict[str, str]) -> OAuthResult:
        """Verify a call signed with consumer + access token; 401 unless all is well."""
        try:
            valid, request = self._signatures.validate_request(uri, method, body, headers)
        except ValueError:  # e.g. "Authorization: Bearer ..." (app-only auth is not emulated)
            return OAuthResult(status=401)
        if not valid or request is None or not request.resource_owner_key:
            return OAuthResult(status=401)
        access = self.validator._access_token(request.client_key, request.resource_owner_key)
        if access is None:
            return OAuthResult(status=401)
        return OAuthResult(status=200, access=access)
