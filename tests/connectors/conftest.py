"""Fixtures of the connector tests: a task service on the test run's Redis, for handlers run in-process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from graphgate.core.registry import GraphRegistry
from graphgate.testing.world import PLAIN_GRAPH, World, write_registry


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> GraphRegistry:
    return write_registry(tmp_path_factory.mktemp("graphs"), PLAIN_GRAPH, ["plain"])


@pytest.fixture
def world(redis_url: str, registry: GraphRegistry) -> Iterator[World]:
    w = World(redis_url, registry)
    yield w
    w.close()
