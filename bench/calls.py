"""What each request costs outside the process: AWS API calls per route, and X requests
and posts read per report (first build, a refresh with nothing new, one with 5 new).

Runs the app through Chalice's test client against moto's server and the X emulator, both
on loopback, and counts every botocore API call made in the process and every request the
emulator answers. Figures are for a warm function (secrets cached), except the first
`GET /auth`, which is the cold one and also reads the secrets.

    python -m bench.calls
"""

from __future__ import annotations

import contextlib
import io
import os
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bench.harness import counting_aws_calls, local_world, quiet_app_logs

ACCOUNT = "fastbrand"
NEW_MENTIONS = 5
X_READS = ("GET /2/users/:id/mentions", "GET /2/users/:id/tweets")


def _calls_text(calls: Counter[str]) -> str:
    if not calls:
        return "none"
    return ", ".join(f"{name} {count}" for name, count in sorted(calls.items()))


def main(quiet: bool = False) -> dict[str, Any]:
    # Powertools Metrics prints each request's metrics (EMF) to stdout: not a figure.
    app_output = io.StringIO()
    with (
        local_world() as world,
        counting_aws_calls() as aws_calls,
        contextlib.redirect_stdout(app_output),
    ):
        from chalice.test import Client

        from app import app
        from chalicelib import services
        from tests.browser import Browser, approve

        quiet_app_logs()
        services.reset()
        emulator = world.emulator
        per_route: dict[str, dict[str, Any]] = {}

        def measure(label: str, request: Callable[[], Any]) -> Any:
            aws_calls.clear()
            emulator.reset_counters()
            response = request()
            per_route[label] = {
                "status": response.status_code,
                "aws": dict(aws_calls),
                "aws_total": sum(aws_calls.values()),
                "x": dict(emulator.calls),
                "x_total": sum(emulator.calls.values()),
            }
            return response

        def x_report_figures() -> dict[str, int]:
            return {
                "x_requests": sum(emulator.calls[t] for t in X_READS),
                "posts_read": sum(emulator.posts_served[t] for t in X_READS),
            }

        with Client(app, stage_name="local") as client:
            person = Browser(client)
            origin = {"origin": world.env["PUBLIC_URL"]}
            auth = measure("GET /auth (cold: reads the secrets)", lambda: person.get("/auth"))
            callback = approve(auth.headers["location"], ACCOUNT)
            measure("GET /callback", lambda: person.get(callback))
            measure("GET / (signed in)", lambda: person.get("/"))
            measure("GET /report (first build)", lambda: person.get("/report"))
            first_build = x_report_figures()
            measure("GET /report (within max age)", lambda: person.get("/report"))
            measure("GET /report.json (within max age)", lambda: person.get("/report.json"))
            settings_form = "hours=09%3A00-17%3A00&tz=Europe%2FLondon&target=30"
            measure(
                "POST /settings",
                lambda: person.post("/settings", headers=origin, body=settings_form),
            )
            measure(
                "GET /report (new settings: rebuilt from the archive)",
                lambda: person.get("/report"),
            )
            measure("GET /report (new settings, again)", lambda: person.get("/report"))
            measure("POST /logout", lambda: person.post("/logout", headers=origin))
            other = Browser(client)
            measure("GET /auth (warm)", lambda: other.get("/auth"))

            # Refreshes: every view is past the max age from here on.
            os.environ["REPORT_MAX_AGE_SECONDS"] = "0"
            services.reset()
            reader = Browser(client)
            reader.sign_in(ACCOUNT)
            emulator.reset_counters()
            nothing_new = reader.get("/report.json").json_body
            refresh_nothing_new = x_report_figures()
            account_id = emulator.account_id(ACCOUNT)
            fan = emulator.account_id("maria_gomez")
            for i in range(NEW_MENTIONS):
                emulator.add_post(
                    fan,
                    f"@{ACCOUNT} one more question {i}",
                    datetime.now(UTC),
                    mentions=[account_id],
                )
            emulator.reset_counters()
            five_new = reader.get("/report.json").json_body
            refresh_five_new = x_report_figures()

    figures: dict[str, Any] = {
        "aws_per_route": per_route,
        "x_per_report": {
            "first build": first_build,
            "refresh, nothing new": refresh_nothing_new,
            f"refresh, {NEW_MENTIONS} new mentions": refresh_five_new,
        },
        "mentions_before": nothing_new["mentions"],
        "mentions_after": five_new["mentions"],
        "archive_posts": five_new["source"]["archive_posts"],
    }
    figures["ratio_posts_read_per_new_post"] = refresh_five_new["posts_read"] / NEW_MENTIONS
    if not quiet:
        for title, section in rows(figures).items():
            print(title)
            for what, value, goal in section:
                print(f"  {what:50} {value}  {goal}")
    return figures


def rows(figures: dict[str, Any]) -> dict[str, list[tuple[str, str, str]]]:
    aws_rows = [
        (
            label,
            f"{route['aws_total']} ({_calls_text(Counter(route['aws']))}); X {route['x_total']}",
            "",
        )
        for label, route in figures["aws_per_route"].items()
    ]
    x_rows = [
        (label, f"{counts['x_requests']} requests, {counts['posts_read']} posts read", "")
        for label, counts in figures["x_per_report"].items()
    ]
    x_rows.append(
        (
            "ratio: posts read / new posts, refresh with 5 new",
            f"{figures['ratio_posts_read_per_new_post']:.2f}",
            "1.00 (only what is new)",
        )
    )
    return {"AWS calls per route": aws_rows, "X per report": x_rows}


if __name__ == "__main__":
    main()
