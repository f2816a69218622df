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
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

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
    "sweep_archive": {"logs:CreateLogStream", "logs:PutLogEvents"},
    "compliance_round": {"logs:CreateLogStream", "logs:PutLogEvents"},
    "compliance_worker": {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
    },
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
    "HeadObject": "GetObject",
    "ListObjects": "ListBucket",
    "ListObjectsV2": "ListBucket",
    "ListObjectVersions": "ListBucketVersions",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}
# An S3 object operation that names a version needs the action's ...Version form.
VERSIONED_ACTION = {
    "s3:GetObject": "s3:GetObjectVersion",
    "s3:DeleteObject": "s3:DeleteObjectVersion",
}
# The listings whose request carries the `s3:prefix` condition key (Prefix, when given).
LISTINGS = {"s3:ListBucket", "s3:ListBucketVersions"}
SERVICE_PREFIX = {"DynamoDB": "dynamodb", "S3": "s3", "Secrets Manager": "secretsmanager"}


class Call(NamedTuple):
    """What IAM is asked for one AWS call: an action on a resource, and for a listing the
    `s3:prefix` it names (None: it names none, or no one knows which, as for the implicit
    s3:ListBucket of a GetObject)."""

    action: str
    resource: str
    prefix: str | None = None


class CallLog:
    """The calls IAM judges, of every AWS call, by the function making it."""

    def __init__(self) -> None:
        self.by_function: dict[str, set[Call]] = defaultdict(set)
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
        calls = self.by_function[self.current]
        for resource, version in self.resources(prefix, operation, params):
            named = VERSIONED_ACTION.get(action, action) if version else action
            calls.add(Call(named, resource, params.get("Prefix") if action in LISTINGS else None))
            if action == "s3:GetObject":
                # A missing object answers 404 only to whom may list the bucket; the archive
                # counts on the 404. Which s3:prefix that check sees AWS does not say.
                calls.add(Call("s3:ListBucket", resource.split("/", 1)[0]))

    def resources(
        self, prefix: str, operation: str, params: dict[str, Any]
    ) -> list[tuple[str, bool]]:
        """Each resource a call acts on, and whether it names an object's version."""
        if prefix == "s3":
            bucket = f"arn:aws:s3:::{params['Bucket']}"
            if operation == "DeleteObjects":
                objects = params["Delete"]["Objects"]
                return [(f"{bucket}/{o['Key']}", "VersionId" in o) for o in objects]
            if "Key" in params:
                return [(f"{bucket}/{params['Key']}", "VersionId" in params)]
            return [(bucket, False)]
        return [(resource, False) for resource in self.unversioned(prefix, operation, params)]

    def unversioned(self, prefix: str, operation: str, params: dict[str, Any]) -> list[str]:
        if prefix == "dynamodb":
            tables = list(params.get("RequestItems", {})) or [params["TableName"]]
            index = f"/index/{params['IndexName']}" if "IndexName" in params else ""
            return [f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{t}{index}" for t in tables]
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


class Grant(NamedTuple):
    """One statement: its actions, its resource patterns with this stack's names filled in,
    and the `s3:prefix` patterns its condition admits (None: no condition)."""

    actions: set[str]
    resources: list[str]
    prefixes: list[str] | None = None


def prefix_condition(statement: dict[str, Any]) -> list[str] | None:
    """The `s3:prefix` patterns of a `StringLike` condition, the one condition judged here."""
    condition = statement.get("Condition")
    if condition is None:
        return None
    if set(condition) == {"StringLike"} and set(condition["StringLike"]) == {"s3:prefix"}:
        patterns = condition["StringLike"]["s3:prefix"]
        return patterns if isinstance(patterns, list) else [patterns]
    raise AssertionError(f"{statement.get('Sid')}: no rule here to judge {condition}")


def granted(policy: dict[str, Any], refs: dict[str, str], arns: dict[str, str]) -> list[Grant]:
    """Each statement as a Grant, with this stack's names filled in."""
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
        Grant(
            set(statement["Action"]),
            [render(resource) for resource in statement["Resource"]],
            prefix_condition(statement),
        )
        for statement in policy["Statement"]
    ]


def allowed(grants: list[Grant], call: Call) -> bool:
    """Whether a grant allows the call. A condition on s3:prefix admits only a listing that
    names a matching prefix: IAM's StringLike is false for a key the request lacks."""

    def admits(grant: Grant) -> bool:
        if grant.prefixes is None:
            return True
        return call.prefix is not None and any(
            fnmatch.fnmatchcase(call.prefix, pattern) for pattern in grant.prefixes
        )

    return any(
        call.action in grant.actions
        and any(fnmatch.fnmatchcase(call.resource, pattern) for pattern in grant.resources)
        and admits(grant)
        for grant in grants
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
    # A forget's purge is delivered at once, so the worker below runs it too.
    configure(
        PUBLIC_URL="",
        PUBLIC_URL_PARAMETER=parameter,
        REPORT_MAX_AGE_SECONDS=0,
        PURGE_DELAY_SECONDS=0,
    )
    refs, arns = stack_arns(aws)
    call_log.queue_arns = {
        aws["REFRESH_QUEUE_URL"]: arns["RefreshQueue"],
        aws["COMPLIANCE_QUEUE_URL"]: arns["ComplianceQueue"],
    }
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
    # ... forgetting an account whose archive and report are stored, in versions
    forgetting = signed_in("slowbrand")
    assert api(functools.partial(forgetting.get, "/report")).status_code == 200
    api(lambda: forgetting.post("/forget", headers=origin, body="confirm=yes"))
    # ... and a report a refresh still running then writes after it, for the purge to find
    late = f"accounts/{app_env.account_id('slowbrand')}/report.json"
    boto3.client("s3").put_object(Bucket=aws["BUCKET_NAME"], Key=late, Body=b"{}")
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
    configure(X_USER_BUDGET_MENTIONS=1)  # each token's one read is gone: messages go back
    refresh_round()

    # The daily sweep: a forget stuck for two hours (its account item never deleted) of an
    # account still signed in somewhere, whose report is in S3
    configure(REPORT_MAX_AGE_SECONDS=900, X_USER_BUDGET_MENTIONS=300)
    app_env.add_account("brand_c")
    stuck = signed_in("brand_c")
    assert api(functools.partial(stuck.get, "/report")).status_code == 200
    boto3.client("dynamodb").update_item(
        TableName=aws["TABLE_NAME"],
        Key={"pk": {"S": f"account#{app_env.account_id('brand_c')}"}},
        UpdateExpression="SET forgetting_at = :then",
        ExpressionAttributeValues={":then": {"N": str(int(time.time()) - 7200)}},
    )
    # ... and the retention: an account nobody viewed for 31 days (it leaves the refresh
    # index), one nobody viewed for 401 days with a report in S3 (forgotten, its token
    # revoked at X), and one from before viewed_at (its sign-in becomes its last view)
    idle = retention_accounts(app_env, aws, signed_in, api)
    configure()  # the sweep's own container: no secret cached by the API's calls above
    with call_log.function("sweep_archive"):
        swept = client.lambda_.invoke(
            "sweep_archive",
            client.events.generate_cw_event(
                source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
            ),
        ).payload
    assert swept["forgets_finished"] == 1, swept
    assert (swept["left_refresh"], swept["forgotten_idle"], swept["backfilled"]) == (2, 1, 1)
    assert app_env.calls["POST /1.1/oauth/invalidate_token"] == 2  # slowbrand's, brand_e's
    # ... the idle account's next view puts it back in the index and refreshes it (and
    # reads a mention posted meanwhile)
    brand_d = app_env.account_id("brand_d")
    deleted = app_env.add_post(
        "brand_a", "@brand_d hi?", datetime.now(UTC) - timedelta(minutes=1), mentions=[brand_d]
    )
    assert api(functools.partial(idle.get, "/report")).status_code == 200

    # The daily compliance round and its worker: a mention X says was deleted leaves the
    # archive of brand_d (viewed again just now), whose report is made again
    configure(COMPLIANCE_POLL_SECONDS=0)
    app_env.delete_post(deleted)
    with call_log.function("compliance_round"):
        client.lambda_.invoke(
            "compliance_round",
            client.events.generate_cw_event(
                source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
            ),
        )

    def compliance_worker(batch: dict[str, Any]) -> Any:
        with call_log.function("compliance_worker"):
            return client.lambda_.invoke("compliance_worker", batch).payload

    SqsEventSource(
        boto3.client("sqs"), aws["COMPLIANCE_QUEUE_URL"], compliance_worker, batch_size=1
    ).drain()
    assert app_env.calls["POST /2/compliance/jobs"] == 2
    from chalicelib import services

    kept = services.archive().load(brand_d)
    assert kept is not None and deleted in kept.withdrawn and deleted not in kept.mentions

    # Older history: the API counts it and takes the yes (in the API's environment again),
    # and a refresh worker reads its pages
    configure(PUBLIC_URL="", PUBLIC_URL_PARAMETER=parameter, REPORT_MAX_AGE_SECONDS=900)
    app_env.add_account("brand_h")
    start = datetime.now(UTC) - timedelta(hours=1)
    for n in range(810):  # ten beyond X's 800-mention reach
        app_env.add_post("brand_a", f"@brand_h hello {n}", start - timedelta(minutes=n))
    reader = signed_in("brand_h")
    assert api(functools.partial(reader.get, "/report")).status_code == 200
    assert api(functools.partial(reader.get, "/history")).status_code == 200
    confirmed = api(lambda: reader.post("/history", headers=origin, body="confirm=yes"))
    assert confirmed.status_code == 303
    configure(PUBLIC_URL_PARAMETER="")

    def history_worker(batch: dict[str, Any]) -> Any:
        with call_log.function("refresh_worker"):
            return client.lambda_.invoke("refresh_worker", batch).payload

    SqsEventSource(boto3.client("sqs"), aws["REFRESH_QUEUE_URL"], history_worker).drain()
    assert app_env.posts_served["GET /2/tweets/search/all"] == 10

    # THEN each call was allowed, and each grant was used
    config = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
    for function, done_by_lambda in DONE_BY_LAMBDA.items():
        policy_file = config["lambda_functions"][function]["iam_policy_file"]
        statements = granted(
            json.loads((PROJECT_DIR / ".chalice" / policy_file).read_text()), refs, arns
        )
        calls = call_log.by_function[function]
        assert calls, f"{function} made no AWS call here"
        denied = sorted((c for c in calls if not allowed(statements, c)), key=str)
        assert denied == [], f"{policy_file} does not allow what {function} does"
        used = {call.action for call in calls} | done_by_lambda
        unused = {action for grant in statements for action in grant.actions} - used
        assert unused == set(), f"{policy_file} grants what {function} never does"


def retention_accounts(
    app_env: Any, aws: dict[str, str], signed_in: Callable[[str], Browser], api: Any
) -> Browser:
    """brand_d last viewed 31 days ago, brand_e 401 days ago (both with a report in S3),
    and brand_a's item as it was before viewed_at; returns brand_d's browser."""
    import boto3

    db = boto3.client("dynamodb")

    def update(username: str, expression: str, values: dict[str, Any] | None = None) -> None:
        db.update_item(
            TableName=aws["TABLE_NAME"],
            Key={"pk": {"S": f"account#{app_env.account_id(username)}"}},
            UpdateExpression=expression,
            **({"ExpressionAttributeValues": values} if values else {}),
        )

    browsers = {}
    for username, days in (("brand_d", 31), ("brand_e", 401)):
        app_env.add_account(username)
        browsers[username] = signed_in(username)
        assert api(functools.partial(browsers[username].get, "/report")).status_code == 200
        then = int(time.time()) - days * 24 * 3600
        update(username, "SET viewed_at = :then", {":then": {"N": str(then)}})
    update("brand_a", "REMOVE viewed_at, view_state")
    return browsers["brand_d"]


def test_the_oauth2_paths_call_only_what_the_policies_grant(
    client: Any,
    oauth2: Any,
    aws: dict[str, str],
    configure: Callable[..., None],
    call_log: CallLog,
) -> None:
    """Over OAuth 2.0: the sign-in, a view whose token expired (a 401, the claim, the new
    pair), a worker's refresh of an expired token, a refresh X refuses, and a forget that
    revokes at X first: every call each function makes is one its policy file allows."""
    import boto3

    from local.stack import SqsEventSource

    configure(REPORT_MAX_AGE_SECONDS=0, PURGE_DELAY_SECONDS=0)
    refs, arns = stack_arns(aws)
    call_log.queue_arns = {aws["REFRESH_QUEUE_URL"]: arns["RefreshQueue"]}
    origin = {"origin": "http://127.0.0.1:8000"}

    def api(request: Callable[[], Any]) -> Any:
        with call_log.function("api_handler"):
            return request()

    def signed_in(username: str) -> Browser:
        person = Browser(client)
        authorize = api(person.start_sign_in)
        api(lambda: person.get(approve(authorize, username)))
        return person

    person = signed_in("fastbrand")
    oauth2.expire_access_tokens()
    assert api(functools.partial(person.get, "/report")).status_code == 200
    signed_in("slowbrand")
    oauth2.revoke("slowbrand")
    oauth2.expire_access_tokens()

    def worker(batch: dict[str, Any]) -> Any:
        with call_log.function("refresh_worker"):
            return client.lambda_.invoke("refresh_worker", batch).payload

    event = client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
    )
    with call_log.function("schedule_refresh"):
        client.lambda_.invoke("schedule_refresh", event)
    SqsEventSource(boto3.client("sqs"), aws["REFRESH_QUEUE_URL"], worker).poll_once()
    assert oauth2.oauth2_refreshes() == 2  # the view's, and the worker's of fastbrand
    api(lambda: person.post("/forget", headers=origin, body="confirm=yes"))
    assert oauth2.calls["POST /2/oauth2/revoke"] == 2

    config = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
    for function in ("api_handler", "schedule_refresh", "refresh_worker"):
        policy_file = config["lambda_functions"][function]["iam_policy_file"]
        statements = granted(
            json.loads((PROJECT_DIR / ".chalice" / policy_file).read_text()), refs, arns
        )
        calls = call_log.by_function[function]
        assert calls, f"{function} made no AWS call here"
        denied = sorted((c for c in calls if not allowed(statements, c)), key=str)
        assert denied == [], f"{policy_file} does not allow what {function} does"


def test_the_judge_names_versioned_calls_and_weighs_a_prefix_condition() -> None:
    """What the test above asks IAM, for the calls forgetting an archive's versions makes:
    ListObjectVersions is s3:ListBucketVersions, a delete naming a version is
    s3:DeleteObjectVersion, and a grant conditioned on `s3:prefix` admits only listings
    that name a prefix it matches."""
    log = CallLog()
    bucket = "arn:aws:s3:::archive"
    with log.function("api_handler"):
        log.record("S3", "ListObjectVersions", {"Bucket": "archive", "Prefix": "accounts/42/"})
        log.record("S3", "ListObjectVersions", {"Bucket": "archive"})
        log.record(
            "S3",
            "DeleteObjects",
            {
                "Bucket": "archive",
                "Delete": {"Objects": [{"Key": "accounts/42/a", "VersionId": "v1"}]},
            },
        )
        log.record("S3", "GetObject", {"Bucket": "archive", "Key": "accounts/42/a"})
    assert log.by_function["api_handler"] == {
        Call("s3:ListBucketVersions", bucket, "accounts/42/"),
        Call("s3:ListBucketVersions", bucket, None),
        Call("s3:DeleteObjectVersion", f"{bucket}/accounts/42/a"),
        Call("s3:GetObject", f"{bucket}/accounts/42/a"),
        Call("s3:ListBucket", bucket),
    }

    versions = {
        "Action": ["s3:ListBucketVersions", "s3:ListBucket"],
        "Resource": [bucket],
        "Condition": {"StringLike": {"s3:prefix": "accounts/*"}},
    }
    grants = [
        Grant({"s3:ListBucketVersions", "s3:ListBucket"}, [bucket], prefix_condition(versions))
    ]
    assert allowed(grants, Call("s3:ListBucketVersions", bucket, "accounts/42/"))
    assert not allowed(grants, Call("s3:ListBucketVersions", bucket, "other/"))
    assert not allowed(grants, Call("s3:ListBucketVersions", bucket, None))  # the whole bucket
    assert not allowed(grants, Call("s3:ListBucket", bucket))  # GetObject's implicit check
    with pytest.raises(AssertionError, match="no rule here"):
        prefix_condition({"Sid": "X", "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}})
