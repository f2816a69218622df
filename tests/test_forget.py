"""POST /forget: the token revoked at X, everything stored deleted, the person signed out."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.browser import LEAKABLE, Browser


def stored_keys(aws: dict[str, str]) -> list[str]:
    listing = boto3.client("s3").list_objects_v2(Bucket=aws["BUCKET_NAME"])
    return [entry["Key"] for entry in listing.get("Contents", [])]


def table_kinds(aws: dict[str, str]) -> list[str]:
    items = boto3.client("dynamodb").scan(TableName=aws["TABLE_NAME"])["Items"]
    people = ("pending", "session", "account")  # not the app's own items (rate budget, ...)
    return sorted(item["kind"]["S"] for item in items if item["kind"]["S"] in people)


def test_forget_revokes_deletes_and_signs_out(
    browser: Browser, app_env: Any, aws: dict[str, str]
) -> None:
    from chalicelib import services

    # GIVEN a signed-in account with a report in S3
    browser.sign_in("fastbrand")
    assert browser.get("/report").status_code == 200
    account_id = app_env.account_id("fastbrand")
    tokens = services.account_store().account_tokens(account_id)
    assert tokens is not None
    LEAKABLE.update({tokens.access_token, tokens.access_token_secret})
    assert stored_keys(aws) != []

    # WHEN she asks us to forget her
    response = browser.post(
        "/forget", headers={"origin": "http://127.0.0.1:8000"}, body="confirm=yes"
    )

    # THEN the page says so, the cookie is cleared, nothing of hers is stored any more,
    # and X no longer accepts the token
    assert response.status_code == 200
    assert "We forgot @fastbrand" in response.body.decode()
    assert "Max-Age=0" in response.headers["set-cookie"]
    assert stored_keys(aws) == []
    assert table_kinds(aws) == []
    assert app_env.calls["POST /1.1/oauth/invalidate_token"] == 1
    from chalicelib.errors import XRejected

    with pytest.raises(XRejected):
        services.x_auth().me(tokens.access_token, tokens.access_token_secret)
    assert browser.get("/report").status_code == 302


def test_forget_signs_out_every_browser_of_the_account(
    browser: Browser, client: Any, aws: dict[str, str]
) -> None:
    # GIVEN the same account signed in on a laptop and a phone
    phone = Browser(client)
    browser.sign_in("fastbrand")
    phone.sign_in("fastbrand")

    # WHEN she asks us to forget her from the laptop
    browser.post("/forget", body="confirm=yes")

    # THEN the phone is signed out too
    assert "Sign in with X" in phone.get("/").body.decode()
    assert table_kinds(aws) == []


def test_forget_when_x_is_down_still_deletes_and_says_what_to_do(
    browser: Browser, app_env: Any, aws: dict[str, str]
) -> None:
    browser.sign_in("slowbrand")
    app_env.fail("POST /1.1/oauth/invalidate_token", "503")

    response = browser.post("/forget", body="confirm=yes")

    assert response.status_code == 200
    assert "Apps and sessions" in response.body.decode()
    assert table_kinds(aws) == []


def test_forget_from_another_site_is_refused(browser: Browser, aws: dict[str, str]) -> None:
    browser.sign_in("fastbrand")

    response = browser.post(
        "/forget", headers={"origin": "https://evil.example"}, body="confirm=yes"
    )

    assert response.status_code == 403
    assert table_kinds(aws) == ["account", "session"]


def test_forget_asks_first_and_deletes_nothing_until_confirmed(
    browser: Browser, app_env: Any, aws: dict[str, str]
) -> None:
    # GIVEN a signed-in account with a report
    browser.sign_in("fastbrand")
    assert browser.get("/report").status_code == 200
    kept = stored_keys(aws)

    # WHEN she presses "Forget my account" (the form sends no confirmation)
    response = browser.post("/forget")

    # THEN a page says what would be deleted and asks; nothing is deleted or revoked
    page = response.body.decode()
    assert response.status_code == 200
    assert "Forget @fastbrand?" in page
    assert "the archive of every post we read" in page and "report settings you saved" in page
    assert 'name="confirm" value="yes"' in page
    assert stored_keys(aws) == kept != []
    assert table_kinds(aws) == ["account", "session"]
    assert app_env.calls["POST /1.1/oauth/invalidate_token"] == 0
    assert browser.get("/report").status_code == 200
