"""Settings from the environment, and the app's secrets through Powertools Parameters.

Read lazily and cached: nothing here runs at import, so a cold start pays only for what
a request uses, and tests can set the environment before the first call.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

DEFAULT_X_API_BASE_URL = "https://api.x.com"


@dataclass(frozen=True)
class Settings:
    stage: str
    public_url: str
    x_api_base_url: str
    x_timeout_seconds: float
    table_name: str
    bucket_name: str
    report_max_age_seconds: int
    x_app_secret_id: str
    cookie_keys_secret_id: str
    token_keys_secret_id: str
    secrets_max_age_seconds: int
    pending_login_seconds: int
    session_idle_seconds: int
    session_absolute_seconds: int

    @property
    def secure_cookies(self) -> bool:
        """Browsers drop Secure cookies over plain http, which only the local stage serves."""
        return urlsplit(self.public_url).scheme == "https"

    @property
    def callback_url(self) -> str:
        return f"{self.public_url}/callback"

    @property
    def public_origin(self) -> str:
        parts = urlsplit(self.public_url)
        return f"{parts.scheme}://{parts.netloc}"


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


@functools.cache
def settings() -> Settings:
    port = os.environ.get("PORT") or "8000"
    return Settings(
        stage=os.environ.get("STAGE", "local"),
        public_url=(os.environ.get("PUBLIC_URL") or f"http://127.0.0.1:{port}").rstrip("/"),
        x_api_base_url=(os.environ.get("X_API_BASE_URL") or DEFAULT_X_API_BASE_URL).rstrip("/"),
        x_timeout_seconds=float(os.environ.get("X_TIMEOUT_SECONDS") or 5),
        table_name=os.environ.get("TABLE_NAME", "responsetime"),
        bucket_name=os.environ.get("BUCKET_NAME", "responsetime"),
        report_max_age_seconds=_int("REPORT_MAX_AGE_SECONDS", 900),
        x_app_secret_id=os.environ.get("X_APP_SECRET_ID", "responsetime/x-app"),
        cookie_keys_secret_id=os.environ.get("COOKIE_KEYS_SECRET_ID", "responsetime/cookie-keys"),
        token_keys_secret_id=os.environ.get("TOKEN_KEYS_SECRET_ID", "responsetime/token-keys"),
        secrets_max_age_seconds=_int("SECRETS_MAX_AGE_SECONDS", 300),
        pending_login_seconds=_int("PENDING_LOGIN_SECONDS", 600),
        session_idle_seconds=_int("SESSION_IDLE_SECONDS", 7 * 24 * 3600),
        session_absolute_seconds=_int("SESSION_ABSOLUTE_SECONDS", 30 * 24 * 3600),
    )


def secret(secret_id: str) -> dict[str, Any]:
    """A JSON secret from Secrets Manager, cached by Powertools for `secrets_max_age_seconds`."""
    from aws_lambda_powertools.utilities import parameters

    value = parameters.get_secret(
        secret_id, transform="json", max_age=settings().secrets_max_age_seconds
    )
    if not isinstance(value, dict):
        raise ValueError(f"secret {secret_id} is not a JSON object")
    return value


def rotating_keys(secret_id: str) -> list[str]:
    """Keys newest first: `current`, then `previous` (a string or a list), for rotation.

    An operator rotates by writing {"current": NEW, "previous": OLD}: the new key signs or
    encrypts from then on, and the old one still verifies or decrypts what is out there.
    """
    value = secret(secret_id)
    previous = value.get("previous") or []
    if isinstance(previous, str):
        previous = [previous]
    keys = [value["current"], *previous]
    return [key for key in keys if key]


def x_app_credentials() -> tuple[str, str]:
    value = secret(settings().x_app_secret_id)
    return value["consumer_key"], value["consumer_secret"]


def clear_caches() -> None:
    """Forget settings and cached secrets (tests change the environment between cases)."""
    from aws_lambda_powertools.utilities import parameters

    settings.cache_clear()
    parameters.clear_caches()
