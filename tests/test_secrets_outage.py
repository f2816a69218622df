"""Secrets Manager failing (and SSM, where the deployed app reads its public URL): every route
answers our 503 page, never a bare 500, and within 2 s with the default AWS_DEADLINE_SECONDS
when Secrets Manager refuses connections or hangs. GIVEN / WHEN / THEN."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.browser import Browser
from tests.support.forwarder import Forwarder
from tests.test_outages import NEEDS_NO_AWS
from tests.test_outages import ROUTES as ALL_ROUTES

ANSWER_WITHIN_SECONDS = 2.0

# Every route a signed-in browser may send that needs a secret (the stylesheet needs none).
ROUTES = [route for route in ALL_ROUTES if route[1] not in NEEDS_NO_AWS]


def send(person: Browser, method: str, path: str, body: str | None) -> tuple[Any, float]:
    started = time.monotonic()
    answer = person.post(path, body=body or "") if method == "POST" else person.get(path)
    return answer, time.monotonic() - started


def assert_our_503(answer: Any, path: str) -> None:
    """Our 503 page, or for a script our JSON error, with our headers."""
    headers = {name.lower(): value for name, value in answer.headers.items()}
    body = answer.body.decode()
    assert answer.status_code == 503, (path, answer.status_code, body[:300])
    assert "content-security-policy" in headers and headers["cache-control"] == "no-store"
    if headers.get("content-type", "").startswith("application/json"):
        assert json.loads(body) == {"error": "Something on our side failed"}, path
    else:
        assert "Our storage did not answer" in body, path


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
    if path.endswith(".json"):  # a script gets our answer in JSON
        assert response.json_body == {"error": "Something on our side failed"}
    else:
        assert "Our storage did not answer" in response.body.decode()
    assert "content-security-policy" in headers and headers["cache-control"] == "no-store"


# --- Secrets Manager out of reach: refused, or hung ----------------------------------------


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(params=["refused", "hung"])
def break_secrets_manager(
    request: pytest.FixtureRequest, closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[], str]]:
    """Puts Secrets Manager alone out of reach when called (boto3's service-specific endpoint
    variable; everything else stays in moto). `refused`: nothing listens; `hung`: a listener
    that reads and never answers."""
    with Forwarder(("127.0.0.1", closed_port)) as hung:
        hung.mode = "hang"
        endpoint = hung.url if request.param == "hung" else f"http://127.0.0.1:{closed_port}"

        def apply() -> str:
            monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", endpoint)
            return str(request.param)

        yield apply
        if request.param == "hung":
            assert hung.accepted["hang"] > 0  # the app did reach the hung Secrets Manager


def test_secrets_manager_out_of_reach_is_our_503_on_every_route_within_two_seconds(
    client: Any, app_env: Any, break_secrets_manager: Callable[[], str]
) -> None:
    from chalicelib import services

    # GIVEN a person signed in while Secrets Manager answered
    person = Browser(client)
    assert person.sign_in("fastbrand").status_code == 302
    # AND then Secrets Manager out of reach, in a new container (nothing cached: what a
    #     cold start meets, and a warm one once SECRETS_MAX_AGE_SECONDS has passed)
    fault = break_secrets_manager()
    services.reset()
    # WHEN she opens every route THEN each answers our 503, in time
    longest = 0.0
    for method, path, body in ROUTES:
        answer, seconds = send(person, method, path, body)
        assert_our_503(answer, path)
        assert seconds < ANSWER_WITHIN_SECONDS, (path, seconds)
        longest = max(longest, seconds)
    # AND the stylesheet needs no secret
    assert person.get("/static/app.css").status_code == 200
    print(f"\nSecrets Manager {fault}: longest answer {longest:.3f} s (AWS_DEADLINE_SECONDS=10)")


def test_the_home_page_without_a_cookie_needs_no_secret(
    client: Any, app_env: Any, closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib import services

    # GIVEN Secrets Manager refusing connections, on a cold start
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", f"http://127.0.0.1:{closed_port}")
    services.reset()
    # WHEN someone without our cookie opens the home page THEN it renders
    answer = client.http.get("/")
    assert answer.status_code == 200, answer.body[:300]


def test_the_home_page_without_a_cookie_renders_when_the_secrets_are_cached(
    client: Any, app_env: Any, closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a warm app (its objects built), then Secrets Manager refusing connections
    assert client.http.get("/").status_code == 200
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", f"http://127.0.0.1:{closed_port}")
    # WHEN someone without our cookie opens the home page THEN it renders
    assert client.http.get("/").status_code == 200


# --- SSM, where the deployed app reads its public URL -------------------------------------

PARAMETER = "/responsetime-test/public-url"
ALL_PATHS = [path for _, path, _ in ALL_ROUTES]


@pytest.fixture
def public_url_from_ssm(configure: Any) -> None:
    """Deployed without a custom domain: PUBLIC_URL empty, the API's URL in SSM."""
    configure(PUBLIC_URL="", PUBLIC_URL_PARAMETER=PARAMETER)


def test_an_unreadable_public_url_is_our_503_on_every_route(
    client: Any, public_url_from_ssm: None
) -> None:
    import boto3

    # GIVEN the parameter not (yet) there: SSM answers ParameterNotFound
    person = Browser(client)
    # WHEN any route is asked for THEN it is our 503, the page or the JSON
    for path in ALL_PATHS:
        answer = person.get(path)
        assert_our_503(answer, path)
    assert json.loads(person.get("/report.json").body) == {"error": "Something on our side failed"}
    # AND once SSM has it, the same warm app answers (a failed read is not kept)
    boto3.client("ssm").put_parameter(
        Name=PARAMETER,
        Value="https://abc123.execute-api.us-east-1.amazonaws.com/api",
        Type="String",
    )
    assert person.get("/").status_code == 200


def test_ssm_out_of_reach_is_our_503_in_time(
    client: Any, public_url_from_ssm: None, closed_port: int, configure: Any
) -> None:
    # GIVEN SSM refusing connections on a cold start
    configure(AWS_ENDPOINT_URL_SSM=f"http://127.0.0.1:{closed_port}")
    # WHEN a page is asked for THEN it is our 503, at once
    started = time.monotonic()
    answer = Browser(client).get("/report")
    assert_our_503(answer, "/report")
    assert time.monotonic() - started < ANSWER_WITHIN_SECONDS
