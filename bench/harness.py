"""What the benchmarks share: moto's server and the X emulator on loopback, the app's
environment pointed at them, and figures. AWS calls are counted with the test kit's
counter (tests/support/aws_calls.py)."""

from __future__ import annotations

import logging
import os
import statistics
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tests.support.aws_calls import counting_aws_calls

__all__ = [
    "LocalWorld",
    "counting_aws_calls",  # the kit's, in tests/support/; bench/calls.py takes it from here
    "local_world",
    "median",
    "patched_environ",
    "percentile",
    "quiet_app_logs",
]

HOST = "127.0.0.1"
CONSUMER_KEY = "bench-consumer-key"
CONSUMER_SECRET = "bench-consumer-secret"
PUBLIC_URL = "http://127.0.0.1:8000"


@dataclass
class LocalWorld:
    """moto and the X emulator, running; `env` is what the app's functions would get."""

    aws_endpoint: str
    emulator: Any  # local.x_emulator.XEmulator
    env: dict[str, str]


@contextmanager
def patched_environ(values: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def local_world() -> Iterator[LocalWorld]:
    """Start moto's server and the X emulator; set the app's environment while it runs."""
    import boto3
    import requests
    from moto.server import ThreadedMotoServer

    from local.resources import provision
    from local.x_emulator import XEmulator

    for noisy in ("werkzeug", "botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    moto = ThreadedMotoServer(ip_address=HOST, port=0, verbose=False)
    moto.start()
    emulator = XEmulator(CONSUMER_KEY, CONSUMER_SECRET)
    try:
        aws_endpoint = "http://{}:{}".format(*moto.get_host_and_port())
        # An in-process moto server keeps its state in moto's global backends: start empty.
        requests.post(aws_endpoint + "/moto-api/reset", timeout=10).raise_for_status()
        x_url = emulator.start(HOST, 0)
        env = {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": aws_endpoint,
            "X_API_BASE_URL": x_url,
            "PUBLIC_URL": PUBLIC_URL,
            "STAGE": "local",
            "LOG_LEVEL": "WARNING",
            "POWERTOOLS_SERVICE_NAME": "responsetime",
            "POWERTOOLS_METRICS_NAMESPACE": "responsetime",
        }
        os.environ.pop("AWS_PROFILE", None)
        with patched_environ(env):
            session = boto3.Session()
            env.update(
                provision(session, x_consumer_key=CONSUMER_KEY, x_consumer_secret=CONSUMER_SECRET)
            )
            os.environ.update(env)
            yield LocalWorld(aws_endpoint, emulator, env)
    finally:
        emulator.stop()
        moto.stop()


def quiet_app_logs() -> None:
    """The app logs each sign-in at INFO; a benchmark's output is its figures."""
    logging.getLogger("responsetime").setLevel(logging.WARNING)


def percentile(values: list[float], share: float) -> float:
    """The value below which `share` of `values` lie (nearest rank)."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))
    return ordered[rank]


def median(values: list[float]) -> float:
    return statistics.median(values)
