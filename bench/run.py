"""`make bench`: every benchmark in one run, each printing its figures as it goes, then one
table of them all in build/bench.md.

Benchmarks owned by other parts of the project (bench/report.py, bench/schedule.py,
bench/cost.py) are run through their `main()` when the file is there.

    python -m bench.run [--only NAME ...]
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
if str(PROJECT_DIR) not in sys.path:
    sys.path.insert(0, str(PROJECT_DIR))
OUTPUT = PROJECT_DIR / "build" / "bench.md"

Row = tuple[str, str, str]  # measure, value, goal
Sections = dict[str, list[Row]]


@dataclass(frozen=True)
class Benchmark:
    name: str  # for --only
    module: str
    title: str
    to_rows: Callable[[Any, Any], Sections]


def _own_rows(title: str) -> Callable[[Any, Any], Sections]:
    """Our modules have `rows(figures)`: a list of rows, or sections of them."""

    def convert(module: Any, figures: Any) -> Sections:
        made = module.rows(figures)
        return made if isinstance(made, dict) else {title: made}

    return convert


def _report_rows(module: Any, figures: dict[str, Any]) -> Sections:
    ratio = figures["ratio"]
    return {
        "Analysis vs json.loads": [
            (
                f"posts ({figures['json_bytes'] / 1e6:.1f} MB of X JSON)",
                f"{figures['posts']:,}",
                "",
            ),
            ("json.loads (best of runs)", _seconds(figures["json_loads_s"]), ""),
            ("report.build + to_dict (best of runs)", _seconds(figures["analysis_s"]), ""),
            ("ratio analysis / json.loads", f"{ratio:.2f}", _goal(ratio, 1.0)),
            ("posts analysed per second", f"{figures['posts_per_s']:,.0f}", ""),
        ]
    }


def _generic_rows(title: str) -> Callable[[Any, Any], Sections]:
    """Another module's figures: its `rows()` if it has one, else each key and value."""

    def convert(module: Any, figures: Any) -> Sections:
        if hasattr(module, "rows"):
            return _own_rows(title)(module, figures)
        if not isinstance(figures, dict):
            return {title: [("result", _value("", figures), "")]}
        rows: list[Row] = []
        goal = getattr(module, "GOAL", None)
        for key, value in _flatten(figures):
            target = _goal(value, goal) if key == "ratio" and goal is not None else ""
            rows.append((key, _value(key, value), target))
        return {title: rows}

    return convert


BENCHMARKS = (
    Benchmark("coldstart", "bench.coldstart", "Cold start", _own_rows("Cold start")),
    Benchmark("calls", "bench.calls", "AWS and X calls", _own_rows("AWS and X calls")),
    Benchmark("report", "bench.report", "Analysis vs json.loads", lambda m, f: _report_rows(m, f)),
    Benchmark(
        "schedule",
        "bench.schedule",
        "Schedule at 1,000, 10,000 and 100,000 accounts",
        _own_rows("Schedule"),
    ),
    Benchmark("cost", "bench.cost", "Cost", _generic_rows("Cost")),
    Benchmark("throughput", "bench.throughput", "Local throughput", _own_rows("Local throughput")),
)


def _flatten(figures: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    flat: list[tuple[str, Any]] = []
    for key, value in figures.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.extend(_flatten(value, name + "."))
        else:
            flat.append((name, value))
    return flat


def _seconds(value: float) -> str:
    return f"{value * 1000:.1f} ms" if value < 10 else f"{value:.1f} s"


def _value(key: str, value: Any) -> str:
    if isinstance(value, float):
        if key.endswith("_s"):
            return _seconds(value)
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _goal(value: Any, limit: float) -> str:
    met = isinstance(value, int | float) and value <= limit
    return f"≤ {limit:g}: {'met' if met else 'NOT met'}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def write_table(sections: list[tuple[str, list[Row]]], started: datetime, path: Path) -> None:
    lines = [
        "# Benchmarks",
        "",
        f"`make bench` on {started:%Y-%m-%d %H:%M} UTC; Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs. "
        "Each ratio is measured within one run.",
        "",
        "| benchmark | measure | value | goal |",
        "|---|---|---|---|",
    ]
    for title, rows in sections:
        for index, (measure, value, goal) in enumerate(rows):
            name = title if index == 0 else ""
            lines.append(f"| {_cell(name)} | {_cell(measure)} | {_cell(value)} | {_cell(goal)} |")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def main(only: list[str] | None = None) -> int:
    started = datetime.now(UTC)
    sections: list[tuple[str, list[Row]]] = []
    failed = 0
    for benchmark in BENCHMARKS:
        if only and benchmark.name not in only:
            continue
        source = PROJECT_DIR / (benchmark.module.replace(".", "/") + ".py")
        if not source.exists():
            print(f"\n== {benchmark.title}: {source.name} is not there yet, skipped", flush=True)
            sections.append((benchmark.title, [(f"{source.name} not there yet", "—", "")]))
            continue
        print(f"\n== {benchmark.title}", flush=True)
        clock = time.perf_counter()
        try:
            module = importlib.import_module(benchmark.module)
            figures = module.main()
            made = benchmark.to_rows(module, figures)
        except Exception as error:
            failed += 1
            traceback.print_exc()
            sections.append((benchmark.title, [("failed", f"{type(error).__name__}: {error}", "")]))
            continue
        sections.extend(made.items())
        print(f"({time.perf_counter() - clock:.1f} s)", flush=True)
    write_table(sections, started, OUTPUT)
    print(f"\n{OUTPUT.relative_to(PROJECT_DIR)}:\n")
    print(OUTPUT.read_text())
    return 1 if failed else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", nargs="*", choices=[b.name for b in BENCHMARKS], help="run only these"
    )
    sys.exit(main(parser.parse_args().only))
