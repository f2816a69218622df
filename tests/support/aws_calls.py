"""Counting the AWS API calls the app makes: what an operator pays for and what DynamoDB,
S3 and SQS see, without looking inside boto3's answers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class AwsCallCounter:
    """Counts API calls as they are sent.

    Given a boto3 client: that client's calls, by operation name (``"Query"``), through
    botocore's event hooks. Given none: every call of every client in this process, the
    ones Powertools makes itself included, as ``"Service.Operation"`` (``"DynamoDB.Query"``).
    Use it as a context manager, or call `close()` when done."""

    def __init__(self, boto_client: Any | None = None) -> None:
        self.calls: Counter[str] = Counter()
        self._events = None if boto_client is None else boto_client.meta.events
        self._original: Any = None
        if self._events is not None:
            self._events.register("before-call.*.*", self._count)
        else:
            self._patch_every_client()

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

    def _patch_every_client(self) -> None:
        from botocore.client import BaseClient

        original = self._original = BaseClient._make_api_call
        calls = self.calls

        def counted(client: Any, operation_name: str, api_params: Any) -> Any:
            calls[f"{client.meta.service_model.service_id}.{operation_name}"] += 1
            return original(client, operation_name, api_params)

        BaseClient._make_api_call = counted

    def reset(self) -> None:
        self.calls.clear()

    def close(self) -> None:
        if self._events is not None:
            self._events.unregister("before-call.*.*", self._count)
            self._events = None
        elif self._original is not None:
            from botocore.client import BaseClient

            BaseClient._make_api_call = self._original
            self._original = None

    def __enter__(self) -> AwsCallCounter:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


@contextmanager
def counting_aws_calls() -> Iterator[Counter[str]]:
    """Every AWS API call made in this process while it is open, as "Service.Operation":
    count."""
    with AwsCallCounter() as counter:
        yield counter.calls


def service_calls(service: str) -> Iterator[AwsCallCounter]:
    """The calls of the app's own client for `service` ("dynamodb", "sqs", "s3": the name of
    its factory in chalicelib.services), counted until the generator is closed. A fixture
    body: ``yield from service_calls("dynamodb")``."""
    from chalicelib import services

    with AwsCallCounter(getattr(services, service)()) as counter:
        yield counter
