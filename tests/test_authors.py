"""Authors' handles: read from X only for the rows a person sees, once each, ever.

Timelines are read without `expansions=author_id` (X bills every user an answer includes).
After a report is made, the authors of its shown rows (slowest, unanswered, waiting, left
out) whose handle the archive lacks are looked up with GET /2/users, 100 ids a request, and
kept in the archive; until then, or when the lookup fails, a row shows "user <id>" linking
to https://x.com/i/user/<id>. Through moto and the X emulator, as a person's browser sees it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.browser import Browser

USERS = "GET /2/users"
CROWD = "@acme @ann @bob @cat @dan @eve"  # six handles: a crowd mention, left out


def report_json(browser: Browser) -> dict[str, Any]:
    response = browser.get("/report.json")
    assert response.status_code == 200, response.body
    return response.json_body


def stored_archive(account_id: str) -> Any:
    from chalicelib import services

    state = services.archive().load(account_id)
    assert state is not None
    return state


@pytest.fixture
def crowded(app_env: Any) -> Callable[[], dict[str, list[str]]]:
    """@acme, whose report shows 120 people and leaves 20 unshown: 105 crowd mentions by
    105 people (the newest 100 are listed as left out), 10 answered after a day (the
    slowest), 15 answered within a minute (not among the 10 slowest) and 10 unanswered
    (waiting). Returns the author ids by where they are."""

    def make() -> dict[str, list[str]]:
        account_id = app_env.add_account("acme", name="Acme")
        start = datetime.now(UTC) - timedelta(days=20)
        minute = iter(range(10_000))
        groups: dict[str, list[str]] = {"shown": [], "hidden": []}

        def fan(kind: str, index: int) -> tuple[str, datetime]:
            author = app_env.add_account(f"{kind}{index}", name=f"{kind} {index}")
            return author, start + timedelta(minutes=10 * next(minute))

        for i in range(105):  # the 5 oldest are not among the 100 left-out rows listed
            author, at = fan("crowd", i)
            app_env.add_post(author, f"{CROWD} hello {i}", at, mentions=[account_id])
            groups["hidden" if i < 5 else "shown"].append(author)
        for kind, count, wait, shown in (
            ("slow", 10, timedelta(days=1), True),
            ("quick", 15, timedelta(minutes=1), False),
            ("waiting", 10, None, True),
        ):
            for i in range(count):
                author, at = fan(kind, i)
                mention = app_env.add_post(author, f"@acme help {i}?", at, mentions=[account_id])
                if wait is not None:
                    app_env.add_post(account_id, f"@{kind}{i} done", at + wait, reply_to=mention)
                groups["shown" if shown else "hidden"].append(author)
        groups["account"] = [account_id]
        return groups

    return make


def test_a_first_view_looks_up_the_shown_authors_100_a_request_and_bills_each(
    browser: Browser, app_env: Any, aws: dict[str, str], crowded: Callable[..., Any]
) -> None:
    import boto3

    # GIVEN @acme's 140 mentions by 140 people, 120 of them in rows her report shows
    authors = crowded()
    account_id = authors["account"][0]
    browser.sign_in("acme")
    app_env.reset_counters()

    # WHEN she opens her report for the first time
    page = browser.get("/report").body.decode()
    body = report_json(browser)

    # THEN X is asked for the 120 handles in ceil(120 / 100) = 2 requests, and only for
    #      them: the 20 authors of rows not shown are never asked (X would have served them)
    assert len(authors["shown"]) == 120
    assert app_env.calls[USERS] == math.ceil(120 / 100) == 2
    assert app_env.users_served == 120
    state = stored_archive(account_id)
    assert set(state.users) == set(authors["shown"])
    assert not set(authors["hidden"]) & (set(state.users) | state.missing_users)
    # AND the page and the JSON show their handles, no "user <id>"
    assert "@slow0" in page and "@waiting9" in page and "@crowd104" in page
    assert "x.com/i/user/" not in page
    assert {row["author"] for row in body["waiting"]} == {f"waiting{i}" for i in range(10)}
    assert body["slowest"][0]["author_url"] == f"https://x.com/{body['slowest'][0]['author']}"
    # AND the bill counts them at $0.010 a user beside the posts at $0.005 a post: 140
    #     mentions and 25 replies are 165 posts, $0.825; 120 users are $1.20
    cost = body["source"]["x_cost"]
    assert (cost["posts"], cost["users"], cost["month_users"]) == (165, 120, 120)
    assert cost["usd"] == pytest.approx(165 * 0.005 + 120 * 0.010) == 2.025
    assert body["source"]["x_users_read"] == 0  # this view was served as stored
    item = boto3.client("dynamodb").get_item(
        TableName=aws["TABLE_NAME"], Key={"pk": {"S": f"account#{account_id}"}}
    )["Item"]
    assert (item["x_users_billed"], item["x_month_users"]) == ({"N": "120"}, {"N": "120"})
    assert "X cost of this report: 165 posts and 120 users, $2.03" in page
    # AND the lookups were taken from the account token's own budget, 900 a window
    bucket = boto3.client("dynamodb").get_item(
        TableName=aws["TABLE_NAME"], Key={"pk": {"S": f"budget#users#{account_id}"}}
    )["Item"]
    assert bucket["taken"] == {"N": "2"}


def test_a_later_view_reads_no_user_the_archive_holds(
    browser: Browser, app_env: Any, crowded: Callable[..., Any], configure: Any
) -> None:
    # GIVEN @acme's first report, which looked up the 120 people it shows
    crowded()
    configure(REPORT_MAX_AGE_SECONDS=0)  # every view is rebuilt, topped up from X
    browser.sign_in("acme")
    report_json(browser)
    app_env.reset_counters()

    # WHEN she views it again, with other settings too (the same people in other rows)
    again = report_json(browser)
    browser.get("/report?days=90&crowd=0")

    # THEN X is asked for no user: the archive holds every one of them
    assert app_env.calls[USERS] == 0 and app_env.timeline_reads() == 4
    assert again["source"]["x_users_read"] == 0
    assert again["source"]["x_cost"]["users"] == 120


@pytest.mark.parametrize("failure", ["429", "503"])
def test_a_failing_lookup_shows_user_n_linked_by_id(
    browser: Browser, app_env: Any, configure: Any, failure: str
) -> None:
    # GIVEN a fan's unanswered mention of @acme, and X failing the next users lookup
    account_id = app_env.add_account("acme")
    fan = app_env.add_account("ann_fan")
    app_env.add_post(fan, "@acme where is my parcel?", datetime.now(UTC), mentions=[account_id])
    configure(REPORT_MAX_AGE_SECONDS=0)
    browser.sign_in("acme")
    app_env.fail(USERS, failure)

    # WHEN she opens her report
    response = browser.get("/report")

    # THEN the page is shown, fresh, with "user <id>" linking to her profile by id
    page = response.body.decode()
    assert response.status_code == 200
    assert f'<a href="https://x.com/i/user/{fan}" rel="noopener noreferrer">user {fan}</a>' in page
    assert "@ann_fan" not in page
    body = report_json(browser)  # made again
    assert body["source"]["stale"] is False
    if failure == "503":
        # AND the next view asks X again (nothing was learned), and shows her handle
        assert app_env.calls[USERS] == 2 and app_env.users_served == 1
        assert body["waiting"][0]["author"] == "ann_fan"
        assert body["waiting"][0]["author_url"] == "https://x.com/ann_fan"
    else:
        # AND after X's 429 the token's budget holds the next lookup until X's reset: the
        #     row waits as "user <id>", and X is not asked
        assert app_env.calls[USERS] == 1 and app_env.users_served == 0
        assert body["waiting"][0]["author"] == f"user {fan}"
        assert body["waiting"][0]["author_url"] == f"https://x.com/i/user/{fan}"


def test_an_author_x_has_no_user_for_shows_as_user_n_and_is_not_asked_again(
    browser: Browser, app_env: Any, configure: Any
) -> None:
    # GIVEN mentions of @acme by a fan and by an account X has since suspended
    account_id = app_env.add_account("acme")
    fan, gone = app_env.add_account("ann_fan"), app_env.add_account("gone_fan")
    now = datetime.now(UTC)
    app_env.add_post(fan, "@acme hello?", now - timedelta(hours=2), mentions=[account_id])
    app_env.add_post(gone, "@acme hello?", now - timedelta(hours=1), mentions=[account_id])
    app_env.suspend("gone_fan")
    configure(REPORT_MAX_AGE_SECONDS=0)
    browser.sign_in("acme")

    # WHEN she views her report twice
    first = report_json(browser)
    second = browser.get("/report").body.decode()

    # THEN X is asked once: its `errors` named the suspended one, whom the archive
    #      remembers as having no user, so she is not asked about again
    assert app_env.calls[USERS] == 1
    assert {row["author"] for row in first["waiting"]} == {"ann_fan", f"user {gone}"}
    assert f'href="https://x.com/i/user/{gone}"' in second and "@ann_fan" in second
    assert stored_archive(account_id).missing_users == {gone}


def test_a_paused_fleet_asks_x_for_no_user(browser: Browser, app_env: Any, configure: Any) -> None:
    from chalicelib import services
    from chalicelib.x_pause import PAYMENT_REQUIRED

    # GIVEN @acme's report, made while the users lookup failed
    account_id = app_env.add_account("acme")
    fan = app_env.add_account("ann_fan")
    app_env.add_post(fan, "@acme hello?", datetime.now(UTC), mentions=[account_id])
    configure(REPORT_MAX_AGE_SECONDS=0)
    browser.sign_in("acme")
    app_env.fail(USERS, "503")
    report_json(browser)
    # ... and the fleet's X reads paused since (X answered 402)
    services.x_pause().pause(PAYMENT_REQUIRED)
    app_env.reset_counters()

    # WHEN she views it again
    page = browser.get("/report").body.decode()

    # THEN nothing is asked of X, and the row still shows "user <id>"
    assert sum(app_env.calls.values()) == 0
    assert f"user {fan}" in page and "@ann_fan" not in page


def test_an_oauth2_account_looks_up_with_its_own_bearer_token(
    browser: Browser, oauth2: Any
) -> None:
    # GIVEN @acme signed in over OAuth 2.0, mentioned by a fan
    account_id = oauth2.add_account("acme")
    fan = oauth2.add_account("ann_fan")
    oauth2.add_post(fan, "@acme hello?", datetime.now(UTC), mentions=[account_id])
    browser.sign_in("acme")

    # WHEN she opens her report
    body = report_json(browser)

    # THEN the lookup, sent with her access token as the Bearer token, names the fan
    assert oauth2.calls[USERS] == 1
    assert body["waiting"][0]["author"] == "ann_fan"


def test_a_list_page_looks_up_the_authors_of_its_own_rows(browser: Browser, app_env: Any) -> None:
    # GIVEN 60 people waiting for @acme, each with one unanswered mention, and her report
    #       seen once (its short lists showed the newest 10)
    account_id = app_env.add_account("acme")
    start = datetime.now(UTC) - timedelta(days=5)
    for i in range(60):
        fan = app_env.add_account(f"waiting{i}")
        app_env.add_post(
            fan, f"@acme hello {i}?", start + timedelta(hours=i), mentions=[account_id]
        )
    browser.sign_in("acme")
    browser.get("/report")
    assert app_env.users_served == 10
    app_env.reset_counters()

    # WHEN she opens the list of everyone waiting, then its second page
    first = browser.get("/report/waiting").body.decode()
    asked_for_first = app_env.users_served
    second = browser.get("/report/waiting?page=2").body.decode()

    # THEN each page asks X, in one request, for only the authors of its rows it lacks:
    #      the 40 of the first 50 not shown before, then the last 10
    assert (asked_for_first, app_env.users_served, app_env.calls[USERS]) == (40, 50, 2)
    assert "@waiting59" in first and "@waiting10" in first and "x.com/i/user/" not in first
    assert "@waiting0" in second and "x.com/i/user/" not in second
