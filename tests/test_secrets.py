"""The app's secrets come from Secrets Manager through Powertools Parameters, cached for
SECRETS_MAX_AGE_SECONDS, and never from the environment; keys rotate as the README says,
in two writes, without signing anyone out or losing a stored token."""

from __future__ import annotations

import itertools
import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from itsdangerous import BadSignature, URLSafeSerializer

from tests.browser import Browser

PROJECT_DIR = Path(__file__).resolve().parent.parent
SECRET_LIKE = re.compile(r"KEY|SECRET|TOKEN|PASSWORD|CREDENTIAL", re.IGNORECASE)


@pytest.fixture
def aws_calls() -> Iterator[Counter[str]]:
    """Every AWS call of this process, Powertools' own clients included."""
    from tests.support.aws_calls import counting_aws_calls

    with counting_aws_calls() as calls:
        yield calls


def put_secret(secret_id: str, value: dict[str, Any]) -> None:
    import boto3

    boto3.client("secretsmanager").put_secret_value(
        SecretId=secret_id, SecretString=json.dumps(value)
    )


def read_secret(secret_id: str) -> dict[str, Any]:
    import boto3

    answer = boto3.client("secretsmanager").get_secret_value(SecretId=secret_id)
    value: dict[str, Any] = json.loads(answer["SecretString"])
    return value


def signed_with(cookie_value: str, key: str) -> bool:
    from chalicelib.cookies import SALT

    try:
        URLSafeSerializer(key, salt=SALT).loads(cookie_value)
    except BadSignature:
        return False
    return True


def test_each_secret_is_read_once_per_max_age(
    client: Any, configure: Any, aws: dict[str, str], aws_calls: Counter[str]
) -> None:
    # GIVEN a warm app that keeps secrets for one second
    configure(SECRETS_MAX_AGE_SECONDS=1)
    browser = Browser(client)
    browser.sign_in("fastbrand")
    browser.get("/report")
    browser.get("/")
    # THEN each of the three secrets was read once, however many requests used it
    assert aws_calls["Secrets Manager.GetSecretValue"] == 3

    # WHEN the operator writes a new cookie key
    cookie_secret = aws["COOKIE_KEYS_SECRET_ID"]
    old = read_secret(cookie_secret)["current"]
    put_secret(cookie_secret, {"current": "a-new-cookie-key-0123456789abcdef", "previous": old})
    # THEN within the max age the app still signs with the key it has
    fresh = Browser(client)
    fresh.get("/auth")
    [value] = fresh.cookies.values()
    assert signed_with(value, old)
    # AND after it, with the new one, having read each secret it used once more
    time.sleep(1.1)
    aws_calls.clear()
    newer = Browser(client)
    newer.get("/auth")
    [value] = newer.cookies.values()
    assert signed_with(value, "a-new-cookie-key-0123456789abcdef")
    assert aws_calls["Secrets Manager.GetSecretValue"] == 3  # cookie keys, token keys, the X app's


def test_keys_rotate_in_two_writes_without_signing_anyone_out(
    client: Any, app_env: Any, configure: Any, aws: dict[str, str]
) -> None:
    from chalicelib import services
    from chalicelib.tokens import TokenCipher

    configure(SECRETS_MAX_AGE_SECONDS=1)
    cookie_secret, token_secret = aws["COOKIE_KEYS_SECRET_ID"], aws["TOKEN_KEYS_SECRET_ID"]
    old_cookie_key = read_secret(cookie_secret)["current"]
    old_token_key = read_secret(token_secret)["current"]
    new_cookie_key, new_token_key = "new-cookie-key-" + "c" * 40, "new-token-key-" + "t" * 40
    # GIVEN a person signed in before the rotation, her tokens encrypted with the old key
    before = Browser(client)
    before.sign_in("fastbrand")
    [before_cookie] = before.cookies.values()
    assert signed_with(before_cookie, old_cookie_key)

    # WHEN the operator writes the first step, and the max age passes
    put_secret(cookie_secret, {"current": old_cookie_key, "next": new_cookie_key})
    put_secret(token_secret, {"current": old_token_key, "next": new_token_key})
    time.sleep(1.1)
    # THEN nothing changes for anyone: the old keys still sign and encrypt
    during = Browser(client)
    during.sign_in("slowbrand")
    [during_cookie] = during.cookies.values()
    assert signed_with(during_cookie, old_cookie_key)
    assert before.get("/report").status_code == 200

    # WHEN the operator writes the second step, and the max age passes
    put_secret(cookie_secret, {"current": new_cookie_key, "previous": old_cookie_key})
    put_secret(token_secret, {"current": new_token_key, "previous": old_token_key})
    time.sleep(1.1)
    # THEN both people are still signed in, and their reports still read X with their tokens
    for person in (before, during):
        assert person.get("/report").status_code == 200
        assert "Signed in as" in person.get("/").body.decode()
    # AND a new sign-in is signed, and its tokens encrypted, with the new keys
    after = Browser(client)
    after.sign_in("fastbrand")
    [after_cookie] = after.cookies.values()
    assert signed_with(after_cookie, new_cookie_key)
    assert not signed_with(after_cookie, old_cookie_key)
    import boto3

    account = boto3.client("dynamodb").get_item(
        TableName=aws["TABLE_NAME"], Key={"pk": {"S": f"account#{app_env.account_id('fastbrand')}"}}
    )["Item"]
    TokenCipher([new_token_key]).decrypt(account["access_token"]["S"])  # raises if not
    assert services.token_cipher().decrypt(account["access_token"]["S"])


def test_every_container_accepts_what_another_one_step_behind_signs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Containers reread secrets at different moments, so for a while two steps of a
    rotation are live at once: each must accept what the other signs or encrypts."""
    from chalicelib import config

    steps = [
        {"current": "OLD"},
        {"current": "OLD", "next": "NEW"},
        {"current": "NEW", "previous": "OLD"},
        {"current": "NEW"},  # once no cookie or token made with OLD is left
    ]
    keys = []
    for step in steps:
        monkeypatch.setattr(config, "secret", lambda _id, step=step: step)
        keys.append(config.rotating_keys("any"))
    for older, newer in itertools.pairwise(keys):
        assert older[0] in newer and newer[0] in older, (older, newer)


def test_no_secret_value_is_in_any_function_s_environment() -> None:
    template = json.loads((PROJECT_DIR / "infra" / "resources.json").read_text())
    resources = template["Resources"]
    config = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
    stages = [config.get("environment_variables", {})]
    stages += [stage.get("environment_variables", {}) for stage in config["stages"].values()]
    for variables in stages:
        assert not [name for name in variables if SECRET_LIKE.search(name)], variables
    functions = [body for body in resources.values() if "Environment" in body.get("Properties", {})]
    assert functions
    for body in functions:
        for name, value in body["Properties"]["Environment"]["Variables"].items():
            if SECRET_LIKE.search(name):
                # only the id of a secret, which CloudFormation resolves to its ARN
                assert name.endswith("_SECRET_ID"), name
                assert resources[value["Ref"]]["Type"] == "AWS::SecretsManager::Secret", name


def test_the_app_reads_no_secret_from_its_environment() -> None:
    read = set()
    for source in (PROJECT_DIR / "chalicelib").glob("*.py"):
        text = source.read_text()
        read |= set(re.findall(r"os\.environ(?:\.get)?[\[(]\s*\"([A-Z_]+)\"", text))
        read |= set(re.findall(r"_int\(\s*\"([A-Z_]+)\"", text))
    assert "TABLE_NAME" in read  # the pattern sees what the app reads
    secret_like = {name for name in read if SECRET_LIKE.search(name)}
    # Settings whose names only look like secrets: how long one is kept, and a budget of
    # request tokens (sign-ins started), not a token.
    settings_about_secrets = {"SECRETS_MAX_AGE_SECONDS", "X_BUDGET_REQUEST_TOKENS"}
    values = secret_like - settings_about_secrets
    assert all(name.endswith("_SECRET_ID") for name in values), values


def test_in_prod_x_credentials_in_the_environment_are_ignored(
    client: Any, configure: Any, app_env: Any
) -> None:
    # GIVEN prod with wrong X credentials in the environment (as `make run` takes them)
    configure(STAGE="prod", X_CONSUMER_KEY="wrong-key", X_CONSUMER_SECRET="wrong-secret")
    # THEN the sign-in is signed with the secret's credentials, which X accepts
    browser = Browser(client)
    assert browser.sign_in("fastbrand").status_code == 302
    assert "Signed in as @fastbrand" in browser.get("/").body.decode()
