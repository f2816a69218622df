"""What Lambda hands a function: an API Gateway REST proxy event, an SQS batch, and a
context (tests/support/lambda_context.py, kept importable from here)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from tests.support.lambda_context import LambdaContext

__all__ = ["API_URL", "LambdaContext", "api_gateway_event", "sqs_event"]

API_URL = "https://abc123defg.execute-api.us-east-1.amazonaws.com/api"  # stage `api`


def api_gateway_event(
    method: str,
    path: str,
    request_id: str,
    cookie: str | None = None,
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway REST proxy event, as API_URL's stage `api` sends it."""
    host = urlsplit(API_URL).netloc
    headers = {"Host": host, "User-Agent": "Mozilla/5.0", "X-Forwarded-Proto": "https"}
    if cookie:
        headers["Cookie"] = cookie
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": method,
            "path": "/api" + path,
            "stage": "api",
            "requestId": request_id,
            "domainName": host,
            "apiId": host.split(".")[0],
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "identity": {"sourceIp": "203.0.113.7", "userAgent": "Mozilla/5.0"},
        },
        "body": None,
        "isBase64Encoded": False,
    }


QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:responsetime-refresh"


def sqs_event(*messages: tuple[str, str, str]) -> dict[str, Any]:
    """An SQS event source's batch: one record per (message id, receipt handle, body)."""
    return {
        "Records": [
            {
                "messageId": message_id,
                "receiptHandle": receipt_handle,
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": QUEUE_ARN,
                "awsRegion": "us-east-1",
            }
            for message_id, receipt_handle, body in messages
        ]
    }
