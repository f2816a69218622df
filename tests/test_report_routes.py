"""/report, /report.json and /report.csv through Chalice's test client, moto and the X
emulator: what a person sees, and what each view costs at X."""

from __future__ import annotations

import csv
import io
import math
import re
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.browser import Browser


@pytest.fixture
def brand(app_env: Any) -> Callable[..., str]:
    """A fresh account with `mentions` mentions (every other one answered after 10 min)
    and `extra_posts` posts of its own that answer nothing."""

    def make(username: str, mentions: int, extra_posts: int = 0) -> str:
        account_id = app_env.add_account(username, name=username.title())
        customer = app_env.add_account(f"{username}_fan", name="A fan")
        start = datetime.now(UTC) - timedelta(days=20)
        for i in range(mentions):
            at = start + timedelta(minutes=30 * i)
            mention = app_env.add_post(
                customer, f"@{username} question {i}", at, mentions=[account_id]
            )
            if i % 2 == 0:
                app_env.add_post(
                    account_id,
                    f"@{username}_fan answer {i}",
                    at + timedelta(minutes=10),
                    reply_to=mention,
                )
        for i in range(extra_posts):
            app_env.add_post(account_id, f"news {i}", start + timedelta(minutes=30 * i + 7))
        return account_id

    return make


def report_json(browser: Browser, query: str = "") -> dict[str, Any]:
    response = browser.get("/report.json" + query)
    assert response.status_code == 200, response.body
    return response.json_body


def test_signed_out_report_redirects_home(browser: Browser) -> None:
    for path in ("/report", "/report.csv"):
        response = browser.get(path)
        assert response.status_code == 302
        assert response.headers["location"] == "/"
    # a script asking for JSON gets a status and JSON, not a page
    answer = browser.get("/report.json")
    assert answer.status_code == 401
    assert answer.json_body == {"error": "Not signed in"}


def test_first_build_reads_each_post_once_and_gets_the_figures_right(
    browser: Browser, app_env: Any, brand: Callable[..., str]
) -> None:
    brand("acme", mentions=250, extra_posts=10)  # 125 replies + 10 posts = 135 own posts
    browser.sign_in("acme")
    app_env.reset_counters()

    body = report_json(browser)

    assert app_env.timeline_reads() == math.ceil(250 / 100) + math.ceil(135 / 100)
    assert body["source"]["x_requests"] == 5
    assert body["source"]["x_posts_read"] == 250 + 135
    assert body["mentions"] == 250
    assert body["answered"] == 125
    assert body["response_rate"] == 0.5
    assert body["first_response_seconds"]["median"] == 600
    assert body["answered_within_target"] == 125
    assert body["account"]["username"] == "acme"


def test_a_view_within_max_age_costs_no_x_request(
    browser: Browser, app_env: Any, brand: Callable[..., str]
) -> None:
    brand("acme", mentions=20)
    browser.sign_in("acme")
    first = report_json(browser)
    app_env.reset_counters()

    for path in ("/report", "/report.json", "/report.json?days=7&target=15&tz=Europe/Berlin"):
        assert browser.get(path).status_code == 200

    assert app_env.timeline_reads() == 0
    assert report_json(browser)["generated_at"] == first["generated_at"]


def test_refresh_with_nothing_new_costs_exactly_two_requests(
    browser: Browser, app_env: Any, brand: Callable[..., str], configure: Any
) -> None:
    configure(REPORT_MAX_AGE_SECONDS=0)
    brand("acme", mentions=120)
    browser.sign_in("acme")
    report_json(browser)
    app_env.reset_counters()

    body = report_json(browser)

    assert app_env.timeline_reads() == 2
    # the newest mention again, and no other: mentions are read from its created_at minus
    # X_OVERLAP_SECONDS (15 minutes; the mentions are 30 minutes apart), so that a post X
    # indexed late is found; X bills it once per UTC day
    assert body["source"]["x_posts_read"] == 1
    assert body["source"]["archive_posts"] == 120 + 60
    assert body["mentions"] == 120


def test_refresh_with_five_new_mentions(
    browser: Browser, app_env: Any, brand: Callable[..., str], configure: Any
) -> None:
    configure(REPORT_MAX_AGE_SECONDS=0)
    account_id = brand("acme", mentions=40)
    browser.sign_in("acme")
    report_json(browser)
    fan = app_env.account_id("acme_fan")
    for i in range(5):
        app_env.add_post(fan, f"@acme new {i}", datetime.now(UTC), mentions=[account_id])
    app_env.reset_counters()

    body = report_json(browser)

    assert app_env.timeline_reads() == 2
    assert app_env.posts_served["GET /2/users/:id/mentions"] == 5 + 1  # and the overlap's
    assert body["mentions"] == 45


def test_history_grows_past_x_reach(
    browser: Browser, app_env: Any, brand: Callable[..., str], configure: Any
) -> None:
    configure(REPORT_MAX_AGE_SECONDS=0)
    account_id = brand("acme", mentions=700)
    browser.sign_in("acme")
    assert report_json(browser)["mentions"] == 700
    fan = app_env.account_id("acme_fan")
    for i in range(300):
        app_env.add_post(fan, f"@acme more {i}", datetime.now(UTC), mentions=[account_id])

    body = report_json(browser)

    assert body["mentions"] == 1000  # X itself now reaches back only 800


def test_an_interrupted_read_is_resumed_without_reading_a_post_twice(
    browser: Browser, app_env: Any, brand: Callable[..., str], configure: Any
) -> None:
    import boto3

    from chalicelib import services

    configure(REPORT_MAX_AGE_SECONDS=0)
    account_id = brand("acme", mentions=350)
    browser.sign_in("acme")
    app_env.reset_counters()
    # X lets one page of mentions through, then says 429: the read stops after 100 posts.
    app_env.set_rate_limit("GET /2/users/:id/mentions", per_user=1)

    partial = report_json(browser)

    assert partial["source"]["stale"] is True
    assert partial["mentions"] == 100
    # The window ends, X's (fresh windows of 300) and the token's bucket, which learned from
    # X that nothing was left in the old one.
    app_env.set_rate_limit("GET /2/users/:id/mentions", per_user=300)
    boto3.client("dynamodb").delete_item(
        TableName=services.settings().table_name,
        Key={"pk": {"S": f"budget#mentions#{account_id}"}},
    )

    body = report_json(browser)

    assert body["source"]["stale"] is False
    assert body["mentions"] == 350
    # none read twice but the newest before the break, once, by the 15 minutes of overlap
    assert app_env.posts_served["GET /2/users/:id/mentions"] == 350 + 1


def test_rate_limited_shows_the_last_report_marked_stale(
    browser: Browser, app_env: Any, brand: Callable[..., str], configure: Any
) -> None:
    configure(REPORT_MAX_AGE_SECONDS=0)
    brand("acme", mentions=30)
    browser.sign_in("acme")
    report_json(browser)
    app_env.fail("GET /2/users/:id/mentions", "429", count=2)

    body = report_json(browser)
    page = browser.get("/report").body.decode()

    assert body["source"]["stale"] is True
    assert isinstance(body["source"]["reset_time"], int)
    assert body["mentions"] == 30
    # what happened, and when the figures are from (not "updated just now")
    assert "X is limiting how often we may read it" in page
    assert "this report shows what we had read by" in page and " UTC" in page
    assert "X asked us to wait until" in page


def test_x_down_with_no_report_yet_is_a_clear_503(
    browser: Browser, app_env: Any, brand: Callable[..., str]
) -> None:
    brand("acme", mentions=3)
    browser.sign_in("acme")
    app_env.fail("GET /2/users/:id/mentions", "503")

    response = browser.get("/report")

    assert response.status_code == 503
    assert "X is not answering" in response.body.decode()
    # she is signed in: offered another try, not a sign-in
    assert 'href="/report">Try again</a>' in response.body.decode()
    assert "Sign in with X" not in response.body.decode()


def test_revoked_token_signs_the_person_out(
    browser: Browser, app_env: Any, brand: Callable[..., str], aws: dict[str, str]
) -> None:
    import boto3

    account_id = brand("acme", mentions=3)
    browser.sign_in("acme")
    app_env.revoke("acme")

    response = browser.get("/report")

    assert response.status_code == 401
    assert "X no longer accepts your sign-in" in response.body.decode()
    assert browser.cookies == {}
    item = boto3.client("dynamodb").get_item(
        TableName=aws["TABLE_NAME"], Key={"pk": {"S": f"account#{account_id}"}}
    )["Item"]
    assert "token_rejected_at" in item
    browser.sign_in("acme")  # signing in again clears the mark
    assert browser.get("/report").status_code == 200


def test_without_s3_the_report_is_still_made(
    browser: Browser, app_env: Any, brand: Callable[..., str], aws: dict[str, str]
) -> None:
    import boto3

    brand("acme", mentions=10)
    browser.sign_in("acme")
    boto3.client("s3").delete_bucket(Bucket=aws["BUCKET_NAME"])

    body = report_json(browser)

    assert body["mentions"] == 10
    assert body["source"]["archive_available"] is False


@pytest.mark.parametrize(
    "query", ["?days=0", "?days=3651", "?days=abc", "?target=0", "?target=10081", "?tz=Mars/Base"]
)
def test_bad_report_parameters_are_a_400(
    browser: Browser, brand: Callable[..., str], query: str
) -> None:
    brand("acme", mentions=1)
    browser.sign_in("acme")
    assert browser.get("/report" + query).status_code == 400


def test_a_ten_year_window_is_a_report_and_one_day_more_a_clear_400(
    browser: Browser, brand: Callable[..., str]
) -> None:
    # GIVEN a signed-in account with mentions over the last 20 days
    brand("acme", mentions=6)
    browser.sign_in("acme")

    # WHEN she asks for 3,650 days as a page, JSON and CSV, then for 3,651 and for 0
    page = browser.get("/report?days=3650")
    body = report_json(browser, "?days=3650")
    rows = browser.get("/report.csv?days=3650").body.decode("utf-8-sig").splitlines()
    answers = {
        (days, path): browser.get(f"{path}?days={days}")
        for days in ("3651", "0")
        for path in ("/report", "/report.json", "/report.csv")
    }

    # THEN ten years are drawn month by month, and every day is still a daily row
    text = page.body.decode()
    assert page.status_code == 200
    assert "Month by month" in text and "Last 3,650 days" in text
    assert "the 3,650 days before" in text
    # AND the settings form takes as many days, and says how each length is drawn
    assert '<input type="number" name="days" min="1" max="3650" value="3650"' in text
    assert "Days: 1 to 3,650; a window of more than 90 days is drawn week by week" in text
    assert body["window"]["days"] == 3650 and body["mentions"] == 6
    assert body["trend"]["period"] == "month" and len(body["trend"]["rows"]) == 121
    assert len(body["daily"]) == 3651
    assert sum(r["mentions"] for r in body["trend"]["rows"]) == 6
    assert len(rows) == 7  # the header and the six mentions
    # AND a day more, or none, is a 400 in the shape asked for, naming days and its range
    for (_, path), answer in answers.items():
        assert answer.status_code == 400
        if path == "/report.json":
            assert answer.json_body == {
                "error": "days must be a whole number from 1 to 3650.",
                "parameter": "days",
            }
        else:
            assert "days must be a whole number from 1 to 3650." in answer.body.decode()
            assert "That report cannot be made" in answer.body.decode()


def test_csv_has_one_row_per_mention_and_opens_cleanly(
    browser: Browser, app_env: Any, brand: Callable[..., str]
) -> None:
    account_id = brand("acme", mentions=6)
    fan = app_env.account_id("acme_fan")
    app_env.add_post(
        fan, '@acme "quoted", with comma\nand newline', datetime.now(UTC), mentions=[account_id]
    )
    browser.sign_in("acme")

    response = browser.get("/report.csv")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    # a byte order mark first, so Excel reads UTF-8; a spreadsheet decodes it as utf-8-sig
    assert response.body.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(response.body.decode("utf-8-sig"))))
    assert len(rows) == 7
    assert rows[0].keys() >= {
        "id",
        "created_at",
        "author",
        "answered",
        "reply_id",
        "response_seconds",
        "link",
    }
    assert sum(row["answered"] == "true" for row in rows) == 3
    # durations also as h:mm:ss: every other mention is answered after 10 minutes
    assert {row["response_hms"] for row in rows if row["answered"] == "true"} == {"0:10:00"}


def test_report_page_reads_well_and_escapes_text_from_x(
    browser: Browser, app_env: Any, brand: Callable[..., str]
) -> None:
    account_id = brand("acme", mentions=8)
    fan = app_env.account_id("acme_fan")
    app_env.add_post(
        fan, "@acme <script>alert(1)</script>", datetime.now(UTC), mentions=[account_id]
    )
    browser.sign_in("acme")

    response = browser.get("/report")
    page = response.body.decode()

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert "How @acme answers its mentions" in page
    assert "44%" in page  # 4 of 9 answered
    assert "10 min" in page  # the median first reply
    assert page.count('class="chart chart-wide"') == 3
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert 'href="/report.csv"' in page and 'href="/report.json"' in page
    assert "updated just now" in page
    # a skip link to the content, and tables a screen reader can name
    assert '<a class="skip" href="#main">Skip to the content</a>' in page
    assert '<main id="main">' in page and page.count("<caption") >= 2


def test_report_json_answers_errors_in_json(
    browser: Browser, app_env: Any, brand: Callable[..., str]
) -> None:
    # GIVEN a signed-in account whose X is down before any report exists
    brand("acme", mentions=3)
    browser.sign_in("acme")

    # WHEN a script asks for bad parameters, then for the report while X fails
    bad = browser.get("/report.json?days=0")
    app_env.fail("GET /2/users/:id/mentions", "503")
    down = browser.get("/report.json")

    # THEN both answers are JSON a script can read
    assert (bad.status_code, down.status_code) == (400, 503)
    assert bad.headers["content-type"] == "application/json"
    assert "1 to 3650" in bad.json_body["error"]
    assert down.json_body == {"error": "X is not answering"}


# --------------------------------------------------------------------------- saved settings


def stored_report(aws: dict[str, str], account_id: str) -> dict[str, Any]:
    import json

    import boto3

    stored = boto3.client("s3").get_object(
        Bucket=aws["BUCKET_NAME"], Key=f"accounts/{account_id}/report.json"
    )
    report: dict[str, Any] = json.loads(stored["Body"].read())
    return report


def saved_item_settings(aws: dict[str, str], account_id: str) -> dict[str, str] | None:
    import boto3

    item = boto3.client("dynamodb").get_item(
        TableName=aws["TABLE_NAME"], Key={"pk": {"S": f"account#{account_id}"}}
    )["Item"]
    saved = item.get("report_settings")
    return None if saved is None else {k: v["S"] for k, v in saved["M"].items()}


SETTINGS_FORM = (
    "days=7&target=30&tz=Europe%2FLondon&hours=09%3A00-17%3A00&workdays=mon%2Ctue%2Cwed"
    "%2Cthu%2Cfri&holidays=2026-12-25&crowd=3&questions=0"
)


def test_saved_settings_are_the_defaults_of_every_view_and_cost_no_x_request(
    browser: Browser, app_env: Any, aws: dict[str, str], brand: Callable[..., str]
) -> None:
    # GIVEN a signed-in account whose report is built
    account_id = brand("acme", mentions=10)
    browser.sign_in("acme")
    report_json(browser)
    app_env.reset_counters()

    # WHEN she saves her settings with the form
    saved = browser.post("/settings", body=SETTINGS_FORM)

    # THEN she is sent back to the report, and the account keeps them (not `days`)
    assert saved.status_code == 303 and saved.headers["location"] == "/report"
    assert saved_item_settings(aws, account_id) == {
        "target": "30",
        "tz": "Europe/London",
        "hours": "09:00-17:00",
        "workdays": "mon,tue,wed,thu,fri",
        "holidays": "2026-12-25",
        "crowd": "3",
    }
    # AND the next view, the page and the CSV use them, with no X request
    body = report_json(browser)
    assert body["target_seconds"] == 1800
    assert body["settings"]["hours"] == {"value": "09:00-17:00", "source": "saved"}
    assert body["settings"]["days"] == {"value": 28, "source": "default"}
    assert body["settings"]["questions"] == {"value": False, "source": "default"}
    assert body["first_response_business_seconds"] is not None
    assert body["heatmap"]["tz"] == "Europe/London"
    page = browser.get("/report").body.decode()
    assert "business hours Mon-Fri 09:00-17:00 Europe/London" in page
    assert 'value="09:00-17:00"' in page
    rows = list(csv.DictReader(io.StringIO(browser.get("/report.csv").body.decode("utf-8-sig"))))
    assert all(row["business_seconds"] != "" for row in rows if row["answered"] == "true")
    assert app_env.timeline_reads() == 0
    # AND the stored report is now the one made with them, so later views serve it as it is
    assert stored_report(aws, account_id)["settings"]["hours"]["value"] == "09:00-17:00"
    # AND a query overrides a saved value for one view only
    once = report_json(browser, "?target=15&hours=")
    assert once["settings"]["target"] == {"value": 15, "source": "query"}
    assert once["first_response_business_seconds"] is None
    assert report_json(browser)["target_seconds"] == 1800


def test_the_schedules_refresh_stores_the_report_with_the_saved_settings(
    browser: Browser, app_env: Any, aws: dict[str, str], brand: Callable[..., str]
) -> None:
    import time

    from chalicelib import services
    from chalicelib.refresh import refresh_account

    # GIVEN saved business hours
    account_id = brand("acme", mentions=6)
    browser.sign_in("acme")
    browser.post("/settings", body="hours=08%3A00-20%3A00&tz=Europe%2FBerlin")

    # WHEN the schedule refreshes the account
    refresh_account(
        account_id,
        accounts=services.account_store(),
        reports=services.reports(),
        max_age_seconds=0,
        now=time.time(),
    )

    # THEN the stored report is made with them, and a plain view serves it as it is
    stored = stored_report(aws, account_id)
    assert stored["settings"]["hours"]["value"] == "08:00-20:00"
    assert stored["heatmap"]["tz"] == "Europe/Berlin"
    assert stored["first_response_business_seconds"] is not None
    app_env.reset_counters()
    assert report_json(browser)["generated_at"] == stored["generated_at"]
    assert app_env.timeline_reads() == 0


def test_bad_settings_answer_with_the_form_kept_and_save_nothing(
    browser: Browser, aws: dict[str, str], brand: Callable[..., str]
) -> None:
    # GIVEN saved settings
    account_id = brand("acme", mentions=2)
    browser.sign_in("acme")
    browser.post("/settings", body="target=30")

    # WHEN she sends hours that close before they open, with other values typed
    response = browser.post("/settings", body="target=45&hours=17%3A00-09%3A00&crowd=7")

    # THEN a 400 page names the field and shows what she typed; nothing changed
    page = response.body.decode()
    assert response.status_code == 400
    assert "hours must close after they open" in page
    assert 'value="17:00-09:00"' in page and 'value="45"' in page and 'value="7"' in page
    assert 'name="hours" value="17:00-09:00" placeholder="09:00-17:00" size="11" aria-invalid' in (
        page
    )
    assert saved_item_settings(aws, account_id) == {"target": "30"}


def test_settings_from_another_site_or_signed_out_are_refused(
    browser: Browser, aws: dict[str, str], brand: Callable[..., str]
) -> None:
    account_id = brand("acme", mentions=2)
    assert browser.post("/settings", body="target=30").status_code == 302  # signed out
    browser.sign_in("acme")

    forged = browser.post("/settings", headers={"origin": "https://evil.example"}, body="target=30")

    assert forged.status_code == 403
    assert saved_item_settings(aws, account_id) is None


def test_emptied_fields_go_back_to_the_defaults(
    browser: Browser, aws: dict[str, str], brand: Callable[..., str]
) -> None:
    account_id = brand("acme", mentions=2)
    browser.sign_in("acme")
    browser.post("/settings", body="target=30&hours=09%3A00-17%3A00")

    browser.post("/settings", body="target=&hours=&tz=UTC")

    assert saved_item_settings(aws, account_id) == {"tz": "UTC"}
    assert report_json(browser)["settings"]["target"] == {"value": 60, "source": "default"}


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("?hours=9-5", "hours"),
        ("?workdays=funday", "workdays"),
        ("?holidays=xmas", "holidays"),
        ("?crowd=99", "crowd"),
        ("?questions=maybe", "questions"),
        ("?days=0", "days"),
        ("?tz=Mars/Base", "tz"),
    ],
)
def test_a_bad_setting_in_the_query_is_a_400_naming_it(
    browser: Browser, brand: Callable[..., str], query: str, parameter: str
) -> None:
    brand("acme", mentions=1)
    browser.sign_in("acme")

    answer = browser.get("/report.json" + query)
    page = browser.get("/report" + query)

    assert answer.status_code == 400 and answer.json_body["parameter"] == parameter
    assert parameter in answer.json_body["error"]
    assert page.status_code == 400 and parameter in page.body.decode()


def test_the_exports_keep_an_override_that_empties_a_saved_setting(
    browser: Browser, brand: Callable[..., str]
) -> None:
    # GIVEN saved business hours, and a view that turns them off for once
    brand("acme", mentions=4)
    browser.sign_in("acme")
    browser.post("/settings", body="hours=09%3A00-17%3A00")
    page = browser.get("/report?hours=&days=7").body.decode()

    # THEN the CSV and JSON links make the same report
    assert 'href="/report.json?hours=&amp;days=7"' in page
    export = browser.get("/report.json?hours=&days=7").json_body
    assert export["first_response_business_seconds"] is None
    assert export["settings"]["hours"] == {"value": None, "source": "default"}


def test_left_out_mentions_are_listed_under_their_reason(
    browser: Browser, app_env: Any, brand: Callable[..., str]
) -> None:
    # GIVEN three mentions without a question mark and a crowd post
    account_id = brand("acme", mentions=3)
    fan = app_env.account_id("acme_fan")
    crowd = "@acme " + " ".join(f"@acme_fan{i}" for i in range(6))
    app_env.add_post(fan, crowd, datetime.now(UTC), mentions=[account_id])
    browser.sign_in("acme")

    # WHEN only questions count
    page = browser.get("/report?questions=1").body.decode()

    # THEN each reason has its heading and count
    assert "Crowd mentions (1)" in page
    assert "Mentions without a question (3)" in page
    assert "Show the 4 mentions that need no reply, and why" in page


def test_a_failed_refresh_keeps_the_stored_report(
    browser: Browser,
    app_env: Any,
    aws: dict[str, str],
    brand: Callable[..., str],
    configure: Any,
) -> None:
    # GIVEN a stored report, then new settings, and a report past its max age
    account_id = brand("acme", mentions=4)
    browser.sign_in("acme")
    report_json(browser)
    before = stored_report(aws, account_id)
    browser.post("/settings", body="target=30")
    configure(REPORT_MAX_AGE_SECONDS=0)

    # WHEN X fails during the refresh
    app_env.fail("GET /2/users/:id/mentions", "503")
    body = report_json(browser)

    # THEN she sees the archive's report marked stale, and the stored one is untouched
    assert body["source"]["stale"] is True and body["target_seconds"] == 1800
    assert stored_report(aws, account_id) == before


def test_an_empty_window_says_so_and_a_day_reads_as_24_hours(
    browser: Browser, app_env: Any
) -> None:
    # GIVEN an account nobody mentioned
    app_env.add_account("hush", name="Hush")
    browser.sign_in("hush")

    # WHEN she reads her report of the last day
    page = browser.get("/report?days=1").body.decode()

    # THEN the page says nobody mentioned her, not that everybody got an answer
    assert "Last 24 hours" in page and "Last 1 days" not in page
    assert "Nobody mentioned @hush in this window" in page
    assert "Every person in this window got an answer" not in page


def test_a_window_longer_than_the_archive_says_where_the_data_begins(
    browser: Browser, brand: Callable[..., str]
) -> None:
    # GIVEN mentions from 20 days ago on (the brand fixture's first one is 20 days old)
    brand("acme", mentions=4)
    browser.sign_in("acme")

    # WHEN she reads 90 days, then 7
    wide = browser.get("/report?days=90").body.decode()
    narrow = browser.get("/report?days=7").body.decode()
    body = report_json(browser, "?days=90")

    # THEN the wide window says the archive begins inside it; the narrow one does not
    begins = datetime.fromisoformat(body["source"]["complete_since"])
    assert timedelta(days=19) < datetime.now(UTC) - begins < timedelta(days=21)
    assert f"Our archive of your mentions begins {begins:%Y-%m-%d}" in wide
    assert "Our archive of your mentions begins" not in narrow


# --------------------------------------------------------------------------- the report's zone


def midnight_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def zoned_posts(app_env: Any) -> tuple[str, date]:
    """An account with three mentions around midnight UTC of the days after ``day`` (three
    days ago): one answered after 3 h (the slowest answer), one waiting, one crowd post
    (left out). Returns the account id and ``day``."""
    account_id = app_env.add_account("acme", name="Acme")
    fan = app_env.add_account("acme_fan", name="A fan")
    pal = app_env.add_account("acme_pal", name="A pal")
    day = (datetime.now(UTC) - timedelta(days=3)).date()
    midnight = midnight_of(day)
    slow = app_env.add_post(
        fan, "@acme slow one?", midnight + timedelta(hours=23, minutes=30), mentions=[account_id]
    )
    app_env.add_post(
        account_id, "@acme_fan sorry", midnight + timedelta(hours=26, minutes=30), reply_to=slow
    )
    app_env.add_post(
        pal, "@acme anyone?", midnight + timedelta(hours=47, minutes=45), mentions=[account_id]
    )
    crowd = "@acme " + " ".join(f"@acme_fan{i}" for i in range(6))
    app_env.add_post(fan, crowd, midnight + timedelta(hours=46, minutes=10), mentions=[account_id])
    return account_id, day


def sections(page: str) -> dict[str, str]:
    """The text of the page's panels (tags dropped) by their heading, without a count that
    ends it ("People still waiting for an answer (3)")."""
    found = {}
    for part in page.split("<h2>")[1:]:
        heading, _, rest = part.partition("</h2>")
        found[re.sub(r" \(\d+\)$", "", heading)] = re.sub(
            r"<[^>]+>", "", rest.split("</section>")[0]
        )
    return found


def test_the_zone_of_the_query_applies_to_every_time_of_the_page(
    browser: Browser, app_env: Any
) -> None:
    # GIVEN mentions at 23:30Z, 22:10Z (a crowd post) and 23:45Z
    _, day = zoned_posts(app_env)
    browser.sign_in("acme")
    london = ZoneInfo("Europe/London")
    midnight = midnight_of(day)

    def shown(hours: float) -> str:
        local = (midnight + timedelta(hours=hours)).astimezone(london)
        return f"{local:%Y-%m-%d %H:%M} Europe/London"

    # WHEN she reads the report in London
    page = browser.get("/report?tz=Europe/London").body.decode()

    # THEN each table writes its times on London's clock and says so
    panels = sections(page)
    assert shown(23.5) in panels["Slowest answers"]
    assert f"since {shown(47.75)}" in panels["People still waiting for an answer"]
    assert shown(46 + 1 / 6) in panels["Mentions left out"]
    # AND so does "updated", and no time of the page is on an unnamed clock
    assert re.search(r"updated just now \(<time datetime=\"[^\"]+\">[-\d :]+ Europe/London<", page)
    times = re.findall(r"<time datetime=\"[^\"]+\">([^<]*)</time>", page)
    assert len(times) == 4 and all(t.endswith(" Europe/London") for t in times)


def test_saved_settings_zone_applies_to_the_days_and_the_times(
    browser: Browser, app_env: Any, aws: dict[str, str]
) -> None:
    # GIVEN mentions at 23:30Z on `day`, 22:10Z (crowd) and 23:45Z the day after
    _, day = zoned_posts(app_env)
    browser.sign_in("acme")

    # WHEN she saves Tokyo (UTC+9 all year) as her zone and reads her report
    browser.post("/settings", body="tz=Asia%2FTokyo")
    page = browser.get("/report").body.decode()
    body = report_json(browser)

    # THEN the times are Tokyo's: 23:30Z is 08:30 the next day, 23:45Z 08:45, 22:10Z 07:10
    after, later = day + timedelta(days=1), day + timedelta(days=2)
    panels = sections(page)
    assert f"{after} 08:30 Asia/Tokyo" in panels["Slowest answers"]
    assert f"since {later} 08:45 Asia/Tokyo" in panels["People still waiting for an answer"]
    assert f"{later} 07:10 Asia/Tokyo" in panels["Mentions left out"]
    # AND the days are Tokyo's: the slow mention on the day after `day`, the waiting one the
    #     day after that; the JSON names the zone and keeps its instants in UTC
    assert body["window"]["tz"] == "Asia/Tokyo"
    per_day = {row["date"]: row["mentions"] for row in body["daily"]}
    assert (per_day[str(day)], per_day[str(after)], per_day[str(later)]) == (0, 1, 1)
    assert body["slowest"][0]["created_at"] == f"{day}T23:30:00.000Z"
    # AND by default (UTC) the same mentions fall on `day` and the day after
    utc_days = {row["date"]: row["mentions"] for row in report_json(browser, "?tz=UTC")["daily"]}
    assert (utc_days[str(day)], utc_days[str(after)], utc_days[str(later)]) == (1, 1, 0)


def test_a_stale_report_says_when_in_the_reports_zone(
    browser: Browser, app_env: Any, brand: Callable[..., str], configure: Any
) -> None:
    # GIVEN a report, then X limiting the reads
    configure(REPORT_MAX_AGE_SECONDS=0)
    brand("acme", mentions=5)
    browser.sign_in("acme")
    report_json(browser)
    app_env.fail("GET /2/users/:id/mentions", "429", count=2)

    # WHEN she reads it in Tokyo
    page = browser.get("/report?tz=Asia/Tokyo").body.decode()

    # THEN the banner's times are Tokyo's (UTC+9) and say so
    found = re.search(r"what we had read by (\d{4}-\d\d-\d\d \d\d:\d\d) Asia/Tokyo", page)
    assert found, page
    read_at = datetime.strptime(found.group(1), "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    assert abs(read_at - timedelta(hours=9) - datetime.now(UTC)) < timedelta(minutes=2)
    assert re.search(r"X asked us to wait until \d{4}-\d\d-\d\d \d\d:\d\d Asia/Tokyo", page)


@pytest.mark.parametrize(("overlap", "found"), [(900, True), (0, False)])
def test_a_post_x_indexed_late_is_found_by_the_next_refresh(
    browser: Browser, app_env: Any, configure: Any, overlap: int, found: bool
) -> None:
    # GIVEN @acme mentioned 10 minutes ago, that mention read into her report
    configure(REPORT_MAX_AGE_SECONDS=0, X_OVERLAP_SECONDS=overlap)
    account_id = app_env.add_account("acme")
    fan = app_env.add_account("acme_fan")
    app_env.add_post(
        fan, "@acme first?", datetime.now(UTC) - timedelta(minutes=10), mentions=[account_id]
    )
    browser.sign_in("acme")
    assert report_json(browser)["mentions"] == 1
    # WHEN X indexes, only now, a mention made 12 minutes ago (older than the one read)
    late = app_env.add_late_post(fan, "@acme late?", late_by_seconds=720, mentions=[account_id])
    app_env.reset_counters()

    body = report_json(browser)

    # THEN the refresh, reading from 15 minutes before the newest mention it holds, finds it
    #      in the same 2 requests (with no overlap, `since_id` alone, it is missed for good)
    assert app_env.timeline_reads() == 2
    assert body["mentions"] == (2 if found else 1)
    assert (late in browser.get("/report.csv").body.decode()) is found


def test_what_x_bills_is_counted_per_account_and_month_and_shown(
    browser: Browser, app_env: Any, aws: dict[str, str], brand: Callable[..., str], configure: Any
) -> None:
    import boto3

    from chalicelib.x_bill import month_of

    configure(REPORT_MAX_AGE_SECONDS=0)
    account_id = brand("acme", mentions=250, extra_posts=10)  # 125 replies + 10 posts
    browser.sign_in("acme")

    # WHEN the first report reads 250 mentions and 135 own posts, at $0.005 a post, and
    #      looks up the one fan it shows, at $0.010 a user
    first = report_json(browser)["source"]["x_cost"]
    # ... and a refresh reads one post again (the newest mention, in the overlap), and no
    #     user: the archive holds the fan's handle
    again = report_json(browser)["source"]["x_cost"]

    # THEN 385 posts and a user are $1.935, then 386 posts and the user $1.94; all of them
    #      this month
    month = month_of(time.time())
    assert first == {
        "posts": 385,
        "usd": 1.935,
        "month": month,
        "month_posts": 385,
        "month_usd": 1.935,
        "users": 1,
        "month_users": 1,
    }
    assert (again["posts"], again["usd"], again["month_posts"], again["users"]) == (
        386,
        1.94,
        386,
        1,
    )
    item = boto3.client("dynamodb").get_item(
        TableName=aws["TABLE_NAME"], Key={"pk": {"S": f"account#{account_id}"}}
    )["Item"]
    assert (item["x_posts_billed"], item["x_usd_billed"]) == ({"N": "386"}, {"N": "1.940"})
    assert (item["x_month"], item["x_month_posts"]) == ({"S": month}, {"N": "386"})
    assert (item["x_users_billed"], item["x_month_users"]) == ({"N": "1"}, {"N": "1"})
    # AND the page says so, rounded to the cent (a half cent up)
    configure(REPORT_MAX_AGE_SECONDS=900)
    page = browser.get("/report").body.decode()
    assert "X cost of this report: 386 posts and 1 user, $1.94" in page


def test_an_owned_account_is_billed_at_the_owned_price(
    browser: Browser, app_env: Any, brand: Callable[..., str], configure: Any
) -> None:
    account_id = brand("acme", mentions=250, extra_posts=10)
    configure(X_OWNED_ACCOUNT_IDS=f"123, {account_id}")
    browser.sign_in("acme")

    cost = report_json(browser)["source"]["x_cost"]

    # $0.001 a post; the fan's handle is no owned read (she is not the account): $0.010
    assert (cost["posts"], cost["users"], cost["usd"]) == (385, 1, 0.395)
    page = browser.get("/report").body.decode()
    assert "X cost of this report: 385 posts and 1 user, $0.40" in page
