"""chalicelib.report_settings: what a person types, what is saved, what a view uses and
where each value came from. GIVEN / WHEN / THEN."""

from __future__ import annotations

from datetime import date

import pytest

from chalicelib.analytics import InvalidReportParameter, ReportSettings
from chalicelib.report_settings import (
    parse_crowd,
    parse_holidays,
    parse_hours,
    parse_questions,
    parse_workdays,
    resolve,
    saved_form,
)


def test_parse_hours() -> None:
    assert parse_hours(None) is None and parse_hours(" ") is None
    assert parse_hours("09:00-17:00") == (540, 1020)
    assert parse_hours(" 9:30 - 17:45 ") == (570, 1065)
    assert parse_hours("00:00-24:00") == (0, 1440)
    for bad in ("9-5", "09:00", "09:00-17", "09:60-17:00", "25:00-26:00", "0900-1700", "a-b"):
        with pytest.raises(InvalidReportParameter, match="09:00-17:00") as caught:
            parse_hours(bad)
        assert caught.value.parameter == "hours"
    with pytest.raises(InvalidReportParameter, match="close after they open"):
        parse_hours("17:00-09:00")


def test_parse_workdays() -> None:
    assert parse_workdays(None) == (0, 1, 2, 3, 4)
    assert parse_workdays("sat, SUN,mon") == (0, 5, 6)
    assert parse_workdays("tue tue") == (1,)
    with pytest.raises(InvalidReportParameter, match="'monday' is not one of") as caught:
        parse_workdays("monday")
    assert caught.value.parameter == "workdays"
    with pytest.raises(InvalidReportParameter, match="at least one day"):
        parse_workdays(" , ")


def test_parse_holidays() -> None:
    assert parse_holidays("") == ()
    assert parse_holidays("2026-12-26, 2026-12-25 2026-12-25") == (
        date(2026, 12, 25),
        date(2026, 12, 26),
    )
    for bad in ("25/12/2026", "20261225", "2026-02-30", "christmas", "2026-W52-5", "2026-12-2"):
        with pytest.raises(InvalidReportParameter, match="not a date like") as caught:
            parse_holidays(bad)
        assert caught.value.parameter == "holidays"


def test_parse_crowd_and_questions() -> None:
    assert (parse_crowd(None), parse_crowd("0"), parse_crowd("12")) == (5, 0, 12)
    for bad in ("-1", "51", "five", "1.5"):
        with pytest.raises(InvalidReportParameter, match="crowd must be a whole number"):
            parse_crowd(bad)
    assert (parse_questions(None), parse_questions("0"), parse_questions("1")) == (
        False,
        False,
        True,
    )
    with pytest.raises(InvalidReportParameter, match="questions must be 0") as caught:
        parse_questions("yes")
    assert caught.value.parameter == "questions"


def test_a_view_uses_the_query_then_what_was_saved_then_the_default() -> None:
    # GIVEN saved business hours, zone and target, and a query naming the target and days
    saved = {"hours": "09:00-17:00", "tz": "Europe/London", "target": "30"}
    # WHEN
    resolved = resolve({"target": "15", "days": "7"}, saved)
    # THEN
    assert resolved.report == ReportSettings(
        days=7, target_seconds=900, tz="Europe/London", hours=(540, 1020)
    )
    assert resolved.sources == {
        "days": "query",
        "target": "query",
        "tz": "saved",
        "hours": "saved",
        "workdays": "default",
        "holidays": "default",
        "crowd": "default",
        "questions": "default",
    }
    assert resolved.to_json()["hours"] == {"value": "09:00-17:00", "source": "saved"}
    assert resolved.to_json()["workdays"]["value"] == ["mon", "tue", "wed", "thu", "fri"]
    assert resolved.to_json()["target"] == {"value": 15, "source": "query"}


def test_an_empty_query_field_means_the_default_for_that_view() -> None:
    resolved = resolve({"hours": ""}, {"hours": "09:00-17:00"})
    assert resolved.report.hours is None
    assert resolved.sources["hours"] == "default"


def test_a_bad_query_value_is_refused_naming_the_parameter() -> None:
    with pytest.raises(InvalidReportParameter) as caught:
        resolve({"holidays": "tomorrow"}, {})
    assert caught.value.parameter == "holidays"
    assert "holidays" in str(caught.value)


def test_a_saved_value_that_no_longer_parses_gives_way_to_the_default() -> None:
    resolved = resolve({}, {"tz": "Mars/Olympus_Mons", "crowd": "8"})
    assert resolved.report.tz == "UTC" and resolved.sources["tz"] == "default"
    assert resolved.report.crowd == 8 and resolved.sources["crowd"] == "saved"


def test_days_are_never_saved() -> None:
    assert resolve({}, {"days": "7"}).report.days == 28


def test_the_form_is_saved_in_plain_form() -> None:
    # GIVEN what a person typed
    form = {
        "days": "7",
        "target": " 30 ",
        "tz": "Europe/London",
        "hours": "9:00-17:30",
        "workdays": "MON, tue,wed",
        "holidays": "2026-12-26 2026-12-25",
        "crowd": "0",
        "questions": "0",
    }
    # WHEN
    saved = saved_form(form)
    # THEN days and the defaults chosen explicitly off (questions 0) are not stored
    assert saved == {
        "target": "30",
        "tz": "Europe/London",
        "hours": "09:00-17:30",
        "workdays": "mon,tue,wed",
        "holidays": "2026-12-25,2026-12-26",
        "crowd": "0",
    }
    # AND what was saved reads back as the same settings
    assert resolve({}, saved).report == ReportSettings(
        target_seconds=1800,
        tz="Europe/London",
        hours=(540, 1050),
        workdays=(0, 1, 2),
        holidays=(date(2026, 12, 25), date(2026, 12, 26)),
        crowd=0,
    )


def test_a_bad_form_field_saves_nothing_and_names_the_field() -> None:
    with pytest.raises(InvalidReportParameter) as caught:
        saved_form({"target": "30", "workdays": "funday"})
    assert caught.value.parameter == "workdays"
    assert saved_form({"target": "", "hours": " "}) == {}


def test_a_number_longer_than_any_in_range_is_refused_before_it_is_read() -> None:
    # Python's int() refuses more than 4,300 digits; leading zeros do not count against one
    from chalicelib.analytics import InvalidReportParameter
    from chalicelib.report_settings import parse_days

    with pytest.raises(InvalidReportParameter):
        parse_days("9" * 5000)
    assert parse_days("0" * 5000 + "28") == 28
