"""The README's cost tables are what `make bench-cost` makes now, not figures someone once
typed: the same rows, the same usage and prices, the same figures within 5 % (sizes of
gzipped posts and log lines vary a little from run to run). What retention saves, for a
fleet where half the accounts stop visiting after a month, is worked out by hand."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent
TABLE = re.compile(r"<!-- cost-table: make bench-cost -->\n(.*?)\n<!-- /cost-table -->", re.S)
RETENTION_TABLE = re.compile(
    r"<!-- retention-table: make bench-cost -->\n(.*?)\n<!-- /retention-table -->", re.S
)
NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


@pytest.fixture(scope="module")
def made() -> dict[str, Any]:
    from bench import cost

    return cost.main(quiet=True)


def _shape_and_figures(table: str) -> tuple[list[str], list[float]]:
    shape = [NUMBER.sub("#", line) for line in table.splitlines()]
    figures = [float(n.replace(",", "")) for n in NUMBER.findall(table)]
    return shape, figures


def _shown_as_made(shown_table: str, made_table: str) -> None:
    shown_shape, shown = _shape_and_figures(shown_table)
    made_shape, measured = _shape_and_figures(made_table)
    assert shown_shape == made_shape, "run `make bench-cost` and paste its table in README.md"
    for shown_figure, measured_figure in zip(shown, measured, strict=True):
        assert abs(shown_figure - measured_figure) <= 0.05 * max(abs(measured_figure), 1), (
            f"README shows {shown_figure}, make bench-cost makes {measured_figure}"
        )


def test_the_readme_shows_the_table_bench_cost_makes(made: dict[str, Any]) -> None:
    match = TABLE.search((PROJECT_DIR / "README.md").read_text())
    assert match, "README.md has no cost table between its markers"
    _shown_as_made(match.group(1), made["table"])
    # X is what an operator pays for; AWS is a rounding error next to it
    assert made["x_share"] > 0.99
    assert made["posts_read_per_new_post"] == 1.0  # a refresh reads only what is new


def test_retention_saves_the_idle_half_s_refreshes_and_x_reads(made: dict[str, Any]) -> None:
    from bench import cost

    saved = made["retention_saved"]
    # 500 idle accounts, no longer refreshed: 24 rounds a day for 30 days each
    assert saved["refreshes"] == 500 * 24 * 30 == 360_000
    # ... nor read from X: 20 mentions and 20 posts of their own a day, for 30 days,
    # at $0.005 a post (their authors are looked up only when a report shows someone new)
    assert saved["x_posts"] == 500 * (20 + 20) * 30 == 600_000
    assert saved["x_usd"] == pytest.approx(600_000 * 0.005) == 3_000
    # AWS: the rounds' messages, the workers, their S3 and DynamoDB calls, and archives that
    # stopped growing; a few dollars against X's thousands
    assert 0 < saved["aws_usd"] < saved["x_usd"] / 100
    assert saved["s3_gb"] > 0
    without, with_retention, _ = made["retention_table"].splitlines()[2:]
    assert "without retention" in without and "with retention" in with_retention
    assert cost.IDLE_SHARE == 0.5


def test_users_are_read_for_the_rows_shown_not_for_every_mention(made: dict[str, Any]) -> None:
    # Timelines are read without `expansions=author_id`, which would bill each of the
    # 1,000 accounts' 20 new mentions a day's authors at $0.010: $6,000 a month. Handles
    # are looked up only for authors a report shows for the first time: cents at most.
    assert 1_000 * 20 * 30 * 0.010 == 6_000
    assert made["x_users_usd"] < 1
    # ... and the owned-reads column prices the posts at $0.001: 1,200,000 posts, $1,200
    owned_posts = next(line for line in made["table"].splitlines() if "X posts read" in line)
    assert owned_posts.endswith("| 6,000.00 | 1,200.00 |")


def test_the_readme_shows_the_retention_table_bench_cost_makes(made: dict[str, Any]) -> None:
    match = RETENTION_TABLE.search((PROJECT_DIR / "README.md").read_text())
    if match is None:
        pytest.skip("README.md has no retention table between its markers yet")
    _shown_as_made(match.group(1), made["retention_table"])


def test_xs_monthly_cap_binds_at_the_fleet_the_readme_names(made: dict[str, Any]) -> None:
    # X's 3,000,000 post reads a month are the app's, not each token's: at 1,200 posts an
    # account a month (20 mentions and 20 own posts a day), 2,500 accounts reach it
    assert made["x_posts_per_account"] == 1_200
    assert made["x_cap_accounts"] == 3_000_000 // 1_200 == 2_500
    readme = (PROJECT_DIR / "README.md").read_text()
    assert "binds at 2,500 accounts" in readme
