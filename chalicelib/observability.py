"""Powertools Logger, Metrics and Tracer, each wired once: app.py registers them as Chalice
middleware. Log lines carry ids and outcomes, never a token, secret, verifier or cookie
value. Metrics go to CloudWatch as EMF lines on stdout, flushed after every invocation.
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
X_RATE_LIMITED = "XRateLimited"  # X answered 429
REFRESH_SUCCEEDED = "RefreshSucceeded"
REFRESH_FAILED = "RefreshFailed"

# These libraries log request headers, token responses and signed URLs at DEBUG. Whatever
# LOG_LEVEL an operator sets, they stay quiet, so no secret reaches the logs through them.
for _name in ("requests_oauthlib", "oauthlib", "tweepy", "urllib3", "botocore", "boto3"):
    logging.getLogger(_name).setLevel(logging.WARNING)

# Most requests (the home page, the stylesheet) count nothing; Powertools warns on each.
warnings.filterwarnings("ignore", message="No application metrics to publish")

# Middleware, in the order app.py registers them (the first wraps the others).
log_context = logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True
)
log_metrics = metrics.log_metrics(capture_cold_start_metric=True)


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
