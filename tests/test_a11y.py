"""Every page a person can see passes axe-core, at a desk's width and at a phone's.

axe-core (through axe-playwright-python) runs its WCAG 2 A and AA rules and its best
practices in headless Chromium, against the `make run` stack over HTTP, as in
tests/test_e2e_browser.py (whose fixtures and sign-in steps these tests share). Only the
browser context bypasses the pages' CSP: Playwright evaluates axe's script in the page, and
`default-src 'none'` refuses any script. The headers themselves are tests/test_headers.py's.
Each page is also saved as build/screenshots/<page>-<width>.png, to be looked at.

Besides axe: form controls' borders stand out from their background (WCAG 1.4.11, which
axe does not check), and the stylesheet's text colours are readable wherever they are used,
on pages of this run or not.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.stack_fixture import PROJECT_DIR, StackProcess, stack
from tests.test_e2e_browser import (
    browser_missing,
    chromium,
    new_page,
    open_authorize_page,
    screenshot,
    sign_in,
)

__all__ = ["chromium", "new_page", "stack"]  # fixtures, imported so pytest finds them here

pytestmark = pytest.mark.e2e

# A desk's screen and a phone's (an iPhone 12 to 15), width: height.
WIDTHS = {1280: 900, 390: 844}
STYLESHEET = PROJECT_DIR / "chalicelib" / "static" / "app.css"


@dataclass(frozen=True)
class Violation:
    """One element failing one axe rule."""

    rule: str
    impact: str
    target: str
    summary: str

    def __str__(self) -> str:
        return f"{self.rule} ({self.impact}) at {self.target}: {self.summary}"


def axe_violations(page: Any) -> list[Violation]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        Violation(
            rule["id"],
            rule["impact"],
            " ".join(str(part) for part in node["target"]),
            " ".join(node["failureSummary"].split()),
        )
        for rule in results.response["violations"]
        for node in rule["nodes"]
    ]


def at_every_width(page: Any, name: str) -> dict[int, list[Violation]]:
    """axe's violations on the page as it is, at each width (screenshots on the way)."""
    found = {}
    for width, height in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        screenshot(page, f"{name}-{width}")
        found[width] = axe_violations(page)
    return found


# --- The pages, each opened as a person gets there -------------------------------------------


def heading(page: Any) -> str:
    return str(page.get_by_role("heading", level=1).inner_text())


def home(page: Any, stack: StackProcess) -> None:
    page.goto(stack.url + "/")
    assert heading(page) == "How fast does your account answer?"


def home_signed_in(page: Any, stack: StackProcess) -> None:
    sign_in(page, stack, "fastbrand")
    page.goto(stack.url + "/")
    assert heading(page) == "Signed in as @fastbrand"


def report(page: Any, stack: StackProcess) -> None:
    sign_in(page, stack, "fastbrand")
    assert heading(page) == "How @fastbrand answers its mentions"
    # Every disclosure opened, so that what is behind it is checked too: the left-out
    # mentions, each chart's numbers.
    page.locator("#left-out summary").click()
    assert page.locator("#left-out ul.posts").first.is_visible()
    page.locator("details:not([open]) > summary").evaluate_all(
        "summaries => summaries.forEach(summary => summary.click())"
    )


def report_in_london(page: Any, stack: StackProcess) -> None:
    sign_in(page, stack, "fastbrand")
    page.goto(stack.url + "/report?tz=Europe/London&hours=09:00-17:00")
    zone = page.get_by_role("heading", name="When mentions arrive").inner_text()
    assert zone.endswith("(Europe/London)")
    assert page.locator("#agents thead").inner_text().strip().endswith("Business hours")


def report_over_a_clock_change(page: Any, stack: StackProcess) -> None:
    # 90 days back from any day of December reach 25 October 2026, when London's clocks go
    # back: that day is 25 hours long, and the daily rows are London's dates
    sign_in(page, stack, "fastbrand")
    page.goto(stack.url + "/report?days=90&tz=Europe/London")
    page.locator("details:not([open]) > summary").evaluate_all(
        "summaries => summaries.forEach(summary => summary.click())"
    )
    days = page.locator("table", has_text="Median first reply").first.inner_text()
    assert "Europe/London" in page.locator("#main").inner_text()
    if "2026-10-25" not in days:  # the days are a window back from today's date
        pytest.skip("the 90-day window of today does not reach London's clock change")


def report_of_an_empty_day(page: Any, stack: StackProcess) -> None:
    sign_in(page, stack, "quietbrand")  # the demo brand nobody mentions
    page.goto(stack.url + "/report?days=1")
    assert page.locator("#lead").inner_text() == "Nobody mentioned @quietbrand in this window."


def settings_refused(page: Any, stack: StackProcess) -> None:
    sign_in(page, stack, "fastbrand")
    page.fill('input[name="hours"]', "nine to five")
    with page.expect_navigation():
        page.get_by_role("button", name="Save as my defaults").click()
    assert heading(page) == "Those settings cannot be saved"
    assert page.locator('input[name="hours"][aria-invalid="true"]').is_visible()


def forget_asks(page: Any, stack: StackProcess) -> None:
    sign_in(page, stack, "fastbrand")
    with page.expect_navigation():
        page.get_by_role("button", name="Forget my account").click()
    assert heading(page) == "Forget @fastbrand?"


def forgotten(page: Any, stack: StackProcess) -> None:
    sign_in(page, stack, "slowbrand")  # forgotten for good: no other test here reads it
    with page.expect_navigation():
        page.get_by_role("button", name="Forget my account").click()
    with page.expect_navigation():
        page.get_by_role("button", name="Yes, forget my account").click()
    assert heading(page) == "We forgot @slowbrand"


def x_not_answering(page: Any, stack: StackProcess) -> None:
    answer = page.context.request.post(
        stack.x_url + "/_emulator/fail",
        data={"template": "POST /oauth/request_token", "mode": "503"},
    )
    assert answer.ok, answer.text()
    page.goto(stack.url + "/")
    page.get_by_role("link", name="Sign in with X").click()
    page.wait_for_url(stack.url + "/auth")
    assert heading(page) == "X is not answering"


def sign_in_cancelled(page: Any, stack: StackProcess) -> None:
    open_authorize_page(page, stack)
    page.get_by_role("button", name="Cancel").click()
    page.wait_for_url(re.compile(re.escape(stack.url) + r"/callback\?denied="))
    assert heading(page) == "Sign-in cancelled"


def waiting_list(page: Any, stack: StackProcess) -> None:
    sign_in(page, stack, "fastbrand")
    page.goto(stack.url + "/report/waiting?sort=oldest")
    assert heading(page) == "People still waiting for an answer"


def slowest_list(page: Any, stack: StackProcess) -> None:
    sign_in(page, stack, "fastbrand")
    page.goto(stack.url + "/report/slowest")
    assert heading(page) == "Every answer, slowest first"


# Each page by the name its screenshots take (build/screenshots/<name>-<width>.png).
PAGES: dict[str, Callable[[Any, StackProcess], None]] = {
    "home": home,
    "home-signed-in": home_signed_in,
    "report": report,
    "report-london": report_in_london,
    "report-empty": report_of_an_empty_day,
    "report-clock-change": report_over_a_clock_change,
    "settings-refused": settings_refused,
    "forget": forget_asks,
    "forgotten": forgotten,
    "x-not-answering": x_not_answering,
    "cancelled": sign_in_cancelled,
    "waiting": waiting_list,
    "slowest": slowest_list,
}


@pytest.fixture
def person(new_page: Callable[..., Any]) -> Any:
    """A page of a browser of her own, with the CSP bypassed so that axe can run."""
    try:
        import axe_playwright_python  # noqa: F401
    except ImportError:
        browser_missing("the axe-playwright-python package is missing: make test installs it")
    return new_page(bypass_csp=True)


@pytest.mark.parametrize("name", PAGES)
def test_the_page_has_no_axe_violation(name: str, person: Any, stack: StackProcess) -> None:
    # GIVEN a person who has opened the page as she would
    PAGES[name](person, stack)

    # WHEN axe checks it at a desk's width and at a phone's
    found = at_every_width(person, name)

    # THEN it finds nothing at either
    assert {width: [str(v) for v in violations] for width, violations in found.items()} == {
        width: [] for width in WIDTHS
    }


# --- Contrast that axe does not check --------------------------------------------------------


def luminance(rgb: tuple[float, float, float]) -> float:
    """WCAG 2's relative luminance of an sRGB colour (channels 0-255)."""

    def linear(channel: float) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    red, green, blue = (linear(channel) for channel in rgb)
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(one: tuple[float, float, float], other: tuple[float, float, float]) -> float:
    light, dark = sorted((luminance(one), luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def rgb(css: str) -> tuple[float, float, float]:
    """`rgb(1, 2, 3)` (a computed style) or `#abc` / `#aabbcc` (the stylesheet)."""
    if css.startswith("#"):
        digits = css[1:] if len(css) == 7 else "".join(digit * 2 for digit in css[1:])
        red, green, blue = (int(digits[index : index + 2], 16) for index in (0, 2, 4))
        return float(red), float(green), float(blue)
    channels = [float(value) for value in re.findall(r"[\d.]+", css)[:3]]
    return channels[0], channels[1], channels[2]


# Each form control's border colour, and the colour behind the control (the nearest
# ancestor's opaque background), as computed.
CONTROL_BORDERS = """() => [...document.querySelectorAll('input:not([type=hidden]), select')]
  .filter(control => control.getClientRects().length > 0)
  .map(control => {
    let behind = control.parentElement;
    while (behind && getComputedStyle(behind).backgroundColor === 'rgba(0, 0, 0, 0)')
      behind = behind.parentElement;
    return [control.name, getComputedStyle(control).borderTopColor,
            behind ? getComputedStyle(behind).backgroundColor : 'rgb(255, 255, 255)'];
  })"""


@pytest.mark.parametrize("name", ["report", "settings-refused"])
def test_form_controls_stand_out_from_what_is_behind_them(
    name: str, person: Any, stack: StackProcess
) -> None:
    # GIVEN a page with the settings form
    PAGES[name](person, stack)

    # WHEN we read each control's border and what lies behind it
    borders = person.evaluate(CONTROL_BORDERS)

    # THEN each border has 3:1 against it (WCAG 1.4.11), the marked field's too
    assert len(borders) >= 8
    weak = [
        (field, border, round(contrast(rgb(border), rgb(behind)), 2))
        for field, border, behind in borders
        if contrast(rgb(border), rgb(behind)) < 3
    ]
    assert weak == []


# The stylesheet's colours as (text, background) pairs wherever a rule puts one on the
# other: some only appear when X fails or a figure got worse, so no run may show them all.
TEXT_ON_BACKGROUND = [
    *((text, background) for text in ("ink", "muted", "accent") for background in ("card", "bg")),
    ("good", "card"),
    ("bad", "card"),
    ("placeholder", "card"),
    ("bad", "#fff7ed"),  # .stale
    ("#fff", "ink"),  # .button
]


def test_every_text_colour_of_the_stylesheet_is_readable() -> None:
    # GIVEN the stylesheet's custom properties
    text = STYLESHEET.read_text()
    root = re.search(r":root\s*{([^}]*)}", text)
    assert root is not None
    colours = dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{3,6})", root.group(1)))

    def colour(name: str) -> tuple[float, float, float]:
        return rgb(name if name.startswith("#") else colours[name])

    # THEN each text colour has 4.5:1 on each background it is used on (WCAG 1.4.3)
    poor = [
        (fore, back, round(contrast(colour(fore), colour(back)), 2))
        for fore, back in TEXT_ON_BACKGROUND
        if contrast(colour(fore), colour(back)) < 4.5
    ]
    assert poor == []
    # AND a control's border has 3:1 on a card (WCAG 1.4.11)
    assert contrast(colour("control"), colour("card")) >= 3
    assert "border: 1px solid var(--control)" in text
