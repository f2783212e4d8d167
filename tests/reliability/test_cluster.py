"""graphgate on a Redis Cluster with real servers: three primaries (``redis-server --cluster-enabled yes``), the
Celery broker on the test run's own Redis, two workers, an API and a dispatcher with ``GRAPHGATE_REDIS_CLUSTER``.

While writer runs stream to SSE clients, Slack threads are written and 120 echo tasks run or wait, every slot
holding graphgate's data is moved to another primary, key batch by key batch (clients meanwhile get ``ASK`` for
moved keys and ``TRYAGAIN`` for scripts whose keys are on both sides). Afterwards every task has completed once,
with each step and streamed word once; each SSE client has exactly the session's stream; each Slack message was
posted once; the keys are all on their slots' new owners.

The rest of the suite runs on a cluster with ``make test-cluster`` (the core flow, Slack and Telegram delivery).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from redis.cluster import RedisCluster as ClusterClient

from graphgate.core.keys import Keys
from graphgate.testing.client import Api
from graphgate.testing.cluster import RedisCluster
from graphgate.testing.dispatcher import start_dispatcher
from graphgate.testing.fake_slack import FakeSlack
from graphgate.testing.slack import SlackSender, accepted_posts, new_channel, slack_env, slot_message, status_says
from graphgate.testing.stack import Proc, Stack
from tests.reliability.support import Follower, check_exactly_once, session_stream, terminal_of, wait_for

TASKS = 120
SESSIONS = 30  # the echo tasks share sessions, 4 each, so that many wait queued behind another
GROUPS = 8  # GRAPHGATE_DELIVERY_SHARDS: the slot groups the data is spread over


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    yield fake
    fake.stop()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[RedisCluster]:
    running = RedisCluster(tmp_path / "cluster").start()
    yield running
    running.stop()


def test_moving_every_slot_during_runs_loses_nothing_and_repeats_nothing(
    make_stack: Callable[..., Stack], cluster: RedisCluster, redis_url: str, fake_slack: FakeSlack
) -> None:
    procs: list[Proc] = []
    stack: Stack | None = None
    try:
        env = {
            **slack_env(fake_slack),
            "GRAPHGATE_REDIS_CLUSTER": "true",
            "GRAPHGATE_BROKER_URL": redis_url,  # the test run's own Redis: Celery's transport has no Cluster
            "GRAPHGATE_DELIVERY_SHARDS": str(GROUPS),
            "GRAPHGATE_OFFLINE_MODEL_DELAY": "0.01",
        }
        stack = make_stack(cluster.url, **env)
        stack.start_worker(concurrency=2)
        stack.start_worker(concurrency=2)
        stack.start_api()
        procs.append(start_dispatcher(stack))
        api = Api(stack.url)
        keys = Keys(stack.prefix, GROUPS)

        writers = [api.create(graph="writer", topic=f"tides {n}", config={"target_length": 500}) for n in range(3)]
        followers = [Follower(stack.url, w["session_id"], terminal_of(w["task_id"])).start() for w in writers]
        slack = SlackSender(stack.url, fake_slack)
        channels = [new_channel() for _ in range(3)]
        for n, channel in enumerate(channels):
            assert slack.slash("/brief", f"harbours {n}", user=f"UCL{n:05d}", channel=channel).status_code == 200
        run = uuid.uuid4().hex[:6]
        tasks = [
            api.create(graph="echo", input={"text": f"n{i}", "sleep": 0.05}, session_id=f"cl-{run}-{i % SESSIONS}")
            for i in range(TASKS)
        ]
        wait_for(lambda: all(f.received for f in followers), 30, what="the writers to stream")

        moves = _move_every_group(cluster, stack.prefix)
        moves.join(120)
        assert moves.error is None, moves.error

        for task in [*tasks, *writers]:
            api.wait_status(task["task_id"], {"completed"}, timeout=120)
        store = ClusterClient.from_url(cluster.url, decode_responses=True)
        for task in [*tasks, *writers]:
            check_exactly_once(session_stream(store, keys, task["session_id"]), task["task_id"])
        for follower, writer in zip(followers, writers):
            follower.join()
            stream = session_stream(store, keys, writer["session_id"])
            assert [e.id for e in follower.received] == [e.id for e in stream], "an SSE client saw a gap or a repeat"
        for n, channel in enumerate(channels):  # /brief asks to approve its outline: approve it, after the moves
            question = slot_message(fake_slack, channel, "question:", lambda m: bool(m.actions()), timeout=60)
            assert slack.click(question, question.actions()[0], user=f"UCL{n:05d}").status_code == 200
        for channel in channels:
            status_says(fake_slack, channel, "finished", timeout=120)
            posts = accepted_posts(fake_slack, channel)
            assert set(posts.values()) == {1}, posts
        for slot, owner in moves.moved_to.items():  # every key of a moved slot is on its new owner
            assert cluster.owner(slot) is owner
            assert int(cluster.command(owner, "CLUSTER", "COUNTKEYSINSLOT", slot)) > 0
        print(
            f"\ncluster: {len(moves.moved_to)} slots moved with {moves.keys} keys in {moves.seconds:.1f} s while "
            f"{TASKS + 6} runs went on; SSE reconnects {[f.connects - 1 for f in followers]}"
        )
    finally:
        for proc in procs:
            if stack is not None:
                stack.stop_proc(proc)


class _Moves(threading.Thread):
    """Moves the slot of each group to the next primary, a few keys per ``MIGRATE``, pausing between batches so
    that the services meet half-moved slots."""

    def __init__(self, cluster: RedisCluster, prefix: str) -> None:
        super().__init__(name="move-slots", daemon=True)
        self.cluster = cluster
        self.slots = sorted({cluster.keyslot(Keys(prefix, GROUPS).delivery(g)) for g in range(GROUPS)})
        self.moved_to: dict[int, object] = {}
        self.keys = 0
        self.seconds = 0.0
        self.error: BaseException | None = None

    def run(self) -> None:
        started = time.monotonic()
        try:
            for slot in self.slots:
                primaries = self.cluster.primaries()
                owner = self.cluster.owner(slot)
                target = primaries[(primaries.index(owner) + 1) % len(primaries)]
                self.keys += self.cluster.migrate_slot(slot, target, batch=5, between=lambda _: time.sleep(0.02))
                self.moved_to[slot] = target
        except BaseException as exc:  # reported by the test
            self.error = exc
        self.seconds = time.monotonic() - started


def _move_every_group(cluster: RedisCluster, prefix: str) -> _Moves:
    moves = _Moves(cluster, prefix)
    moves.start()
    return moves
