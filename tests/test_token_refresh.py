"""An OAuth 2.0 account's access token after the sign-in: refreshed once when it expires
between two views (before it is used, or after X's 401), exactly one refresh at X when
eight callers find it expired at once (through moto's server, as Lambdas would), a
revoked refresh token marks the account as X's 401 does, and a forget revokes at X."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tests.browser import LEAKABLE, Browser, approve
from tests.conftest import CONSUMER_KEY, CONSUMER_SECRET, OAUTH2_CLIENT_ID, OAUTH2_CLIENT_SECRET

TOKEN = "POST /2/oauth2/token"
REVOKE = "POST /2/oauth2/revoke"
ORIGIN = "http://127.0.0.1:8000"


def account_item(aws: dict[str, str], account_id: str) -> dict[str, Any]:
    return boto3.client("dynamodb").get_item(
        TableName=aws["TABLE_NAME"], Key={"pk": {"S": f"account#{account_id}"}}
    )["Item"]


def sessions(aws: dict[str, str]) -> list[dict[str, Any]]:
    items = boto3.client("dynamodb").scan(TableName=aws["TABLE_NAME"])["Items"]
    return [item for item in items if item["kind"]["S"] == "session"]


def expires_in(seconds: int, account_id: str, table: str) -> None:
    """Time passes: the stored access token has `seconds` left (X's expiry is the same)."""
    import time

    from chalicelib import services

    at = services.token_cipher().encrypt(str(int(time.time()) + seconds))
    boto3.client("dynamodb").update_item(
        TableName=table,
        Key={"pk": {"S": f"account#{account_id}"}},
        UpdateExpression="SET token_expires_at = :at",
        ExpressionAttributeValues={":at": {"S": at}},
    )


def tokens_of(account_id: str) -> Any:
    from chalicelib import services

    tokens = services.account_store().account_tokens(account_id, consistent=True)
    assert tokens is not None
    LEAKABLE.update({tokens.access_token, tokens.refresh_token})
    return tokens


@pytest.fixture
def signed_in(browser: Browser, oauth2: Any, configure: Any) -> tuple[Browser, str]:
    """fastbrand signed in over OAuth 2.0, her first report read from X; every later view
    reads X again (REPORT_MAX_AGE_SECONDS=0)."""
    assert browser.sign_in("fastbrand").status_code == 302
    configure(REPORT_MAX_AGE_SECONDS=0)
    first = browser.get("/report")
    assert first.status_code == 200, first.body[:300]
    return browser, oauth2.account_id("fastbrand")


def test_a_token_that_expires_between_two_views_is_refreshed_once(
    signed_in: tuple[Browser, str], oauth2: Any, aws: dict[str, str]
) -> None:
    browser, account_id = signed_in
    before = tokens_of(account_id)
    # GIVEN her access token expires at X (we still think it good for two hours)
    oauth2.expire_access_tokens()
    oauth2.reset_counters()

    # WHEN she views her report again, and once more
    second = browser.get("/report")
    third = browser.get("/report.json")

    # THEN both views answer, X refreshed her pair once (after its 401), and she is signed in
    assert second.status_code == 200, second.body[:300]
    assert third.status_code == 200
    assert oauth2.calls[TOKEN] == 1
    assert oauth2.oauth2_refreshes() == 1
    after = tokens_of(account_id)
    assert after.access_token != before.access_token
    assert after.refresh_token != before.refresh_token
    assert "token_rejected_at" not in account_item(aws, account_id)
    assert "Signed in as @fastbrand" in browser.get("/").body.decode()


def test_a_token_about_to_expire_is_refreshed_before_it_is_used(
    signed_in: tuple[Browser, str], oauth2: Any, aws: dict[str, str]
) -> None:
    browser, account_id = signed_in
    before = tokens_of(account_id)
    # GIVEN her access token has 100 seconds left (the margin is 300)
    expires_in(100, account_id, aws["TABLE_NAME"])
    answers: list[int] = []
    oauth2.response_hook = lambda template, status, *_: answers.append(status)
    oauth2.reset_counters()

    # WHEN she views her report
    assert browser.get("/report").status_code == 200

    # THEN the pair was refreshed first, and X answered no read with 401
    assert oauth2.calls[TOKEN] == 1
    assert 401 not in answers
    after = tokens_of(account_id)
    assert after.access_token != before.access_token
    assert after.expires_at >= before.expires_at


def test_a_valid_token_is_not_refreshed(signed_in: tuple[Browser, str], oauth2: Any) -> None:
    browser, _ = signed_in
    oauth2.reset_counters()
    assert browser.get("/report").status_code == 200
    assert oauth2.calls[TOKEN] == 0
    assert oauth2.timeline_reads() >= 2


def test_a_revoked_refresh_token_marks_the_account(
    signed_in: tuple[Browser, str], oauth2: Any, aws: dict[str, str]
) -> None:
    browser, account_id = signed_in
    # GIVEN she removed the app at X, and her access token has expired
    oauth2.revoke("fastbrand")
    oauth2.expire_access_tokens()
    oauth2.reset_counters()

    # WHEN she views her report
    answer = browser.get("/report")

    # THEN the refresh X refused marks the account as a 401 does: signed out everywhere
    assert oauth2.calls[TOKEN] == 1 and oauth2.oauth2_refreshes() == 0
    assert answer.status_code in (302, 401, 403) or "sign in" in answer.body.decode().lower()
    assert "token_rejected_at" in account_item(aws, account_id)
    assert sessions(aws) == []
    assert "Sign in with X" in browser.get("/").body.decode()


def test_the_worker_refreshes_an_expired_token_too(
    signed_in: tuple[Browser, str], oauth2: Any
) -> None:
    from chalicelib import services

    _, account_id = signed_in
    oauth2.expire_access_tokens()
    oauth2.reset_counters()

    import time

    from chalicelib.refresh import Status, refresh_account

    outcome = refresh_account(
        account_id,
        accounts=services.account_store(),
        reports=services.reports(),
        max_age_seconds=0,
        now=time.time() + 1,
    )

    assert outcome.status == Status.REFRESHED, outcome
    assert oauth2.calls[TOKEN] == 1


def test_forget_revokes_both_tokens_at_x_before_deleting(
    signed_in: tuple[Browser, str], oauth2: Any, aws: dict[str, str]
) -> None:
    from chalicelib import services

    browser, account_id = signed_in
    tokens = tokens_of(account_id)
    oauth2.reset_counters()
    revoked_while_item_existed: list[bool] = []

    def watch(template: str, status: int, *_: Any) -> None:
        if template == REVOKE:
            item = boto3.client("dynamodb").get_item(
                TableName=aws["TABLE_NAME"], Key={"pk": {"S": f"account#{account_id}"}}
            )
            revoked_while_item_existed.append("Item" in item)

    oauth2.response_hook = watch

    answer = browser.post("/forget", headers={"origin": ORIGIN}, body="confirm=yes")

    assert answer.status_code == 200
    assert "We forgot @fastbrand" in answer.body.decode()
    assert "remove responsetime under" not in answer.body.decode()
    assert oauth2.calls[REVOKE] == 2
    assert revoked_while_item_existed == [True, True]
    with oauth2._lock:
        assert tokens.refresh_token not in oauth2.oauth2_tokens.refresh_tokens
        assert tokens.access_token not in oauth2.oauth2_tokens.access_tokens
    assert services.account_store().account_tokens(account_id) is None


def test_forget_with_x_down_still_forgets_and_asks_her_to_revoke_at_x(
    signed_in: tuple[Browser, str], oauth2: Any
) -> None:
    from chalicelib import services

    browser, account_id = signed_in
    oauth2.fail(REVOKE, "503")
    answer = browser.post("/forget", headers={"origin": ORIGIN}, body="confirm=yes")
    assert answer.status_code == 200
    assert "remove responsetime under" in answer.body.decode()
    assert services.account_store().account_tokens(account_id) is None


# --- Eight callers at once, through moto's server ------------------------------------------


@pytest.fixture
def fleet(x_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The app wired to moto's server (one request at a time, as DynamoDB applies the writes
    to an item) and to the emulator, its X app an OAuth 2.0 client too."""
    from chalicelib import services
    from local.resources import provision
    from local.stack import atomic_moto_server

    server = atomic_moto_server("127.0.0.1", 0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://{host}:{port}")
        env = provision(
            boto3.Session(),
            x_consumer_key=CONSUMER_KEY,
            x_consumer_secret=CONSUMER_SECRET,
            x_oauth2_client=(OAUTH2_CLIENT_ID, OAUTH2_CLIENT_SECRET),
            prefix=f"refresh-{uuid.uuid4().hex[:8]}",
        )
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("X_API_BASE_URL", x_emulator.base_url)
        services.reset()
        yield x_emulator
    finally:
        services.reset()
        server.stop()


def signed_in_over_oauth2(emulator: Any, username: str) -> str:
    """Her account as a sign-in over OAuth 2.0 leaves it (the flow's own calls)."""
    from chalicelib import services
    from tests.browser import consent_fields

    flow = services.sign_in()
    started = flow.begin()
    fields = consent_fields(started.authorization_url)
    callback = approve(started.authorization_url, username)
    query = dict(part.split("=", 1) for part in callback.split("?", 1)[1].split("&"))
    assert query["state"] == fields["state"]
    signed = flow.complete_oauth2(started.session_id, query["state"], query["code"])
    return signed.session_id


def test_eight_callers_at_once_make_one_refresh_at_x_and_all_hold_a_valid_token(
    fleet: Any,
) -> None:
    import os

    from chalicelib import services
    from chalicelib.token_refresh import AccountBearer

    # GIVEN fastbrand signed in over OAuth 2.0, and her access token expired at X
    session_id = signed_in_over_oauth2(fleet, "fastbrand")
    account_id = fleet.account_id("fastbrand")
    expires_in(60, account_id, os.environ["TABLE_NAME"])
    stale = tokens_of(account_id)
    fleet.expire_access_tokens()
    fleet.reset_counters()

    # WHEN eight callers (views, workers) find it about to expire at the same moment
    refresher = services.token_refresher()
    start = threading.Barrier(8)
    held: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def caller() -> None:
        try:
            start.wait()
            token = AccountBearer(refresher, stale).current()
            with lock:
                held.append(token)
        except BaseException as error:  # reported below
            with lock:
                errors.append(error)

    threads = [threading.Thread(target=caller) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # THEN X was asked for one refresh, and every caller holds the winner's access token
    assert errors == []
    assert fleet.calls[TOKEN] == 1
    assert fleet.oauth2_refreshes() == 1
    assert len(held) == 8 and len(set(held)) == 1
    [token] = set(held)
    assert token != stale.access_token
    assert services.x_oauth2().me(token).username == "fastbrand"
    # AND she is still signed in, her account holding the new pair and no claim
    stored = tokens_of(account_id)
    assert stored.access_token == token and stored.refresh_claimed_at == 0
    assert services.sign_in().current(session_id) is not None


def test_a_claim_left_by_a_caller_that_died_is_taken_over_after_the_lease(
    fleet: Any,
) -> None:
    from chalicelib import services

    signed_in_over_oauth2(fleet, "slowbrand")
    account_id = fleet.account_id("slowbrand")
    stale = tokens_of(account_id)
    store = services.account_store()
    refresher = services.token_refresher()
    # GIVEN a claim of a caller that died (taken a lease ago)
    now = int(refresher._clock())
    assert store.claim_token_refresh(stale, "dead", now - refresher._lease, refresher._lease)
    fleet.reset_counters()

    # WHEN another caller refreshes
    fresh = refresher.refresh(tokens_of(account_id))

    # THEN it takes the claim over and refreshes, once
    assert fleet.calls[TOKEN] == 1
    assert fresh.refresh_token != stale.refresh_token
    assert services.x_oauth2().me(fresh.access_token).username == "slowbrand"


def test_each_oauth2_account_reads_from_its_own_token_s_budget(
    client: Any, oauth2: Any, aws: dict[str, str], configure: Any
) -> None:
    # GIVEN a budget of one mention read a window per token
    configure(X_USER_BUDGET_MENTIONS=1)
    brands = ("fastbrand", "slowbrand")

    # WHEN two people sign in over OAuth 2.0 and open their first reports
    for username in brands:
        person = Browser(client)
        assert person.sign_in(username).status_code == 302
        assert person.get("/report.json").status_code == 200

    # THEN each read from her own token's bucket: both reports were read from X (one
    #      bucket for every OAuth 2.0 account would have refused the second)
    assert oauth2.calls["GET /2/users/:id/mentions"] == 2
    for username in brands:
        key = {"pk": {"S": f"budget#mentions#{oauth2.account_id(username)}"}}
        item = boto3.client("dynamodb").get_item(TableName=aws["TABLE_NAME"], Key=key)
        assert "Item" in item, username
