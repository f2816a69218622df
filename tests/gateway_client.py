"""Chalice's test client behind local.stack's LocalApiGateway, as `make run` serves the app:
what API Gateway answers by itself (a path no route has: our 404 page from
infra/resources.json) is answered here too, where Chalice's own LocalGateway says 403
`{"message": "Missing Authentication Token"}`. Everything else reaches the app as through
conftest's `client`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from chalice.app import Chalice
from chalice.config import Config
from chalice.test import TestHTTPClient

from local.stack import GatewayResponses, LocalApiGateway

PROJECT_DIR = Path(__file__).resolve().parent.parent


class GatewayHTTPClient(TestHTTPClient):
    """TestHTTPClient, its gateway (which it keeps in `_local_gateway`) replaced by ours."""

    def __init__(self, app: Chalice, config: Config, responses: GatewayResponses) -> None:
        super().__init__(app, config)
        self._local_gateway = LocalApiGateway(app, config, responses)


@dataclass
class GatewayClient:
    """Shaped like chalice.test.Client where tests use it (`.http`), so tests/browser.py's
    Browser drives it as it drives conftest's `client`."""

    http: GatewayHTTPClient


@pytest.fixture
def gateway_client(app_env: Any) -> Iterator[GatewayClient]:
    from chalice.cli.factory import CLIFactory

    from app import app

    config = CLIFactory(str(PROJECT_DIR)).create_config_obj(chalice_stage_name="local")
    yield GatewayClient(GatewayHTTPClient(app, config, GatewayResponses.from_template()))
