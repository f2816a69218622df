"""Report bodies for the chart tests and for looking at the charts, built by
``analytics.build`` from posts, as a real report is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

from chalicelib import analytics
from chalicelib.report_settings import resolve

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
OUTLIER_DAY = 5  # the day whose mentions were answered three days late
LONE_DAY = 20  # answered, between two days with mentions but no answer
NO_MENTIONS = (12, 13)  # days nobody mentioned the account


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _mention(i: int, at: datetime) -> dict[str, Any]:
    return {"id": str(10**6 + i), "text": "hi?", "created_at": iso(at), "author_id": str(2 + i)}


def _reply(i: int, at: datetime) -> dict[str, Any]:
    return {
        "id": str(10**7 + i),
        "created_at": iso(at),
        "author_id": "1",
        "referenced_tweets": [{"type": "replied_to", "id": str(10**6 + i)}],
    }


def _wait(day: int, i: int) -> timedelta | None:
    """How long mention i of a day waited for its first reply; None: no reply."""
    if day == OUTLIER_DAY:
        return timedelta(days=3)
    if day in (LONE_DAY - 1, LONE_DAY + 1):
        return None
    return timedelta(minutes=2 + (day * 7 + i * 5) % 19)  # 2 to 20 minutes


def realistic_report(days: int = 28, tz: str = "Europe/Berlin") -> dict[str, Any]:
    """A care team that answers in minutes, with what real windows hold: one day answered
    three days late, a lone answered day between days without answers, days nobody wrote,
    and a first and a last day the window covers in part. Settings and source included, as
    the page gets it."""
    start = NOW - timedelta(days=days)
    first_midnight = start.replace(hour=0, minute=0)
    mentions, own, i = [], [], 0
    for day in range(days + 1):
        if day in NO_MENTIONS:
            continue
        for n in range(3 + day % 4):
            # Between 01:00 and 22:00 UTC: on the same date in UTC and in Europe/Berlin.
            at = first_midnight + timedelta(days=day, hours=1 + 4 * n, minutes=day % 50)
            if not start <= at < NOW:
                continue
            mentions.append(_mention(i, at))
            wait = _wait(day, n)
            if wait is not None and at + wait < NOW:
                own.append(_reply(i, at + wait))
            i += 1
    settings = resolve({"tz": tz, "days": str(days)})
    report = analytics.build("1", "acme", mentions, own, {}, NOW, settings.report)
    body = cast("dict[str, Any]", report.to_dict())
    body["settings"] = settings.to_json()
    body["source"] = {
        "x_requests": 0,
        "x_posts_read": 0,
        "archive_posts": len(mentions) + len(own),
        "refreshed_at": iso(NOW),
        "stale": False,
        "still_reading": False,
        "reset_time": None,
        "archive_available": True,
        "complete_since": None,
    }
    return body
