"""`make run`: the whole app on this machine, with no AWS and no X account.

moto's server stands in for AWS (resources from infra/resources.json), the X emulator for
X (unless X_API_BASE_URL names another X), and Chalice's local server runs app.py with
stage `local`. All bind to 127.0.0.1. Ctrl-C stops all three.

EventBridge and Lambda's SQS event source are played by `LocalRefreshLoop`: every
LOCAL_REFRESH_SECONDS (300; 0 turns it off) it runs the real `schedule_refresh` handler
and then the real `compliance_round` (daily when deployed), and it feeds the messages in
moto's queues to the real `refresh_worker` (ten at a time) and `compliance_worker` (one at
a time) handlers, deleting those the worker does not name in batchItemFailures, as Lambda
does.

What API Gateway answers by itself is played by `LocalApiGateway`, from the same
GatewayResponses of infra/resources.json that the deployed API is given: a path no route
has gets our 404 page, not Chalice's 403 `{"message": "Missing Authentication Token"}`.
"""

from __future__ import annotations

import argparse
import functools
import io
import os
import re
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from chalice.app import Chalice
from chalice.config import Config
from chalice.local import ChaliceRequestHandler, LocalGateway, RouteMatcher

from chalicelib.config import COMPLIANCE_BATCH_SIZE

PROJECT_DIR = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
EMULATOR_KEY = "local-consumer-key"
EMULATOR_SECRET = "local-consumer-secret"
EMULATOR_OAUTH2_CLIENT = ("local-oauth2-client-id", "local-oauth2-client-secret")
DEFAULT_REFRESH_SECONDS = 300.0
QUEUE_POLL_SECONDS = 2.0


class PortTaken(Exception):
    pass


def check_port_free(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((HOST, port))
        except OSError as error:
            raise PortTaken(
                f"Port {port} on {HOST} is taken: is another `make run` running? "
                f"Stop it, or choose another port: PORT=8001 make run"
            ) from error


@dataclass
class Stack:
    url: str
    aws_endpoint: str
    x_base_url: str
    emulator: Any | None


# The defaults of the response types the app's GatewayResponses name (API Gateway's
# "Gateway response types"); an unnamed type falls back to DEFAULT_4XX or DEFAULT_5XX.
GATEWAY_STATUS = {"MISSING_AUTHENTICATION_TOKEN": 403, "THROTTLED": 429}
SUB_VARIABLE = re.compile(r"\$\{([^}]+)\}")


class GatewayResponses:
    """API Gateway's own answers, as infra/resources.json's RestAPI GatewayResponses word
    them: the status, each `'static'` header, and the body template the request's Accept
    names first (application/json when it names none of them, as API Gateway chooses),
    labelled with that type. The template's `${Base}` is the public URL, as deployed with
    PublicUrl set. HSTS is left out for a plain-http public URL, as the function leaves it
    out there: browsers ignore it over http, and the deployed API is https only."""

    def __init__(self, responses: Mapping[str, Any]) -> None:
        self._responses = responses

    @classmethod
    def from_template(cls, template: Mapping[str, Any] | None = None) -> GatewayResponses:
        from local.resources import load_template

        resources = (template or load_template())["Resources"]
        return cls(resources["RestAPI"]["Properties"].get("GatewayResponses", {}))

    def answer(
        self, response_type: str, request_headers: Mapping[str, str], public_url: str
    ) -> dict[str, Any]:
        """The answer in chalice local's shape (a Lambda proxy integration's result)."""
        status = GATEWAY_STATUS[response_type]
        fallback = "DEFAULT_5XX" if status >= 500 else "DEFAULT_4XX"
        response = self._responses.get(response_type) or self._responses.get(fallback, {})
        headers = {
            name: static_value(value)
            for name, value in response.get("ResponseParameters", {}).get("Headers", {}).items()
            if public_url.startswith("https://") or name != "Strict-Transport-Security"
        }
        templates = response.get("ResponseTemplates", {})
        content_type = template_type(templates, request_headers)
        body = ""
        if content_type is not None:
            headers["Content-Type"] = content_type
            body = resolve(templates[content_type], public_url)
        return {
            "statusCode": int(response.get("StatusCode", status)),
            "headers": headers,
            "multiValueHeaders": {},
            "body": body,
        }


def static_value(value: str) -> str:
    """A gateway response header's static value, `'...'`, without its quotes."""
    if not (len(value) >= 2 and value[0] == value[-1] == "'"):
        raise ValueError(f"not a static header value: {value!r}")
    return value[1:-1]


def template_type(templates: Mapping[str, Any], request_headers: Mapping[str, str]) -> str | None:
    """The content type of the template the request's Accept header names first."""
    accept = next((v for k, v in request_headers.items() if k.lower() == "accept"), "")
    for media_range in accept.split(","):
        media_type = media_range.split(";", 1)[0].strip().lower()
        if media_type in templates:
            return media_type
    if "application/json" in templates:
        return "application/json"
    return next(iter(templates), None)


def resolve(node: Any, public_url: str) -> str:
    """A template value with its intrinsic functions worked out for the local stack, where
    PublicUrl is the public URL: Ref PublicUrl, Fn::If HasPublicUrl, Fn::Sub."""
    if isinstance(node, str):
        return node
    if node == {"Ref": "PublicUrl"}:
        return public_url
    if isinstance(node, dict) and "Fn::If" in node:
        condition, chosen, other = node["Fn::If"]
        if condition != "HasPublicUrl":
            raise ValueError(f"no local value for condition {condition}")
        return resolve(chosen if public_url else other, public_url)
    if isinstance(node, dict) and "Fn::Sub" in node:
        sub = node["Fn::Sub"]
        text, variables = sub if isinstance(sub, list) else (sub, {})
        return SUB_VARIABLE.sub(lambda m: resolve(variables[m.group(1)], public_url), text)
    raise ValueError(f"no local value for {node!r}")


class LocalApiGateway(LocalGateway):
    """chalice local's stand-in for API Gateway, answering as the deployed one does where
    the function is never called: a path no route has gets the MISSING_AUTHENTICATION_TOKEN
    gateway response (our 404 page), where Chalice's LocalGateway raises 403 JSON. And no
    answer to HEAD has a body: chalice local would write it after the headers, where the
    client reads the next answer."""

    def __init__(
        self, app_object: Chalice, config: Config, responses: GatewayResponses | None = None
    ) -> None:
        super().__init__(app_object, config)
        self._routes = RouteMatcher(list(app_object.routes))
        self._responses = responses or GatewayResponses.from_template()

    def handle_request(
        self, method: str, path: str, headers: dict[str, Any], body: bytes | None
    ) -> dict[str, Any]:
        try:
            self._routes.match_route(path)
        except ValueError:  # no route: API Gateway's "Missing Authentication Token"
            public_url = os.environ.get("PUBLIC_URL", "")
            answer = self._responses.answer("MISSING_AUTHENTICATION_TOKEN", headers, public_url)
        else:
            answer = super().handle_request(method, path, headers, body)
        if method == "HEAD":
            answer = {**answer, "body": "", "isBase64Encoded": False}
        return answer


class LocalRequestHandler(ChaliceRequestHandler):
    """chalice local's request handler, behind LocalApiGateway; it logs each request line
    without its query: /callback's holds the OAuth verifier."""

    def __init__(
        self,
        request: Any,
        client_address: Any,
        server: Any,
        app_object: Chalice,
        config: Config,
        responses: GatewayResponses,
    ) -> None:
        # ChaliceRequestHandler.__init__ makes a LocalGateway, then handles the request at
        # once (BaseHTTPRequestHandler does): so the gateway is set here, before the same.
        self.local_gateway = LocalApiGateway(app_object, config, responses)
        BaseHTTPRequestHandler.__init__(self, request, client_address, server)

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        path = self.path.split("?", 1)[0]
        self.log_message('"%s %s" %s', self.command, path, str(code))


def atomic_moto_server(host: str, port: int) -> Any:
    """moto's ThreadedMotoServer, handling one request at a time.

    DynamoDB applies the writes to an item one after another, each condition checked
    against what the last one left. moto's threaded server checks a condition and writes
    without a lock, so two conditional writes racing can both pass, which DynamoDB never
    allows (the X budgets rely on it). Its clients still race each other.
    """
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    class AtomicMotoServer(ThreadedMotoServer):
        def _server_entry(self) -> None:
            dispatcher = DomainDispatcherApplication(create_backend_app)
            one_at_a_time = threading.Lock()

            def app(environ: Any, start_response: Any) -> Any:
                with one_at_a_time:
                    return dispatcher(environ, start_response)

            self._server = make_server(
                self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
            )
            self._server_ready_event.set()
            self._server.serve_forever()

    return AtomicMotoServer(ip_address=host, port=port, verbose=False)


@dataclass
class Delivered:
    """What feeding the queue to the worker did."""

    batches: int = 0
    messages: int = 0
    kept: int = 0  # named in batchItemFailures: handed back or failed, left in the queue


class SqsEventSource:
    """Lambda's SQS event source mapping on this machine: receive up to ten messages, call
    the worker with them in Lambda's event shape, delete what it did not report failed."""

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        invoke: Callable[[dict[str, Any]], Any],
        batch_size: int = 10,
    ) -> None:
        self._sqs = sqs
        self._url = queue_url
        self._invoke = invoke
        self._batch_size = batch_size
        self._arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]

    def event(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        region = self._sqs.meta.region_name
        return {
            "Records": [
                {
                    "messageId": message["MessageId"],
                    "receiptHandle": message["ReceiptHandle"],
                    "body": message["Body"],
                    "attributes": message.get("Attributes", {}),
                    "messageAttributes": {},
                    "md5OfBody": message.get("MD5OfBody", ""),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self._arn,
                    "awsRegion": region,
                }
                for message in messages
            ]
        }

    def poll_once(self, delivered: Delivered | None = None) -> Delivered:
        """One batch, if the queue has a visible message."""
        delivered = delivered or Delivered()
        messages = self._sqs.receive_message(
            QueueUrl=self._url,
            MaxNumberOfMessages=self._batch_size,
            AttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return delivered
        answer = self._invoke(self.event(messages)) or {}
        kept = {failure["itemIdentifier"] for failure in answer.get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in kept]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=self._url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
                ],
            )
        delivered.batches += 1
        delivered.messages += len(messages)
        delivered.kept += len(kept)
        return delivered

    def drain(self, max_batches: int | None = None) -> Delivered:
        """Batches until no message is visible (handed-back ones are not, for a while)."""
        delivered = Delivered()
        while max_batches is None or delivered.batches < max_batches:
            before = delivered.batches
            self.poll_once(delivered)
            if delivered.batches == before:
                break
        return delivered


class LocalRefreshLoop:
    """Runs the real schedule and worker handlers against moto, in a daemon thread."""

    def __init__(
        self,
        app: Any,
        sqs: Any,
        queue_url: str,
        interval_seconds: float,
        poll_seconds: float = QUEUE_POLL_SECONDS,
        compliance_queue_url: str | None = None,
    ) -> None:
        self._app = app
        self._interval = interval_seconds
        self._poll = poll_seconds
        self._source = SqsEventSource(sqs, queue_url, self._worker)
        # X's batch compliance runs with each refresh round here (daily when deployed), so a
        # post deleted at the emulator leaves the local report within a round or two.
        self._compliance = (
            None
            if compliance_queue_url is None
            else SqsEventSource(
                sqs,
                compliance_queue_url,
                functools.partial(self._call, "compliance_worker"),
                batch_size=COMPLIANCE_BATCH_SIZE,
            )
        )
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="local-refresh", daemon=True)

    def _call(self, function_name: str, event: dict[str, Any]) -> Any:
        from chalice.local import LambdaContext

        context = LambdaContext(function_name, memory_size=128, max_runtime_ms=300_000)
        return self._app.handler_map[function_name](event, context)

    def _worker(self, event: dict[str, Any]) -> Any:
        return self._call("refresh_worker", event)

    def run_round(self) -> Any:
        """The refresh round, then the compliance round; the refresh round's summary."""
        summary = self._call("schedule_refresh", self.scheduled_event())
        if self._compliance is not None:
            self._call("compliance_round", self.scheduled_event())
        return summary

    @staticmethod
    def scheduled_event() -> dict[str, Any]:
        import uuid
        from datetime import UTC, datetime

        return {  # what EventBridge sends for a schedule
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
            "resources": [],
            "detail": {},
        }

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        import time

        next_round = time.monotonic() + self._interval
        while not self._stopping.wait(self._poll):
            try:
                if time.monotonic() >= next_round:
                    next_round = time.monotonic() + self._interval
                    summary = self.run_round()
                    print(f"refresh round: {summary}", flush=True)
                self._source.drain()
                if self._compliance is not None:
                    self._compliance.drain()
            except Exception as error:  # the stack keeps serving; the next tick tries again
                print(f"refresh loop: {type(error).__name__}: {error}", file=sys.stderr)


def refresh_seconds() -> float:
    value = os.environ.get("LOCAL_REFRESH_SECONDS")
    return float(value) if value else DEFAULT_REFRESH_SECONDS


@contextmanager
def running_stack(port: int, *, quiet: bool = False) -> Iterator[Stack]:
    """Start moto, the emulator (when no other X is named) and chalice local; stop on exit."""
    check_port_free(port)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

    moto = atomic_moto_server(HOST, int(os.environ.get("MOTO_PORT", 0)))
    moto.start()
    emulator = None
    try:
        aws_endpoint = "http://{}:{}".format(*moto.get_host_and_port())
        os.environ["AWS_ENDPOINT_URL"] = aws_endpoint

        x_base_url = os.environ.get("X_API_BASE_URL", "")
        oauth2_client: tuple[str, str] | None = None
        if x_base_url:
            consumer_key = os.environ.get("X_CONSUMER_KEY", "")
            consumer_secret = os.environ.get("X_CONSUMER_SECRET", "")
            if os.environ.get("X_OAUTH2_CLIENT_ID") and os.environ.get("X_OAUTH2_CLIENT_SECRET"):
                oauth2_client = (
                    os.environ["X_OAUTH2_CLIENT_ID"],
                    os.environ["X_OAUTH2_CLIENT_SECRET"],
                )
        else:
            from local.x_emulator import XEmulator

            consumer_key, consumer_secret = EMULATOR_KEY, EMULATOR_SECRET
            # The emulator is an X app with both: `make run` signs in over OAuth 1.0a as
            # before, `X_SIGN_IN=oauth2 make run` over OAuth 2.0.
            oauth2_client = EMULATOR_OAUTH2_CLIENT
            os.environ.setdefault("X_SIGN_IN", "oauth1")
            emulator = XEmulator(
                consumer_key,
                consumer_secret,
                oauth2_client_id=oauth2_client[0],
                oauth2_client_secret=oauth2_client[1],
                seed_history=True,
            )
            x_base_url = emulator.start(HOST, int(os.environ.get("X_EMULATOR_PORT", 0)))
            os.environ["X_API_BASE_URL"] = x_base_url

        import boto3

        from local.resources import provision

        env = provision(
            boto3.Session(),
            x_consumer_key=consumer_key,
            x_consumer_secret=consumer_secret,
            x_oauth2_client=oauth2_client,
        )
        os.environ.update(env)
        # A compliance job is read again this soon here (the emulator finishes at once).
        os.environ.setdefault("COMPLIANCE_POLL_SECONDS", "2")
        os.environ["PORT"] = str(port)
        os.environ.setdefault("PUBLIC_URL", f"http://{HOST}:{port}")

        from chalice.cli.factory import CLIFactory
        from chalice.local import LocalDevServer

        factory = CLIFactory(project_dir=str(PROJECT_DIR))
        config = factory.create_config_obj(chalice_stage_name="local")
        handler = functools.partial(LocalRequestHandler, responses=GatewayResponses.from_template())
        server = LocalDevServer(config.chalice_app, config, HOST, port, handler_cls=handler)
        thread = threading.Thread(target=server.server.serve_forever, daemon=True)
        thread.start()
        refresh_loop = None
        if refresh_seconds() > 0:
            refresh_loop = LocalRefreshLoop(
                config.chalice_app,
                boto3.client("sqs"),
                env["REFRESH_QUEUE_URL"],
                refresh_seconds(),
                compliance_queue_url=env["COMPLIANCE_QUEUE_URL"],
            )
            refresh_loop.start()
        try:
            yield Stack(f"http://{HOST}:{port}", aws_endpoint, x_base_url, emulator)
        finally:
            if refresh_loop is not None:
                refresh_loop.stop()
            server.shutdown()
    finally:
        if emulator is not None:
            emulator.stop()
        moto.stop()


class MetricsAside(io.TextIOBase):
    """`make run`'s stdout: Powertools' EMF metric lines (a JSON object with "_aws", meant
    for CloudWatch) go to a file, so the console shows what a person reads; every other
    line passes through."""

    def __init__(self, console: Any, path: Path) -> None:
        self._console = console
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")
        self._pending = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            self._pending += text
            *lines, self._pending = self._pending.split("\n")
            for line in lines:
                target = self._file if line.startswith('{"_aws"') else self._console
                target.write(line + "\n")
            self._file.flush()
            self._console.flush()
        return len(text)

    def flush(self) -> None:
        with self._lock:
            self._console.flush()
            self._file.flush()


def describe_sign_in() -> str:
    chosen = os.environ.get("X_SIGN_IN") or ""
    if chosen == "oauth2":
        return "OAuth 2.0 with PKCE"
    if chosen == "oauth1":
        return "OAuth 1.0a"
    return "OAuth 2.0 if the X app has a client id and secret, else OAuth 1.0a"


def metrics_file() -> Path:
    return Path(os.environ.get("LOCAL_METRICS_FILE") or PROJECT_DIR / "build" / "metrics.jsonl")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8000))
    args = parser.parse_args(argv)
    sys.path.insert(0, str(PROJECT_DIR))
    import logging

    sys.stdout = MetricsAside(sys.stdout, metrics_file())
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")
    # moto's per-request lines and botocore's credential notes drown the app's own lines.
    for noisy in ("werkzeug", "botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    try:
        with running_stack(args.port) as stack:
            x_label = "the X emulator" if stack.emulator else urlsplit(stack.x_base_url).netloc
            print(f"AWS (moto server): {stack.aws_endpoint}", flush=True)
            print(f"X: {stack.x_base_url} ({x_label})", flush=True)
            print(f"Sign-in: {describe_sign_in()} (X_SIGN_IN)", flush=True)
            rounds = refresh_seconds()
            every = f"every {rounds:g} s" if rounds > 0 else "off"
            print(f"Refresh rounds: {every} (LOCAL_REFRESH_SECONDS)", flush=True)
            print(f"Metrics (EMF, as CloudWatch would get them): {metrics_file()}", flush=True)
            print(f"responsetime is running: open {stack.url}  (Ctrl-C stops it)", flush=True)
            stopping.wait()
            print("stopping...", flush=True)
    except PortTaken as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
