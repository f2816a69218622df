"""What an operator reads in CloudWatch: one JSON log line per event with the API Gateway
request id as correlation id, and EMF metrics for sign-ins, reports by cache state, posts
read at X, X's 429s and refreshes. Tracing is off unless turned on, and then traces."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import Browser, approve, press
from tests.emf import json_lines, metrics_in, total
from tests.lambda_events import LambdaContext, api_gateway_event

PROJECT_DIR = Path(__file__).resolve().parent.parent
MENTIONS = "GET /2/users/:id/mentions"
TRACE_ID = "1-5759e988-bd862e3fe1be46a994272793"


class CurrentStdout:
    """Writes to whatever sys.stdout is when written to."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture
def stdout(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    """What the function writes to stdout, which Lambda sends to CloudWatch: EMF lines, and
    the Logger's (its handler keeps the stdout of import time, so it follows sys.stdout)."""
    from chalicelib.observability import logger

    handler: Any = logger.registered_handler
    previous, handler.stream = handler.stream, CurrentStdout()
    yield capsys
    handler.stream = previous


def test_a_sign_in_counts_started_and_completed(
    browser: Browser, stdout: pytest.CaptureFixture[str]
) -> None:
    browser.sign_in("fastbrand")

    metrics = metrics_in(stdout.readouterr().out)
    assert total(metrics, "SignInStarted") == 1
    assert total(metrics, "SignInCompleted") == 1
    assert total(metrics, "SignInFailed") == total(metrics, "SignInCancelled") == 0
    started = next(m for m in metrics if m.name == "SignInStarted")
    assert (started.namespace, started.unit) == ("responsetime", "Count")
    assert started.dimensions == {"service": "responsetime"}


def test_a_cancelled_and_a_broken_sign_in_are_counted(
    browser: Browser, stdout: pytest.CaptureFixture[str]
) -> None:
    browser.get(press(browser.start_sign_in(), "fastbrand", "cancel"))
    callback = approve(browser.start_sign_in(), "fastbrand")
    browser.cookies.clear()  # back from X in another browser
    assert browser.get(callback).status_code == 400

    metrics = metrics_in(stdout.readouterr().out)
    assert total(metrics, "SignInStarted") == 2
    assert total(metrics, "SignInCancelled") == 1
    assert total(metrics, "SignInFailed") == 1
    assert total(metrics, "SignInCompleted") == 0


def test_reports_are_counted_by_cache_state_with_the_posts_read(
    browser: Browser, app_env: Any, configure: Any, stdout: pytest.CaptureFixture[str]
) -> None:
    browser.sign_in("fastbrand")
    app_env.reset_counters()
    stdout.readouterr()

    browser.get("/report")  # the first: read from X
    browser.get("/report.json")  # within the max age: the stored one
    browser.get("/report.json?days=7")  # other settings: made again from the archive

    metrics = metrics_in(stdout.readouterr().out)
    assert total(metrics, "ReportsServed", cache_state="refreshed") == 1
    assert total(metrics, "ReportsServed", cache_state="hit") == 1
    assert total(metrics, "ReportsServed", cache_state="rebuilt") == 1
    assert total(metrics, "XPostsRead") == sum(app_env.posts_served.values()) > 0
    # ... and what X bills for them, at $0.005 a post and $0.010 a user looked up
    x_cost = 0.005 * total(metrics, "XPostsRead") + 0.010 * app_env.users_served
    assert app_env.users_served > 0
    assert total(metrics, "XCostUSD") == pytest.approx(x_cost)
    served = next(m for m in metrics if m.name == "ReportsServed")
    assert served.dimensions == {"service": "responsetime", "cache_state": "refreshed"}

    # WHEN X answers 429 to the next refresh
    configure(REPORT_MAX_AGE_SECONDS=0)
    app_env.fail(MENTIONS, "429", count=1)
    assert browser.get("/report.json").json_body["source"]["stale"] is True

    # THEN the operator sees the 429 and a stale report served
    metrics = metrics_in(stdout.readouterr().out)
    assert total(metrics, "XRateLimited") == 1
    assert total(metrics, "ReportsServed", cache_state="stale") == 1


def test_a_scheduled_refresh_is_counted(
    browser: Browser, client: Any, aws: dict[str, str], stdout: pytest.CaptureFixture[str]
) -> None:
    import boto3

    from local.stack import SqsEventSource

    browser.sign_in("fastbrand")
    stdout.readouterr()
    event = client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
    )
    client.lambda_.invoke("schedule_refresh", event)
    SqsEventSource(
        boto3.client("sqs"),
        aws["REFRESH_QUEUE_URL"],
        lambda batch: client.lambda_.invoke("refresh_worker", batch).payload,
    ).drain()

    metrics = metrics_in(stdout.readouterr().out)
    assert total(metrics, "RefreshSucceeded") == 1
    assert total(metrics, "RefreshFailed") == 0
    assert total(metrics, "XPostsRead") > 0


def test_each_log_line_is_json_once_with_the_request_id_as_correlation_id(
    app_env: Any, stdout: pytest.CaptureFixture[str]
) -> None:
    from app import app

    answer = app(
        api_gateway_event("GET", "/auth", "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"), LambdaContext()
    )

    assert answer["statusCode"] == 302
    printed = stdout.readouterr().out
    lines = json_lines(printed)
    assert len(lines) == len([line for line in printed.splitlines() if line.strip()])
    [started] = [line for line in lines if line.get("message") == "sign-in started"]
    assert started["correlation_id"] == "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    assert started["function_request_id"] == LambdaContext.aws_request_id
    assert started["level"] == "INFO" and started["service"] == "responsetime"


def _traced_request(env: dict[str, str], timeout: float = 60) -> tuple[str, list[dict[str, Any]]]:
    """GET /static/app.css in a process of its own, with X-Ray's daemon address pointed at
    a UDP socket here; returns what it printed and the segment documents that arrived."""
    daemon = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    daemon.bind(("127.0.0.1", 0))
    daemon.settimeout(0.5)
    script = (
        "import json, sys\n"
        "from tests.lambda_events import api_gateway_event, LambdaContext\n"
        "from app import app\n"
        "answer = app(api_gateway_event('GET', '/static/app.css', 'req-1'), LambdaContext())\n"
        "print('STATUS', answer['statusCode'])\n"
        "print('XRAY', 'aws_xray_sdk' in sys.modules)\n"
    )
    process_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_XRAY", "_X_AMZN"))},
        "LAMBDA_TASK_ROOT": str(PROJECT_DIR),
        "AWS_LAMBDA_FUNCTION_NAME": "responsetime-api",
        "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon.getsockname()[1]}",
        "_X_AMZN_TRACE_ID": f"Root={TRACE_ID};Parent=53995c3f42cd8ad8;Sampled=1",
        **env,
    }
    try:
        done = subprocess.run(
            [sys.executable, "-c", script],
            cwd=PROJECT_DIR,
            env=process_env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        segments = []
        while True:
            try:
                datagram = daemon.recv(65536).decode()
            except TimeoutError:
                break
            segments.append(json.loads(datagram.split("\n", 1)[1]))
    finally:
        daemon.close()
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout, segments


def test_tracing_is_off_by_default_and_imports_no_x_ray_sdk() -> None:
    config = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
    assert config["environment_variables"]["POWERTOOLS_TRACE_DISABLED"] == "true"

    printed, segments = _traced_request({"POWERTOOLS_TRACE_DISABLED": "true"})

    assert "STATUS 200" in printed
    assert "XRAY False" in printed  # not even imported: no cold-start cost
    assert segments == []


def test_tracing_turned_on_sends_the_handler_s_subsegment_to_x_ray() -> None:
    printed, segments = _traced_request({"POWERTOOLS_TRACE_DISABLED": "false"})

    assert "STATUS 200" in printed
    [handler] = [s for s in segments if s.get("name", "").startswith("## ")]
    assert handler["annotations"]["ColdStart"] is True
    assert handler["annotations"]["Service"] == "responsetime"
    assert handler["trace_id"] == TRACE_ID
