"""Shared fixtures: a private Redis and a running graphgate stack (API + Celery worker processes)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from graphgate.testing.client import Api
from graphgate.testing.stack import TEST_CLUSTER, RedisServer, Stack, running_stack


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server of the test run's own, so tests never touch the machine's Redis data."""
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_url(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Where the stacks keep their state: the run's own Redis, or with ``GRAPHGATE_TEST_REDIS_CLUSTER`` a
    3-primary Redis Cluster (the run's own Redis is then the stacks' Celery broker)."""
    if not TEST_CLUSTER:
        yield redis_server.url
        return
    from graphgate.testing.cluster import RedisCluster

    cluster = RedisCluster(tmp_path_factory.mktemp("cluster")).start()
    os.environ.setdefault("GRAPHGATE_TEST_BROKER", redis_server.url)
    yield cluster.url
    cluster.stop()


@pytest.fixture(scope="session")
def shared_stack(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One API process and one worker process (prefork, 2 children) with the default settings, shared by the
    integration tests; under this name too, for a module whose own ``stack`` fixture hides it."""
    with running_stack(redis_url, tmp_path_factory.mktemp("stack")) as s:
        yield s


@pytest.fixture(scope="session")
def stack(shared_stack: Stack) -> Stack:
    return shared_stack


@pytest.fixture
def api(stack: Stack) -> Api:
    return Api(stack.url, "alice")


@pytest.fixture
def make_api(stack: Stack):  # type: ignore[no-untyped-def]
    def make(sub: str) -> Api:
        return Api(stack.url, sub)

    return make


# Tests in these folders start whole processes (API, workers, dispatcher, nginx, chromium); a test elsewhere
# that does so says it with ``pytestmark = pytest.mark.integration``. ``make test-fast`` runs the others.
INTEGRATION_DIRS = frozenset({"e2e", "reliability", "deploy", "web", "security", "bench"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tests = Path(__file__).resolve().parent
    for item in items:
        parts = Path(str(item.fspath)).resolve().relative_to(tests).parts
        if parts and parts[0] in INTEGRATION_DIRS:
            item.add_marker(pytest.mark.integration)
