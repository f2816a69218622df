"""The unit layer: our flows with our own fakes (fakes.py), no moto, no emulator, no
network. tests/conftest.py marks every test here `unit`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def no_metrics_left_over() -> Iterator[None]:
    """The flows count into Powertools' process-wide Metrics, which only a Lambda
    invocation flushes: drop what a test counted, so no later test sees it."""
    yield
    from chalicelib.observability import metrics

    metrics.clear_metrics()
