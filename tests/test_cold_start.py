"""The cold-start boundary: a fresh process that imports `app` and answers one `GET /auth`
(as a Lambda cold start does) loads nothing that only reports, the schedule or the pages
need. services.py's docstring has the rule; this test keeps it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from bench.coldstart import APP_COLD_START, PROJECT_DIR
from bench.harness import local_world

# Loaded by a report view, the schedule or a page, never by the sign-in's first leg.
NOT_AT_SIGN_IN = (
    "chalicelib.analytics",
    "chalicelib.report_service",
    "chalicelib.report_view",
    "chalicelib.charts",
    "chalicelib.refresh",
    "chalicelib.refresh_queue",
    "chalicelib.budget",
    "chalicelib.archive",
    "chalicelib.x_timeline",
    "jinja2",
    "aws_lambda_powertools.utilities.batch",
)

LOADED = """
import sys
print("LOADED " + json.dumps(sorted(sys.modules)))
"""


def test_a_cold_sign_in_loads_nothing_it_does_not_need() -> None:
    # GIVEN moto's server and the X emulator, and a fresh Python process
    with local_world() as world:
        env = {"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1", **world.env}
        # WHEN it imports app and answers GET /auth
        done = subprocess.run(
            [sys.executable, "-c", APP_COLD_START + LOADED],
            cwd=PROJECT_DIR,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
    # THEN the sign-in started (a 302 to X), and none of those modules was loaded
    assert done.returncode == 0, done.stderr[-2000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("LOADED "))
    loaded = set(json.loads(line.removeprefix("LOADED ")))
    assert "app" in loaded and "chalicelib.signin" in loaded
    assert sorted(loaded & set(NOT_AT_SIGN_IN)) == []
