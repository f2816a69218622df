"""The headers on every answer of every route, signed out and signed in, as a browser gets
them: a Content-Security-Policy that allows no script at all and no framing, a Referrer-
Policy, nosniff, no-store on anything that depends on who is signed in, HSTS where the
public URL is https; and pages that need nothing the policy forbids. The routes come from
app.routes, so a new route is checked without anyone adding it here."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.browser import Browser, approve

PROD_URL = "https://rt.example.com"
STYLESHEET = "/static/app.css"
HSTS_MIN_SECONDS = 365 * 24 * 3600


def csp_directives(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


def every_request(new_browser: Callable[[], Browser], origin: str) -> list[tuple[str, Any]]:
    """One answer per route and method. GETs share a browser; each POST (which ends the
    session, or the account) comes after them, from a browser of its own in the same state."""
    from app import app

    routes = [(method, path) for path, entries in sorted(app.routes.items()) for method in entries]
    unknown = [route for route in routes if route[0] not in ("GET", "POST")]
    assert not unknown, f"no request for these methods here yet: {unknown}"
    browser = new_browser()
    answers = []
    for method, path in routes:
        if method == "GET":
            cookies = dict(browser.cookies)  # GET /auth starts a new sign-in: keep this one
            answers.append((f"GET {path}", browser.get(path)))
            browser.cookies = cookies
    for method, path in routes:
        if method == "POST":  # after every GET: /forget deletes the account they read
            poster = new_browser()
            answers.append((f"POST {path}", poster.post(path, headers={"origin": origin})))
    return answers


def assert_safe_headers(label: str, response: Any, *, signed_in: bool, https: bool) -> None:
    headers = response.headers
    content_type = headers.get("content-type", "")
    assert headers.get("x-content-type-options") == "nosniff", label
    if label.endswith(STYLESHEET):
        assert content_type.startswith("text/css"), label
        return  # the same for everyone, so a cache may keep it
    directives = csp_directives(headers["content-security-policy"])
    assert directives["default-src"] == ["'none'"], label
    assert directives["frame-ancestors"] == ["'none'"], label
    assert directives["base-uri"] == ["'none'"], label
    for source in ("script-src", "script-src-elem", "script-src-attr"):
        assert source not in directives, f"{label}: {source} lets a script in"
    assert not any("unsafe" in value for values in directives.values() for value in values), (
        f"{label}: an 'unsafe-...' source"
    )
    assert headers["referrer-policy"] in ("same-origin", "no-referrer"), label
    assert headers["x-frame-options"] == "DENY", label
    if signed_in:
        assert headers["cache-control"] == "no-store", label
    if https:
        max_age = re.fullmatch(
            r"max-age=(\d+); includeSubDomains", headers["strict-transport-security"]
        )
        assert max_age and int(max_age.group(1)) >= HSTS_MIN_SECONDS, label
    else:
        assert "strict-transport-security" not in headers, label  # no HSTS for plain http
    if content_type.startswith("text/html"):
        assert_page_needs_nothing_the_policy_forbids(label, response.body.decode())


def assert_page_needs_nothing_the_policy_forbids(label: str, html: str) -> None:
    assert "<script" not in html.lower(), label
    assert not re.search(r"\son[a-z]+\s*=", html, re.IGNORECASE), f"{label}: event handler"
    assert not re.search(r"\sstyle\s*=", html, re.IGNORECASE), f"{label}: inline style"
    assert "<style" not in html.lower(), label
    assert "javascript:" not in html.lower(), label
    for url in re.findall(r'(?:src|href)="([^"]+)"', html):
        allowed = url.startswith(("/", "data:", "https://x.com/", "#")) or url == ""
        assert allowed, f"{label}: {url} is not 'self'"


@pytest.fixture
def check_every_route(
    client: Any, configure: Callable[..., None]
) -> Callable[[str, str], list[str]]:
    def check(public_url: str, stage: str) -> list[str]:
        configure(PUBLIC_URL=public_url, STAGE=stage)
        https = public_url.startswith("https://")
        checked = []

        def signed_in() -> Browser:
            browser = Browser(client)
            assert browser.sign_in("fastbrand").status_code == 302
            return browser

        for state, new_browser in (
            ("signed out", lambda: Browser(client)),
            ("signed in", signed_in),
        ):
            for label, response in every_request(new_browser, public_url):
                assert_safe_headers(label, response, signed_in=state == "signed in", https=https)
                checked.append(f"{label} {state}: {response.status_code}")
        return checked

    return check


def test_every_route_answers_with_safe_headers_locally(
    check_every_route: Callable[[str, str], list[str]],
) -> None:
    checked = check_every_route("http://127.0.0.1:8000", "local")
    assert "GET /report signed in: 200" in checked
    assert "GET /report signed out: 302" in checked


def test_every_route_answers_with_safe_headers_and_hsts_in_prod(
    check_every_route: Callable[[str, str], list[str]],
) -> None:
    checked = check_every_route(PROD_URL, "prod")
    assert "GET /report.csv signed in: 200" in checked
    assert "POST /logout signed in: 303" in checked


def test_links_and_redirects_keep_the_stage_path_of_api_gateway_s_own_url(
    client: Any, configure: Callable[..., None]
) -> None:
    # GIVEN the app at the execute-api URL, whose stage `api` is the first part of the path
    configure(PUBLIC_URL="https://abc123.execute-api.us-east-1.amazonaws.com/api", STAGE="prod")
    browser = Browser(client)

    # THEN every link, form and redirect of the app stays under /api
    home = browser.get("/").body.decode()
    assert 'href="/api/auth"' in home and 'href="/api/static/app.css"' in home
    back_from_x = approve(browser.start_sign_in(), "fastbrand")
    assert back_from_x.startswith("/api/callback?")
    callback = browser.get(back_from_x.removeprefix("/api"))  # API Gateway strips the stage
    assert callback.headers["location"] == "/api/report"
    page = browser.get("/report").body.decode()
    links = re.findall(r'(?:href|action)="(/[^"]*)"', page)
    assert links and all(link.startswith("/api/") for link in links), links
    out = browser.post(
        "/logout", headers={"origin": "https://abc123.execute-api.us-east-1.amazonaws.com"}
    )
    assert out.headers["location"] == "/api/"
