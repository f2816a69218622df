"""What the report page shows, in words a person reads at a glance."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

COMMON_ZONES = (
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Paris",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Amsterdam",
    "Europe/Stockholm",
    "Europe/Warsaw",
    "Europe/Istanbul",
    "Africa/Lagos",
    "Africa/Johannesburg",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Asia/Seoul",
    "Australia/Sydney",
    "Pacific/Auckland",
    "America/Sao_Paulo",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Mexico_City",
    "America/Toronto",
)


def duration(seconds: float | None) -> str:
    """12 s, 4 min, 1 h 40 min, 3 d 2 h; an em dash when there is no value."""
    if seconds is None:
        return "—"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.0f}%"


def ago(iso: str, now: float) -> str:
    minutes = max(0, int(now - datetime.fromisoformat(iso).timestamp()) // 60)
    if minutes == 0:
        return "just now"
    if minutes < 60:
        return f"{minutes} minute{'s' * (minutes != 1)} ago"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} hour{'s' * (hours != 1)} ago"
    return f"{hours // 24} days ago"


def context(body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
    from chalicelib.charts import daily_svg, heatmap_svg, histogram_svg

    stats = body["first_response_seconds"]
    source = body["source"]
    params = {k: v for k, v in query.items() if k in ("days", "target", "tz") and v}
    suffix = f"?{urlencode(params)}" if params else ""
    reset = source.get("reset_time")
    return {
        "title": f"@{body['account']['username']} · report",
        "report": body,
        "headline": {
            "response_rate": percent(body["response_rate"]),
            "median": duration(stats["median"]),
            "p90": duration(stats["p90"]),
            "within_target": percent(body["within_target_rate"]),
            "target": duration(body["target_seconds"]),
        },
        "duration": duration,
        "charts": {
            "histogram": histogram_svg(body),
            "daily": daily_svg(body),
            "heatmap": heatmap_svg(body),
        },
        "updated": ago(source["refreshed_at"], time.time()),
        "stale": source["stale"],
        "come_back_at": (
            datetime.fromtimestamp(reset, UTC).strftime("%H:%M UTC") if reset else None
        ),
        "links": {"csv": f"/report.csv{suffix}", "json": f"/report.json{suffix}"},
        "controls": {
            "days": body["window"]["days"],
            "target": body["target_seconds"] // 60,
            "tz": body["heatmap"]["tz"],
            "zones": COMMON_ZONES,
        },
    }
