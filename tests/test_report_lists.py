"""chalicelib.report_lists: the pages of people still waiting and of every answer. A report
of 60 people waiting (one an hour) and 60 answers (the i-th after i minutes), hand-built so
each page's first and last row is known."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.analytics import InvalidReportParameter, Report, build
from chalicelib.report_lists import PER_PAGE, list_page
from tests.posts import ACCOUNT, mention, reply

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
PEOPLE = 60


def report() -> Report:
    mentions, replies = [], []
    for i in range(PEOPLE):
        # person 1000+i waits since i hours ago (i + 1 to keep them inside the window)
        mentions.append(mention(str(10_000 + i), NOW - timedelta(hours=i + 1), str(1000 + i), "?"))
        # person 2000+i was answered after i + 1 minutes, at i days and 2 hours ago
        asked = NOW - timedelta(days=i % 20, hours=2, minutes=i)
        mentions.append(mention(str(20_000 + i), asked, str(2000 + i), "?"))
        replies.append(reply(str(30_000 + i), str(20_000 + i), asked + timedelta(minutes=i + 1)))
    return build(ACCOUNT, "brand", mentions, replies, {}, NOW)


def test_everyone_waiting_is_listed_newest_first_fifty_a_page() -> None:
    built = report()
    first = list_page(built, "waiting", {})
    # THEN 60 people, 2 pages; the newest (1 hour ago) first; the JSON keeps its 10
    assert (first.total, first.pages, len(first.rows)) == (PEOPLE, 2, PER_PAGE)
    assert first.rows[0].author == "user 1000" and first.rows[-1].author == "user 1049"
    assert len(built.to_dict()["waiting"]) == 10 and built.to_dict()["waiting_count"] == PEOPLE
    assert first.previous_href is None and first.next_href == "/report/waiting?page=2&sort=newest"
    # AND page 2 holds the last 10, numbered from 51
    second = list_page(built, "waiting", {"page": "2"})
    assert [row.author for row in second.rows] == [f"user {1000 + i}" for i in range(50, 60)]
    assert second.first == 51 and second.next_href is None


def test_sorted_by_age_the_one_waiting_longest_comes_first_and_settings_stay_in_links() -> None:
    page = list_page(report(), "waiting", {"sort": "oldest", "days": "28", "tz": "Asia/Tokyo"})
    assert page.rows[0].author == "user 1059"  # 60 hours ago
    assert page.next_href == "/report/waiting?sort=oldest&days=28&tz=Asia%2FTokyo&page=2"
    assert [way["current"] for way in page.sorts] == [False, True]


def test_every_answer_slowest_first_matches_the_reports_ten() -> None:
    built = report()
    page = list_page(built, "slowest", {})
    # THEN the slowest (60 minutes) first, and the first ten are the report's own ten
    assert page.total == PEOPLE and page.rows[0].response_seconds == 60 * 60
    assert list(page.rows[:10]) == built.slowest
    # AND sorted by when they were posted, newest first: asked 2 h 0 min ago (i = 0)
    newest = list_page(built, "slowest", {"sort": "newest"})
    assert newest.rows[0].id == "20000"


@pytest.mark.parametrize(
    ("query", "parameter"),
    [({"sort": "loudest"}, "sort"), ({"page": "0"}, "page"), ({"page": "3"}, "page")],
)
def test_a_sort_or_page_that_is_not_there_names_itself(
    query: dict[str, str], parameter: str
) -> None:
    with pytest.raises(InvalidReportParameter) as raised:
        list_page(report(), "waiting", query)
    assert raised.value.parameter == parameter
