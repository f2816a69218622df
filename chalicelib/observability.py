"""Powertools Logger, Metrics and Tracer, each wired once: app.py registers them as Chalice
middleware. Log lines carry ids and outcomes, never a token, secret, verifier or cookie
value. Metrics go to CloudWatch as EMF lines on stdout, flushed after every invocation.

The first middleware, `log_context`, is also where an invocation starts: it opens the
invocation's AWS budget (errors.aws_budget) and, for a request, reads the settings before
any route runs.
"""

from __future__ import annotations

import functools
import logging
import os
import warnings
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.shared.functions import strtobool
from chalice import Response

from chalicelib import config, pages
from chalicelib.errors import StoreUnavailable, aws_budget

SERVICE = "responsetime"
NAMESPACE = "responsetime"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

# Metric names, as they appear in CloudWatch under the `responsetime` namespace.
SIGN_IN_STARTED = "SignInStarted"
SIGN_IN_COMPLETED = "SignInCompleted"
SIGN_IN_CANCELLED = "SignInCancelled"
SIGN_IN_FAILED = "SignInFailed"
REPORTS_SERVED = "ReportsServed"  # with dimension cache_state: hit, refreshed, rebuilt, stale
X_POSTS_READ = "XPostsRead"
X_COST_USD = "XCostUSD"  # what X bills for the posts read, at the configured prices
X_RATE_LIMITED = "XRateLimited"  # X answered 429
REFRESH_SUCCEEDED = "RefreshSucceeded"
REFRESH_FAILED = "RefreshFailed"
COMPLIANCE_POSTS_REMOVED = "CompliancePostsRemoved"  # X's batch compliance said: must go
COMPLIANCE_JOBS_FAILED = "ComplianceJobsFailed"  # a job X failed or never finished

# These libraries log request headers, token responses and signed URLs at DEBUG. Whatever
# LOG_LEVEL an operator sets, they stay quiet, so no secret reaches the logs through them.
for _name in ("requests_oauthlib", "oauthlib", "tweepy", "urllib3", "botocore", "boto3"):
    logging.getLogger(_name).setLevel(logging.WARNING)

# Most requests (the home page, the stylesheet) count nothing; Powertools warns on each.
warnings.filterwarnings("ignore", message="No application metrics to publish")

# Middleware, in the order app.py registers them (the first wraps the others).
_inject_log_context = logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True
)
log_metrics = metrics.log_metrics(capture_cold_start_metric=True)


def log_context(handler: Callable[..., Any]) -> Callable[..., Any]:
    """Powertools' log context (the request id as correlation id, a fresh state) around
    `handler`, in a fresh AWS budget: AWS_DEADLINE_SECONDS for a request. An event function
    (the schedule, the worker) has no deadline of its own: a round may well spend more
    time in AWS than a page view, and Lambda's timeout bounds it; its calls keep their
    timeouts, and a service that did not answer is not asked again in the invocation."""
    logged = _inject_log_context(_settled(handler))

    @functools.wraps(handler)
    def invocation(event: Any, context: Any) -> Any:
        deadline = config.aws_deadline_seconds() if _is_request(event) else None
        with aws_budget(deadline, config.aws_timeouts()):
            return logged(event, context)

    return invocation


def _is_request(event: Any) -> bool:
    return isinstance(event, dict) and "httpMethod" in (event.get("requestContext") or {})


def _settled(handler: Callable[..., Any]) -> Callable[..., Any]:
    """For a request, the settings first: deployed, they read the public URL from SSM, and
    every page (our 503 page too) needs it, so a failed read is answered here, where no
    page depends on it."""

    @functools.wraps(handler)
    def settled(event: Any, context: Any) -> Any:
        if _is_request(event):
            try:
                config.settings()
            except StoreUnavailable as error:
                return _store_unavailable(event, error)
        return handler(event, context)

    return settled


# The words of web.ERROR_PAGES[StoreUnavailable] (web is a layer above this module; a test
# holds the two equal).
STORE_UNAVAILABLE_ANSWER = (
    503,
    "Something on our side failed",
    "Our storage did not answer. Please try again in a moment.",
)


def _store_unavailable(event: dict[str, Any], error: StoreUnavailable) -> Response:
    """Our 503, as web.failure words it, without the settings: links under the API stage's
    path (the public URL the parameter holds is the API's own, https://<api>/<stage>), and
    no HSTS header (the scheme is not known; what earlier pages set stays in force)."""
    status, title, message = STORE_UNAVAILABLE_ANSWER
    logger.warning("request failed", extra={"error": type(error).__name__, "status": status})
    request = event.get("requestContext") or {}
    if str(request.get("resourcePath", "")).endswith(".json"):
        headers = {"Content-Type": "application/json", **pages.security_headers(hsts=False)}
        return Response(body={"error": title}, status_code=status, headers=headers)
    stage = request.get("stage")
    base_path = f"/{stage}" if stage else ""
    return pages.render(
        "message.html",
        status,
        hsts=False,
        base_path=base_path,
        title=title,
        message=message,
        retry=True,
    )


def count(name: str, value: float = 1) -> None:
    """Add to a metric of this invocation; it is flushed when the invocation ends."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def report_served(cache_state: str) -> None:
    """One report answered, by where it came from. Its own EMF line: a dimension of the
    invocation's metrics would tag every other metric of the request with it too."""
    with single_metric(
        name=REPORTS_SERVED,
        unit=MetricUnit.Count,
        value=1,
        namespace=NAMESPACE,
        default_dimensions={"service": SERVICE, "cache_state": cache_state},
    ):
        pass


def tracing_enabled() -> bool:
    """Powertools' own rule: off when POWERTOOLS_TRACE_DISABLED is true, and off outside
    Lambda or under `chalice local` / SAM local, where no X-Ray daemon listens."""
    if strtobool(os.environ.get("POWERTOOLS_TRACE_DISABLED") or "false"):
        return False
    in_lambda = bool(os.environ.get("LAMBDA_TASK_ROOT"))
    emulated = os.environ.get("AWS_SAM_LOCAL") or os.environ.get("AWS_CHALICE_CLI_MODE")
    return in_lambda and not emulated


@functools.cache
def tracer() -> Any:
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE)


def capture_lambda_handler(handler: Callable[..., Any]) -> Callable[..., Any]:
    """Tracer's capture_lambda_handler, decided per call and built on first use.

    `Tracer()` imports the X-Ray SDK (about 0.4 s of cold start) even when tracing is
    disabled, and the SDK is not shipped unless an operator turns tracing on (README,
    "Tracing"). So with tracing off the handler runs as it is and nothing is imported.
    """

    @functools.wraps(handler)
    def traced(event: Any, context: Any) -> Any:
        if not tracing_enabled():
            return handler(event, context)
        return tracer().capture_lambda_handler(handler)(event, context)

    return traced
