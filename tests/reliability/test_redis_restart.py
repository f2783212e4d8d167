"""Redis killed and restarted (AOF, appendfsync always) with tasks queued, running and waiting for input:
every task reaches a terminal state afterwards, nothing is lost or doubled, and SSE clients that were
connected during the outage end up with the whole stream."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import redis

from graphgate.testing.client import Api
from graphgate.testing.stack import RedisServer, Stack
from tests.reliability.support import (
    Follower,
    check_exactly_once,
    session_stream,
    stop_fast,
    terminal_of,
    wait_for,
)

OUTAGE_SECONDS = 2.0


def test_tasks_survive_a_redis_restart(make_stack: Callable[..., Stack], tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis", appendonly=True).start()
    stack = None
    try:
        stack = make_stack(server.url, GRAPHGATE_OFFLINE_MODEL_DELAY="0.01")
        stack.start_worker(concurrency=2)
        stack.start_api()
        api = Api(stack.url)

        waiting = api.create(graph="ask")
        api.events(waiting["session_id"], lambda e: e.type == "interrupt")
        # two runs occupy both pool processes; the writer writes events all through the outage
        writer = api.create(graph="writer", topic="ocean currents", config={"target_length": 600})
        sleeper = api.create(graph="echo", input={"text": "slept", "sleep": 4})
        api.wait_status(writer["task_id"], {"running"})
        api.wait_status(sleeper["task_id"], {"running"})
        queued = [api.create(graph="echo", input={"text": f"queued {i}", "sleep": 0.2}) for i in range(4)]
        assert {api.get(t["task_id"])["status"] for t in queued} == {"queued"}
        followers = [
            Follower(stack.url, t["session_id"], terminal_of(t["task_id"])).start()
            for t in (writer, sleeper, queued[0])
        ]
        wait_for(lambda: all(f.received for f in followers), 20, what="followers to receive events")

        down = time.monotonic()
        server.stop(signal.SIGKILL)
        time.sleep(OUTAGE_SECONDS)
        server.start()
        back = time.monotonic()

        # the API answers 503 (not 500) until it reconnects; the answer is then taken exactly once
        statuses = []

        def resumed() -> bool:
            try:
                statuses.append(api.resume(waiting["task_id"], "Ada").status_code)
            except httpx.HTTPError:
                statuses.append(0)
            return statuses[-1] == 202

        wait_for(resumed, 30, interval=0.2, what="the resume to be accepted")
        assert set(statuses) <= {202, 503}, statuses

        everything = [waiting, writer, sleeper, *queued]
        wait_for(
            lambda: all(api.get(t["task_id"])["status"] in ("completed", "failed", "cancelled") for t in everything),
            90,
            interval=0.5,
            what="every task to end",
        )
        recovered = time.monotonic() - back
        client = redis.Redis.from_url(server.url, decode_responses=True)
        for task in everything:
            assert api.get(task["task_id"])["status"] == "completed", task
            entries = session_stream(client, stack.prefix, task["session_id"])
            assert check_exactly_once(entries, task["task_id"]).type == "task.completed"
        assert api.get(waiting["task_id"])["output"]["answer"] == "Nice to meet you, Ada!"
        # SSE clients connected across the outage got every entry once, in order
        for follower in followers:
            follower.join()
            whole = session_stream(client, stack.prefix, follower.session_id)
            assert [e.id for e in follower.received] == [e.id for e in whole]
        # and the stack keeps working
        fresh = api.create(graph="echo", input={"text": "after"})
        assert api.events(fresh["session_id"], terminal_of(fresh["task_id"]))[-1].type == "task.completed"
        print(
            f"\nredis down {back - down:.1f} s; all {len(everything)} tasks ended {recovered:.1f} s after it came back; "
            f"SSE reconnects {[f.connects - 1 for f in followers]}"
        )
        client.close()
    finally:
        if stack is not None:
            stop_fast(stack)  # before its Redis goes
        server.stop()
