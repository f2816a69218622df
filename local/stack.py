"""`make run`: the whole app on this machine, with no AWS and no X account.

moto's server stands in for AWS (resources from infra/resources.json), the X emulator for
X (unless X_API_BASE_URL names another X), and Chalice's local server runs app.py with
stage `local`. All bind to 127.0.0.1. Ctrl-C stops all three.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

PROJECT_DIR = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
EMULATOR_KEY = "local-consumer-key"
EMULATOR_SECRET = "local-consumer-secret"


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


def _redacting_handler() -> Any:
    from chalice.local import ChaliceRequestHandler

    class RedactingRequestHandler(ChaliceRequestHandler):
        """chalice local logs each request line; /callback's query holds the OAuth verifier,
        so the query string never reaches the log."""

        def log_request(self, code: Any = "-", size: Any = "-") -> None:
            path = self.path.split("?", 1)[0]
            self.log_message('"%s %s" %s', self.command, path, str(code))

    return RedactingRequestHandler


@contextmanager
def running_stack(port: int, *, quiet: bool = False) -> Iterator[Stack]:
    """Start moto, the emulator (when no other X is named) and chalice local; stop on exit."""
    check_port_free(port)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

    from moto.server import ThreadedMotoServer

    moto = ThreadedMotoServer(
        ip_address=HOST, port=int(os.environ.get("MOTO_PORT", 0)), verbose=False
    )
    moto.start()
    emulator = None
    try:
        aws_endpoint = "http://{}:{}".format(*moto.get_host_and_port())
        os.environ["AWS_ENDPOINT_URL"] = aws_endpoint

        x_base_url = os.environ.get("X_API_BASE_URL", "")
        if x_base_url:
            consumer_key = os.environ["X_CONSUMER_KEY"]
            consumer_secret = os.environ["X_CONSUMER_SECRET"]
        else:
            from local.x_emulator import XEmulator

            consumer_key, consumer_secret = EMULATOR_KEY, EMULATOR_SECRET
            emulator = XEmulator(consumer_key, consumer_secret)
            x_base_url = emulator.start(HOST, int(os.environ.get("X_EMULATOR_PORT", 0)))
            os.environ["X_API_BASE_URL"] = x_base_url

        import boto3

        from local.resources import provision

        env = provision(
            boto3.Session(), x_consumer_key=consumer_key, x_consumer_secret=consumer_secret
        )
        os.environ.update(env)
        os.environ["PORT"] = str(port)
        os.environ.setdefault("PUBLIC_URL", f"http://{HOST}:{port}")

        from chalice.cli.factory import CLIFactory
        from chalice.local import LocalDevServer

        factory = CLIFactory(project_dir=str(PROJECT_DIR))
        config = factory.create_config_obj(chalice_stage_name="local")
        server = LocalDevServer(
            config.chalice_app, config, HOST, port, handler_cls=_redacting_handler()
        )
        thread = threading.Thread(target=server.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield Stack(f"http://{HOST}:{port}", aws_endpoint, x_base_url, emulator)
        finally:
            server.shutdown()
    finally:
        if emulator is not None:
            emulator.stop()
        moto.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8000))
    args = parser.parse_args(argv)
    sys.path.insert(0, str(PROJECT_DIR))
    import logging

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
            print(f"responsetime is running: open {stack.url}  (Ctrl-C stops it)", flush=True)
            stopping.wait()
            print("stopping...", flush=True)
    except PortTaken as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
