"""Create the resources of infra/resources.json in moto, and the environment they imply.

The same file is merged into the deployed CloudFormation template, so the local stack and
production are built from one definition. Only the resource types the app uses are known
here, and each property of theirs is either applied to moto (and read back by
tests/test_local_resources.py) or named in `DEPLOY_ONLY` with the reason it is not: a
setting added to the template and forgotten here fails that test. `Ref`, `Fn::GetAtt` and
`Fn::Sub` resolve to the local names.
"""

from __future__ import annotations

import json
import re
import secrets
import string
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

RESOURCES_FILE = Path(__file__).resolve().parent.parent / "infra" / "resources.json"
FUNCTION_TYPES = {"AWS::Serverless::Function", "AWS::Lambda::Function", None}

# The properties each creator below applies to moto, by resource type.
LOCAL_PROPERTIES: dict[str, frozenset[str]] = {
    "AWS::DynamoDB::Table": frozenset(
        {
            "TableName",
            "BillingMode",
            "AttributeDefinitions",
            "KeySchema",
            "GlobalSecondaryIndexes",
            "TimeToLiveSpecification",
            "PointInTimeRecoverySpecification",
            "SSESpecification",
        }
    ),
    "AWS::S3::Bucket": frozenset(
        {
            "BucketName",
            "PublicAccessBlockConfiguration",
            "BucketEncryption",
            "OwnershipControls",
            "VersioningConfiguration",
            "LifecycleConfiguration",
        }
    ),
    "AWS::S3::BucketPolicy": frozenset({"Bucket", "PolicyDocument"}),
    "AWS::SecretsManager::Secret": frozenset(
        {"Name", "Description", "SecretString", "GenerateSecretString"}
    ),
    "AWS::SQS::Queue": frozenset(
        {
            "QueueName",
            "VisibilityTimeout",
            "MessageRetentionPeriod",
            "DelaySeconds",
            "SqsManagedSseEnabled",
            "RedrivePolicy",
        }
    ),
    "AWS::SQS::QueuePolicy": frozenset({"Queues", "PolicyDocument"}),
}
_CHALICE_RUNS_THEM = (
    "Chalice's functions and API, with settings merged in: `chalice local`, chalice's test "
    "client and tests/test_deploy.py's zip run them locally"
)
# Resource types (or "Type.Property") the local stack does not create, and why.
DEPLOY_ONLY: dict[str | None, str] = {
    None: _CHALICE_RUNS_THEM,
    "AWS::Serverless::Function": _CHALICE_RUNS_THEM,
    "AWS::Lambda::Function": _CHALICE_RUNS_THEM,
    "AWS::SSM::Parameter": (
        "holds the API's own URL, known once deployed; the local stack sets PUBLIC_URL"
    ),
    "AWS::Logs::LogGroup": (
        "where Lambda and API Gateway write; locally logs go to the console and metrics to "
        "build/metrics.jsonl"
    ),
}
# A bucket policy statement that refuses plain HTTP is left out locally: the local stack
# reaches moto over plain HTTP on loopback, which the statement rightly refuses, and moto
# does not evaluate its `Bool` condition at all (moto/iam/policy_conditions.py knows only
# StringEquals), so it would refuse every object request, over TLS or not. Queue policies
# keep it: moto stores them and enforces none.
_TRANSPORT_CONDITIONS = (
    {"Bool": {"aws:SecureTransport": "false"}},
    {"Bool": {"aws:SecureTransport": False}},
)
SUB_NAME = re.compile(r"\$\{([^}!][^}]*)\}")


def load_template(path: Path = RESOURCES_FILE) -> dict[str, Any]:
    template: dict[str, Any] = json.loads(path.read_text())
    return template


def unmatched_properties(template: Mapping[str, Any]) -> list[str]:
    """Each resource type or property of `template` that the local stack neither applies
    nor names in DEPLOY_ONLY; empty when local and deployed are built alike."""
    unmatched = []
    for logical_id, resource in template["Resources"].items():
        kind = resource.get("Type")
        if kind in DEPLOY_ONLY:
            continue
        if kind not in LOCAL_PROPERTIES:
            unmatched.append(f"{logical_id}: {kind} is neither created locally nor deploy-only")
            continue
        for name in resource.get("Properties", {}):
            if name not in LOCAL_PROPERTIES[kind] and f"{kind}.{name}" not in DEPLOY_ONLY:
                unmatched.append(f"{logical_id}.{name} ({kind}) is not applied locally")
    return unmatched


def is_transport_rule(statement: Mapping[str, Any]) -> bool:
    """A statement that only refuses requests made without TLS."""
    return statement.get("Effect") == "Deny" and statement.get("Condition") in _TRANSPORT_CONDITIONS


def references(node: Any) -> Iterator[str]:
    """The names a piece of template refers to: Ref, GetAtt, ${...} in Sub, DependsOn."""
    if isinstance(node, list):
        for item in node:
            yield from references(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                yield value
            elif key == "Fn::GetAtt":
                yield value[0] if isinstance(value, list) else str(value).split(".")[0]
            elif key == "Fn::Sub":
                text, variables = (value, {}) if isinstance(value, str) else value
                for name in SUB_NAME.findall(text):
                    if name.split(".")[0] not in variables:
                        yield name.split(".")[0]
                yield from references(variables)
            elif key == "DependsOn":
                yield from [value] if isinstance(value, str) else value
            else:
                yield from references(value)


def creation_order(resources: Mapping[str, Any]) -> list[str]:
    """The resources the local stack creates, each after those it refers to (a queue after
    its dead-letter queue, a bucket policy after its bucket)."""
    local = {lid for lid, body in resources.items() if body.get("Type") in LOCAL_PROPERTIES}
    order: list[str] = []

    def visit(logical_id: str, path: tuple[str, ...]) -> None:
        if logical_id in order:
            return
        if logical_id in path:
            raise ValueError("dependency cycle: " + " -> ".join((*path, logical_id)))
        for name in sorted(set(references(resources[logical_id])) & local):
            visit(name, (*path, logical_id))
        order.append(logical_id)

    for logical_id in sorted(local):
        visit(logical_id, ())
    return order


def _generated_secret(spec: Mapping[str, Any]) -> str:
    alphabet = string.ascii_letters + string.digits
    if not spec.get("ExcludePunctuation"):
        alphabet += "!#$%&()*+,-.:;<=>?@[]^_{|}~"
    value = "".join(secrets.choice(alphabet) for _ in range(int(spec.get("PasswordLength", 32))))
    document = json.loads(spec.get("SecretStringTemplate", "{}"))
    document[spec["GenerateStringKey"]] = value
    return json.dumps(document)


# CloudFormation's name in a lifecycle rule -> the path of the S3 API's name for it
# (PutBucketLifecycleConfiguration). A rule using any other property is refused, not
# half applied.
_LIFECYCLE_RULE = {
    "Id": ("ID",),
    "Status": ("Status",),
    "Prefix": ("Filter", "Prefix"),
    "ExpirationInDays": ("Expiration", "Days"),
    "ExpirationDate": ("Expiration", "Date"),
    "ExpiredObjectDeleteMarker": ("Expiration", "ExpiredObjectDeleteMarker"),
    # {NoncurrentDays, NewerNoncurrentVersions} and {DaysAfterInitiation}: the same names
    "NoncurrentVersionExpiration": ("NoncurrentVersionExpiration",),
    "AbortIncompleteMultipartUpload": ("AbortIncompleteMultipartUpload",),
}


def lifecycle_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """One rule of a bucket's LifecycleConfiguration in the S3 API's words."""
    untranslated = sorted(set(rule) - set(_LIFECYCLE_RULE))
    if untranslated:
        raise ValueError(f"lifecycle rule {rule.get('Id')}: no S3 API name for {untranslated}")
    s3_rule: dict[str, Any] = {"Filter": {"Prefix": ""}}  # no prefix: the whole bucket
    for name, value in rule.items():
        *parents, leaf = _LIFECYCLE_RULE[name]
        target = s3_rule
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = value
    return s3_rule


def bucket_encryption(encryption: Mapping[str, Any]) -> dict[str, Any]:
    """BucketEncryption's ServerSideEncryptionConfiguration in the S3 API's words."""
    rules = []
    for rule in encryption["ServerSideEncryptionConfiguration"]:
        s3_rule = {k: v for k, v in rule.items() if k != "ServerSideEncryptionByDefault"}
        if "ServerSideEncryptionByDefault" in rule:
            s3_rule["ApplyServerSideEncryptionByDefault"] = rule["ServerSideEncryptionByDefault"]
        rules.append(s3_rule)
    return {"Rules": rules}


class Provisioner:
    """Creates each resource once; `refs[logical_id]` and `arns[logical_id]` hold what Ref
    and GetAtt Arn give."""

    def __init__(self, session: Any, prefix: str, secret_values: Mapping[str, str]) -> None:
        self._session = session
        self._prefix = prefix
        self._secret_values = secret_values
        self.refs: dict[str, str] = {}
        self.arns: dict[str, str] = {}

    def _name(self, logical_id: str) -> str:
        return f"{self._prefix}-{logical_id}"

    def provision(self, template: Mapping[str, Any]) -> dict[str, str]:
        resources = template["Resources"]
        for logical_id in creation_order(resources):
            resource = resources[logical_id]
            create = getattr(self, "_" + str(resource["Type"]).replace("::", "_"))
            create(logical_id, resource.get("Properties", {}))
        return self.environment(template)

    def environment(self, template: Mapping[str, Any]) -> dict[str, str]:
        """Every function's environment variables, with Ref/GetAtt resolved locally."""
        env: dict[str, str] = {}
        for resource in template["Resources"].values():
            if resource.get("Type") not in FUNCTION_TYPES:
                continue
            variables = resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
            for name, value in variables.items():
                resolved = self.resolve(value)
                if resolved is not None:
                    env[name] = resolved
        return env

    def resolve(self, value: Any) -> str | None:
        """A value's local meaning; None for what exists only deployed (the stack's name,
        the API's id, parameters): the local stack sets those itself."""
        if isinstance(value, str):
            return value
        if isinstance(value, dict) and "Ref" in value:
            return self.refs.get(value["Ref"])
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            return self.arns.get(logical_id) if attribute == "Arn" else None
        if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str):
            parts = {name: self._sub_value(name) for name in SUB_NAME.findall(value["Fn::Sub"])}
            if None in parts.values():
                return None
            return SUB_NAME.sub(lambda match: str(parts[match.group(1)]), value["Fn::Sub"])
        return None

    def _sub_value(self, name: str) -> str | None:
        if name == "AWS::Partition":
            return "aws"
        if name.endswith(".Arn"):
            return self.arns.get(name.removesuffix(".Arn"))
        return self.refs.get(name)

    def document(self, node: Any) -> Any:
        """A policy document (or any part of the template) with every reference resolved."""
        if isinstance(node, list):
            return [self.document(item) for item in node]
        if isinstance(node, dict) and {"Ref", "Fn::GetAtt", "Fn::Sub"} & set(node):
            resolved = self.resolve(node)
            if resolved is None:
                raise ValueError(f"no local value for {node}")
            return resolved
        if isinstance(node, dict):
            return {key: self.document(value) for key, value in node.items()}
        return node

    def _AWS_DynamoDB_Table(self, logical_id: str, props: Mapping[str, Any]) -> None:
        client = self._session.client("dynamodb")
        name = props.get("TableName", self._name(logical_id))
        kwargs: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if props.get("GlobalSecondaryIndexes"):
            kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        if "SSESpecification" in props:  # CloudFormation's SSEEnabled is the API's Enabled
            sse = dict(props["SSESpecification"])
            kwargs["SSESpecification"] = {"Enabled": sse.pop("SSEEnabled"), **sse}
        answer = client.create_table(**kwargs)
        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            client.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
        recovery = props.get("PointInTimeRecoverySpecification")
        if recovery:
            client.update_continuous_backups(
                TableName=name, PointInTimeRecoverySpecification=recovery
            )
        self.refs[logical_id] = name
        self.arns[logical_id] = answer["TableDescription"]["TableArn"]

    def _AWS_SecretsManager_Secret(self, logical_id: str, props: Mapping[str, Any]) -> None:
        client = self._session.client("secretsmanager")
        if logical_id in self._secret_values:
            value = self._secret_values[logical_id]
        elif "GenerateSecretString" in props:
            value = _generated_secret(props["GenerateSecretString"])
        else:
            value = props.get("SecretString", "{}")
        answer = client.create_secret(
            Name=props.get("Name", self._name(logical_id)),
            Description=props.get("Description", ""),
            SecretString=value,
        )
        self.refs[logical_id] = answer["ARN"]  # Ref of a secret is its ARN
        self.arns[logical_id] = answer["ARN"]

    def _AWS_S3_Bucket(self, logical_id: str, props: Mapping[str, Any]) -> None:
        client = self._session.client("s3")
        name = props.get("BucketName", self._name(logical_id).lower())
        region = client.meta.region_name
        if region == "us-east-1":
            client.create_bucket(Bucket=name)
        else:
            client.create_bucket(
                Bucket=name, CreateBucketConfiguration={"LocationConstraint": region}
            )
        if "OwnershipControls" in props:
            client.put_bucket_ownership_controls(
                Bucket=name, OwnershipControls=props["OwnershipControls"]
            )
        if "PublicAccessBlockConfiguration" in props:
            client.put_public_access_block(
                Bucket=name,
                PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"],
            )
        if "BucketEncryption" in props:
            client.put_bucket_encryption(
                Bucket=name,
                ServerSideEncryptionConfiguration=bucket_encryption(props["BucketEncryption"]),
            )
        if "VersioningConfiguration" in props:
            client.put_bucket_versioning(
                Bucket=name, VersioningConfiguration=props["VersioningConfiguration"]
            )
        if "LifecycleConfiguration" in props:
            rules = props["LifecycleConfiguration"]["Rules"]
            client.put_bucket_lifecycle_configuration(
                Bucket=name,
                LifecycleConfiguration={"Rules": [lifecycle_rule(rule) for rule in rules]},
            )
        self.refs[logical_id] = name
        self.arns[logical_id] = f"arn:aws:s3:::{name}"

    def _AWS_S3_BucketPolicy(self, logical_id: str, props: Mapping[str, Any]) -> None:
        document = self.document(props["PolicyDocument"])
        kept = [s for s in document["Statement"] if not is_transport_rule(s)]
        if kept:  # see _TRANSPORT_CONDITIONS for what is left out, and why
            self._session.client("s3").put_bucket_policy(
                Bucket=self.document(props["Bucket"]),
                Policy=json.dumps({**document, "Statement": kept}),
            )

    def _AWS_SQS_Queue(self, logical_id: str, props: Mapping[str, Any]) -> None:
        client = self._session.client("sqs")
        attributes: dict[str, str] = {}
        for key in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds"):
            if key in props:
                attributes[key] = str(props[key])
        if "SqsManagedSseEnabled" in props:
            attributes["SqsManagedSseEnabled"] = str(props["SqsManagedSseEnabled"]).lower()
        redrive = props.get("RedrivePolicy")
        if redrive:
            target = self.resolve(redrive["deadLetterTargetArn"])
            attributes["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": target, "maxReceiveCount": redrive["maxReceiveCount"]}
            )
        url = client.create_queue(
            QueueName=props.get("QueueName", self._name(logical_id)), Attributes=attributes
        )["QueueUrl"]
        arn = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        self.refs[logical_id] = url  # Ref of a queue is its URL
        self.arns[logical_id] = arn

    def _AWS_SQS_QueuePolicy(self, logical_id: str, props: Mapping[str, Any]) -> None:
        client = self._session.client("sqs")
        policy = json.dumps(self.document(props["PolicyDocument"]))
        for url in self.document(props["Queues"]):
            client.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})


def provision(
    session: Any,
    *,
    x_consumer_key: str,
    x_consumer_secret: str,
    prefix: str = "responsetime-local",
    template: Mapping[str, Any] | None = None,
    x_oauth2_client: tuple[str, str] | None = None,
) -> dict[str, str]:
    """Create every resource in moto and return the environment the functions would get.
    With `x_oauth2_client` (client id and secret), the X app secret holds them too."""
    app_secret = {"consumer_key": x_consumer_key, "consumer_secret": x_consumer_secret}
    if x_oauth2_client is not None:
        app_secret["oauth2_client_id"], app_secret["oauth2_client_secret"] = x_oauth2_client
    x_app = json.dumps(app_secret)
    provisioner = Provisioner(session, prefix, {"XAppSecret": x_app})
    return provisioner.provision(template or load_template())
