"""Settings from the environment, and the app's secrets through Powertools Parameters.

Read lazily and cached: nothing here runs at import, so a cold start pays only for what
a request uses, and tests can set the environment before the first call.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import boto3
from aws_lambda_powertools.utilities import parameters
from botocore.config import Config

from chalicelib.errors import AwsTimeouts, StoreUnavailable, guard_client
from chalicelib.x_bill import Prices

DEFAULT_X_API_BASE_URL = "https://api.x.com"
# X's OAuth 2.0 consent page is on x.com, not on the API's host.
DEFAULT_X_OAUTH2_AUTHORIZE_URL = "https://x.com/i/oauth2/authorize"
# The two flavours of sign-in (X_SIGN_IN), and what an account item says it signed in with.
OAUTH1, OAUTH2 = "oauth1", "oauth2"

# How often EventBridge starts a refresh round. A constant, not an environment variable:
# `chalice package` reads it from the decorator in app.py when it writes the template.
REFRESH_RATE_MINUTES = 60
# The queue's name as the decorator knows it; infra/resources.json replaces it with the
# ARN of the queue CloudFormation creates, so stages never share a queue.
REFRESH_QUEUE_NAME = "responsetime-refresh"
REFRESH_BATCH_SIZE = 10  # one SendMessageBatch, one worker invocation
# Workers at once. X limits each account's token, not the fleet, so this sets the pace:
# a worker refreshes about an account a second, and a round must be read before the next
# (README, "Sizing": 5 suits 10,000 accounts, 100,000 need 40).
REFRESH_WORKER_CONCURRENCY = 5
# The compliance queue (compliance.py), replaced by its ARN in infra/resources.json as the
# refresh queue is. One message at a time: a collect reads archives for up to two minutes.
COMPLIANCE_QUEUE_NAME = "responsetime-compliance"
COMPLIANCE_BATCH_SIZE = 1
COMPLIANCE_WORKER_CONCURRENCY = 2  # SQS's least; X runs one job per type, one chain each
X_WINDOW_SECONDS = 15 * 60
DEFAULT_AWS_DEADLINE_SECONDS = 10.0
DAY_SECONDS = 24 * 3600


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
    refresh_queue_url: str = ""
    # SendMessageBatch calls a round keeps in flight: 100,000 accounts are 10,000 calls.
    refresh_send_concurrency: int = 8
    # Each account token's reads per window (X's per-user limits, user context): mentions
    # (GET /2/users/:id/mentions) and own posts (GET /2/users/:id/tweets), and the users
    # lookup of the authors a report shows (GET /2/users).
    x_user_budget_mentions: int = 300
    x_user_budget_tweets: int = 900
    x_user_budget_users: int = 900
    # The app's, for app-only (bearer) requests, per window: full-archive search (and one a
    # second), its counts, batch compliance jobs, users lookup.
    x_app_budget_search: int = 300
    x_app_budget_counts: int = 300
    x_app_budget_compliance_jobs: int = 150
    x_app_budget_users: int = 300
    # Sign-ins started (POST oauth/request_token) per window, fleet-wide: /auth is anonymous,
    # so this keeps a flood of it from spending the app's request-token limit at X (and
    # writing a pending login per request) at everyone's expense.
    x_budget_request_tokens: int = 150
    # A forget deletes again this long after (refresh_queue, at most SQS's 900 s): longer
    # than a refresh worker can run (its Lambda timeout, 300 s), so no writer that read the
    # account before the forget is still writing then.
    purge_delay_seconds: int = 900
    # How long one page view may spend reading X (a first report of a heavy account takes
    # 40 requests); what is left is read by a refresh worker, within its own budget, which
    # fits its Lambda timeout (300 s) with the AWS deadline to spare.
    view_x_budget_seconds: float = 12.0
    worker_x_budget_seconds: float = 240.0
    x_budget_window_seconds: int = X_WINDOW_SECONDS
    x_budget_margin_seconds: int = 10
    # The most a request spends waiting on AWS, all its calls together (errors.AwsBudget);
    # every client's timeouts follow from it (errors.AwsTimeouts.for_deadline).
    aws_deadline_seconds: float = DEFAULT_AWS_DEADLINE_SECONDS
    # Retention (sweep.Retention, daily): an account not viewed for this many days leaves the
    # refresh index (no round refreshes it; its next view does, on the spot), and one not
    # viewed for `account_retention_days` is forgotten as POST /forget does. An account is
    # forgotten only once it is idle, so the later of the two applies.
    refresh_idle_days: int = 30
    account_retention_days: int = 400
    # New mentions are read from the newest archived one's created_at minus this, so a post
    # X indexed late is still found (X bills a post once per UTC day: free on the day).
    x_overlap_seconds: int = 900
    # What X bills (x_bill.Prices): per post read, per owned read (the accounts listed in
    # X_OWNED_ACCOUNT_IDS), per user read, per counts request. Dollars, as text: Decimal.
    x_prices: Prices = field(default_factory=Prices)
    # The fleet's X reads pause (x_pause) at X's 402, probed every this many seconds, and
    # at this many posts read in a UTC month (X's own cap; 0: no cap of ours).
    x_pause_probe_seconds: int = 900
    x_monthly_post_cap: int = 3_000_000
    # Batch compliance (compliance.py, daily): ids per job (X's most), how long before a job
    # is read again, and how many reads before it counts as failed (12 hours).
    compliance_queue_url: str = ""
    x_compliance_job_ids: int = 100_000
    compliance_poll_seconds: int = 300
    compliance_max_polls: int = 144
    # OAUTH1 or OAUTH2 when the X app secret holds the credentials of both; "": OAuth 2.0
    # when it holds a client id and secret, else OAuth 1.0a (sign_in_flavour).
    x_sign_in: str = ""
    x_oauth2_authorize_url: str = DEFAULT_X_OAUTH2_AUTHORIZE_URL
    # An OAuth 2.0 access token this close to its expiry is refreshed before it is used.
    x_oauth2_refresh_margin_seconds: int = 300

    @property
    def refresh_idle_seconds(self) -> int:
        return self.refresh_idle_days * DAY_SECONDS

    @property
    def account_retention_seconds(self) -> int:
        return self.account_retention_days * DAY_SECONDS

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

    @property
    def base_path(self) -> str:
        """The public URL's path: "/api" at API Gateway's own URL (its stage), "" at the
        root of a domain. Every link and redirect starts with it."""
        return urlsplit(self.public_url).path.rstrip("/")


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def _prices() -> Prices:
    default = Prices()

    def price(name: str, fallback: Decimal) -> Decimal:
        try:
            value = Decimal(os.environ.get(name) or fallback)
        except ArithmeticError as error:
            raise ValueError(f"{name} is not a price in dollars, e.g. 0.005") from error
        if not value.is_finite() or value < 0:
            raise ValueError(f"{name} is not a price in dollars, e.g. 0.005")
        return value

    owned = os.environ.get("X_OWNED_ACCOUNT_IDS") or ""
    return Prices(
        post_read=price("X_PRICE_POST_READ", default.post_read),
        owned_read=price("X_PRICE_OWNED_READ", default.owned_read),
        user_read=price("X_PRICE_USER_READ", default.user_read),
        counts_request=price("X_PRICE_COUNTS_REQUEST", default.counts_request),
        owned_accounts=frozenset(part.strip() for part in owned.split(",") if part.strip()),
    )


def _public_url(port: str) -> str:
    """PUBLIC_URL when set (a custom domain, the local stack). Otherwise, deployed, the API's
    own https URL, which CloudFormation writes to the SSM parameter PUBLIC_URL_PARAMETER
    names: the API refers to the function, so the function's environment cannot refer to
    the API. It never changes for a stack, so it is read once per container (settings() is
    cached; a failed read is not, and raises StoreUnavailable: observability's log_context
    reads the settings before any route runs and answers that with our 503)."""
    url = os.environ.get("PUBLIC_URL")
    parameter = os.environ.get("PUBLIC_URL_PARAMETER")
    if not url and parameter:
        url = str(_parameter("SSM GetParameter", lambda: _ssm().get(parameter)))
    return (url or f"http://127.0.0.1:{port}").rstrip("/")


@functools.cache
def aws_deadline_seconds() -> float:
    """AWS_DEADLINE_SECONDS: read apart from settings(), which itself may call SSM under the
    deadline."""
    deadline = float(os.environ.get("AWS_DEADLINE_SECONDS") or DEFAULT_AWS_DEADLINE_SECONDS)
    if not deadline > 0:
        raise ValueError("AWS_DEADLINE_SECONDS must be a positive number of seconds")
    return deadline


def aws_timeouts() -> AwsTimeouts:
    return AwsTimeouts.for_deadline(aws_deadline_seconds())


def _sign_in() -> str:
    chosen = (os.environ.get("X_SIGN_IN") or "").strip().lower()
    if chosen not in ("", OAUTH1, OAUTH2):
        raise ValueError(f"X_SIGN_IN must be {OAUTH1} or {OAUTH2}")
    return chosen


def _authorize_url(x_api_base_url: str) -> str:
    """X_OAUTH2_AUTHORIZE_URL; else x.com's for X's own API, and the other X's own path
    (the emulator's) for any other base URL."""
    named = os.environ.get("X_OAUTH2_AUTHORIZE_URL")
    if named:
        return named
    if x_api_base_url == DEFAULT_X_API_BASE_URL:
        return DEFAULT_X_OAUTH2_AUTHORIZE_URL
    return f"{x_api_base_url}/i/oauth2/authorize"


@functools.cache
def settings() -> Settings:
    port = os.environ.get("PORT") or "8000"
    x_api_base_url = (os.environ.get("X_API_BASE_URL") or DEFAULT_X_API_BASE_URL).rstrip("/")
    return Settings(
        stage=os.environ.get("STAGE", "local"),
        public_url=_public_url(port),
        x_api_base_url=x_api_base_url,
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
        refresh_queue_url=os.environ.get("REFRESH_QUEUE_URL", ""),
        refresh_send_concurrency=max(1, _int("REFRESH_SEND_CONCURRENCY", 8)),
        x_user_budget_mentions=_int("X_USER_BUDGET_MENTIONS", 300),
        x_user_budget_tweets=_int("X_USER_BUDGET_TWEETS", 900),
        x_user_budget_users=_int("X_USER_BUDGET_USERS", 900),
        x_app_budget_search=_int("X_APP_BUDGET_SEARCH", 300),
        x_app_budget_counts=_int("X_APP_BUDGET_COUNTS", 300),
        x_app_budget_compliance_jobs=_int("X_APP_BUDGET_COMPLIANCE_JOBS", 150),
        x_app_budget_users=_int("X_APP_BUDGET_USERS", 300),
        x_budget_request_tokens=_int("X_BUDGET_REQUEST_TOKENS", 150),
        purge_delay_seconds=_int("PURGE_DELAY_SECONDS", 900),
        view_x_budget_seconds=float(os.environ.get("VIEW_X_BUDGET_SECONDS") or 12),
        worker_x_budget_seconds=float(os.environ.get("WORKER_X_BUDGET_SECONDS") or 240),
        x_budget_window_seconds=_int("X_BUDGET_WINDOW_SECONDS", X_WINDOW_SECONDS),
        x_budget_margin_seconds=_int("X_BUDGET_MARGIN_SECONDS", 10),
        aws_deadline_seconds=aws_deadline_seconds(),
        refresh_idle_days=_int("REFRESH_IDLE_DAYS", 30),
        account_retention_days=_int("ACCOUNT_RETENTION_DAYS", 400),
        x_overlap_seconds=_int("X_OVERLAP_SECONDS", 900),
        x_prices=_prices(),
        x_pause_probe_seconds=_int("X_PAUSE_PROBE_SECONDS", 900),
        x_monthly_post_cap=_int("X_MONTHLY_POST_CAP", 3_000_000),
        compliance_queue_url=os.environ.get("COMPLIANCE_QUEUE_URL", ""),
        x_compliance_job_ids=_int("X_COMPLIANCE_JOB_IDS", 100_000),
        compliance_poll_seconds=_int("COMPLIANCE_POLL_SECONDS", 300),
        compliance_max_polls=_int("COMPLIANCE_MAX_POLLS", 144),
        x_sign_in=_sign_in(),
        x_oauth2_authorize_url=_authorize_url(x_api_base_url),
        x_oauth2_refresh_margin_seconds=_int("X_OAUTH2_REFRESH_MARGIN_SECONDS", 300),
    )


def aws_client(service: str) -> Any:
    """A boto3 client of the default session, the one every client of the app shares, with
    timeouts and retries that fit AWS_DEADLINE_SECONDS (boto3's own, 60 s to connect, 60 s
    to read and three or four attempts, held a page past 90 s when AWS hung), and each call
    under the invocation's AWS budget (errors.guard_client)."""
    timeouts = aws_timeouts()
    config = Config(
        connect_timeout=timeouts.connect,
        read_timeout=timeouts.read,
        retries={"mode": "standard", "total_max_attempts": timeouts.attempts},
    )
    return guard_client(boto3.client(service, config=config))


@functools.cache
def _secrets() -> parameters.SecretsProvider:
    """Powertools' provider over a client of boto3's default session, the one every other
    client of the app uses: Powertools' own default makes a session of its own, and loading
    botocore's data for a second session costs a cold start about 50 ms."""
    return parameters.SecretsProvider(boto3_client=aws_client("secretsmanager"))


@functools.cache
def _ssm() -> parameters.SSMProvider:
    return parameters.SSMProvider(boto3_client=aws_client("ssm"))


def _parameter(call: str, read: Callable[[], Any]) -> Any:
    """What a Powertools provider read (or had cached), or StoreUnavailable.

    Powertools wraps whatever boto3 raised (or a value that is not JSON) in its own error;
    it becomes our store error, so every route answers our 503 page, never a bare 500. When
    the client's budget hooks refused the call (errors.AwsBudget), their words are kept."""
    try:
        return read()
    except (
        parameters.exceptions.GetParameterError,
        parameters.exceptions.TransformParameterError,
    ) as error:
        refused = error.__context__
        if isinstance(refused, StoreUnavailable):
            raise StoreUnavailable(str(refused)) from error
        raise StoreUnavailable(f"{call} failed: {type(error).__name__}") from error


def secret(secret_id: str) -> dict[str, Any]:
    """A JSON secret from Secrets Manager, cached by Powertools for `secrets_max_age_seconds`."""
    max_age = settings().secrets_max_age_seconds
    value = _parameter(
        "Secrets Manager GetSecretValue",
        lambda: _secrets().get(secret_id, transform="json", max_age=max_age),
    )
    if not isinstance(value, dict):
        raise ValueError(f"secret {secret_id} is not a JSON object")
    return value


def rotating_keys(secret_id: str) -> list[str]:
    """The key that signs or encrypts, `current`, then every key that only verifies or
    decrypts: `next` and `previous` (each a string or a list).

    Containers reread the secret only every `secrets_max_age_seconds`, so a rotation takes
    two writes, that far apart: {"current": OLD, "next": NEW} (every container learns to
    accept NEW), then {"current": NEW, "previous": OLD} (NEW signs; OLD still verifies and
    decrypts what is out there). No container ever meets a key it does not accept.
    """
    value = secret(secret_id)
    keys = [value["current"]]
    for name in ("next", "previous"):
        more = value.get(name) or []
        keys.extend([more] if isinstance(more, str) else more)
    return [key for key in keys if key]


def x_app_credentials() -> tuple[str, str]:
    value = secret(settings().x_app_secret_id)
    return value["consumer_key"], value["consumer_secret"]


def x_oauth2_credentials() -> tuple[str, str] | None:
    """The X app's OAuth 2.0 client id and secret (`oauth2_client_id`, `oauth2_client_secret`
    in the X app secret, beside the consumer key and secret), or None when it has none."""
    value = secret(settings().x_app_secret_id)
    client_id, client_secret = value.get("oauth2_client_id"), value.get("oauth2_client_secret")
    if (
        isinstance(client_id, str)
        and isinstance(client_secret, str)
        and client_id
        and client_secret
    ):
        return client_id, client_secret
    return None


def x_oauth2_client() -> tuple[str, str]:
    """The OAuth 2.0 client id and secret, for an account that signed in with them."""
    credentials = x_oauth2_credentials()
    if credentials is None:
        raise ValueError("the X app secret holds no oauth2_client_id and oauth2_client_secret")
    return credentials


def sign_in_flavour() -> str:
    """The sign-in /auth starts: OAuth 2.0 when the X app secret holds a client id and
    secret, else OAuth 1.0a; X_SIGN_IN picks one when it holds both. The secret is read
    through its cache, so adding the client to it switches the flavour without a deploy."""
    chosen = settings().x_sign_in
    if chosen == OAUTH1:
        return OAUTH1
    has_oauth2 = x_oauth2_credentials() is not None
    if chosen == OAUTH2 and not has_oauth2:
        raise ValueError("X_SIGN_IN=oauth2, but the X app secret holds no OAuth 2.0 client")
    return OAUTH2 if has_oauth2 else OAUTH1


def clear_caches() -> None:
    """Forget settings and cached secrets (tests change the environment between cases)."""
    settings.cache_clear()
    aws_deadline_seconds.cache_clear()
    for provider in (_secrets, _ssm):
        if provider.cache_info().currsize:
            provider().clear_cache()
        provider.cache_clear()
    parameters.clear_caches()
