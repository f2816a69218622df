"""Our 404 page (API Gateway's own answer, as infra/resources.json words it and the local
stack plays it) and our 405 page in headless Chromium, at a desk's width and a phone's:
styled by our stylesheet, nothing blocked by the policy, nothing wider than the screen.
Screenshots land in build/screenshots/not-found-*.png and not-allowed-*.png."""

from __future__ import annotations

from typing import Any

import pytest

from tests.stack_fixture import StackProcess, stack
from tests.test_e2e_browser import chromium, new_page, screenshot

__all__ = ["chromium", "new_page", "stack"]  # the fixtures, imported so pytest finds them

pytestmark = pytest.mark.e2e

WIDTHS = (1280, 390)


def look(new_page: Any, url: str, width: int) -> tuple[Any, Any, list[str]]:
    """The page at `url` in a browser `width` px wide; its answer, and what the console
    reported (a blocked stylesheet says so there)."""
    page = new_page(viewport={"width": width, "height": 800})
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    answer = page.goto(url)
    return page, answer, console


@pytest.mark.parametrize("width", WIDTHS)
def test_the_404_page_looks_like_ours(new_page: Any, stack: StackProcess, width: int) -> None:
    # WHEN a person follows a link to a page that does not exist
    page, answer, console = look(new_page, stack.url + "/report/old-link", width)

    # THEN she sees our 404 page, styled like every other page, with a way home
    assert answer.status == 404
    assert page.title() == "Page not found · responsetime"
    assert page.locator("h1").inner_text() == "Page not found"
    card = page.locator(".message")
    assert card.evaluate("e => getComputedStyle(e).borderTopLeftRadius") == "12px"  # app.css
    assert page.locator("a.button").get_attribute("href") == stack.url + "/"
    # ... nothing the policy blocked (the console would say), nothing wider than the screen
    assert not [line for line in console if "Content Security Policy" in line], console
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    screenshot(page, f"not-found-{width}")

    # WHEN she presses the button THEN she is home
    page.locator("a.button").click()
    page.wait_for_load_state()
    assert page.url == stack.url + "/"
    assert "Sign in with X" in page.content()


@pytest.mark.parametrize("width", WIDTHS)
def test_a_form_s_address_opened_as_a_page_looks_like_ours(
    new_page: Any, stack: StackProcess, width: int
) -> None:
    page, answer, console = look(new_page, stack.url + "/logout", width)
    assert answer.status == 405
    assert answer.headers["allow"] == "POST"
    assert page.locator("h1").inner_text() == "Not available this way"
    card = page.locator(".message")
    assert card.evaluate("e => getComputedStyle(e).borderTopLeftRadius") == "12px"
    assert not [line for line in console if "Content Security Policy" in line], console
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    screenshot(page, f"not-allowed-{width}")
