"""The sign-in flow, from /auth to a signed-in session, independent of HTTP: over OAuth 1.0a
(request token, verifier) or OAuth 2.0 with PKCE (state, code), whichever `flavour` says
when /auth begins one; /callback finishes the one its pending login began."""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chalicelib.accounts import AccountStore, OAuth2Pair
from chalicelib.config import OAUTH1, OAUTH2
from chalicelib.errors import BadCallback, SignInExpired, SignInMismatch
from chalicelib.sessions import PendingLogin, SessionStore, SignedIn
from chalicelib.x_auth import REQUEST_TOKEN, XAuth

if TYPE_CHECKING:
    from chalicelib.budget import XBudget
    from chalicelib.x_oauth2 import XOAuth2

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
        x_oauth2: XOAuth2 | None = None,
        flavour: Callable[[], str] = lambda: OAUTH1,
    ) -> None:
        self._store = store
        self._accounts = accounts
        self._x = x_auth
        self._x2 = x_oauth2
        self._callback_url = callback_url
        self._clock = clock
        # The fleet's: every sign-in started takes a token first. Over OAuth 2.0 /auth asks
        # X for nothing, and the same budget still bounds the pending logins a flood writes.
        self._budget = budget
        self._flavour = flavour

    def _now(self) -> int:
        return int(self._clock())

    def begin(self) -> Started:
        """Leg 1: a request token from X, kept server-side under a new pending session.
        With no token left in the fleet's budget, BudgetExhausted (an XRateLimited): nothing
        is written and nothing goes to X."""
        if self._budget is not None:
            self._budget.take(REQUEST_TOKEN)
        if self._flavour() == OAUTH2:
            return self._begin_oauth2()
        request = self._x.request_token(self._callback_url)
        session_id = self._store.start_pending(request.token, request.secret, self._now())
        return Started(request.authorization_url, session_id)

    def _begin_oauth2(self) -> Started:
        """Step 1 over OAuth 2.0: a state and a code verifier (Tweepy makes both, and no
        request to X), kept server-side under a new pending session."""
        authorization = self._oauth2().authorization(self._callback_url)
        session_id = self._store.start_pending_oauth2(
            authorization.state, authorization.code_verifier, self._now()
        )
        return Started(authorization.url, session_id)

    def _oauth2(self) -> XOAuth2:
        if self._x2 is None:
            raise ValueError("no OAuth 2.0 client is configured")
        return self._x2

    def complete_oauth2(
        self, session_id: str | None, state: str | None, code: str | None
    ) -> SignedIn:
        """Step 2 over OAuth 2.0: the callback's state checked against this browser's
        pending login (taken once), then the code exchanged with its verifier at once."""
        state, code = _checked(state, code, "state or code")
        if session_id is None:
            raise SignInExpired("no sign-in cookie")
        pending = self._store.consume_pending(session_id, self._now())
        if pending.sign_in != OAUTH2 or not hmac.compare_digest(
            pending.state.encode(), state.encode()
        ):
            raise SignInMismatch("the callback's state is not this browser's")
        x = self._oauth2()
        grant = x.exchange(self._callback_url, code, pending.code_verifier)
        user = x.me(grant.access_token)
        now = self._now()
        pair = OAuth2Pair(grant.access_token, grant.refresh_token, now + grant.expires_in)
        self._accounts.save_oauth2(user.id, user.username, pair, now)
        return self._store.start_session(user.id, user.username, now)

    def cancel_oauth2(self, session_id: str | None, state: str | None) -> bool:
        """X sent the person back with an error (access_denied: she pressed Cancel) and the
        state: forget the pending login of that state, as `cancel` does with `denied`."""
        if session_id is None or state is None or CALLBACK_VALUE.fullmatch(state) is None:
            return False
        try:
            self._store.consume_pending(session_id, self._now(), state=state)
        except SignInExpired:
            return False
        return True

    def complete(
        self, session_id: str | None, oauth_token: str | None, oauth_verifier: str | None
    ) -> SignedIn:
        """Leg 3: check the callback against this browser's pending login, then ask X.
        A value of the wrong shape is BadCallback before anything is consumed."""
        oauth_token, oauth_verifier = _callback_values(oauth_token, oauth_verifier)
        if session_id is None:
            raise SignInExpired("no sign-in cookie")
        pending: PendingLogin = self._store.consume_pending(session_id, self._now())
        if pending.sign_in != OAUTH1 or not hmac.compare_digest(
            pending.request_token.encode(), oauth_token.encode()
        ):
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
    return _checked(oauth_token, oauth_verifier, "oauth_token or oauth_verifier")


def _checked(first: str | None, second: str | None, names: str) -> tuple[str, str]:
    """Two callback values, each of the shape X gives them, or BadCallback."""
    for value in (first, second):
        if value is None or CALLBACK_VALUE.fullmatch(value) is None:
            raise BadCallback(f"the callback lacks a valid {names}")
    assert first is not None and second is not None
    return first, second
