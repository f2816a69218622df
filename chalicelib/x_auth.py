"""Sign in with X: OAuth 1.0a's three legs through Tweepy's OAuth1UserHandler."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import tweepy

from chalicelib.x_http import XApiSession, mount_timeout, x_errors

# The fleet budget's name for POST oauth/request_token (budget.TokenBucket), the one X call
# an anonymous visitor can make happen.
REQUEST_TOKEN = "oauth/request_token"


@dataclass(frozen=True)
class XUser:
    id: str
    username: str
    name: str


@dataclass(frozen=True)
class RequestToken:
    authorization_url: str
    token: str
    secret: str


class _Handler(tweepy.OAuth1UserHandler):
    """OAuth1UserHandler aimed at `base_url`, with a timeout on every call.

    `_get_oauth_url` is the hook Tweepy builds every OAuth URL with. Tweepy replaces its
    `oauth` session in get_access_token, so the timeout is mounted as the attribute is set.
    """

    def __init__(self, base_url: str, timeout: float, *args: Any, **kwargs: Any) -> None:
        self._base_url = base_url
        self._timeout = timeout
        super().__init__(*args, **kwargs)

    def _get_oauth_url(self, endpoint: str) -> str:
        return f"{self._base_url}/oauth/{endpoint}"

    @property
    def oauth(self) -> Any:
        return self._oauth

    @oauth.setter
    def oauth(self, session: Any) -> None:
        self._oauth = mount_timeout(session, self._timeout)


Credentials = tuple[str, str] | Callable[[], tuple[str, str]]  # consumer key and secret


class XAuth:
    """The app's side of OAuth 1.0a with X. Given a provider of the consumer key and
    secret (services passes one that reads the secret through its cache), each call uses
    the credentials in force: an object built once never pins rotated ones."""

    def __init__(self, base_url: str, credentials: Credentials, timeout: float) -> None:
        self.base_url = base_url
        self._credentials = credentials
        self.timeout = timeout

    @property
    def consumer(self) -> tuple[str, str]:
        """The consumer key and secret in force."""
        return self._credentials() if callable(self._credentials) else self._credentials

    def _handler(self, callback: str | None = None, **tokens: str) -> _Handler:
        consumer_key, consumer_secret = self.consumer
        return _Handler(
            self.base_url,
            self.timeout,
            consumer_key,
            consumer_secret,
            callback=callback,
            **tokens,
        )

    def request_token(self, callback: str) -> RequestToken:
        """Leg 1: a request token bound to `callback`, and the URL to send the person to."""
        handler = self._handler(callback)
        with x_errors("request_token"):
            url = handler.get_authorization_url(signin_with_twitter=True)
        return RequestToken(
            url, handler.request_token["oauth_token"], handler.request_token["oauth_token_secret"]
        )

    def access_token(
        self, callback: str, request_token: str, request_token_secret: str, verifier: str
    ) -> tuple[str, str]:
        """Leg 3: trade the approved request token and its verifier for the account's tokens."""
        handler = self._handler(callback)
        handler.request_token = {
            "oauth_token": request_token,
            "oauth_token_secret": request_token_secret,
        }
        with x_errors("access_token"):
            return handler.get_access_token(verifier)

    def client(self, access_token: str, access_token_secret: str) -> tweepy.Client:
        """A v2 client acting as the account, through this X's base URL; answers are X's
        JSON as dicts (no model objects to build for thousands of posts)."""
        consumer_key, consumer_secret = self.consumer
        client = tweepy.Client(
            consumer_key=consumer_key,
            consumer_secret=consumer_secret,
            access_token=access_token,
            access_token_secret=access_token_secret,
            return_type=dict,
        )
        client.session = XApiSession(self.base_url, self.timeout)
        return client

    def me(self, access_token: str, access_token_secret: str) -> XUser:
        client = self.client(access_token, access_token_secret)
        with x_errors("users/me"):
            response = client.get_me(user_auth=True)
        user = response["data"]
        return XUser(id=str(user["id"]), username=user["username"], name=user.get("name", ""))

    def invalidate(self, access_token: str, access_token_secret: str) -> None:
        """Revoke the account's token at X (POST /1.1/oauth/invalidate_token)."""
        handler = self._handler(access_token=access_token, access_token_secret=access_token_secret)
        session = XApiSession(self.base_url, self.timeout)
        with x_errors("invalidate_token"):
            response = session.post(
                f"{self.base_url}/1.1/oauth/invalidate_token", auth=handler.apply_auth()
            )
            response.raise_for_status()
