"""Sign-in over real HTTP through the `make run` stack (moto server, X emulator, chalice
local in a subprocess): fifty browsers at once, and not one secret in the stack's output,
over OAuth 1.0a (`make run`) and over OAuth 2.0 (`X_SIGN_IN=oauth2 make run`)."""

from __future__ import annotations

import html
import json
import random
import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.stack_fixture import StackProcess, local_stack_process, oauth2_stack, stack

__all__ = ["oauth2_stack", "stack"]  # the module-scoped fixtures, imported for pytest

BROWSERS = 50
TIMEOUT_S = 15
OAUTH1_AUTHORIZE = "/oauth/authenticate?"
OAUTH2_AUTHORIZE = "/i/oauth2/authorize?"
# Every value that must never appear in the stack's output, gathered as the tests run.
SECRETS: set[str] = set()


@dataclass
class HttpBrowser:
    """One person's browser: its own cookie jar, and the account she picks at X."""

    stack: StackProcess
    username: str
    http: requests.Session = field(default_factory=requests.Session)
    authorize_url: str = ""
    callback_url: str = ""

    def get(self, path: str) -> requests.Response:
        return self.http.get(self.stack.url + path, allow_redirects=False, timeout=TIMEOUT_S)

    def cookie(self) -> str | None:
        return self.http.cookies.get("session")

    def start(self) -> None:
        """GET /auth: a pending login, its cookie, and a redirect to X's authorize page."""
        answer = self.get("/auth")
        assert answer.status_code == 302, answer.text
        self.authorize_url = answer.headers["location"]
        assert self.authorize_url.startswith(
            (self.stack.x_url + OAUTH1_AUTHORIZE, self.stack.x_url + OAUTH2_AUTHORIZE)
        )
        SECRETS.add(self.cookie() or "")

    @property
    def oauth2(self) -> bool:
        return self.authorize_url.startswith(self.stack.x_url + OAUTH2_AUTHORIZE)

    def _consent(self, action: str) -> dict[str, str]:
        """What pressing a button of the authorize page sends, as the page's form says."""
        if not self.oauth2:
            token = parse_qs(urlsplit(self.authorize_url).query)["oauth_token"][0]
            return {"oauth_token": token, "username": self.username, "action": action}
        page = requests.get(self.authorize_url, timeout=TIMEOUT_S).text
        fields = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page)
        form = {html.unescape(name): html.unescape(value) for name, value in fields}
        SECRETS.add(form["state"])
        return {**form, "username": self.username, "action": action}

    def press(self, action: str) -> None:
        """The person picks her account and presses "Authorize app" (or "Cancel")."""
        path = "/i/oauth2/authorize" if self.oauth2 else "/oauth/authorize"
        answer = self.http.post(
            self.stack.x_url + path,
            data=self._consent(action),
            allow_redirects=False,
            timeout=TIMEOUT_S,
        )
        assert answer.status_code == 302, answer.text
        self.callback_url = answer.headers["location"]
        query = parse_qs(urlsplit(self.callback_url).query)
        SECRETS.update(query.get("oauth_verifier", []) + query.get("code", []))

    def authorize(self) -> None:
        self.press("authorize")

    def finish(self) -> requests.Response:
        """X sends the browser back to /callback."""
        answer = self.http.get(self.callback_url, allow_redirects=False, timeout=TIMEOUT_S)
        SECRETS.add(self.cookie() or "")
        return answer

    def sign_in(self) -> None:
        self.start()
        self.authorize()
        assert self.finish().headers["location"] == "/report"


def demo_usernames(stack: StackProcess) -> list[str]:
    """The accounts X's authorize page offers, in its order."""
    probe = HttpBrowser(stack, "")
    probe.start()
    page = requests.get(probe.authorize_url, timeout=TIMEOUT_S).text
    probe.press("cancel")
    assert probe.finish().status_code == 200  # the cancelled page; no pending login is left
    return re.findall(r'name="username" value="([^"]+)"', page)


def table_items(stack: StackProcess) -> list[dict[str, Any]]:
    dynamodb = stack.aws_client("dynamodb")
    items: list[dict[str, Any]] = []
    for table in dynamodb.list_tables()["TableNames"]:
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            items.extend(page["Items"])
    return items


def rotating_keys(stack: StackProcess, name_part: str) -> list[str]:
    secrets_manager = stack.aws_client("secretsmanager")
    [secret] = [s for s in secrets_manager.list_secrets()["SecretList"] if name_part in s["Name"]]
    value = json.loads(secrets_manager.get_secret_value(SecretId=secret["ARN"])["SecretString"])
    previous = value.get("previous") or []
    return [value["current"], *([previous] if isinstance(previous, str) else previous)]


def stored_secrets(stack: StackProcess, cookies: Iterable[str]) -> set[str]:
    """What the table holds encrypted or hashed, in the clear: request token secrets,
    OAuth 2.0 states and code verifiers, access tokens, their secrets and refresh tokens;
    and the session id inside each signed cookie."""
    from chalicelib.cookies import CookieCodec
    from chalicelib.tokens import TokenCipher

    cipher = TokenCipher(rotating_keys(stack, "TokenKeys"))
    found: set[str] = set()
    for item in table_items(stack):
        for name in (
            "request_token_secret",
            "state",
            "code_verifier",
            "access_token",
            "access_token_secret",
            "refresh_token",
        ):
            if name in item:
                found.add(cipher.decrypt(item[name]["S"]))
    codec = CookieCodec(rotating_keys(stack, "CookieKeys"), secure=False)
    for cookie in cookies:
        session_id = codec.decode(f"{codec.name}={cookie}")
        if session_id:
            found.add(session_id)
    return found


def signed_in_as(browser: HttpBrowser) -> str | None:
    home = browser.get("/")
    assert home.status_code == 200
    match = re.search(r"Signed in as @(\w+)", home.text)
    return match.group(1) if match else None


@pytest.fixture(params=["oauth1", "oauth2"])
def flavoured_stack(request: pytest.FixtureRequest) -> tuple[str, StackProcess]:
    """Each sign-in and its stack: `make run`, then `X_SIGN_IN=oauth2 make run`."""
    name = "stack" if request.param == "oauth1" else "oauth2_stack"
    running: StackProcess = request.getfixturevalue(name)
    return request.param, running


def test_fifty_interleaved_sign_ins_each_land_as_their_own_account(
    flavoured_stack: tuple[str, StackProcess],
) -> None:
    flavour, stack = flavoured_stack
    # GIVEN fifty browsers, each picking an account of its own at X (the demo accounts,
    #       and as many more as it takes, added through the emulator's admin API)
    usernames = demo_usernames(stack)
    for number in range(BROWSERS - len(usernames)):
        added = requests.post(
            stack.x_url + "/_emulator/accounts",
            json={"username": f"shop{number:02d}"},
            timeout=TIMEOUT_S,
        )
        assert added.status_code == 200, added.text
        usernames.append(f"shop{number:02d}")
    browsers = [HttpBrowser(stack, username) for username in usernames[:BROWSERS]]
    shuffle = random.Random(20261128).shuffle

    # WHEN all of them start first, then press "Authorize app" in one shuffled order, then
    #      come back to /callback in another shuffled order, eight at a time
    for browser in browsers:
        browser.start()
    assert {browser.oauth2 for browser in browsers} == {flavour == "oauth2"}
    pending_cookies = [browser.cookie() for browser in browsers]
    order = list(browsers)
    shuffle(order)
    for browser in order:
        browser.authorize()
    SECRETS.update(stored_secrets(stack, filter(None, pending_cookies)))
    shuffle(order)
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(HttpBrowser.finish, order))

    # THEN every browser is signed in as the account it picked, with a session of its own
    assert [answer.status_code for answer in answers] == [302] * BROWSERS
    assert {answer.headers["location"] for answer in answers} == {"/report"}
    cookies = [browser.cookie() for browser in browsers]
    assert None not in cookies
    assert len(set(cookies)) == BROWSERS
    assert not set(cookies) & set(pending_cookies)  # never the pending session id
    mix_ups = [
        (browser.username, seen)
        for browser in browsers
        if (seen := signed_in_as(browser)) != browser.username
    ]
    assert mix_ups == []
    items = table_items(stack)
    kinds = [item["kind"]["S"] for item in items]
    assert kinds.count("session") == BROWSERS
    assert kinds.count("pending") == 0
    assert kinds.count("account") == BROWSERS
    signed_in_with = {item["sign_in"]["S"] for item in items if item["kind"]["S"] == "account"}
    assert signed_in_with == {flavour}
    SECRETS.update(stored_secrets(stack, filter(None, cookies)))


def test_the_stack_output_holds_no_secret(flavoured_stack: tuple[str, StackProcess]) -> None:
    _, stack = flavoured_stack
    # GIVEN one more person who signs in, reads her report in every format, signs out
    browser = HttpBrowser(stack, "fastbrand")
    browser.start()
    browser.authorize()
    pending_cookie = browser.cookie()
    SECRETS.update(stored_secrets(stack, [pending_cookie or ""]))
    browser.finish()
    for path in ("/", "/report", "/report.json", "/report.csv"):
        assert browser.get(path).status_code == 200, path
    SECRETS.update(stored_secrets(stack, [browser.cookie() or ""]))
    signed_in_cookie = browser.cookie()
    logout = browser.http.post(
        stack.url + "/logout",
        data="",
        headers={"origin": stack.url, "content-type": "application/x-www-form-urlencoded"},
        allow_redirects=False,
        timeout=TIMEOUT_S,
    )
    assert logout.status_code == 303

    # WHEN we read everything the stack printed (stdout and stderr)
    output = stack.output()

    # THEN the stack did log these requests, yet no verifier, token, token secret, cookie
    #      or session id (from this test and the one before it) appears anywhere in it
    assert "sign-in completed" in output
    assert re.search(r'"GET /callback" 302', output)
    SECRETS.discard("")
    assert {pending_cookie, signed_in_cookie} <= SECRETS
    assert len(SECRETS) >= 4
    leaked = sorted(secret for secret in SECRETS if secret in output)
    assert leaked == [], f"{len(leaked)} secret value(s) in the stack's output"


def test_metrics_go_to_a_file_and_the_console_shows_what_a_person_reads(
    tmp_path: Path,
) -> None:

    # GIVEN `make run` with its metrics file named
    metrics = tmp_path / "metrics.jsonl"
    with local_stack_process(LOCAL_METRICS_FILE=str(metrics)) as running:
        # WHEN a person opens the home page and starts a sign-in (each counts a metric)
        requests.get(running.url + "/", timeout=10)
        requests.get(running.url + "/auth", timeout=10, allow_redirects=False)
        output = running.output()
    # THEN the console says where the metrics are and prints none of them
    assert f"Metrics (EMF, as CloudWatch would get them): {metrics}" in output
    assert '{"_aws"' not in output
    # AND the file holds them, one JSON object a line
    lines = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert any("SignInStarted" in line for line in lines if "_aws" in line), (
        "no SignInStarted metric in the file"
    )
