"""The app's objects, built on first use and kept for the warm life of the Lambda.

Nothing is built at import: a cold start pays only for what its request needs, and tests
can point boto3 at moto before the first client exists.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from chalicelib.archive import Archive
from chalicelib.config import rotating_keys, settings, x_app_credentials
from chalicelib.cookies import CookieCodec
from chalicelib.reports import ReportService
from chalicelib.sessions import AccountTokens, Lifetimes, SessionStore
from chalicelib.signin import SignInFlow
from chalicelib.tokens import TokenCipher
from chalicelib.x_auth import XAuth
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
def cookie_codec() -> CookieCodec:
    config = settings()
    return CookieCodec(rotating_keys(config.cookie_keys_secret_id), secure=config.secure_cookies)


@functools.cache
def token_cipher() -> TokenCipher:
    return TokenCipher(rotating_keys(settings().token_keys_secret_id))


@functools.cache
def session_store() -> SessionStore:
    config = settings()
    lifetimes = Lifetimes(
        pending_seconds=config.pending_login_seconds,
        idle_seconds=config.session_idle_seconds,
        absolute_seconds=config.session_absolute_seconds,
    )
    return SessionStore(dynamodb(), config.table_name, token_cipher(), lifetimes)


@functools.cache
def x_auth() -> XAuth:
    config = settings()
    consumer_key, consumer_secret = x_app_credentials()
    return XAuth(config.x_api_base_url, consumer_key, consumer_secret, config.x_timeout_seconds)


@functools.cache
def sign_in() -> SignInFlow:
    return SignInFlow(session_store(), x_auth(), settings().callback_url, time.time)


@functools.cache
def archive() -> Archive:
    return Archive(s3(), settings().bucket_name)


def timeline_for(account: AccountTokens) -> XTimeline:
    return XTimeline(x_auth().client(account.access_token, account.access_token_secret))


@functools.cache
def reports() -> ReportService:
    return ReportService(archive(), timeline_for, settings().report_max_age_seconds, time.time)


def reset() -> None:
    """Drop every cached object (tests swap the environment between cases)."""
    from chalicelib.config import clear_caches

    for cached in (
        dynamodb,
        s3,
        archive,
        reports,
        cookie_codec,
        token_cipher,
        session_store,
        x_auth,
        sign_in,
    ):
        cached.cache_clear()
    clear_caches()
