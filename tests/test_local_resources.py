"""The local stack is built like the deployed one: every setting of infra/resources.json is
applied to moto and read back here, or local/resources.py says why it is deploy-only.

A property added to the template and not applied locally fails
`test_every_setting_of_the_template_is_applied_locally_or_said_why_not`; one applied wrongly
fails the read-back tests, which compare what moto answers with the template, in
CloudFormation's words.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from local import resources as local_resources
from local.resources import Provisioner, load_template

# The S3 API's name in a lifecycle rule -> CloudFormation's, to read moto's answer back in
# the template's words (the reverse of local/resources.py's translation, written apart).
S3_LIFECYCLE_TO_CLOUDFORMATION = {
    ("ID",): "Id",
    ("Status",): "Status",
    ("Filter", "Prefix"): "Prefix",
    ("Expiration", "Days"): "ExpirationInDays",
    ("Expiration", "Date"): "ExpirationDate",
    ("Expiration", "ExpiredObjectDeleteMarker"): "ExpiredObjectDeleteMarker",
    ("NoncurrentVersionExpiration",): "NoncurrentVersionExpiration",
    ("AbortIncompleteMultipartUpload",): "AbortIncompleteMultipartUpload",
}


@pytest.fixture
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture
def stack(template: dict[str, Any]) -> Iterator[Provisioner]:
    """The template's resources in moto, as the local stack and the tests create them."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        provisioner = Provisioner(boto3.Session(), "responsetime-local", {})
        provisioner.provision(template)
        yield provisioner


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {
        name: body["Properties"]
        for name, body in template["Resources"].items()
        if body.get("Type") == kind
    }


def _in_cloudformation_words(s3_rule: dict[str, Any]) -> dict[str, Any]:
    rule: dict[str, Any] = {}
    for path, name in S3_LIFECYCLE_TO_CLOUDFORMATION.items():
        value: Any = s3_rule
        for step in path:
            value = value.get(step) if isinstance(value, dict) else None
        if value not in (None, ""):  # an empty prefix is the whole bucket: no Prefix
            rule[name] = value
    known = {path[0] for path in S3_LIFECYCLE_TO_CLOUDFORMATION}
    assert set(s3_rule) <= known, f"moto answers {set(s3_rule) - known}: read it back here"
    return rule


# --- The census --------------------------------------------------------------------------


def test_every_setting_of_the_template_is_applied_locally_or_said_why_not(
    template: dict[str, Any],
) -> None:
    assert local_resources.unmatched_properties(template) == []
    for kind in local_resources.LOCAL_PROPERTIES:
        assert hasattr(Provisioner, "_" + kind.replace("::", "_")), f"nothing creates {kind}"
    assert all(reason.strip() for reason in local_resources.DEPLOY_ONLY.values())


def test_the_census_names_a_setting_or_a_type_the_local_stack_would_miss(
    template: dict[str, Any],
) -> None:
    # GIVEN the template with a bucket setting and a resource type the local stack ignores
    grown = copy.deepcopy(template)
    grown["Resources"]["ArchiveBucket"]["Properties"]["AccelerateConfiguration"] = {
        "AccelerationStatus": "Enabled"
    }
    grown["Resources"]["Alerts"] = {"Type": "AWS::SNS::Topic", "Properties": {}}

    # THEN both are named
    assert local_resources.unmatched_properties(grown) == [
        "ArchiveBucket.AccelerateConfiguration (AWS::S3::Bucket) is not applied locally",
        "Alerts: AWS::SNS::Topic is neither created locally nor deploy-only",
    ]


def test_each_resource_is_created_after_what_it_refers_to(template: dict[str, Any]) -> None:
    order = local_resources.creation_order(template["Resources"])
    assert order.index("RefreshDeadLetterQueue") < order.index("RefreshQueue")
    assert order.index("ArchiveBucket") < order.index("ArchiveBucketPolicy")
    assert order.index("RefreshQueue") < order.index("RefreshQueuePolicy")
    assert "ApiAccessLogGroup" not in order and "APIHandler" not in order

    looped = {
        "A": {"Type": "AWS::SQS::Queue", "Properties": {"X": {"Ref": "B"}}},
        "B": {"Type": "AWS::SQS::Queue", "Properties": {"X": {"Fn::Sub": "${A.Arn}"}}},
    }
    with pytest.raises(ValueError, match="dependency cycle"):
        local_resources.creation_order(looped)


# --- Translations CloudFormation -> S3 API ---------------------------------------------


def test_a_lifecycle_rule_is_put_in_the_s3_api_s_words() -> None:
    rule = {
        "Id": "ExpireOldReportVersions",
        "Status": "Enabled",
        "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        "ExpiredObjectDeleteMarker": True,
    }
    assert local_resources.lifecycle_rule(rule) == {
        "ID": "ExpireOldReportVersions",
        "Status": "Enabled",
        "Filter": {"Prefix": ""},
        "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        "Expiration": {"ExpiredObjectDeleteMarker": True},
    }
    dated = {"Status": "Enabled", "Prefix": "tmp/", "ExpirationInDays": 7}
    assert local_resources.lifecycle_rule(dated) == {
        "Status": "Enabled",
        "Filter": {"Prefix": "tmp/"},
        "Expiration": {"Days": 7},
    }
    # A property without a translation here is refused, not silently dropped
    with pytest.raises(ValueError, match="Transitions"):
        local_resources.lifecycle_rule({"Status": "Enabled", "Transitions": []})


def test_bucket_encryption_is_put_in_the_s3_api_s_words() -> None:
    encryption = {
        "ServerSideEncryptionConfiguration": [
            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}
        ]
    }
    assert local_resources.bucket_encryption(encryption) == {
        "Rules": [
            {
                "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                "BucketKeyEnabled": True,
            }
        ]
    }


# --- What moto holds, read back ----------------------------------------------------------


def test_the_bucket_in_moto_is_the_bucket_of_the_template(
    template: dict[str, Any], stack: Provisioner
) -> None:
    import boto3

    s3 = boto3.client("s3")
    for logical_id, props in _of_type(template, "AWS::S3::Bucket").items():
        bucket = stack.refs[logical_id]
        versioning = s3.get_bucket_versioning(Bucket=bucket)
        assert {"Status": versioning.get("Status")} == props["VersioningConfiguration"]
        rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
        assert [_in_cloudformation_words(rule) for rule in rules] == props[
            "LifecycleConfiguration"
        ]["Rules"]
        encryption = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
        assert [rule["ApplyServerSideEncryptionByDefault"] for rule in encryption["Rules"]] == [
            rule["ServerSideEncryptionByDefault"]
            for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        ]
        blocked = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert blocked == props["PublicAccessBlockConfiguration"]
        ownership = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]
        assert ownership == props["OwnershipControls"]


def test_the_bucket_policy_in_moto_is_the_template_s_less_its_tls_rule(
    template: dict[str, Any], stack: Provisioner
) -> None:
    import boto3
    from botocore.exceptions import ClientError

    s3 = boto3.client("s3")
    policies = _of_type(template, "AWS::S3::BucketPolicy")
    assert policies
    for props in policies.values():
        document = stack.document(props["PolicyDocument"])
        # The TLS rule stays deploy-only: the local stack speaks plain HTTP to moto, and moto
        # would apply the rule without its condition (local/resources.py says more).
        assert [s["Sid"] for s in document["Statement"] if local_resources.is_transport_rule(s)]
        kept = [s for s in document["Statement"] if not local_resources.is_transport_rule(s)]
        bucket = stack.document(props["Bucket"])
        if kept:
            held = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
            assert held["Statement"] == kept
        else:
            with pytest.raises(ClientError, match="NoSuchBucketPolicy"):
                s3.get_bucket_policy(Bucket=bucket)


def test_old_versions_outlive_a_delete_locally_as_they_do_deployed(stack: Provisioner) -> None:
    import boto3

    # GIVEN a report written twice, then deleted the way the archive deletes
    s3 = boto3.client("s3")
    bucket, key = stack.refs["ArchiveBucket"], "accounts/1234/report.json"
    for body in (b'{"v": 1}', b'{"v": 2}'):
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key}]})

    # THEN a listing no longer shows it, and yet both versions are still there (until the
    # bucket's lifecycle expires them, deployed; moto runs no lifecycle)
    assert s3.list_objects_v2(Bucket=bucket, Prefix="accounts/").get("KeyCount") == 0
    held = s3.list_object_versions(Bucket=bucket, Prefix="accounts/")
    assert len(held["Versions"]) == 2
    assert [marker["Key"] for marker in held["DeleteMarkers"]] == [key]


def test_the_queues_in_moto_are_the_queues_of_the_template(
    template: dict[str, Any], stack: Provisioner
) -> None:
    import boto3

    sqs = boto3.client("sqs")
    for logical_id, props in _of_type(template, "AWS::SQS::Queue").items():
        held = sqs.get_queue_attributes(QueueUrl=stack.refs[logical_id], AttributeNames=["All"])
        attributes = held["Attributes"]
        for name in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds"):
            if name in props:
                assert attributes[name] == str(props[name]), (logical_id, name)
        if "SqsManagedSseEnabled" in props:
            assert attributes["SqsManagedSseEnabled"] == str(props["SqsManagedSseEnabled"]).lower()
        if "RedrivePolicy" in props:
            redrive = json.loads(attributes["RedrivePolicy"])
            assert redrive == stack.document(props["RedrivePolicy"])


def test_the_queue_policies_in_moto_are_the_template_s(
    template: dict[str, Any], stack: Provisioner
) -> None:
    import boto3

    sqs = boto3.client("sqs")
    policies = _of_type(template, "AWS::SQS::QueuePolicy")
    assert len(policies) == len(_of_type(template, "AWS::SQS::Queue"))
    for props in policies.values():
        for url in stack.document(props["Queues"]):
            held = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])
            policy = json.loads(held["Attributes"]["Policy"])
            assert policy == stack.document(props["PolicyDocument"])


def test_the_table_in_moto_is_the_table_of_the_template(
    template: dict[str, Any], stack: Provisioner
) -> None:
    import boto3

    dynamodb = boto3.client("dynamodb")
    for logical_id, props in _of_type(template, "AWS::DynamoDB::Table").items():
        name = stack.refs[logical_id]
        table = dynamodb.describe_table(TableName=name)["Table"]
        assert table["KeySchema"] == props["KeySchema"]
        assert table["BillingModeSummary"]["BillingMode"] == props["BillingMode"]
        assert {index["IndexName"] for index in table["GlobalSecondaryIndexes"]} == {
            index["IndexName"] for index in props["GlobalSecondaryIndexes"]
        }
        assert (table["SSEDescription"]["Status"] == "ENABLED") is props["SSESpecification"][
            "SSEEnabled"
        ]
        ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        assert ttl["AttributeName"] == props["TimeToLiveSpecification"]["AttributeName"]
        assert ttl["TimeToLiveStatus"] == "ENABLED"
        backups = dynamodb.describe_continuous_backups(TableName=name)
        recovery = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
        expected = props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]
        assert (recovery["PointInTimeRecoveryStatus"] == "ENABLED") is expected


def test_the_secrets_in_moto_are_the_secrets_of_the_template(
    template: dict[str, Any], stack: Provisioner
) -> None:
    import boto3

    secrets = boto3.client("secretsmanager")
    for logical_id, props in _of_type(template, "AWS::SecretsManager::Secret").items():
        described = secrets.describe_secret(SecretId=stack.refs[logical_id])
        assert described["Description"] == props["Description"]
        value = json.loads(
            secrets.get_secret_value(SecretId=stack.refs[logical_id])["SecretString"]
        )
        if "GenerateSecretString" in props:
            spec = props["GenerateSecretString"]
            assert len(value[spec["GenerateStringKey"]]) == spec["PasswordLength"]
        else:
            assert value == json.loads(props["SecretString"])
