"""Least privilege, measured: every AWS call each function makes in its flows here (moto
records them all, Powertools' own clients included) is allowed by that function's policy
file, and every action a policy file grants is one the function makes, or one Lambda
makes for it (its logs, its SQS event source). A call the policy does not allow would be
an AccessDenied in production; an action no one makes is a grant too many."""

from __future__ import annotations

import fnmatch
import functools
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.browser import Browser, approve, press

PROJECT_DIR = Path(__file__).resolve().parent.parent
ACCOUNT, REGION = "123456789012", "us-east-1"
STACK = "responsetime-local"
PUBLIC_URL = "https://abc123.execute-api.us-east-1.amazonaws.com/api"
# What Lambda does with the function's role, not the function's code.
DONE_BY_LAMBDA = {
    "api_handler": {"logs:CreateLogStream", "logs:PutLogEvents"},
    "schedule_refresh": {"logs:CreateLogStream", "logs:PutLogEvents"},
    "refresh_worker": {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "sqs:ReceiveMessage",  # the SQS event source mapping polls, and deletes what is done
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
    },
}
# The IAM action of an API operation, where the names differ.
ACTION_OF = {
    "SendMessageBatch": "SendMessage",
    "DeleteObjects": "DeleteObject",
    "ListObjectsV2": "ListBucket",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}
SERVICE_PREFIX = {"DynamoDB": "dynamodb", "S3": "s3", "Secrets Manager": "secretsmanager"}


class CallLog:
    """The (action, resource) pairs of every AWS call, by the function making it."""

    def __init__(self) -> None:
        self.by_function: dict[str, set[tuple[str, str]]] = defaultdict(set)
        self.current: str | None = None
        self.queue_arns: dict[str, str] = {}

    @contextmanager
    def function(self, name: str) -> Iterator[None]:
        outer, self.current = self.current, name
        try:
            yield
        finally:
            self.current = outer

    def record(self, service: str, operation: str, params: dict[str, Any]) -> None:
        if self.current is None:
            return  # the test's own calls, or Lambda's event source standing in
        prefix = SERVICE_PREFIX.get(service, service.lower())
        action = f"{prefix}:{ACTION_OF.get(operation, operation)}"
        for resource in self.resources(prefix, operation, params):
            self.by_function[self.current].add((action, resource))
            if (prefix, operation) == ("s3", "GetObject"):
                # A missing object answers 404 only to whom may list the bucket; the archive
                # counts on the 404.
                bucket = resource.split("/", 1)[0]
                self.by_function[self.current].add(("s3:ListBucket", bucket))

    def resources(self, prefix: str, operation: str, params: dict[str, Any]) -> list[str]:
        if prefix == "dynamodb":
            tables = list(params.get("RequestItems", {})) or [params["TableName"]]
            index = f"/index/{params['IndexName']}" if "IndexName" in params else ""
            return [f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{t}{index}" for t in tables]
        if prefix == "s3":
            bucket = f"arn:aws:s3:::{params['Bucket']}"
            if operation == "DeleteObjects":
                return [f"{bucket}/{o['Key']}" for o in params["Delete"]["Objects"]]
            return [f"{bucket}/{params['Key']}"] if "Key" in params else [bucket]
        if prefix == "secretsmanager":
            return [params["SecretId"]]
        if prefix == "ssm":
            return [f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{params['Name']}"]
        if prefix == "sqs":
            return [self.queue_arns[params["QueueUrl"]]]
        raise AssertionError(f"no resource rule for {prefix}:{operation}")


@pytest.fixture
def call_log(monkeypatch: pytest.MonkeyPatch) -> CallLog:
    from botocore.client import BaseClient

    log = CallLog()
    original = BaseClient._make_api_call

    def recorded(client: Any, operation: str, params: Any) -> Any:
        log.record(client.meta.service_model.service_id, operation, params)
        return original(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recorded)
    return log


def stack_arns(aws: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(Ref, GetAtt Arn) of each resource of infra/resources.json, as moto made them."""
    import boto3

    from local.resources import load_template

    resources = load_template()["Resources"]
    refs: dict[str, str] = {}
    for body in resources.values():
        for name, value in (
            body.get("Properties", {}).get("Environment", {}).get("Variables", {}).items()
        ):
            if isinstance(value, dict) and "Ref" in value and name in aws:
                refs[value["Ref"]] = aws[name]
    arns = {}
    for logical_id, ref in refs.items():
        kind = resources[logical_id]["Type"]
        if kind == "AWS::DynamoDB::Table":
            arns[logical_id] = boto3.client("dynamodb").describe_table(TableName=ref)["Table"][
                "TableArn"
            ]
        elif kind == "AWS::S3::Bucket":
            arns[logical_id] = f"arn:aws:s3:::{ref}"
        elif kind == "AWS::SQS::Queue":
            attributes = boto3.client("sqs").get_queue_attributes(
                QueueUrl=ref, AttributeNames=["QueueArn"]
            )
            arns[logical_id] = attributes["Attributes"]["QueueArn"]
        else:
            arns[logical_id] = ref
    return refs, arns


def granted(
    policy: dict[str, Any], refs: dict[str, str], arns: dict[str, str]
) -> list[tuple[set[str], list[str]]]:
    """Each statement as (actions, resource patterns) with this stack's names filled in."""
    pseudo = {
        "AWS::Partition": "aws",
        "AWS::Region": REGION,
        "AWS::AccountId": ACCOUNT,
        "AWS::StackName": STACK,
    }

    def render(value: Any) -> str:
        if isinstance(value, str):
            return value
        if "Ref" in value:
            return refs.get(value["Ref"], f"<{value['Ref']}>")
        if "Fn::GetAtt" in value:
            return arns.get(value["Fn::GetAtt"][0], f"<{value['Fn::GetAtt'][0]}>")

        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in pseudo:
                return pseudo[name]
            return arns[name.removesuffix(".Arn")] if name.endswith(".Arn") else refs[name]

        return re.sub(r"\$\{([^}]+)\}", fill, value["Fn::Sub"])

    return [
        (set(statement["Action"]), [render(resource) for resource in statement["Resource"]])
        for statement in policy["Statement"]
    ]


def allowed(statements: list[tuple[set[str], list[str]]], action: str, resource: str) -> bool:
    return any(
        action in actions and any(fnmatch.fnmatchcase(resource, pattern) for pattern in patterns)
        for actions, patterns in statements
    )


def test_each_function_calls_exactly_what_its_policy_file_grants(
    client: Any,
    app_env: Any,
    aws: dict[str, str],
    configure: Callable[..., None],
    call_log: CallLog,
) -> None:
    import boto3

    from local.stack import SqsEventSource

    # The deployed way to the public URL: the SSM parameter CloudFormation writes.
    parameter = f"/{STACK}/public-url"
    boto3.client("ssm").put_parameter(Name=parameter, Value=PUBLIC_URL, Type="String")
    configure(PUBLIC_URL="", PUBLIC_URL_PARAMETER=parameter, REPORT_MAX_AGE_SECONDS=0)
    refs, arns = stack_arns(aws)
    call_log.queue_arns = {aws["REFRESH_QUEUE_URL"]: arns["RefreshQueue"]}
    origin = {"origin": "https://abc123.execute-api.us-east-1.amazonaws.com"}

    def api(request: Callable[[], Any]) -> Any:
        with call_log.function("api_handler"):
            return request()

    def signed_in(username: str) -> Browser:
        person = Browser(client)
        authorize = api(person.start_sign_in)
        api(lambda: person.get(approve(authorize, username).removeprefix("/api")))
        return person

    # The API function, through every route and the paths where X refuses a token
    person = signed_in("fastbrand")
    for path in ("/", "/report", "/report.json", "/report.csv", "/static/app.css"):
        assert api(functools.partial(person.get, path)).status_code == 200, path
    api(lambda: person.post("/logout", headers=origin))
    api(lambda: signed_in("slowbrand").post("/forget", headers=origin, body="confirm=yes"))
    revoked = signed_in("fastbrand")
    app_env.revoke("fastbrand")
    assert api(lambda: revoked.get("/report")).status_code == 401
    cancelled = Browser(client)
    api(
        lambda: cancelled.get(
            press(api(cancelled.start_sign_in), "fastbrand", "cancel").removeprefix("/api")
        )
    )

    # The schedule and the worker, with their own environment (no public URL): a refresh,
    # a token X rejects, and then a budget spent
    for username in ("brand_a", "brand_b"):
        app_env.add_account(username)
        signed_in(username)
    app_env.revoke("brand_b")
    configure(PUBLIC_URL_PARAMETER="", REPORT_MAX_AGE_SECONDS=0)

    def refresh_round() -> None:
        event = client.events.generate_cw_event(
            source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
        )
        with call_log.function("schedule_refresh"):
            client.lambda_.invoke("schedule_refresh", event)

        def worker(batch: dict[str, Any]) -> Any:
            with call_log.function("refresh_worker"):
                return client.lambda_.invoke("refresh_worker", batch).payload

        SqsEventSource(boto3.client("sqs"), aws["REFRESH_QUEUE_URL"], worker).poll_once()

    refresh_round()
    configure(X_BUDGET_MENTIONS=1)  # the window's one token is gone: messages go back
    refresh_round()

    # THEN each call was allowed, and each grant was used
    config = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
    for function, done_by_lambda in DONE_BY_LAMBDA.items():
        policy_file = config["lambda_functions"][function]["iam_policy_file"]
        statements = granted(
            json.loads((PROJECT_DIR / ".chalice" / policy_file).read_text()), refs, arns
        )
        calls = call_log.by_function[function]
        assert calls, f"{function} made no AWS call here"
        denied = sorted(call for call in calls if not allowed(statements, *call))
        assert denied == [], f"{policy_file} does not allow what {function} does"
        used = {action for action, _ in calls} | done_by_lambda
        unused = {action for actions, _ in statements for action in actions} - used
        assert unused == set(), f"{policy_file} grants what {function} never does"
