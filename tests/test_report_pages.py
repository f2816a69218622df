"""The report's other answers, through the app: the workbook at /report.xlsx, the lists of
people waiting and of answers, and "Refresh now" (POST /refresh)."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.browser import Browser

ORIGIN = {"origin": "http://127.0.0.1:8000"}
# What Chromium sends when a link is followed: a binary answer needs `*/*` among them.
BROWSER_ACCEPT = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def waiting_brand(emulator: Any, waiting: int, answered: int) -> str:
    """An account `waiting` people mentioned (one an hour, none answered), and `answered`
    more people it answered after 10 minutes each."""
    account = emulator.add_account("listbrand")
    now = datetime.now(UTC)
    for i in range(waiting):
        fan = emulator.add_account(f"waiter{i}")
        emulator.add_post(fan, f"@listbrand help {i}?", now - timedelta(hours=i + 1))
    for i in range(answered):
        fan = emulator.add_account(f"happy{i}")
        asked = now - timedelta(days=1, minutes=i)
        mention = emulator.add_post(fan, f"@listbrand question {i}?", asked)
        emulator.add_post(account, "@fan done", asked + timedelta(minutes=10), reply_to=mention)
    return "listbrand"


def test_the_workbook_holds_every_mention_with_typed_cells(browser: Browser, app_env: Any) -> None:
    from openpyxl import load_workbook

    # GIVEN an account with 3 people waiting and 2 answered, signed in
    browser.sign_in(waiting_brand(app_env, waiting=3, answered=2))
    # WHEN she downloads the workbook
    answer = browser.get("/report.xlsx?tz=Europe/London", headers=BROWSER_ACCEPT)
    # THEN it is a workbook named for her, with a row per mention and ids as text
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert re.search(
        r'filename="responsetime-listbrand-\d{4}-\d\d-\d\d\.xlsx"',
        answer.headers["content-disposition"],
    )
    sheet = load_workbook(io.BytesIO(answer.body))["Mentions"]
    header = [cell.value for cell in sheet[1]]
    assert "created_at (Europe/London)" in header
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert len(rows) == 5
    assert all(isinstance(row[0], str) and row[0].isdigit() for row in rows)
    answered = [row for row in rows if row[header.index("answered")]]
    assert [row[header.index("response_time")] for row in answered] == [timedelta(minutes=10)] * 2


def test_everyone_waiting_has_a_page_and_the_report_links_to_it(
    browser: Browser, app_env: Any
) -> None:
    # GIVEN 12 people waiting (the report shows its 10)
    browser.sign_in(waiting_brand(app_env, waiting=12, answered=0))
    report = browser.get("/report?days=7").body.decode()
    # THEN the report counts them and links to all of them, keeping its settings
    assert "People still waiting for an answer (12)" in report
    assert 'href="/report/waiting?days=7"' in report and "All 12 people waiting" in report
    # WHEN she opens the list, sorted by who waited longest
    page = browser.get("/report/waiting?days=7&sort=oldest")
    text = page.body.decode()
    # THEN all 12 are there, the one mentioned 12 hours ago first, times in the zone
    assert page.status_code == 200
    assert "12 people, 1\u201312 shown" in text and "times in UTC" in text
    assert text.index("help 11?") < text.index("help 0?")
    assert '<strong aria-current="true">waiting longest first</strong>' in text


def test_a_sort_that_is_not_there_is_a_400_page(browser: Browser, app_env: Any) -> None:
    browser.sign_in(waiting_brand(app_env, waiting=1, answered=1))
    answer = browser.get("/report/slowest?sort=loudest")
    assert answer.status_code == 400
    assert "sort must be one of slowest, newest, oldest." in answer.body.decode()


def test_refresh_now_reads_x_once_a_minute_at_most(browser: Browser, app_env: Any) -> None:
    # GIVEN her report, just made
    browser.sign_in(waiting_brand(app_env, waiting=1, answered=0))
    assert browser.get("/report?days=7").status_code == 200
    app_env.reset_counters()
    # WHEN she presses "Refresh now"
    answer = browser.post("/refresh?days=7", headers=ORIGIN)
    # THEN X is asked for what is new (both timelines), and she is back on her report
    assert answer.status_code == 303 and answer.headers["location"] == "/report?days=7"
    assert app_env.timeline_reads() == 2
    # WHEN she presses it again within the minute
    again = browser.post("/refresh?days=7", headers=ORIGIN)
    # THEN nothing goes to X, and the report says why
    assert again.headers["location"] == "/report?days=7&refresh=wait"
    assert app_env.timeline_reads() == 2
    page = browser.get(again.headers["location"]).body.decode()
    assert "You refreshed less than a minute ago" in page


def test_refresh_now_from_another_site_is_refused(browser: Browser, app_env: Any) -> None:
    browser.sign_in(waiting_brand(app_env, waiting=1, answered=0))
    app_env.reset_counters()
    answer = browser.post("/refresh", headers={"origin": "https://evil.example"})
    assert answer.status_code == 403 and app_env.timeline_reads() == 0


def test_presets_change_the_window_and_keep_the_other_settings(
    browser: Browser, app_env: Any
) -> None:
    browser.sign_in(waiting_brand(app_env, waiting=1, answered=0))
    page = browser.get("/report?days=7&tz=Asia/Tokyo").body.decode()
    assert '<strong aria-current="true">7 days</strong>' in page
    assert 'href="/report?days=28&amp;tz=Asia%2FTokyo">28 days</a>' in page
    assert 'href="/report?days=90&amp;tz=Asia%2FTokyo">90 days</a>' in page
