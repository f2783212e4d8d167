"""Fixtures of the fault tests: stacks of their own (private Redis with AOF, short leases), so these tests
can kill workers, APIs and Redis without disturbing the shared session-scoped ``stack``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from graphgate.testing.stack import RedisServer, Stack
from tests.reliability.support import BASE_ENV, stop_fast

WORKERS = 2  # the shared fault stack runs two workers of one pool process each


@pytest.fixture(scope="session")
def aof_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A private redis-server with AOF (appendfsync always), as production runs it."""
    server = RedisServer(tmp_path_factory.mktemp("rel-redis"), appendonly=True).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fault_stack(aof_redis: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Two workers (one pool process each) and an API; the offline model streams a word every 10 ms."""
    stack = Stack(
        redis_url=aof_redis.url,
        workdir=tmp_path_factory.mktemp("fault-stack"),
        extra_env={**BASE_ENV, "GRAPHGATE_OFFLINE_MODEL_DELAY": "0.01"},
    )
    try:
        for _ in range(WORKERS):
            stack.start_worker(concurrency=1)
        stack.start_api()
        yield stack
    finally:
        stop_fast(stack)


@pytest.fixture
def stack2(fault_stack: Stack) -> Stack:
    """The fault stack with both its workers alive (a test before may have killed one)."""
    fault_stack.workers[:] = [w for w in fault_stack.workers if w.popen.poll() is None]
    while len(fault_stack.workers) < WORKERS:
        fault_stack.start_worker(concurrency=1)
    return fault_stack


@pytest.fixture
def store(aof_redis: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(aof_redis.url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def make_stack(tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    """Build a stack of a test's own (``make_stack(redis_url, GRAPHGATE_X=...)``); torn down after it."""
    stacks: list[Stack] = []

    def make(redis_url: str, **env: str) -> Stack:
        stack = Stack(redis_url=redis_url, workdir=tmp_path / f"stack{len(stacks)}", extra_env={**BASE_ENV, **env})
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stop_fast(stack)
