"""A first report of a heavy account: the page view reads X for at most
VIEW_X_BUDGET_SECONDS, shows what it read with "still reading older posts", and a refresh
worker reads the rest. Through the real parts: the X emulator answering slowly, moto's
queue, the worker under Chalice's test client."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.browser import Browser
from tests.test_refresh import Workers

MENTIONS_TEMPLATE = "GET /2/users/:id/mentions"
TWEETS_TEMPLATE = "GET /2/users/:id/tweets"
X_SECONDS_PER_PAGE = 0.5
VIEW_X_SECONDS = 1.0


def heavy_account(emulator: Any, mentions: int, own_posts: int) -> str:
    """An account with `mentions` mentions by one fan and `own_posts` posts of its own,
    one every ten minutes up to an hour ago; returns its username."""
    account_id = emulator.add_account("heavybrand")
    fan = emulator.add_account("heavyfan")
    start = datetime.now(UTC) - timedelta(hours=1)
    for i in range(mentions):
        emulator.add_post(fan, f"@heavybrand question {i}?", start - timedelta(minutes=10 * i))
    for i in range(own_posts):
        emulator.add_post(account_id, f"news {i}", start - timedelta(minutes=10 * i))
    return "heavybrand"


def test_a_heavy_first_report_answers_in_the_views_time_and_a_worker_reads_the_rest(
    client: Any, app_env: Any, aws: dict[str, str], configure: Callable[..., None]
) -> None:
    # GIVEN an account with 300 mentions and 500 posts (3 + 5 pages), an X that answers
    #       each page in 0.5 s, and a view allowed 1 s of X
    # No overlap (X_OVERLAP_SECONDS): each read that resumes would read the newest posts
    # again, and this is about the gaps, which read nothing twice
    configure(VIEW_X_BUDGET_SECONDS=VIEW_X_SECONDS, X_OVERLAP_SECONDS=0)
    username = heavy_account(app_env, mentions=300, own_posts=500)
    browser = Browser(client)
    browser.sign_in(username)
    for template in (MENTIONS_TEMPLATE, TWEETS_TEMPLATE):
        app_env.fail(template, "slow", 20, delay=X_SECONDS_PER_PAGE)
    app_env.reset_counters()

    # WHEN she opens her first report
    started = time.monotonic()
    page = browser.get("/report")
    took = time.monotonic() - started

    # THEN it answers in about the view's time (the page in flight at the deadline, one
    #      more at most), shows what was read, and says it is still reading
    assert page.status_code == 200
    assert took < VIEW_X_SECONDS + 2 * X_SECONDS_PER_PAGE + 1.5  # 8 pages take 4 s
    read_by_view = app_env.timeline_reads()
    assert 2 <= read_by_view < 8
    assert "Still reading older posts from X" in page.body.decode()
    body = browser.get("/report.json").json_body
    assert body["source"]["still_reading"] is True and body["source"]["stale"] is False

    # WHEN the refresh worker takes the message the view sent (and the next ones it hands
    #      back to itself, should its own time run out)
    Workers(client, aws["REFRESH_QUEUE_URL"]).drain()

    # THEN every post was read, and none twice (X bills per post): the page, the JSON view
    #      (which read on from where the page stopped) and the worker together read 800
    assert sum(app_env.posts_served.values()) == 800
    # AND the report is whole, stored, and served as it is
    app_env.reset_counters()
    body = browser.get("/report.json").json_body
    assert body["source"]["still_reading"] is False
    assert body["source"]["archive_posts"] == 800
    assert app_env.timeline_reads() == 0
