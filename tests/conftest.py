"""Shared fixtures. The environment is set before the app is first imported: Chalice's
test client applies config.json only during a call, and our clients are built lazily."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.aws_calls import AwsCallCounter, service_calls
from tests.support.seed import sign_in_accounts

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "STAGE": "test",
        "PUBLIC_URL": "http://127.0.0.1:8000",
        "POWERTOOLS_SERVICE_NAME": "responsetime",
        "POWERTOOLS_METRICS_NAMESPACE": "responsetime",
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)

CONSUMER_KEY = "test-consumer-key"
CONSUMER_SECRET = "test-consumer-secret"
OAUTH2_CLIENT_ID = "test-oauth2-client-id"
OAUTH2_CLIENT_SECRET = "test-oauth2-client-secret"


@pytest.fixture
def x_emulator() -> Iterator[Any]:
    """The X emulator as a real HTTP server on loopback, fresh for each test."""
    from local.x_emulator import XEmulator

    emulator = XEmulator(
        CONSUMER_KEY,
        CONSUMER_SECRET,
        oauth2_client_id=OAUTH2_CLIENT_ID,
        oauth2_client_secret=OAUTH2_CLIENT_SECRET,
    )
    emulator.start("127.0.0.1", 0)
    yield emulator
    emulator.stop()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """moto in-process, with every resource of infra/resources.json created in it."""
    import boto3
    from moto import mock_aws

    from chalicelib import services
    from local.resources import provision

    with mock_aws():
        env = provision(
            boto3.Session(), x_consumer_key=CONSUMER_KEY, x_consumer_secret=CONSUMER_SECRET
        )
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        services.reset()
        yield env
        services.reset()


@pytest.fixture
def app_env(aws: dict[str, str], x_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The app wired to moto and to the emulator; returns the emulator."""
    from chalicelib import services

    monkeypatch.setenv("X_API_BASE_URL", x_emulator.base_url)
    services.reset()
    return x_emulator


@pytest.fixture
def oauth2(app_env: Any, aws: dict[str, str]) -> Any:
    """The X app secret holds an OAuth 2.0 client id and secret too: /auth signs in over
    OAuth 2.0 (X_SIGN_IN unset). Returns the emulator."""
    import boto3

    from chalicelib import services

    boto3.client("secretsmanager").put_secret_value(
        SecretId=aws["X_APP_SECRET_ID"],
        SecretString=json.dumps(
            {
                "consumer_key": CONSUMER_KEY,
                "consumer_secret": CONSUMER_SECRET,
                "oauth2_client_id": OAUTH2_CLIENT_ID,
                "oauth2_client_secret": OAUTH2_CLIENT_SECRET,
            }
        ),
    )
    services.reset()
    return app_env


@pytest.fixture
def configure(app_env: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Change settings for one test: `configure(REPORT_MAX_AGE_SECONDS=0)`."""
    from chalicelib import services

    def apply(**values: object) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, str(value))
        services.reset()

    return apply


@pytest.fixture
def client(app_env: Any) -> Iterator[Any]:
    from chalice.test import Client

    from app import app

    with Client(app, stage_name="local") as test_client:
        yield test_client


@pytest.fixture
def browser(client: Any) -> Any:
    """One person's browser over Chalice's test client (tests/browser.py)."""
    from tests.browser import Browser

    return Browser(client)


@pytest.fixture
def dynamodb_calls(app_env: Any) -> Iterator[AwsCallCounter]:
    """The calls of the app's DynamoDB client during the test, by operation."""
    yield from service_calls("dynamodb")


@pytest.fixture
def sqs_calls(app_env: Any) -> Iterator[AwsCallCounter]:
    """The calls of the app's SQS client during the test, by operation."""
    yield from service_calls("sqs")


@pytest.fixture
def people(client: Any, app_env: Any) -> Callable[..., list[str]]:
    """Sign `count` new accounts in (``<prefix><n>``, numbered on across calls), each with
    three mentions, the first answered; returns their ids (tests/support/seed.py)."""
    made: list[str] = []

    def sign_in(count: int, prefix: str = "brand") -> list[str]:
        usernames = [f"{prefix}{n}" for n in range(len(made), len(made) + count)]
        ids = sign_in_accounts(client, app_env, usernames, mentions=3, answered=1)
        made.extend(ids)
        return ids

    return sign_in


# --- No secret in any log line of the whole run -------------------------------------------
# Every record logged at INFO or above (the production level), by any logger, is kept with
# all its fields; values that must stay secret are gathered by the tests (tests/browser.py's
# LEAKABLE). At the end of the session any secret found in a line fails the run.

LOG_LINES: list[str] = []


class _LogCollector(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            LOG_LINES.append(record.getMessage() + " " + json.dumps(record.__dict__, default=str))
        except Exception:
            LOG_LINES.append(repr(record.__dict__))


_COLLECTOR = _LogCollector(level=logging.INFO)


def pytest_configure(config: pytest.Config) -> None:
    logging.getLogger().addHandler(_COLLECTOR)
    logging.getLogger("responsetime").addHandler(_COLLECTOR)


def leaked_secrets() -> list[str]:
    from tests.browser import LEAKABLE

    text = "\n".join(LOG_LINES)
    return sorted(secret for secret in LEAKABLE if secret and secret in text)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    leaks = leaked_secrets()
    if leaks:
        print(f"\n{len(leaks)} secret value(s) appeared in log lines during the run")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# --- The layers of the suite ---------------------------------------------------------------
# Each test is marked by where it lives, so that no file needs to say it (pyproject.toml
# registers the markers; `make test-fast` runs `-m unit`):
#   unit         tests/unit/ (our fakes, no I/O) and the files of pure code below
#   integration  the rest: moto, the X emulator over HTTP, the local stack in a subprocess
#   e2e          headless Chromium against the local stack
#   deploy       `make package`, the template, and the zip in a bare runtime

TESTS_DIR = Path(__file__).resolve().parent
PURE_FILES = frozenset(
    {
        "test_analytics.py",
        "test_archive_state.py",
        "test_charts.py",
        "test_contrast.py",
        "test_formats.py",
        "test_key_providers.py",
        "test_layers.py",
        "test_report_lists.py",
        "test_report_settings.py",
        "test_report_support.py",
        "test_time_zone.py",
        "test_xlsx.py",
    }
)
E2E_FILES = frozenset(
    {
        "test_e2e_browser.py",
        "test_e2e_browser_oauth2.py",
        "test_a11y.py",
        "test_error_pages_browser.py",
    }
)
DEPLOY_FILES = frozenset({"test_deploy.py"})


def layer_of(path: Path) -> str:
    """The marker of a test file: unit, integration, e2e or deploy."""
    try:
        relative = path.resolve().relative_to(TESTS_DIR)
    except ValueError:
        return "integration"
    if relative.parts[:-1] == ("unit",) or relative.name in PURE_FILES:
        return "unit"
    if relative.name in E2E_FILES:
        return "e2e"
    if relative.name in DEPLOY_FILES:
        return "deploy"
    return "integration"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(layer_of(item.path))
