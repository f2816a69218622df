"""What an operator deploys, checked before any AWS account sees it.

`make package` builds build/sam.json and build/deployment.zip offline, without AWS
credentials; cfn-lint and SAM's own translator accept the template; every function has a
policy file of its own and no grant has a `*`; the zip, unpacked alone beside boto3 (all
that Lambda's runtime adds), signs a person in and shows her report through API Gateway
events, against moto's server and the X emulator over HTTP, and answers a wrong method
and HEAD as ours; what API Gateway answers by itself (no such path, too many requests) is
our page with our headers; `make deploy` runs the CloudFormation commands the README gives;
a custom domain packages and lints too.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests import template_checks
from tests.conftest import CONSUMER_KEY, CONSUMER_SECRET
from tests.lambda_events import API_URL, api_gateway_event

PROJECT_DIR = Path(__file__).resolve().parent.parent
BUILD = PROJECT_DIR / "build"
RUNTIME = PROJECT_DIR / "tests" / "zip_runtime.py"
BIN = Path(sys.executable).parent  # the virtualenv's scripts: cfn-lint, chalice
MAX_ZIP_BYTES = 10_000_000
API_GATEWAY_TIMEOUT_SECONDS = 29  # a REST API's integration timeout, by default
# What Lambda's Python runtime puts beside a function's code: boto3 and its dependencies.
LAMBDA_RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six")
STACK = "responsetime-test"
CERTIFICATE_ARN = (
    "arn:aws:acm:us-east-1:123456789012:certificate/0f6e4c1a-2222-3333-4444-555566667777"
)
FUNCTIONS = {  # chalice name -> logical id in the template
    "api_handler": "APIHandler",
    "schedule_refresh": "ScheduleRefresh",
    "refresh_worker": "RefreshWorker",
    "sweep_archive": "SweepArchive",
    "compliance_round": "ComplianceRound",
    "compliance_worker": "ComplianceWorker",
}


def _without_aws_credentials() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}


@pytest.fixture(scope="session")
def packaged() -> Path:
    """`make package`, once a session, as an operator runs it: no AWS credentials at all."""
    result = subprocess.run(
        ["make", "--no-print-directory", "package"],
        cwd=PROJECT_DIR,
        env=_without_aws_credentials(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, f"make package failed:\n{result.stdout}\n{result.stderr}"
    for name in ("sam.json", "deployment.zip"):
        assert (BUILD / name).is_file(), f"make package made no build/{name}"
    return BUILD


@pytest.fixture(scope="session")
def template(packaged: Path) -> dict[str, Any]:
    return template_checks.load(packaged / "sam.json")


@pytest.fixture(scope="session")
def translated(template: dict[str, Any]) -> dict[str, Any]:
    return template_checks.translate(template)


# --- The package ------------------------------------------------------------------------


def test_make_package_builds_a_small_zip_of_the_app(
    packaged: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    size = (packaged / "deployment.zip").stat().st_size
    with capsys.disabled():
        print(f"\nbuild/deployment.zip: {size / 1e6:.2f} MB (at most {MAX_ZIP_BYTES / 1e6:.0f} MB)")
    assert size <= MAX_ZIP_BYTES
    names = set(zipfile.ZipFile(packaged / "deployment.zip").namelist())
    for needed in ("app.py", "chalicelib/web.py", "chalicelib/templates/base.html"):
        assert needed in names
    assert "chalicelib/static/app.css" in names
    for kept_out in ("local/", "tests/", "bench/", ".chalice/"):
        assert not any(name.startswith(kept_out) for name in names), kept_out
    assert not any(name.startswith("aws_xray_sdk/") for name in names)  # tracing is off


def test_cfn_lint_finds_nothing(packaged: Path) -> None:
    result = subprocess.run(
        [str(BIN / "cfn-lint"), str(packaged / "sam.json")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_sam_translates_the_template_into_the_stack(translated: dict[str, Any]) -> None:
    resources = translated["Resources"]
    kinds = {body["Type"] for body in resources.values()}
    assert {
        "AWS::Lambda::Function",
        "AWS::ApiGateway::RestApi",
        "AWS::Events::Rule",
        "AWS::Lambda::EventSourceMapping",
        "AWS::DynamoDB::Table",
        "AWS::S3::Bucket",
        "AWS::SQS::Queue",
        "AWS::SecretsManager::Secret",
        "AWS::SSM::Parameter",
        "AWS::Logs::LogGroup",
        "AWS::S3::BucketPolicy",
        "AWS::SQS::QueuePolicy",
        "AWS::ApiGateway::Stage",
    } <= kinds
    assert template_checks.dependency_cycle(translated) is None
    mappings = [b for b in resources.values() if b["Type"] == "AWS::Lambda::EventSourceMapping"]
    assert len(mappings) == 2  # the refresh queue's and the compliance queue's
    for mapping in mappings:
        assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    groups = set()
    for logical_id in FUNCTIONS.values():
        logging_config = resources[logical_id]["Properties"]["LoggingConfig"]
        groups.add(logging_config["LogGroup"]["Ref"])
    assert len(groups) == len(FUNCTIONS)  # each function logs to a group of its own


def test_the_packaged_functions_stop_before_what_waits_for_them(
    translated: dict[str, Any],
) -> None:
    resources = translated["Resources"]
    # API Gateway gives up on the API function at 29 s: the function stops first
    assert resources["APIHandler"]["Properties"]["Timeout"] < API_GATEWAY_TIMEOUT_SECONDS
    # A refresh message stays invisible for six worker timeouts, Lambda's guidance for an
    # SQS event source, so a retried batch is not run twice at once
    for function, queue_name in (
        ("RefreshWorker", "RefreshQueue"),
        ("ComplianceWorker", "ComplianceQueue"),
    ):
        worker = resources[function]["Properties"]["Timeout"]
        visibility = resources[queue_name]["Properties"]["VisibilityTimeout"]
        assert worker * 6 <= visibility, function


def test_the_packaged_api_logs_its_access_and_throttles(translated: dict[str, Any]) -> None:
    resources = translated["Resources"]
    [stage] = [b for b in resources.values() if b["Type"] == "AWS::ApiGateway::Stage"]
    props = stage["Properties"]
    assert props["StageName"] == "api"
    # ... to its own log group, in JSON
    assert "ApiAccessLogGroup" in set(template_checks.references(props["AccessLogSetting"]))
    assert resources["ApiAccessLogGroup"]["Properties"]["RetentionInDays"] == 30
    assert "requestId" in json.loads(props["AccessLogSetting"]["Format"])
    # ... every route throttled by the stack's parameters
    [setting] = props["MethodSettings"]
    assert setting["ThrottlingRateLimit"] == {"Ref": "ApiThrottlingRateLimit"}
    assert setting["ThrottlingBurstLimit"] == {"Ref": "ApiThrottlingBurstLimit"}
    reservation = resources["APIHandler"]["Properties"]["ReservedConcurrentExecutions"]
    assert {"Ref": "ApiReservedConcurrency"} in reservation["Fn::If"]
    # ... and every bucket and queue refuses plain HTTP
    assert template_checks.transport_problems(translated) == []


def test_what_api_gateway_answers_by_itself_is_our_page(
    template: dict[str, Any], translated: dict[str, Any]
) -> None:
    # GIVEN the packaged template: infra/resources.json's GatewayResponses merged on the API
    responses = template["Resources"]["RestAPI"]["Properties"]["GatewayResponses"]
    assert set(template_checks.GATEWAY_RESPONSE_TYPES) <= set(responses)

    # THEN SAM puts them in the API's body, which every deployment of the stage carries,
    #      each with the headers of every page; and every path takes every method
    assert template_checks.api_answer_problems(translated) == []
    [api] = [b for b in translated["Resources"].values() if b["Type"] == "AWS::ApiGateway::RestApi"]
    customized = api["Properties"]["Body"]["x-amazon-apigateway-gateway-responses"]
    not_found = customized["MISSING_AUTHENTICATION_TOKEN"]
    assert not_found["statusCode"] == "404"  # API Gateway's 403 "Missing Authentication Token"
    assert customized["THROTTLED"]["statusCode"] == "429"
    parameters = not_found["responseParameters"]
    assert parameters["gatewayresponse.header.X-Content-Type-Options"] == "'nosniff'"
    assert parameters["gatewayresponse.header.Strict-Transport-Security"].startswith("'max-age=")
    assert "frame-ancestors 'none'" in parameters["gatewayresponse.header.Content-Security-Policy"]
    page = not_found["responseTemplates"]["text/html"]["Fn::Sub"]
    assert "<h1>Page not found</h1>" in page[0]
    assert "${Base}/static/app.css" in page[0]  # the API's own URL, or PublicUrl's


def test_the_checker_catches_what_api_gateway_would_answer_by_itself() -> None:
    api = {
        "Type": "AWS::ApiGateway::RestApi",
        "Properties": {"Body": {"paths": {"/": {"get": {}}}}},
    }
    separate = {"Type": "AWS::ApiGateway::GatewayResponse", "Properties": {}}
    problems = template_checks.api_answer_problems(
        {"Resources": {"RestAPI": api, "NotFound": separate}}
    )
    assert any("lost at the next deployment" in problem for problem in problems)
    assert any("MISSING_AUTHENTICATION_TOKEN in its own words" in problem for problem in problems)
    assert any("'head', 'post'" in problem and "on /" in problem for problem in problems)


def test_the_checker_catches_broad_grants() -> None:
    names = {"SessionsTable", "ArchiveBucket"}
    broad = [
        {"Effect": "Allow", "Action": "s3:*", "Resource": {"Fn::GetAtt": ["ArchiveBucket", "Arn"]}},
        {"Effect": "Allow", "Action": "*", "Resource": {"Fn::GetAtt": ["ArchiveBucket", "Arn"]}},
        {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"},
        {"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "arn:*:logs:*:*:*"},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::*"},
        {
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": {"Fn::Sub": "${ArchiveBucket.Arn}*/x"},
        },
        {"Effect": "Allow", "NotAction": "iam:*", "Resource": {"Ref": "SessionsTable"}},
    ]
    for statement in broad:
        document = {"Statement": [statement]}
        assert template_checks.grant_problems(document, names, "test"), statement
    narrow = {
        "Effect": "Allow",
        "Action": ["s3:GetObject"],
        "Resource": [{"Fn::Sub": "${ArchiveBucket.Arn}/accounts/*"}],
    }
    assert template_checks.grant_problems({"Statement": [narrow]}, names, "test") == []


def test_no_policy_file_grants_a_wildcard(template: dict[str, Any]) -> None:
    files = template_checks.POLICY_FILES
    assert {f.name for f in files} >= {
        f"policy-{n.replace('_handler', '')}.json" for n in FUNCTIONS
    }
    for policy_file in files:
        document = json.loads(policy_file.read_text())
        assert (
            template_checks.grant_problems(document, set(template["Resources"]), policy_file.name)
            == []
        )


def test_every_function_of_the_stack_has_its_own_least_privilege_role(
    translated: dict[str, Any],
) -> None:
    functions = [
        b for b in translated["Resources"].values() if b["Type"] == "AWS::Lambda::Function"
    ]
    assert len(functions) == len(FUNCTIONS)
    assert template_checks.role_problems(translated) == []


def test_every_function_of_the_app_is_wired_to_a_policy_file(template: dict[str, Any]) -> None:
    from app import app

    config = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
    assert config["autogen_policy"] is False
    app_functions = {
        "api_handler",
        *(function.name for function in app.pure_lambda_functions),
        *(source.name for source in app.event_sources),
    }
    assert app_functions == set(FUNCTIONS), "a new function needs a policy file and a FUNCTIONS row"
    for name, logical_id in FUNCTIONS.items():
        policy_file = config["lambda_functions"][name]["iam_policy_file"]
        document = json.loads((PROJECT_DIR / ".chalice" / policy_file).read_text())
        role = template["Resources"][logical_id]["Properties"]["Role"]["Fn::GetAtt"][0]
        [policy] = template["Resources"][role]["Properties"]["Policies"]
        assert policy["PolicyDocument"] == document, f"{logical_id} is not given {policy_file}"


# --- The zip, alone, behind API Gateway ------------------------------------------------


def _lambda_runtime(folder: Path) -> Path:
    """boto3 and its dependencies, as links into this virtualenv: Lambda's runtime."""
    import boto3

    site = Path(boto3.__file__).resolve().parent.parent
    folder.mkdir()
    for name in LAMBDA_RUNTIME_PACKAGES:
        source = site / name if (site / name).is_dir() else site / f"{name}.py"
        assert source.exists(), f"{name} is not installed"
        (folder / source.name).symlink_to(source)
    return folder


def _resolve(value: Any, refs: dict[str, str], parameters: dict[str, str]) -> str | None:
    """A function's environment value, with Ref, Fn::Sub and Fn::If resolved as CloudFormation
    would for a stack whose parameters have their defaults; None: no such variable."""
    if isinstance(value, str):
        return value
    if "Fn::If" in value:
        condition, when_true, when_false = value["Fn::If"]
        assert condition == "HasPublicUrl", condition
        return _resolve(when_true if parameters["PublicUrl"] else when_false, refs, parameters)
    if value == {"Ref": "AWS::NoValue"}:
        return None
    if "Ref" in value:
        name = value["Ref"]
        return refs[name] if name in refs else parameters[name]
    if "Fn::Sub" in value:
        text = value["Fn::Sub"]
        pseudo = {
            "AWS::StackName": STACK,
            "AWS::Region": "us-east-1",
            "AWS::AccountId": "123456789012",
        }
        for name, replacement in pseudo.items():
            text = text.replace("${" + name + "}", replacement)
        assert "${" not in text, text
        return str(text)
    raise AssertionError(f"no local value for {value}")


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: str
    printed: list[str] = field(default_factory=list)  # what the function wrote to stdout

    def json_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.printed if line.startswith("{")]

    def metrics(self) -> dict[str, Any]:
        """Every EMF metric printed, by name (with its dimensions, to tell them apart)."""
        found: dict[str, Any] = {}
        for line in self.json_lines():
            if "_aws" in line:
                for directive in line["_aws"]["CloudWatchMetrics"]:
                    for metric in directive["Metrics"]:
                        value = line[metric["Name"]]  # EMF: a number, or a list of them
                        found[metric["Name"]] = sum(value) if isinstance(value, list) else value
                        if metric["Name"] == "ReportsServed":
                            found["ReportsServed.cache_state"] = line["cache_state"]
        return found


class ZipFunction:
    """The unpacked zip in its own Python, with nothing but the standard library, the zip's
    contents and boto3 on its path; events go in on stdin, answers come out on stdout."""

    def __init__(self, task: Path, runtime: Path, env: dict[str, str], stderr: Path) -> None:
        self.task, self.runtime = task, runtime
        self._stderr = stderr.open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-I",
                "-S",
                str(RUNTIME),
                str(task),
                str(runtime),
                "app.app",
            ],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.stderr = stderr

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put("")

    def send(self, line: str) -> tuple[Any, list[str]]:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        printed: list[str] = []
        while True:
            try:
                got = self._lines.get(timeout=60)
            except queue.Empty:
                raise AssertionError("the function did not answer in 60 s") from None
            if got.startswith("RESULT "):
                return json.loads(got.removeprefix("RESULT ")), printed
            if got == "" and self.process.poll() is not None:
                raise AssertionError("the function died:\n" + self.stderr.read_text())
            printed.append(got)

    def invoke(self, event: dict[str, Any]) -> Answer:
        result, printed = self.send(json.dumps(event))
        headers = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers.setdefault(name.lower(), values[-1])
        return Answer(result["statusCode"], headers, result.get("body") or "", printed)

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._stderr.close()


@pytest.fixture
def moto_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto in server mode on loopback: the zip's process reaches it over HTTP."""
    import requests
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    endpoint = "http://{}:{}".format(*server.get_host_and_port())
    requests.post(endpoint + "/moto-api/reset", timeout=10).raise_for_status()
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    try:
        yield endpoint
    finally:
        requests.post(endpoint + "/moto-api/reset", timeout=10)
        server.stop()


@pytest.fixture
def zip_function(
    packaged: Path, template: dict[str, Any], moto_server: str, x_emulator: Any, tmp_path: Path
) -> Iterator[ZipFunction]:
    """The API function from build/deployment.zip, its environment from build/sam.json."""
    import boto3

    from local.resources import Provisioner

    task = tmp_path / "task"
    zipfile.ZipFile(packaged / "deployment.zip").extractall(task)
    runtime = _lambda_runtime(tmp_path / "runtime")
    x_app = json.dumps({"consumer_key": CONSUMER_KEY, "consumer_secret": CONSUMER_SECRET})
    provisioner = Provisioner(boto3.Session(), STACK, {"XAppSecret": x_app})
    provisioner.provision(template)
    defaults = {name: spec.get("Default", "") for name, spec in template["Parameters"].items()}
    variables = template["Resources"]["APIHandler"]["Properties"]["Environment"]["Variables"]
    resolved = {
        name: _resolve(value, provisioner.refs, defaults) for name, value in variables.items()
    }
    env = {name: value for name, value in resolved.items() if value is not None}
    assert "PUBLIC_URL" not in env  # PublicUrl left empty: the API's own URL, from SSM
    # What CloudFormation puts in the parameter once the API exists (PublicUrl is empty).
    boto3.client("ssm").put_parameter(
        Name=env["PUBLIC_URL_PARAMETER"], Value=API_URL, Type="String"
    )
    env.update(
        {
            "PATH": os.environ["PATH"],
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_LAMBDA_FUNCTION_NAME": "responsetime-api",
            "LAMBDA_TASK_ROOT": str(task),
            # The two things that are not AWS's or the template's: where AWS and X are.
            "AWS_ENDPOINT_URL": moto_server,
            "X_API_BASE_URL": x_emulator.base_url,
        }
    )
    function = ZipFunction(task, runtime, env, tmp_path / "stderr.txt")
    try:
        yield function
    finally:
        function.close()


def _cookie(answer: Answer) -> str:
    return answer.headers["set-cookie"].split(";", 1)[0]


def test_the_zip_alone_signs_a_person_in_behind_api_gateway(
    zip_function: ZipFunction, x_emulator: Any
) -> None:
    import boto3
    import requests

    # GIVEN the deployed package, its environment from the template, PublicUrl left empty
    # WHEN a person opens /auth at the API's own URL
    auth = zip_function.invoke(api_gateway_event("GET", "/auth", "req-auth-0001"))

    # THEN X is asked for a request token, with the callback under the stage's path
    assert auth.status == 302, auth.body
    authorize_url = auth.headers["location"]
    assert authorize_url.startswith(x_emulator.base_url + "/oauth/authenticate?oauth_token=")
    assert auth.headers["set-cookie"].startswith("__Host-session=")
    assert "Secure" in auth.headers["set-cookie"]
    assert auth.headers["strict-transport-security"].startswith("max-age=")
    assert "frame-ancestors 'none'" in auth.headers["content-security-policy"]
    table = next(n for n in boto3.client("dynamodb").list_tables()["TableNames"] if "Sessions" in n)
    items = boto3.client("dynamodb").scan(TableName=table)["Items"]
    assert [item["kind"]["S"] for item in items].count("pending") == 1  # her pending login
    # ... and the operator's CloudWatch gets a JSON log line and EMF metrics for it
    [started] = [line for line in auth.json_lines() if line.get("message") == "sign-in started"]
    assert started["correlation_id"] == "req-auth-0001"
    assert started["function_name"] == "responsetime-api"
    assert auth.metrics()["SignInStarted"] == 1.0

    # WHEN she authorizes the app at X, which sends her back to the public URL
    token = parse_qs(urlsplit(authorize_url).query)["oauth_token"][0]
    at_x = requests.post(
        x_emulator.base_url + "/oauth/authorize",
        data={"oauth_token": token, "username": "fastbrand", "action": "authorize"},
        allow_redirects=False,
        timeout=10,
    )
    back = urlsplit(at_x.headers["location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == API_URL + "/callback"
    query = {k: v[0] for k, v in parse_qs(back.query).items()}
    callback = zip_function.invoke(
        api_gateway_event("GET", "/callback", "req-cb-0002", _cookie(auth), query)
    )

    # THEN she is signed in and sent to the report, under the stage's path
    assert callback.status == 302, callback.body
    assert callback.headers["location"] == "/api/report"
    assert callback.metrics()["SignInCompleted"] == 1.0

    report = zip_function.invoke(
        api_gateway_event("GET", "/report", "req-report-0003", _cookie(callback))
    )
    assert report.status == 200, report.body
    assert "@fastbrand" in report.body
    assert 'href="/api/static/app.css"' in report.body and 'action="/api/logout"' in report.body
    assert report.headers["cache-control"] == "no-store"
    figures = report.metrics()
    assert figures["ReportsServed.cache_state"] == "refreshed"
    assert figures["XPostsRead"] > 0

    # AND no cookie, verifier or token value is in anything the function printed
    printed = "\n".join(auth.printed + callback.printed + report.printed)
    for secret_value in (
        _cookie(auth).split("=", 1)[1],
        _cookie(callback).split("=", 1)[1],
        query["oauth_verifier"],
    ):
        assert secret_value not in printed

    # AND it ran on the zip, the standard library and boto3 alone, with no X-Ray SDK
    origins, _ = zip_function.send("MODULES")
    allowed = (str(zip_function.task), str(zip_function.runtime), sys.base_prefix, str(RUNTIME))
    strays = {name: path for name, path in origins.items() if not path.startswith(allowed)}
    assert strays == {}
    assert not any(name.startswith("aws_xray_sdk") for name in origins)


def test_the_zip_answers_a_wrong_method_head_and_a_bodiless_sign_out_as_ours(
    zip_function: ZipFunction,
) -> None:
    # WHEN API Gateway hands the function GET /logout (every method of a path reaches it)
    wrong = zip_function.invoke(api_gateway_event("GET", "/logout", "req-405-0001"))
    # THEN our 405 page with Allow, and the headers of every page, HSTS included
    assert wrong.status == 405, wrong.body
    assert wrong.headers["allow"] == "POST"
    assert "<h1>Not available this way</h1>" in wrong.body
    assert 'href="/api/static/app.css"' in wrong.body
    assert wrong.headers["strict-transport-security"].startswith("max-age=")
    assert wrong.headers["x-content-type-options"] == "nosniff"

    # WHEN a monitor asks HEAD /: GET's answer without the body
    get = zip_function.invoke(api_gateway_event("GET", "/", "req-get-0002"))
    head = zip_function.invoke(api_gateway_event("HEAD", "/", "req-head-0003"))
    assert head.status == get.status == 200
    assert head.body == "" and "Sign in with X" in get.body
    assert head.headers["content-security-policy"] == get.headers["content-security-policy"]

    # WHEN a script posts to /logout with no body and no Content-Type
    out = zip_function.invoke(api_gateway_event("POST", "/logout", "req-out-0004"))
    # THEN the sign-out's answer: home, under the stage's path
    assert out.status == 303, out.body
    assert out.headers["location"] == "/api/"


# --- make deploy, and a custom domain --------------------------------------------------


def test_make_deploy_runs_the_readme_s_cloudformation_commands(
    packaged: Path, tmp_path: Path
) -> None:
    # GIVEN an `aws` on the PATH that only writes down how it was called
    calls = tmp_path / "calls.txt"
    fake = tmp_path / "bin" / "aws"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    fake.chmod(0o755)
    env = {**_without_aws_credentials(), "PATH": f"{fake.parent}:{os.environ['PATH']}"}

    def make_deploy(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["make", "--no-print-directory", "deploy", *args],
            cwd=PROJECT_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )

    # WHEN the operator forgets the bucket, THEN she is told what to give
    refused = make_deploy()
    assert refused.returncode != 0 and "DEPLOY_BUCKET=" in refused.stderr
    assert not calls.exists()

    # WHEN she deploys with a bucket and her domain
    done = make_deploy(
        "DEPLOY_BUCKET=my-artifacts", "STACK=rt-test", "PUBLIC_URL=https://rt.example.com"
    )
    assert done.returncode == 0, done.stdout + done.stderr

    # THEN the freshly packaged template is uploaded and deployed as one stack
    package, deploy, outputs = calls.read_text().splitlines()
    assert package.startswith("cloudformation package --template-file build/sam.json")
    assert "--s3-bucket my-artifacts" in package
    assert "--output-template-file build/packaged.json" in package
    assert deploy.startswith("cloudformation deploy --template-file build/packaged.json")
    assert "--stack-name rt-test" in deploy
    assert "--capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND" in deploy
    assert "--parameter-overrides PublicUrl=https://rt.example.com" in deploy
    assert outputs.startswith("cloudformation describe-stacks --stack-name rt-test")
    assert (BUILD / "sam.json").is_file() and (BUILD / "deployment.zip").is_file()

    # WHEN she deploys again with load parameters of her own and no domain
    calls.unlink()
    done = make_deploy(
        "DEPLOY_BUCKET=my-artifacts",
        "PARAMETERS=ApiThrottlingRateLimit=50 ApiReservedConcurrency=0",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # THEN exactly those go to CloudFormation (PublicUrl keeps its value)
    deploy = calls.read_text().splitlines()[1]
    assert deploy.endswith(
        "--parameter-overrides ApiThrottlingRateLimit=50 ApiReservedConcurrency=0"
    ), deploy


def test_a_custom_domain_packages_and_lints(packaged: Path, tmp_path: Path) -> None:
    # GIVEN the project with a custom domain for prod, as the README's "Custom domain" says
    project = tmp_path / "project"
    project.mkdir()
    for name in ("app.py", "requirements.txt"):
        shutil.copy(PROJECT_DIR / name, project / name)
    for name in ("chalicelib", "infra", ".chalice"):
        shutil.copytree(
            PROJECT_DIR / name, project / name, ignore=shutil.ignore_patterns("__pycache__")
        )
    config_file = project / ".chalice" / "config.json"
    config = json.loads(config_file.read_text())
    config["stages"]["prod"]["api_gateway_custom_domain"] = {
        "domain_name": "rt.example.com",
        "certificate_arn": CERTIFICATE_ARN,
    }
    config_file.write_text(json.dumps(config))

    # WHEN it is packaged as `make package` does
    result = subprocess.run(
        [
            str(BIN / "chalice"),
            "package",
            "--stage",
            "prod",
            "--merge-template",
            "infra/resources.json",
            "out/",
        ],
        cwd=project,
        env={**_without_aws_credentials(), "AWS_DEFAULT_REGION": "us-east-1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr

    # THEN the domain maps to the API at its root, and the template is as clean as before
    domain_template = template_checks.load(project / "out" / "sam.json")
    mapping = domain_template["Resources"]["ApiGatewayCustomDomainMapping"]["Properties"]
    assert mapping["BasePath"] == "(none)"  # so PublicUrl is https://rt.example.com, no path
    lint = subprocess.run(
        [str(BIN / "cfn-lint"), str(project / "out" / "sam.json")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    domain_translated = template_checks.translate(domain_template)
    assert template_checks.dependency_cycle(domain_translated) is None
    assert template_checks.role_problems(domain_translated) == []
    assert template_checks.transport_problems(domain_translated) == []
    assert template_checks.api_answer_problems(domain_translated) == []


def test_public_url_parameter_accepts_what_the_readme_says() -> None:
    import re

    from local.resources import load_template

    pattern = re.compile(load_template()["Parameters"]["PublicUrl"]["AllowedPattern"])
    for accepted in ("", "https://rt.example.com", "https://example.com/responsetime"):
        assert pattern.fullmatch(accepted), accepted
    for refused in ("http://rt.example.com", "https://rt.example.com/", "rt.example.com"):
        assert not pattern.fullmatch(refused), refused


def test_the_api_passes_the_workbook_through_to_a_browser(template: dict[str, Any]) -> None:
    """API Gateway decides "binary" by the request's first Accept type, and a browser's is
    text/html: only `*/*` lets /report.xlsx reach a browser as bytes, not base64 text
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-payload-encodings.html).
    Text answers stay as they are: the function flags only the workbook as base64."""
    definition = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    assert definition["x-amazon-apigateway-binary-media-types"] == ["*/*"]
