"""Reading what an operator's CloudWatch reads: the JSON lines a function prints, among
them Powertools' EMF metrics (Embedded Metric Format)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Metric:
    namespace: str
    name: str
    unit: str
    value: float  # EMF may carry a list of values for one name: summed
    dimensions: dict[str, str]


def json_lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue
    return lines


def metrics_in(text: str) -> list[Metric]:
    found = []
    for line in json_lines(text):
        if "_aws" not in line:
            continue
        for directive in line["_aws"]["CloudWatchMetrics"]:
            names = {name for group in directive["Dimensions"] for name in group}
            dimensions = {name: line[name] for name in names}
            for metric in directive["Metrics"]:
                value = line[metric["Name"]]
                total = sum(value) if isinstance(value, list) else value
                found.append(
                    Metric(
                        directive["Namespace"], metric["Name"], metric["Unit"], total, dimensions
                    )
                )
    return found


def total(metrics: list[Metric], name: str, **dimensions: str) -> float:
    """The sum of one metric over every line, for the given dimensions."""
    return sum(
        m.value
        for m in metrics
        if m.name == name and all(m.dimensions.get(k) == v for k, v in dimensions.items())
    )
