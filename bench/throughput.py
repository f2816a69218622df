"""Local throughput: `GET /report` within the report's max age, from 2 concurrent clients
for 10 s against the `make run` stack (moto's server, the X emulator and chalice local in a
subprocess). Requests per second and p50/p99 latency.

Informational only: chalice local is a development server (one Python process, a thread
per connection), not API Gateway and Lambda.

    python -m bench.throughput [--clients N] [--seconds S]
"""

from __future__ import annotations

import argparse
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from bench.harness import median, percentile
from tests.stack_fixture import local_stack_process


def _signed_in_cookie(url: str, x_url: str, username: str) -> str:
    """Sign in as a browser would, over HTTP; return the session cookie's value."""
    browser = requests.Session()
    authorize_url = browser.get(url + "/auth", allow_redirects=False, timeout=15).headers[
        "location"
    ]
    token = parse_qs(urlsplit(authorize_url).query)["oauth_token"][0]
    callback = browser.post(
        x_url + "/oauth/authorize",
        data={"oauth_token": token, "username": username, "action": "authorize"},
        allow_redirects=False,
        timeout=15,
    ).headers["location"]
    landed = browser.get(callback, allow_redirects=False, timeout=15)
    assert landed.headers["location"] == "/report", landed.text
    return str(browser.cookies["session"])


def main(clients: int = 2, seconds: float = 10.0, quiet: bool = False) -> dict[str, Any]:
    with local_stack_process() as stack:
        cookie = _signed_in_cookie(stack.url, stack.x_url, "fastbrand")
        warm = requests.get(stack.url + "/report", cookies={"session": cookie}, timeout=60)
        assert warm.status_code == 200  # the report is built once, then served within max age
        latencies: list[list[float]] = [[] for _ in range(clients)]
        failures = [0] * clients
        start = threading.Barrier(clients + 1)
        deadline = 0.0

        def client(index: int) -> None:
            http = requests.Session()
            http.cookies.set("session", cookie)
            start.wait()
            while time.perf_counter() < deadline:
                sent = time.perf_counter()
                answer = http.get(stack.url + "/report", allow_redirects=False, timeout=30)
                latencies[index].append(time.perf_counter() - sent)
                if answer.status_code != 200 or "answers its mentions" not in answer.text:
                    failures[index] += 1

        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        for thread in threads:
            thread.start()
        began = time.perf_counter()
        deadline = began + seconds
        start.wait()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began
    every = [value for per_client in latencies for value in per_client]
    figures: dict[str, Any] = {
        "clients": clients,
        "seconds": elapsed,
        "requests": len(every),
        "failures": sum(failures),
        "requests_per_s": len(every) / elapsed,
        "p50_s": median(every),
        "p99_s": percentile(every, 0.99),
    }
    if not quiet:
        print(f"GET /report within max age, {clients} clients, {elapsed:.1f} s, chalice local")
        print(f"requests        {figures['requests']:8}  ({figures['failures']} failed)")
        print(f"requests per s  {figures['requests_per_s']:8.1f}")
        print(f"p50 latency     {figures['p50_s'] * 1000:8.1f} ms")
        print(f"p99 latency     {figures['p99_s'] * 1000:8.1f} ms")
    return figures


def rows(figures: dict[str, Any]) -> list[tuple[str, str, str]]:
    label = f"GET /report within max age, {figures['clients']} clients, {figures['seconds']:.0f} s"
    return [
        (f"{label}: requests per second", f"{figures['requests_per_s']:.1f}", "informational"),
        ("p50 latency", f"{figures['p50_s'] * 1000:.1f} ms", ""),
        ("p99 latency", f"{figures['p99_s'] * 1000:.1f} ms", ""),
        ("requests (failed)", f"{figures['requests']} ({figures['failures']})", "0 failed"),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0)
    arguments = parser.parse_args()
    main(arguments.clients, arguments.seconds)
