"""The headers on every answer of every route, signed out and signed in, as a browser gets
them: a Content-Security-Policy that allows no script at all and no framing, a Referrer-
Policy, nosniff, no-store on anything that depends on who is signed in, HSTS where the
public URL is https; and pages that need nothing the policy forbids. The routes come from
app.routes, so a new route is checked without anyone adding it here; every method of every
path is one (our 405 page where no view takes it), and a path no route has gets
API Gateway's own answer, as infra/resources.json words it (tests/gateway_client.py)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.browser import Browser, approve
from tests.gateway_client import gateway_client

__all__ = ["gateway_client"]  # the fixture, imported so pytest finds it here

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


def request(browser: Browser, method: str, path: str, origin: str) -> Any:
    """Any method, with the browser's cookie; headers in lower case, as Browser keeps them."""
    headers = {**browser.cookie_header(), "origin": origin}
    response = browser.client.http.request(method, path, headers=headers)
    response.headers = {name.lower(): value for name, value in response.headers.items()}
    return response


def every_request(new_browser: Callable[[], Browser], origin: str) -> list[tuple[str, Any]]:
    """One answer per route and method. All share a browser but the POSTs a view takes (they
    end the session, or the account): each comes after the rest, from a browser of its own
    in the same state."""
    from app import app, method_not_allowed

    routes = [
        (method, path, entry.view_function is method_not_allowed)
        for path, entries in sorted(app.routes.items())
        for method, entry in entries.items()
    ]
    browser = new_browser()
    answers = []
    for method, path, refused in routes:
        if method != "POST" or refused:
            cookies = dict(browser.cookies)  # GET /auth starts a new sign-in: keep this one
            answers.append((f"{method} {path}", request(browser, method, path, origin)))
            browser.cookies = cookies
    for method, path, refused in routes:
        if method == "POST" and not refused:  # after the rest: /forget deletes the account
            poster = new_browser()
            answers.append((f"POST {path}", poster.post(path, headers={"origin": origin})))
    return answers


def assert_safe_headers(
    label: str, response: Any, *, signed_in: bool, https: bool, public_url: str = ""
) -> None:
    headers = response.headers
    content_type = headers.get("content-type", "")
    assert headers.get("x-content-type-options") == "nosniff", label
    if label.endswith(STYLESHEET) and response.status_code == 200:
        assert content_type.startswith("text/css"), label
        return  # the same for everyone, so a cache may keep it
    if response.status_code == 405:
        assert headers["allow"], label
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
        assert_page_needs_nothing_the_policy_forbids(label, response.body.decode(), public_url)


def assert_page_needs_nothing_the_policy_forbids(label: str, html: str, own: str = "") -> None:
    """`own`: the public URL, which API Gateway's pages link under (they cannot know the
    path of the stylesheet otherwise: tests/test_error_pages.py)."""
    assert "<script" not in html.lower(), label
    assert not re.search(r"\son[a-z]+\s*=", html, re.IGNORECASE), f"{label}: event handler"
    assert not re.search(r"\sstyle\s*=", html, re.IGNORECASE), f"{label}: inline style"
    assert "<style" not in html.lower(), label
    assert "javascript:" not in html.lower(), label
    for url in re.findall(r'(?:src|href)="([^"]+)"', html):
        allowed = url.startswith(("/", "data:", "https://x.com/", "#")) or url == ""
        allowed = allowed or bool(own and url.startswith(own + "/"))
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
    assert "HEAD / signed in: 200" in checked
    assert "GET /logout signed in: 405" in checked
    assert "PUT /report.json signed out: 405" in checked


def test_every_route_answers_with_safe_headers_and_hsts_in_prod(
    check_every_route: Callable[[str, str], list[str]],
) -> None:
    checked = check_every_route(PROD_URL, "prod")
    assert "GET /report.csv signed in: 200" in checked
    assert "POST /logout signed in: 303" in checked
    assert "DELETE /settings signed in: 405" in checked


def test_every_path_takes_every_method() -> None:
    # GIVEN the app's routes, as API Gateway gets them
    from app import app
    from chalicelib.web import HTTP_METHODS

    # THEN every path has every method, so that API Gateway never answers one of them by
    #      itself (403 "Missing Authentication Token", without our headers)
    missing = {
        path: sorted(set(HTTP_METHODS) - set(entries))
        for path, entries in app.routes.items()
        if set(HTTP_METHODS) - set(entries)
    }
    assert missing == {}, "routes added after app.py's last loop?"


UNKNOWN_PATHS = ("/nope", "/report/x", "/static/nope.css", "/report.json/x")


@pytest.mark.parametrize(
    ("public_url", "stage"), [("http://127.0.0.1:8000", "local"), (PROD_URL, "prod")]
)
def test_paths_no_route_has_answer_with_safe_headers(
    gateway_client: Any, configure: Callable[..., None], public_url: str, stage: str
) -> None:
    # GIVEN the app behind the local stand-in for API Gateway, at this public URL
    configure(PUBLIC_URL=public_url, STAGE=stage)
    browser = Browser(gateway_client)
    for path in UNKNOWN_PATHS:
        for accept in ("text/html,application/xhtml+xml,*/*;q=0.8", "*/*"):
            # WHEN a browser, or a script, asks for a path that no route has
            answer = browser.get(path, headers={"accept": accept})
            # THEN it gets our 404, with the headers every page carries
            assert answer.status_code == 404, (path, answer.body)
            assert_safe_headers(
                f"GET {path}",
                answer,
                signed_in=True,
                https=public_url.startswith("https://"),
                public_url=public_url,
            )


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
