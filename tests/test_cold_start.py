"""The cold-start boundary: a fresh process that imports `app` and answers one `GET /auth`
(as a Lambda cold start does) loads nothing that only reports, the schedule or the pages
need. services.py's docstring has the rule; this test keeps it."""

from __future__ import annotations

import os

from bench.coldstart import APP_COLD_START, printed, run_fresh
from bench.harness import local_world

# Loaded by a report view, the schedule or a page, never by the sign-in's first leg.
# Not chalicelib.budget: /auth takes a token from the fleet's sign-in bucket before it asks X
# for a request token (services.sign_in_budget), and budget.py imports nothing heavy.
NOT_AT_SIGN_IN = (
    "chalicelib.analytics",
    "chalicelib.report_service",
    "chalicelib.report_view",
    "chalicelib.charts",
    "chalicelib.refresh",
    "chalicelib.refresh_queue",
    "chalicelib.archive",
    "chalicelib.x_timeline",
    "chalicelib.token_refresh",
    "jinja2",
    "aws_lambda_powertools.utilities.batch",
    "chalicelib.xlsx",
    "openpyxl",
)

LOADED = """
import sys
print("LOADED " + json.dumps(sorted(sys.modules)))
"""


def test_a_cold_sign_in_loads_nothing_it_does_not_need() -> None:
    # GIVEN moto's server and the X emulator, and a fresh Python process
    with local_world() as world:
        env = {"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1", **world.env}
        # WHEN it imports app and answers GET /auth (run_fresh raises if it fails)
        _, output = run_fresh(APP_COLD_START + LOADED, env)
    # THEN the sign-in started (a 302 to X), and none of those modules was loaded
    loaded = set(printed(output, "LOADED"))
    assert "app" in loaded and "chalicelib.signin" in loaded
    assert sorted(loaded & set(NOT_AT_SIGN_IN)) == []
