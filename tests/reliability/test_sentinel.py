"""Redis Sentinel failover with real servers: a primary, a replica and three sentinels (``redis-server``), two
Celery workers, an API and a dispatcher that reach Redis only through the sentinels. The primary is SIGKILLed
while 200 tasks are queued or running, three writer runs stream to SSE clients and Slack threads are being
written; the sentinels promote the replica and every process follows it by itself. Afterwards every task has
completed once, with each step and streamed word once; each SSE client, reconnecting with Last-Event-ID, has
exactly the session's stream; each Slack message was posted once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis

from graphgate.testing.client import Api
from graphgate.testing.dispatcher import start_dispatcher
from graphgate.testing.fake_slack import FakeSlack
from graphgate.testing.sentinel import MASTER, SentinelRedis
from graphgate.testing.slack import SlackSender, accepted_posts, new_channel, slack_env, slot_message, status_says
from graphgate.testing.stack import Proc, Stack
from tests.reliability.support import Follower, check_exactly_once, session_stream, terminal_of, wait_for

TASKS = 200
SESSIONS = 40  # the echo tasks share sessions, 5 each, so that many wait queued behind another


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    yield fake
    fake.stop()


def test_a_sentinel_failover_loses_nothing_and_repeats_nothing(
    make_stack: Callable[..., Stack], tmp_path: Path, fake_slack: FakeSlack
) -> None:
    ha = SentinelRedis(tmp_path / "redis").start()
    procs: list[Proc] = []  # stopped however the test ends (make_stack stops the API and workers)
    stack: Stack | None = None
    try:
        env = {
            **slack_env(fake_slack),
            **ha.env,
            "GRAPHGATE_OFFLINE_MODEL_DELAY": "0.01",
            # a run published to the primary just before it died can be missing on the replica: sent again
            "GRAPHGATE_REPUBLISH_AFTER_SECONDS": "5",
            "GRAPHGATE_APPROVAL_TICK_SECONDS": "0.5",
        }
        stack = make_stack(ha.env["GRAPHGATE_REDIS_URL"], **env)
        stack.start_worker(concurrency=2)
        stack.start_worker(concurrency=2)
        stack.start_api()
        dispatcher = start_dispatcher(stack)
        procs.append(dispatcher)
        api = Api(stack.url)

        writers = [api.create(graph="writer", topic=f"tides {n}", config={"target_length": 500}) for n in range(3)]
        followers = [Follower(stack.url, w["session_id"], terminal_of(w["task_id"])).start() for w in writers]
        slack = SlackSender(stack.url, fake_slack)
        channels = [new_channel() for _ in range(3)]
        for n, channel in enumerate(channels):
            assert slack.slash("/brief", f"harbours {n}", user=f"UHA{n:05d}", channel=channel).status_code == 200
        run = uuid.uuid4().hex[:6]
        tasks = [
            api.create(graph="echo", input={"text": f"n{i}", "sleep": 0.05}, session_id=f"ha-{run}-{i % SESSIONS}")
            for i in range(TASKS)
        ]
        wait_for(lambda: all(f.received for f in followers), 30, what="the writers to stream")

        killed = ha.kill_primary()
        in_flight = _unfinished(ha, stack, [t["task_id"] for t in tasks])
        promoted = ha.wait_promoted() - killed
        back = _api_answers_again(api, tasks[0]["task_id"]) - killed

        for task in [*tasks, *writers]:
            api.wait_status(task["task_id"], {"completed"}, timeout=120)
        done = time.monotonic() - killed
        store = redis.Redis(port=ha.replica.port, decode_responses=True)
        for task in [*tasks, *writers]:
            check_exactly_once(session_stream(store, stack.prefix, task["session_id"]), task["task_id"])
        for follower, writer in zip(followers, writers):
            follower.join()
            stream = session_stream(store, stack.prefix, writer["session_id"])
            assert [e.id for e in follower.received] == [e.id for e in stream], "an SSE client saw a gap or a repeat"
        for n, channel in enumerate(channels):  # /brief asks to approve its outline: approve it, after the failover
            question = slot_message(fake_slack, channel, "question:", lambda m: bool(m.actions()), timeout=60)
            assert slack.click(question, question.actions()[0], user=f"UHA{n:05d}").status_code == 200
        for channel in channels:
            status_says(fake_slack, channel, "finished", timeout=120)
            posts = accepted_posts(fake_slack, channel)
            assert set(posts.values()) == {1}, posts
        stack.stop_proc(dispatcher)
        lost = sum(
            int(line.split("published ")[1].split(" ")[0])
            for line in dispatcher.text().splitlines()
            if "whose message was lost" in line
        )
        print(
            f"\nsentinel failover: replica promoted {promoted:.1f} s after the kill, the API answered again after "
            f"{back:.1f} s; {in_flight} of {TASKS} tasks were unfinished at the kill; all {TASKS + 3} done "
            f"{done:.1f} s after it ({lost} published again: their message was lost); SSE reconnects "
            f"{[f.connects - 1 for f in followers]}"
        )
    finally:
        for proc in procs:
            if stack is not None:
                stack.stop_proc(proc)
        ha.stop()


def test_doctor_reaches_redis_through_the_sentinels(tmp_path: Path) -> None:
    ha = SentinelRedis(tmp_path / "redis").start()
    try:
        env = {**os.environ, **ha.env, "GRAPHGATE_DATA_DIR": str(tmp_path / "data")}
        out = subprocess.run(
            [sys.executable, "-m", "graphgate.cli", "doctor"], env=env, capture_output=True, text=True, timeout=60
        )
        assert "ok   redis" in out.stdout and f"master '{MASTER}' of sentinels 127.0.0.1:" in out.stdout, out.stdout
        assert "ok   broker" in out.stdout and "warn" not in out.stdout  # both servers keep an AOF
        ha.kill_primary()
        ha.wait_promoted()
        out = subprocess.run(
            [sys.executable, "-m", "graphgate.cli", "doctor"], env=env, capture_output=True, text=True, timeout=60
        )
        assert "ok   redis" in out.stdout, out.stdout  # the promoted replica answers
    finally:
        ha.stop()


def _unfinished(ha: SentinelRedis, stack: Stack, task_ids: list[str]) -> int:
    """How many of the tasks had not completed when the primary died (read from the replica, a moment later)."""
    time.sleep(0.05)  # the replica has what the primary acknowledged before it died
    replica = redis.Redis(port=ha.replica.port, decode_responses=True)
    sessions = replica.mget([f"{stack.prefix}:taskidx:{t}" for t in task_ids])
    statuses = [
        replica.hget(f"{stack.prefix}:{{{s}}}:task:{t}", "status") if s else None for s, t in zip(sessions, task_ids)
    ]
    return sum(1 for s in statuses if s != "completed")


def _api_answers_again(api: Api, task_id: str) -> float:
    """When the API answered a read with 200 again after the kill (time.monotonic)."""

    def answers() -> bool:
        try:
            return api.http.get(f"/api/v1/tasks/{task_id}").status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(answers, 60, what="the API to answer again")
    return time.monotonic()
