"""The app's objects, built on first use and kept for the warm life of the Lambda.

Nothing is built at import: a cold start pays only for what its request needs, and tests
can point boto3 at moto before the first client exists.

What is made from a secret (cookie keys, token keys, the X app's credentials) is kept
only as long as the secret is: each is cached by the value Parameters returns, which is
reread every SECRETS_MAX_AGE_SECONDS, so a rotated key reaches every warm container.
"""

from __future__ import annotations

import functools
import time
from typing import TYPE_CHECKING, Any

from chalicelib.accounts import AccountIndex, AccountStore, AccountTokens
from chalicelib.config import rotating_keys, settings, x_app_credentials
from chalicelib.cookies import CookieCodec
from chalicelib.sessions import Lifetimes, SessionStore
from chalicelib.signin import SignInFlow
from chalicelib.tokens import TokenCipher
from chalicelib.x_auth import XAuth

# What only the report routes, the schedule and the worker use is imported when first
# built, so the sign-in legs' cold start does not pay for it.
if TYPE_CHECKING:
    from chalicelib.archive import Archive
    from chalicelib.budget import TokenBucket
    from chalicelib.forget import ForgetFlow
    from chalicelib.refresh import RefreshWorker, Scheduler
    from chalicelib.refresh_queue import RefreshQueue
    from chalicelib.report_service import ReportService
    from chalicelib.x_timeline import XTimeline


@functools.cache
def dynamodb() -> Any:
    import boto3

    return boto3.client("dynamodb")


@functools.cache
def s3() -> Any:
    import boto3

    return boto3.client("s3")


@functools.cache
def sqs() -> Any:
    import boto3

    return boto3.client("sqs")


def cookie_codec() -> CookieCodec:
    config = settings()
    return _cookie_codec(tuple(rotating_keys(config.cookie_keys_secret_id)), config.secure_cookies)


@functools.lru_cache(maxsize=1)
def _cookie_codec(keys: tuple[str, ...], secure: bool) -> CookieCodec:
    return CookieCodec(list(keys), secure=secure)


def token_cipher() -> TokenCipher:
    return _token_cipher(tuple(rotating_keys(settings().token_keys_secret_id)))


@functools.lru_cache(maxsize=1)
def _token_cipher(keys: tuple[str, ...]) -> TokenCipher:
    return TokenCipher(list(keys))


def session_store() -> SessionStore:
    return _session_store(token_cipher())


@functools.lru_cache(maxsize=1)
def _session_store(cipher: TokenCipher) -> SessionStore:
    config = settings()
    lifetimes = Lifetimes(
        pending_seconds=config.pending_login_seconds,
        idle_seconds=config.session_idle_seconds,
        absolute_seconds=config.session_absolute_seconds,
    )
    return SessionStore(dynamodb(), config.table_name, cipher, lifetimes)


def account_store() -> AccountStore:
    return _account_store(token_cipher())


@functools.lru_cache(maxsize=1)
def _account_store(cipher: TokenCipher) -> AccountStore:
    return AccountStore(dynamodb(), settings().table_name, cipher)


def x_auth() -> XAuth:
    return _x_auth(x_app_credentials())


@functools.lru_cache(maxsize=1)
def _x_auth(credentials: tuple[str, str]) -> XAuth:
    config = settings()
    consumer_key, consumer_secret = credentials
    return XAuth(config.x_api_base_url, consumer_key, consumer_secret, config.x_timeout_seconds)


def sign_in() -> SignInFlow:
    return _sign_in(session_store(), account_store(), x_auth())


@functools.lru_cache(maxsize=1)
def _sign_in(store: SessionStore, accounts: AccountStore, auth: XAuth) -> SignInFlow:
    return SignInFlow(store, accounts, auth, settings().callback_url, time.time)


def forget() -> ForgetFlow:
    from chalicelib.forget import ForgetFlow

    return ForgetFlow(account_store(), session_store(), archive(), x_auth())


@functools.cache
def archive() -> Archive:
    from chalicelib.archive import Archive

    return Archive(s3(), settings().bucket_name)


@functools.cache
def x_budget() -> TokenBucket:
    """The fleet's X budget. Page views draw from it too: X counts their requests against
    the same app limit, so a budget that ignored them would let the workers draw 429s.
    No share is held back for views: the schedule keeps reports fresh, so a view rarely
    needs X, and once the window is spent X would refuse the view anyway."""
    from chalicelib.budget import Limit, TokenBucket
    from chalicelib.x_timeline import MENTIONS, OWN_POSTS

    config = settings()
    window, margin = config.x_budget_window_seconds, config.x_budget_margin_seconds
    limits = {
        MENTIONS: Limit(config.x_budget_mentions, window, margin),
        OWN_POSTS: Limit(config.x_budget_tweets, window, margin),
    }
    return TokenBucket(dynamodb(), config.table_name, limits, time.time)


def timeline_for(account: AccountTokens) -> XTimeline:
    from chalicelib.x_timeline import XTimeline

    client = x_auth().client(account.access_token, account.access_token_secret)
    return XTimeline(client, x_budget())


def _note_refreshed(account_id: str, at: int) -> None:
    account_store().mark_refreshed(account_id, at)


def _token_rejected(account_id: str, at: int) -> None:
    """X refused the account's token: mark it, and end every session signed in to it."""
    from chalicelib.observability import logger

    if account_store().mark_token_rejected(account_id, at):
        session_store().end_account_sessions(account_id)
    logger.warning("X rejected the account's token", extra={"account_id": account_id})


@functools.cache
def reports() -> ReportService:
    from chalicelib.report_service import ReportService

    return ReportService(
        archive(),
        timeline_for,
        settings().report_max_age_seconds,
        time.time,
        on_refreshed=_note_refreshed,
        on_rejected=_token_rejected,
    )


@functools.cache
def refresh_queue() -> RefreshQueue:
    from chalicelib.refresh_queue import RefreshQueue

    return RefreshQueue(sqs(), settings().refresh_queue_url)


@functools.cache
def scheduler() -> Scheduler:
    from chalicelib.refresh import Scheduler

    config = settings()
    return Scheduler(
        AccountIndex(dynamodb(), config.table_name),
        refresh_queue(),
        max_age_seconds=config.report_max_age_seconds,
        cap=config.refresh_round_cap,
        clock=time.time,
    )


def refresh_worker() -> RefreshWorker:
    return _refresh_worker(account_store())


@functools.lru_cache(maxsize=1)
def _refresh_worker(store: AccountStore) -> RefreshWorker:
    from chalicelib.refresh import RefreshWorker

    config = settings()
    return RefreshWorker(
        store,
        reports(),
        refresh_queue(),
        max_age_seconds=config.report_max_age_seconds,
        spread_seconds=config.x_budget_window_seconds,
        clock=time.time,
    )


def reset() -> None:
    """Drop every cached object (tests swap the environment between cases)."""
    from chalicelib.config import clear_caches

    for cached in (
        dynamodb,
        s3,
        sqs,
        x_budget,
        refresh_queue,
        scheduler,
        _refresh_worker,
        archive,
        reports,
        _cookie_codec,
        _token_cipher,
        _session_store,
        _account_store,
        _x_auth,
        _sign_in,
    ):
        cached.cache_clear()
    clear_caches()
