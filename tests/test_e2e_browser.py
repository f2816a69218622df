"""A person in headless Chromium, from sign-in to report, against the `make run` stack.

Only a real browser proves that the cookie survives the round trip through X, that the
page shows the report's figures and that its charts render, that printing it keeps the
report and drops the controls, and that on a phone its tables keep their key figure in
view. Debian's Chromium is driven through Playwright's Python package; tests/test_a11y.py
shares the fixtures and sign-in steps below. Screenshots land in build/screenshots/;
`UPDATE_SCREENSHOTS=1` also refreshes docs/report.png, the one the README shows.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.stack_fixture import PROJECT_DIR, StackProcess, stack

__all__ = ["stack"]  # the module-scoped fixture, imported so pytest finds it here

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
SCREENSHOTS = PROJECT_DIR / "build" / "screenshots"
DOCS_SCREENSHOT = PROJECT_DIR / "docs" / "report.png"
VIEWPORT = {"width": 1280, "height": 900}
LOOPBACK = "127.0.0.1"
# Every cookie value and OAuth verifier the browsers saw; none may reach the stack's output.
SECRETS: set[str] = set()


def browser_missing(reason: str) -> None:
    """In CI a missing browser fails the run; on a developer's machine the tests skip."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: the browser tests must run)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        browser_missing(f"{CHROMIUM} is missing: apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        browser_missing("the playwright package is missing: make test installs it")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def new_page(chromium: Any, stack: StackProcess) -> Iterator[Callable[..., Any]]:
    """Pages, each in a browser context of its own (a separate person's cookie jar).

    Every request a page makes is recorded; at the end all must have gone to 127.0.0.1.
    """
    contexts: list[Any] = []
    requested: list[str] = []

    def record(request: Any) -> None:
        requested.append(request.url)
        verifier = parse_qs(urlsplit(request.url).query).get("oauth_verifier")
        if verifier:
            SECRETS.update(verifier)

    def make(**options: Any) -> Any:
        """A page in a new context; `options` add to or override Playwright's
        `new_context` arguments (viewport, bypass_csp, ...)."""
        settings = {"viewport": VIEWPORT, "locale": "en-US", "timezone_id": "UTC", **options}
        context = chromium.new_context(**settings)
        context.set_default_timeout(15_000)
        context.on("request", record)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        SECRETS.update(cookie["value"] for cookie in context.cookies() if cookie["value"])
        context.close()
    outside = [
        url
        for url in requested
        if urlsplit(url).scheme not in ("data", "about", "blob")
        and urlsplit(url).hostname != LOOPBACK
    ]
    assert requested, "no request was recorded"
    assert outside == [], "pages made requests outside 127.0.0.1"


def screenshot(page: Any, name: str, *, full_page: bool = True) -> Path:
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def remember_cookies(page: Any) -> None:
    SECRETS.update(cookie["value"] for cookie in page.context.cookies() if cookie["value"])


def open_authorize_page(page: Any, stack: StackProcess) -> None:
    """Open / and follow "Sign in with X" to X's authorize page."""
    page.goto(stack.url + "/")
    page.get_by_role("link", name="Sign in with X").click()
    page.wait_for_url(stack.x_url + "/oauth/authenticate?**")
    remember_cookies(page)


def authorize_as(page: Any, stack: StackProcess, username: str) -> None:
    """Pick `username` on X's authorize page, press "Authorize app", land on the report."""
    page.locator(f'input[name="username"][value="{username}"]').check()
    page.get_by_role("button", name="Authorize app").click()
    page.wait_for_url(stack.url + "/report")
    remember_cookies(page)


def sign_in(page: Any, stack: StackProcess, username: str) -> None:
    open_authorize_page(page, stack)
    authorize_as(page, stack, username)


def report_json(page: Any, stack: StackProcess) -> dict[str, Any]:
    """/report.json with the page's own cookies (the context's request API shares them)."""
    answer = page.context.request.get(stack.url + "/report.json")
    assert answer.status == 200
    body: dict[str, Any] = answer.json()
    return body


def figure(page: Any, card: str) -> str:
    return str(page.locator(f"#{card} .figure").inner_text()).strip()


def test_sign_in_lands_on_a_report_with_the_json_figures_and_charts(
    new_page: Callable[[], Any], stack: StackProcess
) -> None:
    from chalicelib.formats import duration
    from chalicelib.report_view import percent

    # GIVEN a person on the home page
    page = new_page()
    page.goto(stack.url + "/")
    assert page.get_by_role("heading", level=1).inner_text() == "How fast does your account answer?"
    screenshot(page, "home")

    # WHEN she signs in with X as @fastbrand
    page.get_by_role("link", name="Sign in with X").click()
    page.wait_for_url(stack.x_url + "/oauth/authenticate?**")
    assert page.get_by_text("@slowbrand").is_visible()
    screenshot(page, "authorize")
    authorize_as(page, stack, "fastbrand")

    # THEN she reads her report: the headline figures are those of /report.json
    body = report_json(page, stack)
    assert body["account"]["username"] == "fastbrand"
    assert body["mentions"] > 0
    heading = page.get_by_role("heading", level=1).inner_text()
    assert heading == "How @fastbrand answers its mentions"
    stats = body["first_response_seconds"]
    assert figure(page, "response-rate") == percent(body["response_rate"])
    assert figure(page, "median") == duration(stats["median"])
    assert figure(page, "p90") == duration(stats["p90"])
    assert figure(page, "within-target") == percent(body["within_target_rate"])
    answered = page.locator("#response-rate .label").inner_text()
    assert f"({body['answered']} of {body['mentions']})" in answered
    assert f"{body['mentions']} mentions" in page.locator("p.meta").first.inner_text()
    # AND the three charts are there, drawn at a size a person can see
    charts = page.locator("section.panel svg[role=img]").filter(visible=True)
    assert charts.count() == 3
    for index in range(3):
        box = charts.nth(index).bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 100, box
    assert page.locator("nav .who").inner_text() == "@fastbrand"
    screenshot(page, "report")
    # The README shows the top of the page: the headline figures and the three charts.
    chart_panels = page.locator("section.panel").filter(has=page.locator("svg[role=img]"))
    last_chart = chart_panels.nth(2).bounding_box()
    assert last_chart is not None
    top = SCREENSHOTS / "report-top.png"
    height = last_chart["y"] + last_chart["height"] + 16
    page.screenshot(
        path=str(top), full_page=True, clip={"x": 0, "y": 0, "width": 1280, "height": height}
    )
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        shutil.copyfile(top, DOCS_SCREENSHOT)


def test_the_support_sections_and_saved_settings(
    new_page: Callable[[], Any], stack: StackProcess
) -> None:
    from chalicelib.formats import duration
    from chalicelib.report_view import percent

    # GIVEN @fastbrand's report (its care team signs its replies; some mentions are crowds)
    page = new_page()
    sign_in(page, stack, "fastbrand")
    body = report_json(page, stack)

    # THEN the page leads with people, says what it counted, and shows who answered
    cases = body["cases"]
    lead = page.locator("#lead").inner_text()
    assert lead.startswith(f"{percent(cases['response_rate'])} of people answered")
    assert figure(page, "people-answered") == percent(cases["response_rate"])
    assert (
        f"{cases['count']} people in {body['mentions']} mentions"
        in page.locator("#counted").inner_text()
    )
    assert page.locator("#people-answered .change").inner_text().endswith("the 28 days before")
    agents = page.locator("#agents tbody tr")
    assert agents.count() == len(body["agents"]) >= 4
    first = body["agents"][0]
    assert agents.first.inner_text().split("\t")[:2] == [
        first["signature"] or "not signed",
        str(first["cases"]),
    ]
    # AND the left-out mentions sit behind a disclosure, with their reason
    crowd = body["excluded"]["crowd"]
    assert crowd > 0
    summary = page.locator("#left-out summary")
    assert f"Show the {crowd} mention" in summary.inner_text()
    assert not page.locator("#left-out ul.posts").first.is_visible()
    summary.click()
    assert page.locator("#left-out ul.posts li").count() == crowd
    assert page.locator("#waiting tbody tr").count() == len(body["waiting"])

    # WHEN she sets business hours in her zone and saves them as her defaults
    page.fill('input[name="hours"]', "09:00-17:00")
    page.select_option('select[name="tz"]', "Europe/London")
    page.fill('input[name="target"]', "30")
    with page.expect_navigation():
        page.get_by_role("button", name="Save as my defaults").click()

    # THEN she is back on her report, which now leads with business hours
    assert page.url == stack.url + "/report"
    saved = report_json(page, stack)
    assert saved["settings"]["hours"] == {"value": "09:00-17:00", "source": "saved"}
    assert saved["settings"]["tz"] == {"value": "Europe/London", "source": "saved"}
    assert saved["target_seconds"] == 1800
    business = saved["cases"]["first_response_business_seconds"]
    assert (
        page.locator("#lead")
        .inner_text()
        .endswith(f"median {duration(business['median'])} in business hours")
    )
    assert (
        "business hours Mon-Fri 09:00-17:00 Europe/London" in page.locator("#counted").inner_text()
    )
    assert figure(page, "people-median-business") == duration(business["median"])
    assert page.locator('input[name="hours"]').input_value() == "09:00-17:00"
    assert page.locator("#agents thead").inner_text().strip().endswith("Business hours")
    # AND a new visit, with no query at all, uses them too
    page.goto(stack.url + "/report")
    # (the form sent every field it showed, so the default workdays and crowd are kept too)
    assert "Saved: target, tz, hours, workdays, crowd." in page.locator("#settings").inner_text()
    screenshot(page, "report-business-hours")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "report-business-hours-390")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways at 390 px ({width} px wide)"
    first, second = (page.locator(".cards .card").nth(i).bounding_box() for i in (0, 1))
    assert first and second and first["y"] == second["y"], "two cards a row on a phone"

    # Leave @fastbrand as the other tests expect it: no saved settings.
    with page.expect_navigation():
        page.evaluate(
            "() => { for (const f of document.querySelectorAll('form.settings input')) "
            "f.value = ''; }"
        )
        page.get_by_role("button", name="Save as my defaults").click()
    assert report_json(page, stack)["settings"]["hours"]["source"] == "default"


def test_cancel_at_x_shows_the_cancelled_page(
    new_page: Callable[[], Any], stack: StackProcess
) -> None:
    # GIVEN a person on X's authorize page
    page = new_page()
    open_authorize_page(page, stack)

    # WHEN she presses Cancel
    page.get_by_role("button", name="Cancel").click()

    # THEN she is back with us, told nothing was shared, and offered another try
    page.wait_for_url(re.compile(re.escape(stack.url) + r"/callback\?denied="))
    assert page.get_by_role("heading", level=1).inner_text() == "Sign-in cancelled"
    assert page.get_by_text("Nothing was shared with us").is_visible()
    assert page.get_by_role("link", name="Sign in with X").is_visible()
    assert page.context.cookies() == []
    screenshot(page, "cancelled")


def test_sign_out_and_the_back_button_does_not_show_the_report(
    new_page: Callable[[], Any], stack: StackProcess
) -> None:
    # GIVEN a person reading her report
    page = new_page()
    sign_in(page, stack, "slowbrand")
    assert (
        page.get_by_role("heading", level=1).inner_text() == "How @slowbrand answers its mentions"
    )

    # WHEN she signs out
    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()

    # THEN she is on the signed-out home page, with no cookie left
    assert page.url == stack.url + "/", page.locator("h1").inner_text()
    assert page.get_by_role("link", name="Sign in with X").is_visible()
    assert page.context.cookies() == []
    screenshot(page, "signed-out")
    # AND the back button does not bring the report back
    page.go_back()
    page.wait_for_load_state()
    assert "answers its mentions" not in page.content()
    assert "@slowbrand" not in page.locator("body").inner_text()
    assert page.get_by_role("link", name="Sign in with X").is_visible()
    screenshot(page, "signed-out-back")


def test_two_people_at_once_each_see_their_own_report(
    new_page: Callable[[], Any], stack: StackProcess
) -> None:
    # GIVEN two people, each in a browser of her own, both on X's authorize page
    fast, slow = new_page(), new_page()
    open_authorize_page(fast, stack)
    open_authorize_page(slow, stack)

    # WHEN the second one finishes first
    authorize_as(slow, stack, "slowbrand")
    authorize_as(fast, stack, "fastbrand")

    # THEN each sees her own report, also after a reload
    for page, username in ((fast, "fastbrand"), (slow, "slowbrand")):
        page.reload()
        heading = page.get_by_role("heading", level=1).inner_text()
        assert heading == f"How @{username} answers its mentions"
        assert page.locator("nav .who").inner_text() == f"@{username}"
        assert report_json(page, stack)["account"]["username"] == username
    screenshot(slow, "report-slowbrand")


# What printing must drop (Print > Save as PDF): everything that only works on a screen.
SCREEN_ONLY = {
    "the skip link": ".skip",
    "the header's links": ".bar nav a, .bar nav .who",
    "every form (settings, forget, sign out)": "form",
    "every button": "button, .button",
    "the exports (CSV, JSON, ...)": 'a[href*="/report."]',
}
A4_AT_96_DPI = {"width": 794, "height": 1123}


def shown(page: Any, selector: str) -> list[str]:
    """The outer HTML (its start) of each element matching `selector` that takes up room."""
    found: list[str] = page.locator(selector).evaluate_all(
        "nodes => nodes.filter(n => n.getClientRects().length > 0)"
        ".map(n => n.outerHTML.slice(0, 80))"
    )
    return found


def test_printing_the_report_keeps_figures_charts_and_tables_and_drops_the_controls(
    new_page: Callable[[], Any], stack: StackProcess
) -> None:
    # GIVEN @fastbrand's report
    page = new_page()
    sign_in(page, stack, "fastbrand")
    assert shown(page, "form.settings") and shown(page, 'a[href*="/report.csv"]')

    # WHEN she prints it
    page.emulate_media(media="print")
    page.set_viewport_size(A4_AT_96_DPI)

    # THEN no control is on the paper
    for what, selector in SCREEN_ONLY.items():
        assert shown(page, selector) == [], f"{what} would print"
    # AND the figures, the three charts and the tables are, black on white
    assert page.get_by_role("heading", level=1).is_visible()
    assert len(shown(page, ".cards .card")) >= 4
    charts = page.locator("section.panel svg[role=img]").filter(visible=True)
    assert charts.count() == 3
    for index in range(3):
        box = charts.nth(index).bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 100, box
        panel = charts.nth(index).locator("xpath=ancestor::section[1]")
        assert panel.evaluate("p => getComputedStyle(p).breakInside") == "avoid"
    for table in ("#agents table", "section.panel:has(td.when) table", "#waiting table"):
        assert shown(page, table), f"{table} would not print"
    colours = page.evaluate(
        "() => [getComputedStyle(document.body).color, getComputedStyle(document.body)"
        ".backgroundColor, getComputedStyle(document.querySelector('section.panel td a')).color]"
    )
    assert colours == ["rgb(0, 0, 0)", "rgb(255, 255, 255)", "rgb(0, 0, 0)"]
    # AND no link prints its URL beside it
    assert page.evaluate(
        "() => [...document.querySelectorAll('a')].every(a => "
        "['none', 'normal'].includes(getComputedStyle(a, '::after').content))"
    )
    screenshot(page, "report-print")
    pdf = SCREENSHOTS / "report-print.pdf"
    page.pdf(path=str(pdf), format="A4")
    assert pdf.read_bytes().startswith(b"%PDF-") and pdf.stat().st_size > 20_000


PHONE = {"width": 390, "height": 844}


def test_on_a_phone_each_slowest_answer_leads_with_its_wait(
    new_page: Callable[..., Any], stack: StackProcess
) -> None:
    # GIVEN @fastbrand's report on a phone
    page = new_page(viewport=PHONE)
    sign_in(page, stack, "fastbrand")

    # THEN the slowest answers stack: each row shows its wait first, then the mention
    slowest = page.locator("section.panel").filter(
        has=page.get_by_role("heading", name="Slowest answers")
    )
    rows = slowest.locator("tbody tr")
    assert rows.count() > 0
    for index in range(min(rows.count(), 5)):
        wait, mention = (
            rows.nth(index).locator(cell).bounding_box() for cell in ("td.num", "td:first-child")
        )
        assert wait and mention and wait["y"] + wait["height"] <= mention["y"], (wait, mention)
        assert wait["x"] == mention["x"]
    slowest.screenshot(path=str(SCREENSHOTS / "report-slowest-390.png"))
    # AND no table hides a column off to the right: nothing in a panel scrolls sideways, with
    # business hours (a fourth column of figures) and the longest time zone name either
    for query in ("", "?hours=09:00-17:00&tz=America/Argentina/Buenos_Aires"):
        page.goto(stack.url + "/report" + query)
        overflowing = page.locator("section.panel").evaluate_all(
            "panels => panels.filter(p => p.scrollWidth > p.clientWidth)"
            ".map(p => p.querySelector('h2').textContent)"
        )
        assert overflowing == [], query
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "report-long-zone-390")
    # AND at a desk's width it is a table again, the wait in its last column
    page.set_viewport_size(VIEWPORT)
    wait, mention = (
        rows.first.locator(cell).bounding_box() for cell in ("td.num", "td:first-child")
    )
    assert wait and mention and wait["y"] == mention["y"] and wait["x"] > mention["x"]


def test_no_cookie_or_verifier_reaches_the_stack_output(chromium: Any, stack: StackProcess) -> None:
    # GIVEN the cookies and verifiers the browsers of this module saw
    SECRETS.discard("")
    if not SECRETS:
        pytest.skip("no browser test ran before this one in this module")

    # WHEN we read everything the stack printed
    output = stack.output()

    # THEN it logged the sign-ins but none of those values
    assert "sign-in completed" in output
    leaked = sorted(secret for secret in SECRETS if secret in output)
    assert leaked == [], f"{len(leaked)} secret value(s) in the stack's output"


def test_reading_older_history_shows_its_cost_then_its_progress_then_the_longer_history(
    new_page: Callable[..., Any], stack: StackProcess
) -> None:
    import time

    # GIVEN @heritagebrand, mentioned 1,500 times over three years: her first report holds
    #       the 800 newest, as far as X's timeline reaches
    page = new_page()
    sign_in(page, stack, "heritagebrand")
    assert report_json(page, stack)["source"]["history"]["state"] == "none"
    offer = page.locator("#history-offer")
    assert "Read older history" in offer.inner_text()

    # WHEN she follows it
    offer.get_by_role("link", name="Read older history").click()
    page.wait_for_url(stack.url + "/history")

    # THEN the page says what lies before her archive and what reading it costs, before
    #      anything is read
    text = page.locator("#history").inner_text()
    assert "about 700 older mentions of @heritagebrand" in text
    assert "Reading them costs about $3.50" in text
    screenshot(page, "history-cost-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "history-cost-390")
    page.set_viewport_size(VIEWPORT)

    # WHEN she says yes
    page.get_by_role("button", name="Read 700 older posts for about $3.50").click()
    page.wait_for_url(stack.url + "/report")

    # THEN the report says the read goes on, and, opened again in a while, that it is done
    assert "Reading history:" in page.locator("#history-progress").inner_text()
    screenshot(page, "history-reading-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "history-reading-390", full_page=False)
    page.set_viewport_size(VIEWPORT)
    deadline = time.monotonic() + 90
    while not page.locator("#history-done").count():
        assert time.monotonic() < deadline, "the history was not read in 90 s"
        time.sleep(1)
        page.reload()
    done = page.locator("#history-done").inner_text()
    assert "Your archive reaches back to" in done
    body = report_json(page, stack)
    assert body["source"]["history"] == {
        **body["source"]["history"],
        "state": "done",
        "read": 700,
        "estimate": 700,
    }
    assert body["source"]["archive_posts"] >= 1_500

    # AND the longest window shows the whole history, by month
    page.get_by_role("link", name="The last 10 years").click()
    page.wait_for_load_state()
    assert "Last 3,650 days" in page.locator("main").inner_text()
    assert "Month by month" in page.locator("main").inner_text()
    screenshot(page, "history-done-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "history-done-390")
    screenshot(page, "history-done-390-top", full_page=False)
    page.locator("#chart-daily").scroll_into_view_if_needed()
    screenshot(page, "history-done-390-chart", full_page=False)
