"""Graphs that fail: one that raises is retried GRAPHGATE_TASK_MAX_RETRIES times then fails with a clear
error; one that hangs is ended by the soft time limit (or, when it swallows that, by the hard one); a
cancel during streamed model output stops the run at once."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from graphgate.core.keys import Keys
from graphgate.testing.client import Api, Received, terminal_of
from graphgate.testing.stack import RedisServer, Stack
from graphgate.testing.waiting import wait_for
from tests.reliability.support import (
    BASE_ENV,
    check_exactly_once,
    session_stream,
    stop_fast,
)

LIMITS = {
    "GRAPHGATE_TASK_MAX_RETRIES": "1",  # not the default (2): the setting is what counts
    "GRAPHGATE_TASK_SOFT_TIME_LIMIT": "2",
    "GRAPHGATE_TASK_TIME_LIMIT": "4",
}


@pytest.fixture(scope="module")
def limits_stack(aof_redis: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(redis_url=aof_redis.url, workdir=tmp_path_factory.mktemp("limits"), extra_env={**BASE_ENV, **LIMITS})
    try:
        stack.start_worker(concurrency=1)
        stack.start_api()
        yield stack
    finally:
        stop_fast(stack)


def finished(api: Api, created: dict, store: redis.Redis, stack: Stack, timeout: float = 60) -> list[Received]:
    events = api.events(created["session_id"], terminal_of(created["task_id"]), timeout=timeout)
    check_exactly_once(session_stream(store, stack.prefix, created["session_id"]), created["task_id"])
    return events


def test_graph_that_keeps_raising_fails_after_the_configured_retries(
    limits_stack: Stack, store: redis.Redis, tmp_path: Path
) -> None:
    api = Api(limits_stack.url)
    counter = tmp_path / "tries"
    created = api.create(graph="flaky", input={"counter": str(counter), "fail_times": 99})
    events = finished(api, created, store, limits_stack)
    assert [e.type for e in events if e.type.startswith("task.")] == [
        "task.queued",
        "task.started",
        "task.retrying",
        "task.started",
        "task.failed",
    ]
    retry = next(e for e in events if e.type == "task.retrying")
    assert retry.data["retry"] == 1 and retry.data["error"]["message"] == "flaky failure 1"
    assert events[-1].data["error"] == {"kind": "RuntimeError", "message": "flaky failure 2"}
    assert "Traceback" not in json.dumps(events[-1].envelope)
    assert counter.read_text() == "2"  # one run and one retry, nothing more
    # the retry continued from the checkpoint: the step before the failing one ran once
    assert [e.data["node"] for e in events if e.type == "node.completed"] == ["prepare"]
    task = api.get(created["task_id"])
    assert task["status"] == "failed" and task["error"]["kind"] == "RuntimeError"


def test_graph_that_raises_once_succeeds_on_its_retry(limits_stack: Stack, store: redis.Redis, tmp_path: Path) -> None:
    api = Api(limits_stack.url)
    created = api.create(graph="flaky", input={"counter": str(tmp_path / "tries"), "fail_times": 1})
    events = finished(api, created, store, limits_stack)
    assert events[-1].type == "task.completed" and events[-1].data["output"]["answer"] == "ok after 2 attempts"
    assert [e.type for e in events].count("task.retrying") == 1


def test_hanging_graph_is_ended_by_the_soft_time_limit(limits_stack: Stack, store: redis.Redis, tmp_path: Path) -> None:
    api = Api(limits_stack.url)
    beacon = tmp_path / "beacon"
    created = api.create(graph="hang", input={"beacon": str(beacon)})
    api.wait_status(created["task_id"], {"running"})
    t0 = time.monotonic()
    events = finished(api, created, store, limits_stack)
    elapsed = time.monotonic() - t0
    assert events[-1].type == "task.failed"
    assert events[-1].data["error"] == {"kind": "timeout", "message": "the run exceeded 2 s"}
    assert elapsed < 3.9  # the soft limit (2 s), not the hard one (4 s), ended it
    # the hung node itself stopped: its beacon is no longer touched. Nothing marks a thread's end, so the
    # check is a window over the beacon's own beat: 0.5 s is ten of its 50 ms touches (tests/reliability/graphs.py)
    stamp = beacon.stat().st_mtime
    time.sleep(0.5)
    assert beacon.stat().st_mtime == stamp
    print(f"\nsoft time limit 2 s: task.failed after {elapsed:.1f} s")


def test_graph_that_swallows_the_soft_limit_is_ended_by_the_hard_limit(
    limits_stack: Stack, store: redis.Redis, tmp_path: Path
) -> None:
    api = Api(limits_stack.url)
    created = api.create(graph="hang", input={"beacon": str(tmp_path / "beacon"), "stubborn": True})
    behind = api.create(graph="hang", input={"hang": False}, session_id=created["session_id"])
    api.wait_status(created["task_id"], {"running"})
    t0 = time.monotonic()
    events = api.events(created["session_id"], terminal_of(behind["task_id"]), timeout=60)
    terminal = {e.task_id: e for e in events if e.type in ("task.completed", "task.failed", "task.cancelled")}
    assert terminal[created["task_id"]].type == "task.failed"
    assert terminal[created["task_id"]].data["error"]["kind"] == "timeout"
    assert "hard time limit" in terminal[created["task_id"]].data["error"]["message"]
    # the process was replaced and the session's next task ran
    assert terminal[behind["task_id"]].type == "task.completed"
    entries = session_stream(store, limits_stack.prefix, created["session_id"])
    check_exactly_once(entries, created["task_id"])
    check_exactly_once(entries, behind["task_id"])
    print(f"\nhard time limit 4 s: task.failed, next task done after {time.monotonic() - t0:.1f} s")


def test_cancel_during_streamed_model_output_stops_promptly(fault_stack: Stack, store: redis.Redis) -> None:
    api = Api(fault_stack.url)
    created = api.create(graph="writer", topic="glaciers", config={"target_length": 2000})
    api.events(created["session_id"], lambda e: e.type == "message.delta" and e.data["node"] == "write")
    t0 = time.monotonic()
    assert api.cancel(created["task_id"]).status_code == 202
    events = api.events(created["session_id"], terminal_of(created["task_id"]), timeout=30)
    elapsed = time.monotonic() - t0
    assert events[-1].type == "task.cancelled" and events[-1].data["reason"] == "cancelled by request"
    assert elapsed < 3  # 2000 words at 10 ms each would take 20 s more
    assert api.get(created["task_id"])["status"] == "cancelled"
    # nothing is written after the cancel: the model stream really stopped. The sentinel: the attempt has
    # ended and released the run's lease; every event a run writes checks that lease, so from here on
    # nothing of this run can reach the stream
    lease = Keys(fault_stack.prefix).lease(created["session_id"], created["task_id"])
    wait_for(lambda: not store.exists(lease), 10, what="the run to release its lease")
    entries = session_stream(store, fault_stack.prefix, created["session_id"])
    assert entries[-1].type == "task.cancelled"
    check_exactly_once(entries, created["task_id"])
    assert "write" not in [e.data["node"] for e in entries if e.type == "node.completed"]
    print(f"\ncancel during streamed output: task.cancelled after {elapsed:.2f} s")
