"""The `make run` stack as a subprocess, for tests and benchmarks that need real HTTP.

`python -m local.stack` starts on free loopback ports with an environment of its own (no
variable of this test process leaks in: conftest's STAGE, PUBLIC_URL and fake AWS keys
would point it elsewhere). Everything it writes, stdout and stderr together, is kept so a
test can read the whole output. It stops as Ctrl-C stops it, with SIGKILL as a fallback.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
# Variables a Python process needs to run at all; nothing else is inherited.
INHERITED = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "SYSTEMROOT", "VIRTUAL_ENV")

_RUNNING = re.compile(r"responsetime is running: open (\S+)")
_AWS = re.compile(r"AWS \(moto server\): (\S+)")
_X = re.compile(r"^X: (\S+)", re.MULTILINE)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@dataclass
class StackProcess:
    """A running `python -m local.stack`: its URLs and everything it has printed."""

    url: str
    aws_endpoint: str
    x_url: str
    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    def output(self) -> str:
        return "".join(self.lines)

    def aws_client(self, service: str) -> Any:
        """A boto3 client of the stack's moto server (not the process-wide AWS settings)."""
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.aws_endpoint,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )


def stack_environment(home: str, **overrides: str) -> dict[str, str]:
    env = {name: os.environ[name] for name in INHERITED if name in os.environ}
    env.update(
        {
            "HOME": home,
            "TMPDIR": home,
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": os.path.join(home, "aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": os.path.join(home, "aws-credentials"),
            "MOTO_PORT": "0",
            "X_EMULATOR_PORT": "0",
        }
    )
    env.update(overrides)
    return env


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_S)


@contextmanager
def local_stack_process(**env_overrides: str) -> Iterator[StackProcess]:
    """Start `python -m local.stack --port N` and wait for its "running" line."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="responsetime-stack-") as home:
        process = subprocess.Popen(
            [sys.executable, "-m", "local.stack", "--port", str(port)],
            cwd=PROJECT_DIR,
            env=stack_environment(home, PORT=str(port), **env_overrides),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        lines: list[str] = []
        started = threading.Event()

        def read_output() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                lines.append(line)
                if _RUNNING.search(line):
                    started.set()
            started.set()  # the process ended: stop waiting

        reader = threading.Thread(target=read_output, name="stack-output", daemon=True)
        reader.start()
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while not started.wait(0.1):
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the local stack did not start in {START_TIMEOUT_S:.0f} s:\n"
                        + "".join(lines)
                    )
            text = "".join(lines)
            running, aws, x = _RUNNING.search(text), _AWS.search(text), _X.search(text)
            if running is None or aws is None or x is None:
                raise RuntimeError(f"the local stack stopped while starting:\n{text}")
            yield StackProcess(running.group(1), aws.group(1), x.group(1), process, lines)
        finally:
            _stop(process)
            reader.join(timeout=STOP_TIMEOUT_S)


@pytest.fixture(scope="module")
def stack() -> Iterator[StackProcess]:
    """One local stack per test module, shared by its tests."""
    with local_stack_process() as running:
        yield running


@pytest.fixture(scope="module")
def oauth2_stack() -> Iterator[StackProcess]:
    """`X_SIGN_IN=oauth2 make run`: the same stack, signing in over OAuth 2.0."""
    with local_stack_process(X_SIGN_IN="oauth2") as running:
        yield running
