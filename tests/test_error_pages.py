"""Our own page for every answer: a path no route has, a method a path does not take, HEAD,
a form sent as Chalice would refuse it, an exception no view caught.

Deployed, API Gateway answers a path no route has by itself: infra/resources.json gives it
our words and headers (RestAPI's GatewayResponses). Every other method of a known path is
routed to the function (app.py's last loop), which answers our 405 with Allow. Locally
local.stack's LocalApiGateway plays API Gateway from the same GatewayResponses; these
tests go through it with Chalice's test client (tests/gateway_client.py), and over real
HTTP through the `make run` stack.
"""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
import pytest
import requests

from chalicelib.pages import security_headers
from chalicelib.web import FORM_ADDRESS, STATUS_PAGES
from local.resources import load_template
from local.stack import GatewayResponses, resolve, static_value, template_type
from tests.browser import Browser
from tests.gateway_client import gateway_client
from tests.stack_fixture import StackProcess, stack
from tests.test_headers import assert_page_needs_nothing_the_policy_forbids
from tests.test_stack_http import HttpBrowser

__all__ = ["gateway_client", "stack"]  # the fixtures, imported so pytest finds them here

ORIGIN = "http://127.0.0.1:8000"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
UNKNOWN_PATHS = ("/nope", "/report/x", "/static/nope.css")
NOT_FOUND = STATUS_PAGES[404][0]
NOT_ALLOWED = STATUS_PAGES[405][0]
# What every page carries (the stylesheet is public and cacheable; it is not a page).
PAGE_HEADERS = {name.lower(): value for name, value in security_headers(hsts=False).items() if name}
TIMEOUT_S = 15


def gateway_responses() -> dict[str, Any]:
    responses: dict[str, Any] = load_template()["Resources"]["RestAPI"]["Properties"][
        "GatewayResponses"
    ]
    return responses


def lower(headers: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def assert_our_headers(label: str, headers: dict[str, str]) -> None:
    for name, value in PAGE_HEADERS.items():
        assert headers.get(name) == value, (label, name, headers.get(name))


def items_of_kind(aws: dict[str, str], kind: str) -> list[dict[str, Any]]:
    items = boto3.client("dynamodb").scan(TableName=aws["TABLE_NAME"])["Items"]
    return [item for item in items if item["kind"]["S"] == kind]


# --- What API Gateway answers by itself, as infra/resources.json words it --------------


def test_api_gateway_s_own_answers_carry_our_headers_and_our_words() -> None:
    responses = gateway_responses()

    # THEN the answers that never reach the function are ours: no such path (404, not
    #      API Gateway's 403), too many requests (429), and any other 4xx or 5xx
    assert set(responses) >= {"MISSING_AUTHENTICATION_TOKEN", "THROTTLED"}
    assert set(responses) >= {"DEFAULT_4XX", "DEFAULT_5XX"}
    assert responses["MISSING_AUTHENTICATION_TOKEN"]["StatusCode"] == "404"
    assert responses["THROTTLED"]["StatusCode"] == "429"
    # ... each with the headers of every page (HTTPS only, deployed: HSTS too), as static
    #     values in API Gateway's quotes
    expected = {name: f"'{value}'" for name, value in security_headers(hsts=True).items()}
    for kind, response in responses.items():
        assert response["ResponseParameters"] == {"Headers": expected}, kind
        assert set(response["ResponseTemplates"]) == {"text/html", "application/json"}, kind
    # ... in the words the function uses for the same statuses
    pairs = (("MISSING_AUTHENTICATION_TOKEN", 404), ("DEFAULT_4XX", 400), ("DEFAULT_5XX", 500))
    for kind, status in pairs:
        title, message = STATUS_PAGES[status]
        html = resolve(responses[kind]["ResponseTemplates"]["text/html"], "")
        assert f"<h1>{title}</h1>" in html and f"<p>{message}</p>" in html, kind
        assert json.loads(responses[kind]["ResponseTemplates"]["application/json"]) == {
            "error": title
        }


@pytest.mark.parametrize(
    ("public_url", "stylesheet"),
    [
        ("", "/api/static/app.css"),  # the API's own URL: its stage is the path's first part
        ("https://rt.example.com", "https://rt.example.com/static/app.css"),
        ("https://example.com/rt", "https://example.com/rt/static/app.css"),
    ],
)
def test_api_gateway_s_pages_are_styled_by_our_stylesheet_and_need_no_more(
    public_url: str, stylesheet: str
) -> None:
    for kind, response in gateway_responses().items():
        html = resolve(response["ResponseTemplates"]["text/html"], public_url)
        # THEN the page links our stylesheet where the stack serves it
        assert f'<link rel="stylesheet" href="{stylesheet}">' in html, kind
        # ... shaped as our pages are (app.css styles these classes), with a way home
        for shape in ('class="bar"', 'class="brand"', 'class="message"', 'class="button"'):
            assert shape in html, (kind, shape)
        # ... and needs nothing the policy forbids: no script, no inline style, no other site
        own = public_url or "/api"
        assert_page_needs_nothing_the_policy_forbids(kind, html, own)
        # ... nor anything API Gateway would substitute ($context...) or escape
        assert "$" not in html and "${" not in html, kind
        assert html.isascii(), kind


def test_the_local_gateway_picks_a_template_as_api_gateway_does() -> None:
    templates = {"text/html": "<p>page</p>", "application/json": "{}"}
    # a browser names text/html first; a script names */* or nothing: JSON
    assert template_type(templates, {"Accept": BROWSER_ACCEPT}) == "text/html"
    assert template_type(templates, {"accept": "application/json, text/html"}) == (
        "application/json"
    )
    assert template_type(templates, {"accept": "*/*"}) == "application/json"
    assert template_type(templates, {}) == "application/json"
    assert template_type({"text/html": ""}, {}) == "text/html"
    assert static_value("'no-store'") == "no-store"
    with pytest.raises(ValueError):
        static_value("method.request.header.accept")  # a mapping, which we never use


def test_the_local_gateway_sends_hsts_only_for_an_https_public_url() -> None:
    responses = GatewayResponses.from_template()
    kind = "MISSING_AUTHENTICATION_TOKEN"
    local = responses.answer(kind, {"accept": "text/html"}, "http://127.0.0.1:8000")
    deployed = responses.answer(kind, {"accept": "text/html"}, "https://rt.example.com")
    assert "Strict-Transport-Security" not in local["headers"]
    assert deployed["headers"]["Strict-Transport-Security"].startswith("max-age=")
    assert local["statusCode"] == deployed["statusCode"] == 404
    assert local["headers"]["Content-Type"] == "text/html"
    assert 'href="http://127.0.0.1:8000/static/app.css"' in local["body"]


# --- Through Chalice's test client, behind the local stand-in for API Gateway -------------


def test_a_path_no_route_has_gets_our_404_page(gateway_client: Any) -> None:
    browser = Browser(gateway_client)
    for path in UNKNOWN_PATHS:
        # WHEN a browser asks for a path no route has
        page = browser.get(path, headers={"accept": BROWSER_ACCEPT})
        # THEN our 404 page, with our headers
        assert page.status_code == 404, path
        assert page.headers["content-type"] == "text/html"
        assert f"<h1>{NOT_FOUND}</h1>" in page.body.decode(), path
        assert 'href="http://127.0.0.1:8000/static/app.css"' in page.body.decode()
        assert_our_headers(path, page.headers)
        # ... and a script the same in JSON
        script = browser.get(path)
        assert script.status_code == 404
        assert json.loads(script.body) == {"error": NOT_FOUND}
        assert_our_headers(path, script.headers)
        # ... and HEAD the same without the body
        head = gateway_client.http.head(path)
        assert (head.status_code, head.body) == (404, b"")


def test_a_form_s_address_opened_as_a_page_gets_our_405_with_allow(gateway_client: Any) -> None:
    browser = Browser(gateway_client)
    # WHEN someone opens /logout (typed in, or a link)
    answer = browser.get("/logout", headers={"accept": BROWSER_ACCEPT})
    # THEN our 405 page says what the address is for, and Allow names its method
    assert answer.status_code == 405
    assert answer.headers["allow"] == "POST"
    body = answer.body.decode()
    assert f"<h1>{NOT_ALLOWED}</h1>" in body and FORM_ADDRESS in body
    assert 'href="/"' in body  # a way home
    assert_our_headers("GET /logout", answer.headers)


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("POST", "/", "GET, HEAD"),
        ("PUT", "/report", "GET, HEAD"),
        ("DELETE", "/settings", "POST"),
        ("OPTIONS", "/", "GET, HEAD"),  # no CORS: a preflight from another site fails
        ("PATCH", "/static/app.css", "GET, HEAD"),
        ("HEAD", "/logout", "POST"),
    ],
)
def test_a_method_a_path_does_not_take_gets_our_405(
    gateway_client: Any, method: str, path: str, allow: str
) -> None:
    headers = {"content-type": "application/x-www-form-urlencoded", "origin": ORIGIN}
    answer = gateway_client.http.request(method, path, headers=headers, body=b"a=1")
    assert answer.status_code == 405, answer.body
    assert lower(answer.headers)["allow"] == allow
    assert_our_headers(f"{method} {path}", lower(answer.headers))
    if method == "HEAD":
        assert answer.body == b""
    else:
        assert f"<h1>{NOT_ALLOWED}</h1>" in answer.body.decode()


def test_a_script_s_route_answers_405_in_json(gateway_client: Any) -> None:
    answer = gateway_client.http.request("POST", "/report.json")
    assert answer.status_code == 405
    assert json.loads(answer.body) == {"error": NOT_ALLOWED}
    assert lower(answer.headers)["allow"] == "GET, HEAD"
    assert lower(answer.headers)["content-type"] == "application/json"


def test_head_answers_as_get_does_without_the_body(gateway_client: Any, browser: Browser) -> None:
    # GIVEN a person signed in, and a stranger
    assert browser.sign_in("fastbrand").status_code == 302
    statuses = []
    for cookie in (browser.cookie_header(), {}):
        for path in ("/", "/report", "/static/app.css"):
            # WHEN a monitor (or `curl -I`) asks for a page with HEAD
            get = gateway_client.http.get(path, headers=cookie)
            head = gateway_client.http.head(path, headers=cookie)
            # THEN the status and headers GET gets, and no body
            assert head.status_code == get.status_code, path
            assert head.body == b"", path
            assert lower(head.headers) == lower(get.headers), path
            statuses.append(head.status_code)
    assert statuses == [200, 200, 200, 200, 302, 200]  # a stranger's /report: home


def test_a_bodiless_post_to_logout_signs_out(
    gateway_client: Any, browser: Browser, aws: dict[str, str]
) -> None:
    for content_type, body in (
        (None, b""),
        ("text/plain;charset=UTF-8", b""),
        ("application/json", b"{}"),
    ):
        # GIVEN a person signed in
        assert browser.sign_in("fastbrand").status_code == 302
        assert len(items_of_kind(aws, "session")) == 1
        headers = {**browser.cookie_header(), "origin": ORIGIN}
        if content_type:
            headers["content-type"] = content_type
        # WHEN a script (fetch, curl -X POST) posts to /logout with no form
        answer = gateway_client.http.request("POST", "/logout", headers=headers, body=body)
        # THEN she is signed out, as by the button: home, cookie cleared, session gone
        assert answer.status_code == 303, (content_type, answer.body)
        assert lower(answer.headers)["location"] == "/"
        assert "Max-Age=0" in lower(answer.headers)["set-cookie"]
        assert items_of_kind(aws, "session") == []
        browser.cookies.clear()


def test_a_bodiless_post_to_logout_from_another_site_is_refused(
    gateway_client: Any, browser: Browser, aws: dict[str, str]
) -> None:
    assert browser.sign_in("fastbrand").status_code == 302
    headers = {**browser.cookie_header(), "origin": "https://evil.example"}
    answer = gateway_client.http.request("POST", "/logout", headers=headers)
    assert answer.status_code == 403
    assert "set-cookie" not in lower(answer.headers)
    assert len(items_of_kind(aws, "session")) == 1


def test_a_form_chalice_cannot_take_gets_our_415_page(gateway_client: Any) -> None:
    # WHEN /forget gets JSON where its form should be
    answer = gateway_client.http.request(
        "POST",
        "/forget",
        headers={"content-type": "application/json", "origin": ORIGIN},
        body=b"{}",
    )
    # THEN our page, not Chalice's {"Code": "UnsupportedMediaType", ...}
    assert answer.status_code == 415
    assert f"<h1>{STATUS_PAGES[415][0]}</h1>" in answer.body.decode()
    assert_our_headers("POST /forget", lower(answer.headers))


def test_an_exception_no_view_caught_gets_our_500_page(
    gateway_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib import web

    def broken(request: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(web, "home", broken)
    answer = gateway_client.http.get("/")
    assert answer.status_code == 500
    body = answer.body.decode()
    assert f"<h1>{STATUS_PAGES[500][0]}</h1>" in body
    assert "a bug" not in body and "Traceback" not in body
    assert_our_headers("GET / (broken)", lower(answer.headers))


# --- Over HTTP, through the `make run` stack ---------------------------------------------


def test_the_local_stack_answers_every_unknown_path_and_method_with_our_pages(
    stack: StackProcess,
) -> None:
    http = requests.Session()

    def call(method: str, path: str, **kwargs: Any) -> requests.Response:
        return http.request(
            method, stack.url + path, allow_redirects=False, timeout=TIMEOUT_S, **kwargs
        )

    for path in UNKNOWN_PATHS:
        page = call("GET", path, headers={"accept": BROWSER_ACCEPT})
        assert page.status_code == 404, path
        assert f"<h1>{NOT_FOUND}</h1>" in page.text
        assert f'href="{stack.url}/static/app.css"' in page.text
        assert_our_headers(path, lower(page.headers))
        assert "strict-transport-security" not in lower(page.headers)  # plain http
        assert call("GET", path).json() == {"error": NOT_FOUND}
        head = call("HEAD", path)  # and the connection stays usable after it
        assert (head.status_code, head.content) == (404, b"")

    logout_page = call("GET", "/logout", headers={"accept": BROWSER_ACCEPT})
    assert logout_page.status_code == 405
    assert logout_page.headers["allow"] == "POST"
    assert FORM_ADDRESS in logout_page.text
    assert_our_headers("GET /logout", lower(logout_page.headers))

    get, head = call("GET", "/"), call("HEAD", "/")
    assert head.status_code == get.status_code == 200
    assert head.content == b""
    same = ("content-type", *PAGE_HEADERS)
    assert {n: head.headers.get(n) for n in same} == {n: get.headers.get(n) for n in same}

    # AND the stack's log says what was asked, as for any route
    assert re.search(r'"GET /report/x" 404', stack.output())
    assert re.search(r'"GET /logout" 405', stack.output())


def test_a_bodiless_post_signs_out_through_the_local_stack(stack: StackProcess) -> None:
    # GIVEN a person signed in over HTTP
    person = HttpBrowser(stack, "fastbrand")
    person.sign_in()
    assert person.get("/report").status_code == 200
    # WHEN a script posts to /logout with no body and no Content-Type (`curl -X POST`)
    answer = person.http.post(
        stack.url + "/logout",
        headers={"origin": stack.url},
        allow_redirects=False,
        timeout=TIMEOUT_S,
    )
    # THEN she is signed out: home, the cookie cleared, and her report asks her to sign in
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/"
    assert "Max-Age=0" in answer.headers["set-cookie"]
    assert person.cookie() is None
    assert person.get("/report").status_code == 302
