"""Routes only. Each reads the request, makes one call into chalicelib, and returns."""

from __future__ import annotations

from typing import Any

from chalice import Chalice, ConvertToMiddleware, Rate, Response
from chalice.app import Request

from chalicelib import web
from chalicelib.config import (
    COMPLIANCE_BATCH_SIZE,
    COMPLIANCE_QUEUE_NAME,
    COMPLIANCE_WORKER_CONCURRENCY,
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
# Inside those: every answer is ours (Chalice's own 405, 415 and 500 become our pages), and
# HEAD answers as GET does, without the body.
app.register_middleware(web.own_answers, "http")
# The workbook and the data export are binary: API Gateway passes them through as they are.
# (Chalice's defaults hold the zip type already: named here so that /export does not rest on
# them, and added once, since the list becomes the API's binary media types.)
for _binary in (web.XLSX_TYPE, web.ZIP_TYPE):
    if _binary not in app.api.binary_types:
        app.api.binary_types.append(_binary)

# A page's methods: HEAD is GET without the body, for monitors, link checkers and `curl -I`
# (API Gateway does not answer it for GET by itself).
PAGE = ["GET", "HEAD"]
# A form's address takes any body, or none (`fetch("/logout", {method: "POST"})`, `curl -X
# POST`): Chalice would refuse anything but a form with 415. The Origin check still applies.
ANY_BODY = ["*/*"]


def current() -> Request:
    """The request being handled: Chalice sets it before any route runs."""
    request = app.current_request
    assert request is not None
    return request


@app.route("/", methods=PAGE)
def home() -> Response:
    return web.home(current())


@app.route("/auth", methods=PAGE)
def auth() -> Response:
    return web.auth(current())


@app.route("/callback", methods=PAGE)
def callback() -> Response:
    return web.callback(current())


@app.route("/logout", methods=["POST"], content_types=ANY_BODY)
def logout() -> Response:
    return web.logout(current())


@app.route("/forget", methods=["POST"], content_types=["application/x-www-form-urlencoded"])
def forget() -> Response:
    return web.forget(current())


@app.route("/settings", methods=["POST"], content_types=["application/x-www-form-urlencoded"])
def save_settings() -> Response:
    return web.save_settings(current())


@app.route("/report", methods=PAGE)
def report() -> Response:
    return web.report(current(), "html")


@app.route("/report.json", methods=PAGE)
def report_json() -> Response:
    return web.report(current(), "json")


@app.route("/report.csv", methods=PAGE)
def report_csv() -> Response:
    return web.report(current(), "csv")


@app.route("/report.xlsx", methods=PAGE)
def report_xlsx() -> Response:
    return web.report(current(), "xlsx")


@app.route("/report/waiting", methods=PAGE)
def report_waiting() -> Response:
    return web.report(current(), "waiting")


@app.route("/report/slowest", methods=PAGE)
def report_slowest() -> Response:
    return web.report(current(), "slowest")


@app.route("/export", methods=PAGE)
def export_data() -> Response:
    return web.export_data(current())


@app.route("/history", methods=PAGE)
def history() -> Response:
    return web.history_page(current())


@app.route("/history", methods=["POST"], content_types=["application/x-www-form-urlencoded"])
def read_history() -> Response:
    return web.read_history(current())


@app.route("/refresh", methods=["POST"], content_types=ANY_BODY)
def refresh_now() -> Response:
    return web.refresh_now(current())


@app.route("/static/app.css", methods=PAGE)
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


@app.schedule(
    Rate(1, unit=Rate.DAYS),
    name="compliance_round",
    description="Ask X's batch compliance about every archived post and handle",
)
def compliance_round(event: Any) -> dict[str, Any]:
    return web.compliance_round(event)


@app.on_sqs_message(
    queue=COMPLIANCE_QUEUE_NAME,
    batch_size=COMPLIANCE_BATCH_SIZE,
    maximum_concurrency=COMPLIANCE_WORKER_CONCURRENCY,
    name="compliance_worker",
)
def compliance_worker(event: Any) -> dict[str, Any]:
    return web.compliance_batch(event)


@app.on_sqs_message(
    queue=REFRESH_QUEUE_NAME,
    batch_size=REFRESH_BATCH_SIZE,
    maximum_concurrency=REFRESH_WORKER_CONCURRENCY,
    name="refresh_worker",
)
def refresh_worker(event: Any) -> dict[str, Any]:
    return web.refresh_batch(event)


# Last, after every route: each other method on their paths reaches the function as well, for
# our 405 page with Allow. API Gateway would answer them itself (403 "Missing Authentication
# Token", none of our headers); paths no route has get infra/resources.json's 404 page.
SERVED = web.served_methods(app.routes)


def method_not_allowed() -> Response:
    return web.method_not_allowed(current(), SERVED)


for _path, _methods in web.unserved_methods(SERVED).items():
    app.route(_path, methods=_methods, content_types=ANY_BODY)(method_not_allowed)
