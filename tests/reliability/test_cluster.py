"""graphgate on a Redis Cluster with real servers: three primaries (``redis-server --cluster-enabled yes``), the
Celery broker on the test run's own Redis, two workers, an API and a dispatcher with ``GRAPHGATE_REDIS_CLUSTER``.

While writer runs stream to SSE clients, Slack threads are written and 120 echo tasks run or wait, the cluster
changes under them: every slot holding graphgate's data is moved to another primary, key batch by key batch
(clients meanwhile get ``ASK`` for moved keys and ``TRYAGAIN`` for scripts whose keys are on both sides); then a
primary is SIGKILLed and the cluster promotes its replica. Afterwards every task has
completed once, with each step and streamed word once; each SSE client has exactly the session's stream; each
Slack message was posted once.

The rest of the suite runs on a cluster with ``make test-cluster`` (the in-process suites, the core flow and the
Telegram flow).
"""

from __future__ import annotations

import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
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
    running = RedisCluster(tmp_path / "cluster", replicas=1, node_timeout_ms=1000).start()
    yield running
    running.stop()


def test_moving_every_slot_then_killing_a_primary_during_runs_loses_nothing_and_repeats_nothing(
    make_stack: Callable[..., Stack], cluster: RedisCluster, redis_url: str, fake_slack: FakeSlack
) -> None:
    """Three primaries with a replica each. While everything runs, every slot holding graphgate's data moves to
    another primary; then the primary serving the writers' first session is SIGKILLed and the cluster promotes
    its replica. SSE clients are passed only what a replica holds (``GRAPHGATE_SSE_WAIT_FOR_REPLICA``), so the
    failover can take back nothing they saw."""
    with _Workload(make_stack, cluster, redis_url, fake_slack, GRAPHGATE_SSE_WAIT_FOR_REPLICA="true") as load:
        moves = _Moves(cluster, load.stack.prefix)
        moves.start()
        moves.join(120)
        assert moves.error is None, moves.error
        for slot, owner in moves.moved_to.items():  # every key of a moved slot is on its new owner
            assert cluster.owner(slot) is owner
            assert int(cluster.command(owner, "CLUSTER", "COUNTKEYSINSLOT", slot)) > 0
        slot = cluster.keyslot(load.keys.events(load.writers[0]["session_id"]))
        victim = cluster.owner(slot)
        unfinished = load.unfinished()
        killed = time.monotonic()
        victim.stop(signal.SIGKILL)
        wait_for(lambda: _served_by_another(cluster, slot, victim), 30, what="a replica to be promoted")
        promoted = time.monotonic() - killed
        load.check()
        print(
            f"\ncluster: {len(moves.moved_to)} slots moved with {moves.keys} keys in {moves.seconds:.1f} s while "
            f"runs went on; then a primary SIGKILLed with {unfinished} of {TASKS + 6} runs unfinished, its replica "
            f"promoted {promoted:.1f} s later; every run completed once, all checked "
            f"{time.monotonic() - killed:.1f} s after the kill; SSE reconnects {load.reconnects()}"
        )


def _served_by_another(cluster: RedisCluster, slot: int, dead: object) -> bool:
    try:
        return cluster.owner(slot) is not dead
    except (LookupError, redis.RedisError):
        return False


class _Workload:
    """A stack on the cluster, and what it runs while the cluster changes: three writer runs followed over SSE,
    three Slack threads (/brief, whose outline waits for approval), TASKS echo tasks over SESSIONS sessions;
    ``check`` then asserts that everything completed once and was seen and posted once."""

    def __init__(
        self,
        make_stack: Callable[..., Stack],
        cluster: RedisCluster,
        broker: str,
        fake_slack: FakeSlack,
        **env: str,
    ) -> None:
        self.make_stack, self.cluster, self.broker, self.fake_slack, self.env = (
            make_stack,
            cluster,
            broker,
            fake_slack,
            env,
        )
        self.procs: list[Proc] = []

    def __enter__(self) -> _Workload:
        env = {
            **slack_env(self.fake_slack),
            "GRAPHGATE_REDIS_CLUSTER": "true",
            "GRAPHGATE_BROKER_URL": self.broker,  # the test run's own Redis: Celery's transport has no Cluster
            # every node to start from: a worker child opening its first client after a primary died finds the rest
            "GRAPHGATE_REDIS_CLUSTER_NODES": ",".join(f"127.0.0.1:{p}" for _, p in self.cluster.startup_nodes),
            "GRAPHGATE_DELIVERY_SHARDS": str(GROUPS),
            "GRAPHGATE_OFFLINE_MODEL_DELAY": "0.01",
            **self.env,
        }
        self.stack = stack = self.make_stack(self.cluster.url, **env)
        stack.start_worker(concurrency=2)
        stack.start_worker(concurrency=2)
        stack.start_api()
        self.procs.append(start_dispatcher(stack))
        self.api = api = Api(stack.url)
        self.keys = Keys(stack.prefix, GROUPS)
        self.writers = [api.create(graph="writer", topic=f"tides {n}", config={"target_length": 500}) for n in range(3)]
        self.followers = [Follower(stack.url, w["session_id"], terminal_of(w["task_id"])).start() for w in self.writers]
        self.slack = SlackSender(stack.url, self.fake_slack)
        self.channels = [new_channel() for _ in range(3)]
        for n, channel in enumerate(self.channels):
            assert self.slack.slash("/brief", f"harbours {n}", user=f"UCL{n:05d}", channel=channel).status_code == 200
        run = uuid.uuid4().hex[:6]
        self.tasks = [
            api.create(graph="echo", input={"text": f"n{i}", "sleep": 0.05}, session_id=f"cl-{run}-{i % SESSIONS}")
            for i in range(TASKS)
        ]
        wait_for(lambda: all(f.received for f in self.followers), 30, what="the writers to stream")
        return self

    def check(self) -> None:
        for task in [*self.tasks, *self.writers]:
            self.api.wait_status(task["task_id"], {"completed"}, timeout=120)
        store = ClusterClient.from_url(self.cluster.primaries()[0].url, decode_responses=True)
        for task in [*self.tasks, *self.writers]:
            check_exactly_once(session_stream(store, self.keys, task["session_id"]), task["task_id"])
        for follower, writer in zip(self.followers, self.writers):
            follower.join()
            stream = session_stream(store, self.keys, writer["session_id"])
            assert [e.id for e in follower.received] == [e.id for e in stream], "an SSE client saw a gap or a repeat"
        for n, channel in enumerate(self.channels):  # /brief asks to approve its outline: approve it, afterwards
            question = slot_message(self.fake_slack, channel, "question:", lambda m: bool(m.actions()), timeout=60)
            assert self.slack.click(question, question.actions()[0], user=f"UCL{n:05d}").status_code == 200
        for channel in self.channels:
            status_says(self.fake_slack, channel, "finished", timeout=120)
            posts = accepted_posts(self.fake_slack, channel)
            assert set(posts.values()) == {1}, posts
        store.close()

    def unfinished(self) -> int:
        return sum(1 for task in [*self.tasks, *self.writers] if self.api.get(task["task_id"])["status"] != "completed")

    def reconnects(self) -> list[int]:
        return [f.connects - 1 for f in self.followers]

    def __exit__(self, *_: object) -> None:
        for proc in self.procs:
            self.stack.stop_proc(proc)


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
