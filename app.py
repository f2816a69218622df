"""Routes only. Each reads the request, makes one call into chalicelib, and returns."""

from __future__ import annotations

from typing import Any

from chalice import Chalice, ConvertToMiddleware, Rate, Response
from chalice.app import Request

from chalicelib import web
from chalicelib.config import (
    REFRESH_BATCH_SIZE,
    REFRESH_QUEUE_NAME,
    REFRESH_RATE_MINUTES,
    REFRESH_WORKER_CONCURRENCY,
)
from chalicelib.observability import capture_lambda_handler, log_context, log_metrics

app = Chalice(app_name="responsetime", configure_logs=False)
# Powertools, once for every function: JSON logs with the request id as correlation id,
# EMF metrics flushed after each invocation, and X-Ray traces when tracing is turned on.
app.register_middleware(ConvertToMiddleware(log_context))
app.register_middleware(ConvertToMiddleware(log_metrics))
app.register_middleware(ConvertToMiddleware(capture_lambda_handler))


def current() -> Request:
    """The request being handled: Chalice sets it before any route runs."""
    request = app.current_request
    assert request is not None
    return request


@app.route("/", methods=["GET"])
def home() -> Response:
    return web.home(current())


@app.route("/auth", methods=["GET"])
def auth() -> Response:
    return web.auth(current())


@app.route("/callback", methods=["GET"])
def callback() -> Response:
    return web.callback(current())


@app.route("/logout", methods=["POST"], content_types=["application/x-www-form-urlencoded"])
def logout() -> Response:
    return web.logout(current())


@app.route("/forget", methods=["POST"], content_types=["application/x-www-form-urlencoded"])
def forget() -> Response:
    return web.forget(current())


@app.route("/settings", methods=["POST"], content_types=["application/x-www-form-urlencoded"])
def save_settings() -> Response:
    return web.save_settings(current())


@app.route("/report", methods=["GET"])
def report() -> Response:
    return web.report(current(), "html")


@app.route("/report.json", methods=["GET"])
def report_json() -> Response:
    return web.report(current(), "json")


@app.route("/report.csv", methods=["GET"])
def report_csv() -> Response:
    return web.report(current(), "csv")


@app.route("/static/app.css", methods=["GET"])
def stylesheet() -> Response:
    return web.stylesheet()


@app.schedule(
    Rate(REFRESH_RATE_MINUTES, unit=Rate.MINUTES),
    name="schedule_refresh",
    description="Queue a refresh for every account whose report is older than the max age",
)
def schedule_refresh(event: Any) -> dict[str, Any]:
    return web.schedule_round(event)


@app.schedule(
    Rate(1, unit=Rate.DAYS),
    name="sweep_archive",
    description="Delete every archive folder whose account is gone (the net under forget)",
)
def sweep_archive(event: Any) -> dict[str, Any]:
    return web.sweep_archive(event)


@app.on_sqs_message(
    queue=REFRESH_QUEUE_NAME,
    batch_size=REFRESH_BATCH_SIZE,
    maximum_concurrency=REFRESH_WORKER_CONCURRENCY,
    name="refresh_worker",
)
def refresh_worker(event: Any) -> dict[str, Any]:
    return web.refresh_batch(event)
