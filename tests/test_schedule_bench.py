"""The fleet simulation of bench/schedule.py, small: what it proves at 100,000 accounts it
must prove at 30, through the same code (the real scheduler over moto's index, sampled
accounts real at the emulator through the real worker, the rest modelled), so a change
that breaks the proof fails here and not only in `make bench`."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest


@pytest.fixture
def simulated() -> Iterator[dict[str, Any]]:
    from bench import schedule
    from chalicelib import services

    # The benchmark sets its own environment and quietens the loggers: both are given back,
    # so every later test's log lines are still checked for secrets.
    names = ("", "werkzeug", "botocore", "boto3", "urllib3", "responsetime")
    levels = {name: logging.getLogger(name).level for name in names}
    with mock.patch.dict(os.environ):
        try:
            yield schedule.main(fleets=(30,), hours=2, sample=10)
        finally:
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)
            services.reset()


def test_every_account_is_refreshed_each_round_and_x_never_says_429(
    simulated: dict[str, Any],
) -> None:
    from bench import schedule

    (fleet,) = simulated["fleets"]

    # every account queued each hour, two rounds, one Query page and 3 batches of 10 each
    assert fleet["queued_per_round"] == [30, 30]
    assert (fleet["query_pages_max"], fleet["send_batches_per_round_max"]) == (1, 3)
    # each refreshed within the max age and one round, from the start and between rounds
    assert fleet["never_refreshed"] == 0
    assert fleet["longest_between_refreshes_s"] <= fleet["allowed_s"] == 900 + 3600
    # the sampled tokens read X (a heavy first read, a token used elsewhere among them)
    # and the one used elsewhere was handed back by its bucket before X could refuse it
    assert fleet["x_requests"] > 20 and fleet["x_429s"] == 0
    assert fleet["sample_handed_back"] >= 1
    assert fleet["per_hour"]["worker_invocations"] >= 3
    assert schedule.held(fleet)
    assert "30 accounts" in schedule.readme_table(simulated)
