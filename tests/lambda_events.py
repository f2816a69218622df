"""What Lambda hands a function behind API Gateway: a REST proxy event and a context."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

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


class LambdaContext:
    function_name = "responsetime-api"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:responsetime-api"
    aws_request_id = "5a7e0c1e-0000-4000-8000-000000000001"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000
