"""Checks of the packaged template that CloudFormation would otherwise make only at deploy
time, shared by tests/test_deploy.py and CI:

    python -m tests.template_checks build/sam.json

- SAM's own translator (aws-sam-translator, what CloudFormation runs for the
  `AWS::Serverless-2016-10-31` transform) turns it into plain CloudFormation;
- no resource depends on itself through Ref, GetAtt, Sub or DependsOn (a cycle that
  cfn-lint does not see when it runs through the API's OpenAPI body);
- every IAM grant is least privilege: no `*` action, no `*` resource, every resource one
  of this stack's, a wildcard only as the last segment under it (`<bucket>/accounts/*`);
- every bucket and every queue refuses requests made without TLS, whoever makes them (a
  bucket or queue policy that denies `aws:SecureTransport` false);
- what API Gateway answers by itself is ours: the REST API's body customizes the gateway
  responses of GATEWAY_RESPONSE_TYPES with the headers of every page, and every path has
  every method (so a wrong method reaches the function, for our 405 with Allow).
"""

from __future__ import annotations

import copy
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from local.resources import SUB_NAME, references

PROJECT_DIR = Path(__file__).resolve().parent.parent
POLICY_FILES = sorted((PROJECT_DIR / ".chalice").glob("policy-*.json"))
PLACEHOLDER_CODE_URI = "s3://deployment-bucket/responsetime/deployment.zip"
TLS_ONLY_CONDITIONS = (
    {"Bool": {"aws:SecureTransport": "false"}},
    {"Bool": {"aws:SecureTransport": False}},
)
# The answers API Gateway makes without calling the function that a person can meet: no
# such path (MISSING_AUTHENTICATION_TOKEN, our 404), the stage's throttle (429), and the
# defaults of every other 4xx and 5xx.
GATEWAY_RESPONSE_TYPES = ("MISSING_AUTHENTICATION_TOKEN", "THROTTLED", "DEFAULT_4XX", "DEFAULT_5XX")
API_METHODS = ("get", "head", "post", "put", "patch", "delete", "options")


def load(path: Path) -> dict[str, Any]:
    template: dict[str, Any] = json.loads(path.read_text())
    return template


def translate(template: dict[str, Any]) -> dict[str, Any]:
    """Plain CloudFormation, as the transform makes it. CodeUri becomes an S3 URI first, as
    `aws cloudformation package` makes it; no AWS call is made (no managed policy names)."""
    from samtranslator.translator.transform import transform

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    fragment = copy.deepcopy(template)
    for resource in fragment["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = PLACEHOLDER_CODE_URI
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    translated: dict[str, Any] = transform(fragment, {}, NoManagedPolicies())
    return translated


def dependency_cycle(template: dict[str, Any]) -> list[str] | None:
    """One cycle among the resources, as a path that ends where it starts, or None."""
    resources = template["Resources"]
    edges = {
        name: sorted({ref for ref in references(body) if ref in resources and ref != name})
        for name, body in resources.items()
    }
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(name: str, path: list[str]) -> list[str] | None:
        if state.get(name) == 1:
            return [*path[path.index(name) :], name]
        if state.get(name) == 2:
            return None
        state[name] = 1
        for target in edges[name]:
            found = visit(target, [*path, name])
            if found:
                return found
        state[name] = 2
        return None

    for name in edges:
        found = visit(name, [])
        if found:
            return found
    return None


def render(value: Any) -> str:
    """A resource of a policy as text: references become <Name> or <Name.Attribute>."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        return f"<{'.'.join(target) if isinstance(target, list) else target}>"
    if isinstance(value, dict) and "Fn::Sub" in value:
        text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
        return SUB_NAME.sub(lambda match: f"<{match.group(1)}>", text)
    return json.dumps(value)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def grant_problems(document: dict[str, Any], resources: set[str], where: str) -> list[str]:
    """Why a policy document is not least privilege; empty when it is.

    `resources` are the template's logical ids: every resource a statement names must be
    one of them or named after the stack (<AWS::StackName>)."""
    problems = []
    for index, statement in enumerate(_as_list(document.get("Statement", []))):
        at = f"{where} statement {statement.get('Sid', index)}"
        if statement.get("Effect") != "Allow" or "NotAction" in statement:
            problems.append(f"{at}: only plain Allow statements are expected")
        if "NotResource" in statement:
            problems.append(f"{at}: NotResource grants everything else")
        for action in _as_list(statement.get("Action", [])):
            if not isinstance(action, str) or "*" in action or ":" not in action:
                problems.append(f"{at}: action {action!r} is not one named action")
        for resource in _as_list(statement.get("Resource", [])):
            text = render(resource)
            named = re.findall(r"<([^>.]+)", text)
            ours = [name for name in named if name in resources or name == "AWS::StackName"]
            if text == "*" or not ours:
                problems.append(f"{at}: resource {text!r} is not one of this stack's")
                continue
            stem = text[:-2] if text.endswith(("/*", ":*")) else text
            if "*" in stem:
                problems.append(f"{at}: resource {text!r} has a wildcard before its last segment")
    return problems


def role_problems(translated: dict[str, Any]) -> list[str]:
    """Every function has a role of its own in the stack, with only inline least-privilege
    policies (a managed policy would be a grant no one here has read)."""
    resources = translated["Resources"]
    names = set(resources)
    problems = []
    roles_seen: dict[str, str] = {}
    for name, body in resources.items():
        if body["Type"] == "AWS::Lambda::Function":
            role = body["Properties"].get("Role", {})
            role_name = str(role.get("Fn::GetAtt", [""])[0]) if isinstance(role, dict) else ""
            if role_name not in resources:
                problems.append(f"{name}: its role is not one of the stack's ({role!r})")
            elif role_name in roles_seen:
                problems.append(f"{name} shares role {role_name} with {roles_seen[role_name]}")
            else:
                roles_seen[role_name] = name
        if body["Type"] == "AWS::IAM::Role":
            props = body["Properties"]
            if props.get("ManagedPolicyArns"):
                problems.append(f"{name}: managed policies {props['ManagedPolicyArns']}")
            for policy in props.get("Policies", []):
                problems.extend(grant_problems(policy["PolicyDocument"], names, name))
    return problems


def _refuses_plain_http(document: dict[str, Any], action: str, covered: set[str]) -> bool:
    """Whether a resource policy denies `action` on every one of `covered` to anyone who
    comes without TLS."""
    for statement in _as_list(document.get("Statement", [])):
        condition = statement.get("Condition")
        if (
            statement.get("Effect") == "Deny"
            and statement.get("Principal") in ("*", {"AWS": "*"})
            and action in _as_list(statement.get("Action", []))
            and condition in TLS_ONLY_CONDITIONS
            and covered <= {render(resource) for resource in _as_list(statement["Resource"])}
        ):
            return True
    return False


def transport_problems(template: dict[str, Any]) -> list[str]:
    """Each bucket and queue that a request without TLS could still reach; empty when none."""
    resources = template["Resources"]
    problems = []
    for name, body in resources.items():
        kind = body.get("Type")
        if kind == "AWS::S3::Bucket":
            documents = [
                policy["Properties"]["PolicyDocument"]
                for policy in resources.values()
                if policy.get("Type") == "AWS::S3::BucketPolicy"
                and policy["Properties"]["Bucket"] == {"Ref": name}
            ]
            covered, action = {f"<{name}.Arn>", f"<{name}.Arn>/*"}, "s3:*"
        elif kind == "AWS::SQS::Queue":
            documents = [
                policy["Properties"]["PolicyDocument"]
                for policy in resources.values()
                if policy.get("Type") == "AWS::SQS::QueuePolicy"
                and {"Ref": name} in policy["Properties"]["Queues"]
            ]
            covered, action = {f"<{name}.Arn>"}, "sqs:*"
        else:
            continue
        if not any(_refuses_plain_http(document, action, covered) for document in documents):
            problems.append(f"{name}: no {kind} policy refuses requests without TLS")
    return problems


def api_answer_problems(translated: dict[str, Any]) -> list[str]:
    """Where API Gateway would answer by itself, without our page and headers; empty when
    nowhere. The gateway responses must be in the REST API's body: there every deployment
    of the API carries them, where a separate AWS::ApiGateway::GatewayResponse is dropped
    by the next deployment of an API defined by its body (aws/serverless-application-model
    issues 390 and 623)."""
    from chalicelib.pages import security_headers

    resources = translated["Resources"]
    headers = {
        f"gatewayresponse.header.{name}": f"'{value}'"
        for name, value in security_headers(hsts=True).items()
    }
    problems = [
        f"{name}: AWS::ApiGateway::GatewayResponse, lost at the next deployment"
        for name, body in resources.items()
        if body["Type"] == "AWS::ApiGateway::GatewayResponse"
    ]
    for name, body in resources.items():
        if body["Type"] != "AWS::ApiGateway::RestApi":
            continue
        definition = body["Properties"]["Body"]
        customized = definition.get("x-amazon-apigateway-gateway-responses", {})
        for kind in GATEWAY_RESPONSE_TYPES:
            response = customized.get(kind)
            if response is None:
                problems.append(f"{name}: API Gateway answers {kind} in its own words")
                continue
            parameters = response.get("responseParameters", {})
            wrong = sorted(h for h, v in headers.items() if parameters.get(h) != v)
            if wrong:
                problems.append(f"{name}: {kind} lacks {wrong}")
            if set(response.get("responseTemplates", {})) != {"text/html", "application/json"}:
                problems.append(f"{name}: {kind} has no page and no JSON")
        for path, methods in definition.get("paths", {}).items():
            missing = [method for method in API_METHODS if method not in methods]
            if missing:
                problems.append(f"{name}: API Gateway answers {missing} on {path} by itself")
    return problems


def main(argv: list[str]) -> int:
    path = Path(argv[0] if argv else "build/sam.json")
    template = load(path)
    translated = translate(template)
    functions = [
        n for n, r in translated["Resources"].items() if r["Type"] == "AWS::Lambda::Function"
    ]
    print(
        f"{path}: aws-sam-translator made {len(translated['Resources'])} resources, "
        f"{len(functions)} functions ({', '.join(functions)})"
    )
    problems = (
        role_problems(translated) + transport_problems(translated) + api_answer_problems(translated)
    )
    cycle = dependency_cycle(translated)
    if cycle:
        problems.append("dependency cycle: " + " -> ".join(cycle))
    for problem in problems:
        print("  " + problem)
    print("no problems" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
