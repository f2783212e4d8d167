"""A worker killed with SIGKILL in the middle of a run: the run is taken over and finishes from its last
checkpoint; the session's stream shows each completed step, each streamed word and one final answer."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import redis

from graphgate.testing.client import Api, Received, terminal_of
from graphgate.testing.dispatcher import start_dispatcher
from graphgate.testing.stack import RedisServer, Stack
from tests.reliability.support import (
    check_exactly_once,
    kill_pool_child,
    kill_worker,
    session_stream,
    wait_for,
    worker_running,
)

WRITER = {"graph": "writer", "topic": "tidal energy", "config": {"target_length": 400}}


def writing(n: int):  # type: ignore[no-untyped-def]
    """True once the ``write`` node has streamed ``n`` words: the run is in its second step."""
    seen = [0]

    def until(e: Received) -> bool:
        if e.type == "message.delta" and e.data["node"] == "write":
            seen[0] += 1
        return seen[0] >= n

    return until


def check_recovered(api: Api, store: redis.Redis, stack: Stack, created: dict, killed_at: float) -> float:
    """The run finished after the kill with every step once; seconds from the kill to the new attempt."""
    events = api.events(created["session_id"], terminal_of(created["task_id"]), timeout=90)
    assert events[-1].type == "task.completed", [e.type for e in events][-5:]
    entries = session_stream(store, stack.prefix, created["session_id"])
    assert [e.id for e in entries] == [e.id for e in events]  # what SSE delivered is the whole stream
    final = check_exactly_once(entries, created["task_id"])
    started = [e for e in entries if e.type == "task.started"]
    assert [e.data["attempt"] for e in started] == [1, 2]
    assert [e.data["node"] for e in entries if e.type == "node.completed"] == ["plan", "write", "finalize"]
    # the words of the article were streamed once each, and they are the article
    words = "".join(e.data["text"] for e in entries if e.type == "message.delta" and e.data["node"] == "write")
    for section in final.data["output"]["sections"]:
        assert section in words
    task = api.get(created["task_id"])
    assert task["status"] == "completed" and task["attempts"] == 2
    return started[1].envelope["ts"] - killed_at


def test_pool_process_killed_mid_run_is_requeued_at_once(stack2: Stack, store: redis.Redis) -> None:
    api = Api(stack2.url)
    created = api.create(**WRITER)
    api.events(created["session_id"], writing(40))
    worker = worker_running(stack2, created["task_id"])
    killed_at = time.time()
    kill_pool_child(worker)  # the prefork process running the graph; the worker itself lives on
    recovery = check_recovered(api, store, stack2, created, killed_at)
    # re-queued at once (reject_on_worker_lost); the new attempt waits for the dead run's lease to lapse
    assert recovery < 30
    print(f"\npool process SIGKILL: new attempt after {recovery:.1f} s")


def test_whole_worker_killed_mid_run_another_worker_finishes(stack2: Stack, store: redis.Redis) -> None:
    api = Api(stack2.url)
    created = api.create(**WRITER)
    api.events(created["session_id"], writing(40))
    worker = worker_running(stack2, created["task_id"])
    survivor = next(w for w in stack2.workers if w is not worker)
    killed_at = time.time()
    kill_worker(stack2, worker)  # main process and pool: nothing is left to hand the message back
    # the worst moment: it died holding the broker's restore lock, which then has to expire first (5 s here)
    store.set("unacked_mutex", "left behind by the killed worker", px=5000, nx=True)
    recovery = check_recovered(api, store, stack2, created, killed_at)
    assert worker_running(stack2, created["task_id"], attempt=2) is survivor
    # the broker hands the unacked message on after GRAPHGATE_BROKER_VISIBILITY_TIMEOUT (5 s here) and its
    # restore lock's expiry (5 s); kombu's default lock expiry, 5 minutes, made this take 5 minutes once
    assert recovery < 40
    print(f"\nwhole worker SIGKILL: new attempt on the other worker after {recovery:.1f} s")
    wait_for(lambda: not store.hlen("unacked"), 20, what="the broker's unacked set to empty")


def test_lease_lost_mid_step_the_run_is_handed_back_and_continues(stack2: Stack, store: redis.Redis) -> None:
    """The run's lease vanishes (Redis failed over and lost it, or the worker stalled past it) while a node
    streams: the run stops writing, lets the node end, and hands the task back; the next attempt continues
    from the step the first one finished without repeating any of it."""
    api = Api(stack2.url)
    created = api.create(**WRITER)
    api.events(created["session_id"], writing(20))
    assert store.delete(f"{stack2.prefix}:{{{created['session_id']}}}:lease:{created['task_id']}") == 1
    lost_at = time.time()
    events = api.events(created["session_id"], terminal_of(created["task_id"]), timeout=90)
    assert events[-1].type == "task.completed"
    entries = session_stream(store, stack2.prefix, created["session_id"])
    final = check_exactly_once(entries, created["task_id"])
    assert [e.data["node"] for e in entries if e.type == "node.completed"] == ["plan", "write", "finalize"]
    started = [e for e in entries if e.type == "task.started"]
    assert [e.data["attempt"] for e in started] == [1, 2]
    words = "".join(e.data["text"] for e in entries if e.type == "message.delta" and e.data["node"] == "write")
    assert words.count(final.data["output"]["sections"][0][:80]) == 1  # the write step was not streamed twice
    print(f"\nlease lost: handed back, new attempt after {started[1].envelope['ts'] - lost_at:.1f} s")


def test_cancel_of_a_run_whose_whole_worker_vanished_ends_it_when_the_lease_lapses(
    make_stack: Callable[..., Stack], aof_redis: RedisServer, tmp_path: Path
) -> None:
    """The worker's host dies mid-run, so nobody hands its message back before the broker's visibility
    timeout (two minutes here): a cancel still takes effect once the run's lease lapses (3 s), through the
    dispatcher's sweep, instead of showing ``running`` with ``cancel_requested`` until the broker gives up."""
    stack = make_stack(aof_redis.url, GRAPHGATE_BROKER_VISIBILITY_TIMEOUT="120", GRAPHGATE_APPROVAL_TICK_SECONDS="0.2")
    stack.start_worker(concurrency=1)
    stack.start_api()
    dispatcher = start_dispatcher(stack)
    try:
        api = Api(stack.url)
        beacon = tmp_path / "beacon"
        created = api.create(graph="hang", input={"beacon": str(beacon)})
        wait_for(beacon.exists, 30, what="the hanging node to run")
        kill_worker(stack, stack.workers[0])
        killed_at = time.monotonic()
        resp = api.cancel(created["task_id"])
        assert resp.status_code == 202 and resp.json()["status"] == "running" and resp.json()["cancel_requested"]
        task = api.wait_status(created["task_id"], {"cancelled"}, timeout=20)
        took = time.monotonic() - killed_at
        assert took < 10, took  # the lease (3 s) and a sweep, not the broker's 120 s
        events = api.events(created["session_id"], terminal_of(created["task_id"]), timeout=10)
        assert events[-1].type == "task.cancelled" and events[-1].data["orphaned"] is True
        assert task["cancel_requested"] is False
        assert "ended 1 cancelled run(s) whose worker is gone" in dispatcher.text()
        print(f"\ncancel after the whole worker died: cancelled {took:.1f} s after the kill")
    finally:
        stack.stop_proc(dispatcher)
