"""Workers as operators run them: graceful shutdown (what ``docker compose stop`` and a Kubernetes rollout
do: SIGTERM lets the running run finish, leaves queued runs in the queue for the next worker, and runs
nothing twice) and queues served in priority order."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator

import pytest
import redis

from graphgate.testing.client import Api, terminal_of
from graphgate.testing.stack import RedisServer
from tests.deploy.conftest import DeployStack, wait_for


@pytest.fixture
def small_stack(deploy_redis: RedisServer, tmp_path) -> Iterator[DeployStack]:  # type: ignore[no-untyped-def]
    stack = DeployStack(redis_url=deploy_redis.url, workdir=tmp_path)
    stack.gunicorns = []
    try:
        stack.start_api()
        yield stack
    finally:
        stack.stop()


def test_sigterm_finishes_the_running_run_and_requeues_nothing_twice(small_stack: DeployStack) -> None:
    stack = small_stack
    api = Api(stack.url, "ops")
    first_worker = stack.start_worker(concurrency=1)
    running = api.create(graph="echo", input={"text": "finish me", "sleep": 3})
    api.wait_status(running["task_id"], {"running"}, timeout=30)

    first_worker.popen.send_signal(signal.SIGTERM)  # warm shutdown begins mid-run
    waiting = api.create(graph="echo", input={"text": "next worker"})
    assert first_worker.popen.wait(30) == 0
    assert api.get(running["task_id"])["status"] == "completed"  # the run was allowed to end

    queue = redis.Redis.from_url(stack.redis_url)
    assert queue.llen(f"{stack.prefix}.runs") == 1  # the waiting run is still queued, exactly once
    assert api.get(waiting["task_id"])["status"] == "queued"

    stack.start_worker(concurrency=1)
    events = api.events(waiting["session_id"], terminal_of(waiting["task_id"]), timeout=60)
    assert events[-1].type == "task.completed"
    wait_for(lambda: queue.llen(f"{stack.prefix}.runs") == 0, 10)

    first = api.events(running["session_id"], terminal_of(running["task_id"]), timeout=10)
    assert [e.type for e in first].count("task.started") == 1  # not run again by the second worker
    assert [e.type for e in events].count("task.started") == 1


def test_worker_serves_its_queues_in_priority_order(deploy_redis: RedisServer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``--queues urgent,default``: while the routed queue holds runs, the worker takes those first."""
    stack = DeployStack(
        redis_url=deploy_redis.url,
        workdir=tmp_path,
        extra_env={"GRAPHGATE_GRAPH_QUEUES": json.dumps({"ask": "urgent"})},
    )
    stack.gunicorns = []
    try:
        stack.start_api()
        api = Api(stack.url, "prio")
        echoes = [api.create(graph="echo", input={"text": f"e{i}"}) for i in range(4)]
        asks = [api.create(graph="ask") for _ in range(2)]  # queued after the echoes, on the urgent queue
        stack.start_queue_worker("urgent,default", pool="solo")
        started: dict[str, float] = {}
        for task, until in [(t, terminal_of(t["task_id"])) for t in echoes] + [
            (t, lambda e: e.type == "interrupt") for t in asks
        ]:
            events = api.events(task["session_id"], until, timeout=60)
            started[task["task_id"]] = next(e.envelope["ts"] for e in events if e.type == "task.started")
        assert max(started[t["task_id"]] for t in asks) < min(started[t["task_id"]] for t in echoes)
    finally:
        stack.stop()
