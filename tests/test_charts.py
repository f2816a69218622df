"""chalicelib.charts: the SVG is well-formed, complete, safe to inline, and copes with
empty reports."""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from markupsafe import Markup

from chalicelib import analytics, charts

SVG = "{http://www.w3.org/2000/svg}"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
CHARTS: list[Callable[[dict[str, Any]], Markup]] = [
    charts.histogram_svg,
    charts.daily_svg,
    charts.heatmap_svg,
]
HOSTILE = '"><script>alert(1)</script><a href="javascript:x" onclick="y">'


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


def parse(svg: Markup) -> ET.Element:
    assert isinstance(svg, Markup)
    root = ET.fromstring(str(svg))
    assert root.tag == f"{SVG}svg"
    return root


def by_class(root: ET.Element, name: str) -> list[ET.Element]:
    return [e for e in root.iter() if e.get("class") == name]


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


# --------------------------------------------------------------------------- shape


@pytest.mark.parametrize("chart", CHARTS, ids=lambda c: c.__name__)
def test_chart_is_a_standalone_accessible_svg(chart: Callable[[dict[str, Any]], Markup]) -> None:
    # GIVEN a report with data / WHEN drawn
    root = parse(chart(sample_report()))
    # THEN it scales (viewBox, width 100%), is labelled, and is safe to inline
    assert root.get("viewBox", "").startswith("0 0 ")
    assert root.get("width") == "100%"
    assert root.get("role") == "img"
    assert root.get("aria-label")
    title = root.find(f"{SVG}title")
    assert title is not None and title.text == root.get("aria-label")
    assert_safe(root)


def test_histogram_has_seven_bars_scaled_to_counts() -> None:
    # GIVEN
    body = sample_report()
    # WHEN
    bars = by_class(parse(charts.histogram_svg(body)), "bar")
    # THEN one bar per bucket, heights proportional to the counts, unanswered in grey
    assert len(bars) == 7
    counts = [b["count"] for b in body["histogram"]]
    heights = [float(b.get("height", "")) for b in bars]
    tallest = counts.index(max(counts))
    assert heights[tallest] == max(heights)
    for count, height in zip(counts, heights, strict=True):
        assert height == pytest.approx(heights[tallest] * count / max(counts), abs=0.1)
    assert bars[-1].get("fill") == charts.UNANSWERED
    assert "unanswered" in (bars[-1].findtext(f"{SVG}title") or "")


def test_daily_has_a_bar_per_day_a_median_line_and_a_labelled_target() -> None:
    # GIVEN a 14-day report, target 1 h
    body = sample_report(days=14)
    # WHEN
    root = parse(charts.daily_svg(body))
    # THEN
    assert len(by_class(root, "bar")) == len(body["daily"]) == 15
    assert by_class(root, "median"), "the median line is drawn"
    (target,) = by_class(root, "target")
    assert target.get("stroke-dasharray")
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "target 1h" in texts
    assert "Nov 14" in texts  # the first day, as a short date


def test_daily_without_answers_draws_no_median_line() -> None:
    root = parse(charts.daily_svg(sample_report(days=7, answered=False)))
    assert len(by_class(root, "bar")) == 8
    assert not by_class(root, "median")
    assert len(by_class(root, "target")) == 1


def test_heatmap_has_168_cells_shaded_by_count() -> None:
    # GIVEN
    body = sample_report()
    # WHEN
    cells = by_class(parse(charts.heatmap_svg(body)), "cell")
    # THEN 7 x 24 cells, Monday 00 first; empty cells light, the busiest darkest
    assert len(cells) == 168
    flat = [c for row in body["heatmap"]["counts"] for c in row]
    for cell, count in zip(cells, flat, strict=True):
        if count == 0:
            assert cell.get("fill") == charts.HEAT_EMPTY
    assert cells[flat.index(max(flat))].get("fill") == "#{:02x}{:02x}{:02x}".format(
        *charts.HEAT_HIGH
    )
    assert (cells[0].findtext(f"{SVG}title") or "").startswith("Mon 00:00")


# --------------------------------------------------------------------------- safety


@pytest.mark.parametrize("chart", CHARTS, ids=lambda c: c.__name__)
def test_hostile_strings_cannot_inject_markup(chart: Callable[[dict[str, Any]], Markup]) -> None:
    # GIVEN a report whose every string is hostile (labels, dates, zone, weekday names)
    body = copy.deepcopy(sample_report(days=3))
    body["heatmap"]["tz"] = HOSTILE
    body["heatmap"]["days"] = [HOSTILE] * 7
    for bucket in body["histogram"]:
        bucket["bucket"] = HOSTILE
    for day in body["daily"]:
        day["date"] = HOSTILE
    body["target_seconds"] = HOSTILE  # not a number: ignored, not printed
    # WHEN
    svg = chart(body)
    root = parse(svg)
    # THEN it stays one well-formed, safe SVG, the text shown literally
    assert "<script" not in svg and "<a " not in svg
    assert_safe(root)
    shown = "".join(root.itertext()) + "".join(v for e in root.iter() for v in e.attrib.values())
    assert HOSTILE in shown


def test_non_numbers_are_not_printed() -> None:
    body = sample_report(days=3)
    body["histogram"][0]["count"] = "<b>9</b>"
    svg = charts.histogram_svg(body)
    assert "<b>" not in svg
    assert len(by_class(parse(svg), "bar")) == 7


# --------------------------------------------------------------------------- empty


@pytest.mark.parametrize("chart", CHARTS, ids=lambda c: c.__name__)
def test_empty_report_reads_no_mentions(chart: Callable[[dict[str, Any]], Markup]) -> None:
    # GIVEN a report without mentions / WHEN drawn
    root = parse(chart(empty_report()))
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
    # WHEN / THEN every chart draws (a lone median is a dot)
    for chart in CHARTS:
        assert_safe(parse(chart(body)))
    root = parse(charts.daily_svg(body))
    assert [e.tag for e in by_class(root, "median")] == [f"{SVG}circle"]


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


def test_the_first_and_last_days_are_marked_partial() -> None:
    # GIVEN a 28-day window ending at NOW, which is not midnight: it touches 29 UTC dates
    body = sample_report()
    assert len(body["daily"]) == 29
    # WHEN drawn
    bars = by_class(parse(charts.daily_svg(body)), "bar")
    # THEN only the first and the last bar are drawn as partial days, and say so
    dashed = [i for i, bar in enumerate(bars) if bar.get("stroke-dasharray")]
    assert dashed == [0, 28]
    titles = [bar.find(f"{SVG}title").text or "" for bar in bars]  # type: ignore[union-attr]
    assert "part of the day" in titles[0] and "part of the day" not in titles[1]


def test_a_window_from_midnight_to_midnight_has_no_partial_day() -> None:
    body = sample_report()
    body["window"] = {**body["window"], "start": "2026-10-31T00:00:00.000Z"}
    body["window"]["end"] = "2026-11-28T00:00:00.000Z"
    bars = by_class(parse(charts.daily_svg(body)), "bar")
    assert not any(bar.get("stroke-dasharray") for bar in bars)
