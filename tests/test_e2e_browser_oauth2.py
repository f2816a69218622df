"""A person in headless Chromium signing in over OAuth 2.0, against `X_SIGN_IN=oauth2
make run`: X's consent page names the scopes asked, she lands on her report, Cancel
brings her to our cancelled page, and no state, code or cookie reaches the stack's output."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.stack_fixture import StackProcess, local_stack_process
from tests.test_e2e_browser import chromium, new_page, remember_cookies, report_json, screenshot

__all__ = ["chromium", "new_page"]  # the fixtures, imported so pytest finds them here

pytestmark = pytest.mark.e2e

SECRETS: set[str] = set()  # every state and code the browser carried


@pytest.fixture(scope="module")
def stack() -> Iterator[StackProcess]:
    """`X_SIGN_IN=oauth2 make run` (new_page's `stack` here is this one)."""
    with local_stack_process(X_SIGN_IN="oauth2") as running:
        yield running


def open_consent_page(page: Any, stack: StackProcess) -> None:
    page.goto(stack.url + "/")
    page.get_by_role("link", name="Sign in with X").click()
    page.wait_for_url(stack.x_url + "/i/oauth2/authorize?**")
    SECRETS.update(parse_qs(urlsplit(page.url).query)["state"])
    remember_cookies(page)


def test_sign_in_over_oauth2_lands_on_the_report(
    new_page: Callable[[], Any], stack: StackProcess
) -> None:
    # GIVEN a person on X's consent page
    page = new_page()
    callbacks: list[str] = []
    page.on(
        "request",
        lambda request: callbacks.append(request.url) if "/callback?" in request.url else None,
    )
    open_consent_page(page, stack)

    # THEN it names what we ask for: reading posts and users, and staying signed in
    scopes = page.locator("ul.scopes li").all_inner_texts()
    assert scopes == ["tweet.read", "users.read", "offline.access"]
    screenshot(page, "authorize-oauth2")

    # WHEN she picks @slowbrand and presses "Authorize app"
    page.locator('input[name="username"][value="slowbrand"]').check()
    page.get_by_role("button", name="Authorize app").click()
    page.wait_for_url(stack.url + "/report")
    remember_cookies(page)

    # THEN she reads her own report
    heading = page.get_by_role("heading", level=1).inner_text()
    assert heading == "How @slowbrand answers its mentions"
    assert report_json(page, stack)["account"]["username"] == "slowbrand"
    [callback] = callbacks
    SECRETS.update(parse_qs(urlsplit(callback).query)["code"])
    screenshot(page, "report-oauth2")


def test_cancel_on_the_consent_page_shows_the_cancelled_page(
    new_page: Callable[[], Any], stack: StackProcess
) -> None:
    page = new_page()
    open_consent_page(page, stack)

    page.get_by_role("button", name="Cancel").click()

    page.wait_for_url(re.compile(re.escape(stack.url) + r"/callback\?error=access_denied"))
    assert page.get_by_role("heading", level=1).inner_text() == "Sign-in cancelled"
    assert page.get_by_role("link", name="Sign in with X").is_visible()
    assert page.context.cookies() == []


def test_no_state_code_or_cookie_reaches_the_stack_output(stack: StackProcess) -> None:
    from tests.test_e2e_browser import SECRETS as COOKIES

    secrets = {value for value in SECRETS | COOKIES if value}
    if not SECRETS:
        pytest.skip("no browser test ran before this one in this module")
    output = stack.output()
    assert "sign-in completed" in output
    assert [secret for secret in secrets if secret in output] == []
