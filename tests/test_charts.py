"""chalicelib.charts: the SVG is well-formed, complete, safe to inline, readable on a phone,
scaled to what it shows, and copes with empty reports; each chart's table holds the JSON's
numbers."""

from __future__ import annotations

import copy
import functools
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any, cast

import jinja2
import pytest
from markupsafe import Markup

from chalicelib import analytics, charts, pages
from chalicelib.formats import duration
from tests.support.chart_reports import LONE_DAY, OUTLIER_DAY, realistic_report

SVG = "{http://www.w3.org/2000/svg}"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
Chart = Callable[..., Markup]
CHARTS: list[Chart] = [charts.histogram_svg, charts.daily_svg, charts.heatmap_svg]
LAYOUTS = charts.LAYOUTS
HOSTILE = '"><script>alert(1)</script><a href="javascript:x" onclick="y">'
CHARTS_CSS = (pages.TEMPLATES.parent / "static" / "charts.css").read_text()

# The narrowest panels each layout is shown in (app.css and charts.css): the wide one just
# above charts.css's breakpoint, main padded 24 px and the panel 20 px and a 1 px border on
# each side; the narrow one on a 360 px phone, main padded 16 px, the chart panel 12 px.
BREAKPOINT = int(re.findall(r"@media \(max-width: (\d+)px\)", CHARTS_CSS)[0])
NARROWEST_PANEL = {"wide": BREAKPOINT + 1 - 2 * (24 + 20 + 1), "narrow": 360 - 2 * (16 + 12 + 1)}
SMALLEST_TEXT_PX = 11


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def sample_report(days: int = 28, answered: bool = True) -> dict[str, Any]:
    """Mentions every 5 h 17 min over the window, most answered after a varying delay."""
    mentions, own = [], []
    moment, i = NOW - timedelta(days=days), 0
    while moment <= NOW:
        pid = str(10**6 + i)
        mentions.append({"id": pid, "text": "hi", "created_at": iso(moment), "author_id": "2"})
        if answered and i % 4:
            own.append(
                {
                    "id": str(10**7 + i),
                    "created_at": iso(moment + timedelta(minutes=7 * (i % 30))),
                    "author_id": "1",
                    "referenced_tweets": [{"type": "replied_to", "id": pid}],
                }
            )
        moment += timedelta(hours=5, minutes=17)
        i += 1
    settings = analytics.ReportSettings(days=days, tz="Europe/Berlin")
    # A plain dict: some tests put hostile values where the report's shape has numbers.
    return cast(
        "dict[str, Any]", analytics.build("1", "acme", mentions, own, {}, NOW, settings).to_dict()
    )


def empty_report() -> dict[str, Any]:
    return cast("dict[str, Any]", analytics.build("1", "acme", [], [], {}, NOW).to_dict())


def with_medians(medians: list[float | None], target: int = 3600) -> dict[str, Any]:
    """A 14-day report whose day rows have these medians (seconds; None: no answer)."""
    body = copy.deepcopy(sample_report(days=len(medians) - 1))
    for day, median in zip(body["daily"], medians, strict=True):
        day["median_seconds"] = median
    body["target_seconds"] = target
    return body


# Medians of minutes, as a care team's days are, and one day answered three days late.
MINUTES_AND_AN_OUTLIER: list[float | None] = [
    *(120, 300, 480, 900, 240, 3 * 86400, 600, 180, 720, 420, 360, 540, 150, 840, 300)
]


def parse(svg: Markup) -> ET.Element:
    assert isinstance(svg, Markup)
    root = ET.fromstring(str(svg))
    assert root.tag == f"{SVG}svg"
    return root


def figure(markup: Markup) -> ET.Element:
    """A chart figure (SVGs and a <details> table) as one tree."""
    return ET.fromstring(f"<figure>{markup}</figure>")


def by_class(root: ET.Element, name: str) -> list[ET.Element]:
    return [e for e in root.iter() if name in (e.get("class") or "").split()]


def texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def assert_safe(root: ET.Element) -> None:
    """Nothing a CSP or an injection cares about: no script/style/foreignObject, no event
    handlers, no style attributes, no links or external references."""
    for element in root.iter():
        tag = element.tag.removeprefix(SVG)
        assert tag not in ("script", "style", "foreignObject", "a", "image", "use", "iframe")
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), name
            assert name not in ("style", "href") and not name.endswith("}href"), name
            if name != "aria-label":  # text for people, anything goes once escaped
                assert "url(" not in value and "javascript:" not in value, (name, value)


def ids(value: Any) -> str:
    return value.__name__ if callable(value) else getattr(value, "name", str(value))


# --------------------------------------------------------------------------- shape


@pytest.mark.parametrize("layout", LAYOUTS, ids=ids)
@pytest.mark.parametrize("chart", CHARTS, ids=ids)
def test_chart_is_a_standalone_accessible_svg(chart: Chart, layout: charts.Layout) -> None:
    # GIVEN a report with data / WHEN drawn in a layout
    root = parse(chart(sample_report(), layout))
    # THEN it scales (viewBox of the layout's width, width 100%), is labelled, says which
    # layout it is (charts.css shows one), and is safe to inline
    assert root.get("viewBox", "").startswith(f"0 0 {layout.width} ")
    assert root.get("width") == "100%"
    assert root.get("class") == f"chart chart-{layout.name}"
    assert root.get("role") == "img"
    assert root.get("aria-label")
    title = root.find(f"{SVG}title")
    assert title is not None and title.text == root.get("aria-label")
    assert_safe(root)


@pytest.mark.parametrize("layout", LAYOUTS, ids=ids)
def test_histogram_has_seven_bars_scaled_to_counts(layout: charts.Layout) -> None:
    # GIVEN
    body = sample_report()
    # WHEN
    bars = by_class(parse(charts.histogram_svg(body, layout)), "bar")
    # THEN one bar per bucket, its length proportional to the count (upright when wide,
    # lying down when narrow), unanswered in grey
    assert len(bars) == 7
    counts = [b["count"] for b in body["histogram"]]
    size = "width" if layout.narrow else "height"
    lengths = [float(b.get(size, "")) for b in bars]
    tallest = counts.index(max(counts))
    assert lengths[tallest] == max(lengths)
    for count, length in zip(counts, lengths, strict=True):
        assert length == pytest.approx(lengths[tallest] * count / max(counts), abs=0.1)
    assert bars[-1].get("fill") == charts.UNANSWERED
    assert "unanswered" in (bars[-1].findtext(f"{SVG}title") or "")


@pytest.mark.parametrize("layout", LAYOUTS, ids=ids)
def test_histogram_titles_its_axes(layout: charts.Layout) -> None:
    titles = [
        "".join(t.itertext())
        for t in by_class(parse(charts.histogram_svg(sample_report(), layout)), "axis-title")
    ]
    assert any(t.startswith("Time to first reply") for t in titles)
    assert any(t.startswith("Mentions") for t in titles)


@pytest.mark.parametrize("layout", LAYOUTS, ids=ids)
def test_daily_has_a_bar_per_day_a_median_line_and_a_labelled_target(
    layout: charts.Layout,
) -> None:
    # GIVEN a 14-day report, target 1 h
    body = sample_report(days=14)
    # WHEN
    root = parse(charts.daily_svg(body, layout))
    # THEN
    assert len(by_class(root, "bar")) == len(body["daily"]) == 15
    assert by_class(root, "median"), "the median line is drawn"
    (target,) = by_class(root, "target")
    assert target.get("stroke-dasharray")
    assert "target 1h" in texts(root)
    assert "Nov 14" in texts(root)  # the first day, as a short date


@pytest.mark.parametrize("layout", LAYOUTS, ids=ids)
def test_daily_titles_its_axes_with_the_zone(layout: charts.Layout) -> None:
    root = parse(charts.daily_svg(sample_report(days=14), layout))
    titles = ["".join(t.itertext()) for t in by_class(root, "axis-title")]
    assert titles == [
        "Median first reply per day (log scale)",
        "Mentions per day",
        "Date (Europe/Berlin)",
    ]


def time_plot(root: ET.Element) -> tuple[float, float]:
    """(top, bottom) of the daily chart's time axis: its outermost grid lines."""
    (plot,) = by_class(root, "time-plot")
    ys = [float(line.get("y1", "")) for line in by_class(plot, "grid")]
    return min(ys), max(ys)


def median_y(root: ET.Element) -> list[float]:
    return [float(point.get("cy", "")) for point in by_class(root, "median-point")]


@pytest.mark.parametrize("layout", LAYOUTS, ids=ids)
def test_the_target_and_the_minutes_stay_in_view_beside_a_three_day_outlier(
    layout: charts.Layout,
) -> None:
    # GIVEN days answered in minutes, one day answered three days late, a target of 1 h
    body = with_medians(MINUTES_AND_AN_OUTLIER)
    # WHEN drawn
    root = parse(charts.daily_svg(body, layout))
    top, bottom = time_plot(root)
    (target,) = by_class(root, "target")
    target_y = float(target.get("y1", ""))
    points = median_y(root)
    # THEN the target is well inside the drawn range, neither on the baseline nor the top
    assert top + 0.2 * (bottom - top) < target_y < bottom - 0.2 * (bottom - top)
    # AND the outlier is drawn at its height, above the target, still inside the plot
    assert top <= points[OUTLIER] < target_y
    # AND minutes are told apart: 2 min and 15 min a good way apart (a linear 3-day axis
    # put them a third of a unit apart), every minute-median under the target
    assert points[0] - points[3] > 0.15 * (bottom - top)
    assert all(target_y < y <= bottom for i, y in enumerate(points) if i != OUTLIER)


OUTLIER = MINUTES_AND_AN_OUTLIER.index(3 * 86400)


@pytest.mark.parametrize(
    ("medians", "target"),
    [([30.0] * 8, 86400), ([5 * 86400.0] * 8, 300), ([None] * 8, 3600), ([0.0] * 8, 60)],
    ids=["all fast, target a day", "all slow, target 5 min", "no answers", "zero seconds"],
)
def test_the_target_is_always_drawn_inside_the_time_axis(
    medians: list[float | None], target: int
) -> None:
    for layout in LAYOUTS:
        root = parse(charts.daily_svg(with_medians(medians, target), layout))
        top, bottom = time_plot(root)
        (line,) = by_class(root, "target")
        assert top <= float(line.get("y1", "")) <= bottom
        assert all(top <= y <= bottom for y in median_y(root))


@pytest.mark.parametrize("layout", LAYOUTS, ids=ids)
def test_a_lone_day_is_a_visible_point(layout: charts.Layout) -> None:
    # GIVEN a day answered between two days without answers
    medians: list[float | None] = [600.0, 540.0, None, 300.0, None, 420.0, 480.0, 360.0]
    body = with_medians(medians)
    # WHEN drawn
    root = parse(charts.daily_svg(body, layout))
    # THEN every day with a median has its point, the lone one as large as the others and
    # on no line
    points = by_class(root, "median-point")
    assert len(points) == sum(m is not None for m in medians)
    lone = points[2]
    assert by_class(root, "lone") == [lone]
    assert float(lone.get("r", "")) >= 3
    assert "2026-11-" in (lone.findtext(f"{SVG}title") or "")
    on_lines = " ".join(line.get("points", "") for line in by_class(root, "median"))
    assert f"{lone.get('cx')}," not in on_lines
    assert len(by_class(root, "median")) == 2  # the runs either side of it


def test_a_lone_day_in_a_real_report_is_drawn_large_even_among_90_days() -> None:
    for days in (28, 90):
        body = realistic_report(days=days)
        lone = [
            day["date"]
            for before, day, after in zip(
                body["daily"], body["daily"][1:], body["daily"][2:], strict=False
            )
            if day["median_seconds"] is not None
            and before["median_seconds"] is None
            and after["median_seconds"] is None
        ]
        assert body["daily"][LONE_DAY]["date"] in lone
        for layout in LAYOUTS:
            points = by_class(parse(charts.daily_svg(body, layout)), "lone")
            assert [(p.findtext(f"{SVG}title") or "")[:10] for p in points] == lone
            assert all(float(p.get("r", "")) >= 3 for p in points)


@pytest.mark.parametrize("layout", LAYOUTS, ids=ids)
def test_daily_without_answers_draws_no_median_line(layout: charts.Layout) -> None:
    root = parse(charts.daily_svg(sample_report(days=7, answered=False), layout))
    assert len(by_class(root, "bar")) == 8
    assert not by_class(root, "median") and not by_class(root, "median-point")
    assert len(by_class(root, "target")) == 1
    assert "No answers" in texts(root)


def cell_count(cell: ET.Element) -> tuple[str, int, int]:
    """(weekday, hour, count) from a cell's tooltip: "Mon 00:00-00:59: 3 mentions"."""
    match = re.fullmatch(
        r"(\w+) (\d\d):00-\d\d:59: (\d+) mentions?", cell.findtext(f"{SVG}title") or ""
    )
    assert match, cell.findtext(f"{SVG}title")
    return match.group(1), int(match.group(2)), int(match.group(3))


@pytest.mark.parametrize("layout", LAYOUTS, ids=ids)
def test_heatmap_has_168_cells_shaded_by_count(layout: charts.Layout) -> None:
    # GIVEN
    body = sample_report()
    # WHEN
    cells = by_class(parse(charts.heatmap_svg(body, layout)), "cell")
    # THEN 7 x 24 cells, each the count of its weekday and hour; empty cells light, the
    # busiest darkest
    assert len(cells) == 168
    heat = body["heatmap"]
    top = max(c for row in heat["counts"] for c in row)
    for cell in cells:
        weekday, hour, count = cell_count(cell)
        assert count == heat["counts"][heat["days"].index(weekday)][hour]
        if count == 0:
            assert cell.get("fill") == charts.HEAT_EMPTY
            assert "empty" in (cell.get("class") or "").split()
        else:
            assert cell.get("fill") in charts.HEAT_LEVELS
        if count == top:
            assert cell.get("fill") == charts.HEAT_LEVELS[-1]
    assert cell_count(cells[0])[:2] == ("Mon", 0)


@pytest.mark.parametrize("layout", LAYOUTS, ids=ids)
def test_heatmap_writes_each_hour_s_count_in_its_cell(layout: charts.Layout) -> None:
    # GIVEN / WHEN
    root = parse(charts.heatmap_svg(realistic_report(), layout))
    values = by_class(root, "value")
    # THEN each cell with mentions has its number inside it, readable without hovering
    filled = [c for c in by_class(root, "cell") if cell_count(c)[2]]
    assert len(values) == len(filled) > 0
    for cell, value in zip(filled, values, strict=True):
        x, y = float(cell.get("x", "")), float(cell.get("y", ""))
        w, h = float(cell.get("width", "")), float(cell.get("height", ""))
        assert x < float(value.get("x", "")) < x + w and y < float(value.get("y", "")) < y + h
        assert value.text == str(cell_count(cell)[2])


def test_heatmap_legend_covers_every_count_once() -> None:
    for top in (1, 2, 3, 4, 7, 16, 50, 1000):
        tops = charts._level_tops(top)
        legend = [counts for _, counts in charts._legend_items(tops)]
        covered: list[int] = []
        for counts in legend[1:]:
            low, _, high = counts.partition("-")
            covered += range(int(low), int(high or low) + 1)
        assert legend[0] == "0" and covered == list(range(1, top + 1)), top
        assert [charts._level(c, tops) for c in (1, top)][-1] == len(charts.HEAT_LEVELS)


# --------------------------------------------------------------------------- narrow screens


def font_sizes(root: ET.Element) -> list[float]:
    """The size of every text and tspan, as SVG inherits it."""
    sizes = []

    def walk(element: ET.Element, size: float) -> None:
        size = float(element.get("font-size", size))
        if element.tag in (f"{SVG}text", f"{SVG}tspan") and (element.text or "").strip():
            sizes.append(size)
        for child in element:
            walk(child, size)

    walk(root, 16.0)
    return sizes


@pytest.mark.parametrize("layout", LAYOUTS, ids=ids)
@pytest.mark.parametrize("chart", CHARTS, ids=ids)
def test_text_is_at_least_11_px_where_charts_css_shows_the_layout(
    chart: Chart, layout: charts.Layout
) -> None:
    # GIVEN a chart in a layout, shown in its narrowest panel
    for body in (realistic_report(), realistic_report(days=90), empty_report()):
        root = parse(chart(body, layout))
        scale = NARROWEST_PANEL[layout.name] / layout.width
        # THEN its smallest text renders at 11 px or more
        assert min(font_sizes(root)) * scale >= SMALLEST_TEXT_PX


def test_the_narrow_layout_is_drawn_for_a_phone() -> None:
    # A 1000-unit chart on a 360 px phone renders 11-unit text at 4 px; the narrow one is
    # drawn about as wide as the phone, with text of 11 units or more
    assert charts.NARROW.width <= 360 and charts.NARROW.font >= SMALLEST_TEXT_PX
    assert NARROWEST_PANEL == {"wide": 671, "narrow": 302}


def test_charts_css_shows_one_layout_by_a_media_query() -> None:
    css = re.sub(r"\s+", " ", CHARTS_CSS)
    assert re.search(r"\.panel svg\.chart-narrow \{ display: none; \}", css)
    query = re.search(rf"@media \(max-width: {BREAKPOINT}px\) \{{(.*?)\}} \}}", css)
    assert query, "the breakpoint's block"
    assert ".panel svg.chart-wide { display: none; }" in query.group(1)
    assert re.search(r"\.panel svg\.chart-narrow \{ display: block;", query.group(1))


# --------------------------------------------------------------------------- the numbers


def table_rows(markup: Markup) -> tuple[list[str], list[list[str]]]:
    """(head, rows) of the figure's table, each cell's text."""
    (details,) = figure(markup).iter("details")
    head = ["".join(th.itertext()) for th in details.iter("thead").__next__().iter("th")]
    body = next(details.iter("tbody"))
    rows = [["".join(cell.itertext()).strip() for cell in tr] for tr in body.iter("tr")]
    return head, rows


def test_the_histogram_table_holds_the_json_counts() -> None:
    body = realistic_report()
    head, rows = table_rows(charts.chart_figures(body)["histogram"])
    assert head == ["Time to first reply", "Mentions"]
    assert rows == [[b["bucket"], str(b["count"])] for b in body["histogram"]]


def test_the_daily_table_holds_the_json_days_and_marks_the_partial_ones() -> None:
    body = realistic_report()
    head, rows = table_rows(charts.chart_figures(body)["daily"])
    assert head == ["Date", "Mentions", "Answered", "Median first reply"]
    expected = [
        [d["date"], str(d["mentions"]), str(d["answered"]), duration(d["median_seconds"])]
        for d in body["daily"]
    ]
    expected[0][0] += " (partial)"
    expected[-1][0] += " (partial)"
    assert rows == expected
    assert rows[OUTLIER_DAY][3] == "3 d"


def test_the_heatmap_table_holds_the_json_counts() -> None:
    body = realistic_report()
    head, rows = table_rows(charts.chart_figures(body)["heatmap"])
    heat = body["heatmap"]
    assert head == ["Hour", *heat["days"]]
    assert rows == [
        [f"{hour:02d}", *(str(heat["counts"][d][hour]) for d in range(7))] for hour in range(24)
    ]


def test_a_figure_is_both_layouts_then_its_numbers() -> None:
    for markup in charts.chart_figures(realistic_report()).values():
        children = list(figure(markup))
        assert [c.get("class") for c in children] == [
            "chart chart-wide",
            "chart chart-narrow",
            "chart-data",
        ]
        assert children[2].tag == "details"
        assert children[2].findtext("summary") == "Show the numbers as a table"
    for markup in charts.chart_figures(empty_report()).values():
        assert "<details" not in markup and markup.count("<svg") == 2


def render_charts(context: dict[str, Any]) -> str:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(pages.TEMPLATES), autoescape=True
    )
    return environment.get_template("_charts.html").render(**context)


def test_the_page_shows_each_figure_in_its_panel() -> None:
    body = realistic_report()
    html = render_charts({"report": body, "charts": charts.chart_figures(body)})
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-wide"') == 3
    assert html.count('class="chart chart-narrow"') == 3
    assert html.count('<details class="chart-data">') == 3
    assert html.count('class="panel chart-panel"') == 3
    assert "Days are Europe/Berlin dates" in html
    assert "a pale, dashed bar is a day it covers only in part" in html
    # a zone label from the view, when it gives one, names the days' zone
    labelled = render_charts(
        {"report": body, "charts": charts.chart_figures(body), "zone_label": "Berlin time"}
    )
    assert "Days are Berlin time dates" in labelled


def test_the_page_still_renders_one_svg_per_chart() -> None:
    # What report_view passed before chart_figures: the wide drawing alone
    body = realistic_report()
    old = {
        name: svg(body) for name, svg in zip(("histogram", "daily", "heatmap"), CHARTS, strict=True)
    }
    html = render_charts({"report": body, "charts": old})
    assert html.count("<svg") == 3


# --------------------------------------------------------------------------- safety


@pytest.mark.parametrize("layout", LAYOUTS, ids=ids)
@pytest.mark.parametrize("chart", CHARTS, ids=ids)
def test_hostile_strings_cannot_inject_markup(chart: Chart, layout: charts.Layout) -> None:
    # GIVEN a report whose every string is hostile (labels, dates, zone, weekday names)
    body = copy.deepcopy(sample_report(days=3))
    body["heatmap"]["tz"] = HOSTILE
    body["heatmap"]["days"] = [HOSTILE] * 7
    for bucket in body["histogram"]:
        bucket["bucket"] = HOSTILE
    for day in body["daily"]:
        day["date"] = HOSTILE
    body["target_seconds"] = HOSTILE  # not a number: ignored, not printed
    body["window"]["start"] = HOSTILE
    # WHEN
    svg = chart(body, layout)
    root = parse(svg)
    # THEN it stays one well-formed, safe SVG, the text shown literally
    assert "<script" not in svg and "<a " not in svg
    assert_safe(root)
    shown = "".join(root.itertext()) + "".join(v for e in root.iter() for v in e.attrib.values())
    assert HOSTILE in shown


def test_hostile_strings_stay_text_in_the_tables() -> None:
    body = copy.deepcopy(sample_report(days=3))
    body["heatmap"]["tz"] = HOSTILE
    body["heatmap"]["days"] = [HOSTILE] * 7
    body["histogram"][0]["bucket"] = HOSTILE
    body["daily"][0]["date"] = HOSTILE
    for markup in charts.chart_figures(body).values():
        assert "<script" not in markup and "<a " not in markup
        tree = figure(markup)
        assert HOSTILE in "".join(tree.itertext())


def test_non_numbers_are_not_printed() -> None:
    body = sample_report(days=3)
    body["histogram"][0]["count"] = "<b>9</b>"
    body["daily"][0]["mentions"] = float("nan")
    body["daily"][1]["median_seconds"] = "soon"
    for layout in LAYOUTS:
        svg = charts.histogram_svg(body, layout)
        assert "<b>" not in svg
        assert len(by_class(parse(svg), "bar")) == 7
        assert "nan" not in charts.daily_svg(body, layout)
    figures = charts.chart_figures(body)
    assert "<b>" not in figures["histogram"] and "nan" not in figures["daily"]


# --------------------------------------------------------------------------- empty


@pytest.mark.parametrize("layout", LAYOUTS, ids=ids)
@pytest.mark.parametrize("chart", CHARTS, ids=ids)
def test_empty_report_reads_no_mentions(chart: Chart, layout: charts.Layout) -> None:
    # GIVEN a report without mentions / WHEN drawn
    root = parse(chart(empty_report(), layout))
    # THEN a small, readable chart without bars or cells
    assert charts.EMPTY_TEXT in "".join(root.itertext())
    assert charts.EMPTY_TEXT in (root.get("aria-label") or "")
    assert not by_class(root, "bar") and not by_class(root, "cell")
    assert_safe(root)


def test_single_mention_and_single_day() -> None:
    # GIVEN one answered mention in a one-day window
    mentions = [{"id": "5", "created_at": iso(NOW - timedelta(hours=2)), "author_id": "2"}]
    own = [
        {
            "id": "6",
            "created_at": iso(NOW - timedelta(hours=1)),
            "referenced_tweets": [{"type": "replied_to", "id": "5"}],
        }
    ]
    body = cast(
        "dict[str, Any]",
        analytics.build(
            "1", "a", mentions, own, {}, NOW, analytics.ReportSettings(days=1)
        ).to_dict(),
    )
    # WHEN / THEN every chart draws (a lone median is a point, with no line)
    for chart in CHARTS:
        for layout in LAYOUTS:
            assert_safe(parse(chart(body, layout)))
    root = parse(charts.daily_svg(body))
    assert [e.tag for e in by_class(root, "median-point")] == [f"{SVG}circle"]
    assert not by_class(root, "median")


def test_human_durations() -> None:
    assert [charts._compact(s) for s in (0, 45, 60, 899, 3600, 4800, 86400, 108000)] == [
        "0s",
        "45s",
        "1m",
        "15m",
        "1h",
        "1h20m",
        "1d",
        "1d6h",
    ]


def test_the_log_axis_runs_from_tick_to_tick_around_the_values() -> None:
    assert charts._time_range([120, 900, 3 * 86400], 3600) == (60, 3 * 86400)
    assert charts._time_range([], 3600) == (900, 4 * 3600)
    assert charts._time_range([0], 60) == (1, 60)
    for low, high in (charts._time_range([m], 60) for m in (1, 7, 1e9)):
        assert low < high and math.isfinite(high)


# --------------------------------------------------------------------------- partial days


@pytest.mark.parametrize("layout", LAYOUTS, ids=ids)
def test_the_first_and_last_days_are_marked_partial(layout: charts.Layout) -> None:
    # GIVEN a 28-day window ending at NOW, which is not midnight: it touches 29 dates
    body = sample_report()
    assert len(body["daily"]) == 29
    # WHEN drawn
    root = parse(charts.daily_svg(body, layout))
    bars = by_class(root, "bar")
    # THEN only the first and the last bar are drawn as partial days (pale, dashed), say so,
    # and the chart's key explains the look
    dashed = [i for i, bar in enumerate(bars) if bar.get("stroke-dasharray")]
    assert dashed == [0, 28]
    assert bars[0].get("fill") == charts.PARTIAL_FILL != bars[1].get("fill")
    titles = [bar.findtext(f"{SVG}title") or "" for bar in bars]
    assert "part of the day" in titles[0] and "part of the day" not in titles[1]
    (key,) = by_class(root, "key")
    assert key.get("stroke-dasharray") == bars[0].get("stroke-dasharray")
    assert "part of a day" in texts(root)


def test_the_rows_say_which_days_are_partial() -> None:
    # GIVEN a report whose rows mark their partial days (analytics cuts days in the zone)
    body = sample_report()
    assert [i for i, day in enumerate(body["daily"]) if day["partial"]] == [0, 28]
    body["daily"][0]["partial"] = False
    body["daily"][5]["partial"] = True
    # WHEN / THEN the chart and the table follow the rows
    bars = by_class(parse(charts.daily_svg(body)), "bar")
    assert [i for i, bar in enumerate(bars) if bar.get("stroke-dasharray")] == [5, 28]
    _, rows = table_rows(charts.chart_figures(body)["daily"])
    assert [i for i, row in enumerate(rows) if row[0].endswith("(partial)")] == [5, 28]


def stored_before_partial_rows() -> dict[str, Any]:
    """A report stored before rows said they were partial: its days are UTC dates and its
    window names no zone."""
    body = sample_report()
    for day in body["daily"]:
        day.pop("partial", None)
    body["window"].pop("tz", None)
    return body


def test_an_older_report_s_partial_days_are_those_the_window_cuts_at_utc_midnight() -> None:
    body = stored_before_partial_rows()
    root = parse(charts.daily_svg(body))
    bars = by_class(root, "bar")
    assert [i for i, bar in enumerate(bars) if bar.get("stroke-dasharray")] == [0, 28]
    assert "Date (UTC)" in ["".join(t.itertext()) for t in by_class(root, "axis-title")]
    # a window from UTC midnight to UTC midnight cuts no day
    body["window"] = {**body["window"], "start": "2026-10-31T00:00:00.000Z"}
    body["window"]["end"] = "2026-11-28T00:00:00.000Z"
    root = parse(charts.daily_svg(body))
    assert not any(bar.get("stroke-dasharray") for bar in by_class(root, "bar"))
    assert not by_class(root, "key"), "no key for a look the chart does not use"


# --------------------------------------------------------------------------- long windows


@functools.cache
def long_report(days: int) -> dict[str, Any]:
    return realistic_report(days=days)


def tick_labels(root: ET.Element) -> list[tuple[float, float, str]]:
    """(x, y, text) of the labels under the bars: the count plot's texts below its axis
    (not the count axis' own labels, which end at its left)."""
    (plot,) = by_class(root, "count-plot")
    (axis,) = by_class(plot, "axis")
    bottom = float(axis.get("y1", ""))
    return [
        (float(t.get("x", "")), float(t.get("y", "")), "".join(t.itertext()))
        for t in plot.iter(f"{SVG}text")
        if float(t.get("y", "")) > bottom and t.get("text-anchor") == "middle"
    ]


@pytest.mark.parametrize("layout", LAYOUTS, ids=ids)
@pytest.mark.parametrize(
    ("days", "period"),
    [(91, "week"), (400, "week"), (730, "week"), (731, "month"), (3650, "month")],
)
def test_a_long_window_is_drawn_by_week_or_month(
    days: int, period: str, layout: charts.Layout
) -> None:
    # GIVEN a report of a long window / WHEN drawn
    body = long_report(days)
    root = parse(charts.daily_svg(body, layout))
    rows = body["trend"]["rows"]
    # THEN a bar per period of the trend, the first and the last partial (dashed)
    assert body["trend"]["period"] == period
    bars = by_class(root, "bar")
    assert len(bars) == len(rows) < 130
    assert [bool(b.get("stroke-dasharray")) for b in bars] == [r["partial"] for r in rows]
    assert rows[0]["partial"] and rows[-1]["partial"]
    # AND the titles say per what, the label too
    titles = ["".join(t.itertext()) for t in by_class(root, "axis-title")]
    axis = "Week from Monday" if period == "week" else "Month"
    assert titles == [
        f"Median first reply per {period} (log scale)",
        f"Mentions per {period}",
        f"{axis} (Europe/Berlin)",
    ]
    assert f"per {period}, {rows[0]['start']} to {rows[-1]['end']}" in root.get("aria-label", "")
    assert f"part of a {period}" in texts(root)
    # AND the median above is drawn from the periods' medians
    assert len(by_class(root, "median-point")) == sum(r["median_seconds"] is not None for r in rows)
    # AND the labels under the bars stay inside the chart and apart, with the year written
    #     under the first and wherever it changes (or alone, a label a year)
    labels = tick_labels(root)
    for line in {y for _, y, _ in labels}:
        spans = sorted(
            (x - len(text) * layout.font * 0.3, x + len(text) * layout.font * 0.3)
            for x, y, text in labels
            if y == line
        )
        assert spans and spans[0][0] >= 0 and spans[-1][1] <= layout.width
        assert all(left[1] + 4 <= right[0] for left, right in pairwise(spans))
    years = [text for _, _, text in labels if re.fullmatch(r"\d{4}", text)]
    assert years and years == sorted(set(years))
    assert 0 <= int(years[0]) - int(rows[0]["start"][:4]) <= 2  # labels a year or two apart


def test_a_ten_year_chart_labels_the_years_and_its_tips_name_the_months() -> None:
    body = long_report(3650)
    for layout in LAYOUTS:
        root = parse(charts.daily_svg(body, layout))
        labels = [text for _, _, text in tick_labels(root)]
        # a label a year (every other on a phone), each on its January
        assert labels == (
            [str(y) for y in range(2017, 2027)]
            if layout == charts.WIDE
            else [str(y) for y in range(2018, 2027, 2)]
        )
        tips = [b.findtext(f"{SVG}title") or "" for b in by_class(root, "bar")]
        assert tips[0].startswith("November 2016: ")
        assert tips[0].endswith("(part of the month: the window starts or ends inside it)")
        assert tips[1].startswith("December 2016: ")


def test_the_daily_table_follows_the_weeks_of_a_long_window() -> None:
    # GIVEN a 400-day report / WHEN its chart's numbers are shown
    body = long_report(400)
    head, rows = table_rows(charts.chart_figures(body)["daily"])
    # THEN a row per week, named by its dates, the partial ones marked
    assert head == ["Week", "Mentions", "Answered", "Median first reply"]
    expected = [
        [
            f"{r['start']} to {r['end']}" + (" (partial)" if r["partial"] else ""),
            str(r["mentions"]),
            str(r["answered"]),
            duration(r["median_seconds"]),
        ]
        for r in body["trend"]["rows"]
    ]
    assert rows == expected
    caption = next(figure(charts.chart_figures(body)["daily"]).iter("caption")).text or ""
    assert "per week (Europe/Berlin)" in caption


def test_the_daily_table_of_ten_years_is_a_row_a_month() -> None:
    body = long_report(3650)
    head, rows = table_rows(charts.chart_figures(body)["daily"])
    assert head[0] == "Month" and len(rows) == 121
    assert rows[0][0] == "November 2016 (partial)" and rows[1][0] == "December 2016"
    assert rows[-1][0] == "November 2026 (partial)"
    assert [int(r[1]) for r in rows] == [r["mentions"] for r in body["trend"]["rows"]]


def test_the_page_names_the_period_of_a_long_window() -> None:
    for days, heading, words in (
        (28, "Day by day", "touches 29 dates: a pale, dashed bar is a day"),
        (400, "Week by week", "Weeks run Monday to Sunday on Europe/Berlin dates"),
        (3650, "Month by month", "touches 121 months: a pale, dashed bar is a month"),
    ):
        body = long_report(days)
        html = render_charts({"report": body, "charts": charts.chart_figures(body)})
        assert f"<h2>{heading}</h2>" in html and words in html


def test_a_long_window_s_text_is_at_least_11_px_where_shown() -> None:
    for layout in LAYOUTS:
        root = parse(charts.daily_svg(long_report(3650), layout))
        scale = NARROWEST_PANEL[layout.name] / layout.width
        assert min(font_sizes(root)) * scale >= SMALLEST_TEXT_PX


def test_a_report_stored_before_the_trend_is_drawn_from_its_days() -> None:
    body = copy.deepcopy(long_report(400))
    del body["trend"]
    root = parse(charts.daily_svg(body, charts.WIDE))
    assert len(by_class(root, "bar")) == len(body["daily"])
    assert "Mentions per day" in ["".join(t.itertext()) for t in by_class(root, "axis-title")]


def test_hostile_strings_in_the_trend_stay_text() -> None:
    body = copy.deepcopy(long_report(400))
    body["trend"]["rows"][0].update(start=HOSTILE, end=HOSTILE, mentions="many")
    body["trend"]["rows"][1]["median_seconds"] = float("inf")
    for layout in LAYOUTS:
        root = parse(charts.daily_svg(body, layout))
        assert_safe(root)
    table = str(charts.daily_table(body))
    assert "<script>" not in table and "&lt;script&gt;" in table
