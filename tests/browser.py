"""A browser's part of the sign-in, for tests: a cookie jar over Chalice's test client,
and the person's click on the X emulator's authorize page over real HTTP."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

LEAKABLE: set[str] = set()  # values that must never appear in a log line (conftest checks)


@dataclass
class Browser:
    client: Any  # chalice.test.Client
    cookies: dict[str, str] = field(default_factory=dict)
    last: Any = None
    # Cookies other code set (the site's scripts, a parent domain), sent before ours as raw
    # `name=value` text: the jar holds one cookie per name, and only ones it can parse.
    foreign_cookies: list[str] = field(default_factory=list)

    def cookie_header(self) -> dict[str, str]:
        pairs = [*self.foreign_cookies, *(f"{k}={v}" for k, v in self.cookies.items())]
        if not pairs:
            return {}
        return {"cookie": "; ".join(pairs)}

    def _remember(self, response: Any) -> None:
        # HTTP header names are case-insensitive; tests read them in lower case.
        response.headers = {name.lower(): value for name, value in response.headers.items()}
        header = response.headers.get("set-cookie")
        if header:
            jar: SimpleCookie = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
                    LEAKABLE.add(morsel.value)
        self.last = response

    def get(self, path: str, headers: dict[str, str] | None = None) -> Any:
        response = self.client.http.get(path, headers={**self.cookie_header(), **(headers or {})})
        self._remember(response)
        return response

    def post(self, path: str, headers: dict[str, str] | None = None, body: str = "") -> Any:
        all_headers = {
            "content-type": "application/x-www-form-urlencoded",
            **self.cookie_header(),
            **(headers or {}),
        }
        response = self.client.http.post(path, headers=all_headers, body=body)
        self._remember(response)
        return response

    def start_sign_in(self) -> str:
        """GET /auth; returns the X authorize URL it redirects to."""
        response = self.get("/auth")
        assert response.status_code == 302, response.body
        return str(response.headers["location"])

    def sign_in(self, username: str = "fastbrand") -> Any:
        """The whole dance; returns the /callback response."""
        authorize_url = self.start_sign_in()
        return self.get(approve(authorize_url, username))


def consent_fields(authorize_url: str) -> dict[str, str]:
    """The hidden fields of the emulator's OAuth 2.0 consent page (the app's request)."""
    page = requests.get(authorize_url, timeout=10)
    assert page.status_code == 200, page.text
    fields = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text)
    return {html.unescape(name): html.unescape(value) for name, value in fields}


def press(authorize_url: str, username: str, action: str) -> str:
    """Press a button on X's authorize page (OAuth 1.0a or 2.0, as the URL says); returns
    the callback path and query."""
    parts = urlsplit(authorize_url)
    if parts.path == "/i/oauth2/authorize":
        return _press_oauth2(authorize_url, username, action)
    token = parse_qs(parts.query)["oauth_token"][0]
    answer = requests.post(
        f"{parts.scheme}://{parts.netloc}/oauth/authorize",
        data={"oauth_token": token, "username": username, "action": action},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302, answer.text
    location = urlsplit(answer.headers["location"])
    verifier = parse_qs(location.query).get("oauth_verifier")
    if verifier:
        LEAKABLE.add(verifier[0])
    return f"{location.path}?{location.query}"


def _press_oauth2(authorize_url: str, username: str, action: str) -> str:
    parts = urlsplit(authorize_url)
    fields = consent_fields(authorize_url)
    LEAKABLE.update({fields["state"], fields["code_challenge"]})
    answer = requests.post(
        f"{parts.scheme}://{parts.netloc}/i/oauth2/authorize",
        data={**fields, "username": username, "action": action},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302, answer.text
    location = urlsplit(answer.headers["location"])
    LEAKABLE.update(parse_qs(location.query).get("code", []))
    return f"{location.path}?{location.query}"


def approve(authorize_url: str, username: str) -> str:
    return press(authorize_url, username, "authorize")
