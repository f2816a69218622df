"""Secrets Manager failing: every route answers our 503 page, never a bare 500."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def no_cookie_keys(aws: dict[str, str], app_env: Any) -> None:
    """The cookie keys' secret is gone (a deleted secret, a revoked grant: Powertools raises
    GetParameterError for either)."""
    import boto3

    from chalicelib import services

    boto3.client("secretsmanager").delete_secret(
        SecretId=aws["COOKIE_KEYS_SECRET_ID"], ForceDeleteWithoutRecovery=True
    )
    services.reset()


@pytest.mark.parametrize("path", ["/", "/auth", "/report", "/report.json"])
def test_an_unreadable_secret_is_our_503_page(client: Any, no_cookie_keys: None, path: str) -> None:
    response = client.http.get(path, headers={"cookie": "session=anything"})
    headers = {name.lower(): value for name, value in response.headers.items()}

    assert response.status_code == 503
    assert "Our storage did not answer" in response.body.decode()
    assert "content-security-policy" in headers and headers["cache-control"] == "no-store"
