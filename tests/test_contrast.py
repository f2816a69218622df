"""Every colour of the charts, measured: each mark at least 3:1 and each text at least 4.5:1
against what it is drawn on (WCAG 2.2, 1.4.11 and 1.4.3), and series a colour-blind reader
tells apart.

The colours are read from what a reader gets: the SVG charts.py draws (presentation
attributes, inherited as SVG inherits them; ``currentColor`` is the page's ink) and the
declarations of charts.css, against the panel's background from app.css.
"""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest

from chalicelib import analytics, charts
from tests.support.chart_reports import realistic_report
from tests.support.colour import DEFICIENCIES, contrast, delta_e, luminance, simulate

STATIC = Path(charts.__file__).parent / "static"
SVG = "{http://www.w3.org/2000/svg}"
GRAPHICS = 3.0  # WCAG 1.4.11 non-text contrast
TEXT = 4.5  # WCAG 1.4.3 for text under 18 pt
# Drawn but no mark: grid lines, the frame of an empty chart, an hour without mentions
# (test_charts holds that only zero counts get it), a legend swatch of that hour.
DECORATION = {"grid", "frame", "empty"}
INHERITED = ("fill", "stroke", "font-size")
SHAPES = ("rect", "line", "polyline", "polygon", "circle", "ellipse", "path")


def css_variables() -> dict[str, str]:
    root = re.search(r":root\s*{([^}]*)}", (STATIC / "app.css").read_text())
    assert root, "app.css declares its colours in :root"
    return dict(re.findall(r"(--[\w-]+)\s*:\s*([^;]+);", root.group(1)))


VARIABLES = css_variables()
PANEL = VARIABLES["--card"]  # .panel's background: where every chart is drawn
INK = VARIABLES["--ink"]  # body's colour: what currentColor is in a chart


def resolve(value: str) -> str:
    value = value.strip()
    match = re.fullmatch(r"var\((--[\w-]+)\)", value)
    if match:
        return resolve(VARIABLES[match.group(1)])
    return INK if value == "currentColor" else value


def reports() -> dict[str, dict[str, Any]]:
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    empty = cast("dict[str, Any]", analytics.build("1", "acme", [], [], {}, now).to_dict())
    return {
        "28 days": realistic_report(),
        "90 days": realistic_report(days=90, tz="America/Los_Angeles"),
        "1 day": realistic_report(days=1, tz="UTC"),
        "400 days, by week": realistic_report(days=400, tz="Asia/Tokyo"),
        "3650 days, by month": realistic_report(days=3650),
        "empty": empty,
    }


def every_svg() -> Iterator[tuple[str, ET.Element]]:
    draw = {"histogram": charts.histogram_svg, "daily": charts.daily_svg}
    draw["heatmap"] = charts.heatmap_svg
    for name, body in reports().items():
        for chart, svg in draw.items():
            for layout in charts.LAYOUTS:
                yield f"{chart} {layout.name} {name}", ET.fromstring(str(svg(body, layout)))


SVGS = list(every_svg())


@dataclass(frozen=True)
class Drawn:
    element: ET.Element
    tag: str
    style: Mapping[str, str]  # fill, stroke, font-size after inheritance
    classes: frozenset[str]


def drawn(root: ET.Element) -> Iterator[Drawn]:
    """Every element in document (painting) order, with what it inherits."""

    def walk(element: ET.Element, inherited: Mapping[str, str]) -> Iterator[Drawn]:
        style = {**inherited, **{k: element.get(k, "") for k in INHERITED if element.get(k)}}
        tag = element.tag.removeprefix(SVG)
        if tag == "title":
            return  # a tooltip: not painted
        classes = frozenset((element.get("class") or "").split())
        yield Drawn(element, tag, style, classes)
        for child in element:
            yield from walk(child, style)

    yield from walk(root, {"fill": "black", "stroke": "none"})


def painted(value: str | None) -> bool:
    return bool(value) and value != "none"


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    width: float
    height: float
    fill: str

    def holds(self, x: float, y: float) -> bool:
        return self.x <= x <= self.x + self.width and self.y <= y <= self.y + self.height


def text_checks(root: ET.Element) -> Iterator[tuple[str, str, str]]:
    """(text, its colour, what it is drawn on) for every text and tspan: a haloed text is on
    its halo; any other on the last rect painted under its middle, else on the panel."""
    boxes: list[Box] = []
    for item in drawn(root):
        element, style = item.element, item.style
        if item.tag == "rect" and painted(style["fill"]):
            x, y, width, height = (
                float(element.get(k, "0")) for k in ("x", "y", "width", "height")
            )
            boxes.append(Box(x, y, width, height, resolve(style["fill"])))
        if item.tag not in ("text", "tspan") or not (element.text or "").strip():
            continue
        if item.tag == "tspan" or element.get("stroke"):
            halo = element.get("stroke") or ""
            background = resolve(halo) if painted(halo) else PANEL
        else:
            size = float(style["font-size"])
            x = float(element.get("x", "0"))
            x += {"start": size / 2, "end": -size / 2}.get(element.get("text-anchor", ""), 0)
            y = float(element.get("y", "0")) - size * 0.35
            under = [box for box in boxes if box.holds(x, y)]
            background = under[-1].fill if under else PANEL
        yield element.text or "", resolve(style["fill"]), background


def mark_checks(root: ET.Element) -> Iterator[tuple[str, str]]:
    """(what it is, the colour that draws it) for every mark: an outlined shape is drawn by
    its outline (its fill may be a tint), any other by its fill, a line by its stroke. A
    stroke of the panel's own colour is a halo, not an outline."""
    for item in drawn(root):
        if item.tag not in SHAPES or item.classes & DECORATION:
            continue
        fill = item.element.get("fill") or item.style["fill"]
        stroke = item.element.get("stroke") or ""
        outlined = painted(stroke) and resolve(stroke) != resolve(PANEL)
        drawn_by_stroke = outlined or not painted(fill)
        colour = (stroke or item.style["stroke"]) if drawn_by_stroke else fill
        if painted(colour):
            yield f"{item.tag} {' '.join(sorted(item.classes))}", resolve(colour)


# --------------------------------------------------------------------------- the SVG


@pytest.mark.parametrize(("name", "root"), SVGS, ids=[name for name, _ in SVGS])
def test_every_text_reads_at_4_5_to_1(name: str, root: ET.Element) -> None:
    # GIVEN a chart as charts.py draws it / WHEN every text is measured on its background
    checked = list(text_checks(root))
    # THEN each is at least 4.5:1
    assert checked, "a chart with text"
    low = [(t, c, b, round(contrast(c, b), 2)) for t, c, b in checked if contrast(c, b) < TEXT]
    assert low == [], f"{name}: text under {TEXT}:1"


@pytest.mark.parametrize(("name", "root"), SVGS, ids=[name for name, _ in SVGS])
def test_every_mark_stands_out_at_3_to_1(name: str, root: ET.Element) -> None:
    # GIVEN a chart / WHEN every bar, line, point, cell and swatch is measured on the panel
    checked = list(mark_checks(root))
    # THEN each is at least 3:1
    low = [(m, c, round(contrast(c, PANEL), 2)) for m, c in checked if contrast(c, PANEL) < 3]
    assert low == [], f"{name}: marks under {GRAPHICS}:1"


def test_the_checks_see_the_marks_and_texts_that_matter() -> None:
    # GIVEN the 28-day report's charts
    found = {name: root for name, root in SVGS if name.endswith("28 days")}
    colours = {c for root in found.values() for _, c in mark_checks(root)}
    # THEN the measured colours include every series (the checks look where the colours are)
    assert {charts.BAR, charts.UNANSWERED, charts.MEDIAN, charts.TARGET} <= colours
    assert set(charts.HEAT_LEVELS[1:]) <= colours  # classes in use in this report
    backgrounds = {b for root in found.values() for _, _, b in text_checks(root)}
    assert set(charts.HEAT_LEVELS[1:]) <= backgrounds, "the numbers in the heatmap's cells"


def test_the_palette_itself_meets_the_ratios() -> None:
    # Every named colour of charts.py, whether this data uses it or not
    for mark in (charts.BAR, charts.UNANSWERED, charts.MEDIAN, charts.TARGET, *charts.HEAT_LEVELS):
        assert contrast(mark, PANEL) >= GRAPHICS, mark
    assert contrast(charts.MUTED, PANEL) >= TEXT
    assert contrast(INK, PANEL) >= TEXT
    for level, ink in zip(charts.HEAT_LEVELS, charts.HEAT_TEXT, strict=True):
        assert contrast(ink, level) >= TEXT, (level, ink)
    # A partial day: its dashed outline carries it, and its tint is set apart from a full bar
    assert contrast(charts.BAR, PANEL) >= GRAPHICS
    assert contrast(charts.PARTIAL_FILL, charts.BAR) >= GRAPHICS


# --------------------------------------------------------------------------- charts.css


def css_colours() -> list[tuple[str, str, str]]:
    """(selector, property, colour) of every colour charts.css declares."""
    css = re.sub(r"/\*.*?\*/", "", (STATIC / "charts.css").read_text(), flags=re.S)
    found = []
    for selector, body in re.findall(r"([^{}]+){([^{}]*)}", css):
        for prop, value in re.findall(r"([\w-]+)\s*:\s*([^;]+)", body):
            if prop in ("color", "fill", "stroke", "background", "background-color"):
                found.append((selector.strip(), prop, resolve(value)))
            elif prop.startswith("border") and ("var(" in value or "#" in value):
                colour = re.search(r"var\(--[\w-]+\)|#[0-9a-fA-F]{3,6}", value)
                found.append((selector.strip(), prop, resolve(colour.group(0) if colour else "")))
    return found


def test_charts_css_colours_meet_the_ratios() -> None:
    for selector, prop, colour in css_colours():
        if prop == "color":
            assert contrast(colour, PANEL) >= TEXT, (selector, colour)
        elif not prop.startswith("background"):
            assert contrast(colour, PANEL) >= GRAPHICS, (selector, prop, colour)


# --------------------------------------------------------------------------- colour blindness


SERIES = {
    "mentions": charts.BAR,
    "unanswered": charts.UNANSWERED,
    "median": charts.MEDIAN,
    "target": charts.TARGET,
}
# CIE76 distance two series keep for every simulated reader: the old red median and green
# target were 21 apart for a deuteranope and 27 for a protanope.
SERIES_APART = 28.0


@pytest.mark.parametrize("deficiency", [None, *DEFICIENCIES])
def test_series_stay_apart_for_colour_blind_readers(deficiency: str | None) -> None:
    seen = {k: simulate(v, deficiency) if deficiency else v for k, v in SERIES.items()}
    close = [
        (a, b, round(delta_e(seen[a], seen[b]), 1))
        for a, b in itertools.combinations(seen, 2)
        if delta_e(seen[a], seen[b]) < SERIES_APART
    ]
    assert close == []


def test_the_old_red_and_green_would_fail() -> None:
    # The measure tells the pair the issue complained about from the new palette
    red, green = "#dc2626", "#16a34a"
    assert delta_e(simulate(red, "deuteranopia"), simulate(green, "deuteranopia")) < SERIES_APART


@pytest.mark.parametrize("deficiency", [None, *DEFICIENCIES])
def test_heatmap_classes_run_light_to_dark_for_every_reader(deficiency: str | None) -> None:
    seen = [simulate(c, deficiency) if deficiency else c for c in charts.HEAT_LEVELS]
    lightness = [luminance(c) for c in seen]
    assert lightness == sorted(lightness, reverse=True), "more mentions, darker, for everyone"
    for lighter, darker in itertools.pairwise(seen):
        assert delta_e(lighter, darker) >= 15, (lighter, darker)
