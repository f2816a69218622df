"""A report for a signed-in account: from the S3 archive, topped up from X only with what
is new, rebuilt when older than the max age, and the last one shown when X fails.

Posts are read without their authors' handles. Once a report is made, the authors of the
rows it shows (the slowest answers, the unanswered, the people waiting, the left-out) whose
handle the archive lacks are looked up at X (GET /2/users, 100 a request), kept in the
archive, and the report is made again from it: a user is read once, ever, and only if a
person may see her. Until then, and whenever the lookup fails, a row shows "user <id>"."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from chalicelib import observability
from chalicelib.accounts import AccountTokens
from chalicelib.analytics import Report, ReportSettings, build, shown_authors
from chalicelib.archive import Archive, ArchiveState, Written, snowflake_time, utc_time
from chalicelib.errors import (
    ResponsetimeError,
    StoreUnavailable,
    XPaymentRequired,
    XRateLimited,
    XReadCutShort,
    XReadsPaused,
    XRejected,
)
from chalicelib.formats import iso
from chalicelib.observability import logger
from chalicelib.report_body import HistorySource, Source, StoredReport
from chalicelib.report_settings import ResolvedSettings, resolve
from chalicelib.x_bill import Prices, XCost, month_of
from chalicelib.x_pause import XPause
from chalicelib.x_timeline import MENTIONS, OWN_POSTS, UsersRead, XTimeline


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


@dataclass
class Pulled:
    """What one top-up from X cost and brought."""

    x_requests: int = 0
    x_posts_read: int = 0
    x_users_read: int = 0  # handles looked up for the rows shown (never an `error`)
    error: ResponsetimeError | None = None
    x_counts_requests: int = 0  # of x_requests: counts, which X bills per request


@dataclass
class ReportView:
    body: StoredReport  # the /report.json answer, "settings" and "source" included
    report: Report | None  # built in this request (None when the cached body was served)
    error: ResponsetimeError | None = None  # why the top-up from X stopped short, if it did

    @property
    def stale(self) -> bool:
        return bool(self.body["source"]["stale"])

    @property
    def cache_state(self) -> str:
        """hit: the stored report, as it was; refreshed: topped up from X and rebuilt;
        rebuilt: made from the archive for other settings; stale: X failed, last posts;
        reading: the view's time for X ran out, a worker reads the rest."""
        if self.report is None:
            return "hit"
        if self.stale:
            return "stale"
        if self.body["source"]["still_reading"]:
            return "reading"
        return "refreshed" if self.body["source"]["x_requests"] else "rebuilt"


def pull_new_posts(
    timeline: XTimeline,
    account_id: str,
    state: ArchiveState,
    deadline: float | None = None,
    overlap_seconds: int = 0,
) -> Pulled:
    """Read from X only what the archive lacks: posts newer than each timeline's newest id,
    and the gaps an earlier read that X cut short left behind. Stops at X's first failure,
    or when `deadline` (epoch seconds) has passed (XReadCutShort); what was read before is
    kept, and the unread range becomes a gap.

    Mentions newer than the archive are read from its newest mention's `created_at` minus
    `overlap_seconds` (`start_time`), not only after its id: a post X indexed late (an id
    older than one read before it) is found too. X bills a post once per UTC day, so the
    overlap costs nothing on the day, and a refresh with nothing new is still 2 requests."""
    pulled = Pulled()
    for name in (MENTIONS, OWN_POSTS):
        cursor = state.cursor(name)
        ranges = [(cursor.newest_id, None), *cursor.gaps]
        gaps: list[tuple[str | None, str]] = []
        for index, (since_id, until_id) in enumerate(ranges):
            if pulled.error is not None:
                if until_id is not None:
                    gaps.append((since_id, until_id))
                continue
            start = _overlap_start(state, since_id, overlap_seconds) if name == MENTIONS else None
            gaps.extend(
                _read_range(
                    timeline,
                    account_id,
                    name,
                    state,
                    pulled,
                    (index, since_id, until_id, start if index == 0 else None),
                    deadline,
                )
            )
        cursor.gaps = gaps
        if isinstance(pulled.error, XRejected):
            break
    return pulled


def _read_range(
    timeline: XTimeline,
    account_id: str,
    name: str,
    state: ArchiveState,
    pulled: Pulled,
    span: tuple[int, str | None, str | None, datetime | None],
    deadline: float | None,
) -> list[tuple[str | None, str]]:
    """Read one range of a timeline into the archive (`span`: its index, 0 for what is
    newer than the newest id, its since_id and until_id, and the start_time that replaces
    since_id for an overlapping read); returns the gap it leaves when X, or the time for X,
    stopped it short."""
    index, since_id, until_id, start_time = span
    store = state.mentions if name == MENTIONS else state.own_posts
    cursor = state.cursor(name)
    fetched = timeline.fetch(
        name,
        account_id,
        since_id=None if start_time is not None else since_id,
        until_id=until_id,
        start_time=start_time,
        deadline=deadline,
    )
    pulled.x_requests += fetched.requests
    pulled.x_posts_read += len(fetched.posts)
    for post in fetched.posts:
        state.keep(store, post)
    if index == 0 and fetched.newest_id is not None:
        cursor.newest_id = max(fetched.newest_id, cursor.newest_id or "0", key=int)
    if fetched.error is None:
        return []
    pulled.error = fetched.error
    if fetched.posts and (since_id is None or int(str(fetched.oldest_id)) > int(since_id)):
        return [(since_id, str(fetched.oldest_id))]
    if fetched.posts:  # pages run newest first: an overlap page holds all that was newer
        return []
    return [] if until_id is None else [(since_id, until_id)]


def _overlap_start(state: ArchiveState, since_id: str | None, seconds: int) -> datetime | None:
    """Where an overlapping read of new mentions starts: the newest archived mention's
    `created_at` (the time in its id if it has none) minus `seconds`; None for no overlap
    (none asked, or nothing read yet: the first read reaches as far back as X lets it)."""
    if seconds <= 0 or since_id is None:
        return None
    newest = state.mentions.get(since_id, {}).get("created_at")
    created = utc_time(newest) if newest else None
    return (created or snowflake_time(int(since_id))) - timedelta(seconds=seconds)


class ReportService:
    def __init__(
        self,
        archive: Archive,
        timeline_for: Callable[[AccountTokens], XTimeline],
        max_age_seconds: int,
        clock: Callable[[], float],
        on_written: Callable[[AccountTokens, int | None], bool] | None = None,
        on_rejected: Callable[[str, int], None] | None = None,
        *,
        x_seconds: tuple[float | None, float | None] = (None, None),
        on_cut_short: Callable[[str], None] | None = None,
        on_viewed: Callable[[AccountTokens, int], object] | None = None,
        overlap_seconds: int = 0,
        prices: Prices | None = None,
        on_billed: Callable[[str, str, int, Decimal, int], object] | None = None,
        pause: XPause | None = None,
    ) -> None:
        self._archive = archive
        self._timeline_for = timeline_for
        self._max_age = max_age_seconds
        self._clock = clock
        # Told after anything was written to S3 for the account, with the epoch seconds of
        # the refresh when its report was stored (so the schedule's index knows the account
        # is not due); answers whether the account is still the one read. False: it was
        # forgotten meanwhile, and what was written is deleted again (forget.py).
        self._on_written = on_written
        # Told when X refuses the account's token (account id, epoch seconds of the clock),
        # by a view or by the schedule alike: the policy (mark the account, end its
        # sessions) lives in one place, and callers only map XRejected to their answer.
        self._on_rejected = on_rejected
        # How long a view, and a refresh (the worker's), may read X (None: no limit).
        self._view_x_seconds, self._refresh_x_seconds = x_seconds
        # Told when a view's time for X ran out (the account id): a worker reads the rest.
        self._on_cut_short = on_cut_short
        # Told of every view (the account as read, epoch seconds of the clock): the store
        # notes it at most once a day, and puts an idle account back in the refresh index.
        self._on_viewed = on_viewed
        # New mentions are read from this long before the newest archived one (X_OVERLAP_
        # SECONDS): what X indexed late is found by the next refresh.
        self._overlap = overlap_seconds
        # What X bills for a read (x_bill.Prices), and who keeps count of it per account
        # and month (account id, month, posts, dollars, users): AccountStore.add_x_cost.
        self._prices = prices or Prices()
        self._on_billed = on_billed
        # The fleet's pause of X reads (x_pause), checked before any read.
        self._pause = pause

    def view(
        self,
        account: AccountTokens,
        settings: ResolvedSettings | None = None,
        *,
        need_rows: bool = False,
        shown: Callable[[Report], list[str]] | None = None,
    ) -> ReportView:
        """The report as a person should see it now, with ``settings`` (default: what the
        account saved). ``shown``: the authors of the rows the page shows (default: the
        report's own lists, analytics.shown_authors), whose handles are looked up. Raises
        XRejected when X no longer accepts the account's token, and X's error when there is
        nothing to show at all."""
        saved = resolve({}, account.saved_settings)
        settings = settings or saved
        now = self._clock()
        self._note_view(account, now)
        cached = self._cached_report(account.account_id)
        # An account out of the refresh index (idle) was not refreshed by the schedule: its
        # view tops it up from X now, whatever the age of the report it finds.
        fresh = (
            account.in_refresh_index
            and cached is not None
            and now - _epoch(cached["source"]["refreshed_at"]) < self._max_age
        )
        stored_ok = cached is not None and _made_with(cached, saved)
        as_stored = fresh and stored_ok and settings.report == saved.report and not need_rows
        if cached is not None and as_stored:
            cached["source"]["x_requests"] = cached["source"]["x_posts_read"] = 0
            cached["source"]["x_users_read"] = 0
            cached["source"]["x_cost"] = self._cost(account, now)
            cached["settings"] = settings.to_json()  # the same values; where each came from
            return ReportView(cached, None)
        view = self._rebuild(
            account,
            settings,
            saved,
            now,
            self._view_x_seconds,
            refresh=not fresh,
            restore=not stored_ok,
            shown=shown,
        )
        self._hand_over(account.account_id, view)
        return view

    def _note_view(self, account: AccountTokens, now: float) -> None:
        """Tell the store of the view; the page is shown even when the note fails (the next
        view notes it, and an account left idle meanwhile is put back then)."""
        if self._on_viewed is None:
            return
        try:
            self._on_viewed(account, int(now))
        except StoreUnavailable:
            logger.exception("could not note the view")

    def _hand_over(self, account_id: str, view: ReportView) -> None:
        """When a view read X as long as it may, a refresh worker reads the rest, now."""
        if not isinstance(view.error, XReadCutShort) or self._on_cut_short is None:
            return
        try:
            self._on_cut_short(account_id)
        except StoreUnavailable:  # the schedule's next round takes it instead
            logger.exception("could not hand the rest of the read to a worker")

    def refresh_now(self, account: AccountTokens) -> ReportView:
        """The person asked for a refresh: top up from X as a view does (for at most the
        view's time; a worker reads the rest) and store the report, whatever its age."""
        saved = resolve({}, account.saved_settings)
        view = self._rebuild(account, saved, saved, self._clock(), self._view_x_seconds)
        self._hand_over(account.account_id, view)
        return view

    def refresh(self, account: AccountTokens) -> ReportView:
        """Top up from X and store the new report, whatever its age (the schedule's path),
        made with the settings the account saved."""
        saved = resolve({}, account.saved_settings)
        return self._rebuild(account, saved, saved, self._clock(), self._refresh_x_seconds)

    def withdraw(
        self, account: AccountTokens, remove: Callable[[ArchiveState], list[str]]
    ) -> list[str]:
        """Take out of the account's archive what `remove` removes from it (X's compliance
        results, applied), and store the report made again from what remains, with the
        saved settings and no X request. The ids of the posts removed; [] when nothing was
        (nothing is written then, unless a handle went), or when the archive is gone (a
        forget: nothing is made anew). Raises StoreUnavailable when S3 fails: the caller
        asks again."""
        removed: list[str] = []

        def change(state: ArchiveState) -> Pulled | None:
            handles = dict(state.users)
            removed.extend(remove(state))
            return Pulled() if removed or state.users != handles else None

        return removed if self.amend(account, change) else []

    def amend(
        self, account: AccountTokens, change: Callable[[ArchiveState], Pulled | None]
    ) -> bool:
        """Change the account's archive with `change` (which may read X: it answers what
        that cost, or None when it changed nothing), write it over what S3 holds, and store
        the report made again from it with the saved settings. What X billed is counted
        even if S3 then fails. False when nothing was written: nothing changed, or the
        archive is gone (a forget: nothing is made anew). Raises StoreUnavailable when S3
        fails: the caller asks again."""
        state = self._archive.load(account.account_id)
        if state is None:
            return False
        pulled = change(state)
        if pulled is None:
            return False
        now = self._clock()
        self._bill(
            account.account_id, now, posts=pulled.x_posts_read, counts=pulled.x_counts_requests
        )
        replaced = self._archive.replace(account.account_id, state)
        if replaced is None:
            return False
        written: list[Written] = [replaced]
        saved = resolve({}, account.saved_settings)
        since = state.mentions_complete_since()
        cost = self._cost(account, now, posts=pulled.x_posts_read, counts=pulled.x_counts_requests)
        source = _source(pulled, state, now, True, since, cost)
        moment = datetime.fromtimestamp(now, UTC)
        if not self._store(account, state, moment, None, saved, source, since, written):
            raise StoreUnavailable("S3 PutObject failed: the report was not made again")
        self._settle(account, written, None)
        return True

    def _read_x(
        self, account: AccountTokens, state: ArchiveState, deadline: float | None
    ) -> Pulled:
        """pull_new_posts, unless the fleet's X reads are paused (x_pause): then nothing is
        asked of X, and the read ends as a 429 would. X's 402 pauses them; the probe X
        answers lifts the pause; the month's count of posts read is kept for its cap."""
        probe = False
        if self._pause is not None:
            try:
                probe = self._pause.check()
            except XReadsPaused as paused:
                return Pulled(error=paused)
        timeline = self._timeline_for(account)
        pulled = pull_new_posts(timeline, account.account_id, state, deadline, self._overlap)
        if self._pause is not None:
            self._pause.after_read(pulled.error, probe, pulled.x_posts_read)
        return pulled

    def _bill(
        self, account_id: str, now: float, *, posts: int = 0, users: int = 0, counts: int = 0
    ) -> None:
        """Count what X bills for what was just read (posts, users looked up, counts
        requests): the fleet's metric (XCostUSD) and the account's count for the month. A
        count storage fails to keep is logged: the view is not failed for it, and the metric
        still has it."""
        if not posts and not users and not counts:
            return
        usd = self._prices.reads(account_id, posts=posts, users=users, counts=counts)
        observability.count(observability.X_COST_USD, float(usd))
        if self._on_billed is None:
            return
        try:
            self._on_billed(account_id, month_of(now), posts, usd, users)
        except StoreUnavailable:
            logger.exception("could not count what X billed for the account's read")

    def _cost(
        self, account: AccountTokens, now: float, *, posts: int = 0, users: int = 0, counts: int = 0
    ) -> XCost:
        """What X billed for the account's report: what its item counted when it was read,
        and what was just read (posts, users looked up, counts requests, at the configured
        prices: what _bill counts), in all and this month."""
        billed, month = account.billed, month_of(now)
        usd = float(self._prices.reads(account.account_id, posts=posts, users=users, counts=counts))
        same = billed["month"] == month
        return {
            "posts": billed["posts"] + posts,
            "usd": round(billed["usd"] + usd, 6),
            "month": month,
            "month_posts": (billed["month_posts"] if same else 0) + posts,
            "month_usd": round((billed["month_usd"] if same else 0.0) + usd, 6),
            "users": billed.get("users", 0) + users,
            "month_users": (billed.get("month_users", 0) if same else 0) + users,
        }

    def _name_authors(
        self,
        account: AccountTokens,
        state: ArchiveState,
        authors: list[str],
        now: float,
        archive_ok: bool,
        written: list[Written],
    ) -> UsersRead:
        """Look up at X the handles of the `authors` shown that the archive lacks,
        and keep what X said in the archive (the handles, and the ids it has no user for,
        so those are not asked again). Nothing is asked while the fleet's reads are paused,
        or when the archive could not be read (what was learned could not be kept). A
        failure is logged and never fails the view: its rows show "user <id>"."""
        unknown = state.unknown_authors(authors) if archive_ok else []
        if not unknown:
            return UsersRead()
        try:
            probe = self._pause.check() if self._pause is not None else False
        except ResponsetimeError:  # paused, or storage failing: the rows wait
            return UsersRead()
        read = self._timeline_for(account).users(unknown)
        if self._pause is not None:
            self._pause.after_read(read.error, probe, 0)
        if read.error is not None:
            logger.warning(
                "could not look up the handles of the authors shown",
                extra={"authors": len(unknown), "error": type(read.error).__name__},
            )
        self._bill(account.account_id, now, users=read.billed)
        if read.handles or read.missing:
            state.learn_users(read.handles, read.missing)
            self._save(self._archive.save, account.account_id, state, written)
        return read

    def _cached_report(self, account_id: str) -> StoredReport | None:
        try:
            stored = self._archive.load_report(account_id)  # what _store wrote, or None
        except StoreUnavailable:
            logger.exception("report cache unavailable; building without it")
            return None
        return cast("StoredReport | None", stored)

    def _load(self, account_id: str) -> tuple[ArchiveState, bool]:
        """The archive, and whether S3 answered (without it, X is read from the start)."""
        try:
            return self._archive.load(account_id) or ArchiveState(), True
        except StoreUnavailable:
            logger.exception("archive unavailable; reading from X without it")
            return ArchiveState(), False

    def _top_up(
        self,
        account: AccountTokens,
        state: ArchiveState,
        now: float,
        archive_ok: bool,
        written: list[Written],
        x_seconds: float | None,
    ) -> Pulled:
        """What X has that the archive lacks (as much as `x_seconds` lets it read), kept in
        the archive when S3 answers."""
        deadline = None if x_seconds is None else self._clock() + x_seconds
        pulled = self._read_x(account, state, deadline)
        observability.count(observability.X_POSTS_READ, pulled.x_posts_read)
        self._bill(account.account_id, now, posts=pulled.x_posts_read)
        if isinstance(pulled.error, XRejected):
            if self._on_rejected is not None:
                self._on_rejected(account.account_id, int(self._clock()))
            raise pulled.error
        if pulled.error is None:
            state.refreshed_at = now
        if pulled.error is not None and state.refreshed_at is None and not state.post_count:
            raise pulled.error
        if archive_ok and (pulled.x_posts_read or pulled.error is None):
            self._save(self._archive.save, account.account_id, state, written)
        return pulled

    def _rebuild(
        self,
        account: AccountTokens,
        settings: ResolvedSettings,
        saved: ResolvedSettings,
        now: float,
        x_seconds: float | None = None,
        *,
        refresh: bool = True,
        restore: bool = False,
        shown: Callable[[Report], list[str]] | None = None,
    ) -> ReportView:
        """The report made now from the archive, topped up from X first when ``refresh``
        (for at most ``x_seconds``). A good refresh stores the report made with the saved
        settings; so does a view made with them when the stored one was not (``restore``:
        she changed her settings)."""
        state, archive_ok = self._load(account.account_id)
        written: list[Written] = []
        pulled = (
            self._top_up(account, state, now, archive_ok, written, x_seconds)
            if refresh
            else Pulled()
        )
        since = state.mentions_complete_since()
        moment = datetime.fromtimestamp(now, UTC)
        report = self._build(account, state, moment, settings.report, since)
        authors = (shown or shown_authors)(report)
        users_read = self._name_authors(account, state, authors, now, archive_ok, written)
        if users_read.handles or users_read.missing:  # made again, from the archive
            report = self._build(account, state, moment, settings.report, since)
        pulled.x_users_read = users_read.billed
        cost = self._cost(account, now, posts=pulled.x_posts_read, users=users_read.billed)
        source = _source(pulled, state, now, archive_ok, since, cost)
        body: StoredReport = {**report.to_dict(), "settings": settings.to_json(), "source": source}
        made_with_saved = settings.report == saved.report
        # A good refresh keeps the report made with the saved settings; so does a view made
        # with them when the stored one was made with settings she has since changed (no X
        # request either way), so her next views are served as they are.
        refreshed_at = None
        if archive_ok and pulled.error is None and (refresh or (restore and made_with_saved)):
            kept = body if made_with_saved else None
            if self._store(account, state, moment, kept, saved, source, since, written):
                refreshed_at = int(moment.timestamp()) if refresh else None
        self._settle(account, written, refreshed_at)
        return ReportView(body, report, pulled.error)

    def _store(
        self,
        account: AccountTokens,
        state: ArchiveState,
        moment: datetime,
        body: StoredReport | None,
        saved: ResolvedSettings,
        source: Source,
        since: datetime | None,
        written: list[Written],
    ) -> bool:
        """Keep the report made with the account's saved settings (``body`` when the view
        was made with them), which the next plain view serves as it is; False when S3
        failed."""
        made = (
            self._build(account, state, moment, saved.report, since).to_dict()
            if body is None
            else body
        )
        kept: StoredReport = {**made, "settings": saved.to_json(), "source": source}
        return self._save(self._archive.save_report, account.account_id, kept, written)

    def _settle(
        self, account: AccountTokens, written: list[Written], refreshed_at: int | None
    ) -> None:
        """After writing: confirm the account is still the one read (and note a refresh);
        if it was forgotten meanwhile, delete again exactly what was written."""
        if not written or self._on_written is None:
            return
        try:
            if self._on_written(account, refreshed_at):
                return
            self._archive.delete_written(written)
        except StoreUnavailable:
            # Unconfirmed: the schedule may repeat the refresh; after a forget, its queued
            # purge and the daily sweep delete what is left.
            logger.exception("could not confirm the account after writing to S3")
            return
        logger.warning(
            "account forgotten during the refresh; what it wrote is deleted",
            extra={"account_id": account.account_id, "versions_deleted": len(written)},
        )

    @staticmethod
    def _build(
        account: AccountTokens,
        state: ArchiveState,
        now: datetime,
        settings: ReportSettings,
        since: datetime | None,
    ) -> Report:
        return build(
            account.account_id,
            account.username,
            state.mentions.values(),
            state.own_posts.values(),
            state.users,
            now,
            settings,
            since,
        )

    @staticmethod
    def _save(
        save: Callable[[str, Any], Written], account_id: str, value: Any, written: list[Written]
    ) -> bool:
        try:
            written.append(save(account_id, value))
        except StoreUnavailable:
            logger.exception("could not store to S3; the next view reads X again")
            return False
        return True


def _source(
    pulled: Pulled,
    state: ArchiveState,
    now: float,
    archive_ok: bool,
    since: datetime | None,
    cost: XCost,
) -> Source:
    """What the view cost at X, and how fresh and complete the archive it was made from is."""
    cut_short = isinstance(pulled.error, XReadCutShort)
    return {
        "x_requests": pulled.x_requests,
        "x_posts_read": pulled.x_posts_read,
        "x_users_read": pulled.x_users_read,
        "archive_posts": state.post_count,
        "refreshed_at": iso(datetime.fromtimestamp(state.refreshed_at or now, UTC)),
        "stale": pulled.error is not None and not cut_short,
        "still_reading": cut_short,
        "reset_time": (pulled.error.reset_at if isinstance(pulled.error, XRateLimited) else None),
        "x_paused": isinstance(pulled.error, (XReadsPaused, XPaymentRequired)),
        "archive_available": archive_ok,
        "complete_since": None if since is None else iso(since),
        "x_cost": cost,
        "history": _history(state),
    }


def _history(state: ArchiveState) -> HistorySource:
    """The reading of older history, as the page tells it."""
    oldest = state.oldest_mention()
    history = state.history
    return {
        "state": "none" if history is None else history.phase,
        "read": 0 if history is None else history.read,
        "estimate": 0 if history is None else history.estimate,
        "reaches_back_to": None if oldest is None else iso(oldest),
    }


def _made_with(body: StoredReport, settings: ResolvedSettings) -> bool:
    """Whether a stored report was made with these settings' values (one stored before the
    person changed her settings, or before settings existed, was not)."""
    stored = body.get("settings")
    if not isinstance(stored, dict):
        return False
    values = {name: entry.get("value") for name, entry in stored.items()}
    return values == dict(settings.values)
