"""Shared fixtures. The environment is set before the app is first imported: Chalice's
test client applies config.json only during a call, and our clients are built lazily."""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

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


@pytest.fixture
def x_emulator() -> Iterator[Any]:
    """The X emulator as a real HTTP server on loopback, fresh for each test."""
    from local.x_emulator import XEmulator

    emulator = XEmulator(CONSUMER_KEY, CONSUMER_SECRET)
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


class AwsCallCounter:
    """Counts the API calls a boto3 client makes, through botocore's event hooks."""

    def __init__(self, boto_client: Any) -> None:
        self.calls: Counter[str] = Counter()
        self._events = boto_client.meta.events
        self._events.register("before-call.*.*", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

    def reset(self) -> None:
        self.calls.clear()

    def close(self) -> None:
        self._events.unregister("before-call.*.*", self._count)


@pytest.fixture
def dynamodb_calls(app_env: Any) -> Iterator[AwsCallCounter]:
    from chalicelib import services

    counter = AwsCallCounter(services.dynamodb())
    yield counter
    counter.close()


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
