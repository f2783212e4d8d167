"""The stack test_sdk.py and test_run_options.py share: the graphs of tests/langgraph_api/langgraph.json, with
signed webhooks allowed to loopback (test_run_options.py's receiver). Their principals differ (alice and bob,
dora), and what they search for is per principal, so neither sees the other's threads and runs; a module that
needs other settings (CORS for the JavaScript clients' page, four worker children beside ``langgraph dev``)
starts a stack of its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from graphgate.testing.stack import Stack, running_stack

CONFIG = Path(__file__).with_name("langgraph.json")
WEBHOOK_SECRET = "webhook-signing-secret-for-tests"


@pytest.fixture(scope="package")
def server(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    env = {
        "GRAPHGATE_CONFIG": str(CONFIG),
        "GRAPHGATE_WEBHOOK_ALLOW_PRIVATE": "true",  # the receiver is on loopback
        "GRAPHGATE_WEBHOOK_SECRET": WEBHOOK_SECRET,
    }
    with running_stack(redis_url, tmp_path_factory.mktemp("langgraph-api"), env) as stack:
        yield stack
