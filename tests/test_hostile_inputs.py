"""Hostile and broken input on the sign-in's routes and the signed-in forms, through the real
parts (Chalice's test client, moto, the X emulator over HTTP): cookies other code set beside
ours, links to /auth and /callback from other sites, control characters and duplicates in
the callback, a flood of anonymous sign-ins, and forms that are not what our pages send.

What each test holds: a person is never signed out nor loses her pending login to input she
did not make, nothing malformed reaches X, every answer is one of our pages (never a bare
500), and no secret reaches a log line."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import boto3
import pytest

from tests.browser import LEAKABLE, Browser, approve

ORIGIN = "http://127.0.0.1:8000"
PROD_URL = "https://rt.example.com"
SLOW_DOWN = "X asks us to slow down"
NOT_VALID = "This sign-in link is not valid"

# Every hostile input a test below sends, one entry each, so the count can be reported.
TRIED: set[str] = set()


def tried(*inputs: str) -> None:
    TRIED.update(inputs)


def items_of_kind(aws: dict[str, str], kind: str) -> list[dict[str, Any]]:
    items = boto3.client("dynamodb").scan(TableName=aws["TABLE_NAME"])["Items"]
    return [item for item in items if item["kind"]["S"] == kind]


def callback_values(callback: str) -> tuple[str, str]:
    """The oauth_token and oauth_verifier X put on the way back."""
    query = parse_qs(urlsplit(callback).query)
    return query["oauth_token"][0], query["oauth_verifier"][0]


def callback_path(**fields: str) -> str:
    return "/callback?" + "&".join(f"{name}={quote(value)}" for name, value in fields.items())


def assert_signed_in(browser: Browser, username: str = "fastbrand", label: str = "") -> None:
    """Her home page greets her and her report opens, and neither clears her cookie."""
    home = browser.get("/")
    assert f"Signed in as @{username}" in home.body.decode(), label
    report = browser.get("/report")
    assert report.status_code == 200, (label, report.body[:300])
    assert "set-cookie" not in home.headers and "set-cookie" not in report.headers, label


def assert_no_secret_logged() -> None:
    from tests.conftest import leaked_secrets

    assert leaked_secrets() == []


# --- 1. Cookies other code set, before (or after) ours -----------------------------------
# SimpleCookie drops every cookie of a header with one it cannot parse, and keeps the last
# of two of one name: with the old codec most of these, before or after ours, signed the
# person out or failed her sign-in; the rest are here so that the parser by hand keeps
# reading what SimpleCookie read.

FOREIGN_COOKIES = [
    'prefs={"theme": "dark"}',  # JSON, as a site's script writes it
    "consent=yes no",  # a space in a value
    'utm="x',  # an opening quote and no closing one
    "session=foreign",  # a parent domain's cookie of our very name (the http stage's)
    'session="c2lnbmVk.Zm9yZWlnbg"',  # of our name, quoted, shaped like ours, not signed
    "session=",  # of our name, empty
    "session=café",  # of our name, not ASCII
    "__Host-session=foreign",  # the https stage's name, here just another cookie
    "justaname",  # no "=" at all
    "=orphan",  # no name
    ";;  ;",  # empty pairs
    "a=b=c",  # "=" in a value
    "\x7fdel=1",  # a control character
]


def test_a_sign_in_with_a_foreign_cookie_before_ours_ends_signed_in(
    client: Any, aws: dict[str, str]
) -> None:
    for foreign in FOREIGN_COOKIES:
        tried(f"cookie before ours at sign-in: {foreign!r}")
        # GIVEN a browser that carries a cookie someone else set
        browser = Browser(client, foreign_cookies=[foreign])

        # WHEN she signs in
        answer = browser.sign_in("fastbrand")

        # THEN she lands on her report, signed in, the pending login used
        assert answer.status_code == 302, (foreign, answer.body[:300])
        assert answer.headers["location"] == "/report", foreign
        assert items_of_kind(aws, "pending") == [], foreign
        assert_signed_in(browser, label=foreign)


def test_a_signed_in_person_stays_signed_in_beside_a_foreign_cookie(browser: Browser) -> None:
    # GIVEN a signed-in person
    assert browser.sign_in("fastbrand").status_code == 302
    [(name, value)] = browser.cookies.items()
    browser.cookies = {}
    for foreign in FOREIGN_COOKIES:
        for where, cookies in (
            ("before", [foreign, f"{name}={value}"]),
            ("after", [f"{name}={value}", foreign]),
        ):
            tried(f"cookie {where} ours when signed in: {foreign!r}")
            # WHEN a cookie of someone else's appears beside hers
            browser.foreign_cookies = cookies
            # THEN she is still signed in, and her cookie is not cleared
            assert_signed_in(browser, label=f"{foreign!r} {where} ours")


def test_the_https_stages_cookie_is_found_beside_a_foreign_one_of_its_name(
    browser: Browser, configure: Any
) -> None:
    # GIVEN the https stage, whose cookie is __Host-session, and a browser that carries a
    # foreign cookie of that name (a browser without prefix rules, or a client's own)
    configure(PUBLIC_URL=PROD_URL, STAGE="prod")
    tried("__Host-session=foreign before ours (https stage)", 'prefs={"a": 1} (https stage)')
    browser.foreign_cookies = ["__Host-session=foreign", 'prefs={"a": 1}']

    # WHEN she signs in
    answer = browser.sign_in("fastbrand")

    # THEN she is signed in
    assert answer.status_code == 302, answer.body[:300]
    assert set(browser.cookies) == {"__Host-session"}
    assert_signed_in(browser)


def test_a_huge_cookie_header_before_ours_signs_no_one_out(browser: Browser) -> None:
    tried("64 KB of foreign cookies before ours", "200 foreign cookies of our name")
    assert browser.sign_in("fastbrand").status_code == 302
    browser.foreign_cookies = [f"tracker{n}={'x' * 320}" for n in range(200)]
    assert_signed_in(browser)
    # A header stuffed with cookies of our name is read quickly and signs no one in
    browser.cookies = {}
    browser.foreign_cookies = ["session=foreign"] * 200
    started = time.monotonic()
    home = browser.get("/")
    assert time.monotonic() - started < 1
    assert "Sign in with X" in home.body.decode()


# The codec on its own (pure): which of several values it takes, and what it never chokes on.


def test_the_codec_takes_the_first_value_we_signed() -> None:
    from chalicelib.cookies import CookieCodec

    codec = CookieCodec(["new-key", "old-key"], secure=False)
    ours, older = codec.encode("session-id-1"), codec.encode("session-id-2")
    signed_by_another = CookieCodec(["their-key"], secure=False).encode("theirs")
    tried("a cookie of our name signed by another key")

    assert codec.decode(f"session=foreign; session={ours}") == "session-id-1"
    assert codec.decode(f"session={signed_by_another}; session={ours}") == "session-id-1"
    assert codec.decode(f'session="{ours}"') == "session-id-1"
    assert codec.decode(f"  session = {ours} ;") == "session-id-1"
    assert codec.decode(f"session={ours}; session={older}") == "session-id-1"
    assert codec.decode(f"other={ours}") is None  # our value under another name is not ours
    assert codec.decode(f"xsession={ours}") is None


@pytest.mark.parametrize(
    "header",
    [
        "session=\udc80",  # a lone surrogate: cannot even be encoded
        "session=\x00",
        "session=" + "a" * 100_000,
        "session=" + ".".join(["a"] * 1000),
        'session="',
        "session",
        "=",
        ";",
        "",
    ],
)
def test_the_codec_answers_none_to_garbage(header: str) -> None:
    from chalicelib.cookies import CookieCodec

    tried(f"Cookie header {header[:40]!r}")
    assert CookieCodec(["key"], secure=False).decode(header) is None


# --- 2. Links from other sites sign no one out -------------------------------------------


def test_a_link_to_cancel_keeps_a_signed_in_person_signed_in(
    browser: Browser, aws: dict[str, str]
) -> None:
    # GIVEN a signed-in person
    assert browser.sign_in("fastbrand").status_code == 302
    for denied in ("x", "", "%00", "%3Cscript%3E", "a" * 5000):
        tried(f"/callback?denied={denied[:20]} when signed in")
        # WHEN she follows a link from another site to /callback?denied=...
        answer = browser.get(f"/callback?denied={denied}")
        # THEN the page clears no cookie, and she is still signed in
        assert answer.status_code == 200, denied[:20]
        assert "<script>" not in answer.body.decode()
        assert "set-cookie" not in answer.headers, denied[:20]
        assert len(items_of_kind(aws, "session")) == 1
        assert_signed_in(browser, label=denied[:20])


def test_a_link_to_cancel_sets_no_cookie_for_someone_signed_out(browser: Browser) -> None:
    tried("/callback?denied=x with no cookie")
    answer = browser.get("/callback?denied=x")
    assert answer.status_code == 200
    assert "Sign-in cancelled" in answer.body.decode()
    assert "set-cookie" not in answer.headers


def test_a_link_to_cancel_leaves_a_sign_in_under_way_alone(
    browser: Browser, aws: dict[str, str]
) -> None:
    # GIVEN a person half way through signing in (her pending login waits for X's answer)
    authorize_url = browser.start_sign_in()
    assert len(items_of_kind(aws, "pending")) == 1
    # WHEN a link from another site sends her to /callback?denied=<not her request token>
    tried("/callback?denied=x while a sign-in is under way")
    answer = browser.get("/callback?denied=x")
    # THEN nothing of hers is spent: no cookie cleared, the pending login still there
    assert answer.status_code == 200 and "set-cookie" not in answer.headers
    assert len(items_of_kind(aws, "pending")) == 1
    # AND when she approves at X, the sign-in completes
    assert browser.get(approve(authorize_url, "fastbrand")).status_code == 302
    assert browser.get("/report").status_code == 200


def test_a_crafted_callback_keeps_a_signed_in_person_signed_in(
    browser: Browser, app_env: Any
) -> None:
    tried("/callback with a well-formed foreign token and verifier when signed in")
    assert browser.sign_in("fastbrand").status_code == 302
    app_env.reset_counters()

    answer = browser.get(callback_path(oauth_token="abc", oauth_verifier="def"))

    assert answer.status_code == 400  # her session is not a pending login
    assert "set-cookie" not in answer.headers
    assert app_env.calls["POST /oauth/access_token"] == 0
    assert_signed_in(browser)


def test_a_link_to_auth_keeps_a_signed_in_person_signed_in(
    browser: Browser, app_env: Any, aws: dict[str, str]
) -> None:
    tried("/auth when signed in")
    # GIVEN a signed-in person
    assert browser.sign_in("fastbrand").status_code == 302
    app_env.reset_counters()
    # WHEN she follows a link from another site to /auth
    answer = browser.get("/auth")
    # THEN she goes to her report, keeps her cookie, and X is not asked for anything
    assert answer.status_code == 302
    assert answer.headers["location"] == "/report"
    assert "set-cookie" not in answer.headers
    assert sum(app_env.calls.values()) == 0
    assert items_of_kind(aws, "pending") == []
    assert_signed_in(browser)


# --- 3. Control characters in the callback: refused before anything is consumed ----------

BAD_VALUES = {
    "NUL": lambda good: good + "\x00",
    "LF": lambda good: good + "\n",
    "CR LF": lambda good: good + "\r\n",
    "leading LF": lambda good: "\n" + good,
    "space": lambda good: good[:5] + " " + good[5:],
    "tab": lambda good: good + "\t",
    "e acute": lambda good: good + "é",
    "Cyrillic a": lambda good: good[:-1] + "\u0430",
    "zero-width space": lambda good: good + "\u200b",
    "percent": lambda good: good + "%00",
    "slash": lambda good: "../" + good,
    "plus": lambda good: good + "+",
    "too long": lambda good: good + "a" * 200,
}


@pytest.mark.parametrize("field", ["oauth_verifier", "oauth_token"])
def test_a_damaged_callback_is_refused_and_the_sign_in_can_still_finish(
    browser: Browser, app_env: Any, aws: dict[str, str], field: str
) -> None:
    # GIVEN a browser back from X with a good token and verifier
    token, verifier = callback_values(approve(browser.start_sign_in(), "fastbrand"))
    good = {"oauth_token": token, "oauth_verifier": verifier}
    app_env.reset_counters()
    for bad, damage in BAD_VALUES.items():
        tried(f"{field} with {bad}")
        # WHEN the link back is damaged
        answer = browser.get(callback_path(**{**good, field: damage(good[field])}))

        # THEN a 400 says so, nothing went to X and the pending login is still there
        assert answer.status_code == 400, bad
        assert NOT_VALID in answer.body.decode(), bad
        assert "set-cookie" not in answer.headers, bad
        assert sum(app_env.calls.values()) == 0, bad
        assert len(items_of_kind(aws, "pending")) == 1, bad
    # AND the same browser then finishes the sign-in with the right values
    finished = browser.get(callback_path(**good))
    assert finished.status_code == 302, finished.body[:300]
    assert app_env.calls["POST /oauth/access_token"] == 1
    assert_signed_in(browser)


# --- 4. A flood of anonymous sign-ins spends only the sign-in budget ---------------------


def test_a_flood_of_auth_spends_the_budget_and_no_more(
    client: Any, app_env: Any, configure: Any, aws: dict[str, str]
) -> None:
    from chalicelib import services

    tried("300 GET /auth from one client")
    # GIVEN a sign-in budget of 20 per X window
    configure(X_BUDGET_REQUEST_TOKENS=20)
    app_env.reset_counters()

    # WHEN one client asks for /auth 300 times
    answers, slowest_refusal = [], 0.0
    started = time.monotonic()
    for _ in range(300):
        before = time.monotonic()
        answer = client.http.get("/auth")
        if answer.status_code == 503:
            slowest_refusal = max(slowest_refusal, time.monotonic() - before)
        answers.append(answer)
    elapsed = time.monotonic() - started

    # THEN at most 20 reached X and left a pending login; the rest got our 503 page, fast
    redirected = [answer for answer in answers if answer.status_code == 302]
    refused = [answer for answer in answers if answer.status_code == 503]
    assert len(redirected) == 20 and len(refused) == 280
    assert app_env.calls["POST /oauth/request_token"] == 20
    assert len(items_of_kind(aws, "pending")) == 20
    for answer in refused:
        assert f"<title>{SLOW_DOWN} · responsetime</title>" in answer.body.decode()
        assert "Set-Cookie" not in answer.headers
    assert slowest_refusal < 0.5 and elapsed < 30
    # AND no cookie nor request token secret of theirs reached a log line
    for answer in redirected:
        LEAKABLE.add(answer.headers["Set-Cookie"].split(";")[0].split("=", 1)[1])
    for pending in items_of_kind(aws, "pending"):
        LEAKABLE.add(services.token_cipher().decrypt(pending["request_token_secret"]["S"]))
    assert_no_secret_logged()


# --- 5. Other hostile input on the routes --------------------------------------------------


def test_an_ambiguous_callback_is_refused_before_the_pending_login_is_spent(
    browser: Browser, app_env: Any, aws: dict[str, str]
) -> None:
    # GIVEN a browser back from X with a good token and verifier
    token, verifier = callback_values(approve(browser.start_sign_in(), "fastbrand"))
    good = f"oauth_token={token}&oauth_verifier={verifier}"
    ambiguous = {
        "token twice, the second wrong": f"{good}&oauth_token=wrong",
        "token twice, the first wrong": f"oauth_token=wrong&{good}",
        "token twice, both right": f"{good}&oauth_token={token}",
        "verifier twice": f"{good}&oauth_verifier=other",
        "denied beside a token and verifier": f"{good}&denied={token}",
        "denied beside a token": f"oauth_token={token}&denied={token}",
        "denied twice": f"denied={token}&denied=x",
    }
    app_env.reset_counters()
    for shape, query in ambiguous.items():
        tried(f"callback with {shape}")
        # WHEN the link back is ambiguous
        answer = browser.get(f"/callback?{query}")
        # THEN a 400, nothing went to X, and the pending login is kept
        assert answer.status_code == 400, shape
        assert NOT_VALID in answer.body.decode(), shape
        assert "set-cookie" not in answer.headers, shape
        assert sum(app_env.calls.values()) == 0, shape
        assert len(items_of_kind(aws, "pending")) == 1, shape
    # AND the plain link back still signs her in
    assert browser.get(f"/callback?{good}").status_code == 302
    assert_signed_in(browser)


def test_a_huge_or_crowded_callback_query_is_a_400(browser: Browser, app_env: Any) -> None:
    tried("oauth_verifier of 100 KB", "5000 extra query fields")
    token, _ = callback_values(approve(browser.start_sign_in(), "fastbrand"))
    app_env.reset_counters()
    for query in (
        f"oauth_token={token}&oauth_verifier={'v' * 100_000}",
        f"oauth_token={token}&" + "&".join(f"f{n}=1" for n in range(5000)),
    ):
        answer = browser.get(f"/callback?{query}")
        assert answer.status_code == 400
        assert NOT_VALID in answer.body.decode()
    assert sum(app_env.calls.values()) == 0


def account_item(aws: dict[str, str], account_id: str) -> dict[str, Any]:
    return boto3.client("dynamodb").get_item(
        TableName=aws["TABLE_NAME"], Key={"pk": {"S": f"account#{account_id}"}}
    )["Item"]


def test_a_post_from_an_opaque_or_foreign_origin_changes_nothing(
    browser: Browser, app_env: Any, aws: dict[str, str]
) -> None:
    # GIVEN a signed-in person
    assert browser.sign_in("fastbrand").status_code == 302
    account_id = app_env.account_id("fastbrand")
    before = account_item(aws, account_id)
    forms = (("/settings", "target=7"), ("/forget", "confirm=yes"), ("/logout", ""))
    for origin in ("null", "https://evil.example", ORIGIN + ".evil.example", ORIGIN + "/"):
        for path, body in forms:
            tried(f"POST {path} with Origin {origin}")
            # WHEN a form is posted from an opaque or foreign origin
            answer = browser.post(path, headers={"origin": origin}, body=body)
            # THEN it is refused, and nothing changed
            assert answer.status_code == 403, (origin, path)
            assert "set-cookie" not in answer.headers, (origin, path)

    assert account_item(aws, account_id) == before
    assert len(items_of_kind(aws, "session")) == 1
    assert_signed_in(browser)


def post_bytes(browser: Browser, path: str, body: bytes) -> Any:
    """A form POST of raw bytes from this site, with the browser's cookie."""
    headers = {
        "content-type": "application/x-www-form-urlencoded",
        "origin": ORIGIN,
        **browser.cookie_header(),
    }
    return browser.client.http.post(path, headers=headers, body=body)


def test_settings_that_are_not_utf8_get_the_form_back_and_save_nothing(
    browser: Browser, app_env: Any, aws: dict[str, str]
) -> None:
    # GIVEN a signed-in person
    assert browser.sign_in("fastbrand").status_code == 302
    account_id = app_env.account_id("fastbrand")
    before = account_item(aws, account_id)
    for body in (b"target=\xff\xfe", b"tz=%FF%FE", b"target=7\x00", b"tz=Europe/\xc0\xaf"):
        tried(f"POST /settings body {body!r}")
        # WHEN her settings arrive as bytes that are not UTF-8 (or carry a NUL)
        answer = post_bytes(browser, "/settings", body)
        # THEN the form comes back with a 400, and nothing is saved
        assert answer.status_code == 400, body
        assert "Those settings cannot be saved" in answer.body.decode(), body
        assert account_item(aws, account_id) == before, body
    assert_signed_in(browser)


def test_forget_that_is_not_a_plain_yes_only_asks(
    browser: Browser, app_env: Any, aws: dict[str, str]
) -> None:
    # GIVEN a signed-in person
    assert browser.sign_in("fastbrand").status_code == 302
    app_env.reset_counters()
    for body in (b"confirm=\xff", b"confirm=yes\x00", b"confirm=%79%65%73%00", b"confirm=YES"):
        tried(f"POST /forget body {body!r}")
        # WHEN the confirmation is not a plain "yes"
        answer = post_bytes(browser, "/forget", body)
        # THEN she is asked, and nothing is deleted
        assert answer.status_code == 200, body
        assert "Forget your account?" in answer.body.decode(), body
    assert app_env.calls["POST /1.1/oauth/invalidate_token"] == 0
    assert len(items_of_kind(aws, "account")) == 1
    assert_signed_in(browser)


def test_a_number_of_5000_digits_is_a_400(browser: Browser) -> None:
    assert browser.sign_in("fastbrand").status_code == 302
    huge = "9" * 5000
    tried("/report.json?days=<5000 digits>", "/report?days=<5000 digits>")
    tried("POST /settings target=<5000 digits>")
    answers = [
        browser.get(f"/report.json?days={huge}"),
        browser.get(f"/report?days={huge}"),
        browser.post("/settings", headers={"origin": ORIGIN}, body=f"target={huge}"),
    ]
    assert [answer.status_code for answer in answers] == [400, 400, 400]


# --- 6. The same table for OAuth 2.0's callback: state, code and error ------------------


def oauth2_callback_values(callback: str) -> tuple[str, str]:
    """The state and code X put on the way back."""
    query = parse_qs(urlsplit(callback).query)
    return query["state"][0], query["code"][0]


@pytest.mark.parametrize(
    "query",
    [
        "state=&code=abc",
        "code=abc",
        "state={state}",
        "state={state}&code=",
        "state={state}&code=" + "c" * 201,
        "state=" + "s" * 201 + "&code=abc",
        "error=",
        "error=" + "e" * 201 + "&state={state}",
    ],
)
def test_an_oauth2_callback_with_missing_or_oversized_values(
    browser: Browser, oauth2: Any, aws: dict[str, str], query: str
) -> None:
    tried(f"OAuth 2.0 callback {query[:40]}")
    state, _ = oauth2_callback_values(approve(browser.start_sign_in(), "fastbrand"))
    oauth2.reset_counters()

    answer = browser.get("/callback?" + query.format(state=state))

    assert answer.status_code == 400
    assert NOT_VALID in answer.body.decode()
    assert "set-cookie" not in answer.headers
    assert sum(oauth2.calls.values()) == 0
    assert len(items_of_kind(aws, "pending")) == 1


@pytest.mark.parametrize("field", ["state", "code", "error"])
def test_a_damaged_oauth2_callback_is_refused_and_the_sign_in_can_still_finish(
    browser: Browser, oauth2: Any, aws: dict[str, str], field: str
) -> None:
    # GIVEN a browser back from X with a good state and code
    state, code = oauth2_callback_values(approve(browser.start_sign_in(), "fastbrand"))
    good = {"state": state, "code": code}
    oauth2.reset_counters()
    for bad, damage in BAD_VALUES.items():
        tried(f"OAuth 2.0 {field} with {bad}")
        # WHEN the link back is damaged (an error: X's cancel, damaged)
        fields = (
            {"error": damage("access_denied"), "state": state}
            if field == "error"
            else {**good, field: damage(good[field])}
        )
        answer = browser.get(callback_path(**fields))

        # THEN a 400 says so, nothing went to X and the pending login is still there
        assert answer.status_code == 400, bad
        assert NOT_VALID in answer.body.decode(), bad
        assert "set-cookie" not in answer.headers, bad
        assert sum(oauth2.calls.values()) == 0, bad
        assert len(items_of_kind(aws, "pending")) == 1, bad
    # AND the same browser then finishes the sign-in with the right values
    finished = browser.get(callback_path(**good))
    assert finished.status_code == 302, finished.body[:300]
    assert oauth2.calls["POST /2/oauth2/token"] == 1
    assert_signed_in(browser)


def test_an_ambiguous_oauth2_callback_is_refused_before_the_pending_login_is_spent(
    browser: Browser, oauth2: Any, aws: dict[str, str]
) -> None:
    state, code = oauth2_callback_values(approve(browser.start_sign_in(), "fastbrand"))
    good = f"state={state}&code={code}"
    ambiguous = {
        "state twice, the second wrong": f"{good}&state=wrong",
        "state twice, both right": f"{good}&state={state}",
        "code twice": f"{good}&code=other",
        "error beside a code": f"{good}&error=access_denied",
        "error twice": f"error=access_denied&error=x&state={state}",
        "an OAuth 1.0a token beside the code": f"{good}&oauth_token=abc",
        "an OAuth 1.0a verifier beside the code": f"{good}&oauth_verifier=abc",
        "denied beside the state": f"state={state}&denied=abc",
        "denied beside an error": "error=access_denied&denied=abc",
    }
    oauth2.reset_counters()
    for shape, query in ambiguous.items():
        tried(f"OAuth 2.0 callback with {shape}")
        answer = browser.get(f"/callback?{query}")
        assert answer.status_code == 400, shape
        assert NOT_VALID in answer.body.decode(), shape
        assert "set-cookie" not in answer.headers, shape
        assert sum(oauth2.calls.values()) == 0, shape
        assert len(items_of_kind(aws, "pending")) == 1, shape
    assert browser.get(f"/callback?{good}").status_code == 302
    assert_signed_in(browser)


def test_a_link_to_an_oauth2_cancel_keeps_a_signed_in_person_signed_in(
    browser: Browser, oauth2: Any, aws: dict[str, str]
) -> None:
    assert browser.sign_in("fastbrand").status_code == 302
    for query in (
        "error=access_denied",
        "error=access_denied&state=x",
        "error=access_denied&state=%3Cscript%3E",
        "error=server_error&state=x",
    ):
        tried(f"/callback?{query} when signed in")
        answer = browser.get(f"/callback?{query}")
        assert answer.status_code in (200, 400, 502), query
        assert "<script>" not in answer.body.decode()
        assert "set-cookie" not in answer.headers, query
        assert len(items_of_kind(aws, "session")) == 1
        assert_signed_in(browser, label=query)


def test_a_link_to_an_oauth2_cancel_leaves_a_sign_in_under_way_alone(
    browser: Browser, oauth2: Any, aws: dict[str, str]
) -> None:
    authorize_url = browser.start_sign_in()
    for query in ("error=access_denied&state=x", "error=access_denied", "error=server_error"):
        tried(f"/callback?{query} while an OAuth 2.0 sign-in is under way")
        answer = browser.get(f"/callback?{query}")
        assert answer.status_code in (200, 502) and "set-cookie" not in answer.headers
        assert len(items_of_kind(aws, "pending")) == 1
    assert browser.get(approve(authorize_url, "fastbrand")).status_code == 302
    assert browser.get("/report").status_code == 200


def test_a_crafted_oauth2_callback_keeps_a_signed_in_person_signed_in(
    browser: Browser, oauth2: Any
) -> None:
    tried("/callback with a well-formed foreign state and code when signed in")
    assert browser.sign_in("fastbrand").status_code == 302
    oauth2.reset_counters()

    answer = browser.get(callback_path(state="abc", code="def"))

    assert answer.status_code == 400
    assert "set-cookie" not in answer.headers
    assert sum(oauth2.calls.values()) == 0
    assert_signed_in(browser)


def test_a_huge_oauth2_callback_query_is_a_400(browser: Browser, oauth2: Any) -> None:
    tried("code of 100 KB", "state of 100 KB", "error of 100 KB")
    state, _ = oauth2_callback_values(approve(browser.start_sign_in(), "fastbrand"))
    oauth2.reset_counters()
    for query in (
        f"state={state}&code={'c' * 100_000}",
        f"state={'s' * 100_000}&code=abc",
        f"error={'e' * 100_000}&state={state}",
    ):
        answer = browser.get(f"/callback?{query}")
        assert answer.status_code == 400
        assert NOT_VALID in answer.body.decode()
    assert sum(oauth2.calls.values()) == 0


def test_no_oauth2_secret_reaches_the_logs(
    browser: Browser, oauth2: Any, aws: dict[str, str]
) -> None:
    from chalicelib import services

    authorize_url = browser.start_sign_in()
    [pending] = items_of_kind(aws, "pending")
    for name in ("state", "code_verifier"):
        LEAKABLE.add(services.token_cipher().decrypt(pending[name]["S"]))
    browser.get(approve(authorize_url, "fastbrand"))  # the code: tests/browser.py adds it
    account_id = oauth2.account_id("fastbrand")
    tokens = services.account_store().account_tokens(account_id)
    assert tokens is not None
    LEAKABLE.update({tokens.access_token, tokens.refresh_token})
    oauth2.expire_access_tokens()
    assert browser.get("/report").status_code == 200  # a read, a 401, a refresh
    refreshed = services.account_store().account_tokens(account_id)
    assert refreshed is not None and refreshed.refresh_token != tokens.refresh_token
    LEAKABLE.update({refreshed.access_token, refreshed.refresh_token})
    browser.post("/forget", headers={"origin": ORIGIN}, body="confirm=yes")
    assert_no_secret_logged()


def test_the_count_of_hostile_inputs(request: pytest.FixtureRequest) -> None:
    """Not a check of the app: prints how many hostile inputs this file sends (run it
    with the rest of the file, and -s, to see the figure)."""
    print(f"\n{len(TRIED)} hostile inputs tried in {__name__}")
