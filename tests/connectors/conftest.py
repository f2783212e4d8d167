"""Fixtures of the connector tests: a task service on the test run's Redis, for handlers run in-process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from graphgate.core.registry import GraphRegistry
from tests.connectors.world import World, registry_in


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> GraphRegistry:
    return registry_in(tmp_path_factory.mktemp("graphs"))


@pytest.fixture
def world(redis_url: str, registry: GraphRegistry) -> Iterator[World]:
    w = World(redis_url, registry)
    yield w
    w.close()
