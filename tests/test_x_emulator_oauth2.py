"""The X emulator's OAuth 2.0 side, through requests and Tweepy's OAuth2UserHandler over
real HTTP: the consent page, PKCE (S256 only), a confidential client's HTTP Basic, codes
valid 30 seconds and once, refresh tokens once and rotated, access tokens for 2 hours
(and the switch that ends them now), revocation, and Bearer user tokens on v2 reads.
Every JSON body it sends validates against X's OpenAPI file (the `emulator` fixture)."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from local.x_emulator import XEmulator
from tests.test_x_emulator import Answer, Clock, answers, clock, emulator

__all__ = ["answers", "clock", "emulator"]  # the fixtures, imported so pytest finds them

CLIENT = ("local-oauth2-client-id", "local-oauth2-client-secret")  # the emulator's default
CALLBACK = "https://app.example/callback"
SCOPE = "tweet.read users.read offline.access"


@pytest.fixture
def x(emulator: XEmulator) -> Iterator[XEmulator]:
    yield emulator


def challenge(verifier: str) -> str:
    return (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )


def authorize_url(x: XEmulator, verifier: str, **overrides: str) -> str:
    query = {
        "response_type": "code",
        "client_id": CLIENT[0],
        "redirect_uri": CALLBACK,
        "scope": SCOPE,
        "state": "state-123",
        "code_challenge": challenge(verifier),
        "code_challenge_method": "S256",
        **overrides,
    }
    return f"{x.base_url}/i/oauth2/authorize?{urlencode(query)}"


def consent(x: XEmulator, url: str, action: str = "authorize", username: str = "fastbrand") -> str:
    page = requests.get(url, timeout=10)
    assert page.status_code == 200, page.text
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text))
    fields = {name: html.unescape(value) for name, value in fields.items()}
    answer = requests.post(
        f"{x.base_url}/i/oauth2/authorize",
        data={**fields, "username": username, "action": action},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302, answer.text
    return str(answer.headers["location"])


def code_of(location: str) -> str:
    return parse_qs(urlsplit(location).query)["code"][0]


def token(x: XEmulator, auth: tuple[str, str] | None = CLIENT, **form: str) -> requests.Response:
    return requests.post(f"{x.base_url}/2/oauth2/token", data=form, auth=auth, timeout=10)


def exchange(x: XEmulator, code: str, verifier: str, **more: Any) -> requests.Response:
    return token(
        x,
        grant_type="authorization_code",
        code=code,
        redirect_uri=CALLBACK,
        code_verifier=verifier,
        **more,
    )


def signed_in(x: XEmulator) -> dict[str, Any]:
    verifier = secrets.token_urlsafe(64)
    answer = exchange(x, code_of(consent(x, authorize_url(x, verifier))), verifier)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def me(x: XEmulator, access_token: str) -> requests.Response:
    return requests.get(
        f"{x.base_url}/2/users/me",
        headers={"Authorization": f"Bearer {access_token}"},
        timeout=10,
    )


def test_the_consent_page_names_the_scopes_and_approving_returns_code_and_state(
    x: XEmulator,
) -> None:
    url = authorize_url(x, "v" * 43)
    page = requests.get(url, timeout=10).text
    assert re.findall(r"<code>([^<]+)</code>", page) == SCOPE.split()
    location = consent(x, url)
    assert location.startswith(CALLBACK + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == ["state-123"] and len(query["code"][0]) >= 20


def test_cancel_returns_access_denied_with_the_state(x: XEmulator) -> None:
    location = consent(x, authorize_url(x, "v" * 43), action="cancel")
    assert parse_qs(urlsplit(location).query) == {
        "error": ["access_denied"],
        "state": ["state-123"],
    }


@pytest.mark.parametrize(
    ("overrides", "status", "error"),
    [
        ({"client_id": "someone-else"}, 400, None),  # unknown app: X's own error page
        ({"code_challenge_method": "plain"}, 302, "invalid_request"),
        ({"code_challenge": ""}, 302, "invalid_request"),
        ({"scope": "tweet.read dm.read"}, 302, "invalid_scope"),
    ],
)
def test_a_bad_authorize_request_is_refused(
    x: XEmulator, overrides: dict[str, str], status: int, error: str | None
) -> None:
    answer = requests.get(
        authorize_url(x, "v" * 43, **overrides), allow_redirects=False, timeout=10
    )
    assert answer.status_code == status
    if error is not None:
        assert parse_qs(urlsplit(answer.headers["location"]).query)["error"] == [error]


def test_the_code_needs_the_verifier_the_client_secret_and_is_taken_once(x: XEmulator) -> None:
    verifier = secrets.token_urlsafe(64)
    code = code_of(consent(x, authorize_url(x, verifier)))
    # a wrong verifier, no Basic, a wrong secret: refused, in X's shape
    wrong = exchange(x, code, secrets.token_urlsafe(64))
    assert wrong.status_code == 400 and wrong.json() == {
        "error": "invalid_request",
        "error_description": "Value passed for the token was invalid.",
    }
    code = code_of(consent(x, authorize_url(x, verifier)))
    no_client = requests.post(
        f"{x.base_url}/2/oauth2/token",
        data={"grant_type": "authorization_code", "code": code, "code_verifier": verifier},
        timeout=10,
    )
    assert no_client.status_code == 401
    assert no_client.json()["error"] == "unauthorized_client"
    bad_secret = token(x, (CLIENT[0], "wrong"), grant_type="authorization_code", code=code)
    assert bad_secret.status_code == 401
    # the right ones: a pair, Bearer, 2 hours, the scopes asked
    good = exchange(x, code, verifier)
    assert good.status_code == 200, good.text
    body = good.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 7200
    assert body["scope"] == SCOPE and body["refresh_token"]
    # and never again
    again = exchange(x, code, verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_request"


def test_a_code_is_valid_for_30_seconds(x: XEmulator, clock: Clock) -> None:
    verifier = secrets.token_urlsafe(64)
    code = code_of(consent(x, authorize_url(x, verifier)))
    clock.advance(seconds=31)
    assert exchange(x, code, verifier).status_code == 400
    code = code_of(consent(x, authorize_url(x, verifier)))
    clock.advance(seconds=29)
    assert exchange(x, code, verifier).status_code == 200


def test_no_refresh_token_without_offline_access(x: XEmulator) -> None:
    verifier = secrets.token_urlsafe(64)
    code = code_of(consent(x, authorize_url(x, verifier, scope="tweet.read users.read")))
    body = exchange(x, code, verifier).json()
    assert "refresh_token" not in body and body["access_token"]


def test_refresh_tokens_are_single_use_and_rotated(x: XEmulator) -> None:
    first = signed_in(x)
    refreshed = token(x, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    second = refreshed.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert me(x, second["access_token"]).status_code == 200
    reused = token(x, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_request"
    assert x.oauth2_refreshes() == 1


def test_access_tokens_last_two_hours_and_the_switch_ends_them_now(
    x: XEmulator, clock: Clock
) -> None:
    pair = signed_in(x)
    assert me(x, pair["access_token"]).json()["data"]["username"] == "fastbrand"
    clock.advance(hours=1, minutes=59)
    assert me(x, pair["access_token"]).status_code == 200
    clock.advance(minutes=1)
    expired = me(x, pair["access_token"])
    assert expired.status_code == 401 and expired.json()["title"] == "Unauthorized"
    other = signed_in(x)
    assert x.expire_access_tokens() >= 1
    assert me(x, other["access_token"]).status_code == 401
    assert token(x, grant_type="refresh_token", refresh_token=other["refresh_token"]).ok


def test_bearer_user_tokens_read_the_timelines(x: XEmulator) -> None:
    pair = signed_in(x)
    user_id = x.account_id("fastbrand")
    answer = requests.get(
        f"{x.base_url}/2/users/{user_id}/mentions",
        params={"max_results": 5},
        headers={"Authorization": f"Bearer {pair['access_token']}"},
        timeout=10,
    )
    assert answer.status_code == 200 and answer.json()["data"]
    assert answer.headers["x-rate-limit-limit"] == "300"
    assert me(x, "not-a-token").status_code == 401
    app_bearer = requests.post(
        f"{x.base_url}/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(x.consumer_key, x.consumer_secret),
        timeout=10,
    ).json()["access_token"]
    assert me(x, app_bearer).status_code == 401  # the app's token is no user


def test_revoke_takes_a_token_and_answers_xs_shape(x: XEmulator) -> None:
    pair = signed_in(x)
    revoke = f"{x.base_url}/2/oauth2/revoke"
    refused = requests.post(revoke, data={"token": pair["access_token"]}, timeout=10)
    assert refused.status_code == 401
    for name in ("refresh_token", "access_token"):
        answer = requests.post(
            revoke, data={"token": pair[name], "token_type_hint": name}, auth=CLIENT, timeout=10
        )
        assert answer.status_code == 200 and answer.json() == {"revoked": True}
    assert me(x, pair["access_token"]).status_code == 401
    assert (
        token(x, grant_type="refresh_token", refresh_token=pair["refresh_token"]).status_code == 400
    )


def test_revoking_the_app_at_x_ends_her_oauth2_tokens(x: XEmulator) -> None:
    pair = signed_in(x)
    x.revoke("fastbrand")
    assert me(x, pair["access_token"]).status_code == 401
    assert (
        token(x, grant_type="refresh_token", refresh_token=pair["refresh_token"]).status_code == 400
    )


def test_tweepys_handler_signs_in_against_the_emulator(x: XEmulator) -> None:
    from chalicelib.x_oauth2 import XOAuth2

    client = XOAuth2(x.base_url, x.base_url + "/i/oauth2/authorize", CLIENT, 5)
    started = client.authorization(CALLBACK)
    location = consent(x, started.url)
    assert parse_qs(urlsplit(location).query)["state"] == [started.state]
    grant = client.exchange(CALLBACK, code_of(location), started.code_verifier)
    assert grant.expires_in == 7200
    assert client.me(grant.access_token).username == "fastbrand"
    assert client.refresh(grant.refresh_token).refresh_token != grant.refresh_token


def test_answers_recorded(answers: list[Answer], x: XEmulator) -> None:
    signed_in(x)
    templates = {answer.template for answer in answers}
    assert {
        "GET /i/oauth2/authorize",
        "POST /i/oauth2/authorize",
        "POST /2/oauth2/token",
    } <= templates
