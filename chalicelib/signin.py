"""The sign-in flow, from /auth to a signed-in session, independent of HTTP."""

from __future__ import annotations

import contextlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass

from chalicelib.accounts import AccountStore
from chalicelib.errors import BadCallback, SignInExpired, SignInMismatch
from chalicelib.sessions import SessionStore, SignedIn
from chalicelib.x_auth import XAuth

# X's tokens and verifiers are a few dozen characters; anything longer is not from X.
MAX_CALLBACK_VALUE = 200


@dataclass(frozen=True)
class Started:
    authorization_url: str
    session_id: str


class SignInFlow:
    def __init__(
        self,
        store: SessionStore,
        accounts: AccountStore,
        x_auth: XAuth,
        callback_url: str,
        clock: Callable[[], float],
    ) -> None:
        self._store = store
        self._accounts = accounts
        self._x = x_auth
        self._callback_url = callback_url
        self._clock = clock

    def _now(self) -> int:
        return int(self._clock())

    def begin(self) -> Started:
        """Leg 1: a request token from X, kept server-side under a new pending session."""
        request = self._x.request_token(self._callback_url)
        session_id = self._store.start_pending(request.token, request.secret, self._now())
        return Started(request.authorization_url, session_id)

    def complete(
        self, session_id: str | None, oauth_token: str | None, oauth_verifier: str | None
    ) -> SignedIn:
        """Leg 3: check the callback against this browser's pending login, then ask X."""
        for value in (oauth_token, oauth_verifier):
            if not value or len(value) > MAX_CALLBACK_VALUE:
                raise BadCallback("the callback lacks a valid oauth_token or oauth_verifier")
        assert oauth_token is not None and oauth_verifier is not None
        if session_id is None:
            raise SignInExpired("no sign-in cookie")
        pending = self._store.consume_pending(session_id, self._now())
        if not hmac.compare_digest(pending.request_token.encode(), oauth_token.encode()):
            raise SignInMismatch("the callback's request token is not this browser's")
        access_token, access_token_secret = self._x.access_token(
            self._callback_url, pending.request_token, pending.request_token_secret, oauth_verifier
        )
        user = self._x.me(access_token, access_token_secret)
        now = self._now()
        self._accounts.save(user.id, user.username, access_token, access_token_secret, now)
        return self._store.start_session(user.id, user.username, now)

    def cancel(self, session_id: str | None) -> None:
        """The person pressed Cancel at X: forget the pending login, if there is one."""
        if session_id is None:
            return
        with contextlib.suppress(SignInExpired):
            self._store.consume_pending(session_id, self._now())

    def current(self, session_id: str | None) -> SignedIn | None:
        if session_id is None:
            return None
        return self._store.signed_in(session_id, self._now())

    def sign_out(self, session_id: str | None) -> None:
        if session_id is not None:
            self._store.end_session(session_id)
