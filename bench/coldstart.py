"""Cold start: a fresh Python process that imports `app` and answers `GET /auth` (against
moto's server and the X emulator), against the least that job can be: a hand-written
handler doing the same I/O (read the three secrets, one OAuth 1.0a request-token POST with
requests-oauthlib, one PutItem), each in a fresh process; and, for reference, a process
that only imports chalice and boto3. Runs alternate; the ratio is the median of each app
run over the minimum run right after it (neighbours in time share the machine's load, which
on a shared machine swings more than the difference measured).

The app's process does what a Lambda cold start does: import the handler module, then
answer one API Gateway event. The goal is a ratio to the hand-written minimum of at most 1.3.

    python -m bench.coldstart [--runs N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.harness import local_world, median

PROJECT_DIR = Path(__file__).resolve().parent.parent
GOAL = 1.3

BASELINE = "import chalice, boto3"

# The same I/O as a cold GET /auth, written by hand with nothing but what it needs.
MINIMUM = """
import json, os, secrets
import boto3
from requests_oauthlib import OAuth1Session
manager = boto3.client("secretsmanager")
names = ("X_APP_SECRET_ID", "COOKIE_KEYS_SECRET_ID", "TOKEN_KEYS_SECRET_ID")
values = [
    json.loads(manager.get_secret_value(SecretId=os.environ[name])["SecretString"])
    for name in names
]
app_secret = values[0]
dynamodb = boto3.client("dynamodb")
# The sign-in's take from the fleet's request-token bucket: one conditional UpdateItem.
dynamodb.update_item(
    TableName=os.environ["TABLE_NAME"],
    Key={"pk": {"S": "budget#minimum"}},
    UpdateExpression="ADD taken :one",
    ConditionExpression="attribute_not_exists(taken) OR taken < :cap",
    ExpressionAttributeValues={":one": {"N": "1"}, ":cap": {"N": "1000000"}},
)
oauth = OAuth1Session(
    app_secret["consumer_key"],
    client_secret=app_secret["consumer_secret"],
    callback_uri=os.environ["PUBLIC_URL"] + "/callback",
)
token = oauth.fetch_request_token(os.environ["X_API_BASE_URL"] + "/oauth/request_token", timeout=5)
dynamodb.put_item(
    TableName=os.environ["TABLE_NAME"],
    Item={
        "pk": {"S": "session#" + secrets.token_hex(32)},
        "request_token": {"S": token["oauth_token"]},
    },
)
"""

# A Lambda cold start of the api function on GET /auth, in one fresh process.
APP_COLD_START = """
import json, time
started = time.perf_counter()
import app
imported = time.perf_counter()

from tests.support.lambda_context import LambdaContext  # after `imported`: not app's cost

event = {
    "resource": "/auth", "path": "/auth", "httpMethod": "GET",
    "headers": {"Host": "127.0.0.1:8000"}, "multiValueHeaders": {"Host": ["127.0.0.1:8000"]},
    "queryStringParameters": None, "multiValueQueryStringParameters": None,
    "pathParameters": None, "stageVariables": None, "body": None, "isBase64Encoded": False,
    "requestContext": {
        "resourcePath": "/auth", "httpMethod": "GET", "path": "/api/auth", "stage": "api",
        "requestId": "cold-start-bench", "apiId": "local",
        "identity": {"sourceIp": "127.0.0.1"},
    },
}
context = LambdaContext(function_name="responsetime-local-api_handler", aws_request_id="cold")
response = app.app(event, context)
answered = time.perf_counter()
assert response["statusCode"] == 302, response
print("BENCH " + json.dumps({"import_s": imported - started, "request_s": answered - imported}))
"""


def run_fresh(code: str, env: dict[str, str]) -> tuple[float, str]:
    """Wall time and output of a fresh `python -c code` in the project; raises when it
    fails."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"cold start run failed:\n{done.stdout}\n{done.stderr}")
    return wall, done.stdout


def printed(output: str, tag: str) -> Any:
    """The JSON a fresh process printed on its line starting with `tag`, else None."""
    for line in output.splitlines():
        if line.startswith(tag + " "):
            return json.loads(line.removeprefix(tag + " "))
    return None


def _run(code: str, env: dict[str, str]) -> tuple[float, dict[str, float]]:
    """Wall time of a fresh `python -c code`, and the figures it printed, if any."""
    wall, output = run_fresh(code, env)
    return wall, printed(output, "BENCH") or {}


def main(runs: int = 7, quiet: bool = False) -> dict[str, Any]:
    import os

    with local_world() as world:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONDONTWRITEBYTECODE": "1",
            **world.env,
        }
        # One untimed run of each warms the OS file cache, as a deployed runtime would be.
        _run(BASELINE, env)
        _run(MINIMUM, env)
        _run(APP_COLD_START, env)
        app_walls: list[float] = []
        base_walls: list[float] = []
        minimum_walls: list[float] = []
        imports: list[float] = []
        requests: list[float] = []
        for _ in range(runs):
            wall, figures = _run(APP_COLD_START, env)
            app_walls.append(wall)
            imports.append(figures["import_s"])
            requests.append(figures["request_s"])
            minimum_walls.append(_run(MINIMUM, env)[0])
            base_walls.append(_run(BASELINE, env)[0])
    figures = {
        "runs": runs,
        "app_s": median(app_walls),
        "app_import_s": median(imports),
        "app_first_request_s": median(requests),
        "baseline_s": median(base_walls),
        "minimum_s": median(minimum_walls),
    }
    figures["ratio"] = median([a / m for a, m in zip(app_walls, minimum_walls, strict=True)])
    figures["ratio_to_imports"] = median(
        [a / b for a, b in zip(app_walls, base_walls, strict=True)]
    )
    if not quiet:
        for measure, value, goal in rows(figures):
            print(f"{measure:62} {value:>8}  {goal}")
    return figures


def rows(figures: dict[str, Any]) -> list[tuple[str, str, str]]:
    runs = figures["runs"]
    return [
        (
            f"fresh process: import app, answer GET /auth (median of {runs})",
            _ms(figures["app_s"]),
            "",
        ),
        ("  of which `import app`", _ms(figures["app_import_s"]), ""),
        ("  of which the GET /auth itself", _ms(figures["app_first_request_s"]), ""),
        (
            "fresh process: the same I/O written by hand (the minimum)",
            _ms(figures["minimum_s"]),
            "",
        ),
        ("fresh process: import chalice, boto3", _ms(figures["baseline_s"]), ""),
        (
            "ratio to the minimum (median of run pairs)",
            f"{figures['ratio']:.2f}",
            _goal(figures["ratio"], GOAL),
        ),
        ("ratio to importing chalice and boto3", f"{figures['ratio_to_imports']:.2f}", ""),
    ]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def _goal(value: float, limit: float) -> str:
    return f"≤ {limit:g}: {'met' if value <= limit else 'NOT met'}"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    main(parser.parse_args().runs)
