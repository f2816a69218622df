"""Retention, by hand: the daily sweep's `Retention` moves accounts nobody viewed for 30 days
out of the refresh index and forgets those nobody viewed for 400; a report view tells the
store of itself, and an account out of the index is topped up from X on the spot. The
index is a FakeViewIndex, the forget a recorder, time a Clock. GIVEN / WHEN / THEN."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.accounts import IDLE, LISTED, AccountTokens
from chalicelib.errors import StoreUnavailable
from chalicelib.forget import Forgotten
from chalicelib.report_service import ReportService
from chalicelib.report_settings import resolve
from chalicelib.sweep import Retention, SweepSummary
from chalicelib.x_timeline import XTimeline
from tests.posts import ACCOUNT, iso, mention
from tests.unit.fakes import Clock, FakeArchive, FakeViewIndex, ScriptedTimeline

DAY = 24 * 3600
NOW = 1_800_000_000  # 2027-01-15 08:00 UTC
IDLE_DAYS, RETENTION_DAYS = 30, 400


class Forgets:
    """ForgetFlow.forget_idle as the retention calls it: what it was asked, and what it
    answers (`outcomes`: account id -> None, "revoked", "not revoked" or "fails")."""

    def __init__(self, **outcomes: str | None) -> None:
        self.outcomes = outcomes
        self.asked: list[tuple[str, int]] = []

    def __call__(self, account_id: str, viewed_before: int) -> Forgotten | None:
        self.asked.append((account_id, viewed_before))
        outcome = self.outcomes.get(account_id, "revoked")
        if outcome == "fails":
            raise StoreUnavailable("S3 ListObjectVersions failed: EndpointConnectionError")
        if outcome is None:
            return None
        return Forgotten(f"@{account_id}", revoked_at_x=outcome == "revoked")


def sweep(index: FakeViewIndex, forgets: Forgets, cap: int = 200) -> SweepSummary:
    retention = Retention(
        index,
        forgets,
        idle_seconds=IDLE_DAYS * DAY,
        retention_seconds=RETENTION_DAYS * DAY,
        clock=Clock(NOW),
        cap=cap,
    )
    summary = SweepSummary()
    retention.run(summary)
    return summary


def test_an_account_viewed_31_days_ago_leaves_the_index_one_viewed_yesterday_stays() -> None:
    # GIVEN listed accounts last viewed 31 days, 30 days less a minute, and 1 day ago
    index = FakeViewIndex(
        {
            "31d": (LISTED, NOW - 31 * DAY),
            "30d-1m": (LISTED, NOW - 30 * DAY + 60),
            "1d": (LISTED, NOW - 1 * DAY),
        }
    )
    forgets = Forgets()

    # WHEN the daily sweep's retention runs
    summary = sweep(index, forgets)

    # THEN the index is asked for listed accounts viewed before NOW - 30 days, and idle ones
    # viewed before NOW - 400 days
    assert index.asked == [(LISTED, NOW - 30 * DAY), (IDLE, NOW - 400 * DAY)]
    # AND only the 31-day one left; nothing is forgotten (no one idle for 400 days)
    assert index.accounts == {
        "31d": (IDLE, NOW - 31 * DAY),
        "30d-1m": (LISTED, NOW - 30 * DAY + 60),
        "1d": (LISTED, NOW - 1 * DAY),
    }
    assert summary.left_refresh == 1 and forgets.asked == [] and summary.forgotten_idle == 0


def test_an_account_idle_for_401_days_is_forgotten_one_idle_for_399_is_kept() -> None:
    # GIVEN idle accounts last viewed 401 and 399 days ago
    index = FakeViewIndex({"401d": (IDLE, NOW - 401 * DAY), "399d": (IDLE, NOW - 399 * DAY)})
    forgets = Forgets()

    # WHEN
    summary = sweep(index, forgets)

    # THEN the 401-day one is forgotten, on the condition it was not viewed since then
    assert forgets.asked == [("401d", NOW - 400 * DAY)]
    assert (summary.forgotten_idle, summary.not_revoked, summary.left_refresh) == (1, 0, 0)


def test_a_listed_account_viewed_401_days_ago_leaves_first_and_is_forgotten_then() -> None:
    # GIVEN an account from before viewed_at, signed in 401 days ago and still listed
    index = FakeViewIndex({"old": (LISTED, NOW - 401 * DAY)})
    forgets = Forgets()

    # WHEN
    summary = sweep(index, forgets)

    # THEN it leaves the refresh index, and (the index now listing it as idle) is forgotten
    assert summary.left_refresh == 1 and summary.forgotten_idle == 1
    assert forgets.asked == [("old", NOW - 400 * DAY)]


def test_one_viewed_since_the_index_was_read_is_not_counted() -> None:
    # GIVEN two idle accounts past retention; "back" signed in just after the Query read
    index = FakeViewIndex({"back": (IDLE, NOW - 500 * DAY), "gone": (IDLE, NOW - 450 * DAY)})
    forgets = Forgets(back=None)

    # WHEN
    summary = sweep(index, forgets)

    # THEN both were asked for (oldest view first), only "gone" was forgotten
    assert [account for account, _ in forgets.asked] == ["back", "gone"]
    assert summary.forgotten_idle == 1


def test_the_forgets_stop_at_the_cap_and_when_x_cannot_revoke() -> None:
    # GIVEN five accounts idle past retention
    ids = [f"a{n}" for n in range(5)]
    accounts = {account: (IDLE, NOW - (500 - n) * DAY) for n, account in enumerate(ids)}

    # WHEN the cap is 3
    capped = sweep(FakeViewIndex(accounts), forgets := Forgets(), cap=3)
    # THEN 3 are forgotten, and the sweep says the rest wait
    assert (capped.forgotten_idle, capped.retention_left_over) == (3, True)
    assert [account for account, _ in forgets.asked] == ids[:3]

    # WHEN X cannot be reached for the second one's token
    stopped = sweep(FakeViewIndex(accounts), forgets := Forgets(a1="not revoked"))
    # THEN the forgets stop there for the day: the others keep their tokens until X answers
    assert [account for account, _ in forgets.asked] == ["a0", "a1"]
    assert (stopped.forgotten_idle, stopped.not_revoked, stopped.retention_left_over) == (
        2,
        1,
        True,
    )


def test_storage_failing_one_forget_leaves_it_for_the_next_sweep_and_goes_on() -> None:
    # GIVEN three idle accounts past retention; storage fails the second one's forget
    accounts = {f"a{n}": (IDLE, NOW - (500 - n) * DAY) for n in range(3)}
    forgets = Forgets(a1="fails")

    # WHEN
    summary = sweep(FakeViewIndex(accounts), forgets)

    # THEN the other two are forgotten, the failure counted
    assert (summary.forgotten_idle, summary.retention_failed) == (2, 1)
    assert summary.retention_left_over is False


# --- The view's side -----------------------------------------------------------------------

MAX_AGE = 900
VIEW_TIME = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def view_service(
    archive: FakeArchive, timeline: ScriptedTimeline, noted: list[tuple[str, int]], fail: bool
) -> ReportService:
    def on_viewed(account: AccountTokens, now: int) -> bool:
        if fail:
            raise StoreUnavailable("DynamoDB UpdateItem failed: EndpointConnectionError")
        noted.append((account.account_id, now))
        return True

    def timeline_for(account: AccountTokens) -> XTimeline:
        return timeline

    return ReportService(
        archive,
        timeline_for,
        MAX_AGE,
        Clock(VIEW_TIME.timestamp()),
        on_viewed=on_viewed,
    )


def fresh_report() -> dict[str, Any]:
    """A report stored a minute ago with the default settings: a plain view serves it."""
    return {
        "mentions": 7,
        "settings": resolve({}, {}).to_json(),
        "source": {
            "refreshed_at": iso(VIEW_TIME - timedelta(minutes=1)),
            "x_requests": 2,
            "x_posts_read": 3,
        },
    }


def test_a_view_of_a_listed_account_is_told_and_served_from_the_stored_report() -> None:
    # GIVEN a listed account with a report stored a minute ago
    archive = FakeArchive().holding(ACCOUNT, report=fresh_report())
    timeline = ScriptedTimeline([mention("11", VIEW_TIME - timedelta(hours=3))])
    noted: list[tuple[str, int]] = []
    account = AccountTokens(ACCOUNT, "acme", "token", "secret")

    # WHEN she opens her report
    view = view_service(archive, timeline, noted, fail=False).view(account)

    # THEN the store is told of the view (it decides whether to write), X is not asked
    assert noted == [(ACCOUNT, int(VIEW_TIME.timestamp()))]
    assert view.cache_state == "hit" and timeline.asked == []


def test_a_view_of_an_idle_account_tops_it_up_from_x_whatever_the_report_s_age() -> None:
    # GIVEN an account out of the refresh index, whose stored report looks a minute old
    archive = FakeArchive().holding(ACCOUNT, report=fresh_report())
    timeline = ScriptedTimeline([mention("11", VIEW_TIME - timedelta(hours=3))])
    noted: list[tuple[str, int]] = []
    account = AccountTokens(ACCOUNT, "acme", "token", "secret", in_refresh_index=False)

    # WHEN she opens her report
    view = view_service(archive, timeline, noted, fail=False).view(account)

    # THEN the view is noted (the store puts the account back) and X is read: 1 mention
    # page and 1 page of her own posts, the report rebuilt and stored
    assert noted == [(ACCOUNT, int(VIEW_TIME.timestamp()))]
    assert view.cache_state == "refreshed" and view.body["mentions"] == 1
    assert len(timeline.asked) == 2 and archive.report_saves == 1


def test_a_note_storage_refuses_does_not_cost_her_the_page() -> None:
    # GIVEN DynamoDB refusing the note
    archive = FakeArchive().holding(ACCOUNT, report=fresh_report())
    noted: list[tuple[str, int]] = []
    account = AccountTokens(ACCOUNT, "acme", "token", "secret")

    # WHEN / THEN the report is shown all the same
    view = view_service(archive, ScriptedTimeline(), noted, fail=True).view(account)
    assert view.cache_state == "hit" and view.body["mentions"] == 7
