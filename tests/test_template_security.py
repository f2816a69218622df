"""What infra/resources.json and .chalice/ promise an operator about transport, logs, load
and time, read from the files themselves (tests/test_deploy.py checks the packaged stack).

- Every bucket and queue refuses a request made without TLS, whoever makes it.
- API Gateway writes an access log of its own: who asked what and how it went, never the
  query string (the callback's carries `oauth_verifier`) nor a cookie.
- The stage's throttle and the API function's reserved concurrency are parameters.
- The API function gives up before API Gateway's 29 s do; the refresh worker finishes well
  inside the refresh queue's visibility timeout.
- s3:ListBucket stays on the whole bucket, without an `s3:prefix` condition: it is what
  turns a missing archive into 404 NoSuchKey instead of 403 AccessDenied.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from local.resources import load_template
from tests import template_checks

PROJECT_DIR = Path(__file__).resolve().parent.parent
API_GATEWAY_TIMEOUT_SECONDS = 29  # the integration timeout of a REST API, by default
# Lambda's guidance for an SQS event source: a visibility timeout of at least six times the
# function's timeout, so a batch retried after a throttle is not delivered twice.
# https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
VISIBILITY_PER_WORKER_TIMEOUT = 6
# What an access log line may carry: who asked (address), what (method and route template,
# never the path with its query string), how it went and how long it took. Any other
# $context variable is a decision to make here first: `$context.identity.*` besides the
# address, `$context.authorizer.*` and `$context.requestOverride.*` carry request content.
ACCESS_LOG_VARIABLES = {
    "$context.requestId",
    "$context.extendedRequestId",
    "$context.requestTime",
    "$context.identity.sourceIp",
    "$context.httpMethod",
    "$context.resourcePath",
    "$context.protocol",
    "$context.status",
    "$context.responseLength",
    "$context.responseLatency",
    "$context.integrationLatency",
    "$context.error.responseType",
}
ACCESS_LOG_FIELDS = {"requestId", "ip", "httpMethod", "resourcePath", "status", "responseLatency"}


@pytest.fixture
def template() -> dict[str, Any]:
    return load_template()


def _config() -> dict[str, Any]:
    config: dict[str, Any] = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
    return config


def _policy(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((PROJECT_DIR / ".chalice" / name).read_text())
    return document


# --- TLS only ----------------------------------------------------------------------------


def test_every_bucket_and_queue_refuses_requests_without_tls(template: dict[str, Any]) -> None:
    assert template_checks.transport_problems(template) == []
    kinds = {body.get("Type") for body in template["Resources"].values()}
    assert {"AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy"} <= kinds


def test_the_transport_check_catches_an_open_bucket_or_queue(template: dict[str, Any]) -> None:
    # GIVEN the template without the bucket's policy
    open_bucket = copy.deepcopy(template)
    del open_bucket["Resources"]["ArchiveBucketPolicy"]
    # ... or with a queue policy that refuses only some actions
    partial = copy.deepcopy(template)
    statement = partial["Resources"]["RefreshQueuePolicy"]["Properties"]["PolicyDocument"]
    statement["Statement"][0]["Action"] = "sqs:SendMessage"
    # ... or with a bucket policy that forgets the objects
    bucket_only = copy.deepcopy(template)
    document = bucket_only["Resources"]["ArchiveBucketPolicy"]["Properties"]["PolicyDocument"]
    document["Statement"][0]["Resource"] = [{"Fn::GetAtt": ["ArchiveBucket", "Arn"]}]

    # THEN each is named
    assert template_checks.transport_problems(open_bucket) == [
        "ArchiveBucket: no AWS::S3::Bucket policy refuses requests without TLS"
    ]
    assert template_checks.transport_problems(partial) == [
        "RefreshQueue: no AWS::SQS::Queue policy refuses requests without TLS"
    ]
    assert template_checks.transport_problems(bucket_only) == [
        "ArchiveBucket: no AWS::S3::Bucket policy refuses requests without TLS"
    ]


# --- API Gateway's access log ------------------------------------------------------------


def test_api_gateway_logs_who_asked_what_but_no_query_string_or_cookie(
    template: dict[str, Any],
) -> None:
    resources = template["Resources"]
    access_log = resources["RestAPI"]["Properties"]["AccessLogSetting"]

    # THEN it goes to a log group of its own, kept as long as the functions' logs
    destination = access_log["DestinationArn"]["Fn::Sub"]
    assert destination.endswith(":log-group:${ApiAccessLogGroup}")
    group = resources["ApiAccessLogGroup"]
    assert group["Type"] == "AWS::Logs::LogGroup"
    groups = [body for body in resources.values() if body.get("Type") == "AWS::Logs::LogGroup"]
    assert {body["Properties"]["RetentionInDays"] for body in groups} == {30}

    # AND each line is one JSON object with the fields an operator searches by
    line = json.loads(access_log["Format"])
    assert set(line) >= ACCESS_LOG_FIELDS
    assert line["ip"] == "$context.identity.sourceIp"
    # ... made only of what carries no request content
    assert set(line.values()) <= ACCESS_LOG_VARIABLES, set(line.values()) - ACCESS_LOG_VARIABLES
    for word in ("querystring", "cookie", "header"):
        assert word not in access_log["Format"].lower(), word


def test_no_execution_log_writes_whole_requests(template: dict[str, Any]) -> None:
    # Execution logs with data tracing write each request whole, the callback's
    # oauth_verifier with it; the access log above is the API's only log.
    for setting in template["Resources"]["RestAPI"]["Properties"]["MethodSettings"]:
        assert not setting.get("DataTraceEnabled"), setting
        assert setting.get("LoggingLevel", "OFF") == "OFF", setting


# --- Load ----------------------------------------------------------------------------------


def test_an_operator_sets_the_throttle_and_the_api_s_concurrency_at_deploy_time(
    template: dict[str, Any],
) -> None:
    parameters = template["Parameters"]
    rate = parameters["ApiThrottlingRateLimit"]["Default"]
    burst = parameters["ApiThrottlingBurstLimit"]["Default"]
    reserved = parameters["ApiReservedConcurrency"]["Default"]
    assert (rate, burst, reserved) == (20, 40, 50)  # the README's figures
    # A burst the stage admits all at once finds a function to run it
    assert rate <= burst <= reserved

    # THEN the stage throttles every route with the parameters
    [setting] = template["Resources"]["RestAPI"]["Properties"]["MethodSettings"]
    assert (setting["ResourcePath"], setting["HttpMethod"]) == ("/*", "*")
    assert setting["ThrottlingRateLimit"] == {"Ref": "ApiThrottlingRateLimit"}
    assert setting["ThrottlingBurstLimit"] == {"Ref": "ApiThrottlingBurstLimit"}

    # AND the API function reserves its concurrency, unless the parameter is 0 (an account
    # whose quota leaves nothing to reserve)
    reservation = template["Resources"]["APIHandler"]["Properties"]["ReservedConcurrentExecutions"]
    condition, when_set, when_zero = reservation["Fn::If"]
    assert when_set == {"Ref": "ApiReservedConcurrency"}
    assert when_zero == {"Ref": "AWS::NoValue"}
    assert template["Conditions"][condition] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "ApiReservedConcurrency"}, "0"]}]
    }
    assert parameters["ApiReservedConcurrency"]["MinValue"] == 0


# --- Time ----------------------------------------------------------------------------------


def test_the_api_function_gives_up_before_api_gateway_does() -> None:
    # At 29 s API Gateway answers 504 and the function would run on, working for no one;
    # stopping first ends the work and leaves "Task timed out" in the function's log. The
    # app's own deadlines (AWS and X calls) are shorter still, so a page answers before.
    timeout = _config()["lambda_functions"]["api_handler"]["lambda_timeout"]
    assert timeout < API_GATEWAY_TIMEOUT_SECONDS


def test_the_refresh_worker_finishes_well_inside_the_queue_s_visibility_timeout(
    template: dict[str, Any],
) -> None:
    worker_timeout = _config()["lambda_functions"]["refresh_worker"]["lambda_timeout"]
    visibility = template["Resources"]["RefreshQueue"]["Properties"]["VisibilityTimeout"]
    assert worker_timeout * VISIBILITY_PER_WORKER_TIMEOUT <= visibility


# --- s3:ListBucket -----------------------------------------------------------------------


def test_list_bucket_is_granted_on_the_bucket_without_a_prefix_condition() -> None:
    """GetObject of a missing key answers 404 NoSuchKey only to whom may s3:ListBucket the
    bucket, 403 AccessDenied otherwise (https://docs.aws.amazon.com/AmazonS3/latest/API/
    API_GetObject.html, "Permissions"); the archive counts on the 404 for an account it has
    never seen. AWS does not document which `s3:prefix`, if any, that implicit check sees
    (Ceph's s3-tests `test_head_object_404_with_policy_prefix` says the requested key), so
    a prefix condition could turn every first report into AccessDenied, for nothing: no
    function may put an object outside `accounts/`, so no key outside it exists to hide.
    A function that reads no object (the compliance round lists folders) is held to the
    prefix it lists."""
    config = _config()
    for name, function in config["lambda_functions"].items():
        statements = _policy(function["iam_policy_file"])["Statement"]
        listing = [s for s in statements if "s3:ListBucket" in s["Action"]]
        object_grants = [s for s in statements if any("Object" in a for a in s["Action"])]
        for grant in object_grants:
            assert grant["Resource"] == [{"Fn::Sub": "${ArchiveBucket.Arn}/accounts/*"}], name
        if not any("s3:GetObject" in s["Action"] for s in statements):
            # reading no object, it needs no 404: a listing it makes names its prefix
            for grant in listing:
                assert grant["Condition"] == {"StringLike": {"s3:prefix": "accounts/*"}}, name
            continue
        [statement] = listing
        assert statement["Resource"] == [{"Fn::GetAtt": ["ArchiveBucket", "Arn"]}], name
        assert "Condition" not in statement, name
        assert "404" in statement["Sid"], "the Sid says why the grant is there"
        # A listing that names its prefix (ListObjectVersions of one account) is held to it
        for grant in [s for s in statements if "s3:ListBucketVersions" in s["Action"]]:
            assert grant["Condition"] == {"StringLike": {"s3:prefix": "accounts/*"}}, name
