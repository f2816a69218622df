"""What the report page shows, in words a person reads at a glance.

Every time on the page is on the wall clock of the report's zone and names it
(`formats.local_time`: ``2026-03-29 09:15 Europe/London``), and the days of the daily chart
are that zone's days: a person who chose a zone never meets a time on another clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import urlencode

from chalicelib.analytics import (
    DAY_TREND_MAX_DAYS,
    WEEK_TREND_MAX_DAYS,
    Report,
    slowest_json,
    waiting_json,
)
from chalicelib.charts import chart_figures
from chalicelib.formats import duration, local_time
from chalicelib.report_body import StoredReport
from chalicelib.report_lists import ListName, list_page
from chalicelib.report_settings import DAYS_MAX, DAYS_MIN, NAMES, form_text
from chalicelib.x_bill import XCost, dollars

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


DAY_LABELS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
REASONS = {"crowd": "crowd mention", "not_a_question": "mention without a question"}
REASON_HEADINGS = {"crowd": "Crowd mentions", "not_a_question": "Mentions without a question"}


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'s' * (count != 1)}"


def _period_name(days: int) -> str:
    return "the day before" if days == 1 else f"the {days:,} days before"


def rate_change(now: float | None, before: float | None, period: str) -> dict[str, str]:
    """A rate against the previous period, in percentage points; higher is better."""
    if now is None or before is None:
        return {"text": f"no figure for {period}", "trend": "flat", "arrow": ""}
    points = round((now - before) * 100)
    if points == 0:
        return {"text": f"same as {period}", "trend": "flat", "arrow": "="}
    arrow, trend = ("▲", "good") if points > 0 else ("▼", "bad")
    return {"text": f"{points:+d} pts vs {period}", "trend": trend, "arrow": arrow}


def time_change(now: float | None, before: float | None, period: str) -> dict[str, str]:
    """A duration against the previous period; shorter is better."""
    if now is None or before is None:
        return {"text": f"no figure for {period}", "trend": "flat", "arrow": ""}
    delta = now - before
    if abs(delta) < 60:
        return {"text": f"about the same as {period}", "trend": "flat", "arrow": "="}
    if delta < 0:
        return {"text": f"{duration(-delta)} faster than {period}", "trend": "good", "arrow": "▼"}
    return {"text": f"{duration(delta)} slower than {period}", "trend": "bad", "arrow": "▲"}


def _stat(stats: Mapping[str, Any] | None, name: str) -> float | None:
    return None if stats is None else stats.get(name)


def _card(
    card: str, now: Any, before: Any, label: str, period: str, *, time: bool = False
) -> dict[str, Any]:
    """A headline figure (a duration when ``time``, else a rate) beside its change."""
    change = time_change if time else rate_change
    return {
        "id": card,
        "figure": duration(now) if time else percent(now),
        "label": label,
        "change": change(now, before, period),
    }


def _cards(body: StoredReport) -> list[dict[str, Any]]:
    """The headline figures, people first, then messages; with business hours set, the
    business-hours figures lead and the calendar ones follow. Each beside the previous
    period's figure."""
    cases, previous = body["cases"], body["previous"]
    before = previous["cases"]
    period = _period_name(body["window"]["days"])
    if not previous["complete"]:
        period += " (history incomplete)"
    target = duration(body["target_seconds"])
    business = body["first_response_business_seconds"] is not None
    calendar, earlier = cases["first_response_seconds"], before["first_response_seconds"]
    messages, earlier_messages = body["first_response_seconds"], previous["first_response_seconds"]
    people = [
        _card(
            "people-answered",
            cases["response_rate"],
            before["response_rate"],
            f"of people answered ({cases['answered']:,} of {cases['count']:,})",
            period,
        ),
        _card(
            "people-median",
            calendar["median"],
            _stat(earlier, "median"),
            "median first reply to a person" + (", round the clock" if business else ""),
            period,
            time=True,
        ),
    ]
    message_cards = [
        _card(
            "response-rate",
            body["response_rate"],
            previous["response_rate"],
            f"of messages answered ({body['answered']:,} of {body['mentions']:,})",
            period,
        ),
        _card(
            "median",
            messages["median"],
            _stat(earlier_messages, "median"),
            "median first reply to a message",
            period,
            time=True,
        ),
        _card(
            "p90",
            messages["p90"],
            _stat(earlier_messages, "p90"),
            "9 in 10 answered messages got a reply within this",
            period,
            time=True,
        ),
    ]
    within = _card(
        "within-target",
        body["within_target_rate"],
        previous["within_target_rate"],
        f"of all messages answered within {target}",
        period,
    )
    if not business:
        return [*people, *message_cards, within]
    within_business = _card(
        "within-target-business",
        body["within_target_business_rate"],
        previous["within_target_business_rate"],
        f"of all messages answered within {target} of business hours",
        period,
    )
    business_cards = [
        _card(
            "people-median-business",
            _stat(cases["first_response_business_seconds"], "median"),
            _stat(before["first_response_business_seconds"], "median"),
            "median first reply to a person, in business hours",
            period,
            time=True,
        ),
        _card(
            "people-within-target-business",
            cases["within_target_business_rate"],
            before["within_target_business_rate"],
            f"of people answered within {target} of business hours",
            period,
        ),
    ]
    return [people[0], *business_cards, people[1], *message_cards, within_business, within]


def _lead(body: StoredReport) -> str:
    """The sentence above the cards: people first."""
    cases = body["cases"]
    if not cases["count"]:
        return f"Nobody mentioned @{body['account']['username']} in this window."
    business = cases["first_response_business_seconds"]
    if business is not None:
        return (
            f"{percent(cases['response_rate'])} of people answered, median "
            f"{duration(business['median'])} in business hours"
        )
    return (
        f"{percent(cases['response_rate'])} of people answered, median "
        f"{duration(cases['first_response_seconds']['median'])}"
    )


def _excluded(body: StoredReport) -> dict[str, int]:
    """Left-out mentions by reason, as a plain mapping to look up by name."""
    counts = body["excluded"]
    return {"crowd": counts["crowd"], "not_a_question": counts["not_a_question"]}


def _days_label(workdays: list[str]) -> str:
    """mon..fri -> "Mon-Fri"; a run of three or more days is a range."""
    numbers = sorted(DAY_LABELS.index(d.title()) for d in workdays)
    runs: list[list[int]] = []
    for day in numbers:
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    parts = [
        f"{DAY_LABELS[r[0]]}-{DAY_LABELS[r[-1]]}"
        if len(r) >= 3
        else ", ".join(DAY_LABELS[d] for d in r)
        for r in runs
    ]
    return ", ".join(parts)


def _counted(body: StoredReport) -> str:
    """What was counted and how, in one line."""
    settings: dict[str, Any] = {n: entry["value"] for n, entry in body["settings"].items()}
    parts = [
        f"Counted: {_plural(body['cases']['count'], 'person')} "
        f"in {_plural(body['mentions'], 'mention')}".replace("persons", "people")
    ]
    excluded = _excluded(body)
    for reason, count in excluded.items():
        if count:
            parts.append(f"{_plural(count, REASONS[reason])} left out")
    if settings["crowd"] == 0:
        parts.append("crowd rule off")
    if settings["hours"]:
        hours = f"business hours {_days_label(settings['workdays'])} {settings['hours']} "
        hours += settings["tz"]
        if settings["holidays"]:
            hours += f", {_plural(len(settings['holidays']), 'holiday')} off"
        parts.append(hours)
    else:
        parts.append(f"round-the-clock time ({settings['tz']}); no business hours set")
    return "; ".join(parts)


def report_zone(body: StoredReport) -> str:
    """The zone the page writes the report's times in: the report's own; for one stored
    before the window named it, its heatmap's, which was always the settings' zone."""
    return body["window"].get("tz") or body["heatmap"]["tz"]


def days_zone(body: StoredReport) -> str:
    """The zone whose calendar days the daily rows are: the window's; UTC for a report
    stored before days followed the zone (it cut them at UTC midnight)."""
    return body["window"].get("tz") or "UTC"


def _data_begins(body: StoredReport, when: Callable[[str], str]) -> str | None:
    """When the archive's complete record begins, when that is inside the window (so its
    first days are empty for want of data, not of mentions); None otherwise."""
    since = body["source"].get("complete_since")
    if not since or since <= body["window"]["start"]:
        return None
    if body["source"].get("history", {}).get("state") == "done":
        return None  # every mention X has is read: before the oldest there were none
    return when(since)


def _history(body: StoredReport, when: Callable[[str], str]) -> dict[str, Any] | None:
    """The report's word on older history (history.py): an offer to read it, how far the
    read has got, or how far back the archive reaches; None for a report stored before
    history could be read."""
    history = body["source"].get("history")
    if history is None:
        return None
    reaches = history["reaches_back_to"]
    phase = history["state"]
    if phase == "reading":
        text = f"Reading history: {history['read']:,} of about {history['estimate']:,} posts."
    elif phase == "done":
        text = f"Your archive reaches back to {when(reaches)}." if reaches else ""
        text += " It holds all your history."
    else:
        text = "X's full archive has your mentions from before it."
    return {"phase": phase, "text": text.strip(), "reaches": reaches}


def _times(body: StoredReport) -> dict[str, Any]:
    """Every time the page shows outside the tables, and ``when`` for the tables' times: all
    written by one function, in the report's zone, naming it."""
    source = body["source"]
    zone = report_zone(body)
    when = partial(local_time, zone=zone)
    reset = source.get("reset_time")
    return {
        "zone": zone,
        "zone_label": days_zone(body),  # the daily chart's days
        "when": when,
        "updated_at": when(source["refreshed_at"]),
        "data_begins": _data_begins(body, when),
        "history": _history(body, when),
        "as_of": when(source["refreshed_at"]),
        "come_back_at": when(datetime.fromtimestamp(reset, UTC)) if reset else None,
    }


def settings_form(fields: dict[str, str], sources: dict[str, str] | None = None) -> dict[str, Any]:
    """The settings form's context: each field's text, and what each value came from."""
    named = {name: source for name, source in (sources or {}).items() if source != "default"}
    return {
        "form": fields,
        "zones": COMMON_ZONES,
        "days_range": (DAYS_MIN, DAYS_MAX),
        "trend_limits": {"day": DAY_TREND_MAX_DAYS, "week": WEEK_TREND_MAX_DAYS},
        "sources": {
            "saved": [n for n, source in named.items() if source == "saved"],
            "query": [n for n, source in named.items() if source == "query"],
        },
    }


PRESET_DAYS = (7, 28, 90)


def _presets(body: StoredReport, query: dict[str, str]) -> list[dict[str, Any]]:
    """The windows a person picks most, as links that keep her other settings of this view
    ("current": the window shown)."""
    shown = body["window"]["days"]
    kept = {k: v for k, v in query.items() if k in NAMES and k != "days"}
    return [
        {
            "label": f"{days} days",
            "href": "/report?" + urlencode({"days": str(days), **kept}),
            "current": days == shown,
        }
        for days in PRESET_DAYS
    ]


def x_cost_line(cost: XCost | None) -> str | None:
    """ "X cost of this report: 312 posts, $1.56" ("312 posts and 4 users, $1.60" once
    authors' handles were looked up), and this month's share when it is not all of it;
    None for a report stored before costs were counted."""
    if cost is None:
        return None
    posts, users = cost["posts"], cost.get("users", 0)
    month_posts, month_users = cost["month_posts"], cost.get("month_users", 0)
    line = f"X cost of this report: {_plural(posts, 'post')}"
    line += f" and {_plural(users, 'user')}, " if users else ", "
    line += dollars(cost["usd"])
    if month_posts != posts or month_users != users:
        month = f"{month_posts:,}"
        if users:
            month = f"{_plural(month_posts, 'post')} and {_plural(month_users, 'user')}"
        line += f" ({month} of them this month, {dollars(cost['month_usd'])})"
    return line


def context(body: StoredReport, query: dict[str, str]) -> dict[str, Any]:
    source = body["source"]
    # An empty value is kept: it sets a saved setting back to its default for this view.
    params = {k: v for k, v in query.items() if k in NAMES}
    suffix = f"?{urlencode(params)}" if params else ""
    left_out: dict[str, dict[str, Any]] = {}
    excluded = _excluded(body)
    for row in body["left_out"]:
        reason = row["reason"] or ""
        group = left_out.setdefault(
            reason,
            {"heading": REASON_HEADINGS[reason], "count": excluded[reason], "rows": []},
        )
        group["rows"].append(row)
    fields = {name: form_text(name, entry["value"]) for name, entry in body["settings"].items()}
    return {
        "title": f"@{body['account']['username']} · report",
        "report": body,
        "lead": _lead(body),
        "cards": _cards(body),
        "counted": _counted(body),
        "left_out": left_out,
        "left_out_count": sum(body["excluded"].values()),
        "business": body["first_response_business_seconds"] is not None,
        "duration": duration,
        "charts": chart_figures(body),
        "updated": ago(source["refreshed_at"], time.time()),
        "x_cost": x_cost_line(source.get("x_cost")),
        **_times(body),
        "stale": source["stale"],
        "x_paused": source.get("x_paused", False),  # stored before it existed
        "still_reading": source.get("still_reading", False),  # stored before it existed
        "links": {
            "csv": f"/report.csv{suffix}",
            "json": f"/report.json{suffix}",
            "xlsx": f"/report.xlsx{suffix}",
            "waiting": f"/report/waiting{suffix}",
            "slowest": f"/report/slowest{suffix}",
            "refresh": f"/refresh{suffix}",  # POST: back to this view once refreshed
        },
        "presets": _presets(body, query),
        # After "Refresh now": "wait" when she pressed it less than REFRESH_NOW_SECONDS ago.
        "refresh_refused": query.get("refresh") == "wait",
        **settings_form(
            fields, {name: entry["source"] for name, entry in body["settings"].items()}
        ),
    }


LIST_WORDS = {  # (one, many, what an empty list says)
    "waiting": ("person", "people", "Nobody is waiting for an answer in this window."),
    "slowest": ("answer", "answers", "Nothing was answered in this window."),
}


def list_context(
    body: StoredReport, report: Report, name: ListName, query: dict[str, str]
) -> dict[str, Any]:
    """The context of /report/waiting or /report/slowest: one page of the list, its times in
    the report's zone, and a way back to the report with the same settings."""
    listed = list_page(report, name, query)
    one, many, empty = LIST_WORDS[name]
    times = _times(body)
    settings = {k: v for k, v in query.items() if k in NAMES}
    # The page's rows in the report JSON's shape, so one table markup (_lists.html) serves
    # the report's short lists and these pages, ages counted as the JSON counts them.
    rows: list[Any]
    if name == "waiting":
        rows = [waiting_json(row, report.generated_at) for row in listed.rows]
    else:
        rows = [slowest_json(row) for row in listed.rows]
    return {
        "title": f"@{body['account']['username']} · {listed.title.lower()}",
        "report": body,
        "list": listed,
        "rows": rows,
        "noun": one,
        "nouns": many,
        "empty": empty,
        "zone": times["zone"],
        "when": times["when"],
        "duration": duration,
        "back_href": "/report" + (f"?{urlencode(settings)}" if settings else ""),
    }
