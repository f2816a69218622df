"""The X emulator (local/x_emulator.py): OAuth 1.0a as X does it, driven by unmodified Tweepy;
the v2 reads the app makes, with X's parameters, paging, reach, rate limits and error shapes;
the demo data; and every JSON body the emulator sends checked against X's OpenAPI description.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
import tweepy
from openapi_schema_validator import (
    OAS30Validator,
    OAS31Validator,
    oas30_format_checker,
    oas31_format_checker,
)
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4, DRAFT202012
from requests_oauthlib import OAuth1, OAuth1Session

from local.x_emulator import XEmulator
from tests import x_openapi
from tests.x_openapi import openapi

KEY = "emulator-test-key"
SECRET = "emulator-test-secret"
NOW = datetime(2026, 11, 27, 15, 5, 14, tzinfo=UTC)  # a Friday afternoon
CALLBACK = "http://127.0.0.1:9/callback?from=test"
ROOT = Path(__file__).resolve().parents[1]
MENTIONS = "GET /2/users/:id/mentions"
TWEETS = "GET /2/users/:id/tweets"
ME = "GET /2/users/me"
USERS = "GET /2/users"
APP_FIELDS = [
    "created_at",
    "author_id",
    "conversation_id",
    "in_reply_to_user_id",
    "referenced_tweets",
]
X_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
V1_AUTH_ERROR = {"errors": [{"code": 32, "message": "Could not authenticate you."}]}


# --- X's OpenAPI description ---------------------------------------------------------------
SPEC_URI = "urn:x-api-v2:openapi.json"


@cache
def _validation() -> tuple[Any, Any, Registry[Any]]:
    spec = openapi()
    if spec["openapi"].startswith("3.0"):
        validator, formats, draft = OAS30Validator, oas30_format_checker, DRAFT4
    else:
        validator, formats, draft = OAS31Validator, oas31_format_checker, DRAFT202012
    resource = Resource.from_contents(spec, default_specification=draft)
    return validator, formats, Registry().with_resource(SPEC_URI, resource)


def schema_errors(name: str, instance: Any) -> list[str]:
    """Why `instance` does not validate against components/schemas/`name` ([] if it does)."""
    validator, formats, registry = _validation()
    checker = validator(
        {"$ref": f"{SPEC_URI}#/components/schemas/{name}"},
        registry=registry,
        format_checker=formats,
    )
    return [
        f"{name} at /{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in checker.iter_errors(instance)
    ]


def _undocumented_keys(kind: str, objects: list[dict[str, Any]]) -> list[str]:
    known = set(openapi()["components"]["schemas"][kind]["properties"])
    return [f"{kind} has undocumented key {k!r}" for o in objects for k in o if k not in known]


def _problem_schema(problem: dict[str, Any]) -> str:
    mapping = openapi()["components"]["schemas"]["Problem"]["discriminator"]["mapping"]
    return str(mapping.get(problem.get("type"), "#/Problem")).rsplit("/", 1)[1]


@dataclass
class Answer:
    """One answer of the emulator, as its response hook saw it."""

    template: str
    status: int
    content_type: str
    body: bytes


V2_SCHEMAS = {
    ME: "Get2UsersMeResponse",
    USERS: "Get2UsersResponse",
    MENTIONS: "Get2UsersIdMentionsResponse",
    TWEETS: "Get2UsersIdTweetsResponse",
    "GET /2/tweets/search/all": "Get2TweetsSearchAllResponse",
    "GET /2/tweets/counts/all": "Get2TweetsCountsAllResponse",
}
CREATE_JOB = "POST /2/compliance/jobs"
JOBS = "GET /2/compliance/jobs"
JOB = "GET /2/compliance/jobs/:id"
APP_TOKEN = "POST /oauth2/token"
COMPLIANCE_SCHEMAS = {
    CREATE_JOB: "CreateComplianceJobResponse",
    JOBS: "Get2ComplianceJobsResponse",
    JOB: "Get2ComplianceJobsIdResponse",
}


def _compliance_problems(template: str, body: dict[str, Any]) -> list[str]:
    errors = schema_errors(COMPLIANCE_SCHEMAS[template], body)
    data = body.get("data")
    jobs = data if isinstance(data, list) else [data] if isinstance(data, dict) else []
    return errors + _undocumented_keys("ComplianceJob", jobs)


def _problem_problems(answer: Answer, body: dict[str, Any]) -> list[str]:
    errors = schema_errors("Problem", body) + schema_errors(_problem_schema(body), body)
    if answer.content_type != "application/problem+json":
        errors.append(f"a problem sent as {answer.content_type}")
    return errors


OAUTH2_TEMPLATES = ("POST /2/oauth2/token", "POST /2/oauth2/revoke")
OAUTH2_TOKEN_KEYS = {"token_type", "expires_in", "access_token", "scope", "refresh_token"}


def _oauth2_problems(answer: Answer, body: dict[str, Any]) -> list[str]:
    """X's OAuth 2.0 answers (docs.x.com, not in the OpenAPI file): a token, `{"revoked":
    true}`, or `{"error": .., "error_description": ..}`."""
    if answer.status != 200:
        if set(body) != {"error", "error_description"} or not all(
            isinstance(value, str) and value for value in body.values()
        ):
            return [f"unexpected oauth2 error {body}"]
        return []
    if answer.template.endswith("/revoke"):
        return [] if body == {"revoked": True} else [f"unexpected revoke answer {body}"]
    if not (
        {"token_type", "expires_in", "access_token", "scope"} <= set(body) <= OAUTH2_TOKEN_KEYS
        and body["token_type"] == "bearer"
        and isinstance(body["expires_in"], int)
    ):
        return [f"unexpected oauth2/token answer {body}"]
    return []


def openapi_problems(answer: Answer) -> list[str]:
    """Check a JSON answer against the schema X documents for it (others: [])."""
    if not answer.content_type.startswith(("application/json", "application/problem+json")):
        return []
    body = json.loads(answer.body)
    errors: list[str] = []
    if answer.template in V2_SCHEMAS and answer.status == 200:
        errors += schema_errors(V2_SCHEMAS[answer.template], body)
        data = body.get("data")
        listed = data if isinstance(data, list) else []
        # A list of users from the users lookup, of day counts from counts, of posts from a
        # timeline or a search; one user from me.
        listed_users = answer.template == USERS
        counts = answer.template == "GET /2/tweets/counts/all"
        if counts:
            errors += _undocumented_keys("SearchCount", listed)
        tweets = ([] if listed_users or counts else listed) + body.get("includes", {}).get(
            "tweets", []
        )
        users = (
            ([data] if isinstance(data, dict) else [])
            + (listed if listed_users else [])
            + body.get("includes", {}).get("users", [])
        )
        errors += _undocumented_keys("Tweet", tweets) + _undocumented_keys("User", users)
        for problem in body.get("errors", []):
            errors += schema_errors(_problem_schema(problem), problem)
    elif answer.template in COMPLIANCE_SCHEMAS and answer.status == 200:
        errors += _compliance_problems(answer.template, body)
    elif answer.template in V2_SCHEMAS or answer.template in COMPLIANCE_SCHEMAS:
        errors += _problem_problems(answer, body)
    elif answer.template in OAUTH2_TEMPLATES:
        errors += _oauth2_problems(answer, body)
    elif answer.template == APP_TOKEN and answer.status == 200:
        if not (set(body) == {"token_type", "access_token"} and body["token_type"] == "bearer"):
            errors.append(f"unexpected oauth2/token answer {body}")
    elif answer.status == 200:  # POST /1.1/oauth/invalidate_token
        if not (set(body) == {"access_token"} and isinstance(body["access_token"], str)):
            errors.append(f"unexpected invalidate_token answer {body}")
    else:  # X's v1.1 error list: {"errors": [Error, ...]}
        if not body.get("errors"):
            errors.append(f"no errors list in {body}")
        for error in body.get("errors", []):
            errors += schema_errors("Error", error)
    return errors


# --- fixtures ------------------------------------------------------------------------------
class Clock:
    """The emulator's clock, moved by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def answers() -> list[Answer]:
    return []


@pytest.fixture
def emulator(clock: Clock, answers: list[Answer]) -> Iterator[XEmulator]:
    """A fresh emulator on a free loopback port; afterwards every JSON body it sent during the
    test must validate against X's OpenAPI description."""
    emulator = XEmulator(KEY, SECRET, clock=clock)
    emulator.response_hook = lambda *answer: answers.append(Answer(*answer))
    emulator.start("127.0.0.1", 0)
    yield emulator
    emulator.stop()
    problems = [f"{a.template} {a.status}: {p}" for a in answers for p in openapi_problems(a)]
    assert not problems, "\n".join(problems)


class EmulatorAuth(tweepy.OAuth1UserHandler):
    """Tweepy's handler aimed at the emulator (the app overrides the same hook)."""

    def __init__(self, base_url: str, *args: Any, **kwargs: Any) -> None:
        self.base_url = base_url
        super().__init__(*args, **kwargs)

    def _get_oauth_url(self, endpoint: str) -> str:
        return f"{self.base_url}/oauth/{endpoint}"


class ToEmulator(requests.Session):
    """Sends what Tweepy addresses to api.twitter.com to the emulator, before signing."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url

    def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(url, str) and url.startswith("https://api.twitter.com"):
            url = self.base_url + url.removeprefix("https://api.twitter.com")
        return super().request(method, url, *args, **kwargs)


class AuthorizePage(HTMLParser):
    """What a browser sees of X's authorize page: the form, its fields and buttons."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.action = ""
        self.hidden: dict[str, str] = {}
        self.radios: list[tuple[str, bool]] = []
        self.buttons: list[dict[str, str]] = []
        self.labels: list[str] = []
        self._button: dict[str, str] | None = None
        self._label: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.action = a.get("action", "")
        elif tag == "input" and a.get("type") == "hidden":
            self.hidden[a["name"]] = a.get("value", "")
        elif tag == "input" and a.get("type") == "radio":
            assert a.get("name") == "username"
            self.radios.append((a["value"], "checked" in a))
        elif tag == "button":
            self._button = {"name": a.get("name", ""), "value": a.get("value", ""), "text": ""}
        elif tag == "label":
            self._label = []

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button["text"] += data
        if self._label is not None:
            self._label.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "button" and self._button is not None:
            self.buttons.append(self._button)
            self._button = None
        elif tag == "label" and self._label is not None:
            self.labels.append(" ".join("".join(self._label).split()))
            self._label = None

    def button(self, text: str) -> dict[str, str]:
        return next(b for b in self.buttons if b["text"].strip() == text)


def press(authorize_url: str, username: str, button: str = "Authorize app") -> requests.Response:
    """Open the authorize page, pick `username`, press `button`, as a browser would."""
    page = requests.get(authorize_url, timeout=5)
    assert page.status_code == 200, page.text
    form = AuthorizePage(page.text)
    pressed = form.button(button)
    data = {**form.hidden, "username": username, pressed["name"]: pressed["value"]}
    return requests.post(
        urljoin(authorize_url, form.action), data=data, allow_redirects=False, timeout=5
    )


def callback_query(answer: requests.Response) -> dict[str, str]:
    assert answer.status_code == 302, answer.text
    location = answer.headers["Location"]
    assert location.startswith(CALLBACK.split("?")[0])
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


@dataclass
class SignedIn:
    auth: EmulatorAuth
    token: str
    secret: str
    client: tweepy.Client
    user_id: str


def tweepy_client(emulator: XEmulator, token: str, secret: str) -> tweepy.Client:
    client = tweepy.Client(
        consumer_key=KEY, consumer_secret=SECRET, access_token=token, access_token_secret=secret
    )
    client.session = ToEmulator(emulator.base_url)
    return client


def sign_in(emulator: XEmulator, username: str = "fastbrand") -> SignedIn:
    auth = EmulatorAuth(emulator.base_url, KEY, SECRET, callback=CALLBACK)
    url = auth.get_authorization_url(signin_with_twitter=True)
    verifier = callback_query(press(url, username))["oauth_verifier"]
    token, secret = auth.get_access_token(verifier)
    return SignedIn(
        auth, token, secret, tweepy_client(emulator, token, secret), emulator.account_id(username)
    )


def signed_get(emulator: XEmulator, user: SignedIn, path: str, **params: Any) -> requests.Response:
    """A raw GET signed with the user's tokens (for answers Tweepy would turn into errors)."""
    return requests.get(
        emulator.base_url + path,
        params=params,
        auth=OAuth1(KEY, SECRET, user.token, user.secret),
        timeout=5,
    )


@pytest.fixture
def fast(emulator: XEmulator) -> SignedIn:
    """@fastbrand, signed in."""
    return sign_in(emulator, "fastbrand")


# --- OAuth 1.0a ----------------------------------------------------------------------------
def test_sign_in_and_read_mentions_with_unmodified_tweepy(emulator: XEmulator) -> None:
    auth = EmulatorAuth(emulator.base_url, KEY, SECRET, callback=CALLBACK)

    url = auth.get_authorization_url(signin_with_twitter=True)
    assert url.startswith(emulator.base_url + "/oauth/authenticate?oauth_token=")
    assert auth.request_token["oauth_callback_confirmed"] == "true"
    query = callback_query(press(url, "fastbrand"))
    assert query["oauth_token"] == auth.request_token["oauth_token"]
    assert query["from"] == "test"  # the callback's own query is kept
    token, secret = auth.get_access_token(query["oauth_verifier"])
    client = tweepy_client(emulator, token, secret)
    me = client.get_me(user_auth=True).data
    first = client.get_users_mentions(
        me.id, max_results=100, tweet_fields=APP_FIELDS, user_auth=True
    )
    pages = list(
        tweepy.Paginator(
            client.get_users_mentions,
            me.id,
            max_results=100,
            tweet_fields=APP_FIELDS,
            expansions=["author_id"],
            user_fields=["username"],
            user_auth=True,
        )
    )

    assert (me.username, str(me.id)) == ("fastbrand", emulator.account_id("fastbrand"))
    assert len(first.data) == 100 and first.meta["next_token"]
    assert all(isinstance(tweet.created_at, datetime) for tweet in first.data)
    ids = [tweet.id for page in pages for tweet in page.data]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
    assert len(ids) == len(emulator.store.mentions_of[str(me.id)]) > 250
    assert "next_token" not in pages[-1].meta
    authors = {user.id for page in pages for user in page.includes["users"]}
    assert {tweet.author_id for page in pages for tweet in page.data} == authors
    assert emulator.calls["POST /oauth/request_token"] == 1
    assert emulator.calls["GET /oauth/authenticate"] == 1
    assert emulator.calls["POST /oauth/authorize"] == 1
    assert emulator.calls["POST /oauth/access_token"] == 1
    assert emulator.calls[ME] == 1
    assert emulator.calls[MENTIONS] == 1 + len(pages)
    assert emulator.posts_served[MENTIONS] == 100 + len(ids)


def test_access_token_answer_is_the_one_x_gives(emulator: XEmulator) -> None:
    session = OAuth1Session(KEY, client_secret=SECRET, callback_uri="oob")
    request_token = session.fetch_request_token(emulator.base_url + "/oauth/request_token")
    page = press(
        f"{emulator.base_url}/oauth/authorize?oauth_token={request_token['oauth_token']}",
        "slowbrand",
    )
    pin = re.search(r"<code id=oauth_pin>([^<]+)</code>", page.text)
    assert page.status_code == 200 and pin, page.text  # "oob" shows a PIN instead
    session = OAuth1Session(
        KEY,
        client_secret=SECRET,
        resource_owner_key=request_token["oauth_token"],
        resource_owner_secret=request_token["oauth_token_secret"],
        verifier=pin.group(1),
    )

    access = session.fetch_access_token(emulator.base_url + "/oauth/access_token")

    assert set(request_token) == {"oauth_token", "oauth_token_secret", "oauth_callback_confirmed"}
    assert set(access) == {"oauth_token", "oauth_token_secret", "user_id", "screen_name"}
    assert access["user_id"] == emulator.account_id("slowbrand")
    assert access["screen_name"] == "slowbrand"
    assert access["oauth_token"].startswith(access["user_id"] + "-")


def test_authorize_page_names_the_app_and_lists_the_demo_accounts(emulator: XEmulator) -> None:
    auth = EmulatorAuth(emulator.base_url, KEY, SECRET, callback=CALLBACK)
    url = auth.get_authorization_url(signin_with_twitter=True)
    token = auth.request_token["oauth_token"]

    page = requests.get(url, timeout=5)
    same = requests.get(f"{emulator.base_url}/oauth/authorize?oauth_token={token}", timeout=5)

    assert page.status_code == same.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert "responsetime (local)" in page.text
    form = AuthorizePage(page.text)
    assert form.action == "/oauth/authorize" and form.hidden == {"oauth_token": token}
    assert [b["text"] for b in form.buttons] == ["Authorize app", "Cancel"]
    assert [(b["name"], b["value"]) for b in form.buttons] == [
        ("action", "authorize"),
        ("action", "cancel"),
    ]
    usernames = [value for value, _ in form.radios]
    assert usernames[:3] == ["fastbrand", "slowbrand", "quietbrand"]
    assert len(usernames) >= 30 and form.radios[0][1]  # the first one is preselected
    assert "@fastbrand FastBrand Support" in form.labels
    # Display names are escaped: one demo customer has HTML in hers.
    assert "Robert &lt;b&gt;Tables&lt;/b&gt; &amp; Co" in page.text
    assert "<b>Tables</b>" not in page.text


def test_wrong_consumer_secret_or_key_is_refused(emulator: XEmulator) -> None:
    wrong_secret = EmulatorAuth(emulator.base_url, KEY, "not-the-secret", callback=CALLBACK)
    url = emulator.base_url + "/oauth/request_token"

    with pytest.raises(tweepy.TweepyException):
        wrong_secret.get_authorization_url(signin_with_twitter=True)
    refused = [
        requests.post(url, auth=OAuth1(KEY, "not-the-secret", callback_uri=CALLBACK), timeout=5),
        requests.post(url, auth=OAuth1("other-key", SECRET, callback_uri=CALLBACK), timeout=5),
        requests.post(url, timeout=5),  # not signed at all
    ]

    assert [r.status_code for r in refused] == [401, 401, 400]
    assert refused[0].json() == refused[1].json() == V1_AUTH_ERROR
    assert refused[2].json()["errors"][0]["code"] == 215


def test_bad_signatures_on_v2_are_401(emulator: XEmulator, fast: SignedIn) -> None:
    url = emulator.base_url + "/2/users/me"
    good = requests.Request("GET", url, auth=OAuth1(KEY, SECRET, fast.token, fast.secret))
    tampered = good.prepare()
    header = tampered.headers["Authorization"]
    header = header.decode() if isinstance(header, bytes) else header
    tampered.headers["Authorization"] = re.sub(
        r'oauth_signature="[^"]+"', 'oauth_signature="AAAA"', header
    )
    other_url = requests.Request(
        "GET", url, params={"user.fields": "id"}, auth=OAuth1(KEY, SECRET, fast.token, fast.secret)
    ).prepare()
    other_url.url = url  # signed for one URL, sent to another

    with requests.Session() as session:
        answers = [
            session.send(tampered, timeout=5),
            session.send(other_url, timeout=5),
            requests.get(url, auth=OAuth1(KEY, SECRET, fast.token, "wrong"), timeout=5),
            requests.get(url, auth=OAuth1(KEY, "wrong", fast.token, fast.secret), timeout=5),
            requests.get(
                url, auth=OAuth1(KEY, SECRET, "1-unknown-token-xxxxxxxxx", "s"), timeout=5
            ),
            requests.get(url, auth=OAuth1(KEY, SECRET), timeout=5),  # no user context
            requests.get(url, headers={"Authorization": "Bearer app-only"}, timeout=5),
            requests.get(url, timeout=5),
        ]

    assert [a.status_code for a in answers] == [401] * len(answers)
    assert answers[0].json() == {
        "title": "Unauthorized",
        "type": "about:blank",
        "status": 401,
        "detail": "Unauthorized",
    }
    assert signed_get(emulator, fast, "/2/users/me").status_code == 200


def test_a_replayed_request_is_refused(emulator: XEmulator, fast: SignedIn) -> None:
    request = requests.Request(
        "GET", emulator.base_url + "/2/users/me", auth=OAuth1(KEY, SECRET, fast.token, fast.secret)
    ).prepare()

    with requests.Session() as session:
        first = session.send(request, timeout=5)
        replay = session.send(request, timeout=5)

    assert (first.status_code, replay.status_code) == (200, 401)


def test_a_verifier_works_once(emulator: XEmulator) -> None:
    auth = EmulatorAuth(emulator.base_url, KEY, SECRET, callback=CALLBACK)
    verifier = callback_query(press(auth.get_authorization_url(True), "fastbrand"))[
        "oauth_verifier"
    ]
    auth.get_access_token(verifier)

    with pytest.raises(tweepy.TweepyException, match="401"):
        auth.get_access_token(verifier)
    assert emulator.calls["POST /oauth/access_token"] == 2


def test_a_verifier_only_works_with_its_own_request_token(emulator: XEmulator) -> None:
    first = EmulatorAuth(emulator.base_url, KEY, SECRET, callback=CALLBACK)
    second = EmulatorAuth(emulator.base_url, KEY, SECRET, callback=CALLBACK)
    first_verifier = callback_query(press(first.get_authorization_url(True), "fastbrand"))[
        "oauth_verifier"
    ]
    second_verifier = callback_query(press(second.get_authorization_url(True), "slowbrand"))[
        "oauth_verifier"
    ]

    with pytest.raises(tweepy.TweepyException, match="401"):
        first.get_access_token(second_verifier)
    with pytest.raises(tweepy.TweepyException, match="401"):
        second.get_access_token(first_verifier)
    # The failed tries did not burn the tokens: each pair still works, once.
    first_client = tweepy_client(emulator, *first.get_access_token(first_verifier))
    second_client = tweepy_client(emulator, *second.get_access_token(second_verifier))
    assert first_client.get_me(user_auth=True).data.username == "fastbrand"
    assert second_client.get_me(user_auth=True).data.username == "slowbrand"


def test_cancel_redirects_with_denied_and_burns_the_request_token(emulator: XEmulator) -> None:
    auth = EmulatorAuth(emulator.base_url, KEY, SECRET, callback=CALLBACK)
    url = auth.get_authorization_url(signin_with_twitter=True)
    token = auth.request_token["oauth_token"]

    query = callback_query(press(url, "fastbrand", "Cancel"))

    assert query == {"from": "test", "denied": token}
    assert requests.get(url, timeout=5).status_code == 400
    retry = requests.post(
        emulator.base_url + "/oauth/authorize",
        data={"oauth_token": token, "username": "fastbrand", "action": "authorize"},
        allow_redirects=False,
        timeout=5,
    )
    assert retry.status_code == 400
    with pytest.raises(tweepy.TweepyException, match="401"):
        auth.get_access_token("any-verifier-at-all-000000")


def test_a_used_or_unknown_request_token_gets_a_400_page(
    emulator: XEmulator, fast: SignedIn
) -> None:
    used = fast.auth.request_token["oauth_token"]

    pages = [
        requests.get(f"{emulator.base_url}/oauth/authenticate?oauth_token={used}", timeout=5),
        requests.get(f"{emulator.base_url}/oauth/authenticate?oauth_token=made-up", timeout=5),
        requests.get(f"{emulator.base_url}/oauth/authorize", timeout=5),
    ]

    assert [p.status_code for p in pages] == [400, 400, 400]
    assert all("no longer valid" in p.text for p in pages)


def test_request_tokens_expire_after_ten_minutes(emulator: XEmulator, clock: Clock) -> None:
    unopened = EmulatorAuth(emulator.base_url, KEY, SECRET, callback=CALLBACK)
    unopened_url = unopened.get_authorization_url(signin_with_twitter=True)
    approved = EmulatorAuth(emulator.base_url, KEY, SECRET, callback=CALLBACK)
    verifier = callback_query(press(approved.get_authorization_url(True), "fastbrand"))[
        "oauth_verifier"
    ]
    clock.advance(minutes=9, seconds=59)
    assert requests.get(unopened_url, timeout=5).status_code == 200

    clock.advance(seconds=2)

    assert requests.get(unopened_url, timeout=5).status_code == 400
    with pytest.raises(tweepy.TweepyException, match="401"):
        approved.get_access_token(verifier)


def test_an_invalidated_token_gets_401(emulator: XEmulator, fast: SignedIn) -> None:
    url = emulator.base_url + "/1.1/oauth/invalidate_token"
    signed = OAuth1(KEY, SECRET, fast.token, fast.secret)

    invalidated = requests.post(url, auth=signed, timeout=5)

    assert invalidated.status_code == 200
    assert invalidated.json() == {"access_token": fast.token}
    with pytest.raises(tweepy.Unauthorized):
        fast.client.get_me(user_auth=True)
    again = requests.post(url, auth=OAuth1(KEY, SECRET, fast.token, fast.secret), timeout=5)
    assert again.status_code == 401 and again.json() == V1_AUTH_ERROR


def test_revoke_stops_every_token_of_that_account(emulator: XEmulator, fast: SignedIn) -> None:
    fast_again = sign_in(emulator, "fastbrand")
    slow = sign_in(emulator, "slowbrand")

    emulator.revoke("fastbrand")

    for user in (fast, fast_again):
        with pytest.raises(tweepy.Unauthorized):
            user.client.get_users_mentions(user.user_id, user_auth=True)
    assert slow.client.get_me(user_auth=True).data.username == "slowbrand"
    assert sign_in(emulator, "fastbrand").client.get_me(user_auth=True).data  # may sign in again


# --- v2 reads ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"max_results": "4"}, "max_results"),
        ({"max_results": "101"}, "max_results"),
        ({"max_results": "ten"}, "max_results"),
        ({"colour": "blue"}, "colour"),
        ({"next_token": "abc"}, "next_token"),  # X's user timelines take pagination_token
        ({"tweet.fields": "created_at,mood"}, "tweet.fields"),
        ({"expansions": "author"}, "expansions"),
        ({"since_id": "12x"}, "since_id"),
        ({"start_time": "yesterday"}, "start_time"),
        ({"pagination_token": "!!"}, "pagination_token"),
    ],
)
def test_invalid_parameters_are_400_like_x(
    emulator: XEmulator, fast: SignedIn, params: dict[str, str], parameter: str
) -> None:
    answer = signed_get(emulator, fast, f"/2/users/{fast.user_id}/mentions", **params)

    assert answer.status_code == 400
    body = answer.json()
    assert body["title"] == "Invalid Request"
    assert body["type"] == "https://api.twitter.com/2/problems/invalid-request"
    assert body["detail"] == "One or more parameters to your request was invalid."
    assert [list(e["parameters"]) for e in body["errors"]] == [[parameter]]
    assert answer.headers["x-rate-limit-remaining"] == "299"


def test_page_size_is_5_to_100_and_10_by_default(emulator: XEmulator, fast: SignedIn) -> None:
    sizes = {
        given: fast.client.get_users_mentions(
            fast.user_id, user_auth=True, **({"max_results": given} if given else {})
        ).meta["result_count"]
        for given in (None, 5, 100)
    }

    assert sizes == {None: 10, 5: 5, 100: 100}
    with pytest.raises(tweepy.BadRequest):
        fast.client.get_users_mentions(fast.user_id, max_results=4, user_auth=True)


def test_since_id_returns_only_newer_posts(
    emulator: XEmulator, fast: SignedIn, clock: Clock
) -> None:
    newest = fast.client.get_users_mentions(fast.user_id, user_auth=True).meta["newest_id"]
    clock.advance(minutes=5)
    fresh = [
        emulator.add_post(
            emulator.account_id("maria_gomez"),
            f"@fastbrand question {i}",
            clock() + timedelta(seconds=i),
        )
        for i in range(12)
    ]
    emulator.reset_counters()

    pages = list(
        tweepy.Paginator(
            fast.client.get_users_mentions,
            fast.user_id,
            since_id=newest,
            max_results=5,
            user_auth=True,
        )
    )
    nothing_new = fast.client.get_users_mentions(fast.user_id, since_id=fresh[-1], user_auth=True)

    assert [str(t.id) for page in pages for t in page.data] == fresh[::-1]
    assert [page.meta["result_count"] for page in pages] == [5, 5, 2]
    assert emulator.posts_served[MENTIONS] == 12
    assert nothing_new.data is None and nothing_new.meta == {"result_count": 0}


def test_until_id_and_time_window(emulator: XEmulator, fast: SignedIn) -> None:
    everything = [
        t
        for page in tweepy.Paginator(
            fast.client.get_users_mentions,
            fast.user_id,
            max_results=100,
            tweet_fields=["created_at"],
            user_auth=True,
        )
        for t in page.data
    ]
    middle = everything[len(everything) // 2]
    start, end = NOW - timedelta(days=7), NOW - timedelta(days=2)

    older = fast.client.get_users_mentions(
        fast.user_id, until_id=middle.id, max_results=100, user_auth=True
    )
    window = list(
        tweepy.Paginator(
            fast.client.get_users_mentions,
            fast.user_id,
            start_time=start,
            end_time=end,
            max_results=100,
            tweet_fields=["created_at"],
            user_auth=True,
        ).flatten()
    )

    assert [t.id for t in older.data] == [t.id for t in everything if t.id < middle.id][:100]
    assert [t.id for t in window] == [t.id for t in everything if start <= t.created_at < end]
    assert window


def test_previous_token_walks_back_to_newer_pages(emulator: XEmulator, fast: SignedIn) -> None:
    first = fast.client.get_users_mentions(fast.user_id, max_results=10, user_auth=True)
    second = fast.client.get_users_mentions(
        fast.user_id, max_results=10, pagination_token=first.meta["next_token"], user_auth=True
    )

    back = fast.client.get_users_mentions(
        fast.user_id,
        max_results=10,
        pagination_token=second.meta["previous_token"],
        user_auth=True,
    )

    assert "previous_token" not in first.meta
    assert [t.id for t in back.data] == [t.id for t in first.data]


def test_mentions_reach_back_800_and_tweets_3200(emulator: XEmulator, fast: SignedIn) -> None:
    acme = emulator.add_account("acme", "Acme")
    fan = emulator.add_account("acme_fan")
    start = NOW - timedelta(days=30)
    mentions = [
        emulator.add_post(fan, f"@acme hello {i}", start + timedelta(minutes=i)) for i in range(850)
    ]
    posts = [
        emulator.add_post(acme, f"news {i}", start + timedelta(seconds=i)) for i in range(3300)
    ]

    read = {
        name: [
            str(t.id)
            for t in tweepy.Paginator(
                method, acme, max_results=100, since_id=mentions[0], user_auth=True
            ).flatten()
        ]
        for name, method in (
            ("mentions", fast.client.get_users_mentions),
            ("tweets", fast.client.get_users_tweets),
        )
    }

    assert read["mentions"] == mentions[50:][::-1]
    assert read["tweets"] == posts[100:][::-1]


def test_mentions_include_self_mentions_retweets_and_replies(
    emulator: XEmulator, fast: SignedIn
) -> None:
    tweets = list(
        tweepy.Paginator(
            fast.client.get_users_mentions,
            fast.user_id,
            max_results=100,
            tweet_fields=[*APP_FIELDS, "entities"],
            user_auth=True,
        ).flatten()
    )
    by_id = {t.id: t for t in tweets}

    own = [t for t in tweets if str(t.author_id) == fast.user_id]
    retweets = [
        t for t in tweets if t.referenced_tweets and t.referenced_tweets[0].type == "retweeted"
    ]
    replies = [
        t for t in tweets if t.referenced_tweets and t.referenced_tweets[0].type == "replied_to"
    ]
    assert any(not t.referenced_tweets for t in own)  # a plain self-mention
    assert any(t.referenced_tweets for t in own)  # @fastbrand retweeting a customer
    assert len(retweets) >= 3 and all(t.text.startswith("RT @") for t in retweets)
    # X sends &, < and > as entities in v2 text, and so does the emulator
    assert any("&lt;script&gt;" in t.text for t in tweets)
    assert not any("<script>" in t.text for t in tweets)
    assert any("🎉" in t.text for t in tweets)
    follow_up = next(t for t in replies if str(t.in_reply_to_user_id) == fast.user_id)
    assert follow_up.conversation_id != follow_up.id
    assert any(m["username"] == "fastbrand" for m in follow_up.entities["mentions"])
    assert len(by_id) == len(tweets)


def test_fields_are_only_those_asked_for(emulator: XEmulator, fast: SignedIn) -> None:
    path = f"/2/users/{fast.user_id}/tweets"

    plain = signed_get(emulator, fast, path).json()
    dated = signed_get(emulator, fast, path, **{"tweet.fields": "created_at"}).json()
    full = signed_get(
        emulator,
        fast,
        path,
        max_results=100,
        expansions="author_id,referenced_tweets.id",
        **{"tweet.fields": ",".join(APP_FIELDS), "user.fields": "created_at,public_metrics"},
    ).json()

    assert {frozenset(t) for t in plain["data"]} == {
        frozenset({"id", "text", "edit_history_tweet_ids"})
    }
    assert {frozenset(t) for t in dated["data"]} == {
        frozenset({"id", "text", "edit_history_tweet_ids", "created_at"})
    }
    assert all(X_TIME.match(t["created_at"]) for t in dated["data"])
    reply = next(t for t in full["data"] if "referenced_tweets" in t)
    assert reply["referenced_tweets"][0]["type"] == "replied_to"
    assert reply["in_reply_to_user_id"] != fast.user_id and reply["conversation_id"]
    assert reply["text"].startswith("@")
    assert [u["id"] for u in full["includes"]["users"]] == [fast.user_id]
    assert set(full["includes"]["users"][0]) == {
        "id",
        "name",
        "username",
        "created_at",
        "public_metrics",
    }
    referenced = {ref["id"] for t in full["data"] for ref in t.get("referenced_tweets", [])}
    assert {t["id"] for t in full["includes"]["tweets"]} == referenced
    assert full["meta"]["newest_id"] == full["data"][0]["id"]
    assert full["meta"]["oldest_id"] == full["data"][-1]["id"]


def test_tweets_can_exclude_replies_and_retweets(emulator: XEmulator, fast: SignedIn) -> None:
    kept = list(
        tweepy.Paginator(
            fast.client.get_users_tweets,
            fast.user_id,
            exclude=["replies", "retweets"],
            tweet_fields=["referenced_tweets"],
            max_results=100,
            user_auth=True,
        ).flatten()
    )

    assert kept and all(t.referenced_tweets is None for t in kept)


def test_empty_timeline_and_unknown_user(emulator: XEmulator, fast: SignedIn) -> None:
    quiet = emulator.account_id("quietbrand")

    empty = signed_get(emulator, fast, f"/2/users/{quiet}/mentions", max_results=100)
    unknown = signed_get(emulator, fast, "/2/users/99/tweets")

    assert empty.status_code == 200 and empty.json() == {"meta": {"result_count": 0}}
    assert unknown.status_code == 200
    assert unknown.json()["errors"][0]["type"].endswith("/resource-not-found")
    assert "data" not in unknown.json()


def test_users_me_honours_user_fields(emulator: XEmulator, fast: SignedIn) -> None:
    plain = fast.client.get_me(user_auth=True).data
    detailed = signed_get(
        emulator, fast, "/2/users/me", **{"user.fields": "created_at,most_recent_tweet_id"}
    ).json()

    assert plain.data == {"id": fast.user_id, "name": "FastBrand Support", "username": "fastbrand"}
    assert set(detailed["data"]) == {"id", "name", "username", "created_at", "most_recent_tweet_id"}


def test_users_lookup_answers_the_ids_asked_with_unmodified_tweepy(
    emulator: XEmulator, fast: SignedIn
) -> None:
    quiet = emulator.account_id("quietbrand")
    gone = emulator.add_account("gonefan")
    emulator.suspend("gonefan")

    found = fast.client.get_users(
        ids=[quiet, "99", gone, fast.user_id], user_fields=["username"], user_auth=True
    )

    assert [user.username for user in found.data] == ["quietbrand", "fastbrand"]
    assert [(e["resource_id"], e["title"]) for e in found.errors] == [
        ("99", "Not Found Error"),
        (gone, "Forbidden"),
    ]
    assert emulator.users_served == 2  # what X bills: the users returned
    assert emulator.calls[USERS] == 1


def test_users_lookup_takes_1_to_100_ids(emulator: XEmulator, fast: SignedIn) -> None:
    hundred = ",".join(str(n) for n in range(1, 101))

    most = signed_get(emulator, fast, "/2/users", ids=hundred)
    too_many = signed_get(emulator, fast, "/2/users", ids=hundred + ",101")
    none = signed_get(emulator, fast, "/2/users")
    bad = signed_get(emulator, fast, "/2/users", ids="12,x")
    unsigned = requests.get(emulator.base_url + "/2/users", params={"ids": "12"}, timeout=5)

    assert most.status_code == 200 and len(most.json()["errors"]) == 100
    assert [a.status_code for a in (too_many, none, bad)] == [400, 400, 400]
    assert "[101] is not between 1 and 100" in too_many.json()["errors"][0]["message"]
    assert unsigned.status_code == 401
    assert emulator.users_served == 0


def test_users_lookup_is_limited_per_token_in_15_minute_windows(
    emulator: XEmulator, fast: SignedIn, clock: Clock
) -> None:
    emulator.set_rate_limit(USERS, per_user=2)

    started = clock.now.timestamp()
    answers = [signed_get(emulator, fast, "/2/users", ids=fast.user_id) for _ in range(3)]
    clock.advance(minutes=15)
    later = signed_get(emulator, fast, "/2/users", ids=fast.user_id)

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[1].headers["x-rate-limit-remaining"] == "0"
    assert int(answers[2].headers["x-rate-limit-reset"]) == started + 15 * 60
    assert later.status_code == 200
    assert emulator.users_served == 3


# --- every JSON answer against X's OpenAPI -------------------------------------------------
def test_every_kind_of_json_answer_matches_xs_openapi(
    emulator: XEmulator, fast: SignedIn, answers: list[Answer]
) -> None:
    quiet = emulator.account_id("quietbrand")
    mentions = f"/2/users/{fast.user_id}/mentions"
    emulator.set_rate_limit(ME, per_user=2)
    emulator.fail(TWEETS, "503")

    signed_get(emulator, fast, "/2/users/me", **{"user.fields": "created_at,public_metrics"})
    signed_get(emulator, fast, "/2/users/me")
    signed_get(emulator, fast, "/2/users/me")  # 429
    signed_get(emulator, fast, "/2/users", ids=f"{quiet},99", **{"user.fields": "created_at"})
    signed_get(emulator, fast, "/2/users", ids="99")  # only errors
    signed_get(emulator, fast, "/2/users", ids="x")  # 400
    signed_get(emulator, fast, mentions, max_results=100)
    signed_get(
        emulator,
        fast,
        mentions,
        max_results=100,
        expansions="author_id,in_reply_to_user_id,entities.mentions.username,referenced_tweets.id",
        **{
            "tweet.fields": "created_at,author_id,conversation_id,in_reply_to_user_id,"
            "referenced_tweets,entities,public_metrics,lang,edit_controls,display_text_range,"
            "possibly_sensitive,reply_settings,source,withheld",
            "user.fields": "created_at,description,protected,verified,verified_type,"
            "public_metrics,most_recent_tweet_id,location,url",
        },
    )
    signed_get(emulator, fast, f"/2/users/{quiet}/mentions")  # empty
    signed_get(emulator, fast, f"/2/users/{quiet}/tweets")  # 503 (injected)
    signed_get(emulator, fast, f"/2/users/{quiet}/tweets", max_results=100)
    signed_get(emulator, fast, "/2/users/123/tweets")  # unknown user
    signed_get(emulator, fast, mentions, max_results=4)  # 400
    requests.get(emulator.base_url + "/2/users/me", timeout=5)  # 401
    requests.post(emulator.base_url + "/oauth/access_token", timeout=5)  # 400, v1.1 errors
    requests.post(
        emulator.base_url + "/oauth/request_token",
        auth=OAuth1(KEY, "wrong", callback_uri=CALLBACK),
        timeout=5,
    )  # 401, v1.1 errors
    requests.post(
        emulator.base_url + "/1.1/oauth/invalidate_token",
        auth=OAuth1(KEY, SECRET, fast.token, fast.secret),
        timeout=5,
    )
    requests.get(emulator.base_url + "/2/tweets/search/recent", timeout=5)  # 404

    seen = {(a.template, a.status) for a in answers if "json" in a.content_type}
    assert seen >= {
        (ME, 200),
        (ME, 401),
        (ME, 429),
        (USERS, 200),
        (USERS, 400),
        (MENTIONS, 200),
        (MENTIONS, 400),
        (TWEETS, 200),
        (TWEETS, 503),
        ("POST /oauth/access_token", 400),
        ("POST /oauth/request_token", 401),
        ("POST /1.1/oauth/invalidate_token", 200),
        ("GET /2/tweets/search/recent", 404),
    }
    problems = [f"{a.template} {a.status}: {p}" for a in answers for p in openapi_problems(a)]
    assert problems == []
    # The check is not vacuous: malformed bodies are caught.
    bad_tweet = {"id": "x1", "text": "t", "created_at": "yesterday", "mood": "happy"}
    assert (
        len(
            openapi_problems(
                Answer(
                    MENTIONS, 200, "application/json", json.dumps({"data": [bad_tweet]}).encode()
                )
            )
        )
        == 3
    )
    assert openapi_problems(Answer(ME, 401, "application/problem+json", b'{"detail":"no"}'))
    assert openapi_problems(
        Answer("POST /oauth/access_token", 401, "application/json", b'{"errors":[{"code":"32"}]}')
    )


# --- rate limits ---------------------------------------------------------------------------
def test_users_me_allows_75_per_user_per_15_minutes(
    emulator: XEmulator, fast: SignedIn, clock: Clock
) -> None:
    remaining = []
    for _ in range(75):
        answer = signed_get(emulator, fast, "/2/users/me")
        assert answer.status_code == 200
        assert answer.headers["x-rate-limit-limit"] == "75"
        remaining.append(int(answer.headers["x-rate-limit-remaining"]))
    reset = int(NOW.timestamp()) + 15 * 60

    with pytest.raises(tweepy.TooManyRequests) as limited:
        fast.client.get_me(user_auth=True)

    assert remaining == list(range(74, -1, -1))
    assert limited.value.response.status_code == 429
    assert limited.value.reset_time == reset
    assert limited.value.response.headers["x-rate-limit-remaining"] == "0"
    assert limited.value.response.json() == {
        "title": "Too Many Requests",
        "detail": "Too Many Requests",
        "type": "about:blank",
        "status": 429,
    }
    assert sign_in(emulator, "slowbrand").client.get_me(user_auth=True).data  # per user
    clock.advance(minutes=15)
    assert fast.client.get_me(user_auth=True).data.username == "fastbrand"


def test_user_context_reads_count_against_each_token_not_the_app(
    emulator: XEmulator, fast: SignedIn, clock: Clock
) -> None:
    # GIVEN a limit of 3 per token and 4 per app on mentions
    slow = sign_in(emulator, "slowbrand")
    emulator.set_rate_limit(MENTIONS, per_user=3, per_app=4)

    # WHEN @fastbrand reads 4 times, then @slowbrand 3 times
    answers = [
        signed_get(emulator, user, f"/2/users/{user.user_id}/mentions")
        for user in (fast, fast, fast, fast, slow, slow, slow)
    ]

    # THEN only @fastbrand's 4th is refused: the app's 4 does not apply to user context
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 200, 200, 200]
    # AND every answer says what is left of its own token's window, 429 included
    assert [a.headers["x-rate-limit-remaining"] for a in answers] == list("2100210")
    assert {a.headers["x-rate-limit-limit"] for a in answers} == {"3"}
    reset = str(int(NOW.timestamp()) + 15 * 60)
    assert {a.headers["x-rate-limit-reset"] for a in answers} == {reset}
    # AND @fastbrand's token reads again once its window has ended
    clock.advance(minutes=15)
    assert signed_get(emulator, fast, f"/2/users/{fast.user_id}/mentions").status_code == 200


def test_one_tokens_429_does_not_slow_another(emulator: XEmulator, fast: SignedIn) -> None:
    # GIVEN @fastbrand's token has spent its 300 mention reads (X's default per user)
    slow = sign_in(emulator, "slowbrand")
    for _ in range(300):
        assert signed_get(emulator, fast, f"/2/users/{fast.user_id}/mentions").ok
    assert signed_get(emulator, fast, f"/2/users/{fast.user_id}/mentions").status_code == 429

    # WHEN @slowbrand reads through Tweepy
    answer = slow.client.get_users_mentions(slow.user_id, user_auth=True)

    # THEN it is served at once, its own window whole but for this read
    assert answer.meta is not None
    assert (
        signed_get(emulator, slow, f"/2/users/{slow.user_id}/mentions").headers[
            "x-rate-limit-remaining"
        ]
        == "298"
    )


def test_default_limits_are_xs(emulator: XEmulator, fast: SignedIn) -> None:
    limits = {
        path: signed_get(emulator, fast, path).headers["x-rate-limit-limit"]
        for path in (
            "/2/users/me",
            f"/2/users/{fast.user_id}/mentions",
            f"/2/users/{fast.user_id}/tweets",
            f"/2/users?ids={fast.user_id}",
        )
    }

    assert list(limits.values()) == ["75", "300", "900", "900"]


# --- failure injection ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("mode", "status", "error"),
    [
        ("429", 429, tweepy.TooManyRequests),
        ("503", 503, tweepy.TwitterServerError),
        ("401", 401, tweepy.Unauthorized),
    ],
)
def test_fail_makes_the_next_requests_fail(
    emulator: XEmulator, fast: SignedIn, mode: str, status: int, error: type[Exception]
) -> None:
    emulator.fail(MENTIONS, mode, count=2)

    for _ in range(2):
        with pytest.raises(error) as failed:
            fast.client.get_users_mentions(fast.user_id, user_auth=True)
        assert failed.value.response.status_code == status  # type: ignore[attr-defined]

    assert fast.client.get_users_mentions(fast.user_id, user_auth=True).data
    assert emulator.calls[MENTIONS] == 3
    if mode == "429":
        assert failed.value.reset_time > int(NOW.timestamp())  # type: ignore[attr-defined]


def test_fail_slow_answers_late_but_normally(emulator: XEmulator, fast: SignedIn) -> None:
    emulator.fail(ME, "slow", delay=0.3)

    started = time.monotonic()
    me = fast.client.get_me(user_auth=True)
    elapsed = time.monotonic() - started

    assert me.data.username == "fastbrand" and elapsed >= 0.3


@pytest.mark.parametrize(("mode", "code"), [("429", 88), ("503", 130), ("401", 32)])
def test_fail_on_oauth_endpoints_answers_v1_errors(
    emulator: XEmulator, mode: str, code: int
) -> None:
    emulator.fail("POST /oauth/request_token", mode)
    auth = EmulatorAuth(emulator.base_url, KEY, SECRET, callback=CALLBACK)

    with pytest.raises(tweepy.TweepyException, match=mode):
        auth.get_authorization_url(signin_with_twitter=True)
    answer = requests.post(
        emulator.base_url + "/oauth/request_token",
        auth=OAuth1(KEY, SECRET, callback_uri=CALLBACK),
        timeout=5,
    )

    assert answer.status_code == 200  # only the next request failed
    assert emulator.calls["POST /oauth/request_token"] == 2


def test_fail_rejects_unknown_templates_and_modes(emulator: XEmulator) -> None:
    with pytest.raises(ValueError, match="template"):
        emulator.fail("GET /2/tweets/search/recent", "503")
    with pytest.raises(ValueError, match="mode"):
        emulator.fail(MENTIONS, "500")


# --- admin API -----------------------------------------------------------------------------
def test_admin_api_drives_a_separately_running_emulator(
    emulator: XEmulator, fast: SignedIn
) -> None:
    admin = emulator.base_url + "/_emulator"
    quiet = emulator.account_id("quietbrand")

    created = requests.post(
        admin + "/posts",
        json={
            "author": "maria_gomez",
            "text": "hello there",
            "created_at": "2026-11-27T15:00:00Z",
            "mentions": ["quietbrand"],
        },
        timeout=5,
    )
    reply = requests.post(
        admin + "/posts",
        json={"author": "quietbrand", "text": "@maria_gomez hi!", "reply_to": created.json()["id"]},
        timeout=5,
    )
    mentions = signed_get(emulator, fast, f"/2/users/{quiet}/mentions").json()
    failing = requests.post(
        admin + "/fail", json={"template": ME, "mode": "503", "count": 1}, timeout=5
    )
    failed = signed_get(emulator, fast, "/2/users/me")
    revoked = requests.post(admin + "/revoke", json={"username": "fastbrand"}, timeout=5)
    after = signed_get(emulator, fast, "/2/users/me")
    calls = requests.get(admin + "/calls", timeout=5).json()
    bad = requests.post(admin + "/fail", json={"template": "GET /nope", "mode": "503"}, timeout=5)

    assert created.status_code == reply.status_code == 200
    assert [t["id"] for t in mentions["data"]] == [created.json()["id"]]
    assert failing.status_code == revoked.status_code == 200
    assert (failed.status_code, after.status_code) == (503, 401)
    assert calls == {
        "calls": dict(emulator.calls),
        "posts_served": dict(emulator.posts_served),
        "users_served": 0,
    }
    assert calls["calls"][ME] == 2 and calls["posts_served"][MENTIONS] == 1
    assert bad.status_code == 400 and "template" in bad.json()["error"]


def test_admin_api_adds_accounts_that_can_sign_in(emulator: XEmulator) -> None:
    admin = emulator.base_url + "/_emulator"

    added = requests.post(
        admin + "/accounts", json={"username": "newshop", "name": "New"}, timeout=5
    )
    twice = requests.post(admin + "/accounts", json={"username": "bad name!"}, timeout=5)

    assert added.status_code == 200
    assert added.json()["id"] == emulator.account_id("newshop")
    assert twice.status_code == 400


def test_command_line_serves_and_stops_on_signals() -> None:
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        process = subprocess.Popen(
            [sys.executable, "-m", "local.x_emulator", "--port", "0", "--consumer-key", "k"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout is not None
            url = process.stdout.readline().strip()
            assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url), url
            answer = requests.get(url + "/_emulator/calls", timeout=5)
            assert answer.json() == {"calls": {}, "posts_served": {}, "users_served": 0}
            process.send_signal(stop_signal)
            assert process.wait(timeout=10) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


# --- demo data -----------------------------------------------------------------------------
def demo_snapshot(emulator: XEmulator) -> list[tuple[Any, ...]]:
    store = emulator.store
    return [(a.id, a.username, a.name) for a in store.accounts.values()] + [
        (p.id, p.author_id, p.text, p.created_at, p.reply_to, p.retweet_of, sorted(p.mentioned))
        for p in store.posts.values()
    ]


def test_demo_data_is_deterministic() -> None:
    first = XEmulator(clock=lambda: NOW)
    second = XEmulator(clock=lambda: NOW)
    later = XEmulator(clock=lambda: NOW + timedelta(days=1))

    assert demo_snapshot(first) == demo_snapshot(second)
    assert demo_snapshot(first) != demo_snapshot(later)
    posts = sorted(first.store.posts.values(), key=lambda p: p.id)
    assert [p.created_at for p in posts] == sorted(p.created_at for p in posts)
    assert max(p.created_at for p in posts) <= NOW
    assert min(p.created_at for p in posts) >= NOW - timedelta(days=61)


def _response_minutes(emulator: XEmulator, brand: str) -> tuple[int, list[float], list[float]]:
    """(mentions by others, minutes to the first reply: in office hours, outside them)."""
    store = emulator.store
    brand_id = emulator.account_id(brand)
    first_reply: dict[int, datetime] = {}
    for post_id in store.tweets_of[brand_id]:
        post = store.posts[post_id]
        if post.reply_to is not None and post.reply_to not in first_reply:
            first_reply[post.reply_to] = post.created_at
    inside: list[float] = []
    outside: list[float] = []
    mentions = 0
    for post_id in store.mentions_of[brand_id]:
        post = store.posts[post_id]
        if post.author_id == brand_id or post.retweet_of is not None:
            continue
        mentions += 1
        if post_id in first_reply:
            minutes = (first_reply[post_id] - post.created_at).total_seconds() / 60
            at = post.created_at
            office = at.weekday() < 5 and 9 <= at.hour < 18
            (inside if office else outside).append(minutes)
    return mentions, inside, outside


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def test_demo_data_has_the_promised_shape() -> None:
    emulator = XEmulator(clock=lambda: NOW)
    store = emulator.store
    fast_id, slow_id, quiet_id = (
        emulator.account_id(b) for b in ("fastbrand", "slowbrand", "quietbrand")
    )

    fast_count, fast_inside, fast_outside = _response_minutes(emulator, "fastbrand")
    slow_count, slow_inside, slow_outside = _response_minutes(emulator, "slowbrand")

    assert [a.username for a in store.accounts.values()][:3] == [
        "fastbrand",
        "slowbrand",
        "quietbrand",
    ]
    assert len(store.accounts) >= 33
    assert 250 <= len(store.mentions_of[fast_id]) <= 400
    assert 120 <= len(store.mentions_of[slow_id]) <= 180
    assert store.mentions_of[quiet_id] == [] and store.tweets_of[quiet_id]

    def answered_cases(brand_id: str) -> float:
        """The answered share of (author, conversation) pairs among the brand's mentions."""
        replied = {store.posts[i].reply_to for i in store.tweets_of[brand_id]}
        cases: dict[tuple[str, int], bool] = {}
        for post_id in store.mentions_of[brand_id]:
            post = store.posts[post_id]
            if post.author_id != brand_id and post.retweet_of is None:
                case = (post.author_id, post.conversation_id)
                cases[case] = cases.get(case, False) or post_id in replied
        return sum(cases.values()) / len(cases)

    fast_rate = (len(fast_inside) + len(fast_outside)) / fast_count
    slow_rate = (len(slow_inside) + len(slow_outside)) / slow_count
    fast_cases, slow_cases = answered_cases(fast_id), answered_cases(slow_id)
    assert fast_cases > 0.8 and 0.35 < slow_cases < 0.65
    # Per message @fastbrand's share is lower: customers' "thanks" after an answer stay unanswered.
    assert 0.55 < fast_rate < fast_cases - 0.1 and 0.35 < slow_rate < 0.65
    assert median(fast_inside) < 15 < 60 < median(fast_outside)
    assert median(slow_inside + slow_outside) > 120
    assert max(slow_inside + slow_outside) > 24 * 60
    texts = [p.text for p in store.posts.values()]
    assert any("<script>" in t for t in texts) and any("🎉" in t for t in texts)
    non_mention_replies = [
        p
        for p in store.posts.values()
        if p.author_id in (fast_id, slow_id)
        and p.reply_to is not None
        and p.author_id not in store.posts[p.reply_to].mentioned
    ]
    assert len(non_mention_replies) >= 3
    pending = [
        p
        for p in store.posts.values()
        if fast_id in p.mentioned and p.created_at > NOW - timedelta(hours=2)
    ]
    assert pending  # some recent mentions still wait for an answer


def test_demo_data_shows_crowds_cases_signatures_and_weekends() -> None:
    emulator = XEmulator(clock=lambda: NOW)
    store = emulator.store
    posts = store.posts
    fast_id, slow_id = emulator.account_id("fastbrand"), emulator.account_id("slowbrand")
    handle = re.compile(r"(?<![A-Za-z0-9_@])@([A-Za-z0-9_]{1,15})(?![A-Za-z0-9_])")
    # Whitespace, one of ^ - \u2013 ~ *, an optional space, 1-20 letters; after trailing links.
    signature = re.compile(r"\s[\^\-\u2013~*] ?([^\W\d_]{1,20})$")
    trailing_links = re.compile(r"(?:\s+https?://\S+)+$")

    def signed_by(text: str) -> str | None:
        found = signature.search(trailing_links.sub("", text.rstrip()).rstrip())
        return found.group(1) if found else None

    def mentions_by_others(brand_id: str) -> list[Any]:
        return [
            p
            for p in (posts[i] for i in store.mentions_of[brand_id])
            if p.author_id != brand_id and p.retweet_of is None
        ]

    def first_replies(brand_id: str) -> dict[int, Any]:
        """{post id: the brand's first reply to it}."""
        first: dict[int, Any] = {}
        for post_id in store.tweets_of[brand_id]:
            post = posts[post_id]
            if post.reply_to is not None and post.reply_to not in first:
                first[post.reply_to] = post
        return first

    fast_mentions, slow_mentions = mentions_by_others(fast_id), mentions_by_others(slow_id)
    fast_first = first_replies(fast_id)

    # Crowd posts: more than 5 distinct handles, all of them real accounts; one of them
    # replies to a @fastbrand announcement (so it stays a mention to answer) and is answered.
    def crowd(mentions: list[Any]) -> list[Any]:
        return [p for p in mentions if len({h.lower() for h in handle.findall(p.text)}) > 5]

    fast_crowd, slow_crowd = crowd(fast_mentions), crowd(slow_mentions)
    assert len(fast_crowd) >= 5 and len(slow_crowd) >= 3
    assert all(store.find_account(h) for p in fast_crowd for h in handle.findall(p.text))
    [kept] = [p for p in fast_crowd if p.in_reply_to_user_id == fast_id]
    assert posts[kept.reply_to].reply_to is None and kept.id in fast_first
    assert sum(p.id in fast_first for p in fast_crowd) < len(fast_crowd) / 2

    # Signatures: at least 4 agents, ~10-15% unsigned, some with a link after the signature.
    fast_replies = [posts[i] for i in store.tweets_of[fast_id] if posts[i].reply_to is not None]
    signatures = [signed_by(p.text) for p in fast_replies]
    assert len(set(signatures) - {None}) >= 4
    assert 0.08 <= signatures.count(None) / len(signatures) <= 0.17
    assert any(
        s and trailing_links.search(p.text) for s, p in zip(signatures, fast_replies, strict=True)
    )
    assert signed_by("@a Thanks! -Becky") == "Becky"
    assert signed_by("@a Here: ^JK https://t.co/x ") == "JK"
    assert signed_by("@a Done *TJ") == "TJ" and signed_by("@a Ok - AA") == "AA"
    assert signed_by("@a Try 3-5 days.") is None and signed_by("@a so-so") is None
    # ... and each agent has a median of their own.
    minutes: dict[str | None, list[float]] = {}
    for mention in fast_mentions:
        if mention.id in fast_first:
            reply = fast_first[mention.id]
            delay = (reply.created_at - mention.created_at).total_seconds() / 60
            minutes.setdefault(signed_by(reply.text), []).append(delay)
    agent_medians = sorted(median(v) for k, v in minutes.items() if k is not None)
    assert agent_medians[-1] > 10 * agent_medians[0]
    slow_signatures = [
        signed_by(posts[i].text) for i in store.tweets_of[slow_id] if posts[i].reply_to
    ]
    assert set(slow_signatures) == {"Dana", None}
    assert slow_signatures.count(None) > 0.7 * len(slow_signatures)

    # Cases: follow-ups (unanswered) in conversations the brand already answered for that
    # customer, and customers who wrote twice before the brand answered the second mention.
    answered_for = {
        (posts[p.reply_to].author_id, p.conversation_id)
        for p in fast_replies
        if p.reply_to is not None
    }
    follow_ups = [
        p
        for p in fast_mentions
        if p.id not in fast_first
        and p.in_reply_to_user_id == fast_id
        and (p.author_id, p.conversation_id) in answered_for
    ]
    answered_pairs = {(p.author_id, p.conversation_id) for p in fast_mentions if p.id in fast_first}
    followed_up = {(p.author_id, p.conversation_id) for p in follow_ups}
    assert 0.15 < len(followed_up) / len(answered_pairs) < 0.35
    twice = [
        p
        for p in fast_mentions
        if p.id in fast_first
        and p.in_reply_to_user_id == p.author_id
        and p.reply_to not in fast_first
    ]
    assert len(twice) >= 5

    # A customer's thread another customer joins; the brand answers each of them separately.
    answered_authors: dict[int, set[str]] = {}
    for mention in fast_mentions:
        if mention.id in fast_first and posts[mention.conversation_id].author_id != fast_id:
            answered_authors.setdefault(mention.conversation_id, set()).add(mention.author_id)
    assert any(len(authors) >= 2 for authors in answered_authors.values())

    # Office hours: Friday-evening and weekend mentions answered on Monday.
    def answered_monday(mention: Any) -> bool:
        reply = fast_first.get(mention.id)
        return reply is not None and reply.created_at.weekday() == 0

    assert any(
        p.created_at.weekday() == 4 and p.created_at.hour >= 17 and answered_monday(p)
        for p in fast_mentions
    )
    assert sum(p.created_at.weekday() >= 5 and answered_monday(p) for p in fast_mentions) >= 5

    # Questions with "?" and statements (praise, thanks) without it.
    without_question_mark = sum("?" not in p.text for p in fast_mentions) / len(fast_mentions)
    assert 0.2 < without_question_mark < 0.8


# --- batch compliance (app-only) -----------------------------------------------------------
def app_bearer(emulator: XEmulator) -> str:
    """The app's bearer token, by OAuth 2.0 client credentials."""
    answer = requests.post(
        emulator.base_url + "/oauth2/token",
        auth=(KEY, SECRET),
        data={"grant_type": "client_credentials"},
        timeout=5,
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def app_call(
    emulator: XEmulator, method: str, path: str, bearer: str, **kwargs: Any
) -> requests.Response:
    return requests.request(
        method,
        emulator.base_url + path,
        headers={"Authorization": f"Bearer {bearer}"},
        timeout=5,
        **kwargs,
    )


def new_job(emulator: XEmulator, bearer: str, kind: str = "tweets") -> dict[str, Any]:
    answer = app_call(
        emulator, "POST", "/2/compliance/jobs", bearer, json={"type": kind, "name": "nightly"}
    )
    assert answer.status_code == 200, answer.text
    job: dict[str, Any] = answer.json()["data"]
    return job


def upload(job: dict[str, Any], ids: list[str]) -> requests.Response:
    return requests.put(
        job["upload_url"],
        data="\n".join(ids) + "\n",
        headers={"Content-Type": "text/plain"},
        timeout=10,
    )


def poll(emulator: XEmulator, bearer: str, job: dict[str, Any]) -> str:
    answer = app_call(emulator, "GET", f"/2/compliance/jobs/{job['id']}", bearer)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["data"]["status"])


def download(job: dict[str, Any]) -> list[dict[str, Any]]:
    answer = requests.get(job["download_url"], timeout=5)
    assert answer.status_code == 200, answer.text
    return [json.loads(line) for line in answer.text.splitlines() if line]


def test_client_credentials_give_one_bearer_token(emulator: XEmulator) -> None:
    def token(auth: Any, data: dict[str, str]) -> requests.Response:
        return requests.post(emulator.base_url + "/oauth2/token", auth=auth, data=data, timeout=5)

    grant = {"grant_type": "client_credentials"}

    first, again = token((KEY, SECRET), grant), token((KEY, SECRET), grant)
    wrong_secret = token((KEY, "wrong"), grant)
    wrong_key = token(("someone-else", SECRET), grant)
    anonymous = token(None, grant)
    no_grant = token((KEY, SECRET), {})

    assert first.status_code == 200
    assert first.json()["token_type"] == "bearer"
    assert again.json() == first.json()  # X keeps one bearer token per app
    for refused in (wrong_secret, wrong_key, anonymous):
        assert refused.status_code == 403
        assert refused.json()["errors"][0]["code"] == 99
    assert no_grant.status_code == 403
    assert no_grant.json()["errors"][0]["code"] == 170


def test_compliance_takes_only_the_apps_bearer_token(emulator: XEmulator, fast: SignedIn) -> None:
    bearer = app_bearer(emulator)
    body = {"type": "tweets"}

    anonymous = requests.post(emulator.base_url + "/2/compliance/jobs", json=body, timeout=5)
    wrong_bearer = app_call(emulator, "POST", "/2/compliance/jobs", "AAAAwrong", json=body)
    user_context = requests.post(
        emulator.base_url + "/2/compliance/jobs",
        auth=OAuth1(KEY, SECRET, fast.token, fast.secret),
        json=body,
        timeout=5,
    )
    app_only = app_call(emulator, "POST", "/2/compliance/jobs", bearer, json=body)

    assert anonymous.status_code == 401
    assert wrong_bearer.status_code == 401
    assert user_context.status_code == 403
    assert user_context.json()["type"].endswith("/problems/unsupported-authentication")
    assert "OAuth 1.0a User Context is forbidden" in user_context.json()["detail"]
    assert app_only.status_code == 200
    with pytest.raises(tweepy.Unauthorized):  # and a bearer token is no user's
        tweepy_client(emulator, bearer, "").get_me(user_auth=True)


def test_a_job_goes_created_in_progress_complete(emulator: XEmulator) -> None:
    bearer = app_bearer(emulator)
    emulator.compliance_in_progress_polls = 1
    post = emulator.add_post("fastbrand", "soon gone", NOW - timedelta(days=2))

    job = new_job(emulator, bearer)
    early = requests.get(job["download_url"], timeout=5)
    uploaded = upload(job, [post])
    statuses = [poll(emulator, bearer, job) for _ in range(3)]
    listed = app_call(emulator, "GET", "/2/compliance/jobs", bearer, params={"type": "tweets"})
    none_of_users = app_call(
        emulator, "GET", "/2/compliance/jobs", bearer, params={"type": "users"}
    )
    no_type = app_call(emulator, "GET", "/2/compliance/jobs", bearer)

    assert job["status"] == "created" and job["name"] == "nightly" and job["type"] == "tweets"
    assert job["upload_url"].startswith(emulator.base_url + "/_compliance/upload/")
    assert job["download_url"].startswith(emulator.base_url + "/_compliance/download/")
    assert job["created_at"] == "2026-11-27T15:05:14.000Z"
    assert job["upload_expires_at"] == "2026-11-27T15:20:14.000Z"
    assert job["download_expires_at"] == "2026-12-04T15:05:14.000Z"
    assert early.status_code == 404 and "NoSuchKey" in early.text
    assert uploaded.status_code == 200
    assert statuses == ["in_progress", "complete", "complete"]
    assert [j["id"] for j in listed.json()["data"]] == [job["id"]]
    assert listed.json()["meta"] == {"result_count": 1}
    assert none_of_users.json() == {"meta": {"result_count": 0}}
    assert no_type.status_code == 400
    assert download(job) == []  # nothing happened to the post
    assert emulator.compliance_job(job["id"]).ids == [post]


def test_the_download_lists_each_changed_id_once_with_its_reason(
    emulator: XEmulator, clock: Clock
) -> None:
    bearer = app_bearer(emulator)
    for name in ("gone", "locked", "banned", "fine"):
        emulator.add_account(name)
    posted = NOW - timedelta(days=3)
    deleted = emulator.add_post("gone", "@fastbrand help", posted)
    kept_by_gone = emulator.add_post("gone", "@fastbrand thanks", posted + timedelta(hours=1))
    protected = emulator.add_post("locked", "@fastbrand hi", posted)
    suspended = emulator.add_post("banned", "@fastbrand spam", posted)
    fine = emulator.add_post("fine", "@fastbrand ok", posted)
    clock.advance(hours=1)
    emulator.delete_post(deleted)
    emulator.protect("locked")
    emulator.suspend("banned")
    job = new_job(emulator, bearer)

    upload(job, [deleted, kept_by_gone, protected, suspended, fine, "123", deleted])
    assert poll(emulator, bearer, job) == "complete"
    changes = download(job)

    redacted = "2026-11-27T16:05:14.000Z"
    created = "2026-11-24T15:05:14.000Z"
    assert changes == [
        {
            "id": deleted,
            "action": "delete",
            "created_at": created,
            "redacted_at": redacted,
            "reason": "deleted",
        },
        {
            "id": protected,
            "action": "delete",
            "created_at": created,
            "redacted_at": redacted,
            "reason": "protected",
        },
        {
            "id": suspended,
            "action": "delete",
            "created_at": created,
            "redacted_at": redacted,
            "reason": "suspended",
        },
    ]


def test_a_deleted_post_leaves_the_timelines(emulator: XEmulator, fast: SignedIn) -> None:
    post = emulator.add_post("slowbrand", "@fastbrand where is my order", NOW)

    emulator.delete_post(post)
    mentions = signed_get(emulator, fast, f"/2/users/{fast.user_id}/mentions", max_results=100)
    own = signed_get(
        emulator, fast, f"/2/users/{emulator.account_id('slowbrand')}/tweets", max_results=100
    )

    assert post not in [p["id"] for p in mentions.json().get("data", [])]
    assert post not in [p["id"] for p in own.json().get("data", [])]


def test_a_users_job_reports_the_accounts(emulator: XEmulator) -> None:
    bearer = app_bearer(emulator)
    locked = emulator.add_account("locked")
    fine = emulator.add_account("fine")
    emulator.protect("locked")
    job = new_job(emulator, bearer, kind="users")

    upload(job, [locked, fine])
    assert poll(emulator, bearer, job) == "complete"

    assert [(c["id"], c["reason"]) for c in download(job)] == [(locked, "protected")]


def test_too_many_or_malformed_ids_fail_the_job(emulator: XEmulator) -> None:
    from local.x_api import COMPLIANCE_MAX_IDS

    bearer = app_bearer(emulator)
    # one job of a type at a time, as X runs them: each made once the one before is done
    too_many = new_job(emulator, bearer)
    upload(too_many, [str(10**15 + n) for n in range(COMPLIANCE_MAX_IDS + 1)])
    malformed = new_job(emulator, bearer)
    upload(malformed, ["123", "not-an-id"])
    just_enough = new_job(emulator, bearer)
    upload(just_enough, [str(10**15 + n) for n in range(COMPLIANCE_MAX_IDS)])
    again = upload(just_enough, ["123"])

    assert COMPLIANCE_MAX_IDS == 100_000
    assert poll(emulator, bearer, too_many) == "failed"
    assert poll(emulator, bearer, malformed) == "failed"
    assert poll(emulator, bearer, just_enough) == "complete"
    assert again.status_code == 400  # the file is in; the job is under way
    assert requests.get(too_many["download_url"], timeout=5).status_code == 404


def test_upload_and_download_urls_expire(emulator: XEmulator, clock: Clock) -> None:
    bearer = app_bearer(emulator)
    done = new_job(emulator, bearer)
    upload(done, ["123"])
    poll(emulator, bearer, done)
    late = new_job(emulator, bearer)

    clock.advance(minutes=16)
    too_late = upload(late, ["123"])
    clock.advance(days=7)

    assert too_late.status_code == 403 and "expired" in too_late.text
    assert requests.get(done["download_url"], timeout=5).status_code == 403


def test_one_job_of_a_type_runs_at_a_time_as_on_x(emulator: XEmulator, clock: Clock) -> None:
    bearer = app_bearer(emulator)
    first = new_job(emulator, bearer)

    # WHILE it waits for its upload, or runs, no other posts job is made; a users job is
    second = app_call(emulator, "POST", "/2/compliance/jobs", bearer, json={"type": "tweets"})
    users = app_call(emulator, "POST", "/2/compliance/jobs", bearer, json={"type": "users"})
    upload(first, ["123"])
    third = app_call(emulator, "POST", "/2/compliance/jobs", bearer, json={"type": "tweets"})

    assert second.status_code == third.status_code == 400
    assert "one concurrent job per job type" in second.text
    assert users.status_code == 200
    # ONCE it is complete, the next may be made; so once a job's upload time ran out
    poll(emulator, bearer, first)
    waiting = new_job(emulator, bearer)
    clock.advance(minutes=16)
    assert waiting["id"] and new_job(emulator, bearer)["id"] != waiting["id"]
    assert emulator.compliance.refused == 2


def test_bad_compliance_requests_are_400_like_x(emulator: XEmulator) -> None:
    bearer = app_bearer(emulator)

    bad_type = app_call(emulator, "POST", "/2/compliance/jobs", bearer, json={"type": "likes"})
    long_name = app_call(
        emulator, "POST", "/2/compliance/jobs", bearer, json={"type": "tweets", "name": "n" * 65}
    )
    unknown = app_call(emulator, "GET", "/2/compliance/jobs/123", bearer)
    not_an_id = app_call(emulator, "GET", "/2/compliance/jobs/abc", bearer)
    no_job = requests.get(emulator.base_url + "/_compliance/download/123", timeout=5)
    job = new_job(emulator, bearer)
    with_credentials = requests.put(
        job["upload_url"], data="123\n", headers={"Authorization": f"Bearer {bearer}"}, timeout=5
    )

    for answer in (bad_type, long_name, unknown, not_an_id):
        assert answer.status_code == 400
        assert answer.json()["title"] == "Invalid Request"
    assert bad_type.json()["errors"][0]["parameters"] == {"type": ["likes"]}
    assert no_job.status_code == 404
    assert with_credentials.status_code == 400  # a signed URL takes no other credential
    assert emulator.compliance_job(job["id"]).status == "created"


@pytest.mark.parametrize("template", [CREATE_JOB, JOB, JOBS])
@pytest.mark.parametrize(("mode", "status"), [("429", 429), ("503", 503)])
def test_fail_works_on_compliance_endpoints(
    emulator: XEmulator, template: str, mode: str, status: int
) -> None:
    bearer = app_bearer(emulator)
    job = new_job(emulator, bearer)
    emulator.fail(template, mode)
    method, path = template.split(" ")
    path = path.replace(":id", job["id"])

    failed = app_call(
        emulator, method, path, bearer, json={"type": "tweets"}, params={"type": "tweets"}
    )

    assert failed.status_code == status
    assert failed.headers["content-type"] == "application/problem+json"
    if status == 429:
        assert int(failed.headers["x-rate-limit-reset"]) > int(NOW.timestamp())


def test_compliance_limits_are_per_app(emulator: XEmulator) -> None:
    bearer = app_bearer(emulator)
    emulator.set_rate_limit(CREATE_JOB, per_app=1)

    statuses = [
        app_call(emulator, "POST", "/2/compliance/jobs", bearer, json={"type": "tweets"})
        for _ in range(2)
    ]

    assert [s.status_code for s in statuses] == [200, 429]
    assert statuses[0].headers["x-rate-limit-limit"] == "1"


def test_admin_api_changes_state_on_x(emulator: XEmulator) -> None:
    post = emulator.add_post("quietbrand", "hello", NOW)

    answers = [
        requests.post(emulator.base_url + "/_emulator/compliance", json=payload, timeout=5)
        for payload in (
            {"action": "delete", "post": post},
            {"action": "protect", "username": "slowbrand"},
            {"action": "suspend", "username": "fastbrand"},
            {"action": "explode", "username": "fastbrand"},
        )
    ]

    assert [a.status_code for a in answers] == [200, 200, 200, 400]
    assert emulator.store.post_compliance(int(post)) is not None
    assert emulator.store.user_compliance(emulator.account_id("slowbrand"))[0] == "protected"  # type: ignore[index]


def test_the_compliance_schema_check_is_not_vacuous() -> None:
    job = {"id": "j1", "type": "likes", "status": "created", "mood": "calm"}
    bad = Answer(CREATE_JOB, 200, "application/json", json.dumps({"data": job}).encode())
    token = Answer(APP_TOKEN, 200, "application/json", b'{"access_token":"x"}')

    problems = openapi_problems(bad)

    assert any("mood" in p for p in problems)
    assert any("'likes'" in p for p in problems)
    assert any("required" in p for p in problems)
    assert openapi_problems(token)


def test_the_committed_openapi_subset_matches_xs_file() -> None:
    """A clone without shared/ checks against tests/data's subset: it must not drift."""
    shared = x_openapi.shared_file()
    if shared is None:
        pytest.skip(
            "X's own OpenAPI file (../shared/x-api/openapi.json) is not beside this clone, so "
            "the committed subset in tests/data cannot be compared with it; every emulator "
            "answer is still checked against that subset"
        )
    committed = json.loads(x_openapi.SUBSET.read_text())
    assert committed == x_openapi.subset(json.loads(shared.read_text()))


# --- full-archive search and counts (app-only) -----------------------------------------------
SEARCH, COUNTS = "/2/tweets/search/all", "/2/tweets/counts/all"


def history_of(emulator: XEmulator) -> dict[str, list[str]]:
    """@oldbrand's history: 12 mentions by others over 12 years, one by itself, one retweet
    of a mention, 2 of its replies and 1 post that is no reply; a deleted mention."""
    emulator.add_account("oldbrand")
    emulator.add_account("fan")
    start = NOW - timedelta(days=12 * 365)
    mentions = [
        emulator.add_post("fan", f"@oldbrand hello {n}", start + timedelta(days=365 * n))
        for n in range(12)
    ]
    own = emulator.add_post("oldbrand", "@oldbrand a note to self", start)
    retweet = emulator.add_post("fan", "", start + timedelta(days=1), retweet_of=mentions[0])
    replies = [
        emulator.add_post("oldbrand", "@fan thanks", start + timedelta(days=2), reply_to=m)
        for m in mentions[:2]
    ]
    plain = emulator.add_post("oldbrand", "news", start + timedelta(days=3))
    gone = emulator.add_post("fan", "@oldbrand oops", start + timedelta(days=4))
    emulator.delete_post(gone)
    return {"mentions": mentions, "replies": replies, "other": [own, retweet, plain]}


def test_full_archive_search_reads_the_app_s_history_queries(emulator: XEmulator) -> None:
    posts = history_of(emulator)
    bearer = app_bearer(emulator)
    since_2006 = {"start_time": "2006-03-21T00:00:00Z", "tweet.fields": "created_at,author_id"}

    first = app_call(
        emulator,
        "GET",
        SEARCH,
        bearer,
        params={"query": "@oldbrand -from:oldbrand -is:retweet", "max_results": 10, **since_2006},
    )
    assert first.status_code == 200, first.text
    assert first.headers["x-rate-limit-limit"] == "300"
    page = first.json()
    assert [p["id"] for p in page["data"]] == posts["mentions"][::-1][:10]  # newest first
    rest = app_call(
        emulator,
        "GET",
        SEARCH,
        bearer,
        params={
            "query": "@oldbrand -from:oldbrand -is:retweet",
            "max_results": 10,
            "next_token": page["meta"]["next_token"],
            **since_2006,
        },
    ).json()
    assert [p["id"] for p in rest["data"]] == posts["mentions"][::-1][10:]
    assert "next_token" not in rest["meta"]
    replies = app_call(
        emulator, "GET", SEARCH, bearer, params={"query": "from:oldbrand is:reply", **since_2006}
    ).json()
    assert sorted(p["id"] for p in replies["data"]) == sorted(posts["replies"])
    older = app_call(
        emulator,
        "GET",
        SEARCH,
        bearer,
        params={
            "query": "@oldbrand -from:oldbrand -is:retweet",
            "until_id": posts["mentions"][2],
            **since_2006,
        },
    ).json()
    assert [p["id"] for p in older["data"]] == posts["mentions"][:2][::-1]
    assert emulator.posts_served["GET /2/tweets/search/all"] == 10 + 2 + 2 + 2


def test_counts_sum_what_search_finds_and_default_to_30_days(emulator: XEmulator) -> None:
    posts = history_of(emulator)
    bearer = app_bearer(emulator)
    emulator.add_post("fan", "@oldbrand recent", NOW - timedelta(days=3))

    counted = app_call(
        emulator,
        "GET",
        COUNTS,
        bearer,
        params={
            "query": "@oldbrand -from:oldbrand -is:retweet",
            "start_time": "2006-03-21T00:00:00Z",
            "end_time": "2026-11-20T00:00:00Z",
            "granularity": "day",
        },
    )
    assert counted.status_code == 200, counted.text
    body = counted.json()
    assert body["meta"]["total_tweet_count"] == len(posts["mentions"])  # not the recent one
    assert sum(b["tweet_count"] for b in body["data"]) == 12
    assert body["data"][0]["start"] == "2006-03-21T00:00:00.000Z"
    assert body["data"][-1]["end"] == "2026-11-20T00:00:00.000Z"
    default = app_call(
        emulator, "GET", COUNTS, bearer, params={"query": "@oldbrand -is:retweet"}
    ).json()
    assert default["meta"]["total_tweet_count"] == 1  # the last 30 days only
    assert len(default["data"]) == 24 * 30 + 1  # hour buckets by default, partial ends too


def test_search_and_counts_refuse_user_context_and_bad_queries(
    emulator: XEmulator, fast: SignedIn
) -> None:
    bearer = app_bearer(emulator)
    query = {"query": "@fastbrand"}

    as_user = signed_get(emulator, fast, SEARCH, **query)
    counts_as_user = signed_get(emulator, fast, COUNTS, **query)
    anonymous = requests.get(emulator.base_url + SEARCH, params=query, timeout=5)
    no_query = app_call(emulator, "GET", SEARCH, bearer)
    bad_operator = app_call(emulator, "GET", SEARCH, bearer, params={"query": "lang:en @x"})
    too_many = app_call(emulator, "GET", SEARCH, bearer, params={**query, "max_results": 501})
    bad_granularity = app_call(
        emulator, "GET", COUNTS, bearer, params={**query, "granularity": "week"}
    )

    for refused in (as_user, counts_as_user):
        assert refused.status_code == 403
        assert refused.json()["title"] == "Unsupported Authentication"
    assert anonymous.status_code == 401
    assert no_query.status_code == 400
    assert no_query.json()["errors"][0]["message"] == "The `query` query parameter can not be empty"
    assert bad_operator.status_code == 400
    assert "lang:en" in bad_operator.json()["errors"][0]["message"]
    assert too_many.status_code == 400
    assert "is not between 10 and 500" in too_many.json()["errors"][0]["message"]
    assert bad_granularity.status_code == 400
