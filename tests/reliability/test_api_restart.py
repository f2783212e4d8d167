"""The API process restarted (killed, then stopped gracefully) while SSE clients follow running tasks:
each client reconnects with Last-Event-ID and ends up with exactly the session's whole stream."""

from __future__ import annotations

import signal

import redis

from graphgate.testing.client import Api
from graphgate.testing.stack import Stack
from tests.reliability.support import (
    Follower,
    check_exactly_once,
    restart_api,
    session_stream,
    terminal_of,
    wait_for,
)

MORE = 5  # events each follower of a running task receives through a new API process before the next restart


def running_task(follower: Follower) -> bool:
    """The follower's task has started and not ended (a task waiting for a worker streams nothing yet)."""
    return not follower.done and any(e.type == "task.started" for e in follower.received)


def test_sse_clients_reconnect_across_api_restarts(stack2: Stack, store: redis.Redis) -> None:
    api = Api(stack2.url)
    tasks = [api.create(graph="writer", topic=f"river deltas {i}", config={"target_length": 800}) for i in range(3)]
    followers = [Follower(stack2.url, t["session_id"], terminal_of(t["task_id"]), timeout=150).start() for t in tasks]
    wait_for(lambda: all(len(f.received) > 5 for f in followers[:2]), 30, what="followers to be mid-stream")

    gaps = []
    for sig in (signal.SIGKILL, signal.SIGTERM):
        gaps.append(restart_api(stack2, sig))
        wait_for(
            lambda: all(f.connects >= len(gaps) + 1 or f.done for f in followers), 30, what="followers to reconnect"
        )
        # the sentinel: every follower whose task runs has received new events through the new process
        running = [(f, len(f.received)) for f in followers if running_task(f)]
        wait_for(
            lambda: all(f.done or len(f.received) >= n + MORE for f, n in running),
            30,
            what="events to flow through the new process",
        )

    for task, follower in zip(tasks, followers):
        follower.join()
        whole = session_stream(store, stack2.prefix, task["session_id"])
        assert [e.id for e in follower.received] == [e.id for e in whole]  # no gap, no duplicate
        assert [e.envelope for e in follower.received] == [e.envelope for e in whole]
        assert check_exactly_once(whole, task["task_id"]).type == "task.completed"
    # a fresh full replay from the new process agrees too
    replay = api.events(tasks[0]["session_id"], terminal_of(tasks[0]["task_id"]))
    assert [e.id for e in replay] == [e.id for e in followers[0].received]
    print(
        f"\nAPI restarts: port without an API for {', '.join(f'{g:.1f}' for g in gaps)} s; "
        f"connections per client {[f.connects for f in followers]}"
    )
