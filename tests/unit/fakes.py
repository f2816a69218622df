"""Small stand-ins for our own classes (never for boto3 or Tweepy), for the unit layer.

Each subclasses the class it replaces and overrides every method the flows call, without
calling its __init__: no client is ever made, and mypy checks each override against the
real signature, so a fake cannot drift from what it stands for. Each keeps what happened
(what X was asked, what was stored, what was sent) for the tests to read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from chalicelib.accounts import (
    IDLE,
    LISTED,
    AccountIndex,
    AccountStore,
    AccountTokens,
    DueAccount,
    ViewIndex,
)
from chalicelib.archive import Archive, ArchiveState, Written
from chalicelib.errors import ResponsetimeError, StoreUnavailable
from chalicelib.refresh_queue import BATCH_LIMIT, RefreshQueue, Sent
from chalicelib.x_timeline import (
    MENTIONS,
    OWN_POSTS,
    USERS_PER_REQUEST,
    Fetched,
    UsersRead,
    XTimeline,
)

Post = dict[str, Any]
Asked = tuple[str, str | None, str | None]  # (timeline, since_id, until_id)


class Clock:
    """Epoch seconds that a test sets."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class ScriptedTimeline(XTimeline):
    """One account's two timelines at X, read as XTimeline.fetch reads them: the posts in
    (since_id, until_id), newest first, `page_size` to a request (an empty answer is one
    request too). A failure scripted with `fail` ends the next read of that timeline part
    way, as X's 429 or 503 does: the pages before it are returned with the error. `users`
    are the handles X knows, which `users()` looks up as GET /2/users does (100 a request;
    an id it does not know comes back as missing); `fail_users` fails the next lookup."""

    def __init__(
        self,
        mentions: Iterable[Post] = (),
        own_posts: Iterable[Post] = (),
        *,
        users: Mapping[str, str] | None = None,
        page_size: int = 2,
    ) -> None:
        self.posts: dict[str, list[Post]] = {MENTIONS: list(mentions), OWN_POSTS: list(own_posts)}
        self.handles = dict(users or {})  # author id -> username, as GET /2/users has them
        self.page_size = page_size
        self.looked_up: list[list[str]] = []  # the ids of each users request
        self.users_failure: ResponsetimeError | None = None
        self.asked: list[Asked] = []
        self.deadlines: list[float | None] = []  # each read's deadline (its time for X)
        self.start_times: list[datetime | None] = []  # each read's start_time (an overlap)
        self._failures: dict[str, tuple[int, ResponsetimeError]] = {}

    def fail(self, timeline: str, error: ResponsetimeError, *, after_pages: int = 0) -> None:
        """The next read of `timeline` fails with `error` once `after_pages` pages are read."""
        self._failures[timeline] = (after_pages, error)

    def fetch(
        self,
        timeline: str,
        account_id: str,
        *,
        since_id: str | None = None,
        until_id: str | None = None,
        start_time: datetime | None = None,
        deadline: float | None = None,
    ) -> Fetched:
        self.asked.append((timeline, since_id, until_id))
        self.deadlines.append(deadline)
        self.start_times.append(start_time)
        wanted = sorted(
            (
                post
                for post in self.posts[timeline]
                if (since_id is None or int(post["id"]) > int(since_id))
                and (until_id is None or int(post["id"]) < int(until_id))
                and (start_time is None or _created(post) >= start_time)
            ),
            key=lambda post: int(post["id"]),
            reverse=True,
        )
        size = self.page_size
        pages = [wanted[i : i + size] for i in range(0, len(wanted), size)] or [[]]
        fetched = Fetched()
        failure = self._failures.get(timeline)
        for number, page in enumerate(pages):
            if failure is not None and number == failure[0]:
                del self._failures[timeline]
                fetched.error = failure[1]
                return fetched
            fetched.requests += 1
            fetched.posts.extend(page)
        return fetched

    def fail_users(self, error: ResponsetimeError) -> None:
        self.users_failure = error

    def users(self, user_ids: Sequence[str]) -> UsersRead:
        read = UsersRead()
        if self.users_failure is not None:
            read.error, self.users_failure = self.users_failure, None
            return read
        for start in range(0, len(user_ids), USERS_PER_REQUEST):
            asked = list(user_ids[start : start + USERS_PER_REQUEST])
            self.looked_up.append(asked)
            read.requests += 1
            read.handles.update({i: self.handles[i] for i in asked if i in self.handles})
            read.missing.update(i for i in asked if i not in self.handles)
        return read


def _created(post: Post) -> datetime:
    return datetime.fromisoformat(str(post["created_at"]).replace("Z", "+00:00"))


class FakeArchive(Archive):
    """The S3 archive as a dict of the JSON it would hold: what is loaded is a copy of
    what was saved, as it is with S3. `unavailable` makes every call fail as S3 can."""

    def __init__(self) -> None:
        self.states: dict[str, str] = {}  # account id -> the archive's JSON
        self.reports: dict[str, str] = {}  # account id -> the report's JSON
        self.unavailable = False
        self.saves = 0
        self.report_saves = 0
        self.deleted_written: list[Written] = []

    def _check(self, call: str) -> None:
        if self.unavailable:
            raise StoreUnavailable(f"{call} failed: EndpointConnectionError")

    def holding(
        self, account_id: str, state: ArchiveState | None = None, report: Any = None
    ) -> FakeArchive:
        """Put an archive and a stored report in place before a test (not counted)."""
        if state is not None:
            self.states[account_id] = json.dumps(state.to_json())
        if report is not None:
            self.reports[account_id] = json.dumps(report)
        return self

    def stored(self, account_id: str) -> ArchiveState:
        return ArchiveState.from_json(json.loads(self.states[account_id]))

    def stored_report(self, account_id: str) -> dict[str, Any]:
        report: dict[str, Any] = json.loads(self.reports[account_id])
        return report

    def load(self, account_id: str) -> ArchiveState | None:
        self._check("S3 GetObject")
        return self.stored(account_id) if account_id in self.states else None

    def save(self, account_id: str, state: ArchiveState) -> Written:
        self._check("S3 PutObject")
        self.saves += 1
        self.states[account_id] = json.dumps(state.to_json())
        return Written(f"accounts/{account_id}/archive.json.gz", str(self.saves))

    def replace(self, account_id: str, state: ArchiveState) -> Written | None:
        return self.save(account_id, state) if account_id in self.states else None

    def load_report(self, account_id: str) -> dict[str, Any] | None:
        self._check("S3 GetObject")
        return self.stored_report(account_id) if account_id in self.reports else None

    def save_report(self, account_id: str, report: dict[str, Any]) -> Written:
        self._check("S3 PutObject")
        self.report_saves += 1
        self.reports[account_id] = json.dumps(report)
        return Written(f"accounts/{account_id}/report.json", str(self.report_saves))

    def delete(self, account_id: str) -> int:
        self._check("S3 DeleteObjects")
        held = [account_id in self.states, account_id in self.reports]
        self.states.pop(account_id, None)
        self.reports.pop(account_id, None)
        return sum(held)

    def delete_written(self, written: list[Written]) -> None:
        self._check("S3 DeleteObjects")
        self.deleted_written.extend(written)
        for entry in written:
            account_id = entry.key.split("/")[1]
            store = self.states if entry.key.endswith("archive.json.gz") else self.reports
            store.pop(account_id, None)


class FakeAccountIndex(AccountIndex):
    """The `refresh-due` index over a list: due accounts oldest first."""

    def __init__(self, accounts: Iterable[DueAccount]) -> None:
        self.accounts = list(accounts)
        self.asked: list[int] = []  # each `refreshed_by` the schedule asked for

    def due(self, refreshed_by: int) -> Iterator[DueAccount]:
        self.asked.append(refreshed_by)
        listed = [a for a in self.accounts if a.refreshed_at <= refreshed_by]
        yield from sorted(listed, key=lambda account: account.refreshed_at)


class FakeViewIndex(ViewIndex):
    """The `last-viewed` index over a dict: account id -> (view_state, viewed_at)."""

    def __init__(self, accounts: Mapping[str, tuple[str, int]]) -> None:
        self.accounts = dict(accounts)
        self.asked: list[tuple[str, int]] = []  # each (view_state, before) the sweep asked

    def viewed_before(self, view_state: str, before: int) -> Iterator[str]:
        self.asked.append((view_state, before))
        listed = [(at, a) for a, (state, at) in self.accounts.items() if state == view_state]
        yield from (a for at, a in sorted(listed) if at < before)

    def leave_refresh(self, account_id: str, viewed_before: int) -> bool:
        state, at = self.accounts[account_id]
        if state != LISTED or at >= viewed_before:
            return False
        self.accounts[account_id] = (IDLE, at)
        return True


class FakeQueue(RefreshQueue):
    """The refresh queue: keeps each batch sent and each message handed back. SQS refuses
    the entries of the accounts in `refuse`, and takes the others of their batch."""

    def __init__(self, refuse: Iterable[str] = ()) -> None:
        self.refuse = set(refuse)
        self.batches: list[list[str]] = []
        self.handed_back: list[tuple[str, int]] = []  # (receipt handle, delay seconds)

    @property
    def queued(self) -> list[str]:
        return [a for batch in self.batches for a in batch if a not in self.refuse]

    def send(self, account_ids: Sequence[str]) -> Sent:
        if not 0 < len(account_ids) <= BATCH_LIMIT:
            raise ValueError(f"a batch holds 1 to {BATCH_LIMIT} messages")
        self.batches.append(list(account_ids))
        return Sent(
            queued=[a for a in account_ids if a not in self.refuse],
            failed=[a for a in account_ids if a in self.refuse],
        )

    def hand_back(self, receipt_handle: str, delay_seconds: int) -> int:
        self.handed_back.append((receipt_handle, delay_seconds))
        return delay_seconds

    def send_later(
        self,
        account_id: str,
        *,
        delay_seconds: int,
        purge: bool = False,
        history: int | None = None,
    ) -> None:
        self.later.append((account_id, delay_seconds, purge, history))

    @property
    def later(self) -> list[tuple[str, int, bool, int | None]]:
        """Each message sent on its own: (account id, delay, purge, history page)."""
        return self.__dict__.setdefault("_later", [])


class FakeAccountStore(AccountStore):
    """Account items in a dict. A marked token is not handed out again, as with the
    table's `token_rejected_at`."""

    def __init__(self, *accounts: AccountTokens) -> None:
        self.accounts = {account.account_id: account for account in accounts}
        self.rejected: list[tuple[str, int]] = []  # (account id, epoch seconds)
        self.refreshed: list[tuple[str, int]] = []

    def account_tokens(self, account_id: str, *, consistent: bool = False) -> AccountTokens | None:
        if any(rejected == account_id for rejected, _ in self.rejected):
            return None
        return self.accounts.get(account_id)

    def mark_token_rejected(self, account_id: str, now: int) -> bool:
        self.rejected.append((account_id, now))
        return account_id in self.accounts

    def mark_refreshed(self, account_id: str, at: int) -> None:
        self.refreshed.append((account_id, at))
        if account_id in self.accounts:
            self.accounts[account_id] = replace(self.accounts[account_id], refreshed_at=at)

    def confirm_written(self, account: AccountTokens, refreshed_at: int | None = None) -> bool:
        """Still the account that was read: held, with the same generation."""
        held = self.accounts.get(account.account_id)
        if held is None or held.generation != account.generation:
            return False
        if refreshed_at is not None:
            self.mark_refreshed(account.account_id, refreshed_at)
        return True
