"""Create the resources of infra/resources.json in moto, and the environment they imply.

The same file is merged into the deployed CloudFormation template, so the local stack and
production are built from one definition. Only the resource types the app uses are known
here; each is created with the properties that matter to behaviour (keys, indexes, TTL,
redrive). `Ref`/`Fn::GetAtt` in the functions' environment resolve to the local names.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any

RESOURCES_FILE = Path(__file__).resolve().parent.parent / "infra" / "resources.json"
FUNCTION_TYPES = {"AWS::Serverless::Function", "AWS::Lambda::Function", None}


def load_template(path: Path = RESOURCES_FILE) -> dict[str, Any]:
    template: dict[str, Any] = json.loads(path.read_text())
    return template


def _generated_secret(spec: Mapping[str, Any]) -> str:
    alphabet = string.ascii_letters + string.digits
    if not spec.get("ExcludePunctuation"):
        alphabet += "!#$%&()*+,-.:;<=>?@[]^_{|}~"
    value = "".join(secrets.choice(alphabet) for _ in range(int(spec.get("PasswordLength", 32))))
    document = json.loads(spec.get("SecretStringTemplate", "{}"))
    document[spec["GenerateStringKey"]] = value
    return json.dumps(document)


class Provisioner:
    """Creates each resource once; `physical[logical_id]` holds what Ref and GetAtt give."""

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
        # Dead-letter queues first: a queue's redrive policy names its DLQ's ARN.
        order = sorted(resources, key=lambda lid: "RedrivePolicy" in json.dumps(resources[lid]))
        for logical_id in order:
            resource = resources[logical_id]
            create = getattr(self, "_" + str(resource.get("Type", "")).replace("::", "_"), None)
            if create is not None:
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
        if isinstance(value, str):
            return value
        if isinstance(value, dict) and "Ref" in value:
            return self.refs.get(value["Ref"])
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            if attribute == "Arn":
                return self.arns.get(logical_id)
        return None  # deploy-time only (Fn::Sub of API ids, ...): the local stack sets those

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
        answer = client.create_table(**kwargs)
        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            client.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
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
            Name=props.get("Name", self._name(logical_id)), SecretString=value
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
        self.refs[logical_id] = name
        self.arns[logical_id] = f"arn:aws:s3:::{name}"

    def _AWS_SQS_Queue(self, logical_id: str, props: Mapping[str, Any]) -> None:
        client = self._session.client("sqs")
        attributes: dict[str, str] = {}
        for key in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds"):
            if key in props:
                attributes[key] = str(props[key])
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


def provision(
    session: Any,
    *,
    x_consumer_key: str,
    x_consumer_secret: str,
    prefix: str = "responsetime-local",
    template: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """Create every resource in moto and return the environment the functions would get."""
    x_app = json.dumps({"consumer_key": x_consumer_key, "consumer_secret": x_consumer_secret})
    provisioner = Provisioner(session, prefix, {"XAppSecret": x_app})
    return provisioner.provision(template or load_template())
