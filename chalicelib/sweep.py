"""The archive's sweep: no account folder outlives its account.

A forget deletes everything, a writer that raced it deletes what it wrote, and a purge
queued by the forget deletes the folder once more. This is the net under all three, run
daily by EventBridge: every folder of the bucket (old versions and delete markers count)
whose account item is gone, or whose forget began over an hour ago and never finished, is
deleted, with every version; such a stuck forget's sessions and account item go too.

Before the folders, the retention (`Retention`): an account nobody viewed for
REFRESH_IDLE_DAYS leaves the refresh index, and one nobody viewed for
ACCOUNT_RETENTION_DAYS is forgotten as POST /forget does (token revoked at X, every version
of its folder, its sessions and its item deleted). Both are found by a Query of the
`last-viewed` index (accounts.py), never a Scan. The retention runs first so that a
retention forget stuck part-way is finished by the retention again the next day, its token
revoked, rather than by the folder pass, which has no token to revoke.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from chalicelib.accounts import BATCH_GET_LIMIT, IDLE, LISTED, AccountStore, ViewIndex
from chalicelib.archive import Archive
from chalicelib.errors import StoreUnavailable
from chalicelib.forget import Forgotten
from chalicelib.observability import logger
from chalicelib.sessions import SessionStore

STUCK_FORGET_SECONDS = 3600  # a forget takes seconds; one begun this long ago has failed
# Retention forgets a run makes at most: each is about seven AWS calls and one to X (up to
# its timeout), so a backlog (the first run over a fleet of old accounts) is spread over
# days and the folder pass still runs within the function's 900 s; the rest wait a day.
RETENTION_FORGETS_PER_SWEEP = 200


@dataclass
class SweepSummary:
    folders: int = 0  # account folders in the bucket
    orphans: int = 0  # of them, whose account is gone or stuck in a forget
    versions_deleted: int = 0
    forgets_finished: int = 0  # stuck forgets whose sessions and item the sweep deleted
    left_refresh: int = 0  # accounts not viewed for REFRESH_IDLE_DAYS, out of refresh-due
    forgotten_idle: int = 0  # not viewed for ACCOUNT_RETENTION_DAYS: forgotten
    not_revoked: int = 0  # of them, whose token X could not be asked to revoke
    retention_failed: int = 0  # forgets storage failed part-way: the next sweep goes on
    retention_left_over: bool = False  # the cap or X stopped the forgets: the rest wait a day
    backfilled: int = 0  # items from before viewed_at, given their sign-in as last view

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def purge(account_id: str, accounts: AccountStore, archive: Archive) -> int | None:
    """A forget's queued second delete: every version of the account's folder, if the
    account is still gone (or being forgotten); None when it is back (signed in anew:
    what a writer of the old account wrote, it deleted itself). Returns versions deleted."""
    if account_id not in accounts.forgotten_among([account_id]):
        return None
    return archive.delete(account_id)


class Retention:
    """What is kept of an account nobody looks at: refreshed for `idle_seconds` after her
    last view, kept for `retention_seconds`, then forgotten."""

    def __init__(
        self,
        views: ViewIndex,
        forget_idle: Callable[[str, int], Forgotten | None],
        *,
        idle_seconds: int,
        retention_seconds: int,
        clock: Callable[[], float],
        cap: int = RETENTION_FORGETS_PER_SWEEP,
    ) -> None:
        self._views = views
        self._forget_idle = forget_idle  # ForgetFlow.forget_idle
        self._idle = idle_seconds
        self._retention = retention_seconds
        self._clock = clock
        self._cap = cap

    def run(self, summary: SweepSummary) -> None:
        now = int(self._clock())
        self.leave_refresh(now - self._idle, summary)
        self.forget_long_idle(now - self._retention, summary)

    def leave_refresh(self, viewed_before: int, summary: SweepSummary) -> None:
        """Listed accounts last viewed before `viewed_before` leave `refresh-due`: one
        conditional UpdateItem each, once (then the index lists them as idle)."""
        for account_id in list(self._views.viewed_before(LISTED, viewed_before)):
            if self._views.leave_refresh(account_id, viewed_before):
                summary.left_refresh += 1

    def forget_long_idle(self, viewed_before: int, summary: SweepSummary) -> None:
        """Idle accounts last viewed before `viewed_before` are forgotten, up to the cap.
        X failing to revoke a token stops the forgets for the day: the others keep their
        tokens until X answers again, rather than be deleted with a token left valid."""
        idle = self._views.viewed_before(IDLE, viewed_before)
        for account_id in idle:
            if summary.forgotten_idle + summary.retention_failed >= self._cap:
                summary.retention_left_over = True
                return
            try:
                forgotten = self._forget_idle(account_id, viewed_before)
            except StoreUnavailable:  # begun, or not: the next sweep finds it idle again
                logger.exception("retention forget failed", extra={"account_id": account_id})
                summary.retention_failed += 1
                continue
            if forgotten is None:
                continue  # viewed or signed in to since the index was read
            summary.forgotten_idle += 1
            if not forgotten.revoked_at_x:
                summary.not_revoked += 1
                summary.retention_left_over = True
                return


class ArchiveSweep:
    def __init__(
        self,
        archive: Archive,
        accounts: AccountStore,
        sessions: SessionStore,
        clock: Callable[[], float],
        retention: Retention | None = None,
    ) -> None:
        self._archive = archive
        self._accounts = accounts
        self._sessions = sessions
        self._clock = clock
        self._retention = retention

    def run(self) -> SweepSummary:
        summary = SweepSummary()
        if self._retention is not None:
            self._retention.run(summary)
        folders = iter(self._archive.account_folders())
        while batch := list(itertools.islice(folders, BATCH_GET_LIMIT)):
            summary.folders += len(batch)
            owners = self._accounts.folder_owners(batch)
            self._sweep(owners.forgotten, summary)
            for account_id, signed_in_at in owners.unviewed.items():
                if self._accounts.backfill_viewed_at(account_id, signed_in_at):
                    summary.backfilled += 1
        logger.info("archive swept", extra=summary.as_dict())
        return summary

    def _sweep(self, forgotten: dict[str, int | None], summary: SweepSummary) -> None:
        stuck_before = self._clock() - STUCK_FORGET_SECONDS
        for account_id, forgetting_at in forgotten.items():
            if forgetting_at is not None and forgetting_at > stuck_before:
                continue  # a forget under way: it deletes the folder itself
            summary.orphans += 1
            summary.versions_deleted += self._archive.delete(account_id)
            if forgetting_at is not None:
                self._sessions.end_account_sessions(account_id)
                self._accounts.forget(account_id)
                summary.forgets_finished += 1
