"""HistoryService, one page a message: which query it reads, from where, what it keeps, and
what it queues next; X's counts before. X is a ScriptedSearch (our HistoryClient's
stand-in), the archive a FakeArchive, the queue a FakeQueue, time a Clock.
GIVEN / WHEN / THEN; every expected figure is worked out in a comment."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from chalicelib.accounts import AccountTokens
from chalicelib.archive import ArchiveState, History, HistoryRead
from chalicelib.errors import XRateLimited
from chalicelib.formats import iso
from chalicelib.history import DUPLICATE, PAGE_READ, READ_TO_THE_START, HistoryService
from chalicelib.refresh_queue import message_body, message_of
from chalicelib.report_service import ReportService
from chalicelib.x_bill import Prices
from chalicelib.x_history import MENTIONS, REPLIES, Counted, HistoryClient, SearchPage, query
from tests.posts import ACCOUNT, mention, reply
from tests.unit.fakes import Clock, FakeArchive, FakeQueue, Post

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ACME = AccountTokens(ACCOUNT, "acme", "token", "secret")


class ScriptedSearch(HistoryClient):
    """X's full archive for @acme: `counts` per query text, and each query's pages in
    order (a page's token is its index); every request asked is kept."""

    def __init__(self, counts: dict[str, int], pages: dict[str, list[list[Post]]]) -> None:
        self.counts = counts
        self.pages = pages
        self.asked: list[tuple[str, str, str | None, str | None]] = []
        self.ends: list[datetime] = []
        self.limited_until: int | None = None

    def count(self, text: str, *, end: datetime, until_id: str | None = None) -> Counted:
        self.asked.append(("count", text, until_id, None))
        self.ends.append(end)
        return Counted(posts=self.counts[text], requests=1)

    def page(
        self,
        text: str,
        *,
        end: datetime,
        until_id: str | None = None,
        next_token: str | None = None,
    ) -> SearchPage:
        self.asked.append(("page", text, until_id, next_token))
        if self.limited_until is not None:
            raise XRateLimited("429", reset_at=self.limited_until)
        index = int(next_token or 0)
        pages = self.pages[text]
        more = str(index + 1) if index + 1 < len(pages) else None
        return SearchPage(posts=pages[index], next_token=more)


def older(first: int, count: int, days_ago: int) -> list[Post]:
    """`count` mentions with ids from `first` down, a minute apart, `days_ago` days back."""
    start = NOW - timedelta(days=days_ago)
    return [mention(str(first - n), start - timedelta(minutes=n)) for n in range(count)]


MENTIONS_QUERY = query(MENTIONS, "acme")
REPLIES_QUERY = query(REPLIES, "acme")


CLOCK = Clock(NOW.timestamp())


def setup(
    search: ScriptedSearch, state: ArchiveState | None = None
) -> tuple[HistoryService, FakeArchive, FakeQueue, list[tuple[str, Decimal]]]:
    archive = FakeArchive()
    if state is not None:
        archive.holding(ACCOUNT, state)
    queue = FakeQueue()
    billed: list[tuple[str, Decimal]] = []
    clock = CLOCK
    clock.now = NOW.timestamp()
    reports = ReportService(
        archive,
        lambda account: pytest.fail("a history step reads no timeline"),
        900,
        clock,
        on_written=lambda account, at: True,
        on_billed=lambda account_id, month, posts, usd, users: billed.append((month, usd)),
        prices=Prices(),
    )
    service = HistoryService(
        archive, reports, lambda: search, queue, prices=Prices(), pause=None, clock=clock
    )
    return service, archive, queue, billed


def archived() -> ArchiveState:
    """Her archive: mentions 900..902 and her reply 950 to 900, days ago."""
    return ArchiveState(
        mentions={p["id"]: p for p in older(902, 3, days_ago=2)},
        own_posts={"950": reply("950", "900", NOW - timedelta(days=2))},
    )


def test_counts_ask_x_for_what_is_older_than_each_timeline_s_oldest_post() -> None:
    # GIVEN X counts 600 older mentions and 3 older replies
    search = ScriptedSearch({MENTIONS_QUERY: 600, REPLIES_QUERY: 3}, {})
    service, archive, queue, billed = setup(search, archived())

    # WHEN the page asks
    counted = service.count(ACME)

    # THEN each query was counted once, older than its timeline's oldest post (900, 950)
    assert search.asked == [
        ("count", "@acme -from:acme -is:retweet", "900", None),
        ("count", "from:acme is:reply", "950", None),
    ]
    # and before the second after each one's created_at (X's end_time: to the second)
    assert search.ends == [
        NOW - timedelta(days=2, minutes=2) + timedelta(seconds=1),
        NOW - timedelta(days=2) + timedelta(seconds=1),
    ]
    assert counted is not None
    assert {k: r.estimate for k, r in counted.reads.items()} == {MENTIONS: 600, REPLIES: 3}
    # 603 posts at $0.005 = $3.015; two counts requests at $0.010, on her bill
    priced = service.price(counted, ACCOUNT)
    assert (priced.posts, priced.usd, priced.counts_usd) == (603, Decimal("3.015"), Decimal("0.02"))
    assert billed == [("2026-12", Decimal("0.020"))]
    # AND the report made again says so too, as the bill counted it
    assert archive.stored_report(ACCOUNT)["source"]["x_cost"]["usd"] == 0.02
    # AND kept in the archive: a second look asks X nothing, and nothing is queued
    assert archive.stored(ACCOUNT).history == counted
    service.count(ACME)
    assert len(search.asked) == 2 and queue.later == []


def test_an_empty_timeline_s_history_ends_before_it_was_counted() -> None:
    search = ScriptedSearch({MENTIONS_QUERY: 0, REPLIES_QUERY: 0}, {})
    service, _, _, _ = setup(search, ArchiveState())

    counted = service.count(ACME)

    # no oldest post: no until_id, and nothing to read (each read is done at once)
    assert counted is not None
    assert [asked[2] for asked in search.asked] == [None, None]
    ends = {datetime.fromisoformat(r.end_time) for r in counted.reads.values()}
    assert ends == {NOW - timedelta(seconds=30)}  # X wants an end 10 s+ before the request
    assert all(read.done for read in counted.reads.values())


def test_pages_are_read_query_by_query_each_from_where_the_last_stopped() -> None:
    # GIVEN 600 older mentions in two pages (500, 100) and 3 older replies in one
    pages = {
        MENTIONS_QUERY: [older(899, 500, days_ago=3), older(399, 100, days_ago=30)],
        REPLIES_QUERY: [
            [reply(str(300 - n), str(299 - n), NOW - timedelta(days=60)) for n in range(3)]
        ],
    }
    search = ScriptedSearch({MENTIONS_QUERY: 600, REPLIES_QUERY: 3}, pages)
    service, archive, queue, billed = setup(search, archived())
    service.count(ACME)
    service.confirm(ACME)
    assert queue.later == [(ACCOUNT, 0, False, 0)]  # the first page, at once

    # WHEN the worker takes page 0, 1 and 2, each message in turn
    statuses = [service.step(ACME, page) for page in (0, 1, 2)]

    # THEN mentions first (from the start, then from X's token), then her replies
    assert [a for a in search.asked if a[0] == "page"] == [
        ("page", MENTIONS_QUERY, "900", None),
        ("page", MENTIONS_QUERY, "900", "1"),
        ("page", REPLIES_QUERY, "950", None),
    ]
    assert statuses == [PAGE_READ, PAGE_READ, READ_TO_THE_START]
    # AND the next page was queued a second after each (X: one search a second), none after
    # the last
    assert queue.later[1:] == [(ACCOUNT, 1, False, 1), (ACCOUNT, 1, False, 2)]
    state = archive.stored(ACCOUNT)
    assert len(state.mentions) == 3 + 600 and len(state.own_posts) == 1 + 3
    assert state.history is not None and state.history.done
    assert [(r.pages, r.posts) for r in state.history.reads.values()] == [(2, 600), (1, 3)]
    # 600 + 3 posts at $0.005 (after the counts' $0.02)
    assert [usd for _, usd in billed] == [
        Decimal("0.020"),
        Decimal("2.500"),
        Decimal("0.500"),
        Decimal("0.015"),
    ]
    # AND the report made again says so
    report = archive.stored_report(ACCOUNT)
    # (the oldest mention: the second page's last, 30 days and 99 minutes back)
    assert report["source"]["history"] == {
        "state": "done",
        "read": 603,
        "estimate": 603,
        "reaches_back_to": iso(NOW - timedelta(days=30, minutes=99)),
    }
    assert report["source"]["archive_posts"] == 3 + 600 + 1 + 3


def two_pages() -> ScriptedSearch:
    """20 older mentions in two pages of 10, no older replies."""
    pages: dict[str, list[list[Post]]] = {
        MENTIONS_QUERY: [older(899, 10, 3), older(889, 10, 4)],
        REPLIES_QUERY: [[]],
    }
    return ScriptedSearch({MENTIONS_QUERY: 20, REPLIES_QUERY: 0}, pages)


def test_a_message_for_another_page_reads_nothing() -> None:
    search = two_pages()
    service, _, queue, _ = setup(search, archived())
    service.count(ACME)
    service.confirm(ACME)
    service.step(ACME, 0)

    # WHEN page 0's message comes again (SQS delivers at least once), and page 5's
    again, ahead = service.step(ACME, 0), service.step(ACME, 5)

    # THEN neither asks X, and nothing more is queued
    assert (again, ahead) == (DUPLICATE, DUPLICATE)
    assert len([a for a in search.asked if a[0] == "page"]) == 1
    assert queue.later == [(ACCOUNT, 0, False, 0), (ACCOUNT, 1, False, 1)]


def test_a_refused_page_is_queued_again_for_x_s_reset() -> None:
    pages: dict[str, list[list[Post]]] = {MENTIONS_QUERY: [older(899, 10, 3)], REPLIES_QUERY: [[]]}
    search = ScriptedSearch({MENTIONS_QUERY: 10, REPLIES_QUERY: 0}, pages)
    service, archive, queue, _ = setup(search, archived())
    service.count(ACME)
    service.confirm(ACME)
    search.limited_until = int(NOW.timestamp()) + 420

    service.step(ACME, 0)

    # the same page, in 420 s; nothing kept, nothing counted
    assert queue.later[-1] == (ACCOUNT, 420, False, 0)
    assert archive.stored(ACCOUNT).history.pages == 0  # type: ignore[union-attr]


def test_a_confirm_twice_queues_one_chain_unless_it_stalled() -> None:
    search = two_pages()
    service, _, queue, _ = setup(search, archived())
    service.count(ACME)

    service.confirm(ACME)
    service.confirm(ACME)
    assert len(queue.later) == 1

    # 15 minutes without a page read: its chain is lost (dead-lettered); a yes restarts it
    CLOCK.now += 15 * 60
    service.confirm(ACME)
    assert queue.later[-1] == (ACCOUNT, 0, False, 0)
    assert len(queue.later) == 2


def test_of_two_writers_the_history_further_on_is_kept() -> None:
    counted = History(counted_at=1.0, reads={MENTIONS: HistoryRead("2026-01-01", 10)})
    confirmed = History(
        counted_at=1.0, reads={MENTIONS: HistoryRead("2026-01-01", 10)}, confirmed_at=2.0
    )
    further = History(
        counted_at=1.0,
        reads={MENTIONS: HistoryRead("2026-01-01", 10, pages=1, posts=5, next_token="t")},
        confirmed_at=2.0,
    )
    assert counted.later(confirmed) is confirmed and confirmed.later(counted) is confirmed
    assert confirmed.later(further) is further and further.later(confirmed) is further
    # a view's merge keeps the worker's history, whichever wrote last
    view, worker = ArchiveState(history=confirmed), ArchiveState(history=further)
    assert view.merge(worker).history is further and worker.merge(view).history is further
    assert ArchiveState().merge(worker).history is further
    # and it survives the archive's JSON
    again = ArchiveState.from_json(json.loads(json.dumps(worker.to_json())))
    assert again.history == further


def test_a_history_message_names_its_page() -> None:
    assert message_of(message_body("42", history=3)).history == 3
    assert message_of(message_body("42")).history is None
    for bad in (
        '{"account_id": "42", "history": -1}',
        '{"account_id": "42", "history": "3"}',
        '{"account_id": "42", "history": true}',
    ):
        with pytest.raises(ValueError):
            message_of(bad)


def test_counts_that_x_pages_are_priced_per_request_made() -> None:
    # GIVEN X answers the mentions' count in three pages (a long range), the replies' in one
    class PagedCounts(ScriptedSearch):
        def count(self, text: str, *, end: datetime, until_id: str | None = None) -> Counted:
            counted = super().count(text, end=end, until_id=until_id)
            return Counted(counted.posts, requests=3 if text == MENTIONS_QUERY else 1)

    search = PagedCounts({MENTIONS_QUERY: 40, REPLIES_QUERY: 2}, {})
    service, _, _, billed = setup(search, archived())

    counted = service.count(ACME)

    # THEN 4 requests at $0.010: $0.04 shown as spent, and on her bill
    assert counted is not None
    priced = service.price(counted, ACCOUNT)
    assert (priced.counts_requests, priced.counts_usd) == (4, Decimal("0.040"))
    assert billed == [("2026-12", Decimal("0.040"))]
