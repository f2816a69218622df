"""Routes only. Each reads the request, makes one call into chalicelib, and returns."""

from __future__ import annotations

from chalice import Chalice, ConvertToMiddleware, Response

from chalicelib import web
from chalicelib.observability import logger

app = Chalice(app_name="responsetime", configure_logs=False)
app.register_middleware(ConvertToMiddleware(logger.inject_lambda_context(clear_state=True)))


@app.route("/", methods=["GET"])
def home() -> Response:
    return web.home(app.current_request)


@app.route("/auth", methods=["GET"])
def auth() -> Response:
    return web.auth(app.current_request)


@app.route("/callback", methods=["GET"])
def callback() -> Response:
    return web.callback(app.current_request)


@app.route("/logout", methods=["POST"], content_types=["application/x-www-form-urlencoded"])
def logout() -> Response:
    return web.logout(app.current_request)


@app.route("/forget", methods=["POST"], content_types=["application/x-www-form-urlencoded"])
def forget() -> Response:
    return web.forget(app.current_request)


@app.route("/report", methods=["GET"])
def report() -> Response:
    return web.report(app.current_request, "html")


@app.route("/report.json", methods=["GET"])
def report_json() -> Response:
    return web.report(app.current_request, "json")


@app.route("/report.csv", methods=["GET"])
def report_csv() -> Response:
    return web.report(app.current_request, "csv")


@app.route("/static/app.css", methods=["GET"])
def stylesheet() -> Response:
    return web.stylesheet()
