"""The README's cost table is what `make bench-cost` makes now, not a figure someone once
typed: the same rows, the same usage and prices, the same figures within 5 % (sizes of
gzipped posts and log lines vary a little from run to run)."""

from __future__ import annotations

import re
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
TABLE = re.compile(r"<!-- cost-table: make bench-cost -->\n(.*?)\n<!-- /cost-table -->", re.S)
NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def _shape_and_figures(table: str) -> tuple[list[str], list[float]]:
    shape = [NUMBER.sub("#", line) for line in table.splitlines()]
    figures = [float(n.replace(",", "")) for n in NUMBER.findall(table)]
    return shape, figures


def test_the_readme_shows_the_table_bench_cost_makes() -> None:
    from bench import cost

    made = cost.main(quiet=True)
    match = TABLE.search((PROJECT_DIR / "README.md").read_text())
    assert match, "README.md has no cost table between its markers"
    shown_shape, shown = _shape_and_figures(match.group(1))
    made_shape, measured = _shape_and_figures(made["table"])
    assert shown_shape == made_shape, "run `make bench-cost` and paste its table in README.md"
    for shown_figure, measured_figure in zip(shown, measured, strict=True):
        assert abs(shown_figure - measured_figure) <= 0.05 * max(abs(measured_figure), 1), (
            f"README shows {shown_figure}, make bench-cost makes {measured_figure}"
        )
    # X is what an operator pays for; AWS is a rounding error next to it
    assert made["x_share"] > 0.99
    assert made["posts_read_per_new_post"] == 1.0  # a refresh reads only what is new
