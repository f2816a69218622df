"""Sign in with X, end to end through Chalice's test client, moto and the X emulator."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.browser import LEAKABLE, Browser, approve, press


def table_items(aws: dict[str, str]) -> list[dict[str, Any]]:
    import boto3

    return boto3.client("dynamodb").scan(TableName=aws["TABLE_NAME"])["Items"]


def items_of_kind(aws: dict[str, str], kind: str) -> list[dict[str, Any]]:
    return [item for item in table_items(aws) if item["kind"]["S"] == kind]


# --- The happy path --------------------------------------------------------------------


def test_signed_out_home_offers_sign_in(browser: Browser) -> None:
    response = browser.get("/")
    assert response.status_code == 200
    assert "Sign in with X" in response.body.decode()
    assert 'href="/auth"' in response.body.decode()


def test_auth_stores_a_pending_login_and_redirects_to_x(
    browser: Browser, app_env: Any, aws: dict[str, str]
) -> None:
    location = browser.start_sign_in()

    assert location.startswith(app_env.base_url + "/oauth/authenticate?oauth_token=")
    cookie = browser.last.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # PUBLIC_URL is plain http in tests, as in the local stage
    [pending] = items_of_kind(aws, "pending")
    request_token = parse_qs(urlsplit(location).query)["oauth_token"][0]
    assert pending["request_token"]["S"] == request_token
    assert pending["request_token_secret"]["S"].startswith("gAAAA")  # Fernet, not plaintext
    assert int(pending["expires_at"]["N"]) - time.time() == pytest.approx(600, abs=5)


def test_authorize_page_names_the_app_and_the_demo_accounts(browser: Browser) -> None:
    import requests

    page = requests.get(browser.start_sign_in(), timeout=10).text
    assert "responsetime" in page
    assert "@fastbrand" in page and "@slowbrand" in page
    assert "Authorize app" in page and "Cancel" in page


def test_sign_in_lands_signed_in_with_a_new_session(
    browser: Browser, app_env: Any, aws: dict[str, str]
) -> None:
    authorize_url = browser.start_sign_in()
    pending_cookie = dict(browser.cookies)

    response = browser.get(approve(authorize_url, "fastbrand"))

    assert response.status_code == 302
    assert response.headers["location"] == "/report"
    assert browser.cookies != pending_cookie  # a new session id, never the pending one
    assert items_of_kind(aws, "pending") == []
    [session] = items_of_kind(aws, "session")
    [account] = items_of_kind(aws, "account")
    assert account["username"]["S"] == "fastbrand"
    assert session["account_id"]["S"] == account["pk"]["S"].removeprefix("account#")
    home = browser.get("/")
    assert home.status_code == 200
    assert "Signed in as @fastbrand" in home.body.decode()
    assert home.headers["cache-control"] == "no-store"


def test_tokens_are_encrypted_at_rest_and_work_at_x(
    browser: Browser, app_env: Any, aws: dict[str, str]
) -> None:
    from chalicelib import services

    browser.sign_in("slowbrand")

    [account] = items_of_kind(aws, "account")
    stored = services.account_store().account_tokens(account["account_id"]["S"])
    assert stored is not None
    LEAKABLE.update({stored.access_token, stored.access_token_secret})
    assert stored.access_token not in account["access_token"]["S"]
    assert account["access_token"]["S"].startswith("gAAAA")
    assert account["access_token_secret"]["S"].startswith("gAAAA")
    me = services.x_auth().me(stored.access_token, stored.access_token_secret)
    assert me.username == "slowbrand"


def test_session_ids_are_hashed_in_the_table(browser: Browser, aws: dict[str, str]) -> None:
    browser.sign_in()
    [session] = items_of_kind(aws, "session")
    [cookie_value] = browser.cookies.values()
    session_id = cookie_value.split(".")[0]
    assert session_id not in session["pk"]["S"]
    assert len(session["pk"]["S"].removeprefix("session#")) == 64


def test_sign_out_ends_the_session_server_side(browser: Browser, aws: dict[str, str]) -> None:
    browser.sign_in()
    old_cookies = dict(browser.cookies)

    response = browser.post("/logout", headers={"origin": "http://127.0.0.1:8000"})

    assert response.status_code == 303
    assert response.headers["location"] == "/"
    assert "Max-Age=0" in response.headers["set-cookie"]
    assert items_of_kind(aws, "session") == []
    browser.cookies = old_cookies  # a copy of the old cookie signs no one in
    home = browser.get("/")
    assert "Sign in with X" in home.body.decode()
    assert "Max-Age=0" in home.headers["set-cookie"]


def test_sign_out_from_another_site_is_refused(browser: Browser, aws: dict[str, str]) -> None:
    browser.sign_in()
    response = browser.post("/logout", headers={"origin": "https://evil.example"})
    assert response.status_code == 403
    assert len(items_of_kind(aws, "session")) == 1


# --- Figures: calls per request ----------------------------------------------------------


def test_calls_per_request(browser: Browser, app_env: Any, dynamodb_calls: Any) -> None:
    app_env.reset_counters()
    authorize_url = browser.start_sign_in()
    # Before X is asked, a token is taken from the fleet's sign-in bucket: the first take of
    # a window is two UpdateItems (it finds no open window, then opens one with itself as
    # the first), every later one a single UpdateItem. Then the pending login's PutItem.
    assert dict(dynamodb_calls.calls) == {"UpdateItem": 2, "PutItem": 1}
    assert sum(app_env.calls.values()) == 1
    assert app_env.calls["POST /oauth/request_token"] == 1

    dynamodb_calls.reset()
    app_env.reset_counters()
    Browser(browser.client).start_sign_in()  # someone else, in the same window
    assert dict(dynamodb_calls.calls) == {"UpdateItem": 1, "PutItem": 1}
    assert dict(app_env.calls) == {"POST /oauth/request_token": 1}

    callback = approve(authorize_url, "fastbrand")
    dynamodb_calls.reset()
    app_env.reset_counters()
    browser.get(callback)
    assert dynamodb_calls.calls["DeleteItem"] == 1
    writes = dynamodb_calls.calls["PutItem"] + dynamodb_calls.calls["UpdateItem"]
    assert writes <= 2
    assert sum(dynamodb_calls.calls.values()) == 1 + writes
    assert app_env.calls["POST /oauth/access_token"] == 1
    assert app_env.calls["GET /2/users/me"] <= 1
    assert sum(app_env.calls.values()) <= 2

    dynamodb_calls.reset()
    app_env.reset_counters()
    browser.get("/")
    reads = dynamodb_calls.calls["GetItem"] + dynamodb_calls.calls["BatchGetItem"]
    assert reads <= 2
    assert sum(dynamodb_calls.calls.values()) == reads
    assert sum(app_env.calls.values()) == 0


# --- Bad input gets a clear answer and loses nothing -------------------------------------


def assert_expired_page(response: Any) -> None:
    assert response.status_code == 400
    body = response.body.decode()
    assert "sign-in expired" in body.lower() or "does not match" in body.lower()
    assert 'href="/auth"' in body


def test_callback_without_cookie(browser: Browser, app_env: Any) -> None:
    callback = approve(browser.start_sign_in(), "fastbrand")
    browser.cookies.clear()
    app_env.reset_counters()

    response = browser.get(callback)

    assert_expired_page(response)
    assert "began in another browser" in response.body.decode()
    assert app_env.calls["POST /oauth/access_token"] == 0


def test_callback_with_tampered_cookie(browser: Browser, app_env: Any) -> None:
    callback = approve(browser.start_sign_in(), "fastbrand")
    [(name, value)] = browser.cookies.items()
    session_id, signature = value.rsplit(".", 1)
    browser.cookies[name] = f"{session_id}x.{signature}"
    app_env.reset_counters()

    assert_expired_page(browser.get(callback))
    assert app_env.calls["POST /oauth/access_token"] == 0


def test_callback_after_the_pending_login_expired(
    browser: Browser, app_env: Any, configure: Any
) -> None:
    configure(PENDING_LOGIN_SECONDS=1)
    callback = approve(browser.start_sign_in(), "fastbrand")
    time.sleep(1.1)
    app_env.reset_counters()

    assert_expired_page(browser.get(callback))
    assert app_env.calls["POST /oauth/access_token"] == 0


def test_callback_with_another_request_token_consumes_the_pending_login(
    browser: Browser, client: Any, app_env: Any, aws: dict[str, str]
) -> None:
    mine = approve(browser.start_sign_in(), "fastbrand")
    other = approve(Browser(client).start_sign_in(), "slowbrand")
    assert len(items_of_kind(aws, "pending")) == 2

    response = browser.get(other)  # someone else's callback in my browser

    assert response.status_code == 400
    assert "does not match" in response.body.decode()
    assert len(items_of_kind(aws, "pending")) == 1  # mine is gone, theirs is untouched
    assert_expired_page(browser.get(mine))  # and cannot be finished afterwards
    assert items_of_kind(aws, "session") == []


def test_replayed_callback_leaves_the_first_session_untouched(
    browser: Browser, aws: dict[str, str]
) -> None:
    callback = approve(browser.start_sign_in(), "fastbrand")
    assert browser.get(callback).status_code == 302
    signed_in_cookies = dict(browser.cookies)

    replay = browser.get(callback)

    assert replay.status_code == 400
    assert browser.cookies == signed_in_cookies
    assert len(items_of_kind(aws, "session")) == 1
    assert "Signed in as @fastbrand" in browser.get("/").body.decode()


@pytest.mark.parametrize(
    "query",
    [
        "oauth_token=&oauth_verifier=abc",
        "oauth_verifier=abc",
        "oauth_token={token}",
        "oauth_token={token}&oauth_verifier=",
        "oauth_token={token}&oauth_verifier=" + "v" * 201,
        "oauth_token=" + "t" * 201 + "&oauth_verifier=abc",
    ],
)
def test_callback_with_missing_or_oversized_values(
    browser: Browser, app_env: Any, query: str
) -> None:
    authorize_url = browser.start_sign_in()
    token = parse_qs(urlsplit(authorize_url).query)["oauth_token"][0]
    app_env.reset_counters()

    response = browser.get("/callback?" + query.format(token=token))

    assert response.status_code == 400
    assert "not valid" in response.body.decode()
    assert sum(app_env.calls.values()) == 0


def test_cancel_at_x_shows_a_friendly_page_and_deletes_the_pending_login(
    browser: Browser, aws: dict[str, str]
) -> None:
    callback = press(browser.start_sign_in(), "fastbrand", "cancel")
    assert "denied=" in callback

    response = browser.get(callback)

    assert response.status_code == 200
    body = response.body.decode()
    assert "Sign-in cancelled" in body and 'href="/auth"' in body
    assert items_of_kind(aws, "pending") == []
    assert "Max-Age=0" in response.headers["set-cookie"]  # its pending login is gone
    assert browser.cookies == {}


def test_x_refuses_the_access_token(browser: Browser, app_env: Any) -> None:
    callback = approve(browser.start_sign_in(), "fastbrand")
    app_env.fail("POST /oauth/access_token", "401")

    response = browser.get(callback)

    assert response.status_code == 502
    assert "X refused the sign-in" in response.body.decode()


def test_x_unreachable(browser: Browser, configure: Any) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    configure(X_API_BASE_URL=f"http://127.0.0.1:{closed_port}")

    response = browser.get("/auth")

    assert response.status_code == 503
    assert "X is not answering" in response.body.decode()


def test_x_slower_than_the_timeout(browser: Browser, app_env: Any, configure: Any) -> None:
    configure(X_TIMEOUT_SECONDS=1)
    callback = approve(browser.start_sign_in(), "fastbrand")
    app_env.fail("POST /oauth/access_token", "slow", delay=4)

    started = time.monotonic()
    response = browser.get(callback)
    elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert elapsed < 1 + 1


def test_expired_session_is_treated_as_signed_out(browser: Browser, configure: Any) -> None:
    configure(SESSION_ABSOLUTE_SECONDS=1)
    browser.sign_in()
    time.sleep(1.1)

    home = browser.get("/")

    assert "Sign in with X" in home.body.decode()
    assert "Max-Age=0" in home.headers["set-cookie"]
    assert browser.cookies == {}


def test_echoed_html_is_escaped(browser: Browser) -> None:
    hostile = "%3Cscript%3Ealert(1)%3C%2Fscript%3E"
    for path in (f"/callback?denied={hostile}", f"/callback?oauth_token={hostile}"):
        body = browser.get(path).body.decode()
        assert "<script>" not in body


def test_pages_carry_security_headers(browser: Browser) -> None:
    for response in (browser.get("/"), browser.get("/callback?denied=abc")):
        csp = response.headers["content-security-policy"]
        assert "script-src" not in csp and "default-src 'none'" in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"


def test_no_secret_reaches_the_logs(browser: Browser, aws: dict[str, str]) -> None:
    from chalicelib import services
    from tests.conftest import leaked_secrets

    authorize_url = browser.start_sign_in()
    [pending] = items_of_kind(aws, "pending")
    LEAKABLE.add(services.token_cipher().decrypt(pending["request_token_secret"]["S"]))
    browser.get(approve(authorize_url, "fastbrand"))
    [account] = items_of_kind(aws, "account")
    tokens = services.account_store().account_tokens(account["account_id"]["S"])
    assert tokens is not None
    LEAKABLE.update({tokens.access_token, tokens.access_token_secret})
    browser.get("/")
    browser.post("/logout")

    assert leaked_secrets() == []
