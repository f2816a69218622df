"""The sign-in flow, from /auth to a signed-in session, independent of HTTP."""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chalicelib.accounts import AccountStore
from chalicelib.errors import BadCallback, SignInExpired, SignInMismatch
from chalicelib.sessions import SessionStore, SignedIn
from chalicelib.x_auth import REQUEST_TOKEN, XAuth

if TYPE_CHECKING:
    from chalicelib.budget import XBudget

# X's tokens and verifiers are a few dozen letters, digits, "-" and "_". Anything else (a NUL,
# a CR or LF, a space, a non-ASCII letter, 201 characters) is not from X: it is refused before
# the pending login is consumed, so a damaged or crafted link costs the person nothing and
# nothing of it goes to X. Used with fullmatch: `$` would let a trailing newline through.
MAX_CALLBACK_VALUE = 200
CALLBACK_VALUE = re.compile(rf"[A-Za-z0-9_-]{{1,{MAX_CALLBACK_VALUE}}}")


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
        *,
        budget: XBudget | None = None,
    ) -> None:
        self._store = store
        self._accounts = accounts
        self._x = x_auth
        self._callback_url = callback_url
        self._clock = clock
        self._budget = budget  # the fleet's: every sign-in started takes a token first

    def _now(self) -> int:
        return int(self._clock())

    def begin(self) -> Started:
        """Leg 1: a request token from X, kept server-side under a new pending session.
        With no token left in the fleet's budget, BudgetExhausted (an XRateLimited): nothing
        is written and nothing goes to X."""
        if self._budget is not None:
            self._budget.take(REQUEST_TOKEN)
        request = self._x.request_token(self._callback_url)
        session_id = self._store.start_pending(request.token, request.secret, self._now())
        return Started(request.authorization_url, session_id)

    def complete(
        self, session_id: str | None, oauth_token: str | None, oauth_verifier: str | None
    ) -> SignedIn:
        """Leg 3: check the callback against this browser's pending login, then ask X.
        A value of the wrong shape is BadCallback before anything is consumed."""
        oauth_token, oauth_verifier = _callback_values(oauth_token, oauth_verifier)
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

    def cancel(self, session_id: str | None, denied: str | None) -> bool:
        """The person pressed Cancel at X, which names the request token it refused
        (`denied`): forget that pending login. True when one was consumed; False when there
        was none, or its request token is another (a link to `/callback?denied=` from another
        site: a session, or a sign-in under way, stays, and so must the cookie)."""
        if session_id is None or denied is None or CALLBACK_VALUE.fullmatch(denied) is None:
            return False
        try:
            self._store.consume_pending(session_id, self._now(), request_token=denied)
        except SignInExpired:
            return False
        return True

    def current(self, session_id: str | None) -> SignedIn | None:
        if session_id is None:
            return None
        return self._store.signed_in(session_id, self._now())

    def sign_out(self, session_id: str | None) -> None:
        if session_id is not None:
            self._store.end_session(session_id)


def _callback_values(oauth_token: str | None, oauth_verifier: str | None) -> tuple[str, str]:
    """The callback's token and verifier, each of the shape X gives them, or BadCallback."""
    for value in (oauth_token, oauth_verifier):
        if value is None or CALLBACK_VALUE.fullmatch(value) is None:
            raise BadCallback("the callback lacks a valid oauth_token or oauth_verifier")
    assert oauth_token is not None and oauth_verifier is not None
    return oauth_token, oauth_verifier
