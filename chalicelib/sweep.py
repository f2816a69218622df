"""The archive's sweep: no account folder outlives its account.

A forget deletes everything, a writer that raced it deletes what it wrote, and a purge
queued by the forget deletes the folder once more. This is the net under all three, run
daily by EventBridge: every folder of the bucket (old versions and delete markers count)
whose account item is gone, or whose forget began over an hour ago and never finished, is
deleted, with every version; such a stuck forget's sessions and account item go too.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from chalicelib.accounts import BATCH_GET_LIMIT, AccountStore
from chalicelib.archive import Archive
from chalicelib.observability import logger
from chalicelib.sessions import SessionStore

STUCK_FORGET_SECONDS = 3600  # a forget takes seconds; one begun this long ago has failed


@dataclass
class SweepSummary:
    folders: int = 0  # account folders in the bucket
    orphans: int = 0  # of them, whose account is gone or stuck in a forget
    versions_deleted: int = 0
    forgets_finished: int = 0  # stuck forgets whose sessions and item the sweep deleted

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def purge(account_id: str, accounts: AccountStore, archive: Archive) -> int | None:
    """A forget's queued second delete: every version of the account's folder, if the
    account is still gone (or being forgotten); None when it is back (signed in anew:
    what a writer of the old account wrote, it deleted itself). Returns versions deleted."""
    if account_id not in accounts.forgotten_among([account_id]):
        return None
    return archive.delete(account_id)


class ArchiveSweep:
    def __init__(
        self,
        archive: Archive,
        accounts: AccountStore,
        sessions: SessionStore,
        clock: Callable[[], float],
    ) -> None:
        self._archive = archive
        self._accounts = accounts
        self._sessions = sessions
        self._clock = clock

    def run(self) -> SweepSummary:
        summary = SweepSummary()
        folders = iter(self._archive.account_folders())
        while batch := list(itertools.islice(folders, BATCH_GET_LIMIT)):
            summary.folders += len(batch)
            self._sweep(self._accounts.forgotten_among(batch), summary)
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
