"""The app's objects, built on first use and kept for the warm life of the Lambda.

Nothing is built at import: a cold start pays only for what its request needs, and tests
can point boto3 at moto before the first client exists.

The one rule for imports inside a function, here and in every module of chalicelib: such
an import is kept only where it keeps a module out of a cold start that does not need it,
the sign-in legs' (`GET /auth`, `/callback`: no report, refresh, budget or archive module,
no Jinja2, no Powertools batch utility; tests/test_cold_start.py checks it) or the
schedule's; every other import stands at the top of its module.

Every factory is a plain cache (`cached`, which `reset` knows). What needs a secret (the
cookie codec, the token cipher, the X app's credentials) is given a provider of it, not its
value: the provider reads the secret through Parameters' cache, reread every
SECRETS_MAX_AGE_SECONDS, so a rotated key reaches every warm container and no cached object
can pin an old one.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from chalicelib.accounts import AccountIndex, AccountStore, AccountTokens, ViewIndex
from chalicelib.config import (
    OAUTH2,
    aws_client,
    clear_caches,
    rotating_keys,
    settings,
    sign_in_flavour,
    x_app_credentials,
    x_oauth2_client,
)
from chalicelib.cookies import CookieCodec
from chalicelib.observability import logger
from chalicelib.sessions import Lifetimes, SessionStore
from chalicelib.signin import SignInFlow
from chalicelib.tokens import TokenCipher
from chalicelib.x_auth import XAuth
from chalicelib.x_oauth2 import XOAuth2

T = TypeVar("T")

# What only the report routes, the schedule and the worker use is imported when first
# built, so the sign-in legs' cold start does not pay for it.
if TYPE_CHECKING:
    from chalicelib.archive import Archive
    from chalicelib.budget import TokenBucket
    from chalicelib.compliance import ComplianceQueue, ComplianceRound, ComplianceWorker, Cursors
    from chalicelib.forget import ForgetFlow
    from chalicelib.history import HistoryService
    from chalicelib.refresh import RefreshWorker, Scheduler
    from chalicelib.refresh_queue import RefreshQueue
    from chalicelib.report_service import ReportService
    from chalicelib.sweep import ArchiveSweep, Retention
    from chalicelib.token_refresh import TokenRefresher
    from chalicelib.x_compliance import AppToken, ComplianceClient
    from chalicelib.x_history import HistoryClient
    from chalicelib.x_pause import XPause
    from chalicelib.x_timeline import XTimeline


_CACHES: list[Any] = []


def cached(factory: Callable[[], T]) -> Callable[[], T]:
    """A factory whose object is built once and kept for the warm life of the container,
    registered so that `reset` forgets it: no factory can be left out of the reset."""
    kept = functools.cache(factory)
    _CACHES.append(kept)
    return kept


@cached
def dynamodb() -> Any:
    return aws_client("dynamodb")


@cached
def s3() -> Any:
    return aws_client("s3")


@cached
def sqs() -> Any:
    return aws_client("sqs")


@cached
def cookie_codec() -> CookieCodec:
    config = settings()
    secret_id = config.cookie_keys_secret_id
    return CookieCodec(lambda: rotating_keys(secret_id), secure=config.secure_cookies)


@cached
def token_cipher() -> TokenCipher:
    secret_id = settings().token_keys_secret_id
    return TokenCipher(lambda: rotating_keys(secret_id))


@cached
def session_store() -> SessionStore:
    config = settings()
    lifetimes = Lifetimes(
        pending_seconds=config.pending_login_seconds,
        idle_seconds=config.session_idle_seconds,
        absolute_seconds=config.session_absolute_seconds,
    )
    return SessionStore(dynamodb(), config.table_name, token_cipher(), lifetimes)


@cached
def account_store() -> AccountStore:
    return AccountStore(dynamodb(), settings().table_name, token_cipher())


@cached
def x_auth() -> XAuth:
    config = settings()
    return XAuth(config.x_api_base_url, x_app_credentials, config.x_timeout_seconds)


@cached
def x_oauth2() -> XOAuth2:
    """OAuth 2.0 with X, given a provider of the client id and secret (read when used: an
    app with OAuth 1.0a only never asks for them)."""
    config = settings()
    return XOAuth2(
        config.x_api_base_url,
        config.x_oauth2_authorize_url,
        x_oauth2_client,
        config.x_timeout_seconds,
    )


@cached
def sign_in() -> SignInFlow:
    return SignInFlow(
        session_store(),
        account_store(),
        x_auth(),
        settings().callback_url,
        time.time,
        budget=sign_in_budget(),
        x_oauth2=x_oauth2(),
        flavour=sign_in_flavour,
    )


@cached
def token_refresher() -> TokenRefresher:
    """One refresh at X per OAuth 2.0 pair, fleet-wide. The lease outlasts the longest
    refresh call (connect and read, each X_TIMEOUT_SECONDS) with time to spare: a claim
    is taken over only from a caller that can no longer be writing."""
    from chalicelib.token_refresh import TokenRefresher

    config = settings()
    return TokenRefresher(
        account_store(),
        x_oauth2(),
        time.time,
        margin_seconds=config.x_oauth2_refresh_margin_seconds,
        lease_seconds=int(2 * config.x_timeout_seconds) + 5,
    )


@cached
def sign_in_budget() -> TokenBucket:
    """The fleet's budget of sign-ins started: one bucket, X's request tokens (a bucket of
    its own, so the sign-in's cold start loads no timeline code)."""
    from chalicelib.budget import Limit, TokenBucket
    from chalicelib.x_auth import REQUEST_TOKEN

    config = settings()
    window, margin = config.x_budget_window_seconds, config.x_budget_margin_seconds
    limit = Limit(config.x_budget_request_tokens, window, margin)
    return TokenBucket(dynamodb(), config.table_name, {REQUEST_TOKEN: limit}, time.time)


def forget() -> ForgetFlow:
    from chalicelib.forget import ForgetFlow

    return ForgetFlow(
        account_store(),
        session_store(),
        archive(),
        x_auth(),
        time.time,
        purge_later,
        x_oauth2=x_oauth2(),
    )


def purge_later(account_id: str) -> None:
    """A forget's second delete, queued for after the longest writer (a refresh worker)
    that read the account before the forget could still be running."""
    refresh_queue().send_later(account_id, delay_seconds=settings().purge_delay_seconds, purge=True)


@cached
def archive() -> Archive:
    from chalicelib.archive import Archive

    return Archive(s3(), settings().bucket_name)


@cached
def x_budget() -> TokenBucket:
    """The buckets of the account tokens' X reads (`.for_account(id)`: one account's), sized
    to X's per-user limits: X counts a user-context read against the token that signed it,
    not against the app. Page views draw from the account's buckets too: X counts their
    requests against the same token, so a budget that ignored them would let the workers
    draw 429s. No share is held back for views: the schedule keeps reports fresh, so a view
    rarely needs X, and one refresh an hour leaves a token's window nearly whole."""
    from chalicelib.budget import Limit, TokenBucket
    from chalicelib.x_timeline import MENTIONS, OWN_POSTS, USERS

    config = settings()
    window, margin = config.x_budget_window_seconds, config.x_budget_margin_seconds
    limits = {
        MENTIONS: Limit(config.x_user_budget_mentions, window, margin),
        OWN_POSTS: Limit(config.x_user_budget_tweets, window, margin),
        USERS: Limit(config.x_user_budget_users, window, margin),
    }
    return TokenBucket(dynamodb(), config.table_name, limits, time.time)


@cached
def app_budget() -> TokenBucket:
    """The app's own buckets, for what X limits per app: app-only (bearer token) requests.
    Full-archive search is limited twice, per window and to one request a second."""
    from chalicelib.budget import (
        COMPLIANCE_JOBS,
        COUNTS_ALL,
        SEARCH_ALL,
        USERS,
        Limit,
        Limits,
        TokenBucket,
    )

    config = settings()
    window, margin = config.x_budget_window_seconds, config.x_budget_margin_seconds
    limits: Limits = {
        SEARCH_ALL: (Limit(config.x_app_budget_search, window, margin), Limit(1, 1, 0)),
        COUNTS_ALL: Limit(config.x_app_budget_counts, window, margin),
        COMPLIANCE_JOBS: Limit(config.x_app_budget_compliance_jobs, window, margin),
        USERS: Limit(config.x_app_budget_users, window, margin),
    }
    return TokenBucket(dynamodb(), config.table_name, limits, time.time)


def timeline_for(account: AccountTokens) -> XTimeline:
    """The account's timelines at X: signed with OAuth 1.0a, or with its OAuth 2.0 access
    token as a Bearer token, refreshed when it is about to expire or X answers 401."""
    from chalicelib.x_timeline import XTimeline

    if account.sign_in == OAUTH2:
        from chalicelib.token_refresh import AccountBearer

        bearer = AccountBearer(token_refresher(), account)
        budget = x_budget().for_account(account.account_id)
        return XTimeline(x_oauth2().client(bearer), budget, user_auth=False)
    client = x_auth().client(account.access_token, account.access_token_secret)
    return XTimeline(client, x_budget().for_account(account.account_id))


def _confirm_written(account: AccountTokens, refreshed_at: int | None) -> bool:
    return account_store().confirm_written(account, refreshed_at)


def _token_rejected(account_id: str, at: int) -> None:
    """X refused the account's token: mark it, and end every session signed in to it."""
    if account_store().mark_token_rejected(account_id, at):
        session_store().end_account_sessions(account_id)
    logger.warning("X rejected the account's token", extra={"account_id": account_id})


@cached
def reports() -> ReportService:
    from chalicelib.report_service import ReportService

    config = settings()
    return ReportService(
        archive(),
        timeline_for,
        config.report_max_age_seconds,
        time.time,
        on_written=_confirm_written,
        on_rejected=_token_rejected,
        x_seconds=(config.view_x_budget_seconds, config.worker_x_budget_seconds),
        overlap_seconds=config.x_overlap_seconds,
        prices=config.x_prices,
        on_billed=_billed,
        pause=x_pause(),
        on_cut_short=_read_the_rest,
        on_viewed=_viewed,
    )


@cached
def x_pause() -> XPause:
    """The fleet's pause of X reads, one per container (it keeps the flag 30 s)."""
    from chalicelib.x_pause import XPause

    config = settings()
    return XPause(
        dynamodb(),
        config.table_name,
        probe_seconds=config.x_pause_probe_seconds,
        monthly_cap=config.x_monthly_post_cap,
        clock=time.time,
    )


def _billed(account_id: str, month: str, posts: int, usd: Decimal, users: int) -> bool:
    return account_store().add_x_cost(account_id, month, posts, usd, users)


def _viewed(account: AccountTokens, now: int) -> bool:
    """A report view: noted at most once a day; an idle account goes back in the index."""
    return account_store().note_viewed(account, now)


def _read_the_rest(account_id: str) -> None:
    """A view's time for X ran out: a refresh worker reads the rest, at once."""
    refresh_queue().send_later(account_id, delay_seconds=0)


@cached
def refresh_queue() -> RefreshQueue:
    from chalicelib.refresh_queue import RefreshQueue

    return RefreshQueue(sqs(), settings().refresh_queue_url)


@cached
def scheduler() -> Scheduler:
    from chalicelib.refresh import Scheduler

    config = settings()
    return Scheduler(
        AccountIndex(dynamodb(), config.table_name),
        refresh_queue(),
        max_age_seconds=config.report_max_age_seconds,
        send_concurrency=config.refresh_send_concurrency,
        clock=time.time,
    )


@cached
def refresh_worker() -> RefreshWorker:
    from chalicelib.refresh import RefreshWorker
    from chalicelib.sweep import purge

    config = settings()
    return RefreshWorker(
        account_store(),
        reports(),
        refresh_queue(),
        max_age_seconds=config.report_max_age_seconds,
        spread_seconds=config.x_budget_window_seconds,
        clock=time.time,
        purge=lambda account_id: purge(account_id, account_store(), archive()),
        history=lambda account, page: history().step(account, page),
    )


@cached
def archive_sweep() -> ArchiveSweep:
    from chalicelib.sweep import ArchiveSweep

    return ArchiveSweep(
        archive(), account_store(), session_store(), time.time, retention=retention()
    )


@cached
def retention() -> Retention:
    """The daily sweep's retention. Its forgets queue no purge: an account idle this long
    has no writer in flight (no view, no refresh since it left the index), and the next
    day's sweep deletes any folder whose account is gone."""
    from chalicelib.forget import ForgetFlow
    from chalicelib.sweep import Retention

    config = settings()
    forget_flow = ForgetFlow(
        account_store(), session_store(), archive(), x_auth(), time.time, x_oauth2=x_oauth2()
    )
    return Retention(
        ViewIndex(dynamodb(), config.table_name),
        forget_flow.forget_idle,
        idle_seconds=config.refresh_idle_seconds,
        retention_seconds=config.account_retention_seconds,
        clock=time.time,
    )


@cached
def compliance_queue() -> ComplianceQueue:
    from chalicelib.compliance import ComplianceQueue

    return ComplianceQueue(sqs(), settings().compliance_queue_url)


@cached
def compliance_cursors() -> Cursors:
    from chalicelib.compliance import Cursors

    return Cursors(dynamodb(), settings().table_name)


@cached
def compliance_round() -> ComplianceRound:
    from chalicelib.compliance import ComplianceRound

    return ComplianceRound(compliance_cursors(), compliance_queue(), time.time)


@cached
def app_bearer() -> AppToken:
    """The app's bearer token (client credentials), asked of X once per container:
    app-only bearer tokens do not expire. Batch compliance and full-archive search take it."""
    from chalicelib.x_compliance import bearer_token

    config = settings()
    key, secret = x_app_credentials()
    return bearer_token(config.x_api_base_url, key, secret, config.x_timeout_seconds)


def _forget_app_bearer() -> None:
    """X refused the app's bearer token: ask X for it anew next time."""
    app_bearer.cache_clear()  # type: ignore[attr-defined]
    compliance_client.cache_clear()  # type: ignore[attr-defined]
    history_client.cache_clear()  # type: ignore[attr-defined]


@cached
def compliance_client() -> ComplianceClient:
    """The app's batch compliance, with its bearer token."""
    from chalicelib.x_compliance import ComplianceClient

    config = settings()
    return ComplianceClient(
        config.x_api_base_url, app_bearer(), config.x_timeout_seconds, budget=app_budget()
    )


@cached
def history_client() -> HistoryClient:
    """Full-archive counts and search, with the app's bearer token and the app's buckets."""
    from chalicelib.x_history import HistoryClient

    config = settings()
    return HistoryClient(
        config.x_api_base_url,
        app_bearer().access_token,
        config.x_timeout_seconds,
        budget=app_budget(),
    )


@cached
def history() -> HistoryService:
    from chalicelib.history import HistoryService

    config = settings()
    return HistoryService(
        archive(),
        reports(),
        history_client,
        refresh_queue(),
        prices=config.x_prices,
        pause=x_pause(),
        clock=time.time,
        on_bearer_refused=_forget_app_bearer,
    )


@cached
def compliance_worker() -> ComplianceWorker:
    """The worker touches no person's token: its account store reads no token key (its
    role may not), and its reports service never reads X (it only withdraws)."""
    from chalicelib.compliance import ComplianceWorker
    from chalicelib.report_service import ReportService

    config = settings()
    secret_id = config.token_keys_secret_id
    accounts = AccountStore(
        dynamodb(),
        config.table_name,
        TokenCipher(lambda: rotating_keys(secret_id), check_keys=False),
    )
    withdrawing = ReportService(
        archive(),
        timeline_for,
        config.report_max_age_seconds,
        time.time,
        on_written=accounts.confirm_written,
    )
    return ComplianceWorker(
        archive(),
        compliance_client,
        compliance_queue(),
        compliance_cursors(),
        accounts.profile,
        withdrawing.withdraw,
        job_ids=config.x_compliance_job_ids,
        poll_seconds=config.compliance_poll_seconds,
        max_polls=config.compliance_max_polls,
        clock=time.time,
        on_token_refused=_forget_app_bearer,
    )


def reset() -> None:
    """Drop every cached object and secret (tests swap the environment between cases)."""
    for kept in _CACHES:
        kept.cache_clear()
    clear_caches()
