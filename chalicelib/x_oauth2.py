"""Sign in with X over OAuth 2.0 (Authorization Code with PKCE, S256) through Tweepy's
OAuth2UserHandler; the refresh and revocation of its tokens; and v2 reads that carry the
account's access token as a user-context Bearer token.

Tweepy's handler is a requests-oauthlib OAuth2Session with X's URLs written in. Nothing of
it is kept between requests: the `state` and the code verifier it makes at /auth are handed
back to be stored in the pending login, and /callback builds a new handler and gives it the
verifier again. Its two hard-coded addresses are pointed at this X (the emulator, or X):
the authorize page by replacing the URL's prefix, the token endpoint by the session's
`send`, as x_http.XApiSession does for Tweepy's Client.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import tweepy
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session

from chalicelib.errors import XRejected
from chalicelib.x_auth import XUser
from chalicelib.x_http import TWEEPY_HOSTS, XApiSession, mount_timeout, x_errors

# No more than the report needs: its two timelines and the account's own name, and a
# refresh token (X gives one only with offline.access) so a report refreshes for weeks.
SCOPES = ["tweet.read", "users.read", "offline.access"]
# What Tweepy writes in (tweepy/auth.py); replaced, never patched.
TWEEPY_AUTHORIZE_URL = "https://twitter.com/i/oauth2/authorize"
TWEEPY_TOKEN_URL = "https://api.twitter.com/2/oauth2/token"
REVOKE_PATH = "/2/oauth2/revoke"
ACCESS_TOKEN = "access_token"
REFRESH_TOKEN = "refresh_token"


@dataclass(frozen=True)
class Authorization:
    """Where to send the person, and what the callback must be checked against."""

    url: str
    state: str
    code_verifier: str


@dataclass(frozen=True)
class Grant:
    """What X's token endpoint answered: the pair, and how long the access token lasts."""

    access_token: str
    refresh_token: str
    expires_in: int


class BearerSource(Protocol):
    """The access token of one account, as a v2 read needs it (token_refresh.AccountBearer)."""

    def current(self) -> str:
        """The access token to send now (refreshed first when it is about to expire)."""

    def renewed(self, rejected: str) -> str:
        """X answered 401 to `rejected`: the token to try once more with."""


class _Handler(tweepy.OAuth2UserHandler):
    """Tweepy's OAuth2UserHandler aimed at `base_url`, with a timeout on every call, and
    X's 429 and 5xx raised as HTTP errors (oauthlib would read their bodies as a token
    answer without a token, and the person would see "X refused" for "X is down")."""

    def __init__(self, base_url: str, timeout: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._base_url = base_url
        mount_timeout(self, timeout)

    def send(self, request: Any, **kwargs: Any) -> Any:
        """Sent to this X once prepared: OAuth2Session checks for https before, on the URL
        Tweepy wrote in, and HTTP Basic does not cover the URL."""
        for host in TWEEPY_HOSTS:
            if request.url.startswith(host + "/"):
                request.url = self._base_url + request.url[len(host) :]
                break
        response = super().send(request, **kwargs)
        if response.status_code == 429 or response.status_code >= 500:
            response.raise_for_status()
        return response


class UserBearerSession(XApiSession):
    """The session of a v2 client acting as an OAuth 2.0 account: every request carries
    the account's access token as it is now (Tweepy's own header is replaced, so Tweepy
    never holds nor logs the token), and a 401 is tried once more with a renewed one."""

    def __init__(self, base_url: str, timeout: float, bearer: BearerSource) -> None:
        super().__init__(base_url, timeout)
        self._bearer = bearer

    def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", None) or {})
        token = self._bearer.current()
        headers["Authorization"] = f"Bearer {token}"
        response = super().request(method, url, *args, headers=headers, **kwargs)
        if response.status_code != 401:
            return response
        response.close()
        headers["Authorization"] = f"Bearer {self._bearer.renewed(token)}"
        return super().request(method, url, *args, headers=headers, **kwargs)


Credentials = tuple[str, str] | Callable[[], tuple[str, str]]  # client id and secret


class XOAuth2:
    """The app's side of OAuth 2.0 with X, as a confidential client ("Web App"). Given a
    provider of the client id and secret, each call uses the ones in force."""

    def __init__(
        self, base_url: str, authorize_url: str, credentials: Credentials, timeout: float
    ) -> None:
        self.base_url = base_url
        self.authorize_url = authorize_url
        self._credentials = credentials
        self.timeout = timeout

    @property
    def client_credentials(self) -> tuple[str, str]:
        return self._credentials() if callable(self._credentials) else self._credentials

    def _handler(self, callback: str) -> _Handler:
        client_id, client_secret = self.client_credentials
        return _Handler(
            self.base_url,
            self.timeout,
            client_id=client_id,
            redirect_uri=callback,
            scope=SCOPES,
            client_secret=client_secret,
        )

    def authorization(self, callback: str) -> Authorization:
        """Step 1: the authorize URL with a new `state` and an S256 challenge of a new code
        verifier (Tweepy makes both; no call to X)."""
        handler = self._handler(callback)
        url = handler.get_authorization_url()
        [state] = parse_qs(urlsplit(url).query)["state"]
        verifier = str(handler._client.code_verifier)  # where Tweepy's fetch_token reads it
        return Authorization(
            self.authorize_url + url.removeprefix(TWEEPY_AUTHORIZE_URL), state, verifier
        )

    def exchange(self, callback: str, code: str, code_verifier: str) -> Grant:
        """Step 2: the code and the verifier for the account's tokens, at once (X takes a
        code for 30 seconds). OAuth2Session's fetch_token is called with the code itself:
        Tweepy's would parse the callback URL again, which oauthlib refuses over http (the
        local stage), and the callback was checked already."""
        handler = self._handler(callback)
        with x_errors("oauth2/token"):
            token = OAuth2Session.fetch_token(
                handler,
                TWEEPY_TOKEN_URL,
                code=code,
                auth=handler.auth,
                include_client_id=True,
                code_verifier=code_verifier,
            )
        return _grant(token, "")

    def refresh(self, refresh_token: str) -> Grant:
        """A new pair for the refresh token (X takes each refresh token once)."""
        client_id, client_secret = self.client_credentials
        handler = self._handler("")
        with x_errors("oauth2/token refresh"):
            token = handler.refresh_token(
                TWEEPY_TOKEN_URL,
                refresh_token=refresh_token,
                auth=HTTPBasicAuth(client_id, client_secret),
            )
        return _grant(token, refresh_token)

    def revoke(self, token: str, token_type_hint: str) -> None:
        """POST /2/oauth2/revoke: X forgets the token (ACCESS_TOKEN or REFRESH_TOKEN)."""
        client_id, client_secret = self.client_credentials
        session = XApiSession(self.base_url, self.timeout)
        with x_errors("oauth2/revoke"):
            response = session.post(
                self.base_url + REVOKE_PATH,
                data={"token": token, "token_type_hint": token_type_hint},
                auth=HTTPBasicAuth(client_id, client_secret),
            )
            response.raise_for_status()

    def client(self, bearer: BearerSource) -> tweepy.Client:
        """A v2 client acting as the account (call its methods with user_auth=False: the
        session sends her access token as the Bearer token)."""
        client = tweepy.Client(return_type=dict)
        client.session = UserBearerSession(self.base_url, self.timeout, bearer)
        return client

    def me(self, access_token: str) -> XUser:
        client = self.client(_Fixed(access_token))
        with x_errors("users/me"):
            response = client.get_me(user_auth=False)
        user = response["data"]
        return XUser(id=str(user["id"]), username=user["username"], name=user.get("name", ""))


class _Fixed:
    """One access token, just issued: nothing to refresh it with."""

    def __init__(self, token: str) -> None:
        self._token = token

    def current(self) -> str:
        return self._token

    def renewed(self, rejected: str) -> str:
        return rejected


def _grant(token: dict[str, Any], old_refresh_token: str) -> Grant:
    """X's answer as a Grant; requests-oauthlib keeps the old refresh token in the answer
    when X sends none, which would be a spent one: it must be new."""
    refresh = str(token.get("refresh_token") or "")
    if not refresh or refresh == old_refresh_token:
        raise XRejected("oauth2/token: X sent no new refresh token (is offline.access granted?)")
    return Grant(str(token["access_token"]), refresh, int(token.get("expires_in") or 0))
