"""An account's history from day zero: what X's timelines no longer reach (800 mentions),
read from X's full archive once the person has seen what it costs and said yes.

1. **Count** (`GET /history`): X's counts endpoint says how many posts lie before what the
   archive holds, per query (mentions of her by others, her own replies), one request each,
   billed per request. The counts are kept in the archive (`ArchiveState.history`), so the
   page asks X once; the page prices them at the configured rates.
2. **Confirm** (`POST /history`): the archive notes the yes, and the refresh queue gets the
   first page's message. Nothing is read inside a web request.
3. **Read** (a refresh worker, one page a message): one page of up to 500 posts of the first
   query not read to its start, kept in the archive like any other post, with where X goes
   on (`next_token`) in the same S3 write; then the report is made again (no X request) and
   the next page is queued 1 s later (X allows one search a second per app). An empty app
   budget, X's 429 or the fleet's pause queues the same page for when it may be read.

Each message names the page it reads (pages read so far): a message whose page is not the
archive's (a duplicate delivery, an older chain) does nothing, so no page is read twice and
an interrupted read resumes at the page it stopped at. Each query reads only what is older
than the oldest post the archive held when X counted it (`until_id`), so nothing the
archive holds is read again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from chalicelib.archive import ArchiveState, History, HistoryRead, snowflake_time, utc_time
from chalicelib.errors import XRateLimited, XReadsPaused, XRejected
from chalicelib.formats import iso, local_time
from chalicelib.observability import logger
from chalicelib.report_service import Pulled
from chalicelib.x_bill import dollars
from chalicelib.x_history import MENTIONS, QUERIES, query

if TYPE_CHECKING:
    from chalicelib.accounts import AccountTokens
    from chalicelib.archive import Archive
    from chalicelib.refresh_queue import RefreshQueue
    from chalicelib.report_service import ReportService
    from chalicelib.x_bill import Prices
    from chalicelib.x_history import HistoryClient
    from chalicelib.x_pause import XPause

PAGE_DELAY_SECONDS = 1  # X: one full-archive search a second per app
# X wants a search's end_time at least 10 s before the request: an empty archive's history
# ends this long before it was counted.
END_MARGIN = timedelta(seconds=30)
# A confirmed read that has not moved for this long lost its chain of messages (dead-
# lettered): a second confirm starts it again.
STALLED_SECONDS = 15 * 60

# What a step did, for the worker's log.
PAGE_READ, READ_TO_THE_START, DEFERRED = "history page read", "history done", "history deferred"
SKIPPED, DUPLICATE = "history skipped", "history duplicate"


@dataclass(frozen=True)
class Priced:
    """What reading an account's older history costs, at the configured rates."""

    posts: int
    usd: Decimal
    per_post: Decimal
    counts_usd: Decimal  # what counting them cost (already spent)
    counts_requests: int


def page_context(history: History, priced: Priced, username: str, zone: str) -> dict[str, Any]:
    """What the history page says: the counts and their price before the yes, the progress
    while reading, how far back the archive reaches when done."""
    mentions, replies = (history.reads[kind] for kind in QUERIES)
    replies_text = f" and {replies.estimate:,} of its replies" if replies.estimate else ""
    return {
        "phase": history.phase,
        "username": username,
        "mentions": f"{mentions.estimate:,}",
        "replies": replies_text,
        "posts": priced.posts,
        "posts_text": f"{priced.posts:,}",
        "read": f"{history.read:,}",
        "usd": dollars(priced.usd),
        "per_post": f"${priced.per_post}",
        "counts_usd": dollars(priced.counts_usd),
        "counts_requests": priced.counts_requests,
        "before": local_time(mentions.end_time, zone) if mentions.until_id else None,
    }


def _before(state: ArchiveState, kind: str, now: float) -> tuple[str | None, datetime]:
    """Where a query's older history ends: before the oldest post of its timeline the
    archive holds (its id; and the second after its created_at, as X's end_time is to the
    second and exclusive), or, with none held, END_MARGIN before now (X wants no later
    end)."""
    latest = datetime.fromtimestamp(now, UTC) - END_MARGIN
    posts = state.mentions if kind == MENTIONS else state.own_posts
    if not posts:
        return None, latest
    post_id = min(posts, key=int)
    created = utc_time(posts[post_id].get("created_at")) or snowflake_time(int(post_id))
    return post_id, min(latest, created.replace(microsecond=0) + timedelta(seconds=1))


@dataclass
class _Step:
    status: str = SKIPPED
    retry_at: int | None = None
    next_page: int | None = None


class HistoryService:
    def __init__(
        self,
        archive: Archive,
        reports: ReportService,
        client: Callable[[], HistoryClient],
        queue: RefreshQueue,
        *,
        prices: Prices,
        pause: XPause | None,
        clock: Callable[[], float],
        on_bearer_refused: Callable[[], object] | None = None,
    ) -> None:
        self._archive = archive
        self._reports = reports
        self._client = client  # the app's (its bearer token), built when first needed
        self._queue = queue
        self._prices = prices
        self._pause = pause
        self._clock = clock
        self._on_bearer_refused = on_bearer_refused  # forget the bearer token: ask X anew

    def price(self, history: History, account_id: str) -> Priced:
        """What reading the counted history costs the account, at the configured rates."""
        prices = self._prices
        return Priced(
            posts=history.estimate,
            usd=prices.posts(account_id, history.estimate),
            per_post=prices.posts(account_id, 1),
            counts_usd=prices.reads(account_id, counts=history.count_requests),
            counts_requests=history.count_requests,
        )

    def count(self, account: AccountTokens) -> History | None:
        """The account's older history as X counted it: counted now (one counts request
        per query) unless the archive already holds the counts. None when there is no
        archive yet (her first report is still being made). Raises XReadsPaused while the
        fleet's reads are paused, and X's error when it fails."""
        counted: list[History] = []

        def change(state: ArchiveState) -> Pulled | None:
            if state.history is not None:
                counted.append(state.history)
                return None
            probe = self._probe()
            try:
                history, requests = self._counts(account, state)
            except XRateLimited as error:
                self._after_read(error, probe, 0)
                raise
            except XRejected:
                self._bearer_refused()
                raise
            self._after_read(None, probe, 0)
            state.history = history
            counted.append(history)
            return Pulled(x_requests=requests, x_counts_requests=requests)

        self._reports.amend(account, change)
        return counted[0] if counted else None

    def _counts(self, account: AccountTokens, state: ArchiveState) -> tuple[History, int]:
        client = self._client()
        now = self._clock()
        reads: dict[str, HistoryRead] = {}
        requests = 0
        for kind in QUERIES:
            until_id, end = _before(state, kind, now)
            found = client.count(query(kind, account.username), end=end, until_id=until_id)
            requests += found.requests
            reads[kind] = HistoryRead(
                end_time=iso(end),
                estimate=found.posts,
                until_id=until_id,
                done=found.posts == 0,
            )
        return History(counted_at=now, reads=reads, count_requests=requests), requests

    def confirm(self, account: AccountTokens) -> History | None:
        """The person said yes: note it in the archive and queue the first page. A second
        yes does nothing while the read goes on (or is done); one whose read has not moved
        for STALLED_SECONDS queues its next page again. None when nothing was counted yet
        (the page that asks comes first)."""
        confirmed: list[History] = []
        now = self._clock()

        def change(state: ArchiveState) -> Pulled | None:
            history = state.history
            if history is None:
                return None
            confirmed.append(history)
            moved = history.stepped_at or history.confirmed_at
            if history.done or (moved is not None and now - moved < STALLED_SECONDS):
                return None
            history.confirmed_at = history.confirmed_at or now
            history.stepped_at = now
            return Pulled()

        if self._reports.amend(account, change):
            history = confirmed[0]
            self._queue.send_later(account.account_id, delay_seconds=0, history=history.pages)
            logger.info(
                "history confirmed",
                extra={"account_id": account.account_id, "pages_read": history.pages},
            )
        return confirmed[0] if confirmed else None

    def step(self, account: AccountTokens, page: int) -> str:
        """Read page `page` of the account's older history (the message's), unless the
        archive is at another page; queue the next. Raises what is worth another try (X
        unavailable, S3 failing): SQS redelivers the message, whose page still holds."""
        step = _Step()
        self._reports.amend(account, lambda state: self._read_page(account, state, page, step))
        if step.retry_at is not None:
            wait = max(PAGE_DELAY_SECONDS, int(step.retry_at - self._clock()))
            self._queue.send_later(account.account_id, delay_seconds=wait, history=page)
        elif step.next_page is not None:
            self._queue.send_later(
                account.account_id, delay_seconds=PAGE_DELAY_SECONDS, history=step.next_page
            )
        return step.status

    def _read_page(
        self, account: AccountTokens, state: ArchiveState, page: int, step: _Step
    ) -> Pulled | None:
        history = state.history
        if history is None or history.confirmed_at is None or history.done:
            return None
        if history.pages != page:
            step.status = DUPLICATE
            return None
        kind = next(kind for kind in QUERIES if not history.reads[kind].done)
        read = history.reads[kind]
        step.status = DEFERRED
        try:
            probe = self._probe()
        except XReadsPaused as paused:
            step.retry_at = paused.reset_at
            return None
        end = datetime.fromisoformat(read.end_time)
        try:
            found = self._client().page(
                query(kind, account.username),
                end=end,
                until_id=read.until_id,
                next_token=read.next_token,
            )
        except XRateLimited as error:
            self._after_read(error, probe, 0)
            step.retry_at = error.reset_at or int(self._clock()) + 60
            return None
        except XRejected:
            self._bearer_refused()
            raise
        self._after_read(None, probe, len(found.posts))
        timeline = state.mentions if kind == MENTIONS else state.own_posts
        for post in found.posts:
            state.keep(timeline, post)
        read.pages += 1
        read.posts += len(found.posts)
        read.next_token = found.next_token
        read.done = found.next_token is None
        history.stepped_at = self._clock()
        step.status = READ_TO_THE_START if history.done else PAGE_READ
        step.next_page = None if history.done else history.pages
        return Pulled(x_requests=1, x_posts_read=len(found.posts))

    def _probe(self) -> bool:
        return self._pause.check() if self._pause is not None else False

    def _after_read(self, error: Any, probe: bool, posts: int) -> None:
        if self._pause is not None:
            self._pause.after_read(error, probe, posts)

    def _bearer_refused(self) -> None:
        """X refused the app's bearer token: the app's, not the person's (her account is
        not marked); the next request asks X for the token anew."""
        logger.error("X refused the app's bearer token")
        if self._on_bearer_refused is not None:
            self._on_bearer_refused()
