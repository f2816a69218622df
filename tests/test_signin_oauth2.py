"""Sign in with X over OAuth 2.0 (Authorization Code with PKCE), end to end through
Chalice's test client, moto and the X emulator; and the account's tokens after it: a
refresh before expiry or after X's 401, one refresh at X however many ask at once, and
the revocation at X when she asks us to forget her."""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from tests.browser import LEAKABLE, Browser, approve, consent_fields, press

TOKEN = "POST /2/oauth2/token"
ORIGIN = "http://127.0.0.1:8000"


def items_of_kind(aws: dict[str, str], kind: str) -> list[dict[str, Any]]:
    items = boto3.client("dynamodb").scan(TableName=aws["TABLE_NAME"])["Items"]
    return [item for item in items if item["kind"]["S"] == kind]


def account_item(aws: dict[str, str], username: str) -> dict[str, Any]:
    [item] = [i for i in items_of_kind(aws, "account") if i["username"]["S"] == username]
    return item


def stored_tokens(account_id: str) -> Any:
    from chalicelib import services

    tokens = services.account_store().account_tokens(account_id)
    assert tokens is not None
    LEAKABLE.update({tokens.access_token, tokens.refresh_token})
    return tokens


# --- /auth ---------------------------------------------------------------------------------


def test_auth_redirects_to_xs_consent_page_with_pkce_and_keeps_state_and_verifier(
    browser: Browser, oauth2: Any, aws: dict[str, str]
) -> None:
    from chalicelib import services

    oauth2.reset_counters()
    location = browser.start_sign_in()

    # THEN X's authorize page, asked for the three scopes the report needs, with S256
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == oauth2.base_url + "/i/oauth2/authorize"
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    assert query["response_type"] == "code"
    assert query["client_id"] == "test-oauth2-client-id"
    assert query["redirect_uri"] == "http://127.0.0.1:8000/callback"
    assert query["scope"] == "tweet.read users.read offline.access"
    assert query["code_challenge_method"] == "S256"
    # AND nothing went to X (the handler makes state and verifier itself)
    assert sum(oauth2.calls.values()) == 0
    # AND the pending login holds both, encrypted, and the challenge is the verifier's
    [pending] = items_of_kind(aws, "pending")
    assert pending["sign_in"]["S"] == "oauth2"
    assert pending["state"]["S"].startswith("gAAAA")
    assert pending["code_verifier"]["S"].startswith("gAAAA")
    state = services.token_cipher().decrypt(pending["state"]["S"])
    verifier = services.token_cipher().decrypt(pending["code_verifier"]["S"])
    LEAKABLE.update({state, verifier})
    assert state == query["state"]
    digest = hashlib.sha256(verifier.encode()).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == query["code_challenge"]
    assert "request_token" not in pending
    cookie = browser.last.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_the_consent_page_names_the_scopes_asked(browser: Browser, oauth2: Any) -> None:
    import requests

    page = requests.get(browser.start_sign_in(), timeout=10).text
    for scope in ("tweet.read", "users.read", "offline.access"):
        assert f"<code>{scope}</code>" in page
    assert "tweet.write" not in page
    assert "@fastbrand" in page and "Authorize app" in page and "Cancel" in page


def test_x_sign_in_oauth1_keeps_oauth1_when_both_are_configured(
    browser: Browser, oauth2: Any, configure: Any
) -> None:
    configure(X_SIGN_IN="oauth1")
    assert "/oauth/authenticate?oauth_token=" in browser.start_sign_in()
    configure(X_SIGN_IN="oauth2")
    assert "/i/oauth2/authorize?" in browser.start_sign_in()


def test_without_a_client_the_sign_in_stays_oauth1(browser: Browser, app_env: Any) -> None:
    assert "/oauth/authenticate?oauth_token=" in browser.start_sign_in()


def test_x_sign_in_oauth2_without_a_client_is_a_configuration_error(
    app_env: Any, configure: Any
) -> None:
    from chalicelib import config

    configure(X_SIGN_IN="oauth2")
    with pytest.raises(ValueError, match="no OAuth 2\\.0 client"):
        config.sign_in_flavour()
    configure(X_SIGN_IN="both")
    with pytest.raises(ValueError, match="X_SIGN_IN must be"):
        config.settings()


# --- /callback -----------------------------------------------------------------------------


def test_sign_in_lands_signed_in_with_tokens_encrypted_on_the_account(
    browser: Browser, oauth2: Any, aws: dict[str, str]
) -> None:
    from chalicelib import services

    authorize_url = browser.start_sign_in()
    pending_cookie = dict(browser.cookies)
    callback = approve(authorize_url, "fastbrand")
    oauth2.reset_counters()

    response = browser.get(callback)

    assert response.status_code == 302
    assert response.headers["location"] == "/report"
    assert browser.cookies != pending_cookie
    assert items_of_kind(aws, "pending") == []
    # one exchange of the code and one read of who she is, nothing else
    assert dict(oauth2.calls) == {TOKEN: 1, "GET /2/users/me": 1}
    item = account_item(aws, "fastbrand")
    assert item["sign_in"]["S"] == "oauth2"
    for name in ("access_token", "refresh_token"):
        assert item[name]["S"].startswith("gAAAA")
    assert "access_token_secret" not in item
    assert item["token_expires_at"]["S"].startswith("gAAAA")
    expires_at = int(services.token_cipher().decrypt(item["token_expires_at"]["S"]))
    assert expires_at - time.time() == pytest.approx(7200, abs=10)
    tokens = stored_tokens(item["account_id"]["S"])
    assert (
        item["refresh_token_hash"]["S"] == hashlib.sha256(tokens.refresh_token.encode()).hexdigest()
    )
    assert services.x_oauth2().me(tokens.access_token).username == "fastbrand"
    home = browser.get("/")
    assert "Signed in as @fastbrand" in home.body.decode()
    report = browser.get("/report")
    assert report.status_code == 200
    assert "How @fastbrand answers its mentions" in report.body.decode()


def test_an_account_switches_flavour_on_its_next_sign_in(
    browser: Browser, oauth2: Any, configure: Any, aws: dict[str, str]
) -> None:
    assert browser.sign_in("fastbrand").status_code == 302
    configure(X_SIGN_IN="oauth1")
    assert Browser(browser.client).sign_in("fastbrand").status_code == 302
    item = account_item(aws, "fastbrand")
    assert item["sign_in"]["S"] == "oauth1"
    assert "refresh_token" not in item and "refresh_token_hash" not in item
    assert "access_token_secret" in item


def test_cancel_at_x_shows_the_cancelled_page_and_forgets_the_pending_login(
    browser: Browser, oauth2: Any, aws: dict[str, str]
) -> None:
    callback = press(browser.start_sign_in(), "fastbrand", "cancel")
    assert "error=access_denied" in callback and "state=" in callback

    response = browser.get(callback)

    assert response.status_code == 200
    body = response.body.decode()
    assert "Sign-in cancelled" in body and 'href="/auth"' in body
    assert items_of_kind(aws, "pending") == []
    assert "Max-Age=0" in response.headers["set-cookie"]
    assert browser.cookies == {}


def test_an_error_other_than_cancel_is_x_refusing(
    browser: Browser, oauth2: Any, aws: dict[str, str]
) -> None:
    state = consent_fields(browser.start_sign_in())["state"]

    response = browser.get(f"/callback?error=server_error&state={state}")

    assert response.status_code == 502
    assert "X refused the sign-in" in response.body.decode()
    assert items_of_kind(aws, "pending") == []
    assert "Max-Age=0" in response.headers["set-cookie"]


def test_a_code_exchanged_after_30_seconds_is_refused(
    browser: Browser, oauth2: Any, aws: dict[str, str]
) -> None:
    from datetime import timedelta

    callback = approve(browser.start_sign_in(), "fastbrand")
    later = oauth2.now() + timedelta(seconds=31)
    oauth2._clock = lambda: later

    response = browser.get(callback)

    assert response.status_code == 502
    assert "X refused the sign-in" in response.body.decode()
    assert items_of_kind(aws, "account") == []


def test_replayed_callback_leaves_the_first_session_untouched(
    browser: Browser, oauth2: Any, aws: dict[str, str]
) -> None:
    callback = approve(browser.start_sign_in(), "fastbrand")
    assert browser.get(callback).status_code == 302
    signed_in = dict(browser.cookies)
    oauth2.reset_counters()

    replay = browser.get(callback)

    assert replay.status_code == 400
    assert browser.cookies == signed_in
    assert oauth2.calls[TOKEN] == 0  # the code is never sent to X twice
    assert len(items_of_kind(aws, "session")) == 1


def test_another_browsers_callback_is_a_mismatch_and_spends_mine(
    browser: Browser, client: Any, oauth2: Any, aws: dict[str, str]
) -> None:
    mine = approve(browser.start_sign_in(), "fastbrand")
    other = approve(Browser(client).start_sign_in(), "slowbrand")
    oauth2.reset_counters()

    response = browser.get(other)

    assert response.status_code == 400
    assert "does not match" in response.body.decode()
    assert oauth2.calls[TOKEN] == 0
    assert len(items_of_kind(aws, "pending")) == 1  # theirs is untouched
    assert browser.get(mine).status_code == 400
    assert items_of_kind(aws, "session") == []


def test_an_oauth2_callback_for_an_oauth1_pending_login_is_a_mismatch(
    browser: Browser, oauth2: Any, configure: Any
) -> None:
    configure(X_SIGN_IN="oauth1")
    browser.start_sign_in()
    oauth2.reset_counters()

    response = browser.get("/callback?state=abc&code=def")

    assert response.status_code == 400
    assert "does not match" in response.body.decode()
    assert sum(oauth2.calls.values()) == 0


def test_x_refusing_the_code_is_our_502(browser: Browser, oauth2: Any) -> None:
    callback = approve(browser.start_sign_in(), "fastbrand")
    oauth2.fail(TOKEN, "401")
    response = browser.get(callback)
    assert response.status_code == 502
    assert "X refused the sign-in" in response.body.decode()


def test_x_down_at_the_token_endpoint_is_our_503(browser: Browser, oauth2: Any) -> None:
    callback = approve(browser.start_sign_in(), "fastbrand")
    oauth2.fail(TOKEN, "503")
    response = browser.get(callback)
    assert response.status_code == 503
    assert "X is not answering" in response.body.decode()
