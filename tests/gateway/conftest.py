"""Fixtures of the in-process gateway tests: the task service on a real Redis with one plain graph."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from graphgate.testing.world import PLAIN_GRAPH, World, write_registry


@pytest.fixture
def plain_world(redis_url: str, tmp_path: Path) -> Iterator[World]:
    """Services on their own key prefix, with the graph ``plain`` (one node, no required input)."""
    w = World(redis_url, write_registry(tmp_path, PLAIN_GRAPH, ["plain"]))
    yield w
    w.close()
