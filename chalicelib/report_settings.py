"""The settings a report is made with, read from a query string, the settings form or what
an account saved, and where each value in force came from.

Pure code, no I/O. Every setting has one name, the same in the query string, the form and
the saved item: ``days`` and ``target`` (minutes), ``tz``, ``hours`` (``HH:MM-HH:MM``),
``workdays`` (three-letter names), ``holidays`` (ISO dates), ``crowd`` and ``questions``.
A value is given as text, as a person types it; an empty one means the default. All but
``days`` can be saved per account (`SAVED_NAMES`): a view uses the saved value unless its
query names another.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from chalicelib.analytics import (
    CROWD_DEFAULT,
    DAYS_DEFAULT,
    TARGET_MINUTES_DEFAULT,
    TZ_DEFAULT,
    WORKDAYS_DEFAULT,
    InvalidReportParameter,
    ReportSettings,
    zone,
)
from chalicelib.report_body import Setting

DAYS_MIN, DAYS_MAX = 1, 3650  # ten years: the trend draws months past two years
TARGET_MINUTES_MIN, TARGET_MINUTES_MAX = 1, 10080
CROWD_MAX = 50
HOLIDAYS_MAX = 400
DAY_NAMES: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

# Every setting, in the order pages and the JSON list them; `days` is per view only.
NAMES: tuple[str, ...] = (
    "days",
    "target",
    "tz",
    "hours",
    "workdays",
    "holidays",
    "crowd",
    "questions",
)
SAVED_NAMES: tuple[str, ...] = NAMES[1:]

Source = str  # "saved", "query" or "default"


def _invalid(parameter: str, message: str) -> InvalidReportParameter:
    return InvalidReportParameter(message, parameter=parameter)


def whole_number(value: str, name: str, low: int, high: int) -> int:
    """`value` as a whole number from `low` to `high`, or InvalidReportParameter naming
    `name` (the settings' numbers, and the list pages' `page`)."""
    # Leading zeros aside, no number in range has more digits than `high`; checking the
    # length first keeps int() from a 5,000-digit value (Python refuses past 4,300 digits).
    text = value.strip()
    digits = text.lstrip("0") or "0"
    fits = text.isascii() and text.isdigit() and len(digits) <= len(str(high))
    if not fits or not low <= int(digits) <= high:
        raise _invalid(name, f"{name} must be a whole number from {low} to {high}.")
    return int(digits)


def parse_days(value: str | None) -> int:
    """The window in days: 1..3650, default 28."""
    if value is None or not value.strip():
        return DAYS_DEFAULT
    return whole_number(value, "days", DAYS_MIN, DAYS_MAX)


def parse_target_minutes(value: str | None) -> int:
    """The response-time target given in minutes (1..10080, default 60); returns seconds."""
    if value is None or not value.strip():
        return TARGET_MINUTES_DEFAULT * 60
    return whole_number(value, "target", TARGET_MINUTES_MIN, TARGET_MINUTES_MAX) * 60


_TZ_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_+-")


def parse_tz(value: str | None) -> str:
    """An IANA time zone name such as ``Europe/Berlin``; default ``UTC``. It is the
    report's zone: its days, heatmap and business hours, and every time a page shows."""
    if value is None or not value.strip():
        return TZ_DEFAULT
    name = value.strip()
    parts = name.split("/")
    if (
        len(name) > 64
        or not set(name) <= _TZ_CHARS
        or any(part in ("", ".", "..") for part in parts)
    ):
        raise _invalid("tz", f"tz: unknown time zone {name[:64]!r}.")
    try:
        zone(name)
    except InvalidReportParameter as error:
        raise _invalid("tz", f"tz: unknown time zone {name!r}.") from error
    return name


def _clock_minutes(text: str) -> int | None:
    """``HH:MM`` (``24:00`` allowed) -> minutes after midnight, or None."""
    hours, sep, minutes = text.strip().partition(":")
    if not sep or len(minutes) != 2 or not 1 <= len(hours) <= 2:
        return None
    if not (hours.isascii() and hours.isdigit() and minutes.isascii() and minutes.isdigit()):
        return None
    total = int(hours) * 60 + int(minutes)
    return total if int(minutes) < 60 and total <= 24 * 60 else None


def parse_hours(value: str | None) -> tuple[int, int] | None:
    """Business hours ``HH:MM-HH:MM`` (e.g. ``09:00-17:00``, ``00:00-24:00``) -> minutes
    after local midnight (opens, closes); None (no business hours) when empty. Hours that
    run past midnight are two settings' worth of work and are refused with a clear answer."""
    if value is None or not value.strip():
        return None
    opens_text, sep, closes_text = value.partition("-")
    opens, closes = _clock_minutes(opens_text), _clock_minutes(closes_text)
    if not sep or opens is None or closes is None:
        raise _invalid("hours", "hours must look like 09:00-17:00 (24-hour clock).")
    if closes <= opens:
        raise _invalid("hours", "hours must close after they open on the same day.")
    return opens, closes


def _items(value: str) -> list[str]:
    return [item for item in value.replace(",", " ").split() if item]


def parse_workdays(value: str | None) -> tuple[int, ...]:
    """Three-letter day names, comma or space separated (``mon,tue,wed``), any case ->
    weekday numbers (Monday 0), sorted; default Monday to Friday."""
    if value is None or not value.strip():
        return WORKDAYS_DEFAULT
    days = set()
    if not _items(value):
        raise _invalid("workdays", "workdays: name at least one day, e.g. mon,tue,wed,thu,fri.")
    for item in _items(value):
        name = item.lower()
        if name not in DAY_NAMES:
            raise _invalid(
                "workdays", f"workdays: {item[:20]!r} is not one of {', '.join(DAY_NAMES)}."
            )
        days.add(DAY_NAMES.index(name))
    return tuple(sorted(days))


def parse_holidays(value: str | None) -> tuple[date, ...]:
    """ISO dates (``2026-12-25``), comma or space separated, in the report's zone; sorted,
    each once; default none."""
    if value is None or not value.strip():
        return ()
    holidays: set[date] = set()
    for item in _items(value):
        try:
            if not _ISO_DATE.fullmatch(item):  # fromisoformat also reads 20261225, 2026-W52-5
                raise ValueError(item)
            holidays.add(date.fromisoformat(item))
        except ValueError:
            raise _invalid(
                "holidays", f"holidays: {item[:20]!r} is not a date like 2026-12-25."
            ) from None
    if len(holidays) > HOLIDAYS_MAX:
        raise _invalid("holidays", f"holidays: at most {HOLIDAYS_MAX} dates.")
    return tuple(sorted(holidays))


def parse_crowd(value: str | None) -> int:
    """Leave out mentions naming more than this many accounts: 0 (off) .. 50, default 5."""
    if value is None or not value.strip():
        return CROWD_DEFAULT
    return whole_number(value, "crowd", 0, CROWD_MAX)


def parse_questions(value: str | None) -> bool:
    """``1`` leaves out mentions without a question mark; ``0`` or empty keeps them."""
    if value is None or not value.strip():
        return False
    text = value.strip().lower()
    if text not in ("0", "1"):
        raise _invalid("questions", "questions must be 0 (every mention) or 1 (only questions).")
    return text == "1"


_PARSERS: dict[str, Callable[[str | None], Any]] = {
    "days": parse_days,
    "target": parse_target_minutes,
    "tz": parse_tz,
    "hours": parse_hours,
    "workdays": parse_workdays,
    "holidays": parse_holidays,
    "crowd": parse_crowd,
    "questions": parse_questions,
}


def _field_value(name: str, parsed: Any) -> Any:
    """A parsed setting as the JSON's `settings` and the forms show it."""
    if name == "target":
        return parsed // 60
    if name == "hours":
        return None if parsed is None else "-".join(_clock(m) for m in parsed)
    if name == "workdays":
        return [DAY_NAMES[d] for d in parsed]
    if name == "holidays":
        return [d.isoformat() for d in parsed]
    return parsed


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def form_text(name: str, value: Any) -> str:
    """A setting's JSON value as the text its form field holds."""
    if value is None or value is False:
        return "0" if name == "questions" else ""
    if value is True:
        return "1"
    if isinstance(value, list):
        return ",".join(value)
    return str(value)


@dataclass(frozen=True)
class ResolvedSettings:
    """The settings in force for one view, and where each came from."""

    report: ReportSettings
    values: Mapping[str, Any]  # name -> the value as the JSON shows it
    sources: Mapping[str, Source]  # name -> "saved", "query" or "default"

    def to_json(self) -> dict[str, Setting]:
        return {name: {"value": self.values[name], "source": self.sources[name]} for name in NAMES}

    def form_fields(self) -> dict[str, str]:
        """The values in force as the settings form's fields."""
        return {name: form_text(name, self.values[name]) for name in NAMES}


def _pick(name: str, query: Mapping[str, str], saved: Mapping[str, str]) -> tuple[str, Source]:
    given = query.get(name)
    if given is not None:
        return (given, "query") if given.strip() else ("", "default")
    stored = saved.get(name) if name in SAVED_NAMES else None
    if stored:
        return stored, "saved"
    return "", "default"


def resolve(query: Mapping[str, str], saved: Mapping[str, str] | None = None) -> ResolvedSettings:
    """The settings for a view: each from the query when it names it, else what the account
    saved, else the default. Raises InvalidReportParameter (naming the parameter) for a bad
    query value. A saved value that no longer parses (say a zone tzdata dropped) gives way to
    the default: the person cannot fix it from a query, and the page should still open."""
    saved = saved or {}
    parsed: dict[str, Any] = {}
    sources: dict[str, Source] = {}
    for name in NAMES:
        text, source = _pick(name, query, saved)
        try:
            parsed[name] = _PARSERS[name](text)
        except InvalidReportParameter:
            if source != "saved":
                raise
            text, source = "", "default"
            parsed[name] = _PARSERS[name](text)
        sources[name] = source
    hours = parsed["hours"]
    report = ReportSettings(
        days=parsed["days"],
        target_seconds=parsed["target"],
        tz=parsed["tz"],
        crowd=parsed["crowd"],
        questions=parsed["questions"],
        hours=hours,
        workdays=parsed["workdays"],
        holidays=parsed["holidays"],
    )
    values = {name: _field_value(name, parsed[name]) for name in NAMES}
    return ResolvedSettings(report, values, sources)


def saved_form(form: Mapping[str, str]) -> dict[str, str]:
    """What `POST /settings` stores: each saved setting of the form, checked and written in
    its plain form (an empty or missing field is left out: the default applies). Raises
    InvalidReportParameter naming the first bad field."""
    stored: dict[str, str] = {}
    for name in SAVED_NAMES:
        text = (form.get(name) or "").strip()
        if not text:
            continue
        value = _field_value(name, _PARSERS[name](text))
        if name == "questions" and value is False:
            continue
        stored[name] = form_text(name, value)
    return stored
