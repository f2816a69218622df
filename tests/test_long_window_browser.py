"""A long window's report page in headless Chromium, at 1280 and 390 px: its trend chart
is the one the screen shows, its labels do not touch as Chromium lays them out, and its
table follows the periods, and axe finds nothing on it.

No archive reaches back ten years on this machine (X lets a first read see 800 mentions),
so the page is the report template rendered from a report `analytics.build` made of ten
years of posts, served to the browser at a loopback address by Playwright's routing, our
stylesheet with it. Screenshots: build/screenshots/report-<days>d-<width>.png, and the chart alone,
report-<days>d-<width>-chart.png.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any, cast

import pytest

from chalicelib import pages, report_view, web
from chalicelib.report_body import StoredReport
from tests.support.chart_reports import realistic_report
from tests.test_a11y import axe_violations
from tests.test_e2e_browser import SCREENSHOTS, chromium

__all__ = ["chromium"]  # the module-scoped fixture, imported so pytest finds it here

pytestmark = pytest.mark.e2e

ORIGIN = "http://127.0.0.1:9"  # never connected to: every request is answered by a route
WIDTHS = (1280, 390)


@functools.cache
def long_report(days: int) -> dict[str, Any]:
    return realistic_report(days=days)


def report_page(days: int) -> str:
    body = long_report(days)
    context = report_view.context(cast("StoredReport", body), {"days": str(days)})
    answer = pages.render("report.html", hsts=False, base_path="", signed_in=None, **context)
    return str(answer.body)


@pytest.fixture
def page_of(chromium: Any) -> Iterator[Any]:
    """A function: the report page of a window of `days` at `width` px."""
    contexts: list[Any] = []
    css = "\n".join(sheet.read_text() for sheet in web.STYLESHEETS)

    def open_page(days: int, width: int) -> Any:
        context = chromium.new_context(
            viewport={"width": width, "height": 900}, locale="en-US", timezone_id="UTC"
        )
        contexts.append(context)
        page = context.new_page()
        html = report_page(days)

        def answer(route: Any) -> None:
            if route.request.url.endswith("/static/app.css"):
                route.fulfill(status=200, content_type="text/css", body=css)
            elif route.request.url.startswith(f"{ORIGIN}/report"):
                route.fulfill(status=200, content_type="text/html", body=html)
            else:
                route.abort()

        page.route("**/*", answer)
        page.goto(f"{ORIGIN}/report?days={days}")
        return page

    yield open_page
    for context in contexts:
        context.close()


def shown_chart(page: Any) -> Any:
    """The daily chart's drawing that the screen shows (charts.css hides the other)."""
    charts = page.locator("#chart-daily svg.chart")
    visible = [charts.nth(i) for i in range(charts.count()) if charts.nth(i).is_visible()]
    assert len(visible) == 1
    return visible[0]


def label_boxes(chart: Any) -> list[dict[str, float]]:
    """Chromium's boxes of the labels under the bars, each line of them."""
    boxes: list[dict[str, float]] = chart.evaluate(
        """svg => {
            const axis = svg.querySelector('.count-plot .axis').getBoundingClientRect();
            return [...svg.querySelectorAll('.count-plot text[text-anchor="middle"]')]
                .map(t => t.getBoundingClientRect())
                .filter(r => r.top >= axis.bottom)
                .map(r => ({left: r.left, right: r.right, top: r.top, bottom: r.bottom}));
        }"""
    )
    return boxes


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize(("days", "heading"), [(3650, "Month by month"), (400, "Week by week")])
def test_a_long_window_reads_at_both_widths(
    page_of: Any, days: int, heading: str, width: int
) -> None:
    # GIVEN the report page of a long window / WHEN she opens it at this width
    page = page_of(days, width)
    page.screenshot(path=str(SCREENSHOTS / f"report-{days}d-{width}.png"), full_page=True)
    shown_chart(page).screenshot(path=str(SCREENSHOTS / f"report-{days}d-{width}-chart.png"))
    page.locator("#chart-daily details > summary").click()
    # THEN the chart is the period's, drawn in the layout the screen fits
    assert page.locator("#chart-daily h2").inner_text() == heading
    chart = shown_chart(page)
    assert ("chart-narrow" if width < 600 else "chart-wide") in (chart.get_attribute("class") or "")
    # AND no two labels under its bars touch, and none leaves the chart
    frame = chart.bounding_box()
    boxes = label_boxes(chart)
    assert len(boxes) >= 4
    for box in boxes:
        assert frame["x"] <= box["left"] and box["right"] <= frame["x"] + frame["width"]
    for one in boxes:
        for other in boxes:
            if one is not other and one["top"] < other["bottom"] and other["top"] < one["bottom"]:
                assert one["right"] <= other["left"] or other["right"] <= one["left"]
    # AND its table has a row per period, and the page no horizontal scroll
    period = heading.split()[0].lower()
    rows = page.locator("#chart-daily table tbody tr")
    assert rows.count() == len(long_report(days)["trend"]["rows"])
    assert f"per {period}" in page.locator("#chart-daily table caption").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= width


@pytest.mark.parametrize("width", WIDTHS)
def test_a_ten_year_report_passes_axe(page_of: Any, width: int) -> None:
    # GIVEN the ten-year page with every disclosure open (the month table among them)
    page = page_of(3650, width)
    page.locator("details:not([open]) > summary").evaluate_all(
        "summaries => summaries.forEach(summary => summary.click())"
    )
    # THEN axe finds nothing, the form's help for days included
    assert [str(v) for v in axe_violations(page)] == []
    assert page.locator('input[name="days"]').get_attribute("max") == "3650"
    assert "1 to 3,650" in page.locator("#days-help").inner_text()
